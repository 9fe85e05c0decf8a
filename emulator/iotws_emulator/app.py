"""The emulator application: find the spec and its build, start the servers, print how to
connect, run until stopped. `iotws emulate` is a thin command over `run`.

Where the spec and the build come from (`resolve`, docs/design.md#decision-10):
- `--build DIR` alone: the build directory is the only source. The spec is read back
  from its copy inside (`iotws.build.open_build`); DIR is used as it is, except that a
  missing `authorizer.zip` is packaged from DIR's configuration (no rendering).
- `--spec S --build DIR`: DIR when it is a build of exactly S's text (the sha256 in its
  metadata); otherwise S is built once and DIR written again (the banner says why).
- `--spec S` alone: S is built once into a temporary directory.

- A spec with an `authorizer:` section: loads the build's `authorizer.zip` in-process (the
  very code `make package` ships) and serves MQTT over WebSockets at `ws://HOST:PORT/mqtt`,
  `POST /topics/{topic}`, `GET /config.json` and the `--serve` directory on one port.
- A spec with `cognito:` and no `authorizer:`: the Cognito guest path (SigV4-presigned
  upgrades, a fake Cognito Identity endpoint), the guest role's IAM policy enforced.
- The spec's topic rules (build/rules.json, written by `iotws generate`) run on every
  message with the kit's own Lambda functions in-process (iotws_emulator.rules); a
  backends file `emulator.json` next to the spec gives those functions their environment
  and local DynamoDB tables (docs/RULES.md). From a build, "next to the spec" is next to
  the original spec the build records, when it is still there.

Every authorization decision is logged to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
import signal
import socket
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from iotws import build as builds
from iotws.errors import IotwsError
from iotws.invoke import load_authorizer
from iotws.package import CONFIG_NAME, build_authorizer_zip, build_dir_zip
from iotws.paths import examples_dir, lambda_src
from iotws.render.policies import client_config
from iotws.spec.model import Spec, load_spec
from iotws.tokens import claims_for, mint_hs256, new_dev_secret, secret_from_env
from iotws_emulator.auth import binding_from_config
from iotws_emulator.broker import Broker, Published
from iotws_emulator.config import EmulatorConfig
from iotws_emulator.policy import EvaluatorEngine
from iotws_emulator.rules import LocalRules, load_backends
from iotws_emulator.server import CognitoGuests, Emulator
from iotws_emulator.sigv4 import FakeCognito

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
SAMPLE_SUBJECT = "devuser"
SECOND_SUBJECT = "devuser2"  # a second user, to try what two users see of each other
BACKENDS_FILE = "emulator.json"  # next to the spec: the local functions' environment


@dataclass
class Options:
    """What `iotws emulate` was asked for (see its --help)."""

    spec: str | None = None
    build: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    tcp_port: int | None = None
    serve: str | None = None
    secret_env: str | None = None
    region: str | None = None
    account: str | None = None
    verbose: bool = False
    session_expiry: int = 3600  # seconds (mqtt-persistent-sessions.html default)
    throttle: bool = True  # IoT's per-connection throttles (limits.py)


@dataclass
class Source:
    """The spec and the build directory `iotws emulate` runs, from `resolve`."""

    spec: Spec
    build_dir: Path
    # The spec file on disk (emulator.json beside it, the banner's commands); None when
    # the build's original spec is gone (or was no file).
    spec_file: Path | None
    from_build: bool  # --build alone: the build directory is the only source
    notes: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """Everything `iotws emulate` needs, loaded and checked before any port is opened."""

    spec: Any
    zip_path: Path
    authorizer: Any
    config: dict[str, Any]
    region: str
    account: str
    source: Source
    secret: bytes | None = None
    dev_token: str | None = None
    dev_client_id: str | None = None
    second_token: str | None = None
    rules_path: Path | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class PreparedCognito:
    """A spec with `cognito:` and no `authorizer:`: the guest IAM policy and page config."""

    spec: Any
    policy_path: Path
    documents: list[dict[str, Any]]
    region: str
    account: str
    web_config: dict[str, Any]
    source: Source
    notes: list[str] = field(default_factory=list)
    rules_path: Path | None = None


def _needs_zip(spec: Spec) -> bool:
    return spec.has_authorizer


def _write_build(spec: Spec, build_dir: Path) -> None:
    """Build the spec once, write the build directory and package its authorizer."""
    built = builds.build(spec)
    builds.write(built, build_dir)
    if _needs_zip(spec):
        build_authorizer_zip(built, build_dir / "authorizer.zip")


def resolve(spec_path: str | None, build: str | None) -> Source:
    """The spec and the build directory for `--spec`, `--build` or both (module docstring)."""
    if spec_path is None and build is None:
        raise IotwsError(
            "say what to emulate",
            field="--spec/--build",
            fix="pass --build DIR (a build directory of `iotws generate`, make generate) or "
            "--spec access.yaml (built here once)",
        )
    if spec_path is None:
        assert build is not None
        return _from_build(Path(build))
    spec = load_spec(spec_path)
    if build is None:
        build_dir = Path(tempfile.mkdtemp(prefix="iotws-emulate-"))
        _write_build(spec, build_dir)
        return Source(spec, build_dir, Path(spec_path), from_build=False)
    build_dir = Path(build)
    reason = _stale_reason(spec, spec_path, build_dir)
    notes = []
    if reason is not None:
        _check_writable(build_dir)
        _write_build(spec, build_dir)
        notes.append(f"built {spec_path} into {build_dir}: {reason}")
    return Source(spec, build_dir, Path(spec_path), from_build=False, notes=notes)


def _check_writable(build_dir: Path) -> None:
    """Refuse to write a build over a file, or into a folder that holds something else."""
    if build_dir.exists() and not build_dir.is_dir():
        raise IotwsError(
            f"{build_dir} is not a directory",
            field="--build",
            fix="pass the build directory, e.g. --build build",
        )
    marks = (builds.METADATA_FILE, "report.json")  # report.json: builds older than metadata
    if build_dir.is_dir() and any(build_dir.iterdir()):
        if not any((build_dir / m).is_file() for m in marks):
            raise IotwsError(
                f"{build_dir} holds other files and no iotws build: the emulator does not "
                "write a build into it",
                field="--build",
                fix="pass a new folder or a build directory of `iotws generate`, e.g. "
                "--build build",
            )


def _stale_reason(spec: Spec, spec_path: str, build_dir: Path) -> str | None:
    """Why `build_dir` is not the build of `spec`'s text, or None when it is."""
    if not build_dir.exists() or (build_dir.is_dir() and not any(build_dir.iterdir())):
        return "there was no build there"
    try:
        found = builds.open_build(build_dir)
    except IotwsError as exc:
        return f"the build there is not usable ({exc.message})"
    if found.sha256 != builds.spec_sha256(spec):
        return (
            f"the build there was made from another text of the spec (sha256 "
            f"{found.sha256[:12]}..., {spec_path} is {builds.spec_sha256(spec)[:12]}...)"
        )
    return None


