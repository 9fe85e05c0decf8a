"""Lint rule IOTWS006 (warning): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.iot.arns import client_binding, parse_arn
from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule, covers, iot_arn


def binding(resource: str) -> str:
    """How a Connect resource binds the client id: 'any', 'partial' or 'bound'."""
    if resource == "*":
        return "any"
    arn = parse_arn(resource)
    if arn is None:
        return "bound"  # malformed: never matches (IOTWS015)
    found, _ = client_binding(arn.rest)
    return "bound" if found == "not-client" else found


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    d, s = view.document, view.statement
    if view.effect != "Allow" or not covers(view, "iot:Connect"):
        return
    if view.not_resource:
        yield Hit(
            "Connect allowed through NotResource: almost any client id may connect "
            "(client-id takeover)",
            d,
            s,
            fix="allow iot:Connect on client/<the exact client id>",
        )
        return
    for r in view.resources:
        if r == "*":
            yield Hit(
                "Connect allowed on '*': any client id may connect and take over "
                "another client's session (client-id takeover)",
                d,
                s,
            )
            continue
        arn = iot_arn(r)
        if arn is None:
            continue
        found = binding(r)
        if found == "any" and arn.rtype in ("client", "*"):
            yield Hit(
                f"Connect allowed on {r!r}: any client id may connect and take over "
                "another client's session (client-id takeover)",
                d,
                s,
            )
        elif found == "partial":
            yield Hit(
                f"Connect allowed on {r!r}: the holder may pick any matching id and take "
                "over another client's session",
                d,
                s,
                severity="warning",
                fix="bind the id to the verified identity, e.g. client/${iotws:client_id}",
            )


RULE = Rule(
    id="IOTWS006",
    severity="error",
    description=(
        "Connect on *, client/* or client/${iot:ClientId}: client-id takeover (warning for a "
        "partial wildcard such as client/anon-*)"
    ),
    fix="allow iot:Connect on client/<the exact client id from the identity>",
    scope="statement",
    check=check,
)
