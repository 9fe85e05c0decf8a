"""Policy enforcement seam: the emulator asks `CompiledPolicy.evaluate` and nothing else.

`EvaluatorEngine` is the real one (`iotws.evaluator`, DESIGN decision 4). Tests may pass
another engine with the same two methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

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
    def __init__(self, policy_set: Any, request_cls: Any) -> None:
        self._ps = policy_set
        self._request = request_cls

    def evaluate(self, action: str, resource: str, variables: Mapping[str, str]) -> str:
        result: str = self._ps.evaluate(self._request(action, resource, variables)).result
        return result


class EvaluatorEngine:
    """`iotws.evaluator.PolicySet`, imported lazily so the codec has no hard dependency."""

    def __init__(self) -> None:
        from iotws.evaluator import PolicySet, Request

        self._policy_set = PolicySet
        self._request = Request

    def compile(self, documents: Sequence[Mapping[str, Any]]) -> CompiledPolicy:
        return _EvaluatorPolicy(self._policy_set.from_documents(list(documents)), self._request)
