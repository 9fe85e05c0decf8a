"""`iotws lint`: findings with ids, severity and a fix hint; a cfn-lint-style exit code.

The exit code is a bitmask of the levels found, as cfn-lint's: 2 for errors, 4 for
warnings, 8 for informational findings (so 6 is errors and warnings). `--fail-on LEVEL`
says which levels count: `error` (only errors), `warning` (the default: errors and
warnings, like cfn-lint), `info` (all three) or `none` (always 0 when linting ran).
Bad input (an unreadable file, invalid JSON, a bad spec) exits 1, which no combination
of findings produces.

`iotws lint --policy P.json [--policy ...]` lints the documents of the files together (the
documents that apply to one principal). `iotws lint --spec access.yaml` renders the spec
with the generator and lints each profile's documents; `iotws lint --build DIR` lints each
profile's documents as the build directory holds them (`policies/<profile>/`, what ships),
with the region and account of the spec the build was made from. The finding ids are
listed in `iotws.policy.lint`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from iotws.build import open_build, rebuild_fix
from iotws.commands.simulate import load_policy_files
from iotws.errors import IotwsError
from iotws.policy.lint import Finding, lint_documents
from iotws.render.policies import render_spec
from iotws.spec.model import load_spec

# cfn-lint's exit-code bits, and the levels each --fail-on value counts.
EXIT_BITS = {"error": 2, "warning": 4, "info": 8}
FAIL_ON = {
    "error": ("error",),
    "warning": ("error", "warning"),
    "info": ("error", "warning", "info"),
    "none": (),
}
USAGE_ERROR = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lint",
        help="Check IoT policy documents (or a spec's rendered policies) for known pitfalls",
        description="Lint IoT policies: wrong resource types, client-id takeover and "
        "injection, receive leaks, size limits, resources that never match. Exit code: a "
        "bitmask of the levels found (2 error, 4 warning, 8 info) among those --fail-on "
        "counts; 1 for bad input.",
    )
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--policy",
        action="append",
        metavar="FILE",
        help="policy JSON: a document, a list, or an authorizer response; repeatable",
    )
    src.add_argument("--spec", metavar="ACCESS_YAML", help="render this access spec and lint it")
    src.add_argument(
        "--build",
        metavar="DIR",
        help="lint the policies of this build directory (`iotws generate`, make generate)",
    )
    parser.add_argument("--region", help="expected region of every ARN")
    parser.add_argument("--account", help="expected account of every ARN")
    parser.add_argument("--json", action="store_true", help="print findings as a JSON list")
    parser.add_argument(
        "--fail-on",
        choices=tuple(FAIL_ON),
        default="warning",
        help="lowest level that makes the exit code non-zero (default: warning, as cfn-lint)",
    )
    parser.set_defaults(func=run)


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _documents_of(profile: Any) -> list[Any]:
    docs = _get(profile, "documents")
    if docs is None and isinstance(profile, list):
        docs = profile
    if not isinstance(docs, list | tuple):
        raise IotwsError(
            "the rendered profile exposes no documents",
            field="--spec",
            fix="report this: iotws.render.policies.render_spec must expose documents per profile",
        )
    return [json.loads(d) if isinstance(d, str) else d for d in docs]


def lint_spec(path: str, region: str | None, account: str | None) -> list[Finding]:
    """Render `path` with the generator and lint each profile's documents."""
    spec = load_spec(path)
    result = render_spec(spec)
    region = region if region is not None else spec.region
    account = account if account is not None else spec.account
    findings: list[Finding] = []
    for name in sorted(result.profiles):
        findings.extend(
            lint_documents(
                _documents_of(result.profiles[name]), region=region, account=account, source=name
            )
        )
    return findings


def lint_build(build_dir: str, region: str | None, account: str | None) -> list[Finding]:
    """Lint each profile's documents as the build directory holds them."""
    found = open_build(build_dir)
    spec = found.spec
    region = region if region is not None else spec.region
    account = account if account is not None else spec.account
    findings: list[Finding] = []
    for name in sorted(spec.authorizer_profiles() if spec.has_authorizer else []):
        folder = found.path / "policies" / name
        files = sorted(folder.glob("policy-*.json"))
        if not files:
            raise IotwsError(
                f"{folder} has no policy documents for profile {name}",
                field="--build",
                fix=rebuild_fix(found.path),
            )
        documents = load_policy_files([str(f) for f in files])
        findings.extend(lint_documents(documents, region=region, account=account, source=name))
    return findings


def exit_code(findings: list[Finding], fail_on: str) -> int:
    """The bitmask of the levels found among those `fail_on` counts (0: none of them)."""
    code = 0
    for f in findings:
        if f.severity in FAIL_ON[fail_on]:
            code |= EXIT_BITS[f.severity]
    return code


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except IotwsError as exc:
        exc.exit_code = USAGE_ERROR  # distinct from every finding bitmask
        raise


def _run(args: argparse.Namespace) -> int:
    if args.spec:
        findings = lint_spec(args.spec, args.region, args.account)
    elif args.build:
        findings = lint_build(args.build, args.region, args.account)
    else:
        documents = load_policy_files(args.policy)
        findings = lint_documents(
            documents, region=args.region, account=args.account, source=",".join(args.policy)
        )
    if args.json:
        print(json.dumps([f.to_dict() for f in findings], indent=2))
    else:
        current = None
        for f in findings:
            if (args.spec or args.build) and f.source != current:
                current = f.source
                print(f"== profile {current}")
            print(f.render())
    counts = {sev: sum(1 for f in findings if f.severity == sev) for sev in ("error", "warning")}
    info = len(findings) - counts["error"] - counts["warning"]
    code = exit_code(findings, args.fail_on)
    print(
        f"iotws lint: {counts['error']} error(s), {counts['warning']} warning(s), {info} info; "
        f"exit code {code} (--fail-on {args.fail_on})",
        file=sys.stderr,
    )
    return code
