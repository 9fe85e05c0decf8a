"""Unit tests for iotws.policy.evaluator: API, validation, conditions, caches."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iotws.errors import IotwsError
from iotws.policy.evaluator import (
    ALLOWED,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    KNOWN_ACTIONS,
    PolicyError,
    PolicySet,
    Request,
    StatementRef,
    canonical_action,
    documents_from_json,
)

ARN = "arn:aws:iot:us-east-1:123456789012:"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def result(ps: PolicySet, action: str, resource: str, **variables: str) -> str:
    return ps.evaluate(Request(action, resource, variables)).result


def test_api_shape_from_internals() -> None:
    ps = PolicySet.from_documents([doc(allow("iot:Subscribe", ARN + "topicfilter/a/*"))])
    d = ps.evaluate(
        Request(
            action="iot:Subscribe",
            resource=ARN + "topicfilter/a/#",
            variables={"iot:ClientId": "c1"},
        )
    )
    assert d.result == ALLOWED
    assert d.statements == (StatementRef(0, 0, "Allow"),)
    assert d.statements[0].document == 0 and d.statements[0].statement == 0
    assert issubclass(PolicyError, IotwsError)


@pytest.mark.parametrize(
    ("documents", "field"),
    [
        (
            [doc(allow("iot:Publish", "*")), doc(allow("iot:Publish", "*"), {"Effect": "Allow"})],
            "document[1].Statement[1]",
        ),
        ([{"Statement": []}], "document[0].Statement"),
        ([doc(allow("iot:Publish", "*")), "not json"], "document[1]"),
        ([doc(allow("iot:Publish", 5))], "document[0].Statement[0].Resource"),
        ([doc(allow("Publish", "*"))], "document[0].Statement[0].Action[0]"),
        ([doc(allow("iot:Publish", "*", Principal="*"))], "document[0].Statement[0]"),
        ([doc({**allow("iot:Publish", "*"), "NotResource": "x"})], "document[0].Statement[0]"),
        (
            [{"Version": "2020-01-01", "Statement": allow("iot:Publish", "*")}],
            "document[0].Version",
        ),
        ([doc(allow("iot:Publish", ARN + "topic/${}"))], "document[0].Statement[0].Resource[0]"),
        ([doc(allow("${iot:ClientId}", "*"))], "document[0].Statement[0].Action[0]"),
        (
            [doc(allow("iot:Connect", "*", Condition={"IpAddress": {"aws:SourceIp": "nope"}}))],
            "document[0].Statement[0].Condition.IpAddress.aws:SourceIp",
        ),
        ([7], "document[0]"),
    ],
)
def test_invalid_documents_name_document_and_statement(documents: list[Any], field: str) -> None:
    with pytest.raises(PolicyError) as info:
        PolicySet.from_documents(documents)
    assert info.value.field == field
    assert info.value.fix


@pytest.mark.parametrize(
    "operator",
    ["DateLessThan", "NumericEquals", "ForSomeValues:StringEquals", "StringEqualsMaybe", "Null:x"],
)
def test_unknown_condition_operator_is_an_error_naming_it(operator: str) -> None:
    statement = allow("iot:Connect", "*", Condition={operator: {"aws:SourceIp": "1"}})
    with pytest.raises(PolicyError) as info:
        PolicySet.from_documents([doc(statement)])
    assert operator.split(":")[0] in str(info.value)


def test_single_document_dict_is_refused_as_list() -> None:
    with pytest.raises(PolicyError):
        PolicySet.from_documents(doc(allow("iot:Publish", "*")))  # type: ignore[arg-type]


def test_documents_as_json_strings_are_accepted() -> None:
    ps = PolicySet.from_documents([json.dumps(doc(allow("iot:Publish", ARN + "topic/a")))])
    assert result(ps, "iot:Publish", ARN + "topic/a") == ALLOWED


def test_action_names_case_insensitive_resources_case_sensitive() -> None:
    ps = PolicySet.from_documents([doc(allow(["iot:publish"], ARN + "topic/A"))])
    assert result(ps, "IOT:PUBLISH", ARN + "topic/A") == ALLOWED
    assert result(ps, "iot:Publish", ARN + "topic/a") == IMPLICIT_DENY


def test_not_action_is_supported() -> None:
    # NotAction is unverified for IoT (docs/iot-policies.md#conditions); IAM semantics.
    ps = PolicySet.from_documents(
        [doc({"Effect": "Allow", "NotAction": "iot:Publish", "Resource": "*"})]
    )
    assert result(ps, "iot:Subscribe", ARN + "topicfilter/a") == ALLOWED
    assert result(ps, "iot:Publish", ARN + "topic/a") == IMPLICIT_DENY


def test_all_deciding_statements_are_reported_in_order() -> None:
    ps = PolicySet.from_documents(
        [
            doc(allow("iot:Publish", ARN + "topic/*"), deny("iot:Publish", ARN + "topic/x")),
            doc(deny("iot:*", "*", Sid="all")),
        ]
    )
    d = ps.evaluate(Request("iot:Publish", ARN + "topic/x"))
    assert d.result == EXPLICIT_DENY
    assert d.statements == (StatementRef(0, 1, "Deny"), StatementRef(1, 0, "Deny", "all"))


def test_variable_names_are_case_insensitive() -> None:
    ps = PolicySet.from_documents([doc(allow("iot:Publish", ARN + "topic/${IOT:clientid}"))])
    assert result(ps, "iot:Publish", ARN + "topic/c1", **{"iot:ClientId": "c1"}) == ALLOWED


def test_unresolvable_variable_in_condition_value_disables_the_value() -> None:
    statement = allow(
        "iot:Publish",
        "*",
        Condition={"StringEquals": {"iot:DomainName": "${iot:Connection.Thing.ThingName}.x"}},
    )
    ps = PolicySet.from_documents([doc(statement)])
    assert result(ps, "iot:Publish", ARN + "topic/a", **{"iot:DomainName": ".x"}) == IMPLICIT_DENY
    assert (
        result(
            ps,
            "iot:Publish",
            ARN + "topic/a",
            **{"iot:DomainName": "t.x", "iot:Connection.Thing.ThingName": "t"},
        )
        == ALLOWED
    )


def test_negated_operators_and_if_exists_on_missing_keys() -> None:
    ps = PolicySet.from_documents(
        [
            doc(
                allow("iot:Publish", ARN + "topic/a", Condition={"StringNotEquals": {"k": "v"}}),
                allow(
                    "iot:Publish", ARN + "topic/b", Condition={"StringEqualsIfExists": {"k": "v"}}
                ),
                allow("iot:Publish", ARN + "topic/c", Condition={"StringEquals": {"k": "v"}}),
                allow("iot:Publish", ARN + "topic/d", Condition={"Null": {"k": "true"}}),
                allow("iot:Publish", ARN + "topic/e", Condition={"Null": {"k": "false"}}),
            )
        ]
    )
    missing = {t: result(ps, "iot:Publish", ARN + f"topic/{t}") for t in "abcde"}
    assert missing == {
        "a": ALLOWED,
        "b": ALLOWED,
        "c": IMPLICIT_DENY,
        "d": ALLOWED,
        "e": IMPLICIT_DENY,
    }
    present = {t: result(ps, "iot:Publish", ARN + f"topic/{t}", k="v") for t in "abcde"}
    assert present == {
        "a": IMPLICIT_DENY,
        "b": ALLOWED,
        "c": ALLOWED,
        "d": IMPLICIT_DENY,
        "e": ALLOWED,
    }


def test_condition_keys_case_insensitive_and_multiple_operators_and() -> None:
    statement = allow(
        "iot:Connect",
        "*",
        Condition={
            "StringEqualsIgnoreCase": {"IOT:DOMAINNAME": "A.EXAMPLE.COM"},
            "StringNotLike": {"aws:SourceIp": "10.*"},
            "ArnLike": {"iot:LastWillTopic": ARN + "topic/will/*"},
        },
    )
    ps = PolicySet.from_documents([doc(statement)])
    ok = {"iot:DomainName": "a.example.com", "aws:SourceIp": "192.0.2.1"}
    will = {"iot:LastWillTopic": ARN + "topic/will/c1"}
    assert ps.evaluate(Request("iot:Connect", ARN + "client/c", ok, will)).result == ALLOWED
    bad_ip = {**ok, "aws:SourceIp": "10.1.1.1"}
    assert (
        ps.evaluate(Request("iot:Connect", ARN + "client/c", bad_ip, will)).result == IMPLICIT_DENY
    )
    assert ps.evaluate(Request("iot:Connect", ARN + "client/c", ok)).result == IMPLICIT_DENY


def test_ipv6_and_bad_context_ip() -> None:
    statement = allow(
        "iot:Connect", "*", Condition={"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}
    )
    ps = PolicySet.from_documents([doc(statement)])
    assert result(ps, "iot:Connect", ARN + "client/c", **{"aws:SourceIp": "2001:db8::1"}) == ALLOWED
    assert (
        result(ps, "iot:Connect", ARN + "client/c", **{"aws:SourceIp": "garbage"}) == IMPLICIT_DENY
    )
    assert (
        result(ps, "iot:Connect", ARN + "client/c", **{"aws:SourceIp": "192.0.2.1"})
        == IMPLICIT_DENY
    )


def test_dynamic_pattern_cache_is_bounded() -> None:
    ps = PolicySet.from_documents([doc(allow("iot:Publish", ARN + "topic/${iot:ClientId}/*"))])
    for i in range(5000):
        assert (
            result(ps, "iot:Publish", ARN + f"topic/c{i}/x", **{"iot:ClientId": f"c{i}"}) == ALLOWED
        )
    matcher = ps._statements[0].matcher  # noqa: SLF001 - white-box check of the cache bound
    assert 0 < len(matcher.cache) <= 4096


def test_variables_property_lists_every_variable() -> None:
    ps = PolicySet.from_documents(
        [
            doc(
                allow("iot:Connect", ARN + "client/${iotws:client_id}"),
                allow("iot:Publish", "*", Condition={"StringEquals": {"k": "${aws:SourceIp}"}}),
            )
        ]
    )
    assert ps.variables == {"iotws:client_id", "aws:SourceIp"}


def test_documents_from_json_forms() -> None:
    d = doc(allow("iot:Publish", "*"))
    assert documents_from_json(d) == [d]
    assert documents_from_json([d, d]) == [d, d]
    assert documents_from_json(
        {"isAuthenticated": True, "policyDocuments": [json.dumps(d), d]}
    ) == [d, d]
    with pytest.raises(PolicyError):
        documents_from_json({"policyDocuments": ["{broken"]})
    with pytest.raises(PolicyError):
        documents_from_json("text")


def test_known_actions_table() -> None:
    assert canonical_action("IOT:subscribe") == "iot:Subscribe"
    assert canonical_action("iot:CreateThing") is None
    assert KNOWN_ACTIONS["iot:Subscribe"] == "topicfilter"
    assert KNOWN_ACTIONS["iot:Receive"] == "topic"
    assert KNOWN_ACTIONS["iot:Connect"] == "client"
    for name in (
        "iot:DeleteThingShadow",
        "iot:GetThingShadow",
        "iot:UpdateThingShadow",
        "iot:DescribeJobExecution",
        "iot:RetainPublish",
        "iot:GetRetainedMessage",
        "iot:ListRetainedMessages",
    ):
        assert name in KNOWN_ACTIONS
