"""Namespaces that cannot collide: each collision an attacker found, refused at build time
with both profiles (or the template), a concrete pair of identities and a fix, and
nothing written; and the run-time half in the authorizer.

Every case here built (or was granted) before the namespace rules: they fail on that code.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from iotws.cli import main
from iotws.paths import lambda_src
from iotws.render.policies import render_spec
from iotws.spec.model import parse_spec

if str(lambda_src()) not in sys.path:
    sys.path.insert(0, str(lambda_src()))

from iotws_authorizer import config as az_config  # noqa: E402 - needs the path above

ROOT = Path(__file__).resolve().parents[2]

SEED: dict[str, Any] = {
    "version": 1,
    "app": "seed",
    "stage": "dev",
    "claims": {"sub": {"max_length": 40, "charset": "word"}},
    "authorizer": {
        "mode": "hs256",
        "hs256": {"secret": {"env": "IOTWS_JWT_SECRET"}},
        "public": {"profile": "guest"},
        "select": {"claim": "role", "values": {"user": "user"}, "default": "user"},
    },
    "profiles": {
        "guest": {"client_id": "anon-*", "subscribe": ["server"], "publish": ["client"]},
        "user": {
            "client_id": "u-{sub}-*",
            "subscribe": ["server", "users/{sub}/#"],
            "publish": ["client", "users/{sub}/out"],
        },
    },
}


def _spec(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(SEED)
    for path, value in changes.items():
        node = d
        keys = path.split("__")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return d


# (id, spec, field named, words the message must contain)
COLLISIONS: list[tuple[str, dict[str, Any], str, list[str]]] = [
    (
        "sub-dash-star takeover (bob as bob-x-1)",
        _spec(claims__sub__charset="opaque"),
        "profiles.user.client_id",
        ["{sub}", "'-'", "bob", "bob-x", "charset"],
    ),
    (
        "sub-star takeover",
        _spec(profiles__user__client_id="u-{sub}*"),
        "profiles.user.client_id",
        ["{sub}", "the * after it", "bob"],
    ),
    (
        "two placeholders touching",
        _spec(
            claims__tenant={"max_length": 20, "charset": "word"},
            profiles__user__client_id="u-{tenant}{sub}-*",
        ),
        "profiles.user.client_id",
        ["{tenant}", "placeholder after it"],
    ),
    (
        "composite with a separator the values contain",
        _spec(
            claims__tenant={"max_length": 20, "charset": "opaque"},
            profiles__user__client_id="u-{tenant}-{sub}-*",
        ),
        "profiles.user.client_id",
        ["{tenant}", "'-'"],
    ),
    (
        "guest anon-* against user {sub}-* (user anon)",
        _spec(profiles__user__client_id="{sub}-*"),
        "profiles.user.client_id",
        ["guest", "user", "'anon-*'", "'{sub}-*'", "sub 'anon'"],
    ),
    (
        "guest rule '*'",
        _spec(profiles__guest__client_id="*"),
        "profiles.guest.client_id",
        ["bare *", "anon-*"],
    ),
    (
        "adm-{sub}-* against {sub}-*",
        _spec(
            profiles__user__client_id="{sub}-*",
            profiles__guest__client_id="g.*",
            profiles__admin={"client_id": "adm-{sub}-*", "subscribe": ["server"]},
            authorizer__select={"claim": "role", "values": {"admin": "admin", "user": "user"}},
        ),
        "profiles.user.client_id",
        ["admin", "user", "sub 'adm'"],
    ),
    (
        "empty prefix with a leading wildcard",
        _spec(topic_prefix="", profiles__guest__subscribe=["+/+/#"]),
        "profiles.guest.subscribe[0]",
        ["topic_prefix is empty", "$aws"],
    ),
    (
        "guest wildcard into every user's channel",
        _spec(profiles__guest__subscribe=["users/+/#"]),
        "profiles.guest.subscribe[0]",
        ["user's subscribe namespace", "'users/{sub}/#'", "sub"],
    ),
    (
        "a shared literal equal to a user's sub",
        _spec(profiles__guest__publish=["users/public/out"]),
        "profiles.guest.publish[0]",
        ["namespace", "sub 'public'"],
    ),
    (
        "IoT's * crossing levels into a deeper namespace",
        _spec(
            profiles__guest__subscribe=["rooms/+/messages"],
            profiles__user__subscribe=["rooms/{sub}/private/messages"],
        ),
        "profiles.guest.subscribe[0]",
        ["rooms/{sub}/private/messages"],
    ),
    (
        "client id placeholder against a claim",
        _spec(
            profiles__guest__subscribe=["inbox/{client_id}"],
            profiles__user__subscribe=["inbox/{sub}"],
        ),
        "profiles.guest.subscribe[0]",
        ["inbox/{sub}", "client_id"],
    ),
    (
        "a public profile that tokens also select, with {sub}",
        _spec(
            authorizer__select={"claim": "role", "values": {"user": "user"}, "default": "guest"},
            profiles__guest__client_id="g-{sub}-*",
        ),
        "profiles.guest",
        ["anonymous profile", "tokens select"],
    ),
    (
        "a token profile without the subject in its client id",
        _spec(profiles__user__client_id="web-*"),
        "profiles.user.client_id",
        ["{sub}", "take over"],
    ),
]


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [pytest.param(s, f, w, id=i) for i, s, f, w in COLLISIONS],
)
def test_colliding_specs_are_refused_with_a_pair_and_a_fix(
    spec: dict[str, Any],
    field: str,
    words: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "access.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp_path / "build"
    assert main(["generate", "--spec", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{field}:" in err, err
    assert "(fix:" in err
    for word in words:
        assert word in err, (word, err)
    assert not out.exists(), "nothing may be written"


def test_the_seed_with_separated_namespaces_builds() -> None:
    render_spec(parse_spec(yaml.safe_dump(SEED)))


@pytest.mark.parametrize(
    "spec",
    [
        "examples/custom-authorizer/access.yaml",
        "examples/chat/access.yaml",
        "examples/cognito-unauth/access.yaml",
        "tests/generator/specs/rooms.yaml",
        "tests/generator/specs/public.yaml",
    ],
)
def test_a_spec_that_builds_is_a_spec_that_loads(spec: str, tmp_path: Path) -> None:
    """Every golden build's configuration is accepted by the authorizer's own parser."""
    out = tmp_path / "build"
    assert main(["generate", "--spec", str(ROOT / spec), "--out", str(out), "-q"]) == 0
    cfg_path = out / "authorizer" / "config.json"
    if cfg_path.exists():
        az_config.parse(json.loads(cfg_path.read_text()))


def test_golden_configurations_load() -> None:
    golden = sorted((ROOT / "tests/generator/golden").glob("*/authorizer/config.json"))
    assert len(golden) >= 3
    for path in golden:
        az_config.parse(json.loads(path.read_text()))


def test_a_spec_whose_public_profile_uses_claims_and_is_selected_does_not_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The old build wrote a configuration the authorizer refused at cold start (a total
    outage); the spec check refuses it now."""
    spec = _spec(
        authorizer__select={"claim": "role", "values": {"guest": "guest"}},
        profiles__guest__client_id="{sub}-*",
        profiles__guest__subscribe=["users/{sub}/#"],
    )
    spec["profiles"].pop("user")
    path = tmp_path / "access.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["package", "--spec", str(path), "--out", str(tmp_path / "a.zip")]) == 2
    assert "profiles.guest" in capsys.readouterr().err
    assert not (tmp_path / "a.zip").exists()


def test_rendered_claim_patterns_are_the_declared_charsets() -> None:
    result = render_spec(parse_spec(yaml.safe_dump(SEED)))
    claims = result.authorizer_config["claims"]
    assert claims["sub"] == {"charset": "word", "max_length": 40, "pattern": "[A-Za-z0-9_]+"}
    assert result.authorizer_config["selection"]["order"] == ["user"]


@pytest.mark.parametrize("exp", [1e400, -1e400, "nan", math.inf])
def test_infinite_or_non_numeric_exp_never_passes(exp: Any) -> None:
    from iotws_authorizer import hs256
    from iotws_authorizer.errors import Deny

    with pytest.raises(Deny):
        hs256.finite_claim({"exp": exp}, "exp")


def test_select_order_is_rendered_in_the_specs_order() -> None:
    spec = _spec(
        authorizer__select={"claim": "groups", "values": {"suspended": "guest2", "member": "user"}},
        profiles__guest2={"client_id": "s-{sub}-*", "subscribe": ["server"]},
    )
    result = render_spec(parse_spec(yaml.safe_dump(spec, sort_keys=False)))
    assert result.authorizer_config["selection"]["order"] == ["suspended", "member"]
