"""Evaluator throughput: decisions per second for a 10-document authorizer policy.

The workload mixes Connect, Subscribe, Receive and Publish requests (allowed, explicitly
denied and implicitly denied) against ten documents shaped like the authorizer's output
(slots filled, plus `${iot:ClientId}` resources so the variable cache is exercised).
The reference, measured in the same run, is a naive evaluation that parses and compiles
the documents for every decision (no caches).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from iotws.bench import Row
from iotws.policy.evaluator import PolicySet, Request

TARGET_PER_SECOND = 100_000
_ARN = "arn:aws:iot:us-east-1:123456789012:"
_PREFIX = "demo/dev"


def authorizer_documents(
    sub: str = "alice", client_id: str = "alice-web1"
) -> list[dict[str, object]]:
    """Ten documents as an authorizer would return them for one identity."""

    def doc(*statements: dict[str, object]) -> dict[str, object]:
        return {"Version": "2012-10-17", "Statement": list(statements)}

    def allow(action: str | list[str], *resources: str) -> dict[str, object]:
        return {"Effect": "Allow", "Action": action, "Resource": [_ARN + r for r in resources]}

    def deny(action: str | list[str], *resources: str) -> dict[str, object]:
        return {"Effect": "Deny", "Action": action, "Resource": [_ARN + r for r in resources]}

    p = _PREFIX
    docs = [
        doc(allow("iot:Connect", f"client/{client_id}")),
        doc(
            allow("iot:Subscribe", f"topicfilter/{p}/users/{sub}/*", f"topicfilter/{p}/server"),
            allow("iot:Receive", f"topic/{p}/users/{sub}/*", f"topic/{p}/server"),
        ),
        doc(
            allow("iot:Subscribe", f"topicfilter/{p}/rooms/*/messages"),
            allow("iot:Receive", f"topic/{p}/rooms/*/messages"),
        ),
        doc(allow("iot:Publish", f"topic/{p}/users/{sub}/out", f"topic/{p}/rooms/*/messages")),
        doc(
            allow("iot:Subscribe", f"topicfilter/{p}/clients/${{iot:ClientId}}/*"),
            allow("iot:Receive", f"topic/{p}/clients/${{iot:ClientId}}/*"),
        ),
        doc(deny(["iot:Subscribe", "iot:Receive"], f"topicfilter/{p}/rooms/admin/*")),
        doc(deny("iot:Receive", f"topic/{p}/rooms/admin/*")),
        doc(deny("iot:Publish", f"topic/{p}/rooms/readonly/messages")),
        doc(allow("iot:Publish", f"topic/{p}/clients/${{iot:ClientId}}/status")),
        doc(allow(["iot:RetainPublish", "iot:GetRetainedMessage"], f"topic/{p}/users/{sub}/state")),
    ]
    return docs


def workload(n_clients: int = 50) -> list[Request]:
    requests: list[Request] = []
    p = _PREFIX
    for i in range(n_clients):
        v = {"iot:ClientId": f"alice-web{i}"}
        requests += [
            Request("iot:Connect", _ARN + f"client/alice-web{i}", v),
            Request("iot:Subscribe", _ARN + f"topicfilter/{p}/users/alice/#", v),
            Request("iot:Subscribe", _ARN + f"topicfilter/{p}/rooms/+/messages", v),
            Request("iot:Subscribe", _ARN + f"topicfilter/{p}/rooms/admin/x", v),
            Request("iot:Receive", _ARN + f"topic/{p}/rooms/r{i}/messages", v),
            Request("iot:Receive", _ARN + f"topic/{p}/rooms/admin/messages", v),
            Request("iot:Receive", _ARN + f"topic/{p}/clients/alice-web{i}/inbox", v),
            Request("iot:Receive", _ARN + f"topic/{p}/users/bob/inbox", v),
            Request("iot:Publish", _ARN + f"topic/{p}/rooms/r{i}/messages", v),
            Request("iot:Publish", _ARN + f"topic/{p}/rooms/readonly/messages", v),
            Request("iot:Publish", _ARN + f"topic/{p}/clients/alice-web{i}/status", v),
            Request("iot:Publish", _ARN + "topic/other/app", v),
        ]
    return requests


def _rate(fn: Callable[[], int], min_seconds: float) -> float:
    count = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < min_seconds:
        count += fn()
        elapsed = time.perf_counter() - start
    return count / elapsed


def measure(min_seconds: float = 0.5) -> tuple[float, float]:
    """(cached decisions/s, naive decisions/s)."""
    docs = authorizer_documents()
    requests = workload()
    ps = PolicySet.from_documents(docs)

    def cached() -> int:
        evaluate = ps.evaluate
        for req in requests:
            evaluate(req)
        return len(requests)

    naive_batch = requests[::10]

    def naive() -> int:
        for req in naive_batch:
            PolicySet.from_documents(docs).evaluate(req)
        return len(naive_batch)

    cached()  # warm the caches the way a long-lived process would
    return _rate(cached, min_seconds), _rate(naive, min_seconds / 2)


def run() -> list[Row]:
    fast, slow = measure()
    return [
        Row(
            group="evaluator",
            name="decisions/s, 10-document authorizer policy (one core)",
            value=fast,
            unit="decisions/s",
            target=f">= {TARGET_PER_SECOND:,}",
            ok=fast >= TARGET_PER_SECOND,
            reference=slow,
            reference_name="naive: parse+compile per decision",
        )
    ]


if __name__ == "__main__":  # pragma: no cover
    f, s = measure()
    print(f"cached {f:,.0f}/s  naive {s:,.0f}/s  ratio {f / s:.1f}")