def _from_build(build_dir: Path) -> Source:
    found = builds.open_build(build_dir)
    notes: list[str] = []
    spec_file = found.original
    now = found.original_sha256()
    if found.original is None:
        notes.append(
            f"note: {build_dir} was built from a spec that is no file: no {BACKENDS_FILE} "
            "for the local functions (docs/RULES.md)"
        )
    elif now is None:
        notes.append(
            f"note: {_command_path(found.original)}, the spec this build was made from, is "
            f"not there (the build's copy {found.spec.source} is used): no {BACKENDS_FILE} "
            "beside it for the local functions (docs/RULES.md)"
        )
        spec_file = None
    elif now != found.sha256:
        notes.append(
            f"warning: {_command_path(found.original)} changed since this build (the build's "
            f"copy {found.spec.source} is used); run `make generate` to rebuild it, or pass "
            "--spec too"
        )
    return Source(found.spec, build_dir, spec_file, from_build=True, notes=notes)


def _build_file(source: Source, rel: str) -> Path:
    """A file the build directory must have (a build of this kit always has it)."""
    path = source.build_dir / rel
    if not path.is_file():
        raise IotwsError(
            f"{path} is missing",
            field="--build",
            fix=builds.rebuild_fix(source.build_dir, source.spec_file),
        )
    return path


