"""Proofs (docs/design.md#decision-4): for generated access specs and hostile identity values, the
documents the generator renders for each profile, filled the way the authorizer fills
them (its own `identity.slot_values` and `identity.documents`), evaluated offline:

(a) allow every operation the spec grants to that identity;
(b) deny every operation in another identity's namespace the spec does not grant;
(c) deny what the spec does not grant, except widenings reported by name in the render
    result / report.json (`widenings`): an unreported widening fails the test;
and a value the identity character set rejects is never filled in: the authorizer denies.

The spec's meaning is computed here, independently of the generator, with MQTT
semantics (docs/data-plane.md: `+` is one level, `#` one or more levels, so `a/#`
does not cover `a`).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from iotws.errors import IotwsError
from iotws.paths import lambda_src
from iotws.policy.evaluator import ALLOWED, PolicySet, Request, glob_match
from iotws.render.policies import RenderResult, render_spec
from iotws.spec.model import parse_spec

if str(lambda_src()) not in sys.path:
    sys.path.insert(0, str(lambda_src()))

from iotws.invoke import LambdaContext
from iotws_authorizer import config as az_config  # noqa: E402 - needs the path above
from iotws_authorizer import identity as az_identity  # noqa: E402
from iotws_authorizer.errors import Deny  # noqa: E402

IDENTITY_RE = re.compile(r"^[A-Za-z0-9_.:@=|-]+$")  # INTERNALS.md, identity charset
WORD_RE = re.compile(r"^[A-Za-z0-9_]+$")  # the `word` preset the generated specs declare
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:demo-dev-authorizer"
WORDS = ("rooms", "users", "chat", "a", "b", "server")
# Token profiles must name the user ({sub}); these ranges are disjoint from each other
# and from the anonymous ones (tests/evaluator/test_namespace_proofs.py searches the
# colliding ones).
CLIENT_ID_RULES = ("u-{sub}-*", "{sub}", "web-{sub}-*", "{sub}.*")
PUBLIC_CLIENT_ID_RULES = ("anon-*", "guest-*")
CONTEXT = LambdaContext(invoked_function_arn=FUNCTION_ARN)


# --------------------------------------------------------------------------- MQTT meaning


def topic_matches(pattern: list[str], topic: list[str]) -> bool:
    """MQTT match with AWS's rule that `#` needs at least one level."""
    for i, level in enumerate(pattern):
        if level == "#":
            return len(topic) > i
        if i >= len(topic):
            return False
        if level != "+" and level != topic[i]:
            return False
    return len(pattern) == len(topic)


def filter_covered(filt: list[str], pattern: list[str]) -> bool:
    """Every topic matched by `filt` is matched by `pattern`."""
    for i, level in enumerate(pattern):
        if level == "#":
            return len(filt) > i
        if i >= len(filt):
            return False
        f = filt[i]
        if f == "#":
            return False
        if level == "+":
            continue
        if f == "+" or f != level:
            return False
    return len(filt) == len(pattern)


def fill_placeholders(pattern: str, sub: str | None, client_id: str) -> str:
    return pattern.replace("{sub}", sub or "").replace("{client_id}", client_id)


# --------------------------------------------------------------------------- strategies


levels = st.sampled_from(WORDS + ("+", "{sub}", "{client_id}"))


@st.composite
def topic_patterns(draw: st.DrawFn, claims: bool) -> str:
    n = draw(st.integers(min_value=1, max_value=4))
    choices = WORDS + ("+", "{client_id}") + (("{sub}",) if claims else ())
    out = [draw(st.sampled_from(choices)) for _ in range(n)]
    if n > 1 and draw(st.booleans()):
        out[-1] = "#"
    if out.count("{client_id}") > 1:  # two 128-byte ids would exceed 256 bytes
        out = [w if w != "{client_id}" else "x" for w in out]
        out[0] = "{client_id}"
    return "/".join(out)


@st.composite
def spec_dicts(draw: st.DrawFn) -> dict[str, Any]:
    mode = draw(st.sampled_from(["hs256", "hs256", "public"]))
    claims = mode == "hs256"
    names = [f"p{i}" for i in range(draw(st.integers(min_value=1, max_value=3)))]
    profiles: dict[str, Any] = {}
    for name in names:
        rules = CLIENT_ID_RULES if claims else PUBLIC_CLIENT_ID_RULES
        prof: dict[str, Any] = {
            "client_id": draw(st.sampled_from(rules)),
            "subscribe": draw(
                st.lists(topic_patterns(claims), min_size=1, max_size=3, unique=True)
            ),
            "publish": draw(st.lists(topic_patterns(claims), max_size=3, unique=True)),
        }
        if draw(st.booleans()):
            prof["receive"] = draw(st.lists(topic_patterns(claims), max_size=2, unique=True))
        profiles[name] = prof
    authorizer: dict[str, Any] = {"mode": mode}
    if claims:
        authorizer["hs256"] = {"secret": {"env": "IOTWS_JWT_SECRET"}}
        authorizer["select"] = {"claim": "role", "values": {n: n for n in names}}
    else:
        profiles = {"guest": profiles[names[0]]}
        authorizer["public"] = {"profile": "guest"}
    spec: dict[str, Any] = {
        "version": 1,
        "app": "demo",
        "stage": "dev",
        "authorizer": authorizer,
        "profiles": profiles,
    }
    if claims:
        spec["claims"] = {
            "sub": {"max_length": draw(st.sampled_from([8, 24, 64])), "charset": "word"}
        }
    if draw(st.booleans()):
        spec["aws"] = {"region": "eu-west-1", "account": "210987654321"}
    if draw(st.booleans()):
        spec["topic_prefix"] = draw(st.sampled_from(["", "demo/dev", "x"]))
    return spec


