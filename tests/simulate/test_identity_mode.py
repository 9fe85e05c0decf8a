"""`iotws simulate --build`: the policies an identity really gets, filled by the
authorizer's own code, give ALLOWED for every grant of the spec; `--policy` warns about
every policy variable it leaves unresolved."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from iotws.build import generate
from iotws.cli import main
from iotws.paths import examples_dir, repo_root
from iotws.spec.model import Profile, load_spec

SPECS = {
    "custom-authorizer": examples_dir() / "custom-authorizer" / "access.yaml",
    "chat": examples_dir() / "chat" / "access.yaml",
    "rooms": repo_root() / "tests" / "generator" / "specs" / "rooms.yaml",
}


def _ids(spec: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Two identities whose claims fit the spec's declared character sets."""
    a = {"sub": "alice", "tenant": "acme"}
    b = {"sub": "bob", "tenant": "umbrella"}
    if spec.claim_charsets.get("sub") == "uuid":
        a["sub"] = "0f1e2d3c-4b5a-4697-8899-aabbccddeeff"
        b["sub"] = "aaaaaaaa-4b5a-4697-8899-aabbccddeeff"
    return a, b


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["simulate", *argv])
    out, err = capsys.readouterr()
    return rc, out.strip(), err


def _fill(pattern: str, claims: dict[str, str], client_id: str) -> str:
    text = pattern.replace("{client_id}", client_id)
    for name, value in claims.items():
        text = text.replace("{" + name + "}", value)
    assert "{" not in text, text
    return text


def _topic(pattern: str) -> str:
    """A concrete topic that an MQTT filter matches."""
    return "/".join(
        {"+": "room1", "#": "deep/er"}.get(level, level) for level in pattern.split("/")
    )


def _client_id(profile: Profile, claims: dict[str, str]) -> str:
    base = _fill(profile.client_id.rstrip("*"), claims, "")
    return base + "tab1" if profile.client_id.endswith("*") else base


def _claims_args(spec_claims: dict[str, int], claims: dict[str, str]) -> list[str]:
    return [arg for name in spec_claims for arg in ("--claim", f"{name}={claims[name]}")]


def _grants(spec_path: Path) -> list[tuple[str, str, str, str]]:
    """(spec, profile, action, short resource) for every grant of every profile."""
    spec = load_spec(spec_path)
    IDENTITY, _ = _ids(spec)
    out: list[tuple[str, str, str, str]] = []
    for name, profile in spec.profiles.items():
        cid = _client_id(profile, IDENTITY)
        full = (lambda t: f"{spec.prefix}/{t}") if spec.prefix else (lambda t: t)
        out.append((name, "iot:Connect", f"client/{cid}", cid))
        for pattern in profile.subscribe:
            out.append(
                (name, "iot:Subscribe", "topicfilter/" + full(_fill(pattern, IDENTITY, cid)), cid)
            )
        for pattern in profile.receive:
            out.append(
                (name, "iot:Receive", "topic/" + _topic(full(_fill(pattern, IDENTITY, cid))), cid)
            )
        for pattern in profile.publish:
            out.append(
                (name, "iot:Publish", "topic/" + _topic(full(_fill(pattern, IDENTITY, cid))), cid)
            )
    return [(str(spec_path), *g) for g in out]


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for key, spec in SPECS.items():
        out[str(spec)] = tmp_path_factory.mktemp(key)
        generate(spec, out[str(spec)])
    return out


CASES = [case for spec in SPECS.values() for case in _grants(spec)]