def _rules_file(source: Source) -> Path:
    return _build_file(source, "rules.json")


def prepare_cognito(source: Source) -> PreparedCognito:
    """Read the guest role's IAM policy from `build/cognito/<guest_profile>.iam.json`
    (docs/cognito-guests.md)."""
    spec = source.spec
    assert spec.cognito is not None
    guest = spec.cognito.guest_profile
    policy_path = _build_file(source, f"cognito/{guest}.iam.json")
    try:
        document = json.loads(policy_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IotwsError(
            f"{policy_path} is not readable JSON ({type(exc).__name__})",
            field="--build",
            fix=builds.rebuild_fix(source.build_dir, source.spec_file),
        ) from None
    if not isinstance(document, dict):
        raise IotwsError(
            f"{policy_path} is not a JSON object",
            field="--build",
            fix=builds.rebuild_fix(source.build_dir, source.spec_file),
        )
    prof = client_config(spec).get("profiles", {}).get(guest, {})
    web_config = {
        "prefix": spec.prefix,
        "clientId": prof.get("clientId", ""),
        "subscribe": (prof.get("subscribe") or [""])[0],
        "publish": (prof.get("publish") or [""])[0],
    }
    return PreparedCognito(
        spec=spec,
        policy_path=policy_path,
        documents=[document],
        # The IAM policy carries literal ARNs: the spec's aws section (required on this path).
        region=spec.region or DEFAULT_REGION,
        account=spec.account or DEFAULT_ACCOUNT,
        web_config=web_config,
        notes=list(source.notes),
        rules_path=_rules_file(source),
        source=source,
    )


async def _serve_cognito(prep: PreparedCognito, args: Options) -> None:
    engine = EvaluatorEngine()
    config = EmulatorConfig(
        authorizers={},
        engine=engine,
        region=prep.region,
        account=prep.account,
        session_expiry=args.session_expiry,
        throttle=args.throttle,
    )
    guests = CognitoGuests(
        pool=FakeCognito(prep.region),
        policy=engine.compile(prep.documents),
        profile=prep.spec.cognito.guest_profile,
    )

    def banner(emu: Emulator, rules: LocalRules | None) -> str:
        lines = [*prep.notes]
        lines.append(f"iotws emulator: Cognito guest path, IAM policy {prep.policy_path}")
        lines.append(_spec_line(prep.source))
        lines.append(f"  MQTT over WebSockets  {emu.ws_url}?X-Amz-Algorithm=... (SigV4-presigned)")
        lines.append(f"  fake Cognito Identity POST {emu.http_url}/cognito (GetId, ...)")
        lines.append(f"  identity pool         {guests.pool.pool_id}")
        lines.append(f"  HTTP publish          POST {emu.http_url}/topics/{{topic}}?qos=0|1")
        lines.append(f"  client config         {emu.http_url}/config.json")
        if args.serve:
            lines.append(f"  web page              {emu.http_url}/?autoconnect=1")
        lines.append(f"  local console         {emu.http_url}/console")
        lines.append(f"  ARNs                  arn:aws:iot:{prep.region}:{prep.account}:...")
        lines += _rules_lines(prep.rules_path, rules)
        lines.append("Ctrl-C to stop.")
        return "\n".join(lines)

    await _run(config, args, prep.web_config, prep.source, prep.rules_path, banner, guests)


async def _run(
    config: EmulatorConfig,
    args: Options,
    web_config: dict[str, Any],
    source: Source,
    rules_path: Path | None,
    banner: Callable[[Emulator, LocalRules | None], str],
    cognito: CognitoGuests | None = None,
) -> None:
    """Both paths alike: the emulator made, the rules wired to its broker, the ports opened,
    the banner printed, then serve until Ctrl-C or SIGTERM, and stop everything."""
    emu = Emulator(
        config,
        host=args.host,
        port=args.port,
        tcp_port=args.tcp_port,
        serve_dir=args.serve,
        web_config=web_config,
        cognito=cognito,
    )
    # Rules are compiled before any port opens: a rule the emulator cannot run stops here.
    rules = load_rules(source, rules_path, emu.broker, region=config.region, account=config.account)
    try:
        await emu.start()
    except OSError as exc:
        raise IotwsError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror}",
            field="--port",
            fix=_port_fix(args.host, args.port),
        ) from None
    try:
        if rules is not None:
            rules.start(emu.http_url)
        print(banner(emu, rules), file=sys.stderr, flush=True)
        stop = asyncio.Event()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            # SIGTERM (e.g. from a test or a process manager) stops as cleanly as Ctrl-C.
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    finally:
        await emu.stop()
        if rules is not None:
            await asyncio.to_thread(rules.close)


