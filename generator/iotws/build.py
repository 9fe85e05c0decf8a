"""Build once (docs/design.md#decision-10): a spec is loaded, rendered, proved and linted once
into a `Build`; the build directory (`iotws generate`), the authorizer zip (`iotws
package`) and the emulator (`iotws emulate`) all consume that `Build`, or the build
directory written from it (`--build DIR`), never the spec path again.

The authorizer configuration is the contract between this toolchain and the Lambda
(generator/INTERNALS.md "Authorizer configuration"); its JSON Schema ships as package
data (`schema/authorizer-config.schema.json`) and every configuration is checked against
it: the rendered one here, a build directory's one when it is read back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from iotws.errors import IotwsError
from iotws.output import write_tree
from iotws.policy.lint import lint_documents
from iotws.policy.proofs import self_check
from iotws.render.policies import RenderedProfile, RenderResult, render_spec
from iotws.spec.model import Spec, load_spec
from iotws.spec.rules import RulesSpec

# Lint ids that concern IoT policy-document sizes, not IAM policies.
IAM_EXEMPT = {"IOTWS010", "IOTWS011", "IOTWS018"}
AUTHORIZER_CONFIG_FILE = "authorizer/config.json"
# Directories `write` replaces whole, so a removed profile leaves no stale file.
REPLACED_DIRS = ("policies", "cognito")


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
        """Relative path -> bytes, everything `iotws generate` writes."""
        return dict(self._files)


@cache
def authorizer_config_schema() -> dict[str, Any]:
    text = (
        resources.files("iotws")
        .joinpath("schema/authorizer-config.schema.json")
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def authorizer_config_errors(config: Any) -> list[str]:
    """Schema violations of an authorizer configuration, each as `path: message`."""
    validator = jsonschema.Draft202012Validator(authorizer_config_schema())
    out = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
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


def write(b: Build, out: str | Path) -> None:
    """Write the build directory (all files or none)."""
    write_tree(Path(out), b.files(), replace_dirs=REPLACED_DIRS)


def generate(spec: Spec | str | Path, out: str | Path, *, lint: bool = True) -> Build:
    """`iotws generate` as a library: build once, write the build directory."""
    b = build(spec, lint=lint)
    write(b, out)
    return b


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
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IotwsError(
            f"{path} is not readable JSON ({type(exc).__name__})",
            field="--build",
            fix="rebuild it with `iotws generate` (make generate)",
        ) from None
    return check_authorizer_config(raw, source=str(path))
