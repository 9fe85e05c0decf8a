"""Build-time proof that rendered policies mean what the spec says (docs/design.md#decision-4,
docs/design.md#decision-8).

Identities are made up the way an attacker would choose them, from the spec itself:
claim values that are prefixes or extensions of each other, values that contain the
separators the templates use, values equal to literal words of the templates (`anon`,
`public`, another profile's prefix), values equal to another identity's client id, and
anonymous clients asking for any of those ids. Every identity is run through the
authorizer's own code (`iotws.authorizer_code`: `config.parse`, `identity.slot_values`,
`identity.documents`), and the filled documents through the offline evaluator:

(a) everything the spec grants an identity is ALLOWED for it;
(b) no client id is accepted for two distinct identities (takeover), and no identity is
    ALLOWED to Connect as, subscribe to, receive from or publish to anything in another
    identity's namespace (its placeholder topics);
(c) topics the spec does not grant, reserved `$aws/...` topics (deep ones too) and topics
    under a foreign prefix are denied to every identity.

A failure is a generator bug or a spec the policy language cannot express: `iotws
generate` refuses to write in either case. The property tests in tests/evaluator go
further (random specs and random identity relations).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from iotws.authorizer_code import Deny, config, identity
from iotws.errors import IotwsError
from iotws.invoke import LambdaContext
from iotws.iot.facts import IDENTITY_CHAR_CLASS, RESERVED_TOPIC_EXAMPLES
from iotws.policy.evaluator import ALLOWED, PolicySet, Request
from iotws.render.policies import RenderedProfile, RenderResult, authorizer_config, render_profile
from iotws.spec.model import BUILTIN_CLIENT_ID, Spec
from iotws.spec.namespaces import CHARSETS, DEFAULT_CHARSET, PLACEHOLDER_RE

SAMPLE_REGION = "us-east-1"
SAMPLE_ACCOUNT = "123456789012"
# Topics no spec may grant (reserved topics, deep ones too, and another app's prefix).
RESERVED_TOPICS = RESERVED_TOPIC_EXAMPLES
RESERVED_FILTERS = ("#", "+/#", "+/+/#", "$aws/#", "$aws/events/presence/+/+", "$aws/things/+/#")
MAX_CANDIDATES = 48  # values tried per claim (bounds the build-time search)


@dataclass
class Identity:
    profile: str
    claims: dict[str, str]  # claim values the token carries
    client_id: str
    key: tuple[str, ...]  # equal keys = the same identity (same owner of namespaces)
    documents: list[dict[str, Any]] = field(default_factory=list)
    policies: PolicySet | None = None


# --------------------------------------------------------------------------- candidates


def _template_literals(spec: Spec) -> tuple[set[str], set[str]]:
    """(separator characters, literal words) that appear in the spec's templates."""
    seps: set[str] = set()
    words: set[str] = set()
    texts = [p.client_id for p in spec.profiles.values()]
    for p in spec.profiles.values():
        texts += list(p.subscribe) + list(p.publish) + list(p.receive)
    for text in texts:
        literal = PLACEHOLDER_RE.sub("\0", text)
        seps |= {c for c in literal if not c.isalnum() and c not in "\0*+#"}
        words |= {w for w in re.split(r"[^A-Za-z0-9_]+", literal) if w}
    return seps, words


def _claim_candidates(spec: Spec, claim: str, extra: set[str]) -> list[str]:
    """Values of `claim` an attacker would try, kept when the authorizer accepts them."""
    charset = CHARSETS[spec.claim_charsets.get(claim, DEFAULT_CHARSET)]
    seps, words = _template_literals(spec)
    if charset.prefix_free:
        ex = charset.example
        bases = [ex, ex[:-1] + ("0" if ex[-1] != "0" else "1")]
    else:
        bases = [charset.alike("bob"), charset.alike("bobx"), charset.alike("alice")]
    cands: list[str] = list(bases)
    for b in bases[:1]:
        for sep in sorted(seps | {"-", "_", ".", ":", "@", "|", "="}):
            cands += [b + sep, b + sep + "x", b + sep + "1", sep + b]
        # shifted boundaries between touching placeholders: (bobx, bob) vs (bob, xbob)
        cands += [b[:-1] or b, b + "x", "x" + b, b[1:] or b, b + b]
    cands = cands[: len(bases)] + cands[-5:] + sorted(words) + sorted(extra) + cands[len(bases) :]
    cfg = _ACCEPT_CFG
    pattern = re.compile(charset.pattern, re.ASCII)
    out = []
    for value in dict.fromkeys(cands):
        if identity.safe_value(value, cfg, spec.claims[claim], pattern):
            out.append(value)
    return out[:MAX_CANDIDATES]


