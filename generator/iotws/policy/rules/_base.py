"""What a lint rule is, and the helpers the rules share.

A rule is data: an id (stable, never renumbered), a default severity, a one-line
description, the usual fix and a `check`. `scope` says what the check is given:

- `statement`: one statement (`StatementView`) and the context;
- `document`: one document (as given) and its index;
- `set`: every statement of the documents that apply to one principal;
- `parse`: no check; the linter reports a document the evaluator refuses.

A check yields `Hit`s; a hit may carry its own severity and fix (the rule's are the
defaults). The registry (`iotws.policy.rules.RULES`) is the list of all rules, and
docs/lint-rules.md's table is generated from it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, Literal

from iotws.iot.arns import PARTITIONS, Arn, glob_match, has_wildcard, parse_arn
from iotws.iot.topics import is_wildcard
from iotws.policy.evaluator import PolicySet, StatementView

SEVERITIES = ("error", "warning", "info")
Scope = Literal["statement", "document", "set", "parse"]


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # "error" | "warning" | "info"
    document: int | None
    statement: int | None
    message: str
    fix: str
    source: str = ""

    def render(self) -> str:
        doc = "-" if self.document is None else str(self.document)
        stmt = "-" if self.statement is None else str(self.statement)
        return (
            f"{self.severity.upper()} {self.id} doc[{doc}] stmt[{stmt}]: {self.message}"
            f" (fix: {self.fix})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    """One finding of a rule, before the rule's id and defaults are added."""

    message: str
    document: int | None = None
    statement: int | None = None
    severity: str | None = None  # None: the rule's severity
    fix: str | None = None  # None: the rule's fix


@dataclass
class Context:
    """What the documents of one principal give every rule."""

    views: list[StatementView]
    documents: Sequence[Any]
    region: str | None
    account: str | None
    source: str = ""

    @cached_property
    def policy_set(self) -> PolicySet:
        return PolicySet(self.views, self.documents)

    @cached_property
    def values(self) -> dict[str, str]:
        """A sample value for every variable the documents use."""
        names = sorted(self.policy_set.variables)
        return {name: f"v{i}" for i, name in enumerate(names)}

    @property
    def sample_region(self) -> str:
        return self.region or "us-east-1"

    @property
    def sample_account(self) -> str:
        return self.account or "123456789012"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    description: str
    fix: str
    scope: Scope
    check: Callable[..., Iterable[Hit]] | None = None

    def findings(self, hits: Iterable[Hit], source: str) -> Iterator[Finding]:
        for h in hits:
            yield Finding(
                self.id,
                h.severity or self.severity,
                h.document,
                h.statement,
                h.message,
                self.fix if h.fix is None else h.fix,
                source,
            )


# ------------------------------------------------------------------ shared helpers

TOPIC_ACTIONS = ("iot:Publish", "iot:Receive", "iot:RetainPublish", "iot:GetRetainedMessage")


def covers(view: StatementView, action: str) -> bool:
    """The statement's Action (or NotAction) covers `action`."""
    hit = any(glob_match(p, action, ignore_case=True) for p in view.actions)
    return hit != view.not_action


def names(view: StatementView, action: str) -> bool:
    """The statement names `action` explicitly (no wildcard, not NotAction)."""
    return not view.not_action and any(a.lower() == action.lower() for a in view.actions)


def iot_arn(resource: str) -> Arn | None:
    """The ARN of an IoT resource, None for `*` and for what is not one (IOTWS015)."""
    if resource == "*":
        return None
    arn = parse_arn(resource)
    if (
        arn is None
        or arn.partition not in PARTITIONS
        or not glob_match(arn.service, "iot")
        or not arn.rtype
    ):
        return None
    return arn


def iot_arns(view: StatementView) -> Iterator[tuple[str, Arn]]:
    """`(resource, ARN)` of the statement's IoT resources, in order."""
    for r in view.resources:
        arn = iot_arn(r)
        if arn is not None:
            yield r, arn


def mqtt_wildcard_resources(view: StatementView, rtype: str) -> Iterator[str]:
    """The statement's `rtype` resources (`topic`, `topicfilter`) whose name holds an MQTT
    wildcard, `+` or `#`: policies read them literally (IOTWS005, IOTWS019)."""
    for r, arn in iot_arns(view):
        if arn.rtype == rtype and is_wildcard(arn.name):
            yield r


def allows_resources(view: StatementView) -> bool:
    """An Allow with `Resource` (not `NotResource`)."""
    return view.effect == "Allow" and not view.not_resource


def sample(text: str, values: Mapping[str, str]) -> str:
    """A concrete string matched by a pattern: wildcards -> 'x', variables -> their sample."""

    def var(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in ("*", "?", "$"):
            return name
        return values.get(name, "v")

    out = re.sub(r"\$\{([^}]*)\}", lambda m: "\0" + var(m) + "\0", text)
    pieces = out.split("\0")
    result = []
    for i, piece in enumerate(pieces):
        result.append(piece if i % 2 else re.sub(r"[*?]", "x", piece))
    return "".join(result)


def sample_topic_for_filter(arn: Arn, values: Mapping[str, str], region: str, account: str) -> str:
    region_s = region if has_wildcard(arn.region) else sample(arn.region, values)
    account_s = account if has_wildcard(arn.account) else sample(arn.account, values)
    name = sample(arn.name, values)
    name = "/".join("x" if level in ("+", "#") else level for level in name.split("/"))
    return f"arn:{arn.partition}:iot:{region_s}:{account_s}:topic/{name}"


def document_sizes(doc: Any) -> tuple[int, int]:
    """(characters of the compact JSON without white space, characters with white space as
    given or compact, whichever is larger)."""
    obj = json.loads(doc) if isinstance(doc, str) else doc
    compact = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    no_ws = len(re.sub(r"\s", "", compact))
    given = len(doc) if isinstance(doc, str) else len(compact)
    return no_ws, max(len(compact), given)
