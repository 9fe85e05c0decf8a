"""Build-time proof that rendered policies mean what the spec says (DESIGN decision 4).

For each profile, two sample identities with the longest allowed values are run through
the same slot filling as the authorizer and the offline evaluator:
(a) everything the spec grants to identity A is ALLOWED for A;
(b) the client id and every placeholder topic of identity B are denied to A;
(c) a topic the spec does not grant is denied.
A failure is a generator bug or a spec the policy language cannot express: `iotws
generate` refuses to write in either case. The property tests in tests/evaluator go much
further (random specs, hostile identity values); this is the always-on guard.
"""

from __future__ import annotations

import re
from typing import Any

from iotws.errors import IotwsError
from iotws.render import RenderedProfile, RenderResult, claim_slot
from iotws.spec import BUILTIN_CLIENT_ID, PLACEHOLDER_RE, Spec

SAMPLE_REGION = "us-east-1"
SAMPLE_ACCOUNT = "123456789012"


def _identity(spec: Spec, letter: str) -> dict[str, str]:
    values = {name: (letter * n) for name, n in spec.claims.items()}
    return values


def _fill(text: str, spec: Spec, claims: dict[str, str], client_id: str) -> str:
    text = text.replace("${iotws:client_id}", client_id)
    text = text.replace("${iotws:region}", spec.region or SAMPLE_REGION)
    text = text.replace("${iotws:account}", spec.account or SAMPLE_ACCOUNT)
    for name, value in claims.items():
        text = text.replace(claim_slot(name), value)
    return text


def _client_id(prof: RenderedProfile, spec: Spec, claims: dict[str, str]) -> str:
    base = _fill(prof.client_id["template"], spec, claims, "")
    return base + ("c1" if prof.client_id["wildcard"] else "")


def _concrete(pattern: str, claims: dict[str, str], client_id: str) -> str:
    """A concrete topic the pattern grants: placeholders filled, wildcard levels replaced."""
    text = _concrete_keep_wildcards(pattern, claims, client_id)
    levels = []
    for level in text.split("/"):
        if level == "+":
            levels.append("room1")
        elif level == "#":
            levels.append("deep/er")
        else:
            levels.append(level)
    return "/".join(levels)


def check_profile(spec: Spec, prof: RenderedProfile) -> list[str]:
    from iotws.evaluator import PolicySet, Request

    problems: list[str] = []
    a = _identity(spec, "a")
    b = _identity(spec, "b")
    cid_a = _client_id(prof, spec, a)
    cid_b = _client_id(prof, spec, b) if spec.claims else cid_a + "x"
    docs: list[Any] = [_fill(d, spec, a, cid_a) for d in prof.documents]
    if any("${iotws:" in d for d in docs):
        return ["a slot was left unfilled"]
    ps = PolicySet.from_documents(docs)
    arn = f"arn:aws:iot:{spec.region or SAMPLE_REGION}:{spec.account or SAMPLE_ACCOUNT}:"

    def full(topic: str) -> str:
        return f"{spec.prefix}/{topic}" if spec.prefix else topic

    def decide(action: str, resource: str) -> str:
        return str(ps.evaluate(Request(action=action, resource=arn + resource)).result)

    if decide("iot:Connect", f"client/{cid_a}") != "ALLOWED":
        problems.append(f"iot:Connect as its own client id {cid_a!r} is not allowed")
    if cid_b != cid_a and decide("iot:Connect", f"client/{cid_b}") == "ALLOWED":
        problems.append("iot:Connect as another identity's client id is allowed")
    if decide("iot:Connect", "client/+") == "ALLOWED":
        problems.append("iot:Connect as client id '+' is allowed")
    for g in prof.grants:
        if g.action == "iot:Connect":
            continue
        rtype = "topicfilter/" if g.action == "iot:Subscribe" else "topic/"
        mine = full(_concrete(g.pattern, a, cid_a))
        if decide(g.action, rtype + mine) != "ALLOWED":
            problems.append(f"{g.action} on {mine!r} (granted by {g.pattern!r}) is not allowed")
        if g.action == "iot:Subscribe":
            literal = full(_concrete_keep_wildcards(g.pattern, a, cid_a))
            if decide(g.action, rtype + literal) != "ALLOWED":
                problems.append(f"iot:Subscribe to the filter {literal!r} itself is not allowed")
        if PLACEHOLDER_RE.search(g.pattern) and (spec.claims or "{client_id}" in g.pattern):
            theirs = full(_concrete(g.pattern, b, cid_b))
            if theirs != mine and decide(g.action, rtype + theirs) == "ALLOWED":
                problems.append(
                    f"{g.action} on another identity's {theirs!r} is allowed ({g.pattern!r})"
                )
    outside = full("iotws-not-granted/x")
    for action, rtype in (
        ("iot:Publish", "topic/"),
        ("iot:Subscribe", "topicfilter/"),
        ("iot:Receive", "topic/"),
    ):
        if decide(action, rtype + outside) == "ALLOWED":
            problems.append(f"{action} on a topic the spec does not grant is allowed")
    if decide("iot:Subscribe", "topicfilter/#") == "ALLOWED":
        problems.append("iot:Subscribe to '#' is allowed")
    return problems


def _concrete_keep_wildcards(pattern: str, claims: dict[str, str], client_id: str) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        return client_id if name == BUILTIN_CLIENT_ID else claims[name]

    return PLACEHOLDER_RE.sub(repl, pattern)


def self_check(result: RenderResult) -> None:
    failures: list[str] = []
    for name, prof in sorted(result.profiles.items()):
        failures += [f"profiles.{name}: {p}" for p in check_profile(result.spec, prof)]
    if failures:
        raise IotwsError(
            "the rendered policies do not mean what the spec says:\n  " + "\n  ".join(failures),
            fix="report this with your access.yaml; it is a bug or a spec IoT policies "
            "cannot express",
        )
