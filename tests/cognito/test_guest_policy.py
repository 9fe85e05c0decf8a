"""Rendering a Cognito profile as the guest role's IAM policy (`iotws.render.cognito`).

Specs are real YAML loaded by `iotws.spec.model`; the policy comes through
`iotws.render.policies` the way `iotws generate` writes `build/cognito/<profile>.iam.json`.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from iotws.errors import IotwsError, SpecError
from iotws.paths import examples_dir
from iotws.render.cognito import (
    IDENTITY_VARIABLE,
    INLINE_ROLE_POLICY_MAX_CHARS,
    policy_chars,
    render_guest_policy,
)
from iotws.render.policies import render_spec
from iotws.spec.model import Profile, load_spec, parse_spec

ARN = "arn:aws:iot:us-east-1:123456789012:"
SUB = IDENTITY_VARIABLE


def spec_text(guest: str, *, aws: bool = True, prefix: str = "demo/dev") -> str:
    aws_block = 'aws:\n  region: us-east-1\n  account: "123456789012"\n' if aws else ""
    return (
        f"version: 1\napp: demo\nstage: dev\ntopic_prefix: {json.dumps(prefix)}\n{aws_block}"
        "cognito:\n  guest_profile: guest\n"
        "profiles:\n"
        "  guest:\n" + textwrap.indent(textwrap.dedent(guest).strip() + "\n", "    ")
    )


def guest_policy(guest: str, **kw: object) -> dict[str, object]:
    spec = parse_spec(spec_text(guest, **kw))  # type: ignore[arg-type]
    result = render_spec(spec)
    policy: dict[str, object] = json.loads(result.extra_files["cognito/guest.iam.json"])
    return policy


def statements(policy: dict[str, object]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in policy["Statement"]:  # type: ignore[attr-defined]
        assert s["Effect"] == "Allow"
        out[s["Action"]] = s["Resource"]
    return out


def test_example_spec_renders_exactly_the_grants() -> None:
    spec = load_spec(examples_dir() / "cognito-unauth" / "access.yaml")
    assert spec.cognito is not None
    got = render_guest_policy(
        spec.profiles[spec.cognito.guest_profile],
        prefix=spec.prefix,
        region=spec.region,
        account=spec.account,
    )
    assert got.policy["Version"] == "2012-10-17"
    assert statements(got.policy) == {
        "iot:Connect": [f"{ARN}client/guest-{SUB}"],
        "iot:Subscribe": [
            f"{ARN}topicfilter/guests/dev/server",
            f"{ARN}topicfilter/guests/dev/guests/{SUB}/*",
        ],
        "iot:Receive": [f"{ARN}topic/guests/dev/server", f"{ARN}topic/guests/dev/guests/{SUB}/*"],
        "iot:Publish": [f"{ARN}topic/guests/dev/client"],
    }
    assert got.widenings == []
    assert got.fits_managed_policy and got.fits_iot_policy
    assert got.report()["limit"] == INLINE_ROLE_POLICY_MAX_CHARS


def test_nothing_but_the_four_iot_actions_and_no_star_resource() -> None:
    policy = guest_policy(
        """
        client_id: "{identity_id}"
        subscribe: ["rooms/+/messages", "all/#"]
        receive: ["rooms/+/messages"]
        publish: ["rooms/+/messages"]
        """
    )
    got = statements(policy)
    assert set(got) == {"iot:Connect", "iot:Subscribe", "iot:Receive", "iot:Publish"}
    for resources in got.values():
        for r in resources:
            assert r.startswith(ARN) and r != "*" and not r.endswith(":*")
    assert got["iot:Connect"] == [f"{ARN}client/{SUB}"]
    assert got["iot:Receive"] == [f"{ARN}topic/demo/dev/rooms/*/messages"]


def test_plus_widenings_are_reported_and_hash_is_not() -> None:
    spec = parse_spec(
        spec_text(
            """
            client_id: "guest-{identity_id}"
            subscribe: ["rooms/+/messages", "news/#"]
            publish: ["rooms/+/messages"]
            """
        )
    )
    report = render_spec(spec).report["cognito"]["guest"]
    assert {(w["action"], w["pattern"], w["kind"]) for w in report["widenings"]} == {
        ("iot:Subscribe", "rooms/+/messages", "plus-as-star"),
        ("iot:Receive", "rooms/+/messages", "plus-as-star"),
        ("iot:Publish", "rooms/+/messages", "plus-as-star"),
    }
    for w in report["widenings"]:
        assert w["resource"].endswith("demo/dev/rooms/*/messages")


def test_publish_only_profile_has_no_subscribe_statement() -> None:
    got = statements(guest_policy('client_id: "g-{identity_id}"\npublish: [client]'))
    assert set(got) == {"iot:Connect", "iot:Publish"}


def test_empty_prefix_and_special_characters() -> None:
    got = statements(
        guest_policy('client_id: "{identity_id}-*"\npublish: ["caf\u00e9/a$b"]', prefix="")
    )
    # `$` is escaped for IAM (docs/iot-policies.md escapes); Latin-1 is allowed in IAM.
    assert got["iot:Publish"] == [f"{ARN}topic/caf\u00e9/a${{$}}b"]
    # a trailing * lets one guest open several connections, all under its own id
    assert got["iot:Connect"] == [f"{ARN}client/{SUB}-*"]


# ----------------------------------------------------------------- errors
# The spec check refuses every bad Cognito profile before anything renders (the renderer
# takes a checked spec and checks only the size, which only rendering shows).


def spec_errors(guest: str, **kw: object) -> list[IotwsError]:
    with pytest.raises(SpecError) as err:
        parse_spec(spec_text(guest, **kw))  # type: ignore[arg-type]
    return err.value.errors


def test_missing_account_names_the_field_and_the_fix() -> None:
    errors = spec_errors('client_id: "{identity_id}"\nsubscribe: [server]', aws=False)
    assert {e.field for e in errors} == {"aws.account", "aws.region"}
    assert all(e.fix and "account" in e.fix for e in errors)


@pytest.mark.parametrize(
    ("aws", "field"),
    [("  region: us-east-1", "aws.account"), ('  account: "123456789012"', "aws.region")],
)
def test_missing_region_or_account(aws: str, field: str) -> None:
    text = spec_text('client_id: "{identity_id}"\nsubscribe: [a]', aws=False)
    with pytest.raises(SpecError) as err:
        parse_spec(text.replace("cognito:\n", f"aws:\n{aws}\ncognito:\n"))
    assert [e.field for e in err.value.errors] == [field]


def test_profile_that_grants_nothing() -> None:
    errors = spec_errors('client_id: "{identity_id}"')
    assert any(e.field == "profiles.guest" and "grants nothing" in e.message for e in errors)


def test_wrong_placeholder_is_a_spec_error() -> None:
    errors = spec_errors('client_id: "{identity_id}"\nsubscribe: ["users/{sub}/#"]')
    assert any(
        e.field == "profiles.guest.subscribe[0]" and "identity_id" in (e.fix or "") for e in errors
    )


@pytest.mark.parametrize(
    ("guest", "field"),
    [
        ('client_id: "{identity_id}"\nsubscribe: ["users/{sub}"]', "subscribe[0]"),
        ('client_id: "{client_id}"\nsubscribe: [a]', "client_id"),
        ('client_id: "{identity_id}"\npublish: ["x/{client_id}"]', "publish[0]"),
    ],
)
def test_wrong_placeholder_names_the_field(guest: str, field: str) -> None:
    errors = [e for e in spec_errors(guest) if e.field == f"profiles.guest.{field}"]
    assert errors, "the spec check must name the field"
    assert any("identity_id" in (e.fix or "") + e.message for e in errors)


@pytest.mark.parametrize("rule", ["anon-*", "guest", "{identity_id}-{identity_id}"])
def test_client_id_must_bind_the_identity(rule: str) -> None:
    """The spec loader reports it with the other spec errors, before anything renders."""
    errors = spec_errors(f'client_id: "{rule}"\nsubscribe: [server]')
    assert any(
        e.field == "profiles.guest.client_id" and "{identity_id}" in e.message for e in errors
    )


def test_characters_iam_cannot_hold() -> None:
    errors = spec_errors('client_id: "{identity_id}"\nsubscribe: ["chat/\u4e2d\u6587"]')
    assert [e.field for e in errors] == ["profiles.guest.subscribe[0]"]
    assert "IAM policy cannot hold: U+4E2D U+6587" in errors[0].message
    # Latin-1 is fine
    policy = guest_policy('client_id: "{identity_id}"\nsubscribe: ["caf\u00e9"]')
    assert "caf\u00e9" in json.dumps(policy, ensure_ascii=False)


def test_over_size_policy_names_the_profile() -> None:
    topics = [f"channels/channel-number-{i:03d}/updates/with-a-long-name" for i in range(90)]
    guest = 'client_id: "{identity_id}"\nsubscribe: ' + json.dumps(topics)
    spec = parse_spec(spec_text(guest))
    with pytest.raises(IotwsError) as err:
        render_spec(spec)
    assert err.value.field == "profiles.guest"
    assert "'guest'" in err.value.message and "10240" in err.value.message


def test_size_is_counted_without_white_space() -> None:
    topics = [f"t{i:04d}" for i in range(10)]
    prof = Profile("guest", "{identity_id}", tuple(topics), (), tuple(topics))
    got = render_guest_policy(prof, prefix="p", region="us-east-1", account="123456789012")
    compact = json.dumps(got.policy, separators=(",", ":"))
    assert got.chars == policy_chars(got.policy) == len(compact)
    assert got.chars < len(json.dumps(got.policy, indent=2))


@pytest.mark.parametrize(
    ("aws", "field"),
    [
        ('  region: us-east-1\n  account: "12345"', "aws.account"),
        ('  region: useast1\n  account: "123456789012"', "aws.region"),
    ],
)
def test_bad_region_or_account_values(aws: str, field: str) -> None:
    text = spec_text('client_id: "{identity_id}"\nsubscribe: [a]', aws=False)
    with pytest.raises(SpecError) as err:
        parse_spec(text.replace("cognito:\n", f"aws:\n{aws}\ncognito:\n"))
    assert any(e.field == field for e in err.value.errors)


@pytest.mark.parametrize(
    "topic", ["$aws/things/x", "a//b", "a/#/b", "a+/b", "a/*", "a/?", "x/{identity_id"]
)
def test_topic_syntax_is_checked_by_the_spec(topic: str) -> None:
    errors = spec_errors(f'client_id: "{{identity_id}}"\nsubscribe: [{json.dumps(topic)}]')
    assert any(e.field == "profiles.guest.subscribe[0]" for e in errors)
