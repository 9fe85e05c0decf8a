"""`python -m iotws.webbuild`: vendored MQTT.js and deterministic esbuild bundles per page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iotws import webbuild
from iotws.errors import IotwsError

from .conftest import REPO, run_node

MAIN_JS = """\
import mqttPacket from "mqtt-packet";
import { greeting } from "./greeting.js";

console.log(greeting + " " + Array.from(mqttPacket.generate({ cmd: "pingreq" })).join(","));
"""


def make_page(examples: Path, name: str, *, main_js: str | None = MAIN_JS) -> Path:
    web = examples / name / "web"
    web.mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>x</title>\n")
    if main_js is not None:
        (web / "src").mkdir()
        (web / "src" / "main.js").write_text(main_js)
        (web / "src" / "greeting.js").write_text('export const greeting = "PINGREQ:";\n')
    return web


def test_vendors_mqtt_and_bundles_main_js(tmp_path: Path, node_modules: Path, node: str) -> None:
    # GIVEN one page with src/main.js and one without
    examples = tmp_path / "examples"
    with_src = make_page(examples, "a")
    plain = make_page(examples, "b", main_js=None)
    (examples / "not-a-page").mkdir()
    # WHEN webbuild runs
    rc = webbuild.main(["--examples", str(examples), "--node-modules", str(node_modules)])
    # THEN both pages get MQTT.js's browser build, byte for byte, and only `a` gets app.js
    assert rc == 0
    mqtt_dist = (node_modules / "mqtt" / "dist" / "mqtt.min.js").read_bytes()
    for web in (with_src, plain):
        assert (web / "vendor" / "mqtt.min.js").read_bytes() == mqtt_dist
    assert not (plain / "vendor" / "app.js").exists()
    assert not (examples / "not-a-page" / "vendor").exists()
    # The bundle is self-contained ESM (packages resolved via node_modules) and runs.
    app = with_src / "vendor" / "app.js"
    text = app.read_text()
    assert 'from "mqtt-packet"' not in text and "import " not in text.split("\n", 1)[0]
    entry = tmp_path / "run.mjs"
    shutil.copy(app, entry)
    out = run_node(node, f"import({str(entry)!r})")
    assert out.strip() == "PINGREQ: 192,0"


def test_output_is_deterministic_and_unchanged_files_are_left_alone(
    tmp_path: Path, node_modules: Path
) -> None:
    first = make_page(tmp_path / "one", "x")
    second = make_page(tmp_path / "two", "x")
    r1 = webbuild.build_all(tmp_path / "one", node_modules)
    r2 = webbuild.build_all(tmp_path / "two", node_modules)
    assert len(r1[0].written) == len(r2[0].written) == 3
    for name in ("mqtt.min.js", "app.js", "iotws-client.js"):
        assert (first / "vendor" / name).read_bytes() == (second / "vendor" / name).read_bytes()
    mtime = (first / "vendor" / "app.js").stat().st_mtime_ns
    again = webbuild.build_all(tmp_path / "one", node_modules)
    assert again[0].written == []
    assert sorted(p.name for p in again[0].unchanged) == [
        "app.js",
        "iotws-client.js",
        "mqtt.min.js",
    ]
    assert (first / "vendor" / "app.js").stat().st_mtime_ns == mtime


def test_bundle_error_names_the_file_and_writes_nothing(tmp_path: Path, node_modules: Path) -> None:
    web = make_page(tmp_path, "broken", main_js='import { nope } from "./missing.js";\n')
    with pytest.raises(IotwsError) as err:
        webbuild.build_all(tmp_path, node_modules)
    assert "main.js" in err.value.render()
    assert "missing.js" in err.value.render()
    assert not (web / "vendor").exists()


def test_missing_node_modules_says_run_make_web(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_page(tmp_path / "examples", "a")
    rc = webbuild.main(
        ["--examples", str(tmp_path / "examples"), "--node-modules", str(tmp_path / "nm")]
    )
    assert rc != 0
    err = capsys.readouterr().err
    assert "run `make web`" in err
    assert "Traceback" not in err
    assert not (tmp_path / "examples" / "a" / "web" / "vendor").exists()


def test_missing_examples_folder_is_a_clear_error(tmp_path: Path, node_modules: Path) -> None:
    with pytest.raises(IotwsError, match="--examples"):
        webbuild.build_all(tmp_path / "nope", node_modules)


def test_every_real_example_page_builds(tmp_path: Path, node_modules: Path) -> None:
    """A copy of the checkout's examples/*/web (sources only): what `make web` produces."""
    pages = sorted((REPO / "examples").glob("*/web"))
    assert pages, "no examples/*/web pages in the checkout"
    examples = tmp_path / "examples"
    for web in pages:
        shutil.copytree(
            web, examples / web.parent.name / "web", ignore=shutil.ignore_patterns("vendor")
        )
    results = webbuild.build_all(examples, node_modules)
    assert [r.web_dir.parent.name for r in results] == [p.parent.name for p in pages]
    for web in pages:
        out = examples / web.parent.name / "web" / "vendor"
        assert (out / "mqtt.min.js").is_file()
        assert (out / "iotws-client.js").is_file()
        assert (out / "app.js").is_file() == (web / "src" / "main.js").is_file()
