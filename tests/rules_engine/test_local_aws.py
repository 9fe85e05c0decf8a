"""The local functions' AWS: dummy credentials, the emulator for iot-data, a local moto for
every other service, the developer's own credentials and profile never used, and the
process environment put back afterwards."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest

from iotws.errors import IotwsError
from iotws_emulator.rules.functions import LocalAws, load_backends

REPO = Path(__file__).resolve().parents[2]


def test_functions_never_reach_aws_and_the_environment_is_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALDEVELOPERKEY")
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    before = dict(os.environ)
    backends = load_backends(REPO / "examples" / "chat" / "emulator.json")
    aws = LocalAws(
        region="eu-west-1",
        topic_prefix="chat/dev",
        backends=backends,
        functions=["chat_message", "presence"],
    )
    aws.start("http://127.0.0.1:1")
    try:
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
        assert "AWS_PROFILE" not in os.environ
        assert os.environ["AWS_ENDPOINT_URL"] == aws.moto_url
        assert os.environ["AWS_ENDPOINT_URL_IOT_DATA_PLANE"] == "http://127.0.0.1:1"
        assert os.environ["IOT_DATA_ENDPOINT"] == "http://127.0.0.1:1"
        assert os.environ["TOPIC_PREFIX"] == "chat/dev"
        assert os.environ["TABLE_NAME"] == "chat-dev-presence"
        # any service a function creates a client for goes to the local moto
        for service in ("sts", "dynamodb", "sqs", "sns", "s3"):
            assert boto3.client(service).meta.endpoint_url == aws.moto_url
        assert boto3.client("iot-data").meta.endpoint_url == "http://127.0.0.1:1"
        # the backends file's table exists there, with its index
        table = boto3.client("dynamodb").describe_table(TableName="chat-dev-presence")["Table"]
        assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["online"]
    finally:
        aws.close()
    assert dict(os.environ) == before


def test_backends_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    for content, words in (
        ("{", "not valid JSON"),
        (json.dumps({"functions": {}, "x": 1}), "one key, functions"),
        (json.dumps({"functions": {"f": {"env": {}}}}), "environment and/or dynamodb_tables"),
        (json.dumps({"functions": {"f": {"environment": {"A": 1}}}}), "string value"),
        (json.dumps({"functions": {"f": {"dynamodb_tables": [{}]}}}), "TableName"),
    ):
        path.write_text(content)
        with pytest.raises(IotwsError, match=words):
            load_backends(path)


def test_two_functions_may_not_disagree_on_a_variable(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    path.write_text(
        json.dumps(
            {"functions": {"a": {"environment": {"T": "1"}}, "b": {"environment": {"T": "2"}}}}
        )
    )
    aws = LocalAws(
        region="us-east-1", topic_prefix="", backends=load_backends(path), functions=["a", "b"]
    )
    with pytest.raises(IotwsError, match="functions a and b need different values of T"):
        aws.environment()