def _suffixes(spec: Spec) -> list[str]:
    seps, _ = _template_literals(spec)
    out = ["1", "x-1", "bob-1", "-1", "1-x"]
    out += [s + "x" for s in sorted(seps) if s in "_.:@=|-"]
    return out


class _AcceptCfg:
    """Just enough of a Config for `identity.safe_value` (the identity charset)."""

    charset = re.compile(IDENTITY_CHAR_CLASS + "+", re.ASCII)


_ACCEPT_CFG: Any = _AcceptCfg()


# --------------------------------------------------------------------------- identities


def _az_config(spec: Spec, profiles: dict[str, RenderedProfile]) -> Any:
    try:
        return config.parse(authorizer_config(spec, profiles))
    except Exception as exc:  # noqa: BLE001 - any refusal of the authorizer is a finding
        raise IotwsError(
            f"the authorizer refuses the rendered configuration: {exc}",
            fix="report this with your access.yaml: a spec that builds must load",
        ) from None


def _fill_template(template: str, claims: dict[str, str]) -> str:
    return PLACEHOLDER_RE.sub(lambda m: claims.get(m.group(1), "\0"), template)


class _Universe:
    """Identities of every authorizer profile, with the authorizer deciding each."""

    def __init__(self, spec: Spec, profiles: dict[str, RenderedProfile]) -> None:
        self.spec = spec
        self.cfg = _az_config(spec, profiles)
        region = spec.region or SAMPLE_REGION
        account = spec.account or SAMPLE_ACCOUNT
        self.context = LambdaContext.of(region, account, "selfcheck")
        self.arn = f"arn:aws:iot:{region}:{account}:"
        self.public = spec.authorizer.public_profile
        self.token_profiles = [n for n in spec.token_profiles() if n in self.cfg.profiles]
        self.subject = spec.subject_claim()

    def _values(self, profile: str, claims: dict[str, str], client_id: str) -> Any:
        """The authorizer's slot values for this connection; None when it denies it."""
        try:
            return identity.slot_values(
                self.cfg.profiles[profile], claims, client_id, self.cfg, self.context
            )
        except Deny:
            return None

    def _key(self, profile: str, claims: dict[str, str], client_id: str) -> tuple[str, ...]:
        if profile == self.public and profile not in self.token_profiles:
            return ("anonymous", profile, client_id)
        # A user is its subject (tokens with the same subject are the same user, whatever
        # their other claims); namespaces are owned by the values that fill them.
        return ("token", f"{self.subject}={claims.get(self.subject)}")

    def key(self, profile: str, claims: dict[str, str], client_id: str) -> tuple[str, ...] | None:
        """Who the authorizer takes this connection for; None when it denies it."""
        if self._values(profile, claims, client_id) is None:
            return None
        return self._key(profile, claims, client_id)

    def accept(self, profile: str, claims: dict[str, str], client_id: str) -> Identity | None:
        """The authorizer's decision for one identity, with its filled documents."""
        values = self._values(profile, claims, client_id)
        if values is None:
            return None
        try:
            docs = identity.documents(self.cfg.profiles[profile], values)
        except Deny:
            return None
        key = self._key(profile, claims, client_id)
        return Identity(profile, claims, client_id, key, docs, PolicySet.from_documents(docs))

    def claim_vectors(self, extra: set[str]) -> list[dict[str, str]]:
        claims = sorted(self.spec.claims)
        cands = {c: _claim_candidates(self.spec, c, extra) for c in claims}
        if not claims or not all(cands.values()):
            return []
        base = {c: cands[c][0] for c in claims}
        vectors = [dict(base)]
        for c in claims:
            for v in cands[c][1:]:
                vectors.append({**base, c: v})
        if len(claims) > 1:  # swapped values: {a}-{b} against {b}-{a}
            for a, b in itertools.permutations(claims, 2):
                if cands[b][0] in cands[a]:
                    vectors.append({**base, a: cands[b][0], b: cands[a][0]})
        return vectors

    def identities(self) -> tuple[list[Identity], set[str]]:
        """One identity per attacker-chosen claim vector and token profile (its first
        accepted client id), two anonymous clients, and every client id tried."""
        ids: list[Identity] = []
        tried: set[str] = set()
        extra: set[str] = set()
        for round_ in range(2):  # round 2: values equal to round 1's client ids
            for name in self.token_profiles:
                rule = self.spec.profiles[name].client_id
                for claims in self.claim_vectors(extra):
                    head = _fill_template(rule.rstrip("*"), claims)
                    found = False
                    for cid in [head] + [head + s for s in _suffixes(self.spec)]:
                        tried.add(cid)
                        if not found:
                            ident = self.accept(name, claims, cid)
                            if ident is not None:
                                ids.append(ident)
                                found = True
            if round_ == 0:
                for ident in ids:
                    extra.add(ident.client_id)
                    extra |= set(re.split(r"[^A-Za-z0-9]+", ident.client_id)) - {""}
        if self.public:
            head = self.spec.profiles[self.public].client_id.rstrip("*")
            for suffix in ("1", "x-1"):
                ident = self.accept(self.public, {}, head + suffix)
                if ident is not None:
                    ids.append(ident)
            tried |= {head + s for s in _suffixes(self.spec)}
        return _dedupe(ids), tried


