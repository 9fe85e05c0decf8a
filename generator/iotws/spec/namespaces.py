"""Namespaces that cannot collide (docs/design.md#decision-8).

For any two distinct identities, the client ids they may connect with and the topic
namespaces the spec gives them must be disjoint. This module decides that symbolically,
on the spec's templates, before anything is rendered:

- **Character sets.** Every placeholder has a declared set of values (a preset from
  `CHARSETS`), which the authorizer enforces at run time before any substitution.
- **Self-delimiting placeholders.** In a client-id template or a topic pattern, a
  placeholder must be followed by a character its values cannot contain (`/` always
  qualifies), by the end of the template, or have values of which none is a prefix of
  another (fixed-length UUIDs). Then a client id or topic determines the values that
  produced it, so `{sub}-*` cannot hand user `bob` the id `bob-x-1` of user `bob-x`.
- **Disjoint client-id ranges.** Two profiles' client-id templates (placeholders standing
  for any allowed value, `*` for any suffix) may not match a common id. Decided exactly,
  by searching the product of two finite automata; a collision comes with an example id.
- **Namespaces.** A topic pattern with a placeholder is the namespace of the identity
  whose values fill it. No grant of any profile (its wildcards widened the way IoT
  policies widen them: `*` crosses levels) may reach into a namespace of another
  identity. Checked on every pair of patterns with the same automaton search, after
  the common leading part (where the two identities' values must then be equal) is set
  aside.

The run-time half lives in the authorizer (`iotws_authorizer.identity`): values are
matched against the charset's pattern, and the client id against the template.
The build-time self-check (`iotws.policy.proofs`) then searches adversarial identities with
the authorizer's own code, and the property tests search random specs.
"""

from __future__ import annotations

import re
import string
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from iotws.iot.facts import IDENTITY_CHAR_CLASS, IDENTITY_CHARS, REGION_PATTERN

# Characters an identity value may have at all: IDENTITY_CHARS (iotws.iot.facts).
_HEX = frozenset("0123456789abcdef")
_LETTERS_DIGITS = frozenset(string.ascii_letters + string.digits)


@dataclass(frozen=True)
class Atom:
    """One step of a template's language: one character of `chars` (`any_char`: any
    character at all), repeated once (`repeat=False`) or zero or more times."""

    chars: frozenset[str]
    repeat: bool = False
    any_char: bool = False

    def sample(self, other: Atom) -> str | None:
        """A character both atoms accept, or None."""
        if self.any_char and other.any_char:
            return "x"
        if self.any_char:
            return min(other.chars) if other.chars else None
        if other.any_char:
            return min(self.chars) if self.chars else None
        common = self.chars & other.chars
        return min(common) if common else None


def _one(chars: Iterable[str]) -> Atom:
    return Atom(frozenset(chars))


def _plus(chars: Iterable[str]) -> list[Atom]:
    cs = frozenset(chars)
    return [Atom(cs), Atom(cs, repeat=True)]


ANY_STAR = Atom(frozenset(), repeat=True, any_char=True)


@dataclass(frozen=True)
class Charset:
    """A declared set of identity values."""

    name: str
    pattern: str  # full-match regular expression, ASCII; the authorizer enforces it
    chars: frozenset[str]  # every character a value may contain
    prefix_free: bool  # no value is a proper prefix of another (fixed length)
    atoms: tuple[Atom, ...]  # the language, for the automaton search
    description: str
    example: str
    min_length: int = 1

    def alike(self, seed: str) -> str:
        """A value of this set derived from `seed` (for error messages and probes)."""
        if self.name in ("uuid", "cognito_identity_id"):
            return self.example
        cleaned = "".join(c for c in seed if c in self.chars) or self.example
        if self.name == "email" and "@" not in cleaned:
            cleaned = cleaned.replace("@", "") + "@example.com"
        return cleaned


_UUID_RE = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _uuid_atoms() -> list[Atom]:
    out: list[Atom] = []
    for i, n in enumerate((8, 4, 4, 4, 12)):
        if i:
            out.append(_one("-"))
        out += [_one(_HEX)] * n
    return out


_EMAIL_LOCAL = frozenset(string.ascii_letters + string.digits + "._-")
_EMAIL_DOMAIN = frozenset(string.ascii_letters + string.digits + ".-")

