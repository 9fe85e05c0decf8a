"""The local rules engine: the rules of `build/rules.json` (iotws.spec.rules) run on every message.

Start-up compiles every rule and refuses, naming the rule and the part, anything it would
not run exactly: SQL that does not parse, IoT SQL outside the subset (iotws.spec.iotsql), a SQL
version other than 2016-03-23, an action other than `lambda` (the kit's own functions),
`republish` and `cloudwatch_logs`. Nothing is silently ignored.

At run time (`on_message`, called by the broker for every message it accepts: client
publishes, HTTP publishes, lifecycle events), each enabled rule whose FROM filter matches
the topic evaluates WHERE and SELECT on the broker's event loop (cheap, no I/O), then runs
its actions: republish and CloudWatch Logs inline, Lambda on a bounded worker pool. An
action that cannot be carried out makes the rule's error action run once per rule and
message with IoT's error message (rule-error-handling.html); a rule without one uses the
`iot-topic-rules` module's default, the log group `/iotws/<name_prefix>/rule-errors`,
which is the emulator's log. Other rules, and the clients, carry on.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iotws.errors import IotwsError
from iotws.iot.facts import BASIC_INGEST_PREFIX
from iotws.iot.topics import matches, topic_filter_error
from iotws.spec import iotsql
from iotws_emulator.rules.actions import (
    Action,
    ActionFailed,
    CloudwatchLogsAction,
    LambdaAction,
    LambdaInvoker,
    PublishFn,
    RepublishAction,
)
from iotws_emulator.rules.functions import LocalFunction, load_function

log = logging.getLogger("iotws.emulator.rules")

EMULATED_ACTIONS = ("lambda", "republish", "cloudwatch_logs")
OTHER_ACTIONS = ("sqs", "sns", "dynamodbv2", "kinesis", "firehose", "s3")
MAX_REPUBLISH_DEPTH = 8  # a rule that republishes into its own FROM would loop forever


@dataclass
class Rule:
    key: str
    name: str
    statement: iotsql.Statement
    actions: list[Action]
    error_action: Action | None
    enabled: bool = True
    fired: int = 0


@dataclass
class RulesEngine:
    rules: list[Rule]
    invoker: LambdaInvoker
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    now_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    _depth: int = 0

    # ----------------------------------------------------------------- run time

    def on_message(
        self,
        topic: str,
        payload: bytes,
        *,
        client_id: str | None = None,
        principal: str | None = None,
    ) -> int:
        """Run every matching rule on one message; returns how many rules fired."""
        if topic.startswith(BASIC_INGEST_PREFIX):
            # iot-basic-ingest.html: the message goes to the named rule only. Not emulated:
            # said once per message rather than dropped in silence.
            log.warning("RULES basic ingest topic=%s is not emulated: message dropped", topic)
            return 0
        if self._depth > MAX_REPUBLISH_DEPTH:
            log.warning(
                "RULES skip topic=%s: republished %d times in a row (a rule republishes into "
                "its own FROM?)",
                topic,
                self._depth,
            )
            return 0
        msg = iotsql.Message(
            topic=topic,
            payload=payload,
            client_id=client_id or "n/a",
            principal=principal or "n/a",
            timestamp_ms=self.now_ms(),
        )
        ctx = iotsql.Context(msg, self.now_ms)
        fired = 0
        for rule in self.rules:
            if rule.enabled and matches(rule.statement.topic_filter, topic):
                fired += self._run(rule, ctx)
        return fired

    def _run(self, rule: Rule, ctx: iotsql.Context) -> int:
        try:
            output = iotsql.select(rule.statement, ctx)
        except iotsql.NotJson as exc:
            log.info(
                "RULE %s topic=%s: SQL evaluation failed: %s", rule.name, ctx.message.topic, exc
            )
            return 0
        if output is None:
            return 0
        rule.fired += 1
        log.info(
            "RULE %s fired topic=%s client=%s actions=%s",
            rule.name,
            ctx.message.topic,
            ctx.message.client_id,
            ",".join(a.kind for a in rule.actions),
        )
        failures: list[dict[str, str]] = []
        self._depth += 1
        try:
            for action in rule.actions:
                try:
                    action.run(output, ctx, rule.name)
                except ActionFailed as exc:
                    log.warning("RULE %s action %s failed: %s", rule.name, exc.action, exc.message)
                    failures.append(exc.failure())
            if failures:
                self._error_action(rule, ctx, failures)
        finally:
            self._depth -= 1
        return 1

    def _error_action(
        self, rule: Rule, ctx: iotsql.Context, failures: list[dict[str, str]]
    ) -> None:
        m = ctx.message
        message = {
            "ruleName": rule.name,
            "topic": m.topic,
            "cloudwatchTraceId": m.trace_id,
            "clientId": m.client_id,
            "base64OriginalPayload": base64.b64encode(m.payload).decode("ascii"),
            "failures": failures,
        }
        ea = rule.error_action
        if ea is None:
            log.warning(
                "RULE %s has no error action; failures: %s", rule.name, json.dumps(failures)
            )
            return
        try:
            ea.run(message, ctx, rule.name)
        except ActionFailed as exc:
            log.error("RULE %s error action %s failed too: %s", rule.name, exc.action, exc.message)
        else:
            log.info(
                "RULE %s error action %s ran (%d failure(s))", rule.name, ea.kind, len(failures)
            )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        return self.invoker.wait_idle(timeout)

    def close(self) -> None:
        self.invoker.close()


# --------------------------------------------------------------------------- start-up


def _refuse(rule: str, what: str, fix: str | None = None) -> IotwsError:
    return IotwsError(what, field=f"rule {rule}", fix=fix)


def compile_rules(
    document: Any,
    *,
    publish: PublishFn,
    function_dir: Callable[[str], Path],
    region: str,
    account: str,
    invoker: LambdaInvoker | None = None,
) -> RulesEngine:
    """Build the engine from build/rules.json's content; IotwsError naming the rule and the
    unsupported part for anything the emulator would not run exactly."""
    if not isinstance(document, dict) or not isinstance(document.get("rules"), dict):
        raise IotwsError(
            "rules.json must hold {name_prefix, rules}",
            field="rules.json",
            fix="rebuild it with `iotws generate`",
        )
    name_prefix = str(document.get("name_prefix") or "")
    default_errors = f"/iotws/{name_prefix}/rule-errors" if name_prefix else "/iotws/rule-errors"
    invoker = invoker or LambdaInvoker()
    functions: dict[str, LocalFunction] = {}

    def function(rule: str, target: Any) -> LocalFunction:
        if not isinstance(target, dict) or "function" not in target:
            raise _refuse(
                rule,
                f"lambda target {target!r} is not emulated: only the kit's own functions, named "
                "by `function` (lambda_src/<name>), run locally",
                "name a folder of lambda_src: lambda: [{function: NAME}]",
            )
        name = str(target["function"])
        if name not in functions:
            arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
            try:
                functions[name] = load_function(name, function_dir(name), arn)
            except IotwsError as exc:
                raise _refuse(rule, f"lambda function {name}: {exc.message}", exc.fix) from None
        return functions[name]

    def action(rule: str, kind: str, spec: Any) -> Action:
        if kind == "lambda":
            return LambdaAction(function(rule, spec), invoker)
        if not isinstance(spec, dict):
            raise _refuse(rule, f"{kind} action {spec!r} is not an object")
        if kind == "republish":
            topic = spec.get("topic")
            qos = spec.get("qos", 0)
            if not isinstance(topic, str) or not topic or qos not in (0, 1):
                raise _refuse(rule, f"republish needs a topic and qos 0 or 1, got {spec!r}")
            try:
                iotsql.template_expressions(topic)
            except iotsql.SqlError as exc:
                raise _refuse(rule, f"republish topic {topic!r}: {exc}") from None
            iam = spec.get("iam_resources")
            if iam is not None and not (
                isinstance(iam, list) and all(isinstance(x, str) for x in iam)
            ):
                raise _refuse(rule, f"republish iam_resources must be a list of ARNs, got {iam!r}")
            return RepublishAction(
                topic,
                int(qos),
                publish,
                iam_resources=iam,
                topic_arn_prefix=f"arn:aws:iot:{region}:{account}:topic/",
            )
        if kind == "cloudwatch_logs":
            group = spec.get("log_group_name")
            if not isinstance(group, str) or not group:
                raise _refuse(rule, "cloudwatch_logs needs log_group_name")
            return CloudwatchLogsAction(group)
        raise _refuse(
            rule,
            f"the {kind} action is not emulated (the emulator runs {', '.join(EMULATED_ACTIONS)})",
            "test this rule in AWS, or use one of those actions",
        )

    rules: list[Rule] = []
    for key, r in sorted(document["rules"].items()):
        name = f"{name_prefix}_{key}" if name_prefix else str(key)
        if not isinstance(r, dict):
            raise _refuse(name, "is not an object")
        version = r.get("sql_version")
        if version != iotsql.SQL_VERSION:
            raise _refuse(
                name,
                f"sql_version {version!r} is not emulated: only {iotsql.SQL_VERSION} is "
                "(an unset version means 2015-10-08 on AWS)",
                f"set sql_version: {iotsql.SQL_VERSION} (the kit's default)",
            )
        try:
            statement = iotsql.parse(str(r.get("sql", "")))
        except iotsql.SqlError as exc:
            if exc.unsupported:
                raise _refuse(
                    name,
                    f"its SQL uses IoT SQL the emulator does not run: {exc}",
                    "use the subset in docs/RULES.md, or test this rule in AWS",
                ) from None
            raise _refuse(name, f"its SQL does not parse: {exc}", "fix the SQL") from None
        problem = topic_filter_error(statement.topic_filter)
        if problem:
            raise _refuse(name, f"FROM '{statement.topic_filter}': {problem}")
        actions: list[Action] = []
        for kind in (*EMULATED_ACTIONS, *OTHER_ACTIONS):
            for spec in r.get(kind) or []:
                actions.append(action(name, kind, spec))
        unknown = sorted(
            set(r)
            - {*EMULATED_ACTIONS, *OTHER_ACTIONS}
            - {"sql", "sql_version", "enabled", "description", "error_action"}
        )
        if unknown:
            raise _refuse(name, f"unknown keys {unknown}", "rebuild with `iotws generate`")
        if not actions:
            raise _refuse(name, "has no action")
        enabled = r.get("enabled", True)
        if not isinstance(enabled, bool):
            raise _refuse(name, f"enabled must be true or false, got {enabled!r}")
        ea_spec = r.get("error_action")
        if ea_spec is None:
            error_action: Action | None = CloudwatchLogsAction(default_errors)
        elif isinstance(ea_spec, dict) and len(ea_spec) == 1:
            ((ea_kind, ea_target),) = ea_spec.items()
            error_action = action(name, str(ea_kind), ea_target)
        else:
            raise _refuse(name, "error_action needs exactly one target")
        rules.append(Rule(key, name, statement, actions, error_action, enabled=enabled))
    return RulesEngine(rules, invoker, functions)
