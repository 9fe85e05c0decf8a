"""Lint IoT policy documents: the mistakes IoT policies invite (docs/custom-authorizer.md#response,
docs/iot-policies.md#size-limits, docs/data-plane.md).

The rules are data, one file per rule in `iotws.policy.rules` (id, severity, description,
fix, check); docs/lint-rules.md lists them, generated from the registry. This module runs
them over the documents that apply to one principal and orders the findings.

Our own slots (`${iotws:client_id}`, `${iotws:claim.NAME}`, `${iotws:region}`,
`${iotws:account}`, INTERNALS.md) are legitimate in documents checked before run-time
substitution; `${iotws:client_id}` in a Connect resource binds the client id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from iotws.policy.evaluator import PolicyError, StatementView, parse_document
from iotws.policy.rules import BY_ID, RULES, SEVERITIES, Context, Finding

_PARSE = BY_ID["IOTWS001"]


def lint_documents(
    documents: Sequence[Mapping[str, Any] | str],
    *,
    region: str | None = None,
    account: str | None = None,
    source: str = "",
) -> list[Finding]:
    """Every finding for the documents that apply to one principal, in a stable order."""
    findings: list[Finding] = []
    views: list[StatementView] = []
    parsed: list[tuple[int, Any]] = []
    for idx, doc in enumerate(documents):
        try:
            doc_views = parse_document(doc, idx)
        except PolicyError as exc:
            m = re.search(r"Statement\[(\d+)\]", exc.field or "")
            findings.append(
                Finding(
                    _PARSE.id,
                    _PARSE.severity,
                    idx,
                    int(m.group(1)) if m else None,
                    exc.render(),
                    exc.fix or _PARSE.fix,
                    source,
                )
            )
            continue
        views.extend(doc_views)
        parsed.append((idx, doc))
    ctx = Context(views, documents, region, account, source)
    for rule in RULES:
        if rule.check is None:
            continue
        if rule.scope == "document":
            for idx, doc in parsed:
                findings.extend(rule.findings(rule.check(doc, idx), source))
        elif rule.scope == "statement":
            for view in views:
                findings.extend(rule.findings(rule.check(view, ctx), source))
        elif rule.scope == "set":
            findings.extend(rule.findings(rule.check(ctx), source))
    order = {sev: i for i, sev in enumerate(SEVERITIES)}
    findings.sort(
        key=lambda f: (
            -1 if f.document is None else f.document,
            -1 if f.statement is None else f.statement,
            order[f.severity],
            f.id,
        )
    )
    return findings


__all__ = ["Finding", "lint_documents"]