CHARSETS: dict[str, Charset] = {
    c.name: c
    for c in (
        Charset(
            "uuid",
            _UUID_RE,
            _HEX | {"-"},
            True,
            tuple(_uuid_atoms()),
            "a lower-case UUID, 36 characters (Amazon Cognito user pool `sub`)",
            "0f1e2d3c-4b5a-4697-8899-aabbccddeeff",
            36,
        ),
        Charset(
            "email",
            "[A-Za-z0-9._-]+@[A-Za-z0-9.-]+",
            _EMAIL_LOCAL | _EMAIL_DOMAIN | {"@"},
            False,
            tuple(_plus(_EMAIL_LOCAL) + [_one("@")] + _plus(_EMAIL_DOMAIN)),
            "an e-mail address of letters, digits and . _ - (no +)",
            "alice@example.com",
            3,
        ),
        Charset(
            "word",
            "[A-Za-z0-9_]+",
            _LETTERS_DIGITS | {"_"},
            False,
            tuple(_plus(_LETTERS_DIGITS | {"_"})),
            "letters, digits and _ (user names, opaque ids)",
            "alice",
        ),
        Charset(
            "alnum",
            "[A-Za-z0-9]+",
            _LETTERS_DIGITS,
            False,
            tuple(_plus(_LETTERS_DIGITS)),
            "letters and digits",
            "alice",
        ),
        Charset(
            "opaque",
            IDENTITY_CHAR_CLASS + "+",
            IDENTITY_CHARS,
            False,
            tuple(_plus(IDENTITY_CHARS)),
            "letters, digits and _ . : @ = | - (e.g. auth0|abc-123); nothing can follow it "
            "in a client id except the end",
            "auth0|alice",
        ),
    )
}
DEFAULT_CHARSET = "opaque"

# Cognito identity ids: "<region>:<uuid>" (IoT fills ${cognito-identity.amazonaws.com:sub}).
_REGION_CHARS = frozenset(string.ascii_lowercase + string.digits + "-")
IDENTITY_ID = Charset(
    "cognito_identity_id",
    REGION_PATTERN.strip("^$") + ":" + _UUID_RE,
    _REGION_CHARS | {":"},
    True,  # no ':' in the region part, then 36 fixed characters
    tuple(_plus(_REGION_CHARS) + [_one(":")] + _uuid_atoms()),
    "a Cognito identity id, <region>:<uuid>",
    "us-east-1:0f1e2d3c-4b5a-4697-8899-aabbccddeeff",
    40,
)
# The `{client_id}` placeholder: the connection's own (already checked) client id.
CLIENT_ID = Charset(
    "client_id",
    IDENTITY_CHAR_CLASS + "+",
    IDENTITY_CHARS,
    False,
    tuple(_plus(IDENTITY_CHARS)),
    "the connection's client id",
    "c1",
)

PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Token:
    """A literal character, a placeholder, or a wildcard (`*` in a client-id rule; `+`
    or `#` in a topic pattern, as IoT policies widen them)."""

    kind: str  # "char" | "ph" | "star"
    value: str  # the character, the placeholder name, or the wildcard as written


def tokens(text: str, *, topic: bool) -> list[Token]:
    out: list[Token] = []
    pos = 0
    for m in PLACEHOLDER_RE.finditer(text):
        out += _literal_tokens(text[pos : m.start()], topic)
        out.append(Token("ph", m.group(1)))
        pos = m.end()
    out += _literal_tokens(text[pos:], topic)
    return out


def _literal_tokens(text: str, topic: bool) -> list[Token]:
    out = []
    for c in text:
        if (topic and c in "+#") or (not topic and c == "*"):
            out.append(Token("star", c))
        else:
            out.append(Token("char", c))
    return out


def atoms(toks: list[Token], charsets: dict[str, Charset], *, topic: bool) -> list[Atom]:
    """The language of a token list: placeholders as their charsets, wildcards as IoT
    treats them (`*` in a client-id rule: one or more identity characters; `+`/`#` in a
    topic, rendered `*` in the policy: any run of characters, `/` included)."""
    out: list[Atom] = []
    for t in toks:
        if t.kind == "char":
            out.append(_one(t.value))
        elif t.kind == "ph":
            out += charsets[t.value].atoms
        elif topic:
            out.append(ANY_STAR)
        else:
            out += _plus(IDENTITY_CHARS)
    return out


def intersection_witness(a: list[Atom], b: list[Atom]) -> str | None:
    """A string both atom languages contain, or None: breadth-first search of the product
    automaton (states: a position in each list), so the witness is a shortest one."""
    start = (0, 0)
    seen = {start}
    queue: deque[tuple[int, int, str]] = deque([(0, 0, "")])
    while queue:
        i, j, text = queue.popleft()
        if i == len(a) and j == len(b):
            return text
        moves: list[tuple[int, int, str]] = []
        # zero repetitions of a repeated atom: step over it without a character
        if i < len(a) and a[i].repeat:
            moves.append((i + 1, j, text))
        if j < len(b) and b[j].repeat:
            moves.append((i, j + 1, text))
        if i < len(a) and j < len(b):
            c = a[i].sample(b[j])
            if c is not None:
                moves.append((i if a[i].repeat else i + 1, j if b[j].repeat else j + 1, text + c))
        for ni, nj, nt in moves:
            if (ni, nj) not in seen:
                seen.add((ni, nj))
                (queue.appendleft if nt == text else queue.append)((ni, nj, nt))
    return None


