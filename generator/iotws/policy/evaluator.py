"""Offline evaluation of AWS IoT Core policies: the oracle of docs/design.md#decision-4.

No network, no AWS. The semantics are those of docs/iot-policies.md (iot-policies.html,
pub-sub-policy.html, iot-policy-actions.html, iot-policy-variables.html):

- `Statement` is an object or a list; `Action`/`NotAction`, `Resource`/`NotResource`
  are a string or a list of strings; `Effect` is `Allow` or `Deny`.
- In resources `*` matches any run of characters **including `/`**, `?` exactly one
  character (also `/`); MQTT's `+` and `#` are plain characters. Matching is
  case-sensitive and covers the whole ARN, region and account included.
- Action names match case-insensitively (as in IAM), with `*`/`?` wildcards (`iot:*`,
  `iot:Sub*`).
- Policy variables `${name}` are substituted from the request (`iot:ClientId`,
  `aws:SourceIp`, `iot:DomainName`, `iot:Connection.Thing.*`,
  `cognito-identity.amazonaws.com:sub`, ...). `${*}`, `${?}`, `${$}` stand for the literal
  characters. A statement that refers to a variable the request cannot resolve does not
  apply (docs/iot-policies.md#policy-variables: an unresolvable variable makes the statement deny).
  Our own
  `${iotws:...}` slots are such variables unless the caller fills them: an unfilled slot
  never matches.
- Explicit Deny beats any Allow; no matching statement is an implicit deny.

Choices where AWS documents nothing (unverified, coded defensively):

- `NotAction` is supported as in IAM; IoT does not document it (docs/iot-policies.md#conditions).
- Whether `*`/`?` inside a *substituted value* act as wildcards is not documented. The
  evaluator assumes the worst case (they do), so it never reports a deny where AWS might
  allow. The kit's authorizer rejects such values before they reach a policy.
- Negated condition operators (`StringNotEquals`, `ArnNotLike`, `NotIpAddress`) are true
  when the key is absent, as in IAM; `ForAllValues:` is true for an absent or empty key.
- A single-valued operator given a multi-valued context key behaves like `ForAnyValue:`.

Compiled matchers are cached: static resource patterns are compiled once per statement;
patterns with variables are compiled per distinct tuple of variable values (a bounded
cache), and the statements that an action can select are cached per action name.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from iotws.errors import IotwsError
from iotws.iot.arns import glob_match

ALLOWED = "ALLOWED"
EXPLICIT_DENY = "EXPLICIT_DENY"
IMPLICIT_DENY = "IMPLICIT_DENY"
RESULTS = (ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY)

__all__ = [
    "ALLOWED",
    "EXPLICIT_DENY",
    "IMPLICIT_DENY",
    "KNOWN_ACTIONS",
    "Decision",
    "PolicyError",
    "PolicySet",
    "Request",
    "StatementRef",
    "StatementView",
    "canonical_action",
    "documents_from_json",
    "glob_match",
    "parse_document",
]

# IoT data-plane actions and the resource type each is checked against (
# docs/iot-policies.md#actions-and-resources, iot-policy-actions.html). `iotws simulate` refuses any
# other action name.
KNOWN_ACTIONS: dict[str, str] = {
    "iot:Connect": "client",
    "iot:Publish": "topic",
    "iot:Subscribe": "topicfilter",
    "iot:Receive": "topic",
    "iot:RetainPublish": "topic",
    "iot:GetRetainedMessage": "topic",
    "iot:ListRetainedMessages": "*",
    "iot:DeleteThingShadow": "thing",
    "iot:GetThingShadow": "thing",
    "iot:UpdateThingShadow": "thing",
    "iot:ListNamedShadowsForThing": "thing",
    "iot:DescribeJobExecution": "thing",
    "iot:GetPendingJobExecutions": "thing",
    "iot:UpdateJobExecution": "thing",
    "iot:StartNextPendingJobExecution": "thing",
}
_KNOWN_ACTIONS_LOWER = {name.lower(): name for name in KNOWN_ACTIONS}

_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
_DOCUMENT_KEYS = {"Version", "Statement", "Id"}
_VERSIONS = {"2012-10-17", "2008-10-17"}
_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_DYNAMIC_CACHE_MAX = 4096


class PolicyError(IotwsError):
    """A policy document the evaluator cannot accept; names the document and statement."""


def canonical_action(name: str) -> str | None:
    """The table spelling of a known IoT data-plane action (case-insensitive), or None."""
    return _KNOWN_ACTIONS_LOWER.get(name.strip().lower())


class StatementRef(NamedTuple):
    """A deciding statement: its document index, statement index and effect."""

    document: int
    statement: int
    effect: str
    sid: str | None = None


class Decision(NamedTuple):
    result: str  # ALLOWED | EXPLICIT_DENY | IMPLICIT_DENY
    statements: tuple[StatementRef, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.result == ALLOWED


_IMPLICIT = Decision(IMPLICIT_DENY, ())


@dataclass(frozen=True, slots=True)
class Request:
    """One authorization question.

    `variables` resolve `${...}` policy variables (`iot:ClientId`, `aws:SourceIp`,
    `cognito-identity.amazonaws.com:sub`, `iotws:client_id` ...) and also serve as
    condition keys; `context` adds condition keys, possibly multi-valued
    (`iot:ConnectAttributes`) or boolean.
    """

    action: str
    resource: str
    variables: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, str | bool | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementView:
    """A validated statement in normal form (lists everywhere), for the linter."""

    document: int
    statement: int
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]]
    variables: frozenset[str]


# ---------------------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------------------

# Token kinds: literal text, `*`, `?`, variable.
_LIT, _STAR, _QM, _VAR = 0, 1, 2, 3
_Token = tuple[int, str]


def _tokenize(pattern: str, where: str) -> list[_Token]:
    """Split a policy string into literals, wildcards and `${variables}`."""
    tokens: list[_Token] = []
    buf: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "$" and i + 1 < n and pattern[i + 1] == "{":
            end = pattern.find("}", i + 2)
            if end < 0:
                raise PolicyError(
                    f"unterminated policy variable in {pattern!r}",
                    field=where,
                    fix="close it with '}' or write a literal '$' as '${$}'",
                )
            name = pattern[i + 2 : end]
            if not name:
                raise PolicyError(
                    f"empty policy variable '${{}}' in {pattern!r}",
                    field=where,
                    fix="name a variable, e.g. ${iot:ClientId}",
                )
            if name in _ESCAPES:
                buf.append(_ESCAPES[name])
            else:
                if buf:
                    tokens.append((_LIT, "".join(buf)))
                    buf = []
                tokens.append((_VAR, name))
            i = end + 1
            continue
        if ch in "*?":
            if buf:
                tokens.append((_LIT, "".join(buf)))
                buf = []
            tokens.append((_STAR, "*") if ch == "*" else (_QM, "?"))
        else:
            buf.append(ch)
        i += 1
    if buf:
        tokens.append((_LIT, "".join(buf)))
    return tokens


def _glob_source(text: str) -> str:
    """Regex source for a substituted value: worst case, its `*`/`?` are wildcards."""
    out = []
    for ch in text:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _tokens_source(tokens: Sequence[_Token], values: Mapping[str, str] | None) -> str:
    out = []
    for kind, text in tokens:
        if kind == _LIT:
            out.append(re.escape(text))
        elif kind == _STAR:
            out.append(".*")
        elif kind == _QM:
            out.append(".")
        else:
            assert values is not None
            out.append(_glob_source(values[text]))
    return "".join(out)


def _compile_alternation(sources: Sequence[str], flags: int = 0) -> re.Pattern[str]:
    if len(sources) == 1:
        return re.compile(sources[0], re.DOTALL | flags)
    return re.compile("|".join(f"(?:{s})" for s in sources), re.DOTALL | flags)


def _lookup(variables: Mapping[str, str], name: str) -> str | None:
    """Variable names are case-insensitive (as in IAM); values are not."""
    value = variables.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for key, val in variables.items():
        if key.lower() == lname:
            return val
    return None


class _Matcher:
    """The `Resource` (or `NotResource`) list of one statement, compiled."""

    __slots__ = ("static", "dynamic", "names", "cache")

    def __init__(self, patterns: Sequence[str], where: str) -> None:
        static_sources: list[str] = []
        self.dynamic: list[list[_Token]] = []
        names: list[str] = []
        for idx, pattern in enumerate(patterns):
            tokens = _tokenize(pattern, f"{where}[{idx}]")
            var_names = [text for kind, text in tokens if kind == _VAR]
            if var_names:
                self.dynamic.append(tokens)
                for name in var_names:
                    if name not in names:
                        names.append(name)
            else:
                static_sources.append(_tokens_source(tokens, None))
        self.static: re.Pattern[str] | None = (
            _compile_alternation(static_sources) if static_sources else None
        )
        self.names: tuple[str, ...] = tuple(names)
        self.cache: dict[tuple[str, ...], re.Pattern[str]] = {}

    def compiled_dynamic(self, values: tuple[str, ...]) -> re.Pattern[str]:
        pattern = self.cache.get(values)
        if pattern is None:
            mapping = dict(zip(self.names, values, strict=True))
            pattern = _compile_alternation([_tokens_source(t, mapping) for t in self.dynamic])
            if len(self.cache) >= _DYNAMIC_CACHE_MAX:
                self.cache.clear()
            self.cache[values] = pattern
        return pattern


# ---------------------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------------------

_ContextValue = str | bool | Sequence[str]
_Lookup = Callable[[str], "list[str] | None"]
_Compare = Callable[[str, str], bool]

_BASE_OPERATORS = (
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "Null",
)
_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
    "NotIpAddress",
}


def _cmp_equals(ctx: str, pol: str) -> bool:
    return ctx == pol


def _cmp_equals_ic(ctx: str, pol: str) -> bool:
    return ctx.lower() == pol.lower()


def _cmp_like(ctx: str, pol: str) -> bool:
    return re.fullmatch(_glob_source(pol), ctx, re.DOTALL) is not None


def _cmp_bool(ctx: str, pol: str) -> bool:
    return ctx.lower() == pol.lower()


def _cmp_ip(ctx: str, pol: str) -> bool:
    try:
        address = ipaddress.ip_address(ctx.strip())
        network = ipaddress.ip_network(pol.strip(), strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


_POSITIVE: dict[str, _Compare] = {
    "StringEquals": _cmp_equals,
    "StringEqualsIgnoreCase": _cmp_equals_ic,
    "StringLike": _cmp_like,
    # IAM: ArnEquals and ArnLike both honour wildcards within the ARN.
    "ArnEquals": _cmp_like,
    "ArnLike": _cmp_like,
    "Bool": _cmp_bool,
    "IpAddress": _cmp_ip,
}
_POSITIVE_OF_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NotIpAddress": "IpAddress",
}


@dataclass(frozen=True)
class _Condition:
    operator: str  # full operator as written
    base: str
    qualifier: str  # "", "ForAnyValue", "ForAllValues"
    if_exists: bool
    key: str
    values: tuple[tuple[_Token, ...], ...]  # policy values, tokenized (variables allowed)

    def evaluate(self, lookup: _Lookup, variables: Mapping[str, str]) -> bool:
        resolved: list[str] = []
        for tokens in self.values:
            parts = []
            for kind, text in tokens:
                if kind == _VAR:
                    value = _lookup(variables, text)
                    if value is None:
                        # Unresolvable variable in a condition value: this value never
                        # matches (docs/iot-policies.md#matching, coded closed).
                        break
                    parts.append(value)
                else:
                    parts.append(text)
            else:
                resolved.append("".join(parts))
        ctx = lookup(self.key)
        if self.base == "Null":
            want_null = any(v.lower() == "true" for v in resolved)
            want_present = any(v.lower() == "false" for v in resolved)
            is_null = ctx is None or len(ctx) == 0
            return (want_null and is_null) or (want_present and not is_null)
        negated = self.base in _NEGATED
        compare = _POSITIVE[_POSITIVE_OF_NEGATED.get(self.base, self.base)]
        if ctx is None or (self.qualifier and len(ctx) == 0):
            if self.if_exists or self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return negated

        def hit(c: str) -> bool:
            return any(compare(c, p) for p in resolved)

        if self.qualifier == "ForAllValues":
            return all((not hit(c)) if negated else hit(c) for c in ctx)
        if negated and not self.qualifier:
            return not any(hit(c) for c in ctx)
        # ForAnyValue (and single-valued operators on any context value).
        return any((not hit(c)) if negated else hit(c) for c in ctx)


def _split_operator(op: str, where: str) -> tuple[str, str, bool]:
    qualifier = ""
    rest = op
    if ":" in op:
        qualifier, _, rest = op.partition(":")
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise PolicyError(
                f"unsupported condition set operator {qualifier!r} in {op!r}",
                field=where,
                fix="use ForAnyValue: or ForAllValues:",
            )
    if_exists = rest.endswith("IfExists") and rest != "IfExists"
    base = rest[: -len("IfExists")] if if_exists else rest
    if base not in _BASE_OPERATORS:
        raise PolicyError(
            f"unsupported condition operator {op!r}",
            field=where,
            fix="use one of " + ", ".join(_BASE_OPERATORS) + " (with optional ForAnyValue:/"
            "ForAllValues: prefix and IfExists suffix)",
        )
    if base == "Null" and (if_exists or qualifier):
        raise PolicyError(
            f"unsupported condition operator {op!r}", field=where, fix="use plain Null"
        )
    return base, qualifier, if_exists


# ---------------------------------------------------------------------------------------
# Statements and the policy set
# ---------------------------------------------------------------------------------------


class _Statement:
    __slots__ = (
        "ref",
        "deny",
        "action_re",
        "not_action",
        "matcher",
        "not_resource",
        "conditions",
        "view",
    )

    def __init__(self, view: StatementView, where: str) -> None:
        self.view = view
        self.ref = StatementRef(view.document, view.statement, view.effect, view.sid)
        self.deny = view.effect == "Deny"
        self.not_action = view.not_action
        action_sources = []
        for idx, act in enumerate(view.actions):
            tokens = _tokenize(act, f"{where}.{'NotAction' if view.not_action else 'Action'}")
            if any(kind == _VAR for kind, _ in tokens):
                raise PolicyError(
                    f"policy variables are not allowed in actions: {act!r}",
                    field=f"{where}.Action[{idx}]",
                    fix="name the action, e.g. iot:Publish",
                )
            action_sources.append(_tokens_source(tokens, None))
        self.action_re = _compile_alternation(action_sources, re.IGNORECASE)
        res_field = "NotResource" if view.not_resource else "Resource"
        self.matcher = _Matcher(view.resources, f"{where}.{res_field}")
        self.not_resource = view.not_resource
        conditions: list[_Condition] = []
        for op, block in view.conditions.items():
            base, qualifier, if_exists = _split_operator(op, f"{where}.Condition")
            for key, values in block.items():
                value_tokens = tuple(
                    tuple(_tokenize(v, f"{where}.Condition.{op}.{key}")) for v in values
                )
                conditions.append(_Condition(op, base, qualifier, if_exists, key, value_tokens))
        self.conditions = tuple(conditions)

    def applies_to_action(self, action: str) -> bool:
        hit = self.action_re.fullmatch(action) is not None
        return hit != self.not_action

    def matches(self, req: Request, lookup_cache: list[_Lookup]) -> bool:
        matcher = self.matcher
        resource = req.resource
        hit = False
        if matcher.static is not None and matcher.static.fullmatch(resource) is not None:
            hit = True
        if matcher.names:
            variables = req.variables
            values = []
            for name in matcher.names:
                value = variables.get(name)
                if value is None:
                    value = _lookup(variables, name)
                    if value is None:
                        ctx_value = _context_str(req.context, name)
                        if ctx_value is None:
                            # Unresolvable variable: the statement does not apply.
                            return False
                        value = ctx_value
                values.append(value)
            if not hit:
                hit = matcher.compiled_dynamic(tuple(values)).fullmatch(resource) is not None
        if hit == self.not_resource:
            return False
        if self.conditions:
            if not lookup_cache:
                lookup_cache.append(_make_lookup(req))
            lookup = lookup_cache[0]
            variables = req.variables
            for cond in self.conditions:
                if not cond.evaluate(lookup, variables):
                    return False
        return True


def _context_str(context: Mapping[str, _ContextValue], name: str) -> str | None:
    lname = name.lower()
    for key, value in context.items():
        if key.lower() == lname and isinstance(value, str):
            return value
    return None


def _make_lookup(req: Request) -> _Lookup:
    table: dict[str, list[str]] = {}
    for key, value in req.variables.items():
        table[key.lower()] = [value]
    for key, cvalue in req.context.items():
        if isinstance(cvalue, bool):
            table[key.lower()] = ["true" if cvalue else "false"]
        elif isinstance(cvalue, str):
            table[key.lower()] = [cvalue]
        else:
            table[key.lower()] = [str(v) for v in cvalue]

    def lookup(key: str) -> list[str] | None:
        return table.get(key.lower())

    return lookup


def _as_str_list(value: Any, where: str, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(
        f"{what} must be a string or a non-empty list of strings, got {json.dumps(value)[:80]}",
        field=where,
        fix=f'write "{what}": "..." or "{what}": ["...", "..."]',
    )


def _variables_of(strings: Iterable[str], where: str) -> set[str]:
    names: set[str] = set()
    for idx, s in enumerate(strings):
        names.update(text for kind, text in _tokenize(s, f"{where}[{idx}]") if kind == _VAR)
    return names


def _parse_statement(raw: Any, doc: int, idx: int) -> StatementView:
    where = f"document[{doc}].Statement[{idx}]"
    if not isinstance(raw, dict):
        raise PolicyError(
            "a statement must be a JSON object", field=where, fix="see pub-sub-policy"
        )
    unknown = sorted(set(raw) - _STATEMENT_KEYS)
    if unknown:
        raise PolicyError(
            f"unknown statement key(s) {', '.join(unknown)}",
            field=where,
            fix="IoT policy statements take Sid, Effect, Action/NotAction, "
            "Resource/NotResource and Condition only",
        )
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(
            f"Effect must be 'Allow' or 'Deny', got {json.dumps(effect)}",
            field=f"{where}.Effect",
            fix='write "Effect": "Allow" or "Effect": "Deny"',
        )
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError("Sid must be a string", field=f"{where}.Sid", fix="quote it")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(
            "a statement needs exactly one of Action or NotAction",
            field=where,
            fix='add "Action": "iot:..." (NotAction is not documented for IoT)',
        )
    if ("Resource" in raw) == ("NotResource" in raw):
        raise PolicyError(
            "a statement needs exactly one of Resource or NotResource",
            field=where,
            fix='add "Resource": "arn:aws:iot:REGION:ACCOUNT:topic/..."',
        )
    not_action = "NotAction" in raw
    act_key = "NotAction" if not_action else "Action"
    actions = _as_str_list(raw[act_key], f"{where}.{act_key}", act_key)
    for a_idx, act in enumerate(actions):
        if act != "*" and ":" not in act:
            raise PolicyError(
                f"action {act!r} has no service prefix",
                field=f"{where}.{act_key}[{a_idx}]",
                fix="write it as iot:ActionName",
            )
    not_resource = "NotResource" in raw
    res_key = "NotResource" if not_resource else "Resource"
    resources = _as_str_list(raw[res_key], f"{where}.{res_key}", res_key)
    conditions: dict[str, dict[str, tuple[str, ...]]] = {}
    cond_raw = raw.get("Condition")
    if cond_raw is not None:
        if not isinstance(cond_raw, dict):
            raise PolicyError(
                "Condition must be an object of operator -> {key: value(s)}",
                field=f"{where}.Condition",
                fix='e.g. "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}',
            )
        for op, block in cond_raw.items():
            op_where = f"{where}.Condition.{op}"
            _split_operator(op, f"{where}.Condition")
            if not isinstance(block, dict) or not block:
                raise PolicyError(
                    "a condition operator takes an object of key -> value(s)",
                    field=op_where,
                    fix='e.g. {"aws:SourceIp": "10.0.0.0/8"}',
                )
            keys: dict[str, tuple[str, ...]] = {}
            for key, val in block.items():
                vals: list[Any] = val if isinstance(val, list) else [val]
                out: list[str] = []
                for v in vals:
                    if isinstance(v, bool):
                        out.append("true" if v else "false")
                    elif isinstance(v, str | int | float):
                        out.append(str(v))
                    else:
                        raise PolicyError(
                            f"condition value {json.dumps(v)[:60]} is not a string",
                            field=f"{op_where}.{key}",
                            fix="condition values are strings, booleans or lists of them",
                        )
                if op.endswith("IpAddress") or op.endswith("IpAddressIfExists"):
                    for v in out:
                        if "${" in v:
                            continue
                        try:
                            ipaddress.ip_network(v.strip(), strict=False)
                        except ValueError as exc:
                            raise PolicyError(
                                f"{v!r} is not an IP address or CIDR block",
                                field=f"{op_where}.{key}",
                                fix="write e.g. 203.0.113.0/24",
                            ) from exc
                keys[key] = tuple(out)
            conditions[op] = keys
    var_names = _variables_of(resources, f"{where}.{res_key}")
    for op, block in conditions.items():
        for key, vals_t in block.items():
            var_names |= _variables_of(vals_t, f"{where}.Condition.{op}.{key}")
    return StatementView(
        document=doc,
        statement=idx,
        sid=sid,
        effect=effect,
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        conditions=conditions,
        variables=frozenset(var_names),
    )


def _loads(text: str, problem: str, field: str, fix: str) -> Any:
    """`text` parsed as JSON; a PolicyError saying `problem` and where when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"{problem}: {exc.msg} at character {exc.pos}", field=field, fix=fix
        ) from exc


