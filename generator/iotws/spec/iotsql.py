"""AWS IoT SQL, version 2016-03-23, as the kit's rules are written: parse, check, evaluate.

The subset (docs/RULES.md lists it for users):

    SELECT <item>[, <item>...] FROM '<topic filter>' [WHERE <condition>]
    item       *  |  <expr> [AS <alias>]
    expr       literal | field path (a.b.c, a[0].b) | function call | cast(<expr> AS <type>)
               | <expr> (= | <> | != | < | <= | > | >=) <expr>
               | <expr> AND <expr> | <expr> OR <expr> | NOT <expr> | ( <expr> )
    literal    'string' | 12 | -1.5 | true | false
    functions  topic() topic(n) clientid() timestamp() principal() newuuid() traceid()
               get(value, index_or_key) encode(*, 'base64') encode(value, 'base64')
    types      String Int Decimal Bool (Boolean)

Everything else (other functions, CASE, arithmetic, nested SELECT, ...) is refused with a
`SqlError` that names the unsupported part: a rule is never half run. Semantics follow
the AWS IoT SQL reference (docs.aws.amazon.com/iot/latest/developerguide/iot-sql-reference.html):
a missing field is *Undefined* and is left out of the SELECT output; a WHERE clause passes
only when it is exactly `true`; comparisons of different types are Undefined; `topic(n)`
is 1-based; substitution templates (`${expr}`, iot-substitution-templates.html) are
evaluated against the original payload, never against SELECT aliases.

The library holds the language so that `iotws generate` and the emulator agree on it
(docs/design.md#decision-9); the emulator's rules engine evaluates with it.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SQL_VERSION = "2016-03-23"
FUNCTIONS = (
    "topic",
    "clientid",
    "timestamp",
    "principal",
    "newuuid",
    "traceid",
    "get",
    "encode",
    "cast",
)
CAST_TYPES = {"string": "String", "int": "Int", "decimal": "Decimal", "bool": "Bool"}
CAST_ALIASES = {"boolean": "bool"}
# Words of the full IoT SQL that the subset does not run: named in the error.
UNSUPPORTED_WORDS = {
    "case": "CASE expressions",
    "when": "CASE expressions",
    "then": "CASE expressions",
    "else": "CASE expressions",
    "end": "CASE expressions",
    "in": "the IN operator",
    "is": "IS [NOT] NULL / IS [NOT] UNDEFINED",
    "like": "LIKE",
    "between": "BETWEEN",
    "select": "nested SELECT",
    "null": "the NULL literal",
}


class SqlError(ValueError):
    """A statement that does not parse or uses something outside the subset."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


