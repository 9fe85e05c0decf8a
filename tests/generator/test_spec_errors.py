"""Bad specs: a clear error naming the field and the fix, non-zero exit, nothing written."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from iotws.cli import main
from iotws.errors import SpecError
from iotws.spec.model import parse_spec

BASE: dict[str, Any] = {
    "version": 1,
    "app": "demo",
    "stage": "dev",
    "claims": {"sub": {"max_length": 64, "charset": "word"}},
    "authorizer": {
        "mode": "hs256",
        "hs256": {"secret": {"env": "SECRET"}},
        "select": {"claim": "role", "values": {"user": "user"}},
        "public": {"profile": "guest"},
    },
    "profiles": {
        "guest": {"client_id": "anon-*", "subscribe": ["server"], "publish": ["client"]},
        "user": {"client_id": "u-{sub}-*", "subscribe": ["users/{sub}/#"], "publish": ["x"]},
    },
}


def _set(d: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value


def _del(d: dict[str, Any], path: str) -> None:
    keys = path.split(".")
    for k in keys[:-1]:
        d = d[k]
    del d[keys[-1]]


# (id, mutation, field expected in the message, words expected in the message)
CASES: list[tuple[str, Any, str, str]] = [
    ("unknown top key", lambda d: _set(d, "profile", {}), "profile", "unknown key"),
    (
        "unknown nested key",
        lambda d: _set(d, "authorizer.sesion", {}),
        "authorizer.sesion",
        "unknown key",
    ),
    (
        "unknown profile key",
        lambda d: _set(d, "profiles.user.subscibe", ["a"]),
        "profiles.user.subscibe",
        "unknown key",
    ),
    ("missing version", lambda d: _del(d, "version"), "version", "required"),
    ("bad version", lambda d: _set(d, "version", 2), "version", ""),
    ("bad app", lambda d: _set(d, "app", "My-App"), "app", "not allowed"),
    ("bad mode", lambda d: _set(d, "authorizer.mode", "oauth"), "authorizer.mode", "not one of"),
    (
        "placeholder naming no claim",
        lambda d: _set(d, "profiles.user.publish", ["users/{email}/x"]),
        "profiles.user.publish[0]",
        "{email} names no claim",
    ),
    (
        "claim placeholder in anonymous profile",
        lambda d: _set(d, "profiles.guest.publish", ["u/{sub}"]),
        "profiles.guest.publish[0]",
        "{sub} names no claim",
    ),
    (
        "topic over 256 bytes",
        lambda d: _set(d, "profiles.user.publish", ["a" * 250]),
        "profiles.user.publish[0]",
        "256",
    ),
    (
        "topic over 256 with longest claim",
        lambda d: _set(d, "profiles.user.publish", ["u/{sub}/" + "b" * 190]),
        "profiles.user.publish[0]",
        "longest",
    ),
    (
        "topic over 7 slashes",
        lambda d: _set(d, "profiles.user.subscribe", ["a/b/c/d/e/f/g"]),
        "profiles.user.subscribe[0]",
        "slashes",
    ),
    (
        "hash not last",
        lambda d: _set(d, "profiles.user.subscribe", ["a/#/b"]),
        "profiles.user.subscribe[0]",
        "# must be",
    ),
    (
        "hash inside level",
        lambda d: _set(d, "profiles.user.subscribe", ["a/b#"]),
        "profiles.user.subscribe[0]",
        "# must be",
    ),
    (
        "plus inside level",
        lambda d: _set(d, "profiles.user.subscribe", ["a/b+/c"]),
        "profiles.user.subscribe[0]",
        "+ must be",
    ),
    (
        "dollar topic",
        lambda d: _set(d, "profiles.user.subscribe", ["$aws/things/x"]),
        "profiles.user.subscribe[0]",
        "starts with $",
    ),
    (
        "star in topic",
        lambda d: _set(d, "profiles.user.publish", ["a/*"]),
        "profiles.user.publish[0]",
        "wildcard in IoT policies",
    ),
    (
        "empty level",
        lambda d: _set(d, "profiles.user.publish", ["a//b"]),
        "profiles.user.publish[0]",
        "empty level",
    ),
    (
        "stray brace",
        lambda d: _set(d, "profiles.user.publish", ["a/{b"]),
        "profiles.user.publish[0]",
        "outside a placeholder",
    ),
    (
        "refresh too short",
        lambda d: _set(d, "authorizer.session", {"refresh_after_seconds": 60}),
        "authorizer.session.refresh_after_seconds",
        "out of range",
    ),
    (
        "disconnect too long",
        lambda d: _set(d, "authorizer.session", {"disconnect_after_seconds": 90000}),
        "authorizer.session.disconnect_after_seconds",
        "out of range",
    ),
    (
        "fixed client id",
        lambda d: _set(d, "profiles.guest.client_id", "web"),
        "profiles.guest.client_id",
        "DUPLICATE_CLIENTID",
    ),
    (
        "star inside client id",
        lambda d: _set(d, "profiles.guest.client_id", "a*b"),
        "profiles.guest.client_id",
        "only at the end",
    ),
    (
        "plus in client id",
        lambda d: _set(d, "profiles.guest.client_id", "a+*"),
        "profiles.guest.client_id",
        "may not have",
    ),
    (
        "select names no profile",
        lambda d: _set(d, "authorizer.select.values", {"x": "nobody"}),
        "authorizer.select.values.x",
        "names no profile",
    ),
    ("hs256 without secret", lambda d: _del(d, "authorizer.hs256"), "authorizer.hs256", "secret"),
    (
        "jwks section in mode hs256",
        lambda d: _set(
            d,
            "authorizer.jwks",
            {"preset": "cognito", "user_pool_id": "us-east-1_abc", "client_ids": ["c1"]},
        ),
        "authorizer.jwks",
        "only used in mode jwks",
    ),
    (
        "two secret sources",
        lambda d: _set(d, "authorizer.hs256.secret", {"env": "A", "ssm_parameter": "/b"}),
        "authorizer.hs256.secret",
        "exactly one",
    ),
    (
        "grants nothing",
        lambda d: _set(d, "profiles.guest", {"client_id": "anon-*"}),
        "profiles.guest",
        "grants nothing",
    ),
    ("dollar prefix", lambda d: _set(d, "topic_prefix", "$aws"), "topic_prefix", "starts with $"),
    (
        "account not quoted",
        lambda d: _set(d, "aws", {"account": 123456789012}),
        "aws.account",
        "type",
    ),
    (
        "token key name",
        lambda d: _set(d, "authorizer.token", {"key_name": "a b"}),
        "authorizer.token.key_name",
        "not allowed",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "field", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_spec(
    case: str,
    mutate: Any,
    field: str,
    words: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = copy.deepcopy(BASE)
    mutate(data)
    spec = tmp_path / "access.yaml"
    spec.write_text(yaml.safe_dump(data))
    out = tmp_path / "build"
    rc = main(["generate", "--spec", str(spec), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"{field}:" in err, err
    assert words in err, err
    assert "fix:" in err or case in ("bad version",), err
    assert "Traceback" not in err
    assert not out.exists(), "a bad spec must write nothing"


def test_base_is_valid() -> None:
    parse_spec(yaml.safe_dump(BASE))


def test_all_errors_reported_at_once() -> None:
    data = copy.deepcopy(BASE)
    data["profiles"]["user"]["publish"] = ["a/#/b", "c/d+"]
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(data))
    assert len(e.value.errors) == 2


def test_not_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text("version: 1\n  app: [x\n")
    assert main(["generate", "--spec", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert "not valid YAML at line" in capsys.readouterr().err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--spec", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)]) == 2
    assert "--spec: no such file" in capsys.readouterr().err


def test_failed_generate_keeps_previous_output(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(BASE))
    out = tmp_path / "build"
    assert main(["generate", "--spec", str(good), "--out", str(out), "-q"]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = copy.deepcopy(BASE)
    bad["profiles"]["user"]["publish"] = ["a/#/b"]
    good.write_text(yaml.safe_dump(bad))
    assert main(["generate", "--spec", str(good), "--out", str(out)]) == 2
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert before == after