@pytest.mark.parametrize(
    ("spec", "profile", "action", "resource", "client_id"),
    CASES,
    ids=[f"{Path(c[0]).parent.name}/{Path(c[0]).stem}-{c[1]}-{c[2]}-{c[3]}" for c in CASES],
)
def test_every_grant_is_allowed_for_the_identity(
    builds: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    spec: str,
    profile: str,
    action: str,
    resource: str,
    client_id: str,
) -> None:
    model = load_spec(spec)
    rc, out, err = _run(
        capsys,
        "--build",
        str(builds[spec]),
        "--profile",
        profile,
        *_claims_args(model.claims, _ids(model)[0]),
        "--client-id",
        client_id,
        "--action",
        action,
        "--resource",
        resource,
        *(["--region", model.region, "--account", model.account] if model.region else []),
    )
    assert (rc, out) == (0, "ALLOWED"), err
    assert "warning" not in err


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))
def test_another_identitys_namespace_is_denied(
    builds: dict[str, Path], capsys: pytest.CaptureFixture[str], spec: Path
) -> None:
    """The same questions for identity A, asked about identity B's topics, are denied
    wherever B's topics differ from A's (so the ALLOWED above is not a blanket allow)."""
    model = load_spec(spec)
    IDENTITY, OTHER = _ids(model)
    for name, profile in model.profiles.items():
        cid = _client_id(profile, IDENTITY)
        other_cid = _client_id(profile, OTHER)
        full = (lambda t: f"{model.prefix}/{t}") if model.prefix else (lambda t: t)
        region = ["--region", model.region, "--account", model.account] if model.region else []
        for pattern in profile.subscribe:
            mine = full(_fill(pattern, IDENTITY, cid))
            theirs = full(_fill(pattern, OTHER, other_cid))
            if mine == theirs:
                continue
            rc, out, _ = _run(
                capsys,
                "--build",
                str(builds[str(spec)]),
                "--profile",
                name,
                *_claims_args(model.claims, IDENTITY),
                "--client-id",
                cid,
                "--action",
                "iot:Subscribe",
                "--resource",
                "topicfilter/" + theirs,
                *region,
            )
            assert (rc, out) == (0, "IMPLICIT_DENY"), (name, theirs)


