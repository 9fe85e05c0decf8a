"""Fuzz tests of the policy evaluator (`iotws.policy.evaluator`): near-valid documents built from
adversarial parts (wildcards, policy variables, escapes, every condition operator, wrong
types) and arbitrary requests. `PolicySet.from_documents` raises only `PolicyError`;
`evaluate` never raises and answers one of the three results; an explicit deny always
wins. (tests/evaluator/test_properties.py covers random JSON; this file aims closer to
documents that parse, where the compiled matchers run.)"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotws.policy.evaluator import EXPLICIT_DENY, RESULTS, PolicyError, PolicySet, Request

ARN = "arn:aws:iot:us-east-1:123456789012:"
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACTIONS = ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive", "iot:*", "*", "iot:"]
ACTIONS += ["iot:RetainPublish", "iot:GetRetainedMessage", "iot:ListRetainedMessages", "s3:*"]
VARIABLES = [
    "${iot:ClientId}",
    "${aws:SourceIp}",
    "${iot:DomainName}",
    "${cognito-identity.amazonaws.com:sub}",
    "${iot:Connection.Thing.ThingName}",
    "${*}",
    "${?}",
    "${$}",
    "${",
    "${}",
    "}",
    "$",
    "${iot:ClientId",
    "${${iot:ClientId}}",
]
PIECES = ["*", "?", "/", "+", "#", "a", "topic/", "client/", "topicfilter/", ARN, "\\", "\x00"]
OPERATORS = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnLike",
    "ArnNotLike",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "Null",
    "ForAnyValue:StringEquals",
    "ForAllValues:StringLike",
    "StringEqualsIfExists",
    "NullIfExists",
    "ForSome:StringEquals",
    "NumericEquals",
    "",
]
KEYS = ["iot:ClientId", "aws:SourceIp", "iot:ConnectAttributes", "iot:LastWillTopic", "x"]

pattern_text = st.one_of(
    st.lists(st.sampled_from(PIECES[:10] + VARIABLES[:8]), max_size=6).map("".join),
    st.lists(st.sampled_from(PIECES[:10] + VARIABLES[:8]), max_size=6).map("".join),
    st.lists(st.sampled_from(PIECES + VARIABLES), max_size=6).map("".join),  # malformed too
)
odd = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.just({}), st.just([]))
string_or_list = st.one_of(
    pattern_text, st.lists(pattern_text, max_size=3), odd, st.lists(odd, max_size=2)
)
cond_values = st.one_of(
    st.sampled_from(["true", "false", "10.0.0.0/8", "::1/128", "999.1.1.1/40", "*", ""]),
    pattern_text,
    st.lists(st.one_of(pattern_text, st.sampled_from(["10.0.0.1", "true"])), max_size=3),
    odd,
)
conditions = st.one_of(
    st.dictionaries(
        st.sampled_from(OPERATORS[:15]),
        st.dictionaries(st.sampled_from(KEYS), cond_values, min_size=1, max_size=2),
        min_size=1,
        max_size=2,
    ),
    st.dictionaries(
        st.sampled_from(OPERATORS),
        st.one_of(st.dictionaries(st.sampled_from(KEYS), cond_values, max_size=2), odd),
        max_size=2,
    ),
    odd,
)


@st.composite
def statements(draw: st.DrawFn) -> Any:
    """Mostly well-formed statements (so that the compiled matchers run), sometimes not."""
    broken = draw(st.integers(0, 9)) == 0  # one in ten gets wrong types somewhere
    stmt: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    stmt["Action" if draw(st.integers(0, 9)) else "NotAction"] = draw(
        st.one_of(st.sampled_from(ACTIONS), st.lists(st.sampled_from(ACTIONS), min_size=1))
    )
    stmt["Resource" if draw(st.integers(0, 4)) else "NotResource"] = draw(
        st.one_of(pattern_text, st.lists(pattern_text, min_size=1, max_size=3))
    )
    if draw(st.integers(0, 2)) == 0:
        stmt["Condition"] = draw(conditions)
    if broken:
        key = draw(st.sampled_from(["Effect", "Action", "Resource", "Condition", "Sid", "x"]))
        stmt[key] = draw(st.one_of(odd, string_or_list, st.sampled_from(["allow", ""])))
    return stmt


good_documents = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "Version": st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17"]),
                "Statement": st.one_of(
                    st.lists(statements(), min_size=1, max_size=4), statements()
                ),
            }
        ),
        st.fixed_dictionaries(
            {
                "Version": st.sampled_from(["2012-10-17", "2012-10-17", "2012-10-17", "x"]),
                "Statement": st.one_of(
                    st.lists(statements(), min_size=1, max_size=4), statements(), odd
                ),
            }
        ),
    ),
    min_size=1,
    max_size=3,
)
documents = st.one_of(
    good_documents, good_documents, good_documents, st.lists(odd, min_size=1, max_size=2)
)
context_values = st.one_of(
    st.text(max_size=10), st.booleans(), st.lists(st.text(max_size=6), max_size=3)
)
requests = st.builds(
    Request,
    action=st.sampled_from(ACTIONS + ["", "iot:connect"]),
    resource=st.one_of(
        pattern_text,
        st.builds(lambda k, t: ARN + k + t, st.sampled_from(["client/", "topic/"]), pattern_text),
    ),
    variables=st.dictionaries(
        st.sampled_from(["iot:ClientId", "aws:SourceIp", "iot:DomainName", "*", "x"]),
        st.one_of(st.text(max_size=12), st.sampled_from(["10.1.2.3", "::1", "+", "#", "*"])),
        max_size=3,
    ),
    context=st.dictionaries(st.sampled_from(KEYS), context_values, max_size=2),
)


@SETTINGS
@given(documents, st.lists(requests, min_size=1, max_size=3))
def test_only_policy_errors_and_evaluation_never_raises(
    docs: list[Any], reqs: list[Request]
) -> None:
    try:
        policy = PolicySet.from_documents(docs)
    except PolicyError:
        return
    for req in reqs:
        assert policy.evaluate(req).result in RESULTS


@SETTINGS
@given(documents, requests)
def test_an_added_deny_all_always_wins(docs: list[Any], req: Request) -> None:
    try:
        PolicySet.from_documents(docs)
    except PolicyError:
        return
    deny_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    policy = PolicySet.from_documents([*docs, deny_all])
    decision = policy.evaluate(req)
    if req.action:
        assert decision.result == EXPLICIT_DENY
    else:
        assert decision.result in RESULTS


@SETTINGS
@given(st.lists(st.one_of(st.text(max_size=60), st.binary(max_size=30).map(repr)), max_size=3))
def test_documents_as_json_strings(texts: list[str]) -> None:
    # Responses may carry documents as JSON strings (docs/custom-authorizer.md#response,
    # unverified).
    try:
        PolicySet.from_documents(texts)
    except PolicyError:
        pass