def parse_values(template: str, text: str, charsets: dict[str, Charset]) -> dict[str, str]:
    """The placeholder values that make `template` produce `text` (for messages)."""
    parts: list[str] = []
    pos = 0
    names: list[str] = []
    for m in PLACEHOLDER_RE.finditer(template):
        parts.append(_literal_regex(template[pos : m.start()]))
        name = m.group(1)
        group = f"g{len(names)}"
        names.append(name)
        parts.append(f"(?P<{group}>{charsets[name].pattern})")
        pos = m.end()
    parts.append(_literal_regex(template[pos:]))
    found = re.fullmatch("".join(parts), text)
    if not found:
        return {}
    return {name: found.group(f"g{i}") for i, name in enumerate(names)}


def _literal_regex(text: str) -> str:
    out = []
    for c in text:
        if c == "*":
            out.append(IDENTITY_CHAR_CLASS + "+")
        elif c in "+#":
            out.append(".*")
        else:
            out.append(re.escape(c))
    return "".join(out)


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Undelimited:
    placeholder: str
    follower: str  # the character after it, "*" or "" (another placeholder follows)
    example_short: str
    example_long: str


def undelimited(text: str, charsets: dict[str, Charset], *, topic: bool) -> list[Undelimited]:
    """Placeholders in `text` whose value could run on into what follows it."""
    toks = tokens(text, topic=topic)
    found: list[Undelimited] = []
    for i, t in enumerate(toks):
        if t.kind != "ph":
            continue
        cs = charsets[t.value]
        if cs.prefix_free:
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if nxt is None:
            continue  # the end of the id or topic delimits it
        if nxt.kind == "char" and nxt.value not in cs.chars:
            continue
        if nxt.kind == "char":
            sep = nxt.value
            short = cs.alike("bob")
            long = short + sep + "x"
            found.append(Undelimited(t.value, sep, short, long))
        elif nxt.kind == "star":
            short = cs.alike("bob")
            found.append(
                Undelimited(t.value, "*", short, short + min(cs.chars - {"@"}, default="x"))
            )
        else:
            short = cs.alike("bob")
            found.append(Undelimited(t.value, "", short, short + "x"))
    return found


def _strip_common(
    g: list[Token], q: list[Token], charsets: dict[str, Charset]
) -> tuple[int, set[str]]:
    """Length of the common leading part of two token lists in which equal strings force
    equal placeholder values (identical literals; identical placeholders, each delimited
    in both lists), and the placeholder names in it."""
    i = 0
    names: set[str] = set()
    while i < len(g) and i < len(q) and g[i] == q[i] and g[i].kind != "star":
        if g[i].kind == "ph":
            names.add(g[i].value)
        i += 1
    return i, names


@dataclass(frozen=True)
class Overlap:
    witness: str  # a topic (relative to the prefix) in both
    owner_values: dict[str, str]  # the namespace owner's values in that topic


def namespace_overlap(
    grant: str, grant_charsets: dict[str, Charset], ns: str, ns_charsets: dict[str, Charset]
) -> Overlap | None:
    """Can `grant` (any identity's values) reach into the namespace pattern `ns` of an
    identity with other values? Both are topic patterns relative to the prefix."""
    g = tokens(grant, topic=True)
    q = tokens(ns, topic=True)
    owners = {t.value for t in q if t.kind == "ph"}
    same_charsets = all(grant_charsets.get(n) == ns_charsets.get(n) for n in owners)
    k, common = _strip_common(g, q, grant_charsets) if same_charsets else (0, set())
    if owners <= common:
        return None  # equal strings force equal values: the same owner
    witness = intersection_witness(
        atoms(g[k:], grant_charsets, topic=True), atoms(q[k:], ns_charsets, topic=True)
    )
    if witness is None:
        return None
    lead = "".join(_sample_token(t, ns_charsets) for t in q[:k])
    topic = lead + witness
    return Overlap(topic, parse_values(ns, topic, ns_charsets))


def _sample_token(t: Token, charsets: dict[str, Charset]) -> str:
    if t.kind == "char":
        return t.value
    if t.kind == "ph":
        return charsets[t.value].example
    return "x"


def client_id_witness(
    a: str, a_charsets: dict[str, Charset], b: str, b_charsets: dict[str, Charset]
) -> str | None:
    """An id both client-id rules accept (placeholders: any allowed value), or None."""
    return intersection_witness(
        atoms(tokens(a, topic=False), a_charsets, topic=False),
        atoms(tokens(b, topic=False), b_charsets, topic=False),
    )
