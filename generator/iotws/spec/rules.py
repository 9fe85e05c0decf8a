"""The access spec's `rules:` section: IoT topic rules, defined once (docs/design.md#decision-9).

`iotws generate` checks the section and writes `build/rules.json` in the shape of the
`modules/iot-topic-rules` module's `rules` input, plus the rule name prefix:

    {"name_prefix": "chat_dev",
     "rules": {"chat_message": {"sql": "...", "sql_version": "2016-03-23", "enabled": true,
                                "description": "...", "lambda": [{"function": "chat_message"}]}}}

A Terraform root reads it with `jsondecode(file(...))` and maps each Lambda target named
by `function` to its function's ARN (examples/chat/rules.tf); the emulator reads the same
file and runs the rules (emulator/iotws_emulator/rules). No second copy is kept by hand.

What is checked here (every problem at once, each naming the field):
- rule keys: letters, digits and `_` (IoT rule names allow no hyphens), 1..128 with the
  prefix (iot-rules.html, CreateTopicRule);
- `sql` selects FROM a topic filter inside the spec's topic prefix, or a lifecycle
  topic `$aws/events/...` (life-cycle-events.html): a rule never reads another app's topics;
- statements that do not parse are refused; statements that use IoT SQL the emulator does
  not run (see iotws.spec.iotsql) are a warning, since AWS runs them;
- `sql_version`: 2016-03-23 (the default, written out: an unset version means 2015-10-08);
- actions: at least one, at most 10 (the ActionList limit of CreateTopicRule); republish
  topics stay inside the prefix, substitution templates only after a literal prefix level;
- `error_action`: exactly one target.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from iotws.errors import IotwsError
from iotws.iot.facts import (
    LAMBDA_FUNCTION_ARN_PATTERN,
    LIFECYCLE_PREFIX,
    RULE_MAX_ACTIONS,
    RULE_NAME_MAX_CHARS,
    RULE_NAME_PATTERN,
    RULE_SQL_VERSIONS,
)
from iotws.spec import iotsql

RULE_NAME_RE = re.compile(RULE_NAME_PATTERN)
FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
FUNCTION_ARN_RE = re.compile(LAMBDA_FUNCTION_ARN_PATTERN)
FROM_RE = re.compile(r"(?i)\bFROM\s+'([^']+)'")
RULE_KEYS = {"description", "sql", "sql_version", "enabled", "error_action"}

# The module's action kinds and their fields (modules/iot-topic-rules/variables.tf):
# required, optional. `lambda` names a function of the kit (`function`) or gives an ARN.
ACTION_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lambda": ((), ("function", "function_arn")),
    "republish": (("topic",), ("qos", "iam_resources")),
    "cloudwatch_logs": (("log_group_name",), ("batch_mode",)),
    "sqs": (("queue_url",), ("queue_arn", "use_base64")),
    "sns": (("target_arn",), ("message_format",)),
    "dynamodbv2": (("table_name",), ("iam_resources",)),
    "kinesis": (("stream_name",), ("partition_key",)),
    "firehose": (("delivery_stream_name",), ("separator", "batch_mode")),
    "s3": (("bucket_name", "key"), ("canned_acl", "iam_resources")),
}
# Substitution templates (`${topic(3)}`, iot-substitution-templates.html) let each message
# choose the action's resource, so its IAM role cannot be bounded by the target alone: the
# module accepts them only in these fields, and only with `iam_resources`, the resource ARNs
# the rule's role may write to.
TEMPLATE_FIELDS = {
    "republish": ("topic",),
    "dynamodbv2": ("table_name",),
    "s3": ("bucket_name", "key"),
}


@dataclass(frozen=True)
class RulesSpec:
    """The checked `rules:` section, ready to write as build/rules.json."""

    name_prefix: str
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def document(self) -> dict[str, Any]:
        return {"name_prefix": self.name_prefix, "rules": self.rules}

    def render(self) -> bytes:
        text = json.dumps(self.document(), indent=2, sort_keys=True, ensure_ascii=False)
        return (text + "\n").encode()


def name_prefix_for(topic_prefix: str) -> str:
    """`chat/dev` -> `chat_dev` (rule names allow only letters, digits and `_`)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", topic_prefix) if topic_prefix else "iotws"


def _inside_prefix(topic: str, prefix: str) -> bool:
    return not prefix or topic == prefix or topic.startswith(prefix + "/")


def _filter_problem(topic_filter: str, prefix: str) -> str | None:
    if topic_filter.startswith(LIFECYCLE_PREFIX):
        return None
    if topic_filter.startswith("$"):
        return (
            f"FROM '{topic_filter}' reads a reserved topic; only lifecycle events "
            f"({LIFECYCLE_PREFIX}...) and the spec's own topics are allowed"
        )
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return f"FROM '{topic_filter}': '#' must be a whole last level"
        if "+" in level and level != "+":
            return f"FROM '{topic_filter}': '+' must be a whole level"
    if prefix and not _inside_prefix(topic_filter, prefix):
        return f"FROM '{topic_filter}' is outside the spec's topic prefix {prefix!r}"
    return None