class _Undefined:
    """IoT SQL's Undefined: a missing field or a meaningless operation."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    kind: str  # "str" "num" "ident" "op" "star" "eof"
    value: str
    pos: int


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>'[^']*')
  | (?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><>|!=|<=|>=|[=<>(),.\[\]])
  | (?P<star>\*)
  | (?P<minus>-)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _other_error(t: Token) -> SqlError:
    """The error for a character outside the subset's syntax."""
    if t.value in "+/%":
        return SqlError(
            f"arithmetic operator {t.value!r} (character {t.pos + 1}) is not supported by "
            "the emulator",
            unsupported=True,
        )
    if t.value in '"`':
        return SqlError(
            f"{t.value}-quoted names (character {t.pos + 1}) are not supported: write field "
            "names as plain identifiers and strings in single quotes",
            unsupported=True,
        )
    return SqlError(f"unexpected character {t.value!r} at character {t.pos + 1}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup or "other"
        value = m.group()
        if kind == "ws":
            continue
        if kind == "other" and value == "'":
            raise SqlError(f"unterminated string starting at character {m.start() + 1}")
        tokens.append(Token(kind, value, m.start()))
    tokens.append(Token("eof", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Field:
    path: tuple[str | int, ...]


@dataclass(frozen=True)
class Star:
    """`*`: the whole payload (only as a SELECT item or encode()'s first argument)."""


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Cast:
    expr: Any
    type: str  # "String" "Int" "Decimal" "Bool"


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" "or"
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    expr: Any


@dataclass(frozen=True)
class SelectItem:
    expr: Any
    alias: str | None

    @property
    def key(self) -> str | None:
        """The output key: the alias, the last name of a field path, or the function name."""
        if self.alias:
            return self.alias
        e = self.expr
        if isinstance(e, Field):
            names = [p for p in e.path if isinstance(p, str)]
            return names[-1] if names else None
        if isinstance(e, Call):
            return e.name
        if isinstance(e, Cast):
            return "cast"
        return None


@dataclass(frozen=True)
class Statement:
    items: tuple[SelectItem, ...]
    topic_filter: str
    where: Any | None
    text: str = field(compare=False, default="")


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def where(self, tok: Token | None = None) -> str:
        t = tok or self.tok
        return "the end" if t.kind == "eof" else f"character {t.pos + 1} ({t.value!r})"

    def next(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def is_word(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.value.lower() == word

    def is_op(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.value == op

    def expect_word(self, word: str) -> None:
        if not self.is_word(word):
            raise SqlError(f"expected {word.upper()} at {self.where()}")
        self.next()

    def expect_op(self, op: str) -> None:
        if not self.is_op(op):
            raise SqlError(f"expected {op!r} at {self.where()}")
        self.next()

    # statement ---------------------------------------------------------------

    def statement(self) -> Statement:
        self.expect_word("select")
        if self.is_word("distinct"):
            raise SqlError("SELECT DISTINCT is not supported", unsupported=True)
        items = [self.select_item()]
        while self.is_op(","):
            self.next()
            items.append(self.select_item())
        self.expect_word("from")
        t = self.next()
        if t.kind != "str":
            raise SqlError(f"FROM needs a topic filter in single quotes, at {self.where(t)}")
        topic_filter = t.value[1:-1]
        where = None
        if self.is_word("where"):
            self.next()
            where = self.expr()
        if self.tok.kind == "other":
            raise _other_error(self.tok)
        if self.tok.kind != "eof":
            word = self.tok.value.lower()
            if word in ("group", "order", "limit", "having", "join", "union"):
                raise SqlError(f"{word.upper()} is not part of IoT SQL", unsupported=True)
            raise SqlError(f"unexpected {self.where()} after the statement")
        return Statement(tuple(items), topic_filter, where, self.text)

    def select_item(self) -> SelectItem:
        if self.tok.kind == "star":
            self.next()
            if self.is_word("as"):
                raise SqlError("SELECT * cannot have an alias", unsupported=True)
            return SelectItem(Star(), None)
        expr = self.expr()
        alias = None
        if self.is_word("as"):
            self.next()
            t = self.next()
            if t.kind != "ident":
                raise SqlError(f"AS needs a name, at {self.where(t)}")
            alias = t.value
        elif self.tok.kind == "ident" and self.tok.value.lower() not in ("from",):
            raise SqlError(f"expected ',', AS or FROM at {self.where()}")
        item = SelectItem(expr, alias)
        if item.key is None:
            raise SqlError(
                f"a literal or comparison in SELECT needs an alias (AS name), before {self.where()}"
            )
        return item

    # expressions (precedence: OR < AND < NOT < comparison < primary) ------------

    def expr(self) -> Any:
        left = self.and_expr()
        while self.is_word("or"):
            self.next()
            left = BoolOp("or", left, self.and_expr())
        return left

    def and_expr(self) -> Any:
        left = self.not_expr()
        while self.is_word("and"):
            self.next()
            left = BoolOp("and", left, self.not_expr())
        return left

    def not_expr(self) -> Any:
        if self.is_word("not"):
            self.next()
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> Any:
        left = self.primary()
        self.refuse_unsupported_operator()
        if self.tok.kind == "op" and self.tok.value in ("=", "<>", "!=", "<", "<=", ">", ">="):
            op = self.next().value
            right = self.primary()
            self.refuse_unsupported_operator()
            if self.tok.kind == "op" and self.tok.value in ("=", "<>", "!=", "<", "<=", ">", ">="):
                raise SqlError(f"chained comparison at {self.where()}: use AND")
            return Compare("<>" if op == "!=" else op, left, right)
        return left

    def refuse_unsupported_operator(self) -> None:
        t = self.tok
        if t.kind == "other":
            raise _other_error(t)
        if t.kind == "ident" and t.value.lower() in UNSUPPORTED_WORDS:
            raise SqlError(
                f"{UNSUPPORTED_WORDS[t.value.lower()]} ({self.where()}) is not supported by the "
                "emulator",
                unsupported=True,
            )

    def primary(self) -> Any:
        t = self.tok
        if t.kind == "other":
            raise _other_error(t)
        if t.kind == "op" and t.value == "(":
            self.next()
            e = self.expr()
            self.expect_op(")")
            return e
        if t.kind == "str":
            self.next()
            return Literal(t.value[1:-1])
        if t.kind == "minus":
            self.next()
            n = self.next()
            if n.kind != "num":
                raise SqlError(
                    f"'-' is only supported before a number literal, at {self.where(n)}",
                    unsupported=True,
                )
            return Literal(-_number(n.value))
        if t.kind == "num":
            self.next()
            return Literal(_number(t.value))
        if t.kind == "star":
            raise SqlError(
                f"'*' at {self.where()} is only allowed as a SELECT item or in encode(*, 'base64')",
                unsupported=True,
            )
        if t.kind != "ident":
            raise SqlError(f"expected a value at {self.where()}")
        word = t.value.lower()
        if word in ("true", "false"):
            self.next()
            return Literal(word == "true")
        if word in UNSUPPORTED_WORDS:
            raise SqlError(
                f"{UNSUPPORTED_WORDS[word]} ({self.where()}) is not supported by the emulator",
                unsupported=True,
            )
        if word in ("and", "or", "not", "from", "where", "as"):
            raise SqlError(f"expected a value at {self.where()}")
        self.next()
        if self.is_op("("):
            return self.call(t)
        return self.field_path(t.value)

    def field_path(self, first: str) -> Field:
        path: list[str | int] = [first]
        while True:
            if self.is_op("."):
                self.next()
                t = self.next()
                if t.kind != "ident":
                    raise SqlError(f"expected a field name after '.', at {self.where(t)}")
                path.append(t.value)
            elif self.is_op("["):
                self.next()
                t = self.next()
                if t.kind != "num" or not t.value.isdigit():
                    raise SqlError(
                        f"array index must be a non-negative integer, at {self.where(t)}",
                        unsupported=t.kind != "num",
                    )
                self.expect_op("]")
                path.append(int(t.value))
            else:
                return Field(tuple(path))

    def call(self, name_tok: Token) -> Any:
        name = name_tok.value.lower()
        if name not in FUNCTIONS:
            raise SqlError(
                f"function {name_tok.value}() (character {name_tok.pos + 1}) is not supported by "
                f"the emulator; supported: {', '.join(f + '()' for f in FUNCTIONS)}",
                unsupported=True,
            )
        self.expect_op("(")
        if name == "cast":
            inner = self.expr()
            self.expect_word("as")
            t = self.next()
            tname = CAST_ALIASES.get(t.value.lower(), t.value.lower())
            if t.kind != "ident" or tname not in CAST_TYPES:
                raise SqlError(
                    f"cast to {t.value!r} is not supported; use one of "
                    f"{', '.join(CAST_TYPES.values())}",
                    unsupported=True,
                )
            self.expect_op(")")
            return Cast(inner, CAST_TYPES[tname])
        args: list[Any] = []
        if not self.is_op(")"):
            while True:
                if self.tok.kind == "star" and name == "encode" and not args:
                    self.next()
                    args.append(Star())
                else:
                    args.append(self.expr())
                if self.is_op(","):
                    self.next()
                    continue
                break
        self.expect_op(")")
        _check_call(name, args)
        return Call(name, tuple(args))


def _number(text: str) -> int | float:
    return int(text) if re.fullmatch(r"\d+", text) else float(text)


_ARITY = {
    "clientid": (0, 0),
    "timestamp": (0, 0),
    "principal": (0, 0),
    "newuuid": (0, 0),
    "traceid": (0, 0),
    "topic": (0, 1),
    "get": (2, 2),
    "encode": (2, 2),
}


def _check_call(name: str, args: list[Any]) -> None:
    lo, hi = _ARITY[name]
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} or {hi}"
        raise SqlError(f"{name}() takes {want} argument(s), got {len(args)}")
    if name == "topic" and args:
        a = args[0]
        if not (isinstance(a, Literal) and isinstance(a.value, int) and a.value >= 1):
            raise SqlError("topic(n) needs a whole number n >= 1 (levels count from 1)")
    if name == "encode":
        scheme = args[1]
        if not (isinstance(scheme, Literal) and scheme.value == "base64"):
            raise SqlError(
                "encode() supports only the 'base64' scheme: encode(*, 'base64')",
                unsupported=True,
            )


def parse(text: str) -> Statement:
    """Parse one statement; raises SqlError naming what is wrong or unsupported."""
    if not isinstance(text, str) or not text.strip():
        raise SqlError("the SQL statement is empty")
    return _Parser(text).statement()


def parse_expression(text: str) -> Any:
    """Parse a lone expression (the inside of a substitution template `${...}`)."""
    p = _Parser(text)
    e = p.expr()
    if p.tok.kind != "eof":
        raise SqlError(f"unexpected {p.where()} in the expression {text!r}")
    return e


# --------------------------------------------------------------------------- evaluation


@dataclass
class Message:
    """What a rule sees of one message."""

    topic: str
    payload: bytes
    client_id: str = "n/a"  # clientid(): "n/a" when the message did not come over MQTT
    principal: str = "n/a"
    timestamp_ms: int = 0
    trace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _json: Any = field(default=None, init=False, repr=False)
    _parsed: bool = field(default=False, init=False, repr=False)

    @property
    def document(self) -> Any:
        """The payload as JSON, or UNDEFINED when it is not JSON (a binary payload)."""
        if not self._parsed:
            self._parsed = True
            try:
                self._json = json.loads(self.payload.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                self._json = UNDEFINED
        return self._json


def _lookup(doc: Any, path: tuple[str | int, ...]) -> Any:
    cur = doc
    for p in path:
        if isinstance(p, str):
            if not isinstance(cur, dict) or p not in cur:
                return UNDEFINED
            cur = cur[p]
        else:
            if not isinstance(cur, list) or p >= len(cur):
                return UNDEFINED
            cur = cur[p]
    return cur


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _compare(op: str, a: Any, b: Any) -> Any:
    if a is UNDEFINED or b is UNDEFINED:
        return UNDEFINED
    if _is_number(a) and _is_number(b):
        pass
    elif type(a) is not type(b) or a is None:
        return UNDEFINED
    if op == "=":
        return bool(a == b)
    if op == "<>":
        return bool(a != b)
    if not (_is_number(a) or isinstance(a, str)):
        return UNDEFINED  # ordering of booleans, objects and arrays
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _to_string(v: Any) -> Any:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_number(v):
        return str(v)
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"))
    return UNDEFINED


def _to_decimal(v: Any) -> Any:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if _is_number(v):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return UNDEFINED
    return UNDEFINED


def cast(v: Any, to: str) -> Any:
    """iot-sql-functions.html "cast": conversions between String, Int, Decimal and Bool;
    anything that cannot be converted is Undefined."""
    if v is UNDEFINED:
        return UNDEFINED
    if to == "String":
        return _to_string(v)
    if to == "Decimal":
        return _to_decimal(v)
    if to == "Int":
        d = _to_decimal(v)
        if d is UNDEFINED or d != d or d in (float("inf"), float("-inf")):
            return UNDEFINED
        return int(d // 1)  # rounded down
    # Bool
    if isinstance(v, bool):
        return v
    if _is_number(v):
        return v != 0
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    return UNDEFINED


@dataclass
class Context:
    message: Message
    now_ms: Callable[[], int]


def evaluate(e: Any, ctx: Context) -> Any:
    if isinstance(e, Literal):
        return e.value
    if isinstance(e, Field):
        return _lookup(ctx.message.document, e.path)
    if isinstance(e, Compare):
        return _compare(e.op, evaluate(e.left, ctx), evaluate(e.right, ctx))
    if isinstance(e, BoolOp):
        a, b = evaluate(e.left, ctx), evaluate(e.right, ctx)
        if e.op == "and":
            if a is False or b is False:
                return False
            return True if a is True and b is True else UNDEFINED
        if a is True or b is True:
            return True
        return False if a is False and b is False else UNDEFINED
    if isinstance(e, Not):
        v = evaluate(e.expr, ctx)
        return (not v) if isinstance(v, bool) else UNDEFINED
    if isinstance(e, Cast):
        return cast(evaluate(e.expr, ctx), e.type)
    if isinstance(e, Call):
        return _call(e, ctx)
    raise SqlError(f"cannot evaluate {e!r}")  # pragma: no cover - parse() never builds one


def _call(e: Call, ctx: Context) -> Any:
    m = ctx.message
    name = e.name
    if name == "topic":
        if not e.args:
            return m.topic
        n = e.args[0].value
        levels = m.topic.split("/")
        return levels[n - 1] if n <= len(levels) else UNDEFINED
    if name == "clientid":
        return m.client_id
    if name == "principal":
        return m.principal
    if name == "timestamp":
        return m.timestamp_ms or ctx.now_ms()
    if name == "newuuid":
        return str(uuid.uuid4())
    if name == "traceid":
        return m.trace_id
    if name == "get":
        container, key = evaluate(e.args[0], ctx), evaluate(e.args[1], ctx)
        if isinstance(container, list) and _is_number(key) and float(key).is_integer():
            i = int(key)
            return container[i] if 0 <= i < len(container) else UNDEFINED
        if isinstance(container, dict) and isinstance(key, str):
            return container.get(key, UNDEFINED)
        return UNDEFINED
    # encode
    arg = e.args[0]
    if isinstance(arg, Star):
        raw = m.payload
    else:
        value = evaluate(arg, ctx)
        text = _to_string(value)
        if text is UNDEFINED:
            return UNDEFINED
        raw = text.encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


class NotJson(ValueError):
    """SELECT * of a payload that is not a JSON object cannot be combined with other items."""


def select(stmt: Statement, ctx: Context) -> dict[str, Any] | bytes | None:
    """Run WHERE then SELECT: None when the WHERE clause does not pass, bytes for
    `SELECT *` of a non-JSON payload (binary-payloads.html), else the JSON object."""
    if stmt.where is not None and evaluate(stmt.where, ctx) is not True:
        return None
    doc = ctx.message.document
    stars = [i for i in stmt.items if isinstance(i.expr, Star)]
    if stars and len(stmt.items) == 1 and not isinstance(doc, dict):
        # A binary payload, or a JSON value that is not an object: passed through as-is.
        return ctx.message.payload
    out: dict[str, Any] = {}
    for item in stmt.items:
        if isinstance(item.expr, Star):
            if isinstance(doc, dict):
                out.update(doc)
            elif ctx.message.payload:
                raise NotJson(
                    "SELECT * with other items needs a JSON object payload; use "
                    "encode(*, 'base64') AS data for binary payloads"
                )
            continue
        value = evaluate(item.expr, ctx)
        if value is UNDEFINED:
            continue
        key = item.key
        assert key is not None
        out[key] = value
    return out


_TEMPLATE_RE = re.compile(r"\$\{([^{}]*)\}")


def template_expressions(text: str) -> list[Any]:
    """Parse every `${expr}` of a substitution template; raises SqlError."""
    return [parse_expression(m.group(1)) for m in _TEMPLATE_RE.finditer(text)]


def substitute(text: str, ctx: Context) -> str:
    """Fill `${expr}` templates from the original message (iot-substitution-templates.html);
    an Undefined value becomes the empty string (unverified: AWS does not say)."""

    def one(m: re.Match[str]) -> str:
        v = evaluate(parse_expression(m.group(1)), ctx)
        s = _to_string(v)
        return "" if s is UNDEFINED else str(s)

    return _TEMPLATE_RE.sub(one, text)