valid_values = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:@=|-",
    min_size=1,
    max_size=12,
)
hostile_values = st.sampled_from(
    [
        "+",
        "#",
        "*",
        "?",
        "/",
        "a/b",
        "a+b",
        "x#",
        "$aws",
        "$x",
        "",
        "é",
        "ünï",
        "a b",
        "a\tb",
        '"',
        "\\",
        "${iotws:client_id}",
        "{sub}",
        "a" * 129,
        "b" * 200,
    ]
) | st.text(max_size=6)
identity_values = valid_values | hostile_values


# --------------------------------------------------------------------------- the proof


@dataclass
class Identity:
    sub: str | None
    client_id: str


def render(spec_dict: dict[str, Any]) -> RenderResult:
    try:
        spec = parse_spec(yaml.safe_dump(spec_dict), source="<generated>")
        return render_spec(spec)
    except IotwsError:
        assume(False)  # a spec the toolchain refuses (e.g. too large): nothing to prove
        raise


def client_id_for(rule: str, sub: str | None, suffix: str) -> str:
    base = rule.rstrip("*").replace("{sub}", sub or "")
    return base + suffix if rule.endswith("*") else base


def fill(profile: Any, cfg: Any, ident: Identity, role: str) -> list[dict[str, Any]] | None:
    """The authorizer's own slot filling; None when it denies the identity."""
    claims = {"role": role} if ident.sub is None else {"sub": ident.sub, "role": role}
    try:
        values = az_identity.slot_values(
            profile, claims, ident.client_id, cfg, LambdaContext(invoked_function_arn=FUNCTION_ARN)
        )
        return az_identity.documents(profile, values)
    except Deny:
        return None


def acceptable(value: str | None, max_length: int, charset: re.Pattern[str] = IDENTITY_RE) -> bool:
    return value is None or (
        bool(charset.fullmatch(value)) and value.isascii() and len(value) <= max_length
    )


class Checker:
    def __init__(self, result: RenderResult, name: str, ident: Identity, docs: list[Any]) -> None:
        spec = result.spec
        self.spec = spec
        self.prof = spec.profiles[name]
        self.ident = ident
        self.ps = PolicySet.from_documents(docs)
        region = spec.region or "us-east-1"
        account = spec.account or "123456789012"
        self.arn = f"arn:aws:iot:{region}:{account}:"
        filled = {
            "${iotws:client_id}": ident.client_id,
            "${iotws:region}": region,
            "${iotws:account}": account,
            "${iotws:claim.sub}": ident.sub or "",
        }
        self.widenings = []
        for w in result.report["profiles"][name]["widenings"]:
            resource = w["resource"]
            for slot, value in filled.items():
                resource = resource.replace(slot, value)
            self.widenings.append((w["action"], w["pattern"], resource))

    def full(self, topic: str) -> str:
        return f"{self.spec.prefix}/{topic}" if self.spec.prefix else topic

    def granted(self, action: str, topic: str) -> bool:
        """The spec's meaning for this identity, MQTT semantics."""
        if action == "iot:Connect":
            return topic == self.ident.client_id
        patterns = {
            "iot:Subscribe": self.prof.subscribe,
            "iot:Publish": self.prof.publish,
            "iot:Receive": self.prof.receive,
        }[action]
        levels_ = topic.split("/")
        for p in patterns:
            mine = self.full(fill_placeholders(p, self.ident.sub, self.ident.client_id)).split("/")
            if action == "iot:Subscribe":
                if filter_covered(levels_, mine):
                    return True
            elif topic_matches(mine, levels_):
                return True
        return False

    def resource(self, action: str, topic: str) -> str:
        rtype = {"iot:Connect": "client/", "iot:Subscribe": "topicfilter/"}.get(action, "topic/")
        return self.arn + rtype + topic

    def check(self, action: str, topic: str, *, must_allow: bool = False) -> None:
        resource = self.resource(action, topic)
        allowed = self.ps.evaluate(Request(action, resource)).result == ALLOWED
        spec_says = self.granted(action, topic)
        if spec_says or must_allow:
            assert allowed, f"(a) {action} {topic!r} is granted by the spec but denied"
        elif allowed:
            reported = [w for w in self.widenings if w[0] == action and glob_match(w[2], resource)]
            assert reported, (
                f"(b/c) {action} {topic!r} is allowed but the spec does not grant it and no "
                "reported widening explains it"
            )


