"""Render a validated spec into IoT policy documents, the authorizer configuration,
the web-client configuration and a report. Pure: returns file contents, writes nothing.

Resource types per action follow docs/iot-policies.md#actions-and-resources: Connect on
`client/`, Publish and Receive on `topic/`, Subscribe on `topicfilter/`. MQTT `+`/`#` are
literal characters in policy resources, so a `+` or `#` level renders as `*` (which crosses
levels: a `+` rendered that way is a widening, reported by name; docs/design.md#decision-4).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from iotws.errors import IotwsError
from iotws.iot.facts import CLIENT_ID_MAX_BYTES, IDENTITY_CHARSET
from iotws.iot.facts import MAX_DOCUMENT_CHARS as MAX_DOCUMENT_CHARS  # re-exported
from iotws.iot.facts import MAX_DOCUMENTS as MAX_DOCUMENTS  # re-exported
from iotws.iot.grants import resolve, topic_grants
from iotws.render import cognito  # the guest-path renderer
from iotws.spec.model import (
    BUILTIN_CLIENT_ID,
    PLACEHOLDER_RE,
    Profile,
    Spec,
    resolve_jwks,
)
from iotws.spec.namespaces import CHARSETS, DEFAULT_CHARSET

REGION_SLOT = "${iotws:region}"
ACCOUNT_SLOT = "${iotws:account}"
CLIENT_ID_SLOT = "${iotws:client_id}"
# Longest values a run-time slot can take, for worst-case sizing.
LONGEST_REGION = 20  # longest region codes today are 14 characters; leave room
SLOT_RE = re.compile(r"\$\{iotws:([a-z_.0-9]+)\}")
ACTION_ORDER = ("iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive")


def claim_slot(name: str) -> str:
    return "${iotws:claim." + name + "}"


@dataclass(frozen=True)
class Grant:
    """One thing the spec grants, and the policy resource that grants it."""

    action: str
    pattern: str  # as written in the spec, relative to the prefix ("" for Connect)
    resource: str  # with slots


@dataclass
class RenderedProfile:
    name: str
    documents: list[str]  # compact JSON text, slots kept
    client_id: dict[str, Any]
    grants: list[Grant]
    widenings: list[dict[str, str]]
    worst_case_chars: list[int]

    def document_dicts(self) -> list[dict[str, Any]]:
        return [json.loads(d) for d in self.documents]


@dataclass
class RenderResult:
    spec: Spec
    profiles: dict[str, RenderedProfile]
    authorizer_config: dict[str, Any]
    client_config: dict[str, Any]
    report: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    extra_files: dict[str, bytes] = field(default_factory=dict)
    lint: list[str] = field(default_factory=list)  # printable lint findings (not written)

    def files(self) -> dict[str, bytes]:
        """Relative path -> bytes, everything `iotws generate` writes."""
        out: dict[str, bytes] = {}
        for name, prof in sorted(self.profiles.items()):
            for i, doc in enumerate(prof.documents, start=1):
                pretty = json.dumps(json.loads(doc), indent=2, ensure_ascii=False)
                out[f"policies/{name}/policy-{i:02d}.json"] = (pretty + "\n").encode()
        if self.spec.has_authorizer:
            out["authorizer/config.json"] = dump_json(self.authorizer_config)
        out["client/config.json"] = dump_json(self.client_config)
        out["report.json"] = dump_json(self.report)
        out.update(self.extra_files)
        return out


def dump_json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("iotws", "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # noqa: S701 - renders JSON, not HTML; validated by parsing
        keep_trailing_newline=True,
    )


def render_document(statements: list[dict[str, Any]]) -> str:
    """Render one policy document through the template; return it as compact JSON."""
    text = _env().get_template("iot-policy.json.j2").render(statements=statements)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:  # a template bug, never user input
        raise IotwsError(
            f"internal error: the policy template rendered invalid JSON: {exc}"
        ) from None
    return compact(parsed)


# --------------------------------------------------------------------------- helpers


def arn_base(spec: Spec) -> str:
    return f"arn:aws:iot:{spec.region or REGION_SLOT}:{spec.account or ACCOUNT_SLOT}:"


def to_slots(text: str) -> str:
    """Spec placeholders ({sub}, {client_id}) -> run-time slots (${iotws:...})."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        return CLIENT_ID_SLOT if name == BUILTIN_CLIENT_ID else claim_slot(name)

    return PLACEHOLDER_RE.sub(repl, text)


