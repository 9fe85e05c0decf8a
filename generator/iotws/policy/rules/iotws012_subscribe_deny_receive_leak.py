"""Lint rule IOTWS012 (error): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.policy.rules._base import Context, Hit, Rule
from iotws.policy.rules.iotws004_subscribe_without_receive import _subscribe_filters


def check(ctx: Context) -> Iterator[Hit]:
    for view, r, topic, receive_allowed in _subscribe_filters(ctx, "Deny"):
        if receive_allowed:
            yield Hit(
                f"Subscribe denied on {r!r} but iot:Receive is still allowed on "
                f"{topic!r}: a wider subscription (e.g. a/#) still delivers it",
                view.document,
                view.statement,
            )


RULE = Rule(
    id="IOTWS012",
    severity="error",
    description="Deny on Subscribe while Receive stays allowed (the receive leak)",
    fix=(
        "deny iot:Receive on the topic/ resource too, or allow Receive with NotResource "
        "excluding it (pub-sub-policy)"
    ),
    scope="set",
    check=check,
)
