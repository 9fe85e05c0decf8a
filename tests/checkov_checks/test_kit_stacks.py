"""The kit's own Terraform (`modules/`, `examples/`) passes its own IoT checks.

A finding there that is a deliberate trade-off is skipped inline in the resource, with
the reason: `#checkov:skip=CKV_IOTWS_<n>:<why>` (see generator/iotws/checkov_checks/README.md).
"""

from __future__ import annotations

import pytest

from iotws.paths import repo_root

from .conftest import Report

KIT_FOLDERS = ("modules", "examples")


@pytest.mark.parametrize("folder", KIT_FOLDERS)
def test_kit_terraform_passes_the_iot_checks(
    folder: str, checkov_reports: dict[str, Report]
) -> None:
    if folder not in checkov_reports:
        pytest.fail(f"{folder}/ is missing from the checkout")
    report = checkov_reports[folder]
    root = repo_root()
    failed = [
        f"{r.check_id} {r.file.relative_to(root)} {r.resource}: {'; '.join(r.details)}"
        for r in report.results
        if r.outcome == "failed"
    ]
    assert failed == [], (
        "fix these, or skip a deliberate trade-off inline with "
        "#checkov:skip=<id>:<reason>:\n" + "\n".join(failed)
    )


@pytest.mark.parametrize("folder", KIT_FOLDERS)
def test_checkov_can_read_all_of_the_kit_terraform(
    folder: str, checkov_reports: dict[str, Report]
) -> None:
    # A file checkov cannot parse is a file none of the checks looked at.
    report = checkov_reports[folder]
    root = repo_root()
    assert [str(p.relative_to(root)) for p in report.parsing_errors] == []


def test_the_modules_iot_resources_are_checked(checkov_reports: dict[str, Report]) -> None:
    # Guards against a vacuous pass: the modules' authorizer, Lambda permissions, policies
    # and topic rules are all seen by the checks that cover them.
    report = checkov_reports["modules"]
    unseen = [
        check_id
        for check_id in (
            "CKV_IOTWS_1",
            "CKV_IOTWS_2",
            "CKV_IOTWS_3",
            "CKV_IOTWS_4",
            "CKV_IOTWS_5",
            "CKV_IOTWS_6",
        )
        if not report.for_check(check_id)
    ]
    assert unseen == []
