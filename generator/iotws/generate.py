"""`iotws generate` as a library: load, validate, render, lint, self-check, write."""

from __future__ import annotations

import json
from pathlib import Path

from iotws.errors import IotwsError
from iotws.output import write_tree
from iotws.render import RenderResult, render_spec
from iotws.spec import load_spec

# Lint ids that concern IoT policy-document sizes, not IAM policies.
IAM_EXEMPT = {"IOTWS010", "IOTWS011", "IOTWS018"}


class LintFailed(IotwsError):
    pass


def lint_result(result: RenderResult) -> list[str]:
    """Lint every rendered document; return printable findings, raise on errors."""
    from iotws.lint import lint_documents

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


def build(spec_path: str | Path, *, lint: bool = True) -> RenderResult:
    """Load, validate, render, prove (self-check) and lint a spec, in memory.

    Every artifact comes through here (`iotws generate` and `iotws package`), so no file
    and no zip ever carries policies that were not proven and linted.
    """
    from iotws.selfcheck import self_check

    result = render_spec(load_spec(spec_path))
    rules = result.spec.rules
    if rules is not None:
        # Always written (an empty map without rules): Terraform and the emulator read it.
        result.extra_files["rules.json"] = rules.render()
        result.warnings += list(rules.warnings)
    self_check(result)
    if lint:
        result.lint = lint_result(result)
    return result


def generate(spec_path: str | Path, out: str | Path, *, lint: bool = True) -> RenderResult:
    result = build(spec_path, lint=lint)
    write_tree(Path(out), result.files(), replace_dirs=("policies", "cognito"))
    return result
