"""The example pages' own JavaScript: syntax, no CDN, stable ids, and the custom-authorizer
page's URL and client-id helpers (run in Node.js; the browser run is the end-to-end test)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .conftest import EXAMPLE, REPO, run_node

PAGES = sorted(p for p in (REPO / "examples").glob("*/web/*.html"))
# Hand-written scripts (not vendor/ build output, not src/ which esbuild checks when bundling).
SCRIPTS = sorted(
    p
    for p in (REPO / "examples").glob("*/web/**/*.js")
    if not {"vendor", "src", "node_modules"} & set(p.relative_to(REPO / "examples").parts)
)
DEMO_JS = EXAMPLE / "web" / "demo.js"
JS_TYPES = {"text/javascript", "module", "application/javascript"}
REQUIRED_IDS = {
    "status",
    "messages",
    "errors",
    "subscribe-topic",
    "subscribe-btn",
    "publish-topic",
    "publish-payload",
    "publish-qos",
    "publish-btn",
    "token",
    "connect-btn",
    "disconnect-btn",
    "client-id",
    "ws-url",
    "subscriptions",
}


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "script" and a.get("src"):
            self.refs.append(str(a["src"]))
        elif tag == "script" and (a.get("type") or "text/javascript") in JS_TYPES:
            self._in_script = True
            self.inline_scripts.append("")
        if tag == "link" and a.get("href"):
            self.refs.append(str(a["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts[-1] += data


def parse(page: Path) -> PageParser:
    parser = PageParser()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_there_are_pages_and_scripts() -> None:
    assert EXAMPLE / "web" / "index.html" in PAGES
    assert DEMO_JS in SCRIPTS


def check_syntax(node: str, path: Path, tmp_path: Path) -> str | None:
    """`node --check` as a classic script, then as an ES module (`<script type="module">`).

    Returns None when either parses, else the classic-script error."""
    proc = subprocess.run(
        [node, "--check", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    if proc.returncode == 0:
        return None
    as_module = tmp_path / (path.stem + ".mjs")
    shutil.copy(path, as_module)
    mod = subprocess.run(
        [node, "--check", str(as_module)], capture_output=True, text=True, timeout=30, check=False
    )
    return None if mod.returncode == 0 else proc.stderr + mod.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_scripts_have_no_syntax_errors(script: Path, node: str, tmp_path: Path) -> None:
    assert check_syntax(node, script, tmp_path) is None


def test_syntax_check_catches_errors(node: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.js"
    broken.write_text("function (\n")
    assert check_syntax(node, broken, tmp_path) is not None
    module = tmp_path / "module.js"
    module.write_text('import { x } from "./x.js";\nexport const y = x;\n')
    assert check_syntax(node, module, tmp_path) is None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_inline_scripts_have_no_syntax_errors(page: Path, node: str, tmp_path: Path) -> None:
    for i, code in enumerate(parse(page).inline_scripts):
        if not code.strip():
            continue
        path = tmp_path / f"inline-{i}.js"
        path.write_text(code, encoding="utf-8")
        error = check_syntax(node, path, tmp_path)
        assert error is None, f"{page}: inline script {i}: {error}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_pages_load_only_local_files(page: Path) -> None:
    """No CDN: every script and stylesheet is relative, and each exists (vendor/ after make web)."""
    for ref in parse(page).refs:
        assert not re.match(r"^(https?:)?//", ref), f"{page}: {ref} is not local"
        target = (page.parent / ref).resolve()
        if "vendor" in Path(ref).parts:
            continue  # build output of `make web` (tested in test_webbuild.py)
        assert target.is_file(), f"{page}: {ref} does not exist"


def test_custom_authorizer_page_has_the_stable_ids_and_loads_mqtt() -> None:
    parsed = parse(EXAMPLE / "web" / "index.html")
    assert REQUIRED_IDS <= parsed.ids, REQUIRED_IDS - parsed.ids
    order = [parsed.refs.index(r) for r in ("./vendor/mqtt.min.js", "./vendor/iotws-client.js")]
    assert order == sorted(order) and order[-1] < parsed.refs.index("./demo.js")


@pytest.mark.parametrize(
    "page", [EXAMPLE / "web" / "index.html"], ids=lambda p: p.parent.parent.name
)
def test_pages_use_the_client_module_not_their_own_connection_code(page: Path) -> None:
    # Every example page connects through the iotws client (client/), never MQTT.js directly.
    parsed = parse(page)
    assert "./vendor/iotws-client.js" in parsed.refs, f"{page} does not load the client"
    for ref in parsed.refs:
        if ref.endswith(".js") and "vendor" not in ref:
            text = (page.parent / ref).read_text(encoding="utf-8")
            assert "mqtt.connect(" not in text, f"{ref} builds its own MQTT.js connection"


def demo(node: str, expression: str) -> object:
    """Evaluate `expression` with `lib` = demo.js's exported helpers; return it as JSON."""
    script = (
        f"const lib = require({str(DEMO_JS)!r});\n"
        "const out = (() => { try { return " + expression + "; }"
        " catch (e) { return {error: e.message}; } })();\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    return json.loads(run_node(node, script))


def test_query_parameters_override_config_json(node: str) -> None:
    cfg = demo(
        node,
        "lib.mergeConfig({url: 'ws://127.0.0.1:1/mqtt', authorizerName: 'a', tokenKeyName: 'token',"
        " prefix: '/demo/dev/', mode: 'hs256'}, '?authorizerName=b&token=T&clientId=c1&prefix=')",
    )
    assert cfg == {
        "url": "ws://127.0.0.1:1/mqtt",
        "authorizerName": "b",
        "tokenKeyName": "token",
        "prefix": "demo/dev",
        "mode": "hs256",
        "token": "T",
        "clientId": "c1",
        "protocolVersion": 4,
        "reconnect": "",
        "tokenUrl": "",
        "sessionSeconds": "",
        "renewBeforeSeconds": "",
        "maxAuthFailures": "",
    }
    numbers = demo(node, "['90', '', 'x', '-1', '0.5'].map(lib.numberOption)")
    assert numbers == [90, None, None, None, 0.5]
    assert demo(node, "lib.mergeConfig({}, '?protocolVersion=5').protocolVersion") == 5
    assert demo(node, "lib.mergeConfig(null, '').mode") == "public"
    assert demo(node, "[lib.topicFor('demo/dev', 'server'), lib.topicFor('', 'server')]") == [
        "demo/dev/server",
        "server",
    ]


def test_client_id_guest_token_and_given(node: str) -> None:
    # `sub` comes from the client module, which reads the token's claims (unverified).
    ids = demo(
        node,
        "[lib.chooseClientId({}, null, globalThis.crypto),"
        " lib.chooseClientId({}, null, globalThis.crypto),"
        " lib.chooseClientId({}, 'alice', globalThis.crypto),"
        " lib.chooseClientId({clientId: 'given-1'}, 'alice', globalThis.crypto)]",
    )
    assert isinstance(ids, list)
    assert re.fullmatch(r"anon-[0-9a-f]{8}", ids[0]) and re.fullmatch(r"anon-[0-9a-f]{8}", ids[1])
    assert ids[0] != ids[1]
    assert re.fullmatch(r"u-alice-[0-9a-f]{8}", ids[2])
    assert ids[3] == "given-1"


def test_payload_text_decodes_utf8(node: str) -> None:
    out = demo(node, "lib.payloadText(new Uint8Array([104, 195, 188, 0xff]))")
    assert out == "h\u00fc\ufffd"