def parse_document(raw: Any, doc: int) -> list[StatementView]:
    """Validate one document (a dict or JSON text) and return its statements in normal form.

    `doc` is the document's index, used in error messages and in the views.
    """
    where = f"document[{doc}]"
    if isinstance(raw, str):
        raw = _loads(raw, "not valid JSON", where, "pass the policy document as a JSON object")
    if not isinstance(raw, dict):
        raise PolicyError(
            "a policy document must be a JSON object",
            field=where,
            fix='write {"Version": "2012-10-17", "Statement": [...]}',
        )
    unknown = sorted(set(raw) - _DOCUMENT_KEYS)
    if unknown:
        raise PolicyError(
            f"unknown document key(s) {', '.join(unknown)}",
            field=where,
            fix="a policy document has Version and Statement",
        )
    version = raw.get("Version")
    if version is not None and (not isinstance(version, str) or version not in _VERSIONS):
        raise PolicyError(
            f"unknown policy Version {json.dumps(version)}",
            field=f"{where}.Version",
            fix='use "Version": "2012-10-17"',
        )
    if "Statement" not in raw:
        raise PolicyError("a policy document needs a Statement", field=where, fix="add one")
    stmts = raw["Statement"]
    if isinstance(stmts, dict):
        stmts = [stmts]
    if not isinstance(stmts, list) or not stmts:
        raise PolicyError(
            "Statement must be an object or a non-empty list of objects",
            field=f"{where}.Statement",
            fix="add at least one statement",
        )
    return [_parse_statement(s, doc, i) for i, s in enumerate(stmts)]


