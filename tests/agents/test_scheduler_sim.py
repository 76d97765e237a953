"""The benchmark simulation's modelling choices that the figures depend on (bench/scheduler_sim.py):
the no-scheduler client's retry schedule and the backlogged-fairness accounting."""

from __future__ import annotations

import pytest

from bench.scheduler_model import Call, Session, Tier
from bench.scheduler_sim import SimConfig, Simulation, StepRecord, backlogged_service

TIER = Tier("t", 1, [1.0, 1000.0], [0.01, 0.1], [1.0, 2.0], [0.01, 0.02])


def _sim(**kw: object) -> Simulation:
    return Simulation(SimConfig(tiers=[TIER], **kw), [Session("s", "k", "t0", 1, 0.0, [Call(10, 0, 5, 0.0)])])  # type: ignore[arg-type]


def _waits(sim: Simulation, tries: int) -> list[float | None]:
    st = next(iter(sim.ss.values()))
    out = []
    for n in range(1, tries + 1):
        st.attempts = n
        out.append(sim._backoff(st))
    return out


def test_sdk_client_retries_like_openai_python_inside_langgraph_retry_policy() -> None:
    waits = _waits(_sim(client="sdk"), 9)
    # openai-python: 0.5 s then 1 s, each minus up to 25 % jitter; then the node's RetryPolicy
    # waits 0.5·2^a s plus up to 1 s; after 3 node attempts the run fails (None)
    sdk = [waits[0], waits[1], waits[3], waits[4], waits[6], waits[7]]
    assert all(0.375 <= w <= 0.5 for w in sdk[0::2])  # type: ignore[operator]
    assert all(0.75 <= w <= 1.0 for w in sdk[1::2])  # type: ignore[operator]
    assert 0.5 <= waits[2] <= 1.5 and 1.0 <= waits[5] <= 2.0  # type: ignore[operator]
    assert waits[8] is None


def test_sdk_client_honours_retry_after() -> None:
    waits = _waits(_sim(client="sdk", retry_after_s=1.0), 3)
    assert waits[:2] == [1.0, 1.0] and waits[2] is not None


def test_retry_forever_client_caps_backoff() -> None:
    waits = _waits(_sim(), 12)
    assert all(w is not None and w <= 8.0 for w in waits)
    assert waits[-1] >= 6.0  # type: ignore[operator]


def test_unknown_client_is_an_error() -> None:
    with pytest.raises(ValueError):
        _waits(_sim(client="telepathy"), 1)


def _step(tenant: str, ready: float, start: float, done: float, out: int) -> StepRecord:
    return StepRecord("s", 0, tenant, 1, ready, done, start, 0, out, 1)


def test_backlogged_service_counts_only_time_when_every_tenant_waits() -> None:
    steps = [
        _step("a", 0.0, 0.0, 10.0, 50),  # served 0..10, 100 weighted tokens
        _step("a", 0.0, 10.0, 20.0, 50),  # a waits 0..10
        _step("b", 5.0, 20.0, 30.0, 50),  # b waits 5..20
    ]
    served, both = backlogged_service(steps)
    assert both == pytest.approx(5.0)  # 5..10: both tenants wait
    assert served == {"a": pytest.approx(50.0), "b": pytest.approx(0.0)}


def test_midstream_stop_keeps_partial_output_and_charges_the_reprefill() -> None:
    from agents.scheduler import build_policy

    tier = Tier("t", 1, [1.0, 1000.0], [0.01, 0.1], [1.0, 2.0], [0.01, 0.02])
    low = Session("low", "k", "t0", 1, 0.0, [Call(100, 0, 1000, 0.0)])  # 10 s of decoding
    high = Session("high", "k", "t0", 0, 2.0, [Call(100, 0, 10, 0.0)])
    res = Simulation(
        SimConfig(tiers=[tier], midstream=True, save_s=0.0, restore_s=0.0), [low, high]
    ).run_scheduled(build_policy("priority", aging_s=1e9))
    steps = {s.sid: s for s in res.steps}
    assert steps["high"].wait == pytest.approx(0.0)  # it did not wait for the 10 s generation
    assert res.switches["by_reason"] == {"preempt_midstream": 1}
    # the resumed call prefilled the prompt and the ~200 tokens generated before the stop again
    assert 250 <= res.switches["wasted_tokens"] <= 300
    assert steps["low"].output_tokens == 1000 and steps["low"].done_at > steps["high"].done_at
