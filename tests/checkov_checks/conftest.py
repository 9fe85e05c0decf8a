"""One checkov run per session for the custom IoT checks (checkov takes seconds to start).

`checkov_reports` runs checkov with only the kit's checks (`CKV_IOTWS_*`) and `-o json`,
once on the fixtures and once on each of the kit's own Terraform folders (`modules/`,
`examples/`), the runs in parallel. The command line is the one `iotws checkov` uses,
without `--quiet` (which would drop passed checks from the JSON).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from iotws.commands.checkov import build_command, checkov_env
from iotws.paths import repo_root

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RUN_TIMEOUT_S = 300  # checkov takes ~20 s alone; a loaded 2-core machine, several times that

# checkov as a user without the kit installed would run it: `import iotws` fails, so the
# checks must find their helpers in their own folder (checkov puts it on sys.path).
_WITHOUT_IOTWS = (
    "import sys\n"
    "sys.modules['iotws'] = None\n"
    "from checkov.main import Checkov\n"
    "sys.exit(Checkov(sys.argv[1:]).run())\n"
)
STANDALONE_FIXTURE = FIXTURES / "ckv_iotws_4"

_BLOCK = re.compile(r'^(resource|data)\s+"([A-Za-z0-9_]+)"\s+"([A-Za-z0-9_-]+)"', re.MULTILINE)


@dataclass(frozen=True)
class Result:
    check_id: str
    outcome: str  # "passed" | "failed" | "skipped"
    resource: str  # checkov's address: "aws_iot_policy.fail", "aws_iam_policy_document.pass"
    file: Path
    details: tuple[str, ...]
    severity: str | None
    guideline: str | None


@dataclass
class Report:
    directory: Path
    returncode: int
    stderr: str
    results: list[Result] = field(default_factory=list)
    parsing_errors: list[Path] = field(default_factory=list)

    def for_check(self, check_id: str, under: Path | None = None) -> list[Result]:
        return [
            r
            for r in self.results
            if r.check_id == check_id and (under is None or r.file.is_relative_to(under))
        ]

    def outcomes(self, check_id: str, under: Path) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {"passed": set(), "failed": set(), "skipped": set()}
        for result in self.for_check(check_id, under):
            out[result.outcome].add(result.resource)
        return out


def _json_documents(text: str) -> list[Any]:
    """checkov may print several JSON documents one after the other."""
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return docs
        doc, index = decoder.raw_decode(text, index)
        docs.append(doc)


def parse_report(directory: Path, stdout: str, stderr: str, returncode: int) -> Report:
    report = Report(directory=directory, returncode=returncode, stderr=stderr)
    for doc in _json_documents(stdout):
        for run in doc if isinstance(doc, list) else [doc]:
            results = run.get("results") or {}
            for outcome in ("passed", "failed", "skipped"):
                for item in results.get(f"{outcome}_checks") or []:
                    report.results.append(
                        Result(
                            check_id=item["check_id"],
                            outcome=outcome,
                            resource=item["resource"],
                            file=Path(item["file_abs_path"]).resolve(),
                            details=tuple(item.get("details") or ()),
                            severity=item.get("severity"),
                            guideline=item.get("guideline"),
                        )
                    )
            report.parsing_errors += [Path(p).resolve() for p in results.get("parsing_errors", [])]
    return report


def fixture_blocks(directory: Path) -> dict[str, str]:
    """checkov address -> expected outcome, from the block names of a fixture folder:
    `pass*` passed, `fail*` failed, `skip*` skipped, `ignore*` not reported."""
    expected: dict[str, str] = {}
    for tf in sorted(directory.glob("*.tf")):
        for _kind, type_, name in _BLOCK.findall(tf.read_text()):
            for prefix, outcome in (
                ("pass", "passed"),
                ("fail", "failed"),
                ("skip", "skipped"),
                ("ignore", "ignored"),
            ):
                if name.startswith(prefix):
                    expected[f"{type_}.{name}"] = outcome
                    break
            else:
                raise AssertionError(
                    f"{tf}: block name {name!r} must start with pass/fail/skip/ignore"
                )
    return expected


@pytest.fixture(scope="session")
def checkov_reports() -> dict[str, Report]:
    """Reports keyed "fixtures", "modules", "examples" (folders that exist) and
    "standalone" (one fixture folder, checkov without the kit importable)."""
    root = repo_root()
    targets = {"fixtures": FIXTURES, "modules": root / "modules", "examples": root / "examples"}
    commands = {
        name: (path, build_command(path, iotws_only=True, quiet=False, extra=["-o", "json"]))
        for name, path in targets.items()
        if path.is_dir()
    }
    standalone = build_command(
        STANDALONE_FIXTURE, iotws_only=True, quiet=False, extra=["-o", "json"]
    )
    commands["standalone"] = (
        STANDALONE_FIXTURE,
        [standalone[0], "-c", _WITHOUT_IOTWS, *standalone[3:]],
    )
    env = checkov_env()
    # checkov gives up on a file that python-hcl2 cannot parse within this time (default
    # 10 s); the kit's files parse in well under a second, and any parse error fails
    # test_kit_stacks.py anyway, so a shorter limit only saves time.
    env["HCL_PARSE_TIMEOUT_SEC"] = "5"
    procs = {
        name: (
            path,
            subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            ),
        )
        for name, (path, argv) in commands.items()
    }
    reports: dict[str, Report] = {}
    try:
        for name, (path, proc) in procs.items():
            stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
            reports[name] = parse_report(path, stdout, stderr, proc.returncode)
    finally:
        for _path, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return reports
