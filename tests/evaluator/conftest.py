"""Fixtures for the evaluator tests: the ground-truth policy cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).resolve().parents[1] / "policy_cases"
REGION = "us-east-1"
ACCOUNT = "123456789012"


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            case["file"] = path.name
            cases.append(case)
    return cases


def documents_of(case: dict[str, Any]) -> list[Any]:
    policy = case["policy"]
    return policy if isinstance(policy, list) else [policy]
