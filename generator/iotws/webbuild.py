"""Vendor the browser code of every example page: `python -m iotws.webbuild` (run by `make web`).

For each `examples/<name>/web/` folder:

- copy MQTT.js's browser build `node_modules/mqtt/dist/mqtt.min.js` to `web/vendor/mqtt.min.js`;
- write the iotws browser client (`client/`, bundled once as a classic script that defines the
  global `iotws` and uses the global `mqtt` of the file above) to `web/vendor/iotws-client.js`;
- if `web/src/main.js` exists, bundle it with esbuild (ESM, browser platform, minified) to
  `web/vendor/app.js`.

Pages load these files from `./vendor/`, never from a CDN. `vendor/` is a build output
(git-ignored). The output is deterministic: the same inputs and the same pinned packages
(`package-lock.json`) give the same bytes, and unchanged files are not rewritten.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from iotws.errors import IotwsError
from iotws.paths import examples_dir, repo_root

MQTT_DIST = Path("mqtt") / "dist" / "mqtt.min.js"
ESBUILD_BIN = Path(".bin") / "esbuild"
# Every flag matters for reproducibility: no source maps, no metafile, no banner with
# dates or paths; `--minify` drops the path comments esbuild otherwise writes.
ESBUILD_FLAGS = (
    "--bundle",
    "--format=esm",
    "--platform=browser",
    "--minify",
    "--target=es2022",  # ES modules with top-level await: every current browser
    "--legal-comments=none",
    "--charset=utf8",
    "--log-level=warning",
)
RUN_MAKE_WEB = "run `make web` (it runs `npm ci` from package-lock.json, then this step)"
CLIENT_ENTRY = "index.js"
CLIENT_OUT = "iotws-client.js"
# The `<script>` build of client/: an IIFE that assigns the module's exports to the global
# `iotws`. "mqtt" resolves to a stand-in that returns the global `mqtt` of vendor/mqtt.min.js,
# so the page carries MQTT.js once and the client adds only its own bytes.
CLIENT_FLAGS = (
    "--bundle",
    "--format=iife",
    "--global-name=iotws",
    "--platform=browser",
    "--minify",
    "--target=es2020",
    "--legal-comments=none",
    "--charset=utf8",
    "--log-level=warning",
    "--alias:mqtt=./mqtt-global.js",
)


@dataclass
class PageResult:
    """What was built for one example page."""

    web_dir: Path
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


def find_web_dirs(examples: Path) -> list[Path]:
    """`examples/*/web/` folders, sorted for a stable order."""
    if not examples.is_dir():
        raise IotwsError(
            f"{examples} is not a directory",
            field="--examples",
            fix="point --examples at the folder that holds the examples",
        )
    return sorted(p for p in examples.glob("*/web") if p.is_dir())


def check_node_modules(node_modules: Path) -> tuple[Path, Path]:
    """The MQTT.js browser build and the esbuild binary; a clear error when npm ci has not run."""
    mqtt_js = node_modules / MQTT_DIST
    esbuild = node_modules / ESBUILD_BIN
    if not node_modules.is_dir():
        raise IotwsError(
            f"{node_modules} is missing: the npm packages are not installed",
            field="node_modules",
            fix=RUN_MAKE_WEB,
        )
    if not mqtt_js.is_file():
        raise IotwsError(
            f"{mqtt_js} is missing (MQTT.js v5 ships its browser build there)",
            field="node_modules/mqtt",
            fix=RUN_MAKE_WEB,
        )
    if not esbuild.exists():
        raise IotwsError(f"{esbuild} is missing", field="node_modules/esbuild", fix=RUN_MAKE_WEB)
    return mqtt_js, esbuild


def _write_if_changed(target: Path, data: bytes, result: PageResult) -> None:
    """Write atomically (temporary file + rename); leave an identical file untouched."""
    if target.is_file() and target.read_bytes() == data:
        result.unchanged.append(target)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    result.written.append(target)


def bundle(
    esbuild: Path, entry: Path, node_modules: Path, flags: Sequence[str] = ESBUILD_FLAGS
) -> bytes:
    """Bundle `entry` with esbuild and return the bytes (stdout; nothing written on failure)."""
    env = dict(os.environ)
    # NODE_PATH lets a page outside this checkout (or a copy in a test) resolve the
    # packages of the root package.json; inside the checkout normal resolution finds them.
    env["NODE_PATH"] = str(node_modules.resolve())
    proc = subprocess.run(
        [str(esbuild), str(entry.name), *flags],
        cwd=entry.parent,
        env=env,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip()
        raise IotwsError(
            f"esbuild could not bundle it:\n{detail}",
            field=str(entry),
            fix="fix the error above in the page's source, then run `make web` again",
        )
    return proc.stdout


def bundle_client(esbuild: Path, client_dir: Path, node_modules: Path) -> bytes:
    """The `<script>` build of the browser client (`client/index.js`), see CLIENT_FLAGS."""
    entry = client_dir / CLIENT_ENTRY
    if not entry.is_file():
        raise IotwsError(
            f"{entry} is missing", field="client/", fix="run from a checkout of the kit"
        )
    return bundle(esbuild, entry, node_modules, CLIENT_FLAGS)


def build_page(
    web_dir: Path,
    mqtt_js: Path,
    esbuild: Path,
    node_modules: Path,
    client_js: bytes | None = None,
) -> PageResult:
    """Vendor MQTT.js, the client bundle and, if the page has `src/main.js`, its bundle."""
    result = PageResult(web_dir)
    vendor = web_dir / "vendor"
    entry = web_dir / "src" / "main.js"
    # Bundle first: a page whose bundle fails gets no partial vendor/ update.
    app = bundle(esbuild, entry, node_modules) if entry.is_file() else None
    _write_if_changed(vendor / "mqtt.min.js", mqtt_js.read_bytes(), result)
    if client_js is not None:
        _write_if_changed(vendor / CLIENT_OUT, client_js, result)
    if app is not None:
        _write_if_changed(vendor / "app.js", app, result)
    return result


def build_all(
    examples: Path, node_modules: Path, client_dir: Path | None = None
) -> list[PageResult]:
    mqtt_js, esbuild = check_node_modules(node_modules)
    client = client_dir if client_dir is not None else repo_root() / "client"
    client_js = bundle_client(esbuild, client, node_modules)
    return [
        build_page(d, mqtt_js, esbuild, node_modules, client_js) for d in find_web_dirs(examples)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m iotws.webbuild",
        description="Vendor MQTT.js and the iotws client, and bundle examples/*/web/src/main.js, "
        "into */web/vendor/.",
    )
    parser.add_argument(
        "--examples", type=Path, default=None, help="examples folder (default: the checkout's)"
    )
    parser.add_argument(
        "--node-modules",
        type=Path,
        default=None,
        help="node_modules folder (default: the checkout's, filled by `make web`)",
    )
    args = parser.parse_args(argv)
    examples: Path = args.examples or examples_dir()
    node_modules: Path = args.node_modules or repo_root() / "node_modules"
    try:
        results = build_all(examples, node_modules)
    except IotwsError as exc:
        print(f"iotws webbuild: error: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    for res in results:
        for path in res.written:
            print(f"wrote {path}")
        for path in res.unchanged:
            print(f"unchanged {path}")
    if not results:
        print(f"no example pages under {examples} (looked for */web/)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
