"""IoT resource ARNs in policies: parsing, `*`/`?` wildcard matching and the client-id
binding of `iot:Connect` resources (docs/iot-policies.md#matching,
docs/iot-policies.md#client-id-injection; facts.IOT_POLICIES_PAGE,
facts.POLICY_VARIABLES_PAGE).

Standard library only, and no import of the rest of `iotws`: the checkov checks load this
file by path when checkov runs without the kit installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
# Policy-variable escapes: `${*}`, `${?}`, `${$}` stand for the literal characters.
ESCAPES = {"*": "*", "?": "?", "$": "$"}
CLIENT_ID_VARIABLE = "${iot:ClientId}"


@dataclass(frozen=True)
class Arn:
    """`arn:PARTITION:SERVICE:REGION:ACCOUNT:TYPE/NAME`, split outside `${...}`."""

    partition: str
    service: str
    region: str
    account: str
    rtype: str
    name: str
    rest: str  # `rtype/name` as written


def _split_outside_vars(text: str, sep: str, maxsplit: int) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        ch = text[i]
        if ch == "}" and depth:
            depth -= 1
        elif ch == sep and not depth and len(parts) < maxsplit:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def parse_arn(resource: str) -> Arn | None:
    """The parts of a resource ARN, or None when it has fewer than six parts."""
    parts = _split_outside_vars(resource, ":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    rtype, _, name = parts[5].partition("/")
    return Arn(parts[1], parts[2], parts[3], parts[4], rtype, name, parts[5])


def has_wildcard(text: str) -> bool:
    """`*` or `?` outside `${...}` (escapes like `${*}` are literal)."""
    return bool(re.search(r"[*?]", re.sub(r"\$\{[^}]*\}", "", text)))


def glob_regex(pattern: str) -> str | None:
    """Regular-expression source of an IoT policy pattern: `*` any run of characters (also
    `/` and `:`), `?` exactly one, `${*}` `${?}` `${$}` literal. None when the pattern holds
    a policy variable (it matches nothing until substituted) or a malformed `${`."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "$" and pattern.startswith("${", i):
            end = pattern.find("}", i + 2)
            name = pattern[i + 2 : end] if end >= 0 else ""
            if name not in ESCAPES:
                return None
            out.append(re.escape(ESCAPES[name]))
            i = end + 1
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return "".join(out)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Match `value` against an IoT policy wildcard pattern (`*`, `?`, no variables)."""
    source = glob_regex(pattern)
    if source is None:
        return False
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(source, value, flags) is not None


Binding = Literal["any", "partial", "bound", "not-client"]
# A client id no literal pattern names: only a wildcard matches it.
_PROBE_CLIENT = "client/~iotws-probe~"


def client_binding(rest: str) -> tuple[Binding, str]:
    """How an `iot:Connect` resource (`rest`: `TYPE/NAME` after the account) binds the client id,
    with the reason: 'any' (every id), 'partial' (the holder picks among several ids),
    'bound' (exact ids derived from the identity or literal), 'not-client' (the resource
    cannot match a client at all)."""
    rtype, _, name = rest.partition("/")
    if rtype != "client":
        # A wildcard in the type that can reach `client/` is taken to reach every id
        # (the safe side: the name part is not analysed).
        if has_wildcard(rtype) and glob_match(rtype + "/*", _PROBE_CLIENT):
            return "any", "does not name a client: matches every client id"
        return "not-client", ""
    lname = name.lower()
    stripped = re.sub(r"\$\{iot:clientid\}", "", name, flags=re.IGNORECASE)
    if name == "*" or lname == CLIENT_ID_VARIABLE.lower() or not stripped.strip("*?"):
        if "${iot:clientid}" in lname:
            return "any", "${iot:ClientId} matches whatever id the client sends"
        return "any", "the client id has a wildcard" if name else "the client id is empty"
    if "${iot:clientid}" in lname:
        return "partial", "${iot:ClientId} matches whatever id the client sends"
    if has_wildcard(name):
        return "partial", "the client id has a wildcard"
    return "bound", ""
