"""Lint rule IOTWS016 (warning): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule

_KNOWN_VARIABLES = {
    "iot:clientid",
    "aws:sourceip",
    "iot:domainname",
    "cognito-identity.amazonaws.com:sub",
    "cognito-identity.amazonaws.com:aud",
    "cognito-identity.amazonaws.com:amr",
}
# Our own slots (`${iotws:...}`, INTERNALS.md) are legitimate before run-time substitution.
_KNOWN_VARIABLE_PREFIXES = ("iot:connection.thing.", "iot:certificate.", "iotws:")


def is_known_variable(name: str) -> bool:
    lname = name.lower()
    return lname in _KNOWN_VARIABLES or lname.startswith(_KNOWN_VARIABLE_PREFIXES)


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    for var in sorted(view.variables):
        if not is_known_variable(var):
            yield Hit(
                f"unknown policy variable ${{{var}}}: it never resolves, so this "
                "statement never applies",
                view.document,
                view.statement,
            )


RULE = Rule(
    id="IOTWS016",
    severity="warning",
    description="unknown policy variable: never resolves, the statement never applies",
    fix="use a documented variable such as ${iot:ClientId} (iot-policy-variables)",
    scope="statement",
    check=check,
)
