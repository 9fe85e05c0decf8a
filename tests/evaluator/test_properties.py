"""Property tests for the evaluator: matching against a reference matcher, deny
precedence, and robustness on arbitrary input."""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from iotws.policy.evaluator import (
    ALLOWED,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    RESULTS,
    PolicyError,
    PolicySet,
    Request,
    glob_match,
)

ARN = "arn:aws:iot:us-east-1:123456789012:"
PATTERN_ALPHABET = "ab/+#*?$"
TEXT_ALPHABET = "ab/+#*?$"


def ref_match(pattern: str, text: str) -> bool:
    """Reference: `*` any run (also empty, also `/`), `?` one character, else literal."""

    @cache
    def go(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(text)
        ch = pattern[i]
        if ch == "*":
            return go(i + 1, j) or (j < len(text) and go(i, j + 1))
        if j == len(text):
            return False
        if ch == "?":
            return go(i + 1, j + 1)
        return ch == text[j] and go(i + 1, j + 1)

    return go(0, 0)


patterns = st.text(alphabet=PATTERN_ALPHABET, max_size=10)
texts = st.text(alphabet=TEXT_ALPHABET, max_size=10)


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@settings(max_examples=400, deadline=None)
@given(patterns, texts)
def test_glob_match_agrees_with_reference(pattern: str, text: str) -> None:
    assert glob_match(pattern, text) == ref_match(pattern, text)


@settings(max_examples=300, deadline=None)
@given(patterns, texts)
def test_resource_matching_agrees_with_reference(pattern: str, text: str) -> None:
    ps = PolicySet.from_documents(
        [doc({"Effect": "Allow", "Action": "iot:Publish", "Resource": ARN + "topic/" + pattern})]
    )
    result = ps.evaluate(Request("iot:Publish", ARN + "topic/" + text)).result
    assert result == (ALLOWED if ref_match(pattern, text) else IMPLICIT_DENY)


@settings(max_examples=300, deadline=None)
@given(patterns, patterns, st.text(alphabet="ab+#*?$/", min_size=1, max_size=6), texts)
def test_variable_substitution_agrees_with_reference(
    before: str, after: str, client_id: str, text: str
) -> None:
    # Worst case for substituted values (documented in iotws.policy.evaluator): their `*`/`?`
    # act as wildcards, so substitution is plain text replacement before matching.
    resource = ARN + "topicfilter/" + before + "${iot:ClientId}" + after
    ps = PolicySet.from_documents(
        [doc({"Effect": "Allow", "Action": "iot:Subscribe", "Resource": resource})]
    )
    req = Request("iot:Subscribe", ARN + "topicfilter/" + text, {"iot:ClientId": client_id})
    expected = ref_match(before + client_id + after, text)
    assert ps.evaluate(req).allowed == expected
    # The compiled-pattern cache gives the same answer the second time.
    assert ps.evaluate(req).allowed == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), patterns), min_size=1, max_size=6), texts)
def test_explicit_deny_beats_allow(statements: list[tuple[bool, str]], text: str) -> None:
    docs = [
        doc(
            {
                "Effect": "Deny" if deny else "Allow",
                "Action": "iot:Receive",
                "Resource": ARN + "topic/" + pattern,
            }
        )
        for deny, pattern in statements
    ]
    decision = PolicySet.from_documents(docs).evaluate(
        Request("iot:Receive", ARN + "topic/" + text)
    )
    denies = [i for i, (deny, p) in enumerate(statements) if deny and ref_match(p, text)]
    allows = [i for i, (deny, p) in enumerate(statements) if not deny and ref_match(p, text)]
    if denies:
        assert decision.result == EXPLICIT_DENY
        assert [s.document for s in decision.statements] == denies
    elif allows:
        assert decision.result == ALLOWED
        assert [s.document for s in decision.statements] == allows
    else:
        assert decision == (IMPLICIT_DENY, ())


POLICY = PolicySet.from_documents(
    [
        doc(
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": ARN + "client/${iot:ClientId}",
            },
            {
                "Effect": "Allow",
                "Action": ["iot:Subscribe", "iot:Receive"],
                "Resource": [
                    ARN + "topicfilter/app/${iot:ClientId}/*",
                    ARN + "topic/app/${iot:ClientId}/*",
                ],
            },
            {
                "Effect": "Deny",
                "Action": "iot:*",
                "Resource": ARN + "topic/app/${cognito-identity.amazonaws.com:sub}/x",
                "Condition": {"StringLike": {"iot:DomainName": "*.example.com"}},
            },
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
        )
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive", "x", ""]),
    st.text(max_size=40),
    st.text(max_size=40),
    st.dictionaries(
        st.sampled_from(["aws:SourceIp", "iot:DomainName", "cognito-identity.amazonaws.com:sub"]),
        st.text(max_size=20),
    ),
)
def test_never_raises_on_arbitrary_strings(
    action: str, resource: str, client_id: str, extra: dict[str, str]
) -> None:
    variables = {"iot:ClientId": client_id, **extra}
    for res in (resource, ARN + "topic/app/" + resource, ARN + "client/" + client_id):
        assert POLICY.evaluate(Request(action, res, variables)).result in RESULTS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Version",
                    "Statement",
                    "Effect",
                    "Action",
                    "Resource",
                    "NotResource",
                    "Condition",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=3))
def test_invalid_documents_raise_policy_error_only(documents: list[Any]) -> None:
    try:
        ps = PolicySet.from_documents(documents)
    except PolicyError as exc:
        assert "document" in str(exc) or "documents" in str(exc)
        return
    assert ps.evaluate(Request("iot:Publish", ARN + "topic/a")).result in RESULTS