class PolicySet:
    """The documents that apply to one principal, parsed and compiled once."""

    def __init__(self, views: Sequence[StatementView], documents: Sequence[Any]) -> None:
        self.documents = list(documents)
        self.views: tuple[StatementView, ...] = tuple(views)
        self._statements = tuple(
            _Statement(v, f"document[{v.document}].Statement[{v.statement}]") for v in views
        )
        self._by_action: dict[str, tuple[_Statement, ...]] = {}

    @classmethod
    def from_documents(cls, documents: Sequence[Mapping[str, Any] | str]) -> PolicySet:
        """Validate and compile. Documents are dicts (or JSON strings, as in some responses)."""
        if isinstance(documents, dict | str):
            raise PolicyError(
                "expected a list of policy documents", field="documents", fix="wrap it in [...]"
            )
        views: list[StatementView] = []
        for doc_idx, doc in enumerate(documents):
            views.extend(parse_document(doc, doc_idx))
        return cls(views, documents)

    @property
    def variables(self) -> frozenset[str]:
        """Every policy variable name the documents refer to."""
        out: set[str] = set()
        for view in self.views:
            out |= view.variables
        return frozenset(out)

    def _select(self, action: str) -> tuple[_Statement, ...]:
        selected = tuple(s for s in self._statements if s.applies_to_action(action))
        # Deny statements first: an explicit deny is decided without looking at allows.
        selected = tuple(s for s in selected if s.deny) + tuple(s for s in selected if not s.deny)
        if len(self._by_action) < 1024:
            self._by_action[action] = selected
        return selected

    def evaluate(self, request: Request) -> Decision:
        stmts = self._by_action.get(request.action)
        if stmts is None:
            stmts = self._select(request.action)
        lookup_cache: list[_Lookup] = []
        denies: list[StatementRef] = []
        allows: list[StatementRef] = []
        for st in stmts:
            if st.deny:
                if st.matches(request, lookup_cache):
                    denies.append(st.ref)
            elif denies:
                break
            elif st.matches(request, lookup_cache):
                allows.append(st.ref)
        if denies:
            return Decision(EXPLICIT_DENY, tuple(denies))
        if allows:
            return Decision(ALLOWED, tuple(allows))
        return _IMPLICIT


def documents_from_json(data: Any, source: str = "policy") -> list[Any]:
    """Documents from a policy file's JSON: one document, a list of documents, or an
    authorizer response `{"policyDocuments": [...]}` (documents as objects or JSON strings).
    """
    if isinstance(data, dict) and "policyDocuments" in data:
        docs = data["policyDocuments"]
        if not isinstance(docs, list):
            raise PolicyError(
                "policyDocuments must be a list", field=source, fix="see custom-auth-lambda"
            )
        out: list[Any] = []
        for idx, doc in enumerate(docs):
            if isinstance(doc, str):
                doc = _loads(
                    doc,
                    f"policyDocuments[{idx}] is a string but not JSON",
                    source,
                    "each document must be a JSON policy document",
                )
            out.append(doc)
        return out
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return list(data)
    raise PolicyError(
        "expected a policy document, a list of documents or an authorizer response",
        field=source,
        fix='write {"Version": "2012-10-17", "Statement": [...]}',
    )