def _check_action(
    kind: str, value: Any, fld: str, prefix: str, errs: list[IotwsError]
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        errs.append(IotwsError("must be a mapping", field=fld, fix=f"see the {kind} fields"))
        return None
    required, optional = ACTION_FIELDS[kind]
    unknown = sorted(set(value) - set(required) - set(optional))
    for key in unknown:
        errs.append(
            IotwsError(
                "unknown key",
                field=f"{fld}.{key}",
                fix=f"use one of: {', '.join(required + optional)}",
            )
        )
    for key in required:
        if not isinstance(value.get(key), str) or not value[key]:
            errs.append(IotwsError("is required (a non-empty string)", field=f"{fld}.{key}"))
    if unknown:
        return None
    templated = [k for k, v in value.items() if isinstance(v, str) and "${" in v]
    for key in templated:
        if key not in TEMPLATE_FIELDS.get(kind, ()):
            errs.append(
                IotwsError(
                    "a substitution template here would let each message choose the resource",
                    field=f"{fld}.{key}",
                    fix="write a literal value (templates are allowed in republish.topic, "
                    "dynamodbv2.table_name and s3.bucket_name/key, with iam_resources)",
                )
            )
    if "iam_resources" in value:
        res = value["iam_resources"]
        if (
            not isinstance(res, list)
            or not res
            or not all(isinstance(r, str) and r.startswith("arn:") and "${" not in r for r in res)
        ):
            errs.append(
                IotwsError(
                    "must be a non-empty list of resource ARNs without templates",
                    field=f"{fld}.iam_resources",
                    fix='e.g. ["arn:aws:iot:us-east-1:123456789012:topic/app/dev/out/*"]',
                )
            )
    elif templated and all(k in TEMPLATE_FIELDS.get(kind, ()) for k in templated):
        errs.append(
            IotwsError(
                f"{', '.join(templated)} holds a substitution template: list the resources the "
                "rule's role may write to in iam_resources",
                field=f"{fld}.iam_resources",
                fix='add iam_resources: ["arn:aws:iot:REGION:ACCOUNT:topic/<prefix>/out/*"]',
            )
        )
    if kind == "lambda":
        has_fn, has_arn = "function" in value, "function_arn" in value
        if has_fn == has_arn:
            errs.append(
                IotwsError(
                    "needs exactly one of function (a folder of lambda_src/, mapped to its ARN "
                    "by your Terraform) or function_arn",
                    field=fld,
                    fix="write lambda: [{function: chat_message}]",
                )
            )
        elif has_fn and not FUNCTION_NAME_RE.fullmatch(str(value["function"])):
            errs.append(
                IotwsError(
                    f"{value['function']!r} is not a function name",
                    field=f"{fld}.function",
                    fix="use 1-64 of letters, digits, _ and -",
                )
            )
        elif has_arn and not FUNCTION_ARN_RE.fullmatch(str(value["function_arn"])):
            errs.append(
                IotwsError(
                    "is not a Lambda function ARN",
                    field=f"{fld}.function_arn",
                    fix="arn:aws:lambda:REGION:ACCOUNT:function:NAME",
                )
            )
    if kind == "republish":
        topic = value.get("topic")
        qos = value.get("qos", 0)
        if isinstance(topic, str) and topic:
            literal = topic.split("${", 1)[0]
            if any(c in topic for c in "+#*?"):
                errs.append(
                    IotwsError("a republish topic has no wildcards (+ # * ?)", field=f"{fld}.topic")
                )
            elif prefix and not (literal.startswith(prefix + "/") or literal == prefix):
                errs.append(
                    IotwsError(
                        f"{topic!r} is outside the spec's topic prefix {prefix!r}"
                        + (" before its first substitution template" if "${" in topic else ""),
                        field=f"{fld}.topic",
                        fix=f"write {prefix}/<level>/... (templates only after the prefix)",
                    )
                )
            try:
                iotsql.template_expressions(topic)
            except iotsql.SqlError as exc:
                errs.append(IotwsError(f"bad substitution template: {exc}", field=f"{fld}.topic"))
        if qos not in (0, 1) or isinstance(qos, bool):
            errs.append(IotwsError(f"{qos!r} is not a QoS", field=f"{fld}.qos", fix="use 0 or 1"))
    return dict(value)


def _check_rule(
    key: str, r: Any, prefix: str, errs: list[IotwsError], warnings: list[str]
) -> dict[str, Any] | None:
    base = f"rules.{key}"
    if not isinstance(r, dict):
        errs.append(IotwsError("must be a mapping with sql and actions", field=base))
        return None
    allowed = RULE_KEYS | set(ACTION_FIELDS)
    for k in sorted(set(r) - allowed):
        errs.append(
            IotwsError(
                "unknown key", field=f"{base}.{k}", fix=f"use one of: {', '.join(sorted(allowed))}"
            )
        )
    out: dict[str, Any] = {}
    sql = r.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        errs.append(IotwsError("is required", field=f"{base}.sql", fix="SELECT ... FROM '...'"))
    else:
        out["sql"] = sql
        found = FROM_RE.search(sql)
        if found is None:
            errs.append(
                IotwsError(
                    "does not select FROM a topic filter in single quotes",
                    field=f"{base}.sql",
                    fix="write the filter in single quotes after FROM, e.g. "
                    + repr(f"{prefix}/rooms/+/in" if prefix else "rooms/+/in"),
                )
            )
        else:
            problem = _filter_problem(found.group(1), prefix)
            if problem:
                errs.append(
                    IotwsError(
                        problem,
                        field=f"{base}.sql",
                        fix=f"select FROM '{prefix}/...' or '{LIFECYCLE_PREFIX}...'",
                    )
                )
        try:
            iotsql.parse(sql)
        except iotsql.SqlError as exc:
            if exc.unsupported:
                warnings.append(f"{base}.sql: the local emulator cannot run this rule: {exc}")
            else:
                errs.append(
                    IotwsError(f"does not parse: {exc}", field=f"{base}.sql", fix="fix the SQL")
                )
    version = r.get("sql_version", iotsql.SQL_VERSION)
    if version not in RULE_SQL_VERSIONS:
        errs.append(
            IotwsError(
                f"{version!r} is not an IoT SQL version",
                field=f"{base}.sql_version",
                fix="use 2016-03-23 (or leave it out)",
            )
        )
    out["sql_version"] = version
    enabled = r.get("enabled", True)
    if not isinstance(enabled, bool):
        errs.append(IotwsError("must be true or false", field=f"{base}.enabled"))
    out["enabled"] = enabled
    if "description" in r:
        if not isinstance(r["description"], str):
            errs.append(IotwsError("must be a string", field=f"{base}.description"))
        out["description"] = r["description"]
    count = 0
    for kind in ACTION_FIELDS:
        if kind not in r:
            continue
        items = r[kind]
        if not isinstance(items, list) or not items:
            errs.append(
                IotwsError(
                    "must be a non-empty list",
                    field=f"{base}.{kind}",
                    fix=f"write {kind}: [{{...}}]",
                )
            )
            continue
        checked = [
            _check_action(kind, item, f"{base}.{kind}[{i}]", prefix, errs)
            for i, item in enumerate(items)
        ]
        out[kind] = [c for c in checked if c is not None]
        count += len(items)
    if count == 0:
        errs.append(
            IotwsError(
                "has no action",
                field=base,
                fix=f"add one of: {', '.join(ACTION_FIELDS)} (e.g. lambda: [{{function: NAME}}])",
            )
        )
    elif count > RULE_MAX_ACTIONS:
        errs.append(
            IotwsError(
                f"has {count} actions; IoT allows at most {RULE_MAX_ACTIONS} per rule",
                field=base,
                fix="split it into two rules",
            )
        )
    if "error_action" in r:
        ea = r["error_action"]
        fld = f"{base}.error_action"
        kinds = sorted(ea) if isinstance(ea, dict) else []
        if not isinstance(ea, dict) or len(ea) != 1 or kinds[0] not in ACTION_FIELDS:
            errs.append(
                IotwsError(
                    "needs exactly one target",
                    field=fld,
                    fix=f"one of: {', '.join(ACTION_FIELDS)} (e.g. error_action: "
                    "{cloudwatch_logs: {log_group_name: ...}})",
                )
            )
        else:
            checked_ea = _check_action(kinds[0], ea[kinds[0]], f"{fld}.{kinds[0]}", prefix, errs)
            if checked_ea is not None:
                out["error_action"] = {kinds[0]: checked_ea}
    return out


def parse_rules(raw: Any, prefix: str) -> tuple[RulesSpec, list[IotwsError]]:
    """Check the `rules:` section (None when absent); returns it and every error found."""
    name_prefix = name_prefix_for(prefix)
    errs: list[IotwsError] = []
    warnings: list[str] = []
    rules: dict[str, dict[str, Any]] = {}
    if raw is None:
        return RulesSpec(name_prefix), errs
    if not isinstance(raw, dict):
        errs.append(IotwsError("must be a mapping of rule name to rule", field="rules"))
        return RulesSpec(name_prefix), errs
    for key, r in raw.items():
        full = f"{name_prefix}_{key}"
        if (
            not isinstance(key, str)
            or not RULE_NAME_RE.fullmatch(key)
            or len(full) > RULE_NAME_MAX_CHARS
        ):
            errs.append(
                IotwsError(
                    f"rule name {full!r} is not allowed",
                    field=f"rules.{key}",
                    fix="use letters, digits and _ only (IoT rule names allow no hyphens), "
                    f"at most {RULE_NAME_MAX_CHARS} with the prefix",
                )
            )
            continue
        checked = _check_rule(key, r, prefix, errs, warnings)
        if checked is not None:
            rules[key] = checked
    return RulesSpec(name_prefix, rules, tuple(warnings)), errs
