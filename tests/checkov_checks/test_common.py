"""The helpers that read what checkov's HCL parser gives the checks (no checkov run)."""

from __future__ import annotations

from typing import Any

import pytest

from iotws.checkov_checks import _iotws_common as common


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("var.policy", True),
        ('local.trust["unauthenticated"]', True),
        ("data.aws_iam_policy_document.d.json", True),
        ("aws_iot_topic_rule.messages.arn", True),
        ("each.value.sql_version", True),
        ('${file("${path.module}/p.json")}', True),
        ("2016-03-23", False),
        ("iot.amazonaws.com", False),
        ("arn:aws:iot:us-east-1:123456789012:rule/demo", False),
        ("${iot:ClientId}", False),
        ("$${cognito-identity.amazonaws.com:sub}", False),
        (True, False),
    ],
)
def test_is_reference(value: Any, expected: bool) -> None:
    assert common.is_reference(value) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("client/${var.client_id}", True),
        ("client/var.client_id", True),  # jsonencode drops the ${}
        ("client/$${iot:ClientId}", False),
        ("client/${cognito-identity.amazonaws.com:sub}", False),
        ("client/odd${*}name", False),
        ("client/dashboard-1", False),
    ],
)
def test_has_unresolved(text: str, expected: bool) -> None:
    assert common.has_unresolved(text) is expected


def test_glob_matching_follows_iot_policy_rules() -> None:
    # `*` crosses `/`, `?` is exactly one character, MQTT `+`/`#` are plain
    # (docs/iot-policies.md#matching).
    assert common.glob_match("topic/a/*", "topic/a/b/c")
    assert common.glob_match("client/?", "client/x")
    assert not common.glob_match("client/?", "client/xy")
    assert not common.glob_match("topicfilter/a/+", "topicfilter/a/b")
    assert not common.glob_match("Topic/*", "topic/a")
    assert common.action_matches("IOT:conn*", "iot:Connect")


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("*", True),
        ("arn:aws:iot:*:*:*", True),
        ("arn:aws:iot:us-east-1:123456789012:*", True),
        ("arn:aws:iot:us-east-1:123456789012:*/*", True),
        ("arn:aws:iot:*", True),
        ("arn:aws:iot:us-east-1:123456789012:topic/*", False),
        ("arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}", False),
        ("arn:aws:s3:::bucket/*", False),
    ],
)
def test_is_any_resource(resource: str, expected: bool) -> None:
    assert common.is_any_resource(resource) is expected


def test_policy_documents_from_dicts_json_text_and_references() -> None:
    doc = {"Statement": {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}}
    [statement] = common.json_statements(doc) or []
    assert statement.allows and statement.actions == ["iot:*"]
    assert common.wildcard_iot_actions(statement) == ["iot:*"]
    assert common.json_statements('{"Statement": []}') == []
    assert common.json_statements("var.policy") is None
    assert common.json_statements('${file("p.json")}') is None
    assert common.json_statements("{not json") is None


def test_an_effect_checkov_cannot_resolve_is_not_an_allow() -> None:
    [statement] = common.json_statements(
        {"Statement": [{"Effect": "var.effect", "Action": "iot:*", "Resource": "*"}]}
    ) or [None]
    assert statement is not None and not statement.allows
    assert common.grants(statement, "iot:Connect") is False


def test_not_action_grants_what_it_does_not_name() -> None:
    [statement] = common.json_statements(
        {"Statement": [{"Effect": "Allow", "NotAction": ["iot:Publish"], "Resource": "*"}]}
    ) or [None]
    assert statement is not None
    assert common.grants(statement, "iot:Connect") is True
    assert common.grants(statement, "iot:Publish") is False


def test_unresolved_actions_are_unknown_not_granted() -> None:
    [statement] = common.json_statements(
        {"Statement": [{"Effect": "Allow", "Action": "var.actions", "Resource": "*"}]}
    ) or [None]
    assert statement is not None
    assert common.grants(statement, "iot:Connect") is common.UNKNOWN
    assert common.wildcard_iot_actions(statement) == []


def test_hcl_statements_read_data_source_blocks() -> None:
    conf = {
        "statement": [
            {
                "actions": [["sts:AssumeRoleWithWebIdentity"]],
                "principals": [
                    {"type": ["Federated"], "identifiers": [["cognito-identity.amazonaws.com"]]}
                ],
                "condition": [
                    {
                        "test": ["StringEquals"],
                        "variable": ["cognito-identity.amazonaws.com:aud"],
                        "values": [["aws_cognito_identity_pool.p.id"]],
                    }
                ],
            },
            {"effect": ["Deny"], "not_actions": [["iot:Connect"]], "resources": [["*"]]},
        ]
    }
    first, second = common.hcl_statements(conf)
    assert first.allows and first.principals == {"Federated": ["cognito-identity.amazonaws.com"]}
    assert first.conditions == {
        "StringEquals": {"cognito-identity.amazonaws.com:aud": [common.UNKNOWN]}
    }
    assert not second.allows and second.not_actions == ["iot:Connect"]
