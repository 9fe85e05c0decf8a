"""Policy enforcement seam: the emulator asks `CompiledPolicy.evaluate` and nothing else.

`EvaluatorEngine` is the real one (`iotws.policy.evaluator`, docs/design.md#decision-4).
Tests may pass another engine with the same two methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from iotws.policy.evaluator import PolicySet, Request

ALLOWED = "ALLOWED"
EXPLICIT_DENY = "EXPLICIT_DENY"
IMPLICIT_DENY = "IMPLICIT_DENY"


class CompiledPolicy(Protocol):
    def evaluate(self, action: str, resource: str, variables: Mapping[str, str]) -> str:
        """One of ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY."""
        ...


class PolicyEngine(Protocol):
    def compile(self, documents: Sequence[Mapping[str, Any]]) -> CompiledPolicy:
        """Parse and compile documents; raise on a document IoT would not accept."""
        ...


class _EvaluatorPolicy:
    def __init__(self, policy_set: PolicySet) -> None:
        self._ps = policy_set

    def evaluate(self, action: str, resource: str, variables: Mapping[str, str]) -> str:
        result: str = self._ps.evaluate(Request(action, resource, variables)).result
        return result

    def explain(self, action: str, resource: str, variables: Mapping[str, str]) -> list[str]:
        """The deciding statements, as `document[i].Statement[j] Effect (Sid)`: what the
        local console shows next to a decision. Empty for an implicit deny."""
        decision = self._ps.evaluate(Request(action, resource, variables))
        return [
            f"document[{r.document}].Statement[{r.statement}] {r.effect}"
            + (f" ({r.sid})" if r.sid else "")
            for r in decision.statements
        ]


class EvaluatorEngine:
    """The kit's policy evaluator (`iotws.policy.evaluator.PolicySet`)."""

    def compile(self, documents: Sequence[Mapping[str, Any]]) -> CompiledPolicy:
        return _EvaluatorPolicy(PolicySet.from_documents(list(documents)))
