"""Publish to AWS IoT Core topics from Lambdas and scripts: `publish(topic, payload)`.

Standard library and boto3 only (both are in the Lambda runtime), zipped into every backend
Lambda by `iotws package --function NAME`, and importable from the installed kit.

- The data endpoint is found once per process and cached: the `endpoint` argument, else the
  `IOT_DATA_ENDPOINT` environment variable, else `DescribeEndpoint` with
  `endpointType=iot:Data-ATS` (the caller then needs `iot:DescribeEndpoint`).
- The boto3 client is created on first use (no import-time side effects, STYLE.md).
- Topic and payload are checked against IoT Core's limits BEFORE the call, with an error that
  names the field and the fix: topic at most 256 bytes of UTF-8 and 7 slashes, no wildcard
  (`+`, `#`), no leading `$` (reserved) unless `allow_reserved=True`; payload at most 128 KB.
  ("AWS IoT Core message broker and protocol limits and quotas",
  https://docs.aws.amazon.com/general/latest/gr/iot-core.html)
- A payload that is not `bytes` or `str` is encoded as compact UTF-8 JSON.
- Throttling (`ThrottlingException`, HTTP 429) and transient server errors are retried with
  exponential backoff and full jitter, `max_attempts` in all; other errors are raised at once.
  (API_iotdata_Publish: https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html)

    from iotws_publish import publish
    publish("chat/dev/rooms/lobby/messages", {"text": "hi"}, qos=1)
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

MAX_TOPIC_BYTES = 256
MAX_TOPIC_SLASHES = 7
MAX_PAYLOAD_BYTES = 128 * 1024
ENDPOINT_ENV = "IOT_DATA_ENDPOINT"
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailableException",
        "InternalFailureException",
        "InternalServerException",
    }
)
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

_endpoints: dict[str, str] = {}
_endpoints_lock = threading.Lock()


class PublishError(ValueError):
    """A topic or payload IoT Core would refuse; `field` names it, `fix` says what to do."""

    def __init__(self, message: str, *, field: str, fix: str) -> None:
        super().__init__(f"{field}: {message} ({fix})")
        self.field = field
        self.fix = fix


def check_topic(topic: object, *, allow_reserved: bool = False) -> str:
    """The topic if IoT Core accepts it for a publish; PublishError otherwise."""
    if not isinstance(topic, str) or not topic:
        raise PublishError("empty or not a string", field="topic", fix="pass a topic name")
    try:
        size = len(topic.encode("utf-8"))
    except UnicodeEncodeError:
        raise PublishError(
            "not valid UTF-8 (lone surrogate)", field="topic", fix="use valid Unicode text"
        ) from None
    if size > MAX_TOPIC_BYTES:
        raise PublishError(
            f"{size} bytes of UTF-8, IoT Core allows {MAX_TOPIC_BYTES}",
            field="topic",
            fix="use a shorter topic",
        )
    slashes = topic.count("/")
    if slashes > MAX_TOPIC_SLASHES:
        raise PublishError(
            f"{slashes} slashes, IoT Core allows {MAX_TOPIC_SLASHES}",
            field="topic",
            fix="use fewer topic levels",
        )
    if "+" in topic or "#" in topic:
        raise PublishError(
            f"{topic!r} has a wildcard (+ or #)",
            field="topic",
            fix="publish to a concrete topic; wildcards are for subscriptions",
        )
    if "\x00" in topic:
        raise PublishError("contains a NUL character", field="topic", fix="remove it")
    if topic.startswith("$") and not allow_reserved:
        raise PublishError(
            f"{topic!r} starts with $, which IoT Core reserves",
            field="topic",
            fix="use an application topic, or allow_reserved=True for a $aws topic you may publish",
        )
    return topic


def encode_payload(payload: object) -> bytes:
    """bytes as they are, str as UTF-8, anything else as compact JSON; at most 128 KB."""
    if isinstance(payload, bytes | bytearray | memoryview):
        data = bytes(payload)
    elif isinstance(payload, str):
        data = payload.encode("utf-8")
    else:
        try:
            data = json.dumps(
                payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise PublishError(
                f"cannot be encoded as JSON: {exc}",
                field="payload",
                fix="pass bytes, str, or JSON-serialisable data",
            ) from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PublishError(
            f"{len(data)} bytes, IoT Core allows {MAX_PAYLOAD_BYTES}",
            field="payload",
            fix="send less per message or store it elsewhere and publish a reference",
        )
    return data


def _endpoint_url(value: str) -> str:
    value = value.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"


def _error_code(exc: BaseException) -> tuple[str, int]:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", 0
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code, int(status) if isinstance(status, int) else 0


class Publisher:
    """One data endpoint and one lazily created `iot-data` client."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        session: Any = None,
        client: Any = None,
        max_attempts: int = 5,
        base_delay: float = 0.1,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._endpoint = endpoint
        self._region = region
        self._session = session
        self._client = client
        self._lock = threading.Lock()
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._jitter = jitter

    def _boto_session(self) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(region_name=self._region)
        return self._session

    def endpoint_url(self) -> str:
        """The data endpoint URL, discovered once per process and region."""
        if self._endpoint:
            return _endpoint_url(self._endpoint)
        env = os.environ.get(ENDPOINT_ENV, "").strip()
        if env:
            return _endpoint_url(env)
        session = self._boto_session()
        region = session.region_name or ""
        with _endpoints_lock:
            if region not in _endpoints:
                iot = session.client("iot")
                address = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
                _endpoints[region] = _endpoint_url(str(address))
            return _endpoints[region]

    @property
    def client(self) -> Any:
        """The boto3 `iot-data` client, created on first use."""
        with self._lock:
            if self._client is None:
                from botocore.config import Config

                # Retries are ours (throttling only, with jitter), so botocore makes one attempt.
                self._client = self._boto_session().client(
                    "iot-data",
                    endpoint_url=self.endpoint_url(),
                    config=Config(retries={"max_attempts": 1, "mode": "standard"}),
                )
            return self._client

    def set_client(self, client: Any) -> None:
        """Seam for tests: replace (or with None, reset) the client."""
        with self._lock:
            self._client = client

    def publish(
        self,
        topic: str,
        payload: object,
        *,
        qos: int = 1,
        retain: bool = False,
        allow_reserved: bool = False,
    ) -> None:
        """Check, encode and publish; retries throttling; raises PublishError or botocore's."""
        check_topic(topic, allow_reserved=allow_reserved)
        if qos not in (0, 1):
            raise PublishError(
                f"{qos!r} is not supported", field="qos", fix="IoT Core takes QoS 0 or 1"
            )
        data = encode_payload(payload)
        kwargs: dict[str, Any] = {"topic": topic, "qos": qos, "payload": data}
        if retain:
            kwargs["retain"] = True
        client = self.client
        attempt = 1
        while True:
            try:
                client.publish(**kwargs)
                return
            except Exception as exc:
                code, status = _error_code(exc)
                retryable = code in RETRYABLE_CODES or status in RETRYABLE_STATUS
                if not retryable or attempt >= self.max_attempts:
                    raise
            # Full jitter: a random wait up to the exponential cap.
            cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
            self._sleep(cap * self._jitter())
            attempt += 1


_default: Publisher | None = None
_default_lock = threading.Lock()


def default_publisher() -> Publisher:
    """The process-wide Publisher (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Publisher()
        return _default


def publish(
    topic: str, payload: object, *, qos: int = 1, retain: bool = False, allow_reserved: bool = False
) -> None:
    """`Publisher.publish` on the process-wide publisher."""
    default_publisher().publish(
        topic, payload, qos=qos, retain=retain, allow_reserved=allow_reserved
    )


def forget_endpoints() -> None:
    """Drop the cached endpoints (tests)."""
    with _endpoints_lock:
        _endpoints.clear()
