"""The evaluator benchmark runs, its workload is a real mix, and it is fast."""

from __future__ import annotations

from collections import Counter

from iotws.bench import evaluator as bench
from iotws.policy.evaluator import PolicySet


def test_workload_mixes_every_outcome_and_action() -> None:
    docs = bench.authorizer_documents()
    assert len(docs) == 10
    ps = PolicySet.from_documents(docs)
    requests = bench.workload(n_clients=5)
    outcomes = Counter(ps.evaluate(r).result for r in requests)
    assert set(outcomes) == {"ALLOWED", "EXPLICIT_DENY", "IMPLICIT_DENY"}
    assert {r.action for r in requests} >= {
        "iot:Connect",
        "iot:Subscribe",
        "iot:Receive",
        "iot:Publish",
    }


def test_cached_evaluation_beats_naive_and_reports_a_row() -> None:
    fast, slow = bench.measure(min_seconds=0.2)
    # The >= 100,000/s target is checked by `make bench`; here a floor that holds on a
    # loaded CI machine, and the cache must be worth having.
    assert fast > 20_000
    assert fast > 10 * slow
    rows = bench.run()
    assert rows[0].group == "evaluator" and rows[0].reference is not None
