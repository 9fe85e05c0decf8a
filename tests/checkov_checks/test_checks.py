"""Each custom check on its fixture folder: exactly the `pass*` blocks pass, the `fail*`
blocks fail, the `skip*` blocks are skipped inline and the `ignore*` blocks are not reported.
"""

from __future__ import annotations

import pytest

from iotws.checkov_checks import CHECKS_DIR
from iotws.commands.checkov import check_ids

from .conftest import FIXTURES, Report, fixture_blocks

CHECK_IDS = [f"CKV_IOTWS_{n}" for n in range(1, 8)]


def test_the_package_ships_the_seven_checks_each_with_a_fixture_folder() -> None:
    assert check_ids() == CHECK_IDS
    folders = sorted(p.name.upper() for p in FIXTURES.iterdir() if p.is_dir())
    assert sorted(folders) == sorted(CHECK_IDS)


def test_the_fixtures_parse(checkov_reports: dict[str, Report]) -> None:
    report = checkov_reports["fixtures"]
    assert report.parsing_errors == []
    assert report.results, report.stderr[-2000:]


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_check_passes_and_fails_exactly_the_named_blocks(
    check_id: str, checkov_reports: dict[str, Report]
) -> None:
    # GIVEN the fixture folder of this check, whose block names say what must happen
    folder = FIXTURES / check_id.lower()
    expected_by_block = fixture_blocks(folder)
    expected = {
        outcome: {addr for addr, want in expected_by_block.items() if want == outcome}
        for outcome in ("passed", "failed", "skipped")
    }
    assert expected["passed"] and expected["failed"], "each check needs pass and fail cases"
    # WHEN checkov ran with the kit's checks
    actual = checkov_reports["fixtures"].outcomes(check_id, under=folder)
    # THEN the outcomes are exactly the named ones (ignore* blocks are not reported at all)
    assert actual == expected


@pytest.mark.parametrize(
    ("check_id", "resource", "fragment"),
    [
        ("CKV_IOTWS_1", "aws_iot_authorizer.fail", "docs/custom-authorizer.md#event"),
        ("CKV_IOTWS_2", "aws_lambda_permission.fail", "no source_arn"),
        ("CKV_IOTWS_2", "aws_lambda_permission.fail_rule_without_account", "source_account"),
        ("CKV_IOTWS_2", "aws_lambda_permission.fail_star", "matches every IoT resource"),
        ("CKV_IOTWS_3", "aws_iam_role.fail", "action * grants every iot: action"),
        (
            "CKV_IOTWS_3",
            "aws_iot_policy.fail_heredoc_publish_on_star",
            "iot:Publish, iot:Receive on '*'",
        ),
        ("CKV_IOTWS_3", "aws_iam_policy.fail_not_resource", "NotResource"),
        ("CKV_IOTWS_4", "aws_iot_policy.fail_client_id_variable", "${iot:ClientId} matches"),
        ("CKV_IOTWS_4", "aws_iot_policy.fail_prefix_wildcard", "wildcard"),
        ("CKV_IOTWS_4", "aws_iot_policy.fail_no_client_prefix", "does not name a client"),
        ("CKV_IOTWS_5", "aws_iot_topic_rule.fail_dynamic_empty", "for_each is empty"),
        ("CKV_IOTWS_6", "aws_iot_topic_rule.fail_beta", "'beta'"),
        ("CKV_IOTWS_6", "aws_iot_topic_rule.fail_unset", "runs as 2015-10-08"),
        ("CKV_IOTWS_7", "aws_iam_role.fail_without_amr", "cognito-identity.amazonaws.com:amr"),
        ("CKV_IOTWS_7", "aws_iam_role.fail_without_aud", "cognito-identity.amazonaws.com:aud"),
        ("CKV_IOTWS_7", "aws_iam_role.fail_weak_operators", "StringEquals"),
    ],
)
def test_failures_say_why(
    check_id: str, resource: str, fragment: str, checkov_reports: dict[str, Report]
) -> None:
    folder = FIXTURES / check_id.lower()
    [result] = [
        r for r in checkov_reports["fixtures"].for_check(check_id, folder) if r.resource == resource
    ]
    assert result.outcome == "failed"
    assert any(fragment in line for line in result.details), result.details


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_checks_carry_severity_and_a_guideline_that_exists(
    check_id: str, checkov_reports: dict[str, Report]
) -> None:
    results = checkov_reports["fixtures"].for_check(check_id)
    assert results
    readme = (CHECKS_DIR / "README.md").read_text()
    anchor = check_id.lower()
    for result in results:
        assert result.severity in {"LOW", "MEDIUM", "HIGH"}
        assert result.guideline == f"generator/iotws/checkov_checks/README.md#{anchor}"
    assert f'<a id="{anchor}"></a>' in readme
    assert check_id in readme


def test_skipped_checks_keep_their_reason(checkov_reports: dict[str, Report]) -> None:
    skipped = [r for r in checkov_reports["fixtures"].results if r.outcome == "skipped"]
    assert [r.resource for r in skipped] == ["aws_iot_authorizer.skip"]


def test_the_checks_work_without_the_kit_installed(checkov_reports: dict[str, Report]) -> None:
    # checkov users may point --external-checks-dir at a checkout without installing iotws.
    standalone = checkov_reports["standalone"]
    folder = standalone.directory
    assert standalone.results, standalone.stderr[-2000:]
    for check_id in CHECK_IDS:
        assert standalone.outcomes(check_id, folder) == checkov_reports["fixtures"].outcomes(
            check_id, folder
        )