def worst_case(text: str, spec: Spec) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "client_id":
            n = CLIENT_ID_MAX_BYTES
        elif name == "region":
            n = LONGEST_REGION
        elif name == "account":
            n = 12
        elif name.startswith("claim."):
            n = spec.claims.get(name[6:], 128)
        else:
            n = 128
        return "x" * n

    return SLOT_RE.sub(repl, text)


def _grants(spec: Spec, prof: Profile) -> tuple[list[Grant], list[dict[str, str]]]:
    base = arn_base(spec)
    grants: list[Grant] = [Grant("iot:Connect", "", f"{base}client/{CLIENT_ID_SLOT}")]
    widenings: list[dict[str, str]] = []
    topic = topic_grants(publish=prof.publish, subscribe=prof.subscribe, receive=prof.receive)
    for r in resolve(topic, arn_base=base, prefix=spec.prefix, literal=to_slots):
        grants.append(Grant(r.grant.action, r.grant.pattern, r.resource))
        if r.widened:
            widenings.append(
                {
                    "action": r.grant.action,
                    "pattern": r.grant.pattern,
                    "resource": r.resource,
                    "kind": "plus-as-star",
                    "explanation": "IoT policies have no single-level wildcard: * also "
                    "matches several levels",
                }
            )
    return grants, widenings


def pack_documents(grants: list[Grant], spec: Spec, profile: str) -> tuple[list[str], list[int]]:
    """Greedily pack grants into documents whose worst case fits 2,048 characters.

    Statements of one action are split across documents when needed; nothing is ever
    truncated: if 10 documents are not enough, the profile is refused.
    """
    docs: list[list[dict[str, Any]]] = [[]]

    def size(statements: list[dict[str, Any]]) -> int:
        return len(worst_case(render_document(statements), spec))

    for g in grants:
        current = docs[-1]
        trial = [dict(s, resources=list(s["resources"])) for s in current]
        if trial and trial[-1]["action"] == g.action:
            trial[-1]["resources"].append(g.resource)
        else:
            trial.append({"effect": "Allow", "action": g.action, "resources": [g.resource]})
        if size(trial) <= MAX_DOCUMENT_CHARS:
            docs[-1] = trial
            continue
        single = [{"effect": "Allow", "action": g.action, "resources": [g.resource]}]
        if size(single) > MAX_DOCUMENT_CHARS:
            raise IotwsError(
                f"one resource alone needs {size(single)} characters at its longest, over the "
                f"{MAX_DOCUMENT_CHARS} a policy document may have",
                field=f"profiles.{profile}",
                fix="shorten the topic or lower claims.<name>.max_length",
            )
        docs.append(single)
    texts = [render_document(d) for d in docs if d]
    worst = [len(worst_case(t, spec)) for t in texts]
    if len(texts) > MAX_DOCUMENTS:
        total = sum(worst)
        raise IotwsError(
            f"needs {len(texts)} policy documents ({total} characters at the longest identity "
            f"values); the authorizer may return at most {MAX_DOCUMENTS} of "
            f"{MAX_DOCUMENT_CHARS}: over by {len(texts) - MAX_DOCUMENTS} document(s)",
            field=f"profiles.{profile}",
            fix="use fewer topics (a wildcard such as rooms/+ instead of a list), shorter "
            "topics, or lower claims.<name>.max_length",
        )
    return texts, worst


def client_id_rule(prof: Profile) -> dict[str, Any]:
    rule = prof.client_id
    wildcard = rule.endswith("*")
    body = rule[:-1] if wildcard else rule
    return {"template": to_slots(body), "wildcard": wildcard}


# --------------------------------------------------------------------------- main


def render_profile(spec: Spec, prof: Profile) -> RenderedProfile:
    grants, widenings = _grants(spec, prof)
    order = {a: i for i, a in enumerate(ACTION_ORDER)}
    grants.sort(key=lambda g: order[g.action])  # stable: spec order within an action
    docs, worst = pack_documents(grants, spec, prof.name)
    return RenderedProfile(
        name=prof.name,
        documents=docs,
        client_id=client_id_rule(prof),
        grants=grants,
        widenings=widenings,
        worst_case_chars=worst,
    )


