"""Proofs that search (docs/design.md#decision-8): random specs, and identities whose values an
attacker chooses in relation to each other's.

Hypothesis draws specs with several profiles (token profiles with composite client-id
rules, an anonymous profile, claims with any of the charset presets, topic patterns with
placeholders inside levels) and then a chain of identities, each derived from earlier
ones: a value extended by a separator the templates use, truncated, shifted between two
touching placeholders, equal to a literal word of the spec, or equal to another
identity's client id; anonymous clients ask for other identities' ids. Every identity is
decided by the authorizer's own code (`config.parse`, `identity.slot_values`,
`identity.documents`) and the filled documents by the evaluator. For every spec the
toolchain accepts:

- no client id is accepted for two distinct identities (distinct subjects, or an
  anonymous client and a user);
- no identity is allowed to Subscribe, Receive or Publish in a namespace (a placeholder
  topic) filled with another identity's values;
- every identity is allowed what its profile grants it.

`test_the_search_finds_the_takeover_without_the_spec_check` turns the spec check off and
requires this search to find a counterexample: the proof fails when the rule is broken.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import iotws.spec.model as spec_module
from iotws.authorizer_code import Deny, config, identity
from iotws.errors import IotwsError
from iotws.invoke import LambdaContext
from iotws.policy.evaluator import ALLOWED, PolicySet, Request
from iotws.render.policies import render_spec

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:demo-dev-authorizer"
ARN = "arn:aws:iot:us-east-1:123456789012:"
PH = re.compile(r"\{([a-z_]+)\}")

TOKEN_RULES = (
    "{sub}-*",
    "u-{sub}-*",
    "{sub}",
    "{sub}*",
    "{sub}.*",
    "adm-{sub}-*",
    "{tenant}-{sub}-*",
    "{tenant}{sub}-*",
    "{sub}-{tenant}",
    "t.{tenant}.{sub}.*",
    "{sub}@*",
)
ANON_RULES = ("anon-*", "a*", "u-*", "guest.*", "adm-*", "*")
LEVELS = (
    "users",
    "rooms",
    "shared",
    "anon",
    "u",
    "+",
    "{sub}",
    "{tenant}",
    "{client_id}",
    "{sub}-in",
    "x{sub}",
    "{tenant}.{sub}",
)
SEPARATORS = ("-", ".", "_", "@", ":", "|", "=", "x", "1")
UUIDS = (
    "0f1e2d3c-4b5a-4697-8899-aabbccddeeff",
    "0f1e2d3c-4b5a-4697-8899-aabbccddeef0",
    "aaaaaaaa-4b5a-4697-8899-aabbccddeeff",
)
CONTEXT = LambdaContext(invoked_function_arn=FUNCTION_ARN)


@st.composite
def topic(draw: st.DrawFn, anonymous: bool) -> str:
    n = draw(st.integers(min_value=1, max_value=3))
    simple = st.sampled_from(("users", "rooms", "+", "{sub}", "{client_id}", "{tenant}"))
    levels = [draw(simple | st.sampled_from(LEVELS)) for _ in range(n)]
    if draw(st.booleans()):  # per-identity topics under a literal level of their own
        levels[0] = draw(st.sampled_from(("users", "rooms", "shared")))
    if anonymous:
        levels = [lv if "{sub}" not in lv and "{tenant}" not in lv else "anon" for lv in levels]
    if draw(st.booleans()):
        levels.append("#")
    return "/".join(levels)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    # weighted towards specs the toolchain accepts, so the search has something to search
    charsets = st.sampled_from(["word", "word", "uuid", "alnum", "email", "opaque"])
    claims = {"sub": {"max_length": 40, "charset": draw(charsets)}}
    claims["tenant"] = {"max_length": 40, "charset": draw(charsets)}
    profiles: dict[str, Any] = {}
    names = [f"p{i}" for i in range(draw(st.integers(min_value=1, max_value=2)))]
    for name in names:
        profiles[name] = {
            "client_id": draw(
                st.sampled_from(TOKEN_RULES)
                | st.sampled_from(("u-{sub}-*", "adm-{sub}-*", "t.{tenant}.{sub}.*", "{sub}"))
            ),
            "subscribe": draw(st.lists(topic(False), min_size=1, max_size=3, unique=True)),
            "publish": draw(st.lists(topic(False), max_size=2, unique=True)),
        }
    authorizer: dict[str, Any] = {
        "mode": "hs256",
        "hs256": {"secret": {"env": "IOTWS_JWT_SECRET"}},
        "select": {"claim": "role", "values": {n: n for n in names}},
    }
    if draw(st.booleans()):
        profiles["guest"] = {
            "client_id": draw(st.sampled_from(ANON_RULES) | st.sampled_from(("anon-*", "guest.*"))),
            "subscribe": draw(st.lists(topic(True), min_size=1, max_size=2, unique=True)),
            "publish": draw(st.lists(topic(True), max_size=2, unique=True)),
        }
        authorizer["public"] = {"profile": "guest"}
    return {
        "version": 1,
        "app": "demo",
        "stage": "dev",
        "topic_prefix": draw(st.sampled_from(["demo/dev", "x"])),
        "aws": {"region": "us-east-1", "account": "123456789012"},
        "claims": claims,
        "authorizer": authorizer,
        "profiles": profiles,
    }


def fresh(charset: str, draw: st.DrawFn) -> str:
    if charset == "uuid":
        return draw(st.sampled_from(UUIDS))
    word = draw(st.sampled_from(("bob", "al", "anon", "u", "adm", "t", "x1")))
    return word + "@ex.io" if charset == "email" else word


@st.composite
def relations(draw: st.DrawFn, spec: dict[str, Any]) -> list[tuple[str, dict[str, str], str]]:
    """A chain of (profile, claims, client-id suffix); later ones derive from earlier."""
    words = [w for w in LEVELS if PH.search(w) is None and w != "+"] + ["adm", "t", "guest"]
    chain: list[tuple[str, dict[str, str], str]] = []
    token_profiles = sorted(spec["authorizer"]["select"]["values"])
    # the separators an attacker reads off the templates come first
    used = "".join(p["client_id"] for p in spec["profiles"].values())
    seps = st.sampled_from(sorted({c for c in PH.sub("", used) if not c.isalnum()} | {"-"}))
    kinds = st.sampled_from(("fresh", "extend", "extend", "truncate", "word", "id", "shift"))
    for _ in range(draw(st.integers(min_value=2, max_value=5))):
        claims: dict[str, str] = {}
        for name, c in spec["claims"].items():
            kind = draw(kinds)
            earlier = [v[1][name] for v in chain] if chain else []
            if kind == "fresh" or not earlier:
                claims[name] = fresh(c["charset"], draw)
                continue
            base = draw(st.sampled_from(earlier))
            if kind == "extend":
                claims[name] = (
                    base
                    + draw(seps | st.sampled_from(SEPARATORS))
                    + draw(st.sampled_from(("x", "in", "1", "bob")))
                )
            elif kind == "truncate":
                claims[name] = base[:-1] or base
            elif kind == "word":
                claims[name] = draw(st.sampled_from(words))
            elif kind == "id":
                claims[name] = draw(st.sampled_from([v[2] for v in chain] or [base]))
            else:  # shift: move the last character of one value to the front of the next
                claims[name] = base[-1:] + base
        suffix = draw(st.sampled_from(("1", "x-1", "-1", ".x", "@x", "bob-1", "in")))
        chain.append((draw(st.sampled_from(token_profiles)), claims, suffix))
    return chain


@dataclass
class Accepted:
    profile: str
    key: str
    claims: dict[str, str]
    client_id: str
    policies: PolicySet


def decide(cfg: Any, profile: str, claims: dict[str, str], client_id: str) -> PolicySet | None:
    prof = cfg.profiles[profile]
    try:
        values = identity.slot_values(
            prof, claims, client_id, cfg, LambdaContext(invoked_function_arn=FUNCTION_ARN)
        )
        return PolicySet.from_documents(identity.documents(prof, values))
    except Deny:
        return None


def fill(text: str, values: dict[str, str]) -> str:
    return PH.sub(lambda m: values.get(m.group(1), "\0"), text)


def allowed(ps: PolicySet, action: str, resource: str) -> bool:
    return ps.evaluate(Request(action=action, resource=ARN + resource)).result == ALLOWED


@functools.lru_cache(maxsize=64)
def _build(text: str, rule: Any) -> tuple[Any, Any] | None:
    """Parse, render and load one spec (cached: the searches reuse a spec many times;
    `rule` is part of the key so a switched-off spec check is never served from cache)."""
    try:
        spec = spec_module.parse_spec(text, source="<generated>")
        result = render_spec(spec)
    except IotwsError:
        return None
    return spec, config.parse(result.authorizer_config)


def check(spec_dict: dict[str, Any], chain: list[tuple[str, dict[str, str], str]]) -> bool:
    """Raise AssertionError on a counterexample; False when the toolchain refuses the spec
    (nothing to prove), True when the chain was checked."""
    built = _build(yaml.safe_dump(spec_dict), spec_module._namespace_errors)
    if built is None:
        return False
    spec, cfg = built
    prefix = spec.prefix
    accepted: list[Accepted] = []
    ids: list[str] = []
    for profile, claims, suffix in chain:
        head = fill(spec.profiles[profile].client_id.rstrip("*"), claims)
        ids += [head, head + suffix]
    # Every identity also asks for every other identity's client id (a takeover attempt).
    for profile, claims, _ in chain:
        for cid in dict.fromkeys(ids):
            ps = decide(cfg, profile, claims, cid)
            if ps is not None:
                accepted.append(Accepted(profile, "sub=" + claims["sub"], claims, cid, ps))
    public = spec.authorizer.public_profile
    if public:
        head = spec.profiles[public].client_id.rstrip("*")
        for cid in [head + "1", *ids]:
            ps = decide(cfg, public, {}, cid)
            if ps is not None:
                accepted.append(Accepted(public, "anonymous:" + cid, {}, cid, ps))
    # (1) one owner per client id
    owners: dict[str, set[str]] = {}
    for a in accepted:
        owners.setdefault(a.client_id, set()).add(a.key)
    for cid, keys in owners.items():
        assert len(keys) == 1, f"client id {cid!r} is accepted for {sorted(keys)}"

    def full(t: str) -> str:
        return f"{prefix}/{t}" if prefix else t

    def concrete(t: str) -> str:
        return "/".join("w" if lv == "+" else "w/z" if lv == "#" else lv for lv in t.split("/"))

    for a in accepted:
        mine = {**a.claims, "client_id": a.client_id}
        prof = spec.profiles[a.profile]
        # (3) its own grants
        assert allowed(a.policies, "iot:Connect", f"client/{a.client_id}")
        for p in prof.subscribe:
            assert allowed(a.policies, "iot:Subscribe", "topicfilter/" + full(fill(p, mine)))
        for p in prof.publish:
            assert allowed(a.policies, "iot:Publish", "topic/" + full(concrete(fill(p, mine))))
        # (2) nothing in another identity's namespace
        for b in accepted:
            if b.key == a.key:
                continue
            theirs = {**b.claims, "client_id": b.client_id}
            bprof = spec.profiles[b.profile]
            for p in (*bprof.subscribe, *bprof.publish, *bprof.receive):
                names = set(PH.findall(p))
                if not names:
                    continue
                if all(mine.get(n) == theirs.get(n) for n in names) and not (
                    a.key.startswith("anonymous") or b.key.startswith("anonymous")
                ):
                    continue  # the same values: a shared namespace (e.g. one tenant)
                if "client_id" in names and a.client_id == b.client_id:
                    continue
                t = fill(p, theirs)
                for action, rtype, res in (
                    ("iot:Subscribe", "topicfilter/", t),
                    ("iot:Receive", "topic/", concrete(t)),
                    ("iot:Publish", "topic/", concrete(t)),
                ):
                    assert not allowed(a.policies, action, rtype + full(res)), (
                        f"{a.key} ({a.client_id}) may {action} {full(res)!r}, "
                        f"in the namespace {p!r} of {b.key} ({b.client_id})"
                    )
    return True


PROOF_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@PROOF_SETTINGS
@given(st.data())
def test_accepted_specs_keep_identities_apart(data: st.DataObject) -> None:
    spec_dict = data.draw(specs())
    assume(check(spec_dict, data.draw(relations(spec_dict))))  # a refused spec: no example


TAKEOVER = {
    "version": 1,
    "app": "demo",
    "stage": "dev",
    "claims": {"sub": {"max_length": 40, "charset": "opaque"}},
    "authorizer": {
        "mode": "hs256",
        "hs256": {"secret": {"env": "IOTWS_JWT_SECRET"}},
        "select": {"claim": "role", "values": {"p0": "p0"}},
        "public": {"profile": "guest"},
    },
    "profiles": {
        "p0": {"client_id": "{sub}-*", "subscribe": ["users/{sub}/#"]},
        "guest": {"client_id": "anon-*", "subscribe": ["server"]},
    },
}


def test_the_issue_takeover_is_a_counterexample_without_the_spec_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN the spec check switched off WHEN bob connects as bob-x-1 THEN the check of
    this file reports the takeover of user bob-x (the fourth injected bug)."""
    monkeypatch.setattr(spec_module, "_namespace_errors", lambda spec: [])
    chain = [
        ("p0", {"sub": "bob-x", "tenant": "t"}, "1"),
        ("p0", {"sub": "bob", "tenant": "t"}, "x-1"),
    ]
    spec = copy.deepcopy(TAKEOVER)
    spec["claims"]["tenant"] = {"max_length": 8, "charset": "word"}
    with pytest.raises(AssertionError, match="is accepted for"):
        check(spec, chain)


