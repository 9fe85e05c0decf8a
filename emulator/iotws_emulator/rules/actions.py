"""Rule actions the emulator runs: `lambda`, `republish`, `cloudwatch_logs`.

Each action gets the SELECT output (a JSON object, or the raw bytes of `SELECT *` on a
binary payload) and the original message, and raises `ActionFailed` when the action cannot
be carried out; the engine then runs the rule's error action with IoT's error message
(rule-error-handling.html). Names in `failedAction` follow that page (`LambdaAction`,
`RepublishAction`, `CloudwatchLogsAction`).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from iotws.spec import iotsql
from iotws_emulator.rules.functions import LocalFunction

log = logging.getLogger("iotws.emulator.rules")

# Server-side publish (topic, payload, qos, retain): routes to subscribers like an HTTPS
# publish; raises ValueError / PermissionError / OverflowError for a bad topic or payload.
PublishFn = Callable[[str, bytes, int, bool], None]
Output = dict[str, Any] | bytes


class ActionFailed(Exception):
    def __init__(self, action: str, resource: str, message: str) -> None:
        super().__init__(message)
        self.action = action
        self.resource = resource
        self.message = message

    def failure(self) -> dict[str, str]:
        return {
            "failedAction": self.action,
            "failedResource": self.resource,
            "errorMessage": self.message,
        }


def output_bytes(output: Output) -> bytes:
    if isinstance(output, bytes):
        return output
    return json.dumps(output, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class LambdaInvoker:
    """Runs local functions off the broker's event loop: a bounded pool of worker threads
    and a bounded number of invocations waiting for one (beyond it, the invoke fails as a
    throttled one would, and the error action runs)."""

    def __init__(self, workers: int = 4, max_pending: int = 256) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="iotws-lambda")
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.completed = 0
        self.failed = 0

    def submit(self, fn: LocalFunction, event: Any, rule: str) -> None:
        with self._lock:
            if self._pending >= self._max_pending:
                raise ActionFailed(
                    "LambdaAction",
                    fn.arn,
                    f"TooManyRequestsException: {self._pending} invocations of local functions "
                    "are already waiting (the emulator's bound)",
                )
            self._pending += 1
        try:
            self._pool.submit(self._run, fn, event, rule)
        except RuntimeError:  # the pool is shut down: the emulator is stopping
            with self._lock:
                self._pending -= 1
                self._idle.notify_all()
            raise ActionFailed("LambdaAction", fn.arn, "the emulator is stopping") from None

    def _run(self, fn: LocalFunction, event: Any, rule: str) -> None:
        ctx = fn.context()
        try:
            result = fn.handler(event, ctx)
        except Exception as exc:  # noqa: BLE001 - a handler's failure is logged, never raised
            with self._lock:
                self.failed += 1
            # The rule invoked asynchronously and got 202 (lambda-rule-action.html,
            # Lambda's services-iot.html): the rule's error action does not run for this.
            log.error(
                "LAMBDA %s FAILED request=%s rule=%s: %s: %s (on AWS the rule's invoke "
                "succeeded; Lambda retries the event up to twice, then drops it or sends it to "
                "the function's on-failure destination; the rule's error action does not run)",
                fn.name,
                ctx.aws_request_id,
                rule,
                type(exc).__name__,
                exc,
                exc_info=True,
            )
        else:
            with self._lock:
                self.completed += 1
            summary = json.dumps(result, default=str)[:300] if result is not None else "null"
            log.info(
                "LAMBDA %s ok request=%s rule=%s result=%s",
                fn.name,
                ctx.aws_request_id,
                rule,
                summary,
            )
        finally:
            with self._lock:
                self._pending -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no invocation is queued or running (tests, shutdown)."""
        with self._lock:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class LambdaAction:
    kind = "lambda"
    name = "LambdaAction"

    def __init__(self, fn: LocalFunction, invoker: LambdaInvoker) -> None:
        self.fn = fn
        self.invoker = invoker

    @property
    def resource(self) -> str:
        return self.fn.arn

    def run(self, output: Output, ctx: iotsql.Context, rule: str) -> None:
        if isinstance(output, bytes):
            # binary-payloads.html: the Lambda action takes JSON only.
            raise ActionFailed(
                self.name,
                self.resource,
                "the Lambda action needs a JSON payload; this message is binary: select "
                "encode(*, 'base64') AS data",
            )
        self.invoker.submit(self.fn, copy.deepcopy(output), rule)


def _iam_match(pattern: str, arn: str) -> bool:
    """IAM resource matching: `*` any run of characters, `?` one character, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn, re.DOTALL) is not None


class RepublishAction:
    kind = "republish"
    name = "RepublishAction"

    def __init__(
        self,
        topic: str,
        qos: int,
        publish: PublishFn,
        *,
        iam_resources: list[str] | None = None,
        topic_arn_prefix: str = "",
    ) -> None:
        self.topic = topic
        self.qos = qos
        self.publish = publish
        # With a templated topic, the rule's role may publish only to these ARNs (the
        # iot-topic-rules module's `iam_resources`): a topic outside them is refused as IAM
        # would refuse it, and the error action runs.
        self.iam_resources = iam_resources
        self.topic_arn_prefix = topic_arn_prefix

    @property
    def resource(self) -> str:
        return self.topic

    def run(self, output: Output, ctx: iotsql.Context, rule: str) -> None:
        topic = iotsql.substitute(self.topic, ctx)
        if self.iam_resources is not None:
            arn = self.topic_arn_prefix + topic
            if not any(_iam_match(p, arn) for p in self.iam_resources):
                raise ActionFailed(
                    self.name,
                    topic,
                    f"AccessDenied: the rule's role may not iot:Publish to {arn} "
                    f"(iam_resources: {', '.join(self.iam_resources)})",
                )
        try:
            self.publish(topic, output_bytes(output), self.qos, False)
        except (ValueError, PermissionError, OverflowError) as exc:
            raise ActionFailed(self.name, topic, f"republish to {topic!r} failed: {exc}") from None
        log.info("RULE %s republish topic=%s qos=%d", rule, topic, self.qos)


class CloudwatchLogsAction:
    kind = "cloudwatch_logs"
    name = "CloudwatchLogsAction"

    def __init__(self, log_group_name: str) -> None:
        self.log_group_name = log_group_name

    @property
    def resource(self) -> str:
        return self.log_group_name

    def run(self, output: Output, ctx: iotsql.Context, rule: str) -> None:
        text = output_bytes(output).decode("utf-8", "backslashreplace")
        log.info("RULE %s cloudwatch_logs group=%s: %s", rule, self.log_group_name, text)


Action = LambdaAction | RepublishAction | CloudwatchLogsAction