def _sample_client_id(template: str, claims: dict[str, str]) -> str:
    out = template
    for name, value in claims.items():
        out = out.replace("{" + name + "}", value)
    return out[:-1] + "1" if out.endswith("*") else out


def _authorizer_zip(source: Source, notes: list[str]) -> Path:
    """The build's `authorizer.zip`, packaged from the build's configuration (no rendering)
    when it is missing, or stale and `--spec` was given. From `--build` alone a zip of
    another configuration is refused: DIR is used as it is."""
    build_dir = source.build_dir
    zip_path = build_dir / "authorizer.zip"
    expected = builds.read_authorizer_config(build_dir)
    if zip_path.is_file():
        if _zip_config(zip_path) == expected:
            return zip_path
        if source.from_build:
            raise IotwsError(
                f"{zip_path} was packaged from another build: its configuration is not "
                f"{build_dir / builds.AUTHORIZER_CONFIG_FILE}",
                field="--build",
                fix=f"package it again: make package (iotws package --build {build_dir} "
                f"--out {zip_path})",
            )
        notes.append(f"packaged the authorizer again from {build_dir} (the zip was stale)")
    else:
        notes.append(f"packaged the authorizer from {build_dir}")
    build_dir_zip(build_dir, zip_path)
    return zip_path


def _zip_config(zip_path: Path) -> Any:
    """The configuration inside a packaged zip, None when it has none readable."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            return json.loads(zf.read(CONFIG_NAME))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def prepare(
    source: Source,
    *,
    secret_env: str | None = None,
    region: str | None = None,
    account: str | None = None,
) -> Prepared:
    """Load the build's authorizer (packaging it from the build when needed), install a
    dev secret, mint the banner's dev tokens."""
    spec = source.spec
    notes = list(source.notes)
    zip_path = _authorizer_zip(source, notes)
    rules_path = _rules_file(source)
    loaded = load_authorizer(zip_path)
    config = dict(loaded.config)
    if not isinstance(config.get("name"), str) or not config["name"]:
        raise IotwsError(
            f"{zip_path}: the packaged configuration has no authorizer name",
            field="--build",
            fix="rebuild it with `iotws package`",
        )
    prepared = Prepared(
        spec=spec,
        zip_path=zip_path,
        authorizer=loaded,
        config=config,
        region=region or spec.region or DEFAULT_REGION,
        account=account or spec.account or DEFAULT_ACCOUNT,
        source=source,
        rules_path=rules_path,
        notes=notes,
    )
    if spec.authorizer.mode == "hs256":
        secret = secret_from_env(secret_env) if secret_env else new_dev_secret()
        loaded.set_secret_override(secret)
        prepared.secret = secret
        select = spec.authorizer.select
        role = next(iter(select.values)) if select and select.values else None
        claims = claims_for(spec, SAMPLE_SUBJECT, role)
        prepared.dev_token = mint_hs256(secret, claims, ttl_seconds=8 * 3600)
        second = claims_for(spec, SECOND_SUBJECT, role)
        prepared.second_token = mint_hs256(secret, second, ttl_seconds=8 * 3600)
        profile_name = (select.values.get(role or "") if select else None) or (
            select.default if select else None
        )
        profile = spec.profiles.get(profile_name) if profile_name else None
        if profile is not None:
            prepared.dev_client_id = _sample_client_id(profile.client_id, {"sub": SAMPLE_SUBJECT})
    return prepared