def _variant(charset: str, rule: str, guest_subscribe: list[str]) -> dict[str, Any]:
    spec = copy.deepcopy(TAKEOVER)
    spec["claims"]["sub"]["charset"] = charset
    spec["claims"]["tenant"] = {"max_length": 8, "charset": "word"}
    spec["profiles"]["p0"]["client_id"] = rule
    spec["profiles"]["guest"]["subscribe"] = guest_subscribe
    return spec


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(_variant("opaque", "{sub}-*", ["server"]), id="bob-takes-bob-x"),
        pytest.param(_variant("word", "{sub}-*", ["server"]), id="user-anon-takes-guests"),
        pytest.param(_variant("word", "{sub}*", ["server"]), id="sub-star"),
        pytest.param(_variant("word", "u-{sub}-*", ["users/+/#"]), id="guest-reads-users"),
        pytest.param(_variant("word", "u-{sub}-*", ["users/anon/#"]), id="user-named-anon"),
    ],
)
def test_the_search_finds_the_collision_without_the_spec_check(
    monkeypatch: pytest.MonkeyPatch, spec: dict[str, Any]
) -> None:
    """With the static rule off, the random search (no hand-picked pair) must find a
    counterexample on each spec of the issue: the proof fails when the rule is broken."""
    monkeypatch.setattr(spec_module, "_namespace_errors", lambda spec: [])

    @settings(max_examples=300, deadline=None, database=None, phases=[Phase.generate])
    @given(relations(spec))
    def search(chain: list[tuple[str, dict[str, str], str]]) -> None:
        check(spec, chain)

    with pytest.raises(AssertionError):
        search()


