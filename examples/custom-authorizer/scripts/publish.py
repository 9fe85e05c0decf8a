#!/usr/bin/env python3
"""Publish a message to the example's browsers from a backend, with the kit's publish helper
(`iotws_publish`: boto3's `iot-data` client, limits checked first, throttling retried).

    python scripts/publish.py --message '{"text": "hello"}'             # AWS, account endpoint
    python scripts/publish.py --endpoint-url http://127.0.0.1:8080      # local emulator

The topic is `<prefix>/<topic>` (default `<prefix>/server`, the topic every page subscribes
to); the prefix comes from the access spec's `topic_prefix` (default `<app>/<stage>`) or
`--prefix`. On AWS this is `POST /topics/{url-encoded topic}?qos=..&retain=..` signed with
SigV4 against the account's ATS data endpoint (docs/backend-publish.md#endpoint). The caller needs
`iot:Publish` on `arn:aws:iot:REGION:ACCOUNT:topic/<topic>` (and `iot:RetainPublish` for
`--retain`); `iot:DescribeEndpoint` too when neither `--endpoint` nor the environment
variable `IOT_DATA_ENDPOINT` gives the endpoint.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from iotws_publish import Publisher, PublishError

DEFAULT_SPEC = Path(__file__).resolve().parent.parent / "access.yaml"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Local emulator only: it does not check signatures, and real credentials have no business
# being sent to a process on this machine.
DUMMY_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",  # noqa: S105 - placeholder, not a secret
    "aws_session_token": "testing",  # noqa: S105
}
LOCAL_REGION = "us-east-1"


class UsageError(Exception):
    """A problem with the arguments or the spec, reported as one line."""


def prefix_from_spec(spec_path: Path) -> str:
    """The spec's topic prefix: `topic_prefix`, else `<app>/<stage>` (ACCESS_SPEC.md)."""
    try:
        data = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--spec: cannot read {spec_path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"--spec: {spec_path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"--spec: {spec_path} is not a mapping")
    if "topic_prefix" in data:
        value = data["topic_prefix"]
        if not isinstance(value, str):
            raise UsageError(f"--spec: topic_prefix in {spec_path} must be a string")
        return value.strip("/")
    app, stage = data.get("app"), data.get("stage")
    if not isinstance(app, str) or not isinstance(stage, str):
        raise UsageError(
            f"--spec: {spec_path} has neither topic_prefix nor app and stage; pass --prefix"
        )
    return f"{app}/{stage}"


def full_topic(prefix: str, topic: str, *, absolute: bool) -> str:
    topic = topic.strip()
    if not topic:
        raise UsageError("--topic: empty topic")
    if any(ch in topic for ch in "+#"):
        raise UsageError(f"--topic: {topic!r} has a wildcard; publish to a concrete topic")
    if absolute or not prefix:
        return topic
    return f"{prefix}/{topic}"


def is_loopback(endpoint_url: str) -> bool:
    return (urlsplit(endpoint_url).hostname or "") in LOOPBACK_HOSTS


def make_session(endpoint_url: str | None, region: str | None) -> Any:
    """A boto3 session: dummy credentials for a loopback endpoint, the usual chain otherwise."""
    if endpoint_url and is_loopback(endpoint_url):
        return boto3.session.Session(region_name=region or LOCAL_REGION, **DUMMY_CREDENTIALS)
    return boto3.session.Session(region_name=region)


def resolve_endpoint_url(session: Any, endpoint: str | None, endpoint_url: str | None) -> str:
    """`--endpoint-url` as given, `--endpoint HOST` as https, else the publish helper's
    discovery: IOT_DATA_ENDPOINT, or DescribeEndpoint iot:Data-ATS once per process."""
    if endpoint_url:
        if urlsplit(endpoint_url).scheme not in ("http", "https"):
            raise UsageError(
                f"--endpoint-url: {endpoint_url!r} must start with http:// or https://"
            )
        return endpoint_url.rstrip("/")
    return Publisher(endpoint=endpoint, session=session).endpoint_url()


def default_message() -> str:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return f'{{"text": "hello from the backend", "sentAt": "{now}"}}'


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="publish.py",
        description="Publish to the example's topics with the kit's publish helper.",
    )
    parser.add_argument(
        "--spec", type=Path, default=DEFAULT_SPEC, help="access spec to read the topic prefix from"
    )
    parser.add_argument("--prefix", help="topic prefix (overrides the spec's)")
    parser.add_argument(
        "--topic", default="server", help="topic relative to the prefix (default: server)"
    )
    parser.add_argument(
        "--absolute", action="store_true", help="use --topic as given, without the prefix"
    )
    parser.add_argument("--message", help="payload text (default: a small JSON greeting)")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=0, help="MQTT QoS (0 or 1)")
    parser.add_argument(
        "--retain", action="store_true", help="retain the message (needs iot:RetainPublish)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--endpoint", help="IoT data endpoint host (default: describe-endpoint iot:Data-ATS)"
    )
    where.add_argument(
        "--endpoint-url",
        help="full URL, e.g. http://127.0.0.1:8080 for the local emulator (`make demo`)",
    )
    parser.add_argument("--region", help="AWS region (default: from your AWS configuration)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        prefix = args.prefix.strip("/") if args.prefix is not None else None
        if prefix is None and not args.absolute:
            prefix = prefix_from_spec(args.spec)
        topic = full_topic(prefix or "", args.topic, absolute=args.absolute)
        payload = (args.message if args.message is not None else default_message()).encode()
        session = make_session(args.endpoint_url, args.region)
        url = resolve_endpoint_url(session, args.endpoint, args.endpoint_url)
        Publisher(endpoint=url, session=session).publish(
            topic, payload, qos=args.qos, retain=args.retain
        )
    except (UsageError, PublishError) as exc:
        print(f"publish.py: error: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"publish.py: error: {exc}", file=sys.stderr)
        return 1
    print(f"published {len(payload)} bytes to {topic} (qos {args.qos}, retain {args.retain})")
    print(f"via {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
