"""A build directory is a source on its own (generator/INTERNALS.md "Build directory"): it
carries a verbatim copy of its spec, whose sha256 and original path `metadata.json`
records, so `--build DIR` gives the typed spec back without the original file. A build of
another kit version, one without the copy (an older kit) or with an edited copy is refused
by every command that reads it, naming `--build` and the fix, never with a traceback."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iotws import build as builds
from iotws.cli import main
from iotws.errors import IotwsError
from iotws.spec.model import load_spec
from iotws_emulator.app import prepare, resolve

ROOT = Path(__file__).resolve().parents[2]
IOTWS = str(Path(sys.executable).with_name("iotws"))  # .venv/bin/iotws
SEED = ROOT / "examples" / "custom-authorizer" / "access.yaml"
SIGNING = """  signing:
    enabled: true
    public_keys:
      k1: keys/signing-public.pem
"""


def _generate(spec: Path, out: Path) -> None:
    assert main(["generate", "--spec", str(spec), "--out", str(out), "-q"]) == 0


def test_the_spec_comes_back_from_the_build_alone(tmp_path: Path) -> None:
    """GIVEN a spec with token signing (a public key file beside it) and CRLF line ends
    WHEN built and the spec and its key deleted THEN `open_build` gives back the same typed
    spec, the copy is the file byte for byte and metadata.json records its sha256."""
    proj = tmp_path / "proj"
    (proj / "keys").mkdir(parents=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (proj / "keys/signing-public.pem").write_bytes(pem)
    text = SEED.read_text(encoding="utf-8").replace("authorizer:\n", "authorizer:\n" + SIGNING, 1)
    spec_path = proj / "access.yaml"
    spec_path.write_bytes(text.replace("\n", "\r\n").encode())
    want = load_spec(spec_path)
    assert want.authorizer.signing_public_keys == {"k1": pem.decode()}
    out = tmp_path / "build"
    _generate(spec_path, out)
    raw = spec_path.read_bytes()
    shutil.rmtree(proj)

    found = builds.open_build(out)
    assert replace(found.spec, source=want.source) == want
    assert found.spec.source == str(out / "spec/access.yaml")
    assert (out / "spec/access.yaml").read_bytes() == raw
    assert found.sha256 == hashlib.sha256(raw).hexdigest() == builds.spec_sha256(want)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["spec"] == {
        "copy": "spec/access.yaml",
        "path": "../proj/access.yaml",
        "sha256": found.sha256,
    }
    assert found.original == (tmp_path / "proj/access.yaml").resolve()
    assert found.original_sha256() is None  # gone


def test_token_and_lint_take_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "build"
    _generate(SEED, out)
    capsys.readouterr()
    monkeypatch.setenv("DEV_SECRET", "s" * 48)
    argv = ["--sub", "alice", "--role", "user", "--secret-env", "DEV_SECRET"]
    assert main(["token", "--build", str(out), *argv]) == 0
    token = capsys.readouterr().out.strip()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert (claims["sub"], claims["aud"], claims["role"]) == ("alice", "seed-web", "user")
    assert main(["lint", "--spec", str(SEED)]) == 0
    from_spec = capsys.readouterr()
    assert main(["lint", "--build", str(out)]) == 0
    from_build = capsys.readouterr()
    assert (from_build.out, from_build.err) == (from_spec.out, from_spec.err)
    # What is linted is the build's documents (what ships), not the spec rendered again.
    policy = out / "policies/user/policy-01.json"
    doc = json.loads(policy.read_text())
    doc["Statement"].append({"Effect": "Allow", "Action": "iot:*", "Resource": "*"})
    policy.write_text(json.dumps(doc))
    # A document edited after the build is refused (bad input: lint's exit 1): it was never
    # proved.
    assert main(["lint", "--build", str(out)]) == 1
    assert "policy-01.json is not the file the build proved" in capsys.readouterr().err
    # Recorded in metadata.json as well, it is linted, and the edit is found.
    meta = json.loads((out / "metadata.json").read_text())
    meta["files"]["policies/user/policy-01.json"] = hashlib.sha256(policy.read_bytes()).hexdigest()
    (out / "metadata.json").write_text(json.dumps(meta))
    assert main(["lint", "--build", str(out)]) & 2  # errors
    assert "== profile user" in capsys.readouterr().out


def _other_kit(out: Path) -> None:
    meta = json.loads((out / "metadata.json").read_text())
    (out / "metadata.json").write_text(json.dumps({**meta, "kit_version": "0.0.9"}))


def _older_kit(out: Path) -> None:  # what `iotws generate` wrote before the spec copy
    (out / "metadata.json").write_text(json.dumps({"kit": "iotws", "kit_version": "0.1.0"}))
    (out / "spec/access.yaml").unlink()


def _tampered(out: Path) -> None:
    copy = out / "spec/access.yaml"
    copy.write_text(copy.read_text().replace("max_length: 64", "max_length: 60"))


def _edited_config(out: Path) -> None:
    path = out / "authorizer/config.json"
    path.write_text(path.read_text().replace('"max_length": 64', '"max_length": 60', 1))


def _added_document(out: Path) -> None:
    """A document dropped beside the proved ones (it would be linted, simulated, served)."""
    (out / "policies/user/policy-09.json").write_text(
        json.dumps({"Version": "2012-10-17", "Statement": []})
    )


def _no_file_list(out: Path) -> None:
    meta = json.loads((out / "metadata.json").read_text())
    del meta["files"]
    (out / "metadata.json").write_text(json.dumps(meta))


BAD_BUILDS: dict[str, tuple[Callable[[Path], None], str]] = {
    "edited-config": (_edited_config, "config.json is not the file the build proved"),
    "added-document": (_added_document, "policy-09.json is not a file of this build"),
    "no-file-list": (_no_file_list, "lists no files with their sha256"),
    "other-kit-version": (_other_kit, "was built by iotws 0.0.9, this is iotws"),
    "older-build": (_older_kit, "has no copy of its spec"),
    "tampered-copy": (_tampered, "is not the spec this build was made from"),
    "copy-missing": (lambda out: (out / "spec/access.yaml").unlink(), "is missing"),
    "no-metadata": (lambda out: (out / "metadata.json").unlink(), "metadata.json is missing"),
}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IOTWS, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("case", sorted(BAD_BUILDS))
def test_emulate_refuses_a_bad_build(tmp_path: Path, case: str) -> None:
    """The real CLI, outside the checkout: exit 2, one line naming --build, the problem
    and the fix (make generate); no traceback, no port opened."""
    breakage, needle = BAD_BUILDS[case]
    _generate(SEED, tmp_path / "build")
    breakage(tmp_path / "build")
    done = _cli("emulate", "--build", "build", "--port", "1", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("iotws emulate: error: --build: "), done.stderr
    assert needle in done.stderr and "make generate" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("command", ["token", "lint"])
def test_token_and_lint_refuse_an_edited_copy(tmp_path: Path, command: str) -> None:
    _generate(SEED, tmp_path / "build")
    _tampered(tmp_path / "build")
    extra = ["--sub", "alice"] if command == "token" else []
    done = _cli(command, "--build", "build", *extra, cwd=tmp_path)
    assert done.returncode != 0
    assert f"iotws {command}: error: --build: build/spec/access.yaml is not the spec" in (
        done.stderr
    )
    assert "make generate" in done.stderr and "Traceback" not in done.stderr


def test_emulate_needs_a_spec_or_a_build(tmp_path: Path) -> None:
    done = _cli("emulate", cwd=tmp_path)
    assert done.returncode == 2
    assert "--spec/--build: say what to emulate" in done.stderr
    assert "--build DIR" in done.stderr and "--spec access.yaml" in done.stderr


def test_emulate_from_a_build_refuses_a_zip_of_another_build(tmp_path: Path) -> None:
    """--build alone uses DIR as it is: a zip packaged from another configuration is
    refused (make package), never silently replaced."""
    out = tmp_path / "build"
    _generate(SEED, out)
    assert main(["package", "--build", str(out), "--out", str(out / "authorizer.zip")]) == 0
    other = tmp_path / "other.yaml"
    other.write_text(SEED.read_text().replace("stage: dev", "stage: prod"))
    _generate(other, out)  # the zip stays the dev one
    done = _cli("emulate", "--build", "build", "--port", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert "build/authorizer.zip was packaged from another build" in done.stderr
    assert "make package" in done.stderr and "Traceback" not in done.stderr


def test_emulate_never_writes_a_build_into_a_folder_of_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(IotwsError, match="holds other files and no iotws build"):
        resolve(str(SEED), str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("")
    with pytest.raises(IotwsError, match="is not a directory"):
        resolve(str(SEED), str(tmp_path / "file"))


def test_commands_say_where_build_does_not_apply(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    assert "there is no --build: this makes one" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["package", "--build", "BUILD", "--out", "BUILD/authorizer.zip"],
        ["simulate", "--build", "BUILD", "--claim", "sub=alice", "--client-id", "u-alice-1"]
        + ["--action", "iot:Connect", "--resource", "client/u-alice-1"],
    ],
    ids=["package", "simulate"],
)
def test_package_and_simulate_refuse_a_build_of_another_kit(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """They read the rendered files, never the spec, but the files' formats are the
    kit's: a build of another kit version is refused before anything is read."""
    out = tmp_path / "build"
    _generate(SEED, out)
    args = [a.replace("BUILD", str(out)) for a in argv]
    assert main(args) == 0
    capsys.readouterr()
    _other_kit(out)
    (out / "authorizer.zip").unlink(missing_ok=True)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--build: " in err and "was built by iotws 0.0.9" in err and "make generate" in err
    assert not (out / "authorizer.zip").exists()