def _dedupe(ids: list[Identity]) -> list[Identity]:
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    out = []
    for ident in ids:
        k = (ident.profile, ident.client_id, ident.key)
        if k not in seen:
            seen.add(k)
            out.append(ident)
    return out


# --------------------------------------------------------------------------- checks


def _decide(u: _Universe, ident: Identity, action: str, resource: str) -> bool:
    assert ident.policies is not None
    return ident.policies.evaluate(Request(action=action, resource=u.arn + resource)).result == (
        ALLOWED
    )


def _full(spec: Spec, topic: str) -> str:
    return f"{spec.prefix}/{topic}" if spec.prefix else topic


def _fill(pattern: str, ident: Identity) -> str:
    values = {**ident.claims, BUILTIN_CLIENT_ID: ident.client_id}
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), "\0"), pattern)


def _concrete(text: str, word: str = "room1") -> str:
    out = []
    for level in text.split("/"):
        out.append(word if level == "+" else "deep/er" if level == "#" else level)
    return "/".join(out)


def _patterns(spec: Spec, profile: str) -> list[tuple[str, str]]:
    p = spec.profiles[profile]
    return (
        [("iot:Subscribe", t) for t in p.subscribe]
        + [("iot:Receive", t) for t in p.receive]
        + [("iot:Publish", t) for t in p.publish]
    )


def _own_grants(u: _Universe, ident: Identity) -> list[str]:
    problems = []
    spec = u.spec
    if not _decide(u, ident, "iot:Connect", f"client/{ident.client_id}"):
        problems.append(f"iot:Connect as its own client id {ident.client_id!r} is not allowed")
    for action, pattern in _patterns(spec, ident.profile):
        rtype = "topicfilter/" if action == "iot:Subscribe" else "topic/"
        mine = _full(spec, _concrete(_fill(pattern, ident)))
        if not _decide(u, ident, action, rtype + mine):
            problems.append(f"{action} on {mine!r} (granted by {pattern!r}) is not allowed")
        if action == "iot:Subscribe":
            literal = _full(spec, _fill(pattern, ident))
            if not _decide(u, ident, action, rtype + literal):
                problems.append(f"iot:Subscribe to the filter {literal!r} itself is not allowed")
    return problems


def _co_owner(a: Identity, b: Identity, pattern: str) -> bool:
    """Equal values for every placeholder of `pattern`: the same namespace owner."""
    names = set(PLACEHOLDER_RE.findall(pattern))
    for name in names:
        if name == BUILTIN_CLIENT_ID:
            if a.client_id != b.client_id:
                return False
        elif a.key[0] == "anonymous" or b.key[0] == "anonymous":
            return False
        elif a.claims.get(name) != b.claims.get(name):
            return False
    return True


def _foreign(u: _Universe, ident: Identity) -> list[str]:
    problems = []
    spec = u.spec
    topics = list(RESERVED_TOPICS) + ["iotws-foreign/app/x/y", _full(spec, "iotws-not-granted/x")]
    if spec.prefix:
        topics += [f"{spec.prefix}x/a/b", f"{spec.prefix}-foreign/a"]
    for topic in topics:
        for action, rtype in (
            ("iot:Publish", "topic/"),
            ("iot:Receive", "topic/"),
            ("iot:Subscribe", "topicfilter/"),
        ):
            if _decide(u, ident, action, rtype + topic):
                problems.append(f"{action} on {topic!r}, which the spec does not grant, is allowed")
    for filt in RESERVED_FILTERS:
        if _decide(u, ident, "iot:Subscribe", "topicfilter/" + filt):
            problems.append(f"iot:Subscribe to {filt!r} is allowed")
    for cid in ("+", "#", "*", ident.client_id + "x", "x" + ident.client_id):
        if _decide(u, ident, "iot:Connect", "client/" + cid):
            problems.append(f"iot:Connect as client id {cid!r} is allowed")
    return problems