def concrete(pattern: str, sub: str | None, client_id: str, word: str) -> str:
    text = fill_placeholders(pattern, sub, client_id)
    out = []
    for level in text.split("/"):
        out.append(word if level == "+" else f"{word}/z" if level == "#" else level)
    return "/".join(out)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    spec_dicts(),
    st.lists(st.tuples(identity_values, identity_values), min_size=2, max_size=3),
    st.lists(
        st.lists(st.sampled_from(WORDS + ("+", "#", "w", "q")), min_size=1, max_size=5), max_size=6
    ),
)
def test_rendered_policies_mean_what_the_spec_says(
    spec_dict: dict[str, Any], raw_identities: list[tuple[str, str]], extra_topics: list[list[str]]
) -> None:
    result = render(spec_dict)
    cfg = az_config.parse(result.authorizer_config)
    spec = result.spec
    max_sub = spec.claims.get("sub", 0)
    for name in sorted(result.profiles):
        prof = spec.profiles[name]
        profile_cfg = cfg.profiles[name]
        # The authorizer checks (and fills) only the claims the profile's documents use.
        uses_claims = "sub" in profile_cfg.claims
        # Identities: each raw pair is (sub, client-id suffix); the client id is built from
        # the profile's rule so valid identities pass, and hostile parts are kept as drawn.
        idents: list[Identity] = []
        for sub_raw, suffix in raw_identities:
            sub = sub_raw if uses_claims else None
            idents.append(Identity(sub, client_id_for(prof.client_id, sub, suffix)))
        idents.append(
            Identity("bob" if uses_claims else None, client_id_for(prof.client_id, "bob", "7"))
        )
        accepted: list[tuple[Identity, list[Any]]] = []
        for ident in idents:
            docs = fill(profile_cfg, cfg, ident, name)
            valid = (
                acceptable(ident.sub, max_sub, WORD_RE)
                and (ident.sub is None or len(ident.sub) > 0)
                and acceptable(ident.client_id, 128)
                and (
                    not prof.client_id.endswith("*")
                    or len(ident.client_id) > len(client_id_for(prof.client_id, ident.sub, ""))
                )
            )
            if not valid:
                # A value the identity charset rejects is never filled in: the authorizer
                # denies, so the client gets no policy (and no allow) at all.
                assert docs is None, f"hostile identity {ident!r} was accepted"
                continue
            assert docs is not None, f"valid identity {ident!r} was refused"
            accepted.append((ident, docs))
        for ident, docs in accepted:
            c = Checker(result, name, ident, docs)
            # (a) everything granted to this identity, as filters and as concrete topics.
            c.check("iot:Connect", ident.client_id, must_allow=True)
            for p in prof.subscribe:
                c.check(
                    "iot:Subscribe",
                    c.full(fill_placeholders(p, ident.sub, ident.client_id)),
                    must_allow=True,
                )
                c.check(
                    "iot:Subscribe",
                    c.full(concrete(p, ident.sub, ident.client_id, "w")),
                    must_allow=True,
                )
            for p in prof.receive:
                c.check(
                    "iot:Receive",
                    c.full(concrete(p, ident.sub, ident.client_id, "w")),
                    must_allow=True,
                )
            for p in prof.publish:
                c.check(
                    "iot:Publish",
                    c.full(concrete(p, ident.sub, ident.client_id, "w")),
                    must_allow=True,
                )
            # (b) every other identity's namespace: its client id and placeholder topics.
            for other, _ in accepted:
                if other == ident:
                    continue
                c.check("iot:Connect", other.client_id)
                for action, patterns in (
                    ("iot:Subscribe", prof.subscribe),
                    ("iot:Receive", prof.receive),
                    ("iot:Publish", prof.publish),
                ):
                    for p in patterns:
                        c.check(action, c.full(concrete(p, other.sub, other.client_id, "w")))
                        if action == "iot:Subscribe":
                            c.check(
                                action, c.full(fill_placeholders(p, other.sub, other.client_id))
                            )
            # (c) what the spec does not grant: wildcard ids and arbitrary topics/filters.
            for cid in ("+", "#", "*", ident.client_id + "x", "x" + ident.client_id):
                c.check("iot:Connect", cid)
            for extra in extra_topics:
                for action in ("iot:Subscribe", "iot:Receive", "iot:Publish"):
                    topic = "/".join(extra)
                    if action != "iot:Subscribe":
                        topic = topic.replace("+", "w").replace("#", "w")
                    c.check(action, c.full(topic))
                    c.check(action, topic)
            c.check("iot:Subscribe", "#")
            c.check("iot:Subscribe", c.full("#"))
