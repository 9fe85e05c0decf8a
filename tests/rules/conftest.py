"""Fixtures for the rule-target Lambdas (`lambda_src/chat_message`, `lambda_src/presence`).

Each `app.py` is loaded under a private module name so it never collides with another
Lambda's `app`. AWS is moto (`mock_aws`): DynamoDB for real, and iot-data's Publish, which
moto records as (topic, payload) in its backend; what moto does not record (qos, retain) is
checked with botocore's Stubber.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from iotws.invoke import LambdaContext

REPO = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).resolve().parent / "events"
REGION = "us-east-1"
PREFIX = "chat/dev"
TABLE = "chat-dev-presence"
# moto answers iot-data requests only on the documented endpoint host names.
ENDPOINT = f"https://data-ats.iot.{REGION}.amazonaws.com"


def load_lambda(name: str) -> ModuleType:
    path = REPO / "lambda_src" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"iotws_rules_{name}_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext(
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:chat",
        function_name="chat-dev-backend",
        aws_request_id="11111111-2222-3333-4444-555555555555",
    )


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "IOT_DATA_ENDPOINT": ENDPOINT,
        "TOPIC_PREFIX": PREFIX,
        "TABLE_NAME": TABLE,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("CLIENT_ID_PATTERN", raising=False)


def create_presence_table() -> None:
    """The same key schema and index as examples/chat/main.tf."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "client_id", "AttributeType": "S"},
            {"AttributeName": "online_key", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "client_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "online",
                "KeySchema": [
                    {"AttributeName": "online_key", "KeyType": "HASH"},
                    {"AttributeName": "client_id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def published() -> list[tuple[str, Any]]:
    """What went through iot-data Publish under moto: (topic, decoded JSON payload)."""
    from moto.iotdata.models import iotdata_backends

    backend = iotdata_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [(topic, json.loads(payload)) for topic, payload in backend.published_payloads]


@pytest.fixture
def chat(aws_env: None) -> Iterator[ModuleType]:
    with mock_aws():
        module = load_lambda("chat_message")
        yield module
        module.set_iot_data_client(None)


@pytest.fixture
def presence(aws_env: None) -> Iterator[ModuleType]:
    with mock_aws():
        create_presence_table()
        module = load_lambda("presence")
        yield module
        module.reset_clients()


def presence_item(client_id: str) -> dict[str, Any] | None:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"client_id": {"S": client_id}}, ConsistentRead=True
    )
    return item.get("Item")


# Helpers as fixtures: with --import-mode=importlib test modules cannot import conftest.


@pytest.fixture
def load_event() -> Any:
    return event


@pytest.fixture
def published_messages() -> Any:
    return published


@pytest.fixture
def get_item() -> Any:
    return presence_item


@pytest.fixture
def make_table() -> Any:
    return create_presence_table