def test_emulate_with_both_repackages_a_stale_zip_and_warns_of_a_newer_spec(
    tmp_path: Path,
) -> None:
    """--spec S --build DIR of S's text: a zip of another configuration is packaged again
    from DIR (no rendering). --build DIR alone when S changed since: DIR is used, and the
    banner's notes say S changed."""
    spec = tmp_path / "access.yaml"
    spec.write_bytes(SEED.read_bytes())
    out, other = tmp_path / "build", tmp_path / "other"
    _generate(spec, out)
    prod = tmp_path / "prod.yaml"
    prod.write_text(SEED.read_text().replace("stage: dev", "stage: prod"))
    _generate(prod, other)
    assert main(["package", "--build", str(other), "--out", str(out / "authorizer.zip")]) == 0
    prep = prepare(resolve(str(spec), str(out)))
    assert prep.config["name"] == "seed-dev-authorizer"
    assert any("packaged the authorizer again" in n for n in prep.notes), prep.notes
    assert json.loads((out / "metadata.json").read_text())["spec"]["path"] == "../access.yaml"

    spec.write_text(SEED.read_text() + "# changed\n")
    source = resolve(None, str(out))
    assert source.from_build and source.spec_file == spec.resolve()
    assert any("access.yaml changed since this build" in n for n in source.notes)
    assert source.spec.text == SEED.read_text()  # the build's copy, not the newer file


def test_a_rebuild_leaves_nothing_of_the_previous_spec(tmp_path: Path) -> None:
    """GIVEN a build of a spec with an authorizer WHEN a Cognito-only spec is built into the
    same directory THEN the directory holds exactly the second build's files (none of the
    first build's authorizer or profiles), and `package --build` says this build has no
    authorizer instead of zipping the stale one (`make package` decides by that file whether
    there is an authorizer to package)."""
    out = tmp_path / "build"
    _generate(SEED, out)
    assert (out / "authorizer" / "config.json").is_file()
    cognito = ROOT / "examples" / "cognito-unauth" / "access.yaml"
    _generate(cognito, out)
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    written = set(builds.build(cognito).files()) | {builds.METADATA_FILE}
    assert on_disk == written
    with pytest.raises(IotwsError, match="has no authorizer"):
        builds.read_authorizer_config(out)
