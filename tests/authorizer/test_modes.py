"""Modes (public, hs256, jwks), the anonymous fallback, configuration errors, fail closed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

# ------------------------------------------------------------------ public mode


def test_public_mode_allows_the_guest_profile(
    make_authorizer: Any, public: dict[str, Any], event: Any, valid: Any
) -> None:
    authorizer = make_authorizer(public)
    response = authorizer(event("wss_anonymous.json"))
    valid(response, allowed=True)
    assert authorizer.last_log["profile"] == "guest"
    assert authorizer.last_log["mode"] == "public"
    assert "client/anon-3f2a9c" in json.dumps(response)


def test_public_mode_ignores_tokens(
    make_authorizer: Any, public: dict[str, Any], simple: Any, valid: Any
) -> None:
    authorizer = make_authorizer(public)
    valid(authorizer(simple("garbage.token.here", client_id="anon-1")), allowed=True)
    valid(authorizer(simple("x" * 100_000, client_id="anon-1")), allowed=True)


@pytest.mark.parametrize("client_id", ["alice-1", "anon-", "anon-+", "anon-#", "$anon-1", None])
def test_public_mode_enforces_the_client_id_rule(
    make_authorizer: Any, public: dict[str, Any], simple: Any, valid: Any, client_id: Any
) -> None:
    authorizer = make_authorizer(public)
    valid(authorizer(simple(client_id=client_id)), allowed=False)
    assert authorizer.reason == ("missing_client_id" if client_id is None else "bad_client_id")


def test_public_principal_differs_per_client(
    make_authorizer: Any, public: dict[str, Any], simple: Any
) -> None:
    authorizer = make_authorizer(public)
    a = authorizer(simple(client_id="anon-a"))["principalId"]
    b = authorizer(simple(client_id="anon-b"))["principalId"]
    assert a != b


# ------------------------------------------------------------------ anonymous fallback


def test_no_token_falls_back_to_the_public_profile(authorizer: Any, event: Any, valid: Any) -> None:
    response = authorizer(event("wss_anonymous.json"))
    valid(response, allowed=True)
    assert authorizer.last_log["reason"] == "anonymous"
    assert authorizer.last_log["profile"] == "guest"


def test_no_token_and_no_fallback_is_denied(
    make_authorizer: Any, config: dict[str, Any], event: Any, valid: Any
) -> None:
    config["public_profile"] = None
    authorizer = make_authorizer(config)
    valid(authorizer(event("wss_anonymous.json")), allowed=False)
    assert authorizer.reason == "no_token"


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.e30."],
)
def test_invalid_token_is_never_downgraded_to_guest(
    authorizer: Any, simple: Any, valid: Any, token: str
) -> None:
    # GIVEN a client that qualifies for the guest profile (client id anon-*)
    # WHEN it presents an invalid token
    response = authorizer(simple(token, client_id="anon-1"))
    # THEN deny: a present-but-invalid token is never a guest
    valid(response, allowed=False)
    assert authorizer.reason != "anonymous"


def test_expired_token_is_never_downgraded_to_guest(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    valid(authorizer(simple(mint(exp=1), client_id="anon-1")), allowed=False)
    assert authorizer.reason == "expired"


def test_anonymous_client_must_pass_the_guest_client_id_rule(
    authorizer: Any, simple: Any, valid: Any
) -> None:
    valid(authorizer(simple(client_id="u-alice-1")), allowed=False)
    assert authorizer.reason == "bad_client_id"


# ------------------------------------------------------------------ jwks extension point


def test_jwks_mode_without_its_module_denies(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    config["mode"] = "jwks"
    del config["hs256"]
    config["jwks"] = {"url": "https://auth.example.com/.well-known/jwks.json"}
    authorizer = make_authorizer(config)
    for ev in (simple(mint()), simple(client_id="anon-1")):
        valid(authorizer(ev), allowed=False)
        assert authorizer.reason == "config_error"
        assert "jwks" in authorizer.last_log["detail"]


def test_a_verifier_module_plugs_into_the_registry(
    make_authorizer: Any,
    config: dict[str, Any],
    simple: Any,
    valid: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The extension point: a module with parse_settings/verify under the mode's name.
    import sys
    import types

    from iotws_authorizer.errors import Deny

    module = types.ModuleType("iotws_authorizer.jwks")
    module.parse_settings = lambda raw: raw["jwks"]  # type: ignore[attr-defined]

    def verify(token: str, settings: Any) -> tuple[dict[str, Any], str | None]:
        if token != settings["accept"]:
            raise Deny("bad_signature")
        return {"sub": "carol"}, "carol"

    module.verify = verify  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "iotws_authorizer.jwks", module)
    config["mode"] = "jwks"
    del config["hs256"]  # a section of another mode is refused
    config["jwks"] = {"accept": "good"}  # the mode's own section: its module's to check
    authorizer = make_authorizer(config)
    valid(authorizer(simple("good", client_id="u-carol-1")), allowed=True)
    assert authorizer.last_log["mode"] == "jwks"
    valid(authorizer(simple("bad", client_id="u-carol-1")), allowed=False)
    assert authorizer.reason == "bad_signature"


# ------------------------------------------------------------------ configuration errors


def _break(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(cfg: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = cfg
        for key in parents:
            node = node[key]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value

    return apply


CONFIG_BREAKS = [
    ("version 2", _break("version", 2)),
    ("unknown mode", _break("mode", "oauth")),
    ("no token section", _break("token", KeyError)),
    ("bad key name", _break("token.key_name", "to ken")),
    ("unknown source", _break("token.sources", ["token", "cookie"])),
    ("refresh too short", _break("session.refresh_after_seconds", 299)),
    ("disconnect too long", _break("session.disconnect_after_seconds", 86401)),
    ("duration a boolean", _break("session.refresh_after_seconds", True)),
    ("bad charset regex", _break("identity.charset", "[")),
    ("client id limit too high", _break("identity.client_id_max_bytes", 129)),
    ("unknown default profile", _break("selection.default", "nobody")),
    ("unknown selected profile", _break("selection.values", {"x": "nobody"})),
    ("no selection in a token mode", _break("selection", None)),
    ("unknown public profile", _break("public_profile", "nobody")),
    ("no hs256 section", _break("hs256", KeyError)),
    ("unknown secret source", _break("hs256.secret.source", "vault")),
    ("leeway too large", _break("hs256.leeway_seconds", 301)),
    ("empty subject claim", _break("hs256.subject_claim", "")),
    ("unknown slot", _break("profiles.guest.documents", ['{"a":"${iotws:secret}"}'])),
    ("undeclared claim", _break("profiles.guest.client_id.template", "${iotws:claim.role}-")),
    ("malformed slot", _break("profiles.guest.documents", ['{"a":"${iotws:sub"}'])),
    ("document not JSON", _break("profiles.guest.documents", ["{"])),
    ("document not an object", _break("profiles.guest.documents", ["[]"])),
    ("no documents", _break("profiles.guest.documents", [])),
    ("template uses client id", _break("profiles.guest.client_id.template", "${iotws:client_id}")),
    ("template outside charset", _break("profiles.guest.client_id.template", "anon/")),
    ("region invalid", _break("region", "Mars")),
    ("account invalid", _break("account", "12")),
]


@pytest.mark.parametrize("apply", [b for _, b in CONFIG_BREAKS], ids=[n for n, _ in CONFIG_BREAKS])
def test_bad_configuration_denies_everything(
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    apply: Callable[[dict[str, Any]], None],
) -> None:
    apply(config)
    authorizer = make_authorizer(config)
    for ev in (simple(mint()), simple(client_id="anon-1")):
        valid(authorizer(ev), allowed=False)
        assert authorizer.reason == "config_error"


def test_public_profile_with_claims_is_a_config_error(
    make_authorizer: Any, config: dict[str, Any], simple: Any, valid: Any
) -> None:
    config["public_profile"] = "user"
    authorizer = make_authorizer(config)
    valid(authorizer(simple(client_id="anon-1")), allowed=False)
    assert authorizer.reason == "config_error"


@pytest.mark.parametrize("text", ["", "{", "[]", "null"])
def test_unreadable_configuration_denies(
    make_authorizer: Any, simple: Any, valid: Any, text: str
) -> None:
    authorizer = make_authorizer(text)
    response = authorizer(simple(client_id="anon-1"))
    valid(response, allowed=False)
    assert authorizer.reason == "config_error"
    assert response["refreshAfterInSeconds"] == 300


def test_missing_configuration_file_denies(
    make_authorizer: Any,
    config: dict[str, Any],
    simple: Any,
    valid: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    authorizer = make_authorizer(config)
    monkeypatch.setenv("IOTWS_CONFIG", str(tmp_path / "absent.json"))
    import iotws_authorizer

    iotws_authorizer.reset()
    from iotws_authorizer import log

    log.set_sink(lambda line: authorizer.logs.append(json.loads(line)))
    valid(authorizer(simple(client_id="anon-1")), allowed=False)
    assert authorizer.reason == "config_error"


def test_configuration_is_loaded_once_per_container(
    authorizer: Any, simple: Any, valid: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iotws_authorizer import config as config_module

    reads: list[int] = []
    real = config_module._read

    def counting() -> Any:
        reads.append(1)
        return real()

    monkeypatch.setattr(config_module, "_read", counting)
    for _ in range(5):
        valid(authorizer(simple(client_id="anon-1")), allowed=True)
    assert reads == [1]


def test_generated_configuration_keys_are_accepted(
    make_authorizer: Any, config: dict[str, Any], simple: Any, valid: Any
) -> None:
    # Keys of the schema that this authorizer does not use (signing_enabled) are accepted.
    config["signing_enabled"] = False
    authorizer = make_authorizer(config)
    valid(authorizer(simple(client_id="anon-1")), allowed=True)


# ------------------------------------------------------------------ fail closed


def test_any_exception_is_an_internal_error_deny(
    authorizer: Any,
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from iotws_authorizer import identity

    def boom(*args: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(identity, "documents", boom)
    valid(authorizer(simple(mint())), allowed=False)
    assert authorizer.reason == "internal_error"
    assert authorizer.last_log["detail"] == "RuntimeError"


def test_a_failing_log_sink_still_denies(
    authorizer: Any, simple: Any, valid: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iotws_authorizer import log

    def broken(line: str) -> None:
        raise OSError("disk full")

    log.set_sink(broken)
    valid(authorizer(simple("bad")), allowed=False)
    valid(authorizer(simple(client_id="anon-1")), allowed=False)  # even an allow fails closed


def test_durations_come_from_the_configuration(
    make_authorizer: Any, config: dict[str, Any], simple: Any, valid: Any
) -> None:
    config["session"] = {"refresh_after_seconds": 600, "disconnect_after_seconds": 7200}
    authorizer = make_authorizer(config)
    for ev in (simple(client_id="anon-1"), simple("bad")):
        response = authorizer(ev)
        valid(response)
        assert response["refreshAfterInSeconds"] == 600
        assert response["disconnectAfterInSeconds"] == 7200
