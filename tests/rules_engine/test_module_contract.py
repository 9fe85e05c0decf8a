"""The spec's `rules:` section (`iotws.spec.rules`) feeds `modules/iot-topic-rules` through
build/rules.json, and both check the same IoT facts: one in Python, one in HCL validations.
Terraform cannot import Python, so this test reads the module's source and checks that both
sides name the same action kinds, the same fields per kind (required and optional), the same
templated fields, and the same facts (`iotws.iot.facts`: rule names, SQL versions, the
action limit, Lambda ARNs). A kind or field added on one side only fails here."""

from __future__ import annotations

import re

import pytest

from iotws.iot import facts
from iotws.paths import repo_root
from iotws.spec.rules import ACTION_FIELDS, TEMPLATE_FIELDS

MODULE = repo_root() / "modules" / "iot-topic-rules"
# `kind = optional(list(object({ ... })))` (a rule's actions) or `kind = optional(object({
# ... }))` (its error action): the object's body has no nested braces.
_KIND_BLOCK = re.compile(r"^\s*(\w+)\s*=\s*optional\((list\()?object\(\{([^{}]*)\}\)\)?\)", re.M)
_FIELD = re.compile(r"^\s*(\w+)\s*=\s*(\S+)", re.M)


def _text(name: str) -> str:
    return (MODULE / name).read_text(encoding="utf-8")


def _rules_type() -> str:
    text = _text("variables.tf")
    start = text.index('variable "rules"')
    return text[text.index("type = map(object({", start) : text.index("default = {}", start)]


def _module_fields(error_action: bool) -> dict[str, tuple[set[str], set[str]]]:
    """kind -> (required fields, optional fields), for a rule's action lists or for its
    error action."""
    body = _rules_type()
    split = body.index("error_action = optional(object({")
    part = body[split:] if error_action else body[:split]
    out: dict[str, tuple[set[str], set[str]]] = {}
    for m in _KIND_BLOCK.finditer(part):
        if bool(m.group(2)) == error_action:
            continue  # a list in the error action, or a single object among the lists
        fields = {f.group(1): f.group(2) for f in _FIELD.finditer(m.group(3))}
        required = {k for k, v in fields.items() if not v.startswith("optional(")}
        out[m.group(1)] = (required, set(fields) - required)
    return out


def _action_kinds() -> dict[str, list[str] | None]:
    """main.tf's `local.action_kinds`: kind -> its templated fields (None: no templates)."""
    text = _text("main.tf")
    block = text[
        text.index("action_kinds = {") : text.index("\n  }\n", text.index("action_kinds = {"))
    ]
    out: dict[str, list[str] | None] = {}
    for m in re.finditer(
        r"^\s*(\w+)\s*=\s*\{.*fields = \[([^\]]*)\], iam = (null|\{)", block, re.M
    ):
        fields = re.findall(r'"(\w+)"', m.group(2))
        out[m.group(1)] = None if m.group(3) == "null" else fields
    return out


# The spec names a kit function (`function`), which the Terraform root maps to function_arn
# (docs/RULES.md); the module takes the ARN only.
SPEC_ONLY = {"lambda": {"function"}}


def _spec_fields() -> dict[str, tuple[set[str], set[str]]]:
    out = {}
    for kind, (required, optional) in ACTION_FIELDS.items():
        fields = set(required) | set(optional) - SPEC_ONLY.get(kind, set())
        out[kind] = (set(required), fields - set(required))
    return out


def test_the_module_reads_its_kinds_from_one_list() -> None:
    kinds = _action_kinds()
    assert len(kinds) == 9, "local.action_kinds was not found in main.tf"
    assert set(kinds) == set(ACTION_FIELDS)


@pytest.mark.parametrize("error_action", [False, True], ids=["actions", "error_action"])
def test_every_kind_has_the_same_fields_on_both_sides(error_action: bool) -> None:
    module = _module_fields(error_action)
    assert set(module) == set(ACTION_FIELDS)
    spec = _spec_fields()
    for kind in ACTION_FIELDS:
        m_required, m_optional = module[kind]
        s_required, s_optional = spec[kind]
        assert m_required | m_optional == s_required | s_optional, kind
        if kind == "lambda":
            # one of function/function_arn in the spec; the ARN after the root's mapping
            assert m_required == {"function_arn"}
        else:
            assert m_required == s_required, kind


def test_templates_are_allowed_in_the_same_fields() -> None:
    module = {k: v for k, v in _action_kinds().items() if v is not None}
    assert module == {kind: list(fields) for kind, fields in TEMPLATE_FIELDS.items()}


def test_the_module_validates_the_core_facts() -> None:
    text = _text("variables.tf")
    hcl = text.replace("\\\\", "\\")  # HCL string escapes: \\ is one backslash
    assert f'"{facts.RULE_NAME_PATTERN}"' in hcl
    assert f'"{facts.LAMBDA_FUNCTION_ARN_PATTERN}"' in hcl
    versions = re.findall(r"contains\(\[([^\]]*)\], r\.sql_version\)", text)
    assert versions, "the sql_version validation was not found"
    for found in versions:
        assert set(re.findall(r'"([^"]+)"', found)) == set(facts.RULE_SQL_VERSIONS)
    limits = set(re.findall(r"\) <= (\d+)\]\)", text))
    assert limits == {str(facts.RULE_MAX_ACTIONS)}
    # the default the module gives a rule without sql_version is the one to use
    assert f'sql_version = optional(string, "{facts.RULE_SQL_VERSIONS[0]}")' in text
