"""The JSON Schemas (the access spec's and the authorizer configuration's) are data files, so
they spell the region and account patterns out; they must be the IoT core's
(`iotws.iot.facts`), which every Python check uses."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest

from iotws.iot import facts


def _schema(name: str) -> dict[str, Any]:
    text = resources.files("iotws").joinpath(f"schema/{name}").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_access_spec_schema_uses_the_core_patterns() -> None:
    aws = _schema("access.schema.json")["properties"]["aws"]["properties"]
    assert aws["region"]["pattern"] == facts.REGION_PATTERN
    assert aws["account"]["pattern"] == facts.ACCOUNT_PATTERN


def test_authorizer_config_schema_uses_the_core_patterns() -> None:
    props = _schema("authorizer-config.schema.json")["properties"]
    assert props["region"]["pattern"] == facts.REGION_PATTERN
    assert props["account"]["pattern"] == facts.ACCOUNT_PATTERN


@pytest.mark.parametrize(
    "region", ["us-east-1", "us-gov-west-1", "ap-southeast-2", "eu-central-2", "cn-north-1"]
)
def test_real_regions_match(region: str) -> None:
    assert re.fullmatch(facts.REGION_PATTERN, region)


@pytest.mark.parametrize("region", ["useast1", "US-EAST-1", "us-east-", "us-east-123", "u-east-1"])
def test_non_regions_do_not_match(region: str) -> None:
    assert not re.fullmatch(facts.REGION_PATTERN, region)