def _port_fix(host: str, port: int) -> str:
    """How to pick another port, for `iotws emulate` and for `make demo` users alike."""
    free = port + 1
    for candidate in range(port + 1, min(port + 50, 65536)):
        with contextlib.suppress(OSError), socket.socket() as sock:
            sock.bind((host, candidate))
            free = candidate
            break
    return f"another program uses it; pick a free port: make demo PORT={free} (or --port {free})"


def _command_path(path: Path) -> str:
    """`path` as a user would type it from the current folder (relative when inside it)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def python_command() -> str:
    """This interpreter (the kit's venv), as typed: `.venv/bin/python3`, never `python`,
    which Debian does not have and whose packages may lack boto3."""
    return _command_path(Path(os.path.abspath(sys.executable)))


def _make_spec_arg(source: str | None) -> str:
    """` EXAMPLE=name` for an example's spec, ` SPEC=path` otherwise ('' for the default)."""
    if not source:
        return ""
    path = Path(source).resolve()
    if path.name == "access.yaml" and path.parent.parent == examples_dir().resolve():
        name = path.parent.name
        return "" if name == "custom-authorizer" else f" EXAMPLE={name}"
    return f" SPEC={source}"


def _spec_line(source: Source) -> str:
    if not source.from_build:
        return f"  spec                  {source.spec.source} (build in {source.build_dir})"
    if source.spec_file is None:
        return f"  spec                  {source.spec.source} (the build's copy; no original)"
    original = _command_path(source.spec_file)
    return f"  spec                  {source.spec.source} (the build's copy of {original})"


def _banner(
    prep: Prepared,
    emu: Emulator,
    serve_dir: str | None,
    secret_env: str | None,
    rules: LocalRules | None = None,
) -> str:
    spec = prep.spec
    lines = [*prep.notes]
    lines.append(
        f"iotws emulator: authorizer {prep.config['name']} ({spec.authorizer.mode}) "
        f"from {prep.zip_path}"
    )
    lines.append(_spec_line(prep.source))
    lines.append(
        f"  MQTT over WebSockets  {emu.ws_url}"
        f"?x-amz-customauthorizer-name={quote(prep.config['name'])}"
    )
    if emu.tcp_port is not None:
        lines.append(f"  MQTT over TCP         mqtt://{emu.host}:{emu.tcp_port}")
    lines.append(f"  HTTP publish          POST {emu.http_url}/topics/{{topic}}?qos=0|1")
    lines.append(f"  client config         {emu.http_url}/config.json")
    if serve_dir:
        lines.append(f"  web page              {emu.http_url}/")
    lines.append(f"  local console         {emu.http_url}/console")
    lines.append(f"  ARNs                  arn:aws:iot:{prep.region}:{prep.account}:...")
    if prep.dev_token:
        source = f"secret from ${secret_env}" if secret_env else "random secret for this run"
        lines.append(f"dev token for sub={SAMPLE_SUBJECT} (HS256, valid 8 h, {source}):")
        lines.append(f"  {prep.dev_token}")
        if prep.dev_client_id:
            lines.append(f"  connect with client id {prep.dev_client_id}")
        if serve_dir:
            lines.append(f"  page with the token:  {emu.http_url}/?token={prep.dev_token}")
        if prep.second_token:
            lines.append(f"a second user, sub={SECOND_SUBJECT} (open in another browser window):")
            lines.append(f"  {prep.second_token}")
            if serve_dir:
                lines.append(f"  page with the token:  {emu.http_url}/?token={prep.second_token}")
    elif spec.authorizer.mode == "jwks":
        lines.append("jwks mode: connect with a token from your identity provider")
    src = prep.source
    script = examples_dir() / "custom-authorizer" / "scripts" / "publish.py"
    cmd = [python_command(), _command_path(script), "--endpoint-url", emu.http_url]
    # From a build alone, the commands name the build (its spec file may be gone or newer).
    cmd += ["--prefix", spec.prefix] if src.from_build else ["--spec", spec.source]
    lines.append("publish from a backend:")
    lines.append("  " + shlex.join(cmd) + ' --message \'{"text": "hello"}\'')
    if prep.dev_token and secret_env:
        iotws = _command_path(Path(os.path.abspath(sys.executable)).with_name("iotws"))
        lines.append(f"tokens for other users, signed with this emulator's secret (${secret_env}):")
        if src.from_build:
            where = f"--build {shlex.quote(str(src.build_dir))}"
        else:
            make = f"make token SUB=alice{_make_spec_arg(spec.source)}"
            lines.append(f"  {make}   (with `make demo`)")
            where = f"--spec {shlex.quote(spec.source)}"
        lines.append(f"  {iotws} token {where} --sub alice --secret-env {secret_env}")
    lines += _rules_lines(prep.rules_path, rules)
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines)