def test_profile_is_picked_as_the_authorizer_picks_it(
    builds: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    build = str(builds[str(SPECS["custom-authorizer"])])
    # No claims: the public (guest) profile, bound to anon-*.
    rc, out, err = _run(
        capsys,
        "--build",
        build,
        "--client-id",
        "anon-1",
        "--action",
        "iot:Publish",
        "--resource",
        "topic/seed/dev/client",
    )
    assert (rc, out) == (0, "ALLOWED") and "profile guest" in err
    rc, out, err = _run(
        capsys,
        "--build",
        build,
        "--client-id",
        "anon-1",
        "--action",
        "iot:Subscribe",
        "--resource",
        "topicfilter/seed/dev/users/anon/#",
    )
    assert (rc, out) == (0, "IMPLICIT_DENY")
    # A token with sub=alice: the default profile user.
    rc, out, err = _run(
        capsys,
        "--build",
        build,
        "--claim",
        "sub=alice",
        "--client-id",
        "u-alice-1",
        "--action",
        "iot:Subscribe",
        "--resource",
        "topicfilter/seed/dev/users/alice/#",
    )
    assert (rc, out) == (0, "ALLOWED") and "profile user" in err


@pytest.mark.parametrize(
    ("claims", "client_id", "reason"),
    [
        (["--claim", "sub=alice"], "u-bob-1", "bad_client_id"),
        (["--claim", "sub=alice"], "u-alice-", "bad_client_id"),  # the suffix may not be empty
        (["--claim", "sub=al+ce"], "al+ce-1", "bad_identity"),  # a wildcard in a claim
        (["--claim", "sub=alice/x"], "alice/x-1", "bad_identity"),
    ],
)
def test_identities_the_authorizer_refuses_are_denied_with_its_reason(
    builds: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    claims: list[str],
    client_id: str,
    reason: str,
) -> None:
    build = str(builds[str(SPECS["custom-authorizer"])])
    rc, out, err = _run(
        capsys,
        "--build",
        build,
        *claims,
        "--client-id",
        client_id,
        "--action",
        "iot:Connect",
        "--resource",
        f"client/{client_id}",
    )
    assert (rc, out) == (0, "IMPLICIT_DENY")
    assert f"the authorizer refuses this identity ({reason}" in err


def test_identity_mode_json_shows_the_filled_documents(
    builds: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    build = str(builds[str(SPECS["custom-authorizer"])])
    rc, out, _ = _run(
        capsys,
        "--build",
        build,
        "--claim",
        "sub=alice",
        "--client-id",
        "u-alice-1",
        "--json",
        "--action",
        "iot:Connect",
        "--resource",
        "client/u-alice-1",
    )
    data = json.loads(out)
    assert data["result"] == "ALLOWED" and data["identity"]["profile"] == "user"
    text = json.dumps(data["identity"]["documents"])
    assert "${iotws:" not in text and "client/u-alice-1" in text
    assert "arn:aws:iot:us-east-1:123456789012:" in text


def test_cognito_guest_identity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate(examples_dir() / "cognito-unauth" / "access.yaml", tmp_path)
    me = "us-east-1:11111111-2222-3333-4444-555555555555"
    other = "us-east-1:99999999-8888-7777-6666-555555555555"
    base = ["--build", str(tmp_path), "--identity-id", me]
    for action, resource, expected in [
        ("iot:Connect", f"client/guest-{me}", "ALLOWED"),
        ("iot:Connect", f"client/guest-{other}", "IMPLICIT_DENY"),
        ("iot:Subscribe", f"topicfilter/guests/dev/guests/{me}/#", "ALLOWED"),
        ("iot:Receive", f"topic/guests/dev/guests/{me}/x", "ALLOWED"),
        ("iot:Receive", f"topic/guests/dev/guests/{other}/x", "IMPLICIT_DENY"),
        ("iot:Subscribe", "topicfilter/guests/dev/server", "ALLOWED"),
        ("iot:Publish", "topic/guests/dev/client", "ALLOWED"),
    ]:
        rc, out, err = _run(capsys, *base, "--action", action, "--resource", resource)
        assert (rc, out) == (0, expected), (action, resource, err)
        assert "warning" not in err


def test_plain_policy_warns_about_every_unresolved_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(SPECS["custom-authorizer"], tmp_path)
    policy = str(tmp_path / "policies" / "user" / "policy-01.json")
    rc, out, err = _run(
        capsys,
        "--policy",
        policy,
        "--client-id",
        "u-alice-1",
        "--action",
        "iot:Subscribe",
        "--resource",
        "topicfilter/seed/dev/users/alice/#",
    )
    assert (rc, out) == (0, "IMPLICIT_DENY")
    named = set(re.findall(r"warning: \$\{([^}]+)\} is unresolved", err))
    assert named == {"iotws:claim.sub", "iotws:client_id", "iotws:region", "iotws:account"}
    assert err.count("--build DIR") == 4
    # Supplying every one of them with --var silences the warnings and gives the answer.
    rc, out, err = _run(
        capsys,
        "--policy",
        policy,
        "--client-id",
        "u-alice-1",
        "--var",
        "iotws:claim.sub=alice",
        "--var",
        "iotws:client_id=alice-1",
        "--var",
        "iotws:region=us-east-1",
        "--var",
        "iotws:account=123456789012",
        "--action",
        "iot:Subscribe",
        "--resource",
        "topicfilter/seed/dev/users/alice/#",
    )
    assert (rc, out, err) == (0, "ALLOWED", "")


def test_cognito_policy_without_the_identity_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(examples_dir() / "cognito-unauth" / "access.yaml", tmp_path)
    policy = str(tmp_path / "cognito" / "guest.iam.json")
    rc, out, err = _run(
        capsys, "--policy", policy, "--action", "iot:Connect", "--resource", "client/guest-x"
    )
    assert (rc, out) == (0, "IMPLICIT_DENY")
    assert "${cognito-identity.amazonaws.com:sub} is unresolved" in err
    assert "--identity-id" in err and "--var 'cognito-identity.amazonaws.com:sub=" in err


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--profile", "nope", "--client-id", "x-1"], "--profile"),
        (["--claim", "sub=alice"], "--client-id"),
        (["--claim", "novalue", "--client-id", "x-1"], "--claim"),
    ],
)
def test_identity_mode_bad_input(
    builds: dict[str, Path], capsys: pytest.CaptureFixture[str], argv: list[str], field: str
) -> None:
    build = str(builds[str(SPECS["custom-authorizer"])])
    rc, _, err = _run(
        capsys, "--build", build, *argv, "--action", "iot:Connect", "--resource", "client/x-1"
    )
    assert rc != 0 and f"error: {field}:" in err and "Traceback" not in err


def test_identity_flags_need_the_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"Version": "2012-10-17", "Statement": []}', encoding="utf-8")
    rc, _, err = _run(
        capsys,
        "--policy",
        str(path),
        "--claim",
        "sub=a",
        "--action",
        "iot:Connect",
        "--resource",
        "client/x",
    )
    assert rc != 0 and "--claim" in err and "--build" in err
