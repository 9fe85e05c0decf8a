"""The packaged authorizer: `iotws.invoke.load_authorizer` and `iotws invoke-authorizer`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iotws.cli import main
from iotws.errors import IotwsError
from iotws.invoke import LambdaContext, load_authorizer
from iotws.package import build_authorizer_zip, source_files, zip_bytes
from iotws.paths import lambda_src

SECRET = b"test-secret-0123456789-abcdefghijklmnop"  # the conftest's secret


@pytest.fixture
def build_zip(tmp_path: Path) -> Callable[[dict[str, Any], str], Path]:
    """Zip lambda_src/authorizer with a hand-written config, as `iotws package` lays it out."""

    def build(cfg: dict[str, Any], name: str = "build") -> Path:
        entries = [(rel, p.read_bytes()) for rel, p in source_files(lambda_src("authorizer"))]
        entries.append(("iotws_config.json", json.dumps(cfg).encode()))
        out = tmp_path / name / "authorizer.zip"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(zip_bytes(entries))
        return out

    return build


def _owned_modules() -> dict[str, Any]:
    return {
        k: v
        for k, v in sys.modules.items()
        if k == "app" or k == "iotws_authorizer" or k.startswith("iotws_authorizer.")
    }


def test_loaded_zip_decides_like_the_source(
    build_zip: Any, config: dict[str, Any], mint: Callable[..., str], event: Any, valid: Any
) -> None:
    loaded = load_authorizer(build_zip(config))
    loaded.set_secret_override(SECRET)
    lines: list[str] = []
    loaded.set_log_sink(lines.append)
    response = loaded.invoke(event("wss_query.json", mint()))
    valid(response, allowed=True)
    # the default context's ARN supplies region and account
    assert "arn:aws:iot:us-east-1:123456789012:client/u-alice-1" in json.dumps(response)
    assert json.loads(lines[0])["reason"] == "ok"
    assert loaded.config["mode"] == "hs256"


def test_two_zips_in_one_process_do_not_collide(
    build_zip: Any,
    config: dict[str, Any],
    public: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
) -> None:
    before = _owned_modules()
    token_zip = load_authorizer(build_zip(config, "a"), log_sink=lambda line: None)
    public_zip = load_authorizer(build_zip(public, "b"), log_sink=lambda line: None)
    # loading leaves sys.modules as it was (the source-tree package of these tests included)
    assert _owned_modules() == before
    other = b"second-secret-0123456789-abcdefghijkl"
    token_zip.set_secret_override(other)
    anonymous = simple(client_id="anon-1")
    assert public_zip.invoke(simple("junk", client_id="anon-1"))["isAuthenticated"] is True
    assert token_zip.invoke(simple("junk", client_id="anon-1"))["isAuthenticated"] is False
    valid(token_zip.invoke(simple(mint(key=other))), allowed=True)
    valid(public_zip.invoke(anonymous), allowed=True)
    # the secret override of one zip is not the other's, nor the source tree's
    import iotws_authorizer.secrets as source_secrets

    assert source_secrets._override is None
    assert _owned_modules() == before


def test_packaged_config_wins_over_iotws_config_env(
    build_zip: Any,
    public: dict[str, Any],
    simple: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text("{}", encoding="utf-8")
    monkeypatch.setenv("IOTWS_CONFIG", str(bogus))
    loaded = load_authorizer(build_zip(public), log_sink=lambda line: None)
    assert loaded.invoke(simple(client_id="anon-1"))["isAuthenticated"] is True


def test_context_arn_supplies_region_and_account(
    build_zip: Any, public: dict[str, Any], simple: Any
) -> None:
    loaded = load_authorizer(build_zip(public), log_sink=lambda line: None)
    ctx = LambdaContext(invoked_function_arn="arn:aws:lambda:sa-east-1:999988887777:function:x")
    response = loaded.invoke(simple(client_id="anon-1"), ctx)
    assert "arn:aws:iot:sa-east-1:999988887777:client/anon-1" in json.dumps(response)
    assert ctx.get_remaining_time_in_millis() == 5000


def test_zip_built_by_iotws_package(tmp_path: Path, simple: Any, valid: Any) -> None:
    spec = tmp_path / "access.yaml"
    spec.write_text(
        "version: 1\napp: seed\nstage: dev\ntopic_prefix: ''\n"
        "authorizer:\n  mode: public\n  public: {profile: guest}\n"
        "profiles:\n  guest:\n    client_id: 'anon-*'\n"
        "    subscribe: [server, 'inbox/{client_id}']\n    publish: [client]\n",
        encoding="utf-8",
    )
    out = build_authorizer_zip(spec, tmp_path / "build" / "authorizer.zip")
    loaded = load_authorizer(out, log_sink=lambda line: None)
    response = loaded.invoke(simple(client_id="anon-7"))
    valid(response, allowed=True)
    assert "topicfilter/inbox/anon-7" in json.dumps(response)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"not a zip", "not a zip file"),
        (zip_bytes([("app.py", b"")]), "missing"),
        (
            zip_bytes(
                [
                    ("app.py", b""),
                    ("iotws_authorizer/__init__.py", b""),
                    ("iotws_config.json", b"{"),
                ]
            ),
            "not valid JSON",
        ),
        (
            zip_bytes(
                [
                    ("app.py", b"import nonexistent_module_xyz\n"),
                    ("iotws_authorizer/__init__.py", b""),
                    ("iotws_config.json", b"{}"),
                ]
            ),
            "cannot be imported",
        ),
    ],
)
def test_bad_packages_raise_clear_errors(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "authorizer.zip"
    if content is not None:
        path.write_bytes(content)
    before = _owned_modules()
    with pytest.raises(IotwsError, match=message) as err:
        load_authorizer(path)
    assert err.value.field == "--build" and err.value.fix
    assert _owned_modules() == before


# ------------------------------------------------------------------ the CLI


def test_cli_prints_the_response_and_logs_to_stderr(
    build_zip: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    event: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    valid: Any,
) -> None:
    zip_path = build_zip(config)
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event("mqtt_password.json", mint())), encoding="utf-8")
    monkeypatch.setenv("DEMO_SECRET", SECRET.decode())
    rc = main(
        [
            "invoke-authorizer",
            "--build",
            str(zip_path.parent),
            "--event",
            str(event_file),
            "--secret-env",
            "DEMO_SECRET",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0
    response = json.loads(captured.out)
    valid(response, allowed=True)
    assert json.loads(captured.err)["decision"] == "allow"
    assert SECRET.decode() not in captured.out + captured.err


def test_cli_test_invoke_format_and_deny(
    build_zip: Any,
    public: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    zip_path = build_zip(public)
    events = Path(__file__).resolve().parents[1] / "events"
    argv = ["invoke-authorizer", "--build", str(zip_path.parent), "--test-invoke-format"]
    assert main([*argv, "--event", str(events / "wss_anonymous.json")]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["isAuthenticated"] is True
    assert all(isinstance(d, str) for d in response["policyDocuments"])
    assert main([*argv, "--event", str(events / "https_publish.json")]) == 0  # deny: still 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["isAuthenticated"] is False
    assert json.loads(captured.err)["reason"] == "missing_client_id"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no-zip", "does not exist"),
        ("no-event", "cannot read"),
        ("bad-json", "not valid JSON"),
        ("not-object", "must hold a JSON object"),
        ("no-secret", "DEMO_UNSET_SECRET"),
    ],
)
def test_cli_user_errors(
    build_zip: Any,
    public: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setup: str,
    message: str,
) -> None:
    build = tmp_path / "empty" if setup == "no-zip" else build_zip(public).parent
    event_file = tmp_path / "event.json"
    if setup != "no-event":
        text = {"bad-json": "{", "not-object": "[]"}.get(setup, '{"protocolData": {}}')
        event_file.write_text(text, encoding="utf-8")
    argv = ["invoke-authorizer", "--build", str(build), "--event", str(event_file)]
    if setup == "no-secret":
        monkeypatch.delenv("DEMO_UNSET_SECRET", raising=False)
        argv += ["--secret-env", "DEMO_UNSET_SECRET"]
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc != 0
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