async def _serve(prep: Prepared, args: Options) -> None:
    binding = binding_from_config(prep.authorizer, prep.config)
    config = EmulatorConfig(
        authorizers={binding.name: binding},
        engine=EvaluatorEngine(),
        default_authorizer=binding.name,
        region=prep.region,
        account=prep.account,
        session_expiry=args.session_expiry,
        throttle=args.throttle,
    )
    web_config = {
        "authorizerName": binding.name,
        "tokenKeyName": binding.token_key_name or "",
        "prefix": prep.config.get("prefix") or "",
        "mode": prep.config.get("mode") or "",
    }
    await _run(
        config,
        args,
        web_config,
        prep.source,
        prep.rules_path,
        lambda emu, rules: _banner(prep, emu, args.serve, args.secret_env, rules),
    )


def _rules_lines(rules_path: Path | None, rules: LocalRules | None) -> list[str]:
    if rules is None:
        return []
    lines = [f"topic rules from {rules_path}:"]
    for rule in rules.engine.rules:
        targets = ", ".join(f"{a.kind} {a.resource}" for a in rule.actions)
        lines.append(f"  {rule.name}  FROM '{rule.statement.topic_filter}' -> {targets}")
    if rules.aws.moto_url:
        lines.append(f"  local AWS for the functions (moto): {rules.aws.moto_url}")
    return lines


def load_rules(
    source: Source, rules_path: Path | None, broker: Broker, *, region: str, account: str
) -> LocalRules | None:
    """The spec's rules wired to the broker: every accepted message goes through them, and
    their republish actions publish server-side. None when the build has no rules."""
    if rules_path is None:
        return None
    spec_file = source.spec_file
    rules = LocalRules.load(
        rules_path,
        publish=lambda topic, payload, qos, retain: _republish(broker, topic, payload, qos, retain),
        function_dir=lambda_src,
        region=region,
        account=account,
        topic_prefix=source.spec.prefix,
        backends=load_backends(spec_file.parent / BACKENDS_FILE if spec_file else None),
    )
    if not rules.engine.rules:
        rules.close()
        return None

    def listener(p: Published) -> None:
        rules.on_message(p.topic, p.payload, client_id=p.client_id, principal=p.principal)

    broker.add_listener(listener)
    return rules


def _republish(broker: Broker, topic: str, payload: bytes, qos: int, retain: bool) -> None:
    broker.publish(topic, payload, qos, retain, source="rule")


def run(opts: Options) -> int:
    """Load, start, serve until Ctrl-C or SIGTERM. Raises IotwsError on bad input."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)  # the local functions' clients
    source = resolve(opts.spec, opts.build)
    spec = source.spec
    if spec.cognito is not None and not spec.has_authorizer:
        cog = prepare_cognito(source)
        try:
            asyncio.run(_serve_cognito(cog, opts))
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
        return 0
    prep = prepare(source, secret_env=opts.secret_env, region=opts.region, account=opts.account)
    if opts.verbose:
        logging.getLogger("iotws.emulator.authorizer").setLevel(logging.DEBUG)
    try:
        asyncio.run(_serve(prep, opts))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0