def _cross(u: _Universe, a: Identity, b: Identity) -> list[str]:
    """A must be denied in B's namespace."""
    problems = []
    spec = u.spec
    if _decide(u, a, "iot:Connect", f"client/{b.client_id}"):
        problems.append(
            f"iot:Connect as another identity's client id {b.client_id!r} is allowed "
            f"({_who(a)} takes over {_who(b)})"
        )
    for _, pattern in _patterns(spec, b.profile):
        if not PLACEHOLDER_RE.search(pattern) or _co_owner(a, b, pattern):
            continue
        theirs = _fill(pattern, b)
        for action, rtype, topic in (
            ("iot:Subscribe", "topicfilter/", theirs),
            ("iot:Subscribe", "topicfilter/", _concrete(theirs)),
            ("iot:Receive", "topic/", _concrete(theirs)),
            ("iot:Publish", "topic/", _concrete(theirs)),
        ):
            if _decide(u, a, action, rtype + _full(spec, topic)):
                problems.append(
                    f"{action} on another identity's {_full(spec, topic)!r} is allowed "
                    f"({pattern!r} of {_who(b)}, reached by {_who(a)})"
                )
    return problems


def _who(ident: Identity, client_id: str | None = None) -> str:
    cid = ident.client_id if client_id is None else client_id
    if ident.key[0] == "anonymous":
        return f"an anonymous client of profile {ident.profile} (client id {cid!r})"
    values = ", ".join(f"{k} {v!r}" for k, v in sorted(ident.claims.items()))
    return f"profile {ident.profile} ({values}, client id {cid!r})"


def check_result(spec: Spec, profiles: dict[str, RenderedProfile]) -> list[str]:
    """Every finding of the adversarial search (empty when the proof holds)."""
    u = _Universe(spec, profiles)
    ids, tried = u.identities()
    problems: list[str] = []
    covered = {i.profile for i in ids}
    for name in sorted(profiles):
        if name not in covered:
            problems.append(f"profiles.{name}: no identity was accepted (nothing to prove)")
    # (b) no client id is accepted for two distinct identities
    owners: dict[str, dict[tuple[str, ...], Identity]] = {}
    kinds = {(i.profile, tuple(sorted(i.claims.items()))): i for i in ids}
    for cid in sorted(tried | {i.client_id for i in ids}):
        for other in kinds.values():
            key = u.key(other.profile, other.claims, cid)
            if key is not None:
                owners.setdefault(cid, {})[key] = other
    for cid, who in sorted(owners.items()):
        if len(who) > 1:
            a, b = list(who.values())[:2]
            problems.append(
                f"client id {cid!r} is accepted for {_who(a, cid)} and for {_who(b, cid)}"
            )
    for ident in ids:
        where = f"profiles.{ident.profile}"
        problems += [f"{where}: {p}" for p in _own_grants(u, ident)]
        problems += [f"{where}: {p}" for p in _foreign(u, ident)]
    for a, b in itertools.permutations(ids, 2):
        if a.key == b.key:
            continue
        problems += [f"profiles.{a.profile}: {p}" for p in _cross(u, a, b)]
    return list(dict.fromkeys(problems))


def check_profile(spec: Spec, prof: RenderedProfile) -> list[str]:
    """The proof with one profile's documents as given (the others rendered afresh)."""
    profiles = {
        name: render_profile(spec, spec.profiles[name])
        for name in spec.authorizer_profiles()
        if name != prof.name
    }
    profiles[prof.name] = prof
    return check_result(spec, profiles)


def self_check(result: RenderResult) -> None:
    if not result.spec.has_authorizer:
        return
    failures = check_result(result.spec, result.profiles)
    if failures:
        shown = failures[:20]
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise IotwsError(
            "the rendered policies do not mean what the spec says:\n  " + "\n  ".join(shown) + more,
            fix="report this with your access.yaml; it is a bug or a spec IoT policies "
            "cannot express",
        )
