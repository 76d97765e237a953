"""DecisionLog units: the bounded ring, totals, requests without a plan, the Store mirror."""

from __future__ import annotations

import orjson
import pytest

from core.clock import ManualClock
from core.store.memory import MemoryStore
from gateway.dashboard.stats import percentile
from gateway.decision_log import LIST_KEY, DecisionLog


def test_the_ring_keeps_only_the_newest_records() -> None:
    log = DecisionLog(ManualClock(), capacity=3)
    for i in range(5):
        log.request_done("chat", "p", f"d{i}", 200, 0.01)
    assert [r.deployment for r in log.recent()] == ["d4", "d3", "d2"]
    assert log.totals.requests == 5  # totals count every request, not just the ring's


def test_a_failure_without_a_plan_is_counted_by_error_code() -> None:
    log = DecisionLog(ManualClock())
    log.request_failed("chat", "", "", 401, "invalid_api_key")
    (rec,) = log.recent()
    assert (rec.status, rec.error, rec.router, rec.latency_ms) == (401, "invalid_api_key", "", None)
    assert log.totals.errors == {"invalid_api_key": 1}


def test_tokens_cost_and_latency_are_kept() -> None:
    log = DecisionLog(ManualClock())
    log.request_done("embeddings", "", "emb", 200, 0.25, prompt_tokens=9, cost_usd=0.5, ttft_s=None)
    (rec,) = log.recent()
    assert (rec.prompt_tokens, rec.cost_usd, rec.baseline_cost_usd, rec.latency_ms) == (9, 0.5, 0.5, 250.0)


async def test_flush_pushes_pending_records_once_and_totals_per_replica() -> None:
    store = MemoryStore()
    a, b = DecisionLog(ManualClock(), replica="a"), DecisionLog(ManualClock(), replica="b")
    a.mirroring = b.mirroring = True
    a.request_done("chat", "p", "x", 200, 0.01, cost_usd=1.0)
    b.request_failed("chat", "p", "y", 502, "upstream_error")
    records, totals = await a.shared(store, 10)
    assert [r.deployment for r in records] == ["x"]  # b has not flushed yet
    records, totals = await b.shared(store, 10)
    assert [r.replica for r in records] == ["b", "a"]
    assert (totals.requests, totals.errors, totals.cost_usd) == (2, {"upstream_error": 1}, 1.0)
    await a.flush(store)
    assert len(await store.list_range(LIST_KEY)) == 2  # nothing pushed twice


async def test_a_malformed_shared_entry_is_skipped() -> None:
    store = MemoryStore()
    log = DecisionLog(ManualClock(), replica="a")
    log.mirroring = True
    log.request_done("chat", "p", "x", 200, 0.01)
    await log.flush(store)
    await store.list_push(LIST_KEY, [orjson.dumps({"from": "another version"})], max_len=10)
    records, _ = await log.shared(store, 10)
    assert [r.deployment for r in records] == ["x"]


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 50, None), ([5.0], 95, 5.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.0), ([float(i) for i in range(1, 101)], 95, 95.0),
], ids=["empty", "one", "even-median", "hundred-p95"])
def test_percentile_is_nearest_rank(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected
