"""Build once (docs/design.md#decision-10): a spec is loaded, rendered, proved and linted once
into a `Build`; the build directory (`iotws generate`), the authorizer zip (`iotws
package`) and the emulator (`iotws emulate`) all consume that `Build`, or the build
directory written from it (`--build DIR`), never the spec path again.

A build directory carries a verbatim copy of its spec (`spec/access.yaml`) and, in
`metadata.json`, the copy's sha256 and the original's path relative to the directory
(generator/INTERNALS.md "Build directory"): `open_build` gives the typed spec back from
the directory alone, so every command that reads a spec also takes `--build DIR`.

The authorizer configuration is the contract between this toolchain and the Lambda
(generator/INTERNALS.md "Authorizer configuration"); its JSON Schema ships as package
data (`schema/authorizer-config.schema.json`) and every configuration is checked against
it: the rendered one here, a build directory's one when it is read back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iotws import __version__, schemas
from iotws.errors import IotwsError
from iotws.output import write_tree
from iotws.policy.lint import lint_documents
from iotws.policy.proofs import self_check
from iotws.render.policies import RenderedProfile, RenderResult, render_spec
from iotws.spec.model import Spec, load_spec, parse_spec
from iotws.spec.rules import RulesSpec

# Lint ids that concern IoT policy-document sizes, not IAM policies.
IAM_EXEMPT = {"IOTWS010", "IOTWS011", "IOTWS018"}
AUTHORIZER_CONFIG_FILE = "authorizer/config.json"
AUTHORIZER_CONFIG_SCHEMA = "authorizer-config.schema.json"
# Which kit made the build and from which spec text. The Terraform modules' `build_metadata`
# input checks its kit version at plan time (modules/*/README.md, "Kit version").
METADATA_FILE = "metadata.json"
SPEC_COPY = "spec/access.yaml"  # the spec's text, verbatim, whatever the original's name
# Directories `write` replaces whole, so a removed profile leaves no stale file.
# They are the build's alone: a file in them that the build did not write is refused when
# the directory is read (`read_metadata`).
REPLACED_DIRS = ("policies", "cognito", "authorizer")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class LintFailed(IotwsError):
    pass


@dataclass
class Build:
    """One spec, rendered, proved and linted: everything every artifact is made from."""

    spec: Spec  # the typed spec; nothing reads the YAML again
    profiles: dict[str, RenderedProfile]  # the authorizer's profiles, rendered
    authorizer_config: dict[str, Any]  # schema-checked (`check_authorizer_config`)
    client_config: dict[str, Any]
    report: dict[str, Any]
    rules: RulesSpec | None
    warnings: list[str] = field(default_factory=list)
    lint: list[str] = field(default_factory=list)  # printable lint findings (not written)
    _files: dict[str, bytes] = field(default_factory=dict, repr=False)

    def files(self) -> dict[str, bytes]:
        """Relative path -> bytes, everything `iotws generate` writes except `metadata.json`
        (it records the spec's path relative to the directory: `write` adds it)."""
        return dict(self._files)


@dataclass(frozen=True)
class BuildDir:
    """A build directory read back (`open_build`): the typed spec from its copy inside."""

    path: Path
    spec: Spec  # parsed from DIR/spec/access.yaml (its `source`)
    sha256: str  # of the spec's text
    # Where the spec was when the build was made (DIR joined with metadata's spec.path),
    # None for a spec that was no file; it may have moved or changed since.
    original: Path | None

    def original_sha256(self) -> str | None:
        """The sha256 of the original spec as it is now, None when it is not there."""
        if self.original is None or not self.original.is_file():
            return None
        return hashlib.sha256(self.original.read_bytes()).hexdigest()


def spec_sha256(spec: Spec) -> str:
    return hashlib.sha256(spec.text.encode("utf-8")).hexdigest()


def authorizer_config_schema() -> dict[str, Any]:
    return schemas.load(AUTHORIZER_CONFIG_SCHEMA)


def _config_validator() -> Any:
    return schemas.validator(AUTHORIZER_CONFIG_SCHEMA)


def authorizer_config_is_valid(config: Any) -> bool:
    """True when `config` follows the schema (stops at the first violation)."""
    valid: bool = _config_validator().is_valid(config)
    return valid


def authorizer_config_errors(config: Any) -> list[str]:
    """Schema violations of an authorizer configuration, each as `path: message`."""
    out = []
    for err in sorted(
        _config_validator().iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]
    ):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        out.append(f"{where}: {err.message}")
    return out


def check_authorizer_config(config: Any, *, source: str) -> dict[str, Any]:
    """Raise unless `config` follows the authorizer configuration's JSON Schema."""
    errors = authorizer_config_errors(config)
    if errors:
        raise IotwsError(
            f"{source} does not follow the authorizer configuration schema:\n  "
            + "\n  ".join(errors[:10]),
            fix="rebuild it with `iotws generate` (make generate); never edit it by hand",
        )
    assert isinstance(config, dict)
    return config


def lint_result(result: RenderResult) -> list[str]:
    """Lint every rendered document; return printable findings, raise on errors."""
    spec = result.spec
    lines: list[str] = []
    errors = 0
    for name, prof in sorted(result.profiles.items()):
        findings = lint_documents(
            prof.document_dicts(), region=spec.region, account=spec.account, source=name
        )
        for f in findings:
            lines.append(f"profile {name}: {f.render()}")
            errors += f.severity == "error"
    # Cognito guest IAM policies: the same rules, except IoT's 2,048-character document
    # limits (IAM has its own size limit, checked by the Cognito renderer).
    for rel, data in sorted(result.extra_files.items()):
        if not rel.startswith("cognito/"):
            continue
        policy = json.loads(data)
        for f in lint_documents([policy], region=spec.region, account=spec.account, source=rel):
            if f.id in IAM_EXEMPT:
                continue
            lines.append(f"{rel}: {f.render()}")
            errors += f.severity == "error"
    if errors:
        raise LintFailed(
            f"the rendered policies have {errors} lint error(s):\n  " + "\n  ".join(lines),
            fix="change the spec so the policies are safe; see the findings above",
        )
    return lines


def build(spec: Spec | str | Path, *, lint: bool = True) -> Build:
    """Render, prove (self-check) and lint a spec (a `Spec`, or the path of one), in memory.

    Every artifact comes from a `Build`, so no file and no zip ever carries policies that
    were not proven and linted.
    """
    typed = spec if isinstance(spec, Spec) else load_spec(spec)
    result = render_spec(typed)
    rules = typed.rules
    if rules is not None:
        # Always written (an empty map without rules): Terraform and the emulator read it.
        result.extra_files["rules.json"] = rules.render()
        result.warnings += list(rules.warnings)
    if typed.has_authorizer:
        check_authorizer_config(result.authorizer_config, source="the rendered configuration")
    self_check(result)
    if lint:
        result.lint = lint_result(result)
    # The build names its own copy, never the path it was given (no absolute paths: the
    # same spec text gives the same bytes wherever it is built).
    result.report["spec"] = SPEC_COPY
    result.extra_files[SPEC_COPY] = typed.text.encode("utf-8")
    return Build(
        spec=typed,
        profiles=result.profiles,
        authorizer_config=result.authorizer_config,
        client_config=result.client_config,
        report=result.report,
        rules=rules,
        warnings=result.warnings,
        lint=result.lint,
        _files=result.files(),
    )


def metadata(b: Build, out: str | Path) -> dict[str, Any]:
    """`metadata.json` of `b` written into `out`: the kit, and the spec's copy, its sha256
    and the original's path relative to `out` (null for a spec that is no file)."""
    source = Path(b.spec.source) if b.spec.source else None
    path = None
    if source is not None and source.is_file():
        path = Path(os.path.relpath(source.resolve(), Path(out).resolve())).as_posix()
    return {
        "kit": "iotws",
        "kit_version": __version__,
        "spec": {"copy": SPEC_COPY, "path": path, "sha256": spec_sha256(b.spec)},
        # Every file of the build with its sha256: what was proved and linted. A consumer
        # of the directory (`read_metadata`) refuses a file that differs or is not listed.
        "files": {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(b.files().items())},
    }


def write(b: Build, out: str | Path) -> None:
    """Write the build directory with its metadata (all files or none)."""
    files = b.files()
    files[METADATA_FILE] = (json.dumps(metadata(b, out), indent=2) + "\n").encode()
    write_tree(Path(out), files, replace_dirs=REPLACED_DIRS)


def generate(spec: Spec | str | Path, out: str | Path, *, lint: bool = True) -> Build:
    """`iotws generate` as a library: build once, write the build directory."""
    b = build(spec, lint=lint)
    write(b, out)
    return b


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_authorizer_config(build_dir: str | Path) -> dict[str, Any]:
    """The authorizer configuration of a build directory written by `iotws generate`,
    checked against the schema (what `iotws package --build DIR` zips)."""
    path = Path(build_dir) / AUTHORIZER_CONFIG_FILE
    if not Path(build_dir).is_dir():
        raise IotwsError(
            f"no build directory {build_dir}",
            field="--build",
            fix="run `iotws generate --spec access.yaml --out DIR` (make generate) first",
        )
    if not path.is_file():
        raise IotwsError(
            f"{path} is missing: this build has no authorizer (its spec has no authorizer "
            "section, or it was not generated)",
            field="--build",
            fix="Cognito-only specs need no Lambda; else run `iotws generate` (make generate)",
        )
    try:
        # NaN and Infinity are not JSON (RFC 8259): the authorizer refuses them too.
        raw = json.loads(path.read_text(encoding="utf-8"), parse_constant=_not_json)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IotwsError(
            f"{path} is not readable JSON ({type(exc).__name__})",
            field="--build",
            fix="rebuild it with `iotws generate` (make generate)",
        ) from None
    return check_authorizer_config(raw, source=str(path))


def rebuild_fix(build_dir: str | Path, spec_path: str | Path | None = None) -> str:
    """How to write `build_dir` again with this kit (the fix of every bad-build error)."""
    return (
        f"rebuild it with this kit: make generate (iotws generate --spec "
        f"{spec_path or 'access.yaml'} --out {build_dir})"
    )


def _original(out: Path, meta: dict[str, Any]) -> Path | None:
    """The original spec's location that metadata.json records (None when none)."""
    entry = meta.get("spec")
    recorded = entry.get("path") if isinstance(entry, dict) else None
    # `path` is relative to the real directory (metadata), so it is joined to that one.
    return Path(os.path.normpath(out.resolve() / recorded)) if isinstance(recorded, str) else None


