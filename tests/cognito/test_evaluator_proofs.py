"""The evaluator as oracle (docs/design.md#decision-4) on the guest role policy.

A guest may connect only with its own client id and use only the granted topics; every
other guest's id and topics, and every other action, are denied.
"""

from __future__ import annotations

from typing import Any

import pytest

from iotws.paths import examples_dir
from iotws.policy.evaluator import PolicySet, Request
from iotws.render.cognito import render_guest_policy
from iotws.spec.model import load_spec

ARN = "arn:aws:iot:us-east-1:123456789012:"
SUB = "cognito-identity.amazonaws.com:sub"
ME = "us-east-1:11111111-2222-3333-4444-555555555555"
OTHER = "us-east-1:99999999-8888-7777-6666-555555555555"


@pytest.fixture(scope="module")
def guest() -> PolicySet:
    spec = load_spec(examples_dir() / "cognito-unauth" / "access.yaml")
    assert spec.cognito is not None
    doc: dict[str, Any] = render_guest_policy(
        spec.profiles[spec.cognito.guest_profile],
        prefix=spec.prefix,
        region=spec.region,
        account=spec.account,
    ).policy
    return PolicySet.from_documents([doc])


def decide(ps: PolicySet, action: str, resource: str, identity: str = ME) -> str:
    result: str = ps.evaluate(Request(action, ARN + resource, variables={SUB: identity})).result
    return result


@pytest.mark.parametrize(
    ("client_id", "expected"),
    [
        (f"guest-{ME}", "ALLOWED"),
        (f"guest-{OTHER}", "IMPLICIT_DENY"),  # another guest's connection: no take-over
        (ME, "IMPLICIT_DENY"),
        (f"guest-{ME}-2", "IMPLICIT_DENY"),
        ("guest-+", "IMPLICIT_DENY"),
        ("guest-*", "IMPLICIT_DENY"),
        ("anything", "IMPLICIT_DENY"),
    ],
)
def test_connect_only_with_its_own_client_id(
    guest: PolicySet, client_id: str, expected: str
) -> None:
    assert decide(guest, "iot:Connect", f"client/{client_id}") == expected


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("iot:Subscribe", "topicfilter/guests/dev/server", "ALLOWED"),
        ("iot:Receive", "topic/guests/dev/server", "ALLOWED"),
        ("iot:Publish", "topic/guests/dev/client", "ALLOWED"),
        ("iot:Subscribe", f"topicfilter/guests/dev/guests/{ME}/#", "ALLOWED"),
        ("iot:Receive", f"topic/guests/dev/guests/{ME}/inbox", "ALLOWED"),
        # another guest's private topics
        ("iot:Subscribe", f"topicfilter/guests/dev/guests/{OTHER}/#", "IMPLICIT_DENY"),
        ("iot:Receive", f"topic/guests/dev/guests/{OTHER}/inbox", "IMPLICIT_DENY"),
        # wider filters than granted
        ("iot:Subscribe", "topicfilter/guests/dev/#", "IMPLICIT_DENY"),
        ("iot:Subscribe", "topicfilter/guests/dev/guests/+/#", "IMPLICIT_DENY"),
        ("iot:Subscribe", "topicfilter/#", "IMPLICIT_DENY"),
        # the wrong direction
        ("iot:Publish", "topic/guests/dev/server", "IMPLICIT_DENY"),
        ("iot:Subscribe", "topicfilter/guests/dev/client", "IMPLICIT_DENY"),
        ("iot:Publish", f"topic/guests/dev/guests/{ME}/inbox", "IMPLICIT_DENY"),
        # outside the prefix, reserved topics, other actions
        ("iot:Publish", "topic/other/dev/client", "IMPLICIT_DENY"),
        ("iot:Subscribe", "topicfilter/$aws/events/presence/connected/+", "IMPLICIT_DENY"),
        ("iot:RetainPublish", "topic/guests/dev/client", "IMPLICIT_DENY"),
        ("iot:GetRetainedMessage", "topic/guests/dev/server", "IMPLICIT_DENY"),
    ],
)
def test_only_the_granted_topics(
    guest: PolicySet, action: str, resource: str, expected: str
) -> None:
    assert decide(guest, action, resource) == expected


def test_private_topics_follow_the_identity(guest: PolicySet) -> None:
    for me, other in ((ME, OTHER), (OTHER, ME)):
        assert decide(guest, "iot:Receive", f"topic/guests/dev/guests/{me}/x", me) == "ALLOWED"
        assert decide(guest, "iot:Receive", f"topic/guests/dev/guests/{other}/x", me) != "ALLOWED"


def test_without_an_identity_nothing_identity_bound_is_allowed(guest: PolicySet) -> None:
    # An unresolvable policy variable makes the statement deny
    # (docs/iot-policies.md#policy-variables).
    req = Request("iot:Connect", f"{ARN}client/guest-{ME}", variables={})
    assert guest.evaluate(req).result != "ALLOWED"
