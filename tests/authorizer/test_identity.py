"""Identity values, the client-id rule, profile selection, slots and sizes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from iotws.policy.evaluator import PolicySet, Request

REGION, ACCOUNT = "eu-west-1", "123456789012"  # from the conftest's function ARN


def _arn(kind: str, name: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:iot:{region}:{account}:{kind}/{name}"


def _decide(docs: list[dict[str, Any]], action: str, resource: str) -> str:
    return PolicySet.from_documents(docs).evaluate(Request(action=action, resource=resource)).result


HOSTILE_SUBJECTS = [
    "+",
    "#",
    "*",
    "?",
    "a/b",
    "$x",
    "x" * 200,
    "x" * 65,  # claims.sub.max_length is 64
    "élan",
    "",
    '"quoted"',
    "back\\slash",
    "a b",
    "tab\tx",
    "line\nx",
    "nul\x00x",
    "${iotws:client_id}",
    "{sub}",
    "alice\u200b",  # zero-width space
    "ａｌｉｃｅ",  # full-width letters
]


@pytest.mark.parametrize("sub", HOSTILE_SUBJECTS)
def test_hostile_subjects_are_denied(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any, sub: str
) -> None:
    # GIVEN a correctly signed token whose subject would be substituted into topics
    token = mint(sub=sub)
    # WHEN the client connects with an id that even starts with that subject
    response = authorizer(simple(token, client_id=f"{sub}-1"))
    # THEN deny: the value never reaches a policy
    valid(response, allowed=False)
    assert authorizer.reason == "bad_identity"


@pytest.mark.parametrize("sub", [5, 5.5, True, None, ["alice"], {"a": 1}])
def test_non_string_subjects_are_denied(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any, sub: Any
) -> None:
    token = mint(sub=sub)  # None: no sub claim at all
    valid(authorizer(simple(token, client_id="x-1")), allowed=False)
    assert authorizer.reason == "bad_identity"


@pytest.mark.parametrize(
    ("charset", "sub"),
    [
        ("word", "alice"),
        ("word", "a"),
        ("word", "A_z_0_9"),
        ("word", "x" * 64),
        ("opaque", "A-z_0.9:x@y=z|w"),
        ("opaque", "user@example.com"),
        ("opaque", "auth0|12345"),
        ("opaque", "x" * 64),
    ],
)
def test_allowed_subject_characters(
    make_authorizer: Any,
    config: dict[str, Any],
    opaque: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    charset: str,
    sub: str,
) -> None:
    # `sub` is a word in specs/hs256.yaml (client id u-{sub}-*) and opaque in
    # specs/opaque.yaml (client id u-{sub}: nothing may follow an opaque value)
    if charset == "word":
        authorizer, client_id = make_authorizer(config), f"u-{sub}-c"
    else:
        authorizer, client_id = make_authorizer(opaque), f"u-{sub}"
    response = authorizer(simple(mint(sub=sub), client_id=client_id))
    valid(response, allowed=True)
    docs = response["policyDocuments"]
    assert (
        _decide(docs, "iot:Subscribe", _arn("topicfilter", f"demo/dev/users/{sub}/#")) == "ALLOWED"
    )


# The user profile's rule is u-{sub}-* (specs/hs256.yaml); the token's sub is alice.
CLIENT_IDS: list[tuple[str, Any, bool]] = [
    ("prefix and suffix", "u-alice-1", True),
    ("long suffix", "u-alice-" + "x" * 120, True),  # 128 bytes
    ("too long", "u-alice-" + "x" * 121, False),  # 129 bytes
    ("nothing after the prefix", "u-alice-", False),
    ("prefix only", "u-alice", False),
    ("someone else", "u-bob-1", False),
    ("prefix of another subject", "u-alice2-1", False),
    ("mqtt wildcard +", "u-alice-+", False),
    ("mqtt wildcard #", "u-alice-#", False),
    ("policy wildcard *", "u-alice-*", False),
    ("slash", "u-alice-a/b", False),
    ("leading dollar", "$u-alice-1", False),
    ("dollar inside", "u-alice-$1", False),
    ("non-ASCII", "u-alice-é", False),
    ("newline", "u-alice-1\n", False),
    ("space", "u-alice- 1", False),
    ("empty", "", False),
    ("number", 42, False),
    ("null in list", [None], False),
]


@pytest.mark.parametrize(
    ("client_id", "ok"), [(c, o) for _, c, o in CLIENT_IDS], ids=[n for n, _, _ in CLIENT_IDS]
)
def test_client_id_rule_wildcard(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any, client_id: Any, ok: bool
) -> None:
    response = authorizer(simple(mint(), client_id=client_id))
    valid(response, allowed=ok)
    if ok:
        docs = response["policyDocuments"]
        # Connect is bound to the exact id that passed, never a wildcard
        # (docs/iot-policies.md#matching)
        assert _decide(docs, "iot:Connect", _arn("client", client_id)) == "ALLOWED"
        assert _decide(docs, "iot:Connect", _arn("client", "u-alice-other")) == "IMPLICIT_DENY"
    else:
        assert authorizer.reason == "bad_client_id"


@pytest.mark.parametrize(("client_id", "ok"), [("admin-alice", True), ("admin-alice1", False)])
def test_client_id_rule_exact(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any, client_id: str, ok: bool
) -> None:
    response = authorizer(simple(mint(role="admin"), client_id=client_id))
    valid(response, allowed=ok)
    assert authorizer.last_log["profile"] == ("admin" if ok else None)


def test_missing_client_id_is_denied_in_every_mode(
    make_authorizer: Any,
    config: dict[str, Any],
    public: dict[str, Any],
    mint: Callable[..., str],
    event: Any,
    valid: Any,
) -> None:
    # HTTPS publish has no MQTT client id: Connect cannot be bound (deny, by design)
    for cfg in (config, public):
        authorizer = make_authorizer(cfg)
        valid(authorizer(event("https_publish.json", mint())), allowed=False)
        assert authorizer.reason == "missing_client_id"


# ------------------------------------------------------------------ selection


@pytest.mark.parametrize(
    ("role", "client_id", "profile"),
    [
        ("admin", "admin-alice", "admin"),
        (["viewer", "admin"], "admin-alice", "admin"),
        ("viewer", "u-alice-1", "user"),
        (None, "u-alice-1", "user"),
        (7, "u-alice-1", "user"),
        ([7, {"x": 1}], "u-alice-1", "user"),
    ],
)
def test_profile_selection(
    authorizer: Any,
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    role: Any,
    client_id: str,
    profile: str,
) -> None:
    valid(authorizer(simple(mint(role=role), client_id=client_id)), allowed=True)
    assert authorizer.last_log["profile"] == profile


def test_profile_follows_the_specs_order_not_the_tokens(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any
) -> None:
    """GIVEN a token whose role list holds two selected values WHEN authorized THEN the
    first of the spec's values wins, whatever the order of the token's list (a token
    [member, suspended] cannot escape the suspended profile by reordering)."""
    config["selection"]["values"] = {"admin": "admin", "member": "user"}
    config["selection"]["order"] = ["admin", "member"]
    authorizer = make_authorizer(config)
    for roles in (["member", "admin"], ["admin", "member"]):
        authorizer(simple(mint(role=roles), client_id="admin-alice"))
        assert authorizer.last_log["profile"] == "admin", roles
    config["selection"]["values"] = {"member": "user", "admin": "admin"}
    config["selection"]["order"] = ["member", "admin"]
    authorizer = make_authorizer(config)
    for roles in (["member", "admin"], ["admin", "member"]):
        authorizer(simple(mint(role=roles), client_id="u-alice-1"))
        assert authorizer.last_log["profile"] == "user", roles


def test_selection_order_must_name_every_value(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    config["selection"]["values"] = {"admin": "admin", "member": "user"}
    config["selection"]["order"] = ["admin"]
    authorizer = make_authorizer(config)
    valid(authorizer(simple(mint(role="admin"), client_id="admin-alice")), allowed=False)
    assert authorizer.last_log["reason"] == "config_error"


def test_selection_by_a_list_of_claims(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    config["selection"]["claim"] = ["groups", "role"]
    authorizer = make_authorizer(config)
    valid(authorizer(simple(mint(groups=["admin"]), client_id="admin-alice")), allowed=True)
    valid(authorizer(simple(mint(role="admin"), client_id="admin-alice")), allowed=True)


def test_no_match_without_default_is_denied(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    config["selection"]["default"] = None
    authorizer = make_authorizer(config)
    valid(authorizer(simple(mint(role="viewer"))), allowed=False)
    assert authorizer.reason == "no_profile"


# ------------------------------------------------------------------ region and account


def test_region_and_account_from_the_function_arn(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    response = authorizer(simple(mint()))
    valid(response, allowed=True)
    text = json.dumps(response["policyDocuments"])
    assert f"arn:aws:iot:{REGION}:{ACCOUNT}:client/u-alice-1" in text


def test_region_and_account_from_an_aliased_function_arn(
    authorizer: Any, lambda_context: Any, mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    lambda_context.invoked_function_arn = (
        "arn:aws:lambda:ap-southeast-2:210987654321:function:f:live"
    )
    response = authorizer(simple(mint()), lambda_context)
    valid(response, allowed=True)
    assert "arn:aws:iot:ap-southeast-2:210987654321:client/u-alice-1" in json.dumps(response)


def test_configured_region_and_account_win(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    config.update(region="us-west-2", account="111122223333")
    authorizer = make_authorizer(config)
    response = authorizer(simple(mint()), None)  # no context needed at all
    valid(response, allowed=True)
    assert "arn:aws:iot:us-west-2:111122223333:client/u-alice-1" in json.dumps(response)


@pytest.mark.parametrize(
    "arn",
    [
        None,
        "",
        "arn:aws:lambda:eu-west-1:12345:function:f",
        "arn:aws:lambda:EU-WEST-1:123456789012:function:f",
        "arn:aws:s3:eu-west-1:123456789012:function:f",
        "arn:aws:lambda:eu-west-1:123456789012",
        "arn:aws:lambda:eu-west-1:${x}:function:f",
    ],
)
def test_unknown_region_or_account_is_denied(
    authorizer: Any,
    lambda_context: Any,
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    arn: Any,
) -> None:
    lambda_context.invoked_function_arn = arn
    valid(authorizer(simple(mint()), lambda_context), allowed=False)
    assert authorizer.reason == "config_error"


def test_no_context_is_denied_when_region_is_needed(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    valid(authorizer(simple(mint()), None), allowed=False)
    assert authorizer.reason == "config_error"


# ------------------------------------------------------------------ sizes


def _padded_profile(filler: int) -> dict[str, Any]:
    resource = "arn:aws:iot:${iotws:region}:${iotws:account}:topic/" + "p" * filler
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "x/${iotws:client_id}"},
            {
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": resource + "/${iotws:claim.sub}",
            },
        ],
    }
    return {
        "client_id": {"template": "u-${iotws:claim.sub}-", "wildcard": True},
        "documents": [json.dumps(doc, separators=(",", ":"))],
    }


def test_document_over_2048_characters_after_filling_is_denied(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    # GIVEN a document that fits with a short subject but not with a 64-character one
    config["profiles"]["user"] = _padded_profile(1800)
    authorizer = make_authorizer(config)
    short = authorizer(simple(mint(sub="al"), client_id="u-al-1"))
    valid(short, allowed=True)
    long_sub = "a" * 64
    response = authorizer(simple(mint(sub=long_sub), client_id=f"u-{long_sub}-1"))
    valid(response, allowed=False)
    assert authorizer.reason == "policy_too_large"


def test_eleven_documents_is_a_config_error(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    config["profiles"]["user"]["documents"] *= 11
    authorizer = make_authorizer(config)
    valid(authorizer(simple(mint())), allowed=False)
    assert authorizer.reason == "config_error"


def test_ten_documents_are_returned_as_objects(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    config["profiles"]["user"]["documents"] *= 10
    authorizer = make_authorizer(config)
    response = authorizer(simple(mint()))
    valid(response, allowed=True)
    assert len(response["policyDocuments"]) == 10


def test_whitespace_in_configured_documents_is_compacted(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    doc = json.loads(config["profiles"]["user"]["documents"][0])
    config["profiles"]["user"]["documents"] = [json.dumps(doc, indent=4)]
    authorizer = make_authorizer(config)
    response = authorizer(simple(mint()))
    valid(response, allowed=True)


# ------------------------------------------------------------------ principal


def test_principal_id_is_a_hash_never_the_user_name(
    authorizer: Any, mint: Callable[..., str], event: Any, valid: Any
) -> None:
    response = authorizer(event("mqtt_password.json", mint()))
    valid(response, allowed=True)
    principal = response["principalId"]
    assert len(principal) == 32 and "alice" not in principal
    other = authorizer(event("mqtt_password.json", mint(sub="bob"), clientId="u-bob-1"))
    assert other["principalId"] != principal
    again = authorizer(event("mqtt_token_field.json", mint()))
    assert again["principalId"] == principal  # same subject and profile: same principal


# ------------------------------------------------------------------ defence in depth


@pytest.mark.parametrize("sub", ["+", "#", "*", "a/b", "$x", '"', "\\", "{x}", "a b", "é", "\x7f"])
def test_fixed_guard_holds_even_with_a_permissive_charset(
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    sub: str,
) -> None:
    # GIVEN a (buggy) configuration whose identity charset accepts anything
    config["identity"]["charset"] = "(?s:.+)"
    authorizer = make_authorizer(config)
    # THEN wildcards, `$`, JSON escapes, slot syntax and non-ASCII are still refused
    valid(authorizer(simple(mint(sub=sub), client_id=f"{sub}-1")), allowed=False)
    assert authorizer.reason == "bad_identity"
    valid(authorizer(simple(mint(), client_id=f"u-alice-{sub}")), allowed=False)
    assert authorizer.reason == "bad_client_id"


def test_charset_is_a_full_match_not_a_search(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    # "^...$" would accept a trailing newline with re.match/search; fullmatch does not.
    valid(authorizer(simple(mint(sub="alice\n"), client_id="u-alice-1")), allowed=False)
    assert authorizer.reason == "bad_identity"


def test_unfilled_slot_is_a_deny() -> None:
    from iotws_authorizer import identity
    from iotws_authorizer.errors import Deny

    with pytest.raises(Deny) as err:
        identity.fill_text('{"a":"${iotws:claim.sub}"}', {"${iotws:client_id}": "c"})
    assert err.value.reason == "config_error"


def test_declared_claims_are_checked_even_when_the_profile_does_not_use_them(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    # GIVEN the admin profile, whose documents do not use {sub}
    config["profiles"]["admin"]["client_id"] = {"template": "admin-", "wildcard": True}
    authorizer = make_authorizer(config)
    # THEN a hostile declared claim is still a deny, an absent one is fine
    valid(authorizer(simple(mint(sub="+", role="admin"), client_id="admin-1")), allowed=False)
    assert authorizer.reason == "bad_identity"
    valid(authorizer(simple(mint(sub=None, role="admin"), client_id="admin-1")), allowed=True)


@pytest.mark.parametrize(
    ("pattern", "sub", "allowed"),
    [
        ("[A-Za-z0-9_]+", "bob", True),
        ("[A-Za-z0-9_]+", "bob-x", False),  # "-" would run into the template's "-"
        ("[A-Za-z0-9_]+", "bob.x", False),
        ("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "alice", False),
    ],
)
def test_claim_values_outside_their_declared_charset_are_denied(
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    pattern: str,
    sub: str,
    allowed: bool,
) -> None:
    """The run-time half of self-delimiting templates: a value is checked against its
    claim's declared set (full match) before anything is substituted."""
    config["claims"]["sub"]["pattern"] = pattern
    authorizer = make_authorizer(config)
    valid(authorizer(simple(mint(sub=sub), client_id=f"u-{sub}-1")), allowed=allowed)
    if not allowed:
        assert authorizer.reason == "bad_identity"


def test_a_claim_without_a_pattern_is_a_config_error(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    del config["claims"]["sub"]["pattern"]
    authorizer = make_authorizer(config)
    valid(authorizer(simple(mint(), client_id="u-alice-1")), allowed=False)
    assert authorizer.reason == "config_error"