def test_each_collision_spec_is_refused_by_the_spec_check() -> None:
    for spec in (
        _variant("opaque", "{sub}-*", ["server"]),
        _variant("word", "{sub}-*", ["server"]),
        _variant("word", "{sub}*", ["server"]),
        _variant("word", "u-{sub}-*", ["users/+/#"]),
        _variant("word", "u-{sub}-*", ["users/anon/#"]),
    ):
        with pytest.raises(IotwsError):
            spec_module.parse_spec(yaml.safe_dump(spec))
    spec_module.parse_spec(yaml.safe_dump(_variant("word", "u-{sub}-*", ["server"])))


def test_the_search_finds_a_takeover_when_the_authorizer_ignores_charsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run-time half: with the authorizer accepting any identity-charset value for a
    `word` claim, user `bob` can take `bob-x-1`; the search must find it."""
    original = identity.safe_value

    def ignores_claim_charsets(value: Any, cfg: Any, max_length: int, pattern: Any = None) -> bool:
        return bool(original(value, cfg, max_length))

    monkeypatch.setattr(identity, "safe_value", ignores_claim_charsets)
    spec = _variant("word", "u-{sub}-*", ["server"])

    @settings(max_examples=300, deadline=None, database=None, phases=[Phase.generate])
    @given(relations(spec))
    def search(chain: list[tuple[str, dict[str, str], str]]) -> None:
        check(spec, chain)

    with pytest.raises(AssertionError, match="is accepted for"):
        search()