def read_metadata(build_dir: str | Path, *, check_files: bool = True) -> dict[str, Any]:
    """`metadata.json` of a build directory this kit wrote. Refuses, naming `--build` and
    the fix, a missing directory or metadata and a build of another kit version (the
    rendered files' formats are the kit's: a build is read by the kit that wrote it)."""
    out = Path(build_dir)
    if not out.is_dir():
        raise IotwsError(
            f"no build directory {out}",
            field="--build",
            fix=f"run `iotws generate --spec access.yaml --out {out}` (make generate) first",
        )
    meta_path = out / METADATA_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IotwsError(
            f"{meta_path} is missing: {out} is not a build directory of `iotws generate`",
            field="--build",
            fix=rebuild_fix(out),
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IotwsError(
            f"{meta_path} is not readable JSON ({type(exc).__name__})",
            field="--build",
            fix=rebuild_fix(out),
        ) from None
    if not isinstance(meta, dict) or meta.get("kit") != "iotws":
        raise IotwsError(
            f"{meta_path} is not the metadata of an iotws build",
            field="--build",
            fix=rebuild_fix(out),
        )
    if meta.get("kit_version") != __version__:
        raise IotwsError(
            f"{out} was built by iotws {meta.get('kit_version')}, this is iotws {__version__}; "
            "a build is read by the kit that wrote it",
            field="--build",
            fix=rebuild_fix(out, _original(out, meta)),
        )
    if check_files:
        _check_files(out, meta)
    return meta


def _check_files(out: Path, meta: dict[str, Any]) -> None:
    """The files of `out` are the ones the build proved: each listed file has its recorded
    sha256, and the build's own folders hold no other file (a policy added or edited by hand
    would otherwise be zipped, served or simulated unproved)."""
    listed = meta.get("files")
    fix = "edit the spec, never the build; then " + rebuild_fix(out, _original(out, meta))
    if not isinstance(listed, dict) or not all(
        isinstance(v, str) and _SHA256.fullmatch(v) for v in listed.values()
    ):
        raise IotwsError(
            f"{out / METADATA_FILE} lists no files with their sha256 (an older iotws wrote it)",
            field="--build",
            fix=rebuild_fix(out, _original(out, meta)),
        )
    for rel, want in sorted(listed.items()):
        try:
            got = hashlib.sha256((out / rel).read_bytes()).hexdigest()
        except OSError as exc:
            raise IotwsError(
                f"{out / rel} is missing or unreadable ({exc.strerror or type(exc).__name__})",
                field="--build",
                fix=fix,
            ) from None
        if got != want:
            raise IotwsError(
                f"{out / rel} is not the file the build proved (sha256 {got[:12]}..., "
                f"{METADATA_FILE} records {want[:12]}...): it was edited after the build",
                field="--build",
                fix=fix,
            )
    for folder in REPLACED_DIRS:
        for path in sorted((out / folder).rglob("*")):
            rel = path.relative_to(out).as_posix()
            if path.is_file() and rel not in listed:
                raise IotwsError(
                    f"{path} is not a file of this build: it was added after the build",
                    field="--build",
                    fix="remove it; " + fix,
                )


def open_build(build_dir: str | Path) -> BuildDir:
    """The build directory `iotws generate` wrote, with its spec read back from the copy
    inside (no other file is needed). Refuses, naming `--build` and the fix, what
    `read_metadata` refuses, a build without a spec copy (an older kit) and a copy whose
    sha256 is not the one recorded (edited after the build)."""
    out = Path(build_dir)
    meta = read_metadata(out, check_files=False)  # after the spec copy's own, clearer checks
    meta_path = out / METADATA_FILE
    entry = meta.get("spec")
    original = _original(out, meta)
    if (
        not isinstance(entry, dict)
        or entry.get("copy") != SPEC_COPY
        or not isinstance(entry.get("sha256"), str)
        or not _SHA256.fullmatch(entry["sha256"])
    ):
        raise IotwsError(
            f"{out} has no copy of its spec ({meta_path} records none: it was built by an "
            "older iotws), so the spec cannot be read back from it",
            field="--build",
            fix=rebuild_fix(out, original),
        )
    copy = out / SPEC_COPY
    try:
        data = copy.read_bytes()
    except OSError as exc:
        raise IotwsError(
            f"{copy} is missing or unreadable ({exc.strerror or type(exc).__name__})",
            field="--build",
            fix=rebuild_fix(out, original),
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise IotwsError(
            f"{copy} is not the spec this build was made from (its sha256 is {digest[:12]}..., "
            f"{meta_path} records {entry['sha256'][:12]}...): it was edited after the build",
            field="--build",
            fix="edit the spec itself, never the build; then " + rebuild_fix(out, original),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IotwsError(
            f"{copy} is not UTF-8 text", field="--build", fix=rebuild_fix(out, original)
        ) from None
    _check_files(out, meta)
    keys: dict[str, str] = {}
    if (out / AUTHORIZER_CONFIG_FILE).is_file():
        keys = dict(read_authorizer_config(out).get("signing_public_keys") or {})
    spec = parse_spec(text, source=str(copy), signing_keys=keys)
    return BuildDir(path=out, spec=spec, sha256=digest, original=original)
