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
    assert "./vendor/mqtt.min.js" in parsed.refs
    assert parsed.refs.index("./vendor/mqtt.min.js") < parsed.refs.index("./demo.js")


def demo(node: str, expression: str) -> object:
    """Evaluate `expression` with `lib` = demo.js's exported helpers; return it as JSON."""
    script = (
        f"const lib = require({str(DEMO_JS)!r});\n"
        "const out = (() => { try { return " + expression + "; }"
        " catch (e) { return {error: e.message}; } })();\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    return json.loads(run_node(node, script))


BASE = (
    "{url: 'wss://abc-ats.iot.eu-west-1.amazonaws.com/mqtt', authorizerName: 'demo-dev-auth',"
    " tokenKeyName: 'token'"
)


def test_ws_url_carries_authorizer_name_and_encoded_token(node: str) -> None:
    url = demo(node, f"lib.buildWsUrl({BASE}, token: 'a+b/c=&d e'}})")
    assert url == (
        "wss://abc-ats.iot.eu-west-1.amazonaws.com/mqtt"
        "?x-amz-customauthorizer-name=demo-dev-auth&token=a%2Bb%2Fc%3D%26d%20e"
    )


def test_ws_url_for_guests_and_default_authorizer(node: str) -> None:
    guest = demo(node, f"lib.buildWsUrl({BASE}, token: ''}})")
    assert guest == (
        "wss://abc-ats.iot.eu-west-1.amazonaws.com/mqtt?x-amz-customauthorizer-name=demo-dev-auth"
    )
    # No authorizer name: the endpoint's default authorizer (domain configuration) applies.
    plain = demo(
        node, "lib.buildWsUrl({url: 'ws://127.0.0.1:8080/mqtt', token: 'T', tokenKeyName: 'k'})"
    )
    assert plain == "ws://127.0.0.1:8080/mqtt?k=T"
    existing = demo(node, "lib.buildWsUrl({url: 'ws://h/mqtt?a=1', authorizerName: 'n'})")
    assert existing == "ws://h/mqtt?a=1&x-amz-customauthorizer-name=n"


@pytest.mark.parametrize(
    ("cfg", "needle"),
    [
        ("{url: ''}", "no broker URL"),
        ("{url: 'https://h/mqtt'}", "ws://"),
        ("{url: 'ws://h/mqtt', token: 'T', tokenKeyName: ''}", "tokenKeyName"),
    ],
)
def test_ws_url_errors_are_explained(node: str, cfg: str, needle: str) -> None:
    out = demo(node, f"lib.buildWsUrl({cfg})")
    assert isinstance(out, dict) and needle in out["error"]


def test_token_is_redacted_for_display(node: str) -> None:
    out = demo(
        node,
        "lib.redactUrl('wss://h/mqtt?x-amz-customauthorizer-name=n&token=SECRET&z=1', 'token')",
    )
    assert out == "wss://h/mqtt?x-amz-customauthorizer-name=n&token=<redacted>&z=1"


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
    }
    assert demo(node, "lib.mergeConfig({}, '?protocolVersion=5').protocolVersion") == 5
    assert demo(node, "lib.mergeConfig(null, '').mode") == "public"
    assert demo(node, "[lib.topicFor('demo/dev', 'server'), lib.topicFor('', 'server')]") == [
        "demo/dev/server",
        "server",
    ]


def test_client_id_guest_token_and_given(node: str) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJ1c2VyIn0.sig"  # sub=alice
    ids = demo(
        node,
        "[lib.chooseClientId({}, globalThis.crypto), lib.chooseClientId({}, globalThis.crypto),"
        f" lib.chooseClientId({{token: {token!r}}}, globalThis.crypto),"
        " lib.chooseClientId({token: 'not-a-jwt'}, globalThis.crypto),"
        " lib.chooseClientId({clientId: 'given-1', token: 'x'}, globalThis.crypto)]",
    )
    assert isinstance(ids, list)
    assert re.fullmatch(r"anon-[0-9a-f]{8}", ids[0]) and re.fullmatch(r"anon-[0-9a-f]{8}", ids[1])
    assert ids[0] != ids[1]
    assert re.fullmatch(r"alice-[0-9a-f]{8}", ids[2])
    assert re.fullmatch(r"anon-[0-9a-f]{8}", ids[3])
    assert ids[4] == "given-1"


def test_suback_refusal_codes(node: str) -> None:
    assert demo(node, "[0, 1, 2, 0x80, 0x87, 0x8f, undefined].map(lib.isRefusedQos)") == [
        False,
        False,
        False,
        True,
        True,
        True,
        False,
    ]


def test_payload_text_decodes_utf8(node: str) -> None:
    out = demo(node, "lib.payloadText(new Uint8Array([104, 195, 188, 0xff]))")
    assert out == "h\u00fc\ufffd"
