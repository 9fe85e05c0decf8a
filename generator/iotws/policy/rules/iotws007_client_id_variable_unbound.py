"""Lint rule IOTWS007 (warning): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.iot.arns import parse_arn
from iotws.policy.rules._base import Context, Hit, Rule, covers
from iotws.policy.rules.iotws006_connect_any_client import binding


def _is_client(resource: str) -> bool:
    arn = parse_arn(resource)
    return arn is not None and arn.rtype == "client"


def check(ctx: Context) -> Iterator[Hit]:
    # Client-id injection (docs/iot-policies.md#client-id-injection).
    connect_allows = [v for v in ctx.views if v.effect == "Allow" and covers(v, "iot:Connect")]
    unbound = any(
        v.not_resource or any(binding(r) in ("any", "partial") for r in v.resources)
        for v in connect_allows
    )
    for view in ctx.views:
        uses = [r for r in view.resources if "${iot:clientid}" in r.lower() and not _is_client(r)]
        if not uses or view.effect != "Allow":
            continue
        if unbound:
            yield Hit(
                f"${{iot:ClientId}} in {uses[0]!r} while Connect accepts any client id: "
                "a client connecting as '+' or '#' turns it into a wildcard",
                view.document,
                view.statement,
            )
        elif not connect_allows:
            yield Hit(
                f"${{iot:ClientId}} in {uses[0]!r} and no iot:Connect statement here: "
                "safe only if the Connect grant binds exact client ids",
                view.document,
                view.statement,
                severity="warning",
                fix="make sure the policy that allows iot:Connect names exact client ids",
            )


RULE = Rule(
    id="IOTWS007",
    severity="error",
    description=(
        "${iot:ClientId} in a resource while Connect does not bind client ids: an id of + or "
        "# injects a wildcard"
    ),
    fix=(
        "bind iot:Connect to exact ids derived from the identity, or use an identity value "
        "(e.g. ${iotws:claim.sub}) instead of ${iot:ClientId}"
    ),
    scope="set",
    check=check,
)
