"""The emulator application: load the spec and its build, start the servers, print how to
connect, run until stopped. `iotws emulate` is a thin command over `run`.

- A spec with an `authorizer:` section: generates and packages the authorizer into the
  build directory when it has no `authorizer.zip`, loads that zip in-process (the very
  code `make package` ships) and serves MQTT over WebSockets at `ws://HOST:PORT/mqtt`,
  `POST /topics/{topic}`, `GET /config.json` and the `--serve` directory on one port.
- A spec with `cognito:` and no `authorizer:`: the Cognito guest path (SigV4-presigned
  upgrades, a fake Cognito Identity endpoint), the guest role's IAM policy enforced.
- The spec's topic rules (build/rules.json, written by `iotws generate`) run on every
  message with the kit's own Lambda functions in-process (iotws_emulator.rules); a
  backends file `emulator.json` next to the spec gives those functions their environment
  and local DynamoDB tables (docs/RULES.md).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from iotws import build as builds
from iotws.errors import IotwsError
from iotws.invoke import load_authorizer
from iotws.package import build_authorizer_zip
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

    spec: str
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
class Prepared:
    """Everything `iotws emulate` needs, loaded and checked before any port is opened."""

    spec: Any
    zip_path: Path
    authorizer: Any
    config: dict[str, Any]
    region: str
    account: str
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
    notes: list[str] = field(default_factory=list)
    rules_path: Path | None = None


def _rules_file(spec: Any, spec_path: str, build_dir: Path, notes: list[str]) -> Path | None:
    """build/rules.json, generated when the spec has rules and an older build lacks them."""
    rules_path = build_dir / "rules.json"
    if spec.rules is not None and spec.rules.rules and not rules_path.is_file():
        builds.generate(spec, build_dir)  # a build from before the spec had rules
        notes.append(f"generated the rules into {rules_path}")
    elif rules_path.is_file() and Path(spec_path).stat().st_mtime > rules_path.stat().st_mtime:
        notes.append(
            f"warning: {rules_path} is older than {spec_path}; run `make generate` to rebuild it"
        )
    return rules_path if rules_path.is_file() else None


def prepare_cognito(spec: Any, spec_path: str, build: str | None) -> PreparedCognito:
    """Read the guest role's IAM policy from `build/cognito/<guest_profile>.iam.json`,
    generating the build directory first when it is missing (docs/cognito-guests.md)."""
    notes: list[str] = []
    guest = spec.cognito.guest_profile
    build_dir = Path(build) if build else Path(tempfile.mkdtemp(prefix="iotws-emulate-"))
    policy_path = build_dir / "cognito" / f"{guest}.iam.json"
    if not policy_path.is_file():
        builds.generate(spec, build_dir)
        notes.append(f"generated the guest IAM policy into {build_dir}")
    elif Path(spec_path).stat().st_mtime > policy_path.stat().st_mtime:
        notes.append(
            f"warning: {policy_path} is older than {spec_path}; run `make generate` to rebuild it"
        )
    document = json.loads(policy_path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise IotwsError(
            f"{policy_path} is not a JSON object",
            field="--build",
            fix="rebuild it with `iotws generate`",
        )
    rules_path = _rules_file(spec, spec_path, build_dir, notes)
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
        notes=notes,
        rules_path=rules_path,
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
    emu = Emulator(
        config,
        host=args.host,
        port=args.port,
        tcp_port=args.tcp_port,
        serve_dir=args.serve,
        web_config=prep.web_config,
        cognito=guests,
    )
    rules = load_rules(
        prep.spec, prep.rules_path, emu.broker, region=prep.region, account=prep.account
    )
    try:
        await emu.start()
    except OSError as exc:
        raise IotwsError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror}",
            field="--port",
            fix=_port_fix(args.host, args.port),
        ) from None
    if rules is not None:
        rules.start(emu.http_url)
    lines = [*prep.notes]
    lines.append(f"iotws emulator: Cognito guest path, IAM policy {prep.policy_path}")
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
    print("\n".join(lines), file=sys.stderr, flush=True)
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
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


def prepare(
    spec_path: str,
    build: str | None,
    *,
    secret_env: str | None = None,
    region: str | None = None,
    account: str | None = None,
    spec: Spec | None = None,
) -> Prepared:
    """Load the spec (unless given), build it once if the build directory lacks the zip or
    the rules, load the authorizer, install a dev secret."""
    spec = spec if spec is not None else load_spec(spec_path)
    notes: list[str] = []
    build_dir = Path(build) if build else Path(tempfile.mkdtemp(prefix="iotws-emulate-"))
    zip_path = build_dir / "authorizer.zip"
    if not zip_path.is_file():
        built = builds.build(spec)
        builds.write(built, build_dir)
        build_authorizer_zip(built, zip_path)
        notes.append(f"generated and packaged the authorizer into {build_dir}")
    elif Path(spec_path).stat().st_mtime > zip_path.stat().st_mtime:
        notes.append(
            f"warning: {zip_path} is older than {spec_path}; run `make package` to rebuild it"
        )
    rules_path = _rules_file(spec, spec_path, build_dir, notes)
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
    script = examples_dir() / "custom-authorizer" / "scripts" / "publish.py"
    cmd = [python_command(), _command_path(script), "--endpoint-url", emu.http_url]
    if spec.source:
        cmd += ["--spec", spec.source]
    lines.append("publish from a backend:")
    lines.append("  " + shlex.join(cmd) + ' --message \'{"text": "hello"}\'')
    if prep.dev_token and secret_env:
        iotws = _command_path(Path(os.path.abspath(sys.executable)).with_name("iotws"))
        lines.append(f"tokens for other users, signed with this emulator's secret (${secret_env}):")
        lines.append(f"  make token SUB=alice{_make_spec_arg(spec.source)}   (with `make demo`)")
        lines.append(f"  {iotws} token --spec {spec.source} --sub alice --secret-env {secret_env}")
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
    emu = Emulator(
        config,
        host=args.host,
        port=args.port,
        tcp_port=args.tcp_port,
        serve_dir=args.serve,
        web_config=web_config,
    )
    # Rules are compiled before any port opens: a rule the emulator cannot run stops here.
    rules = load_rules(
        prep.spec, prep.rules_path, emu.broker, region=prep.region, account=prep.account
    )
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
        print(_banner(prep, emu, args.serve, args.secret_env, rules), file=sys.stderr, flush=True)
        stop = asyncio.Event()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            # SIGTERM (e.g. from a test or a process manager) stops as cleanly as Ctrl-C.
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    finally:
        await emu.stop()
        if rules is not None:
            await asyncio.to_thread(rules.close)


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
    spec: Any, rules_path: Path | None, broker: Broker, *, region: str, account: str
) -> LocalRules | None:
    """The spec's rules wired to the broker: every accepted message goes through them, and
    their republish actions publish server-side. None when the build has no rules."""
    if rules_path is None:
        return None
    spec_dir = Path(spec.source).parent if spec.source else Path.cwd()
    rules = LocalRules.load(
        rules_path,
        publish=lambda topic, payload, qos, retain: _republish(broker, topic, payload, qos, retain),
        function_dir=lambda_src,
        region=region,
        account=account,
        topic_prefix=spec.prefix,
        backends=load_backends(spec_dir / BACKENDS_FILE),
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
    spec = load_spec(opts.spec)
    if spec.cognito is not None and not spec.has_authorizer:
        cog = prepare_cognito(spec, opts.spec, opts.build)
        try:
            asyncio.run(_serve_cognito(cog, opts))
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
        return 0
    prep = prepare(
        opts.spec,
        opts.build,
        secret_env=opts.secret_env,
        region=opts.region,
        account=opts.account,
        spec=spec,
    )
    if opts.verbose:
        logging.getLogger("iotws.emulator.authorizer").setLevel(logging.DEBUG)
    try:
        asyncio.run(_serve(prep, opts))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0