def authorizer_config(spec: Spec, profiles: dict[str, RenderedProfile]) -> dict[str, Any]:
    a = spec.authorizer
    cfg: dict[str, Any] = {
        "version": 1,
        "mode": a.mode,
        "name": a.name,
        "prefix": spec.prefix,
        "region": spec.region,
        "account": spec.account,
        "token": {
            "key_name": a.token_key_name,
            "sources": list(a.token_sources),
            "max_length": a.token_max_length,
        },
        "session": {
            "refresh_after_seconds": a.refresh_after_seconds,
            "disconnect_after_seconds": a.disconnect_after_seconds,
        },
        "identity": {"charset": IDENTITY_CHARSET, "client_id_max_bytes": CLIENT_ID_MAX_BYTES},
        "claims": {
            name: {
                "max_length": n,
                "charset": spec.claim_charsets.get(name, DEFAULT_CHARSET),
                "pattern": CHARSETS[spec.claim_charsets.get(name, DEFAULT_CHARSET)].pattern,
            }
            for name, n in sorted(spec.claims.items())
        },
        "public_profile": a.public_profile,
        "selection": (
            {
                "claim": a.select.claim,
                "values": dict(a.select.values),
                "order": list(a.select.values),
                "default": a.select.default,
            }
            if a.select
            else None
        ),
        "signing_enabled": a.signing_enabled,
        "profiles": {
            name: {"client_id": p.client_id, "documents": p.documents}
            for name, p in sorted(profiles.items())
        },
    }
    if a.hs256:
        h = a.hs256
        cfg["hs256"] = {
            "secret": {"source": h.secret_source, "name": h.secret_name},
            "issuer": h.issuer,
            "audience": h.audience,
            "leeway_seconds": h.leeway_seconds,
            "max_age_seconds": h.max_age_seconds,
            "max_lifetime_seconds": h.max_lifetime_seconds,
            "subject_claim": h.subject_claim,
        }
    if a.jwks is not None:
        # Presets expanded and defaults filled: the authorizer reads only resolved settings.
        cfg["jwks"] = resolve_jwks(a.jwks)
    if a.signing_enabled and a.signing_public_keys:
        # The PEMs IoT verifies token signatures with (docs/custom-authorizer.md#token-signing), for
        # Terraform
        # (`token_signing_public_keys`) and the emulator; public keys, not secrets.
        cfg["signing_public_keys"] = dict(sorted(a.signing_public_keys.items()))
    return cfg


def client_config(spec: Spec) -> dict[str, Any]:
    def full(t: str) -> str:
        return f"{spec.prefix}/{t}" if spec.prefix else t

    return {
        "app": spec.app,
        "stage": spec.stage,
        "prefix": spec.prefix,
        "mode": spec.authorizer.mode,
        "authorizerName": spec.authorizer.name,
        "tokenKeyName": spec.authorizer.token_key_name,
        "profiles": {
            name: {
                "clientId": p.client_id,
                "subscribe": [full(t) for t in p.subscribe],
                "publish": [full(t) for t in p.publish],
            }
            for name, p in sorted(spec.profiles.items())
        },
    }


def render_spec(spec: Spec) -> RenderResult:
    rendered: dict[str, RenderedProfile] = {}
    warnings: list[str] = []
    used = set(spec.authorizer_profiles()) | set(spec.cognito_profiles())
    for name in sorted(spec.profiles):
        if name not in used:
            warnings.append(
                f"profiles.{name}: no client can get this profile (not named by "
                "authorizer.public, authorizer.select or cognito)"
            )
    for name in spec.authorizer_profiles():
        rendered[name] = render_profile(spec, spec.profiles[name])
    report: dict[str, Any] = {
        "spec": spec.source,
        "prefix": spec.prefix,
        "mode": spec.authorizer.mode,
        "limits": {"documents": MAX_DOCUMENTS, "document_chars": MAX_DOCUMENT_CHARS},
        "profiles": {
            name: {
                "documents": len(p.documents),
                "chars": [len(d) for d in p.documents],
                "chars_without_whitespace": [len("".join(d.split())) for d in p.documents],
                "worst_case_chars": p.worst_case_chars,
                "widenings": p.widenings,
            }
            for name, p in rendered.items()
        },
        "warnings": warnings,
    }
    result = RenderResult(
        spec=spec,
        profiles=rendered,
        authorizer_config=authorizer_config(spec, rendered),
        client_config=client_config(spec),
        report=report,
        warnings=warnings,
    )
    if spec.cognito:
        _render_cognito(spec, result)
    return result


def _render_cognito(spec: Spec, result: RenderResult) -> None:
    assert spec.cognito is not None
    cog: dict[str, Any] = {}
    # The spec check requires aws.region and aws.account with a cognito section.
    assert spec.region and spec.account, "a checked spec with cognito: has aws"
    for name in spec.cognito_profiles():
        rendered = cognito.render_guest_policy(
            spec.profiles[name], prefix=spec.prefix, region=spec.region, account=spec.account
        )
        result.extra_files[f"cognito/{name}.iam.json"] = dump_json(rendered.policy)
        cog[name] = rendered.report()
    result.report["cognito"] = cog
