"""Lint IoT policy documents: the mistakes IoT policies invite (docs/custom-authorizer.md#response,
docs/iot-policies.md#size-limits, docs/data-plane.md).

Findings have stable ids; never renumber them, add new ones at the end.

id        severity  finding
--------  --------  ------------------------------------------------------------------
IOTWS001  error     not a valid policy document (the evaluator refuses it)
IOTWS002  error     iot:Subscribe on a topic/ resource (checked against topicfilter/)
IOTWS003  error     Publish/Receive/RetainPublish/GetRetainedMessage on topicfilter/
IOTWS004  warning   Subscribe allowed but Receive not allowed on its topics
IOTWS005  error     + or # in a topic/ resource: literal, and topic names cannot contain
                    them, so the resource never matches anything
IOTWS006  error     Connect on *, client/* or client/${iot:ClientId}: client-id
                    takeover (warning for a partial wildcard such as client/anon-*)
IOTWS007  error     ${iot:ClientId} in a resource while Connect does not bind client
                    ids: an id of + or # injects a wildcard
IOTWS008  error     iot:* or * action in an Allow
IOTWS009  warning   Resource "*" in an Allow
IOTWS010  error     document over 2,048 characters (compact, without white space)
IOTWS011  error     more than 10 documents
IOTWS012  error     Deny on Subscribe while Receive stays allowed (the receive leak)
IOTWS013  warning   Publish allowed on a reserved $aws/ topic
IOTWS014  error     region or account differs from the expected one (warning: wildcard)
IOTWS015  error     not an IoT ARN (arn:aws:iot:REGION:ACCOUNT:TYPE/NAME): never matches
IOTWS016  warning   unknown policy variable: never resolves, the statement never applies
IOTWS017  info      NotAction: not documented for IoT policies (unverified)
IOTWS018  warning   fits 2,048 only without white space (whether it counts: unverified)
IOTWS019  info      + or # in a topicfilter/ resource: grants only that literal filter
IOTWS020  error     a topic/topicfilter resource whose wildcard also matches reserved
                    $aws/... topics (e.g. topic/*/*/*): every app's and device's topics

Our own slots (`${iotws:client_id}`, `${iotws:claim.NAME}`, `${iotws:region}`,
`${iotws:account}`, INTERNALS.md) are legitimate in documents checked before run-time
substitution; `${iotws:client_id}` in a Connect resource binds the client id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from iotws.evaluator import (
    ALLOWED,
    PolicyError,
    PolicySet,
    Request,
    StatementView,
    parse_document,
)
from iotws.iot.arns import PARTITIONS, Arn, client_binding, glob_match, has_wildcard
from iotws.iot.arns import parse_arn as _parse_arn
from iotws.iot.facts import AWS_RESERVED_PREFIX, RESERVED_TOPIC_EXAMPLES
from iotws.iot.facts import MAX_DOCUMENT_CHARS as MAX_DOCUMENT_CHARS  # re-exported
from iotws.iot.facts import MAX_DOCUMENTS as MAX_DOCUMENTS  # re-exported

SEVERITIES = ("error", "warning", "info")
_TOPIC_ACTIONS = ("iot:Publish", "iot:Receive", "iot:RetainPublish", "iot:GetRetainedMessage")
_KNOWN_VARIABLES = {
    "iot:clientid",
    "aws:sourceip",
    "iot:domainname",
    "cognito-identity.amazonaws.com:sub",
    "cognito-identity.amazonaws.com:aud",
    "cognito-identity.amazonaws.com:amr",
}
_KNOWN_VARIABLE_PREFIXES = ("iot:connection.thing.", "iot:certificate.", "iotws:")
# Variables bound to the verified identity (never chosen freely by the client).
_IDENTITY_VARIABLES = ("iotws:", "cognito-identity.amazonaws.com:sub", "iot:connection.thing.")


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # "error" | "warning" | "info"
    document: int | None
    statement: int | None
    message: str
    fix: str
    source: str = ""

    def render(self) -> str:
        doc = "-" if self.document is None else str(self.document)
        stmt = "-" if self.statement is None else str(self.statement)
        return (
            f"{self.severity.upper()} {self.id} doc[{doc}] stmt[{stmt}]: {self.message}"
            f" (fix: {self.fix})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _covers(view: StatementView, action: str) -> bool:
    hit = any(glob_match(p, action, ignore_case=True) for p in view.actions)
    return hit != view.not_action


def _names(view: StatementView, action: str) -> bool:
    """The statement names `action` explicitly (no wildcard, not NotAction)."""
    return not view.not_action and any(a.lower() == action.lower() for a in view.actions)


def _is_known_variable(name: str) -> bool:
    lname = name.lower()
    return lname in _KNOWN_VARIABLES or lname.startswith(_KNOWN_VARIABLE_PREFIXES)


def _is_identity_variable(name: str) -> bool:
    lname = name.lower()
    return any(lname.startswith(p) for p in _IDENTITY_VARIABLES)


def _client_binding(resource: str) -> str:
    """How a Connect resource binds the client id: 'any', 'partial' or 'bound'."""
    if resource == "*":
        return "any"
    arn = _parse_arn(resource)
    if arn is None:
        return "bound"  # malformed: never matches (IOTWS015)
    binding, _ = client_binding(arn.rest)
    return "bound" if binding == "not-client" else binding


def _is_client(resource: str) -> bool:
    arn = _parse_arn(resource)
    return arn is not None and arn.rtype == "client"


def _sample(text: str, values: Mapping[str, str]) -> str:
    """A concrete string matched by a pattern: wildcards -> 'x', variables -> their sample."""

    def var(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in ("*", "?", "$"):
            return name
        return values.get(name, "v")

    out = re.sub(r"\$\{([^}]*)\}", lambda m: "\0" + var(m) + "\0", text)
    pieces = out.split("\0")
    result = []
    for i, piece in enumerate(pieces):
        result.append(piece if i % 2 else re.sub(r"[*?]", "x", piece))
    return "".join(result)


def _sample_topic_for_filter(arn: Arn, values: Mapping[str, str], region: str, account: str) -> str:
    region_s = region if has_wildcard(arn.region) else _sample(arn.region, values)
    account_s = account if has_wildcard(arn.account) else _sample(arn.account, values)
    name = _sample(arn.name, values)
    name = "/".join("x" if level in ("+", "#") else level for level in name.split("/"))
    return f"arn:{arn.partition}:iot:{region_s}:{account_s}:topic/{name}"


def _size_findings(doc: Any, idx: int, source: str) -> list[Finding]:
    findings: list[Finding] = []
    obj = json.loads(doc) if isinstance(doc, str) else doc
    compact = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    no_ws = len(re.sub(r"\s", "", compact))
    given = len(doc) if isinstance(doc, str) else len(compact)
    if no_ws > MAX_DOCUMENT_CHARS:
        findings.append(
            Finding(
                "IOTWS010",
                "error",
                idx,
                None,
                f"document is {no_ws} characters without white space, over the "
                f"{MAX_DOCUMENT_CHARS} limit",
                "split it into more documents or use fewer, wider resources",
                source,
            )
        )
    elif max(len(compact), given) > MAX_DOCUMENT_CHARS:
        findings.append(
            Finding(
                "IOTWS018",
                "warning",
                idx,
                None,
                f"document is {max(len(compact), given)} characters with white space "
                f"({no_ws} without); whether white space counts for authorizer documents is "
                "unverified",
                "emit compact JSON and keep it under 2,048 characters with white space too",
                source,
            )
        )
    return findings


def _statement_findings(
    view: StatementView, region: str | None, account: str | None, source: str
) -> list[Finding]:
    out: list[Finding] = []
    d, s = view.document, view.statement

    def add(fid: str, sev: str, msg: str, fix: str) -> None:
        out.append(Finding(fid, sev, d, s, msg, fix, source))

    allow = view.effect == "Allow"
    if view.not_action:
        add(
            "IOTWS017",
            "info",
            "NotAction is not documented for IoT policies (unverified); the evaluator "
            "treats it as in IAM",
            "list the allowed actions in Action instead",
        )
    if (
        allow
        and not view.not_action
        and any(a == "*" or a.lower() == "iot:*" for a in view.actions)
    ):
        add(
            "IOTWS008",
            "error",
            "Allow with a wildcard action (iot:* or *) grants every IoT action, "
            "including shadow, job and retained-message actions",
            "name the actions: iot:Connect, iot:Publish, iot:Subscribe, iot:Receive",
        )
    for var in sorted(view.variables):
        if not _is_known_variable(var):
            add(
                "IOTWS016",
                "warning",
                f"unknown policy variable ${{{var}}}: it never resolves, so this "
                "statement never applies",
                "use a documented variable such as ${iot:ClientId} (iot-policy-variables)",
            )
    if allow and view.not_resource and _covers(view, "iot:Connect"):
        add(
            "IOTWS006",
            "error",
            "Connect allowed through NotResource: almost any client id may connect "
            "(client-id takeover)",
            "allow iot:Connect on client/<the exact client id>",
        )
    for r in view.resources:
        if r == "*":
            if allow and not view.not_resource:
                only_list = (
                    all(a.lower() == "iot:listretainedmessages" for a in view.actions)
                    and not view.not_action
                )
                if _covers(view, "iot:Connect"):
                    add(
                        "IOTWS006",
                        "error",
                        "Connect allowed on '*': any client id may connect and take over "
                        "another client's session (client-id takeover)",
                        "allow iot:Connect on client/<the exact client id from the identity>",
                    )
                if not only_list and not (
                    len(view.actions) == 1 and view.actions[0].lower() == "iot:connect"
                ):
                    add(
                        "IOTWS009",
                        "warning",
                        'Resource "*" in an Allow covers every topic, filter and client',
                        "name the resources (topic/..., topicfilter/..., client/...)",
                    )
            continue
        arn = _parse_arn(r)
        if (
            arn is None
            or arn.partition not in PARTITIONS
            or not glob_match(arn.service, "iot")
            or not arn.rtype
        ):
            add(
                "IOTWS015",
                "error",
                f"{r!r} is not an IoT resource ARN; it never matches",
                "write arn:aws:iot:REGION:ACCOUNT:TYPE/NAME (TYPE: topic, topicfilter, client)",
            )
            continue
        for part, given, slot, what in (
            (arn.region, region, "${iotws:region}", "region"),
            (arn.account, account, "${iotws:account}", "account"),
        ):
            if given is None or part == slot or part == given:
                continue
            if has_wildcard(part):
                add(
                    "IOTWS014",
                    "warning",
                    f"{what} {part!r} in {r!r} is a wildcard: it also matches other {what}s",
                    f"write the {what} {given}",
                )
            else:
                add(
                    "IOTWS014",
                    "error",
                    f"{what} {part!r} in {r!r} differs from the expected {given!r}: it never "
                    "matches here",
                    f"write the {what} {given}",
                )
        if arn.rtype == "topic" and ("+" in arn.name or "#" in arn.name):
            add(
                "IOTWS005",
                "error",
                f"'+'/'#' in topic resource {r!r} are literal in policies and cannot occur "
                "in a topic name: it never matches a real topic",
                "use * in topic/ resources (docs/iot-policies.md#actions-and-resources)",
            )
        if arn.rtype == "topicfilter" and ("+" in arn.name or "#" in arn.name):
            add(
                "IOTWS019",
                "info",
                f"'+'/'#' in {r!r} are literal: only a SUBSCRIBE to exactly that filter is "
                "allowed (a/+ does not cover a/x or a/#)",
                "use * if more filters are meant",
            )
        if (
            allow
            and not view.not_resource
            and arn.rtype == "topic"
            and arn.name.startswith(AWS_RESERVED_PREFIX)
            and (_covers(view, "iot:Publish") or _covers(view, "iot:RetainPublish"))
        ):
            add(
                "IOTWS013",
                "warning",
                f"Publish allowed on reserved topic {r!r}",
                "clients must not publish to $aws/ topics; use the app's own prefix",
            )
        reserved = (
            _reserved_probe(arn.name)
            if allow
            and not view.not_resource
            and arn.rtype in ("topic", "topicfilter")
            and not arn.name.startswith(AWS_RESERVED_PREFIX)
            else None
        )
        if reserved is not None:
            add(
                "IOTWS020",
                "error",
                f"{r!r} starts with a wildcard and also matches reserved topics such as "
                f"{reserved!r} (lifecycle events, shadows) and other apps' topics",
                "start every topic resource with the app's own literal prefix (topic_prefix)",
            )
        if allow and not view.not_resource and _covers(view, "iot:Connect"):
            binding = _client_binding(r)
            if binding == "any" and arn.rtype in ("client", "*"):
                add(
                    "IOTWS006",
                    "error",
                    f"Connect allowed on {r!r}: any client id may connect and take over "
                    "another client's session (client-id takeover)",
                    "allow iot:Connect on client/<the exact client id from the identity>",
                )
            elif binding == "partial":
                add(
                    "IOTWS006",
                    "warning",
                    f"Connect allowed on {r!r}: the holder may pick any matching id and take "
                    "over another client's session",
                    "bind the id to the verified identity, e.g. client/${iotws:client_id}",
                )
    if not view.not_resource:
        types = [a.rtype for a in (_parse_arn(r) for r in view.resources) if a is not None]
        if (
            _names(view, "iot:Subscribe")
            and "topic" in types
            and not any(glob_match(t, "topicfilter") for t in types)
        ):
            add(
                "IOTWS002",
                "error",
                "iot:Subscribe on a topic/ resource never matches: SUBSCRIBE is checked "
                "against topicfilter/<filter>",
                "write the resource as topicfilter/...",
            )
        for action in _TOPIC_ACTIONS:
            if (
                _names(view, action)
                and "topicfilter" in types
                and not any(glob_match(t, "topic") for t in types)
            ):
                add(
                    "IOTWS003",
                    "error",
                    f"{action} on a topicfilter/ resource never matches: it is checked "
                    "against topic/<topic>",
                    "write the resource as topic/...",
                )
    return out


def lint_documents(
    documents: Sequence[Mapping[str, Any] | str],
    *,
    region: str | None = None,
    account: str | None = None,
    source: str = "",
) -> list[Finding]:
    """Every finding for the documents that apply to one principal, in a stable order."""
    findings: list[Finding] = []
    if len(documents) > MAX_DOCUMENTS:
        findings.append(
            Finding(
                "IOTWS011",
                "error",
                None,
                None,
                f"{len(documents)} documents; at most {MAX_DOCUMENTS} apply to one principal",
                "merge statements or narrow the profile",
                source,
            )
        )
    views: list[StatementView] = []
    for idx, doc in enumerate(documents):
        try:
            doc_views = parse_document(doc, idx)
        except PolicyError as exc:
            m = re.search(r"Statement\[(\d+)\]", exc.field or "")
            findings.append(
                Finding(
                    "IOTWS001",
                    "error",
                    idx,
                    int(m.group(1)) if m else None,
                    exc.render(),
                    exc.fix or "fix the document",
                    source,
                )
            )
            continue
        views.extend(doc_views)
        findings.extend(_size_findings(doc, idx, source))
    for view in views:
        findings.extend(_statement_findings(view, region, account, source))
    findings.extend(_set_findings(views, documents, region, account, source))
    order = {sev: i for i, sev in enumerate(SEVERITIES)}
    findings.sort(
        key=lambda f: (
            -1 if f.document is None else f.document,
            -1 if f.statement is None else f.statement,
            order[f.severity],
            f.id,
        )
    )
    return findings


def _set_findings(
    views: list[StatementView],
    documents: Sequence[Any],
    region: str | None,
    account: str | None,
    source: str,
) -> list[Finding]:
    out: list[Finding] = []
    policy_set = PolicySet(views, documents)
    names = sorted(policy_set.variables)
    values = {name: f"v{i}" for i, name in enumerate(names)}
    sample_region = region or "us-east-1"
    sample_account = account or "123456789012"

    # Client-id injection (docs/iot-policies.md#client-id-injection, basic-policy-variables).
    connect_allows = [v for v in views if v.effect == "Allow" and _covers(v, "iot:Connect")]
    unbound = any(
        v.not_resource or any(_client_binding(r) in ("any", "partial") for r in v.resources)
        for v in connect_allows
    )
    for view in views:
        uses = [r for r in view.resources if "${iot:clientid}" in r.lower() and not _is_client(r)]
        if not uses or view.effect != "Allow":
            continue
        if unbound:
            out.append(
                Finding(
                    "IOTWS007",
                    "error",
                    view.document,
                    view.statement,
                    f"${{iot:ClientId}} in {uses[0]!r} while Connect accepts any client id: "
                    "a client connecting as '+' or '#' turns it into a wildcard",
                    "bind iot:Connect to exact ids derived from the identity, or use an "
                    "identity value (e.g. ${iotws:claim.sub}) instead of ${iot:ClientId}",
                    source,
                )
            )
        elif not connect_allows:
            out.append(
                Finding(
                    "IOTWS007",
                    "warning",
                    view.document,
                    view.statement,
                    f"${{iot:ClientId}} in {uses[0]!r} and no iot:Connect statement here: "
                    "safe only if the Connect grant binds exact client ids",
                    "make sure the policy that allows iot:Connect names exact client ids",
                    source,
                )
            )

    # Subscribe without Receive, and the Subscribe-deny Receive leak (pub-sub-policy).
    for view in views:
        if view.not_resource or not _covers(view, "iot:Subscribe"):
            continue
        if any(v.lower().startswith("iot:") and "*" in v for v in view.actions):
            continue  # iot:* style: the action mix is reported elsewhere
        for r in view.resources:
            arn = _parse_arn(r)
            if arn is None or arn.rtype != "topicfilter":
                continue
            topic = _sample_topic_for_filter(arn, values, sample_region, sample_account)
            decision = policy_set.evaluate(Request("iot:Receive", topic, values))
            if view.effect == "Allow" and decision.result != ALLOWED:
                out.append(
                    Finding(
                        "IOTWS004",
                        "warning",
                        view.document,
                        view.statement,
                        f"Subscribe allowed on {r!r} but iot:Receive is not allowed on "
                        f"matching topics (e.g. {topic!r}): nothing will be delivered",
                        "allow iot:Receive on the matching topic/ resource",
                        source,
                    )
                )
            elif view.effect == "Deny" and decision.result == ALLOWED:
                out.append(
                    Finding(
                        "IOTWS012",
                        "error",
                        view.document,
                        view.statement,
                        f"Subscribe denied on {r!r} but iot:Receive is still allowed on "
                        f"{topic!r}: a wider subscription (e.g. a/#) still delivers it",
                        "deny iot:Receive on the topic/ resource too, or allow Receive with "
                        "NotResource excluding it (pub-sub-policy)",
                        source,
                    )
                )
    return out


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


__all__ = ["MAX_DOCUMENTS", "MAX_DOCUMENT_CHARS", "Finding", "has_errors", "lint_documents"]


def _reserved_probe(name: str) -> str | None:
    """A reserved topic that the resource name (a policy pattern) matches, or None."""
    for probe in RESERVED_TOPIC_EXAMPLES:
        if glob_match(name, probe):
            return probe
    return None
