"""SchedulerCore: admission into slots, preemption as context switch, suspend/resume, fairness."""

from __future__ import annotations

import pytest

from agents.scheduler import (
    FairSharePolicy,
    FifoPolicy,
    PriorityPolicy,
    RoundRobinPolicy,
    RunSpec,
    RunState,
    SchedulerCore,
    SlotPool,
    Verdict,
)


def make(policy: object, **slots: int) -> SchedulerCore:
    return SchedulerCore(policy=policy, slots=SlotPool(slots or {"d": 1}))  # type: ignore[arg-type]


def spec(run_id: str, **kw: object) -> RunSpec:
    return RunSpec(run_id=run_id, thread_id=f"th-{run_id}", **kw)  # type: ignore[arg-type]


def test_dispatch_fills_free_slots_only() -> None:
    core = make(FifoPolicy(), a=1, b=1)
    for r in ("r1", "r2", "r3"):
        core.submit(spec(r), now=0.0)
    started = core.dispatch(now=0.0)
    assert [d.run_id for d in started] == ["r1", "r2"]
    assert {d.deployment for d in started} == {"a", "b"}
    assert core.ready_ids() == ["r3"]


def test_finished_step_frees_slot_for_next_run() -> None:
    core = make(FifoPolicy())
    core.submit(spec("r1"), 0.0)
    core.submit(spec("r2"), 0.0)
    core.dispatch(0.0)
    assert core.boundary("r1", 1.0, done=True) is Verdict.DONE
    assert [d.run_id for d in core.dispatch(1.0)] == ["r2"]


def test_round_robin_preempts_after_slice_and_resumes_from_checkpoint() -> None:
    core = make(RoundRobinPolicy(slice_steps=1))
    core.submit(spec("r1"), 0.0)
    core.submit(spec("r2"), 0.0)
    core.dispatch(0.0)
    assert core.boundary("r1", 1.0) is Verdict.PREEMPT
    assert core.state("r1") is RunState.READY
    (second,) = core.dispatch(1.0)
    assert (second.run_id, second.resume) == ("r2", False)
    assert core.boundary("r2", 2.0) is Verdict.PREEMPT
    (back,) = core.dispatch(2.0)
    assert (back.run_id, back.resume) == ("r1", True)
    assert core.switches.count == 2


def test_no_preemption_when_nobody_waits() -> None:
    core = make(RoundRobinPolicy(slice_steps=1))
    core.submit(spec("r1"), 0.0)
    core.dispatch(0.0)
    assert core.boundary("r1", 1.0) is Verdict.CONTINUE


def test_waiting_run_restricted_to_other_deployment_does_not_preempt() -> None:
    core = make(RoundRobinPolicy(slice_steps=1), a=1, b=1)
    core.submit(spec("r1", deployments=("a",)), 0.0)
    core.submit(spec("r2", deployments=("b",)), 0.0)
    core.dispatch(0.0)
    core.submit(spec("r3", deployments=("b",)), 0.0)
    assert core.boundary("r1", 1.0) is Verdict.CONTINUE


def test_blocked_run_releases_slot_and_wakes_to_ready() -> None:
    core = make(FifoPolicy())
    core.submit(spec("r1"), 0.0)
    core.submit(spec("r2"), 0.0)
    core.dispatch(0.0)
    assert core.boundary("r1", 1.0, block=True) is Verdict.RELEASE
    assert [d.run_id for d in core.dispatch(1.0)] == ["r2"]
    core.wake("r1", 2.0)
    assert core.ready_ids() == ["r1"]


def test_suspend_running_run_takes_effect_at_boundary() -> None:
    core = make(FifoPolicy())
    core.submit(spec("r1"), 0.0)
    core.dispatch(0.0)
    assert core.suspend("r1") is RunState.RUNNING
    assert core.boundary("r1", 1.0) is Verdict.SUSPEND
    assert core.state("r1") is RunState.SUSPENDED
    assert core.dispatch(1.0) == []
    core.resume("r1", 2.0)
    (d,) = core.dispatch(2.0)
    assert d.resume is True


def test_cancel_queued_run_never_dispatches() -> None:
    core = make(FifoPolicy())
    core.submit(spec("r1"), 0.0)
    assert core.cancel("r1") is RunState.CANCELLED
    assert core.dispatch(0.0) == []


def test_priority_run_preempts_normal_one_at_boundary() -> None:
    core = make(PriorityPolicy())
    core.submit(spec("batch", priority=2), 0.0)
    core.dispatch(0.0)
    core.submit(spec("urgent", priority=0), 0.5)
    assert core.boundary("batch", 1.0) is Verdict.PREEMPT
    assert [d.run_id for d in core.dispatch(1.0)] == ["urgent"]


def test_aging_lets_low_priority_run_through_a_stream_of_high_ones() -> None:
    core = make(PriorityPolicy(aging_s=10))
    core.submit(spec("low", priority=2), 0.0)
    served: list[str] = []
    t = 0.0
    for i in range(30):
        core.submit(spec(f"hi{i}", priority=0), t)
        (d,) = core.dispatch(t)
        served.append(d.run_id)
        t += 5.0
        core.boundary(d.run_id, t, done=True)
        if d.run_id == "low":
            break
    assert "low" in served


def test_fair_share_serves_tenants_by_weighted_tokens() -> None:
    core = make(FairSharePolicy(quantum_tokens=100))
    core.ledger.weights.update({"a": 1.0, "b": 1.0})
    for i in range(4):
        core.submit(spec(f"a{i}", tenant="a"), 0.0)
    core.submit(spec("b0", tenant="b"), 0.0)
    served: dict[str, int] = {"a": 0, "b": 0}
    t = 0.0
    for _ in range(10):
        (d,) = core.dispatch(t)
        tenant = d.run_id[0]
        served[tenant] += 1
        t += 1.0
        verdict = core.boundary(d.run_id, t, prompt_tokens=100, completion_tokens=50)
        assert verdict in (Verdict.PREEMPT, Verdict.CONTINUE)
        if verdict is Verdict.CONTINUE:
            core.boundary(d.run_id, t, block=True)
            core.wake(d.run_id, t)
    assert abs(served["a"] - served["b"]) <= 1


def test_idle_tenant_does_not_bank_credit() -> None:
    core = make(FairSharePolicy())
    core.submit(spec("a0", tenant="a"), 0.0)
    core.dispatch(0.0)
    core.boundary("a0", 1.0, prompt_tokens=5000, completion_tokens=0)
    core.submit(spec("b0", tenant="b"), 1.0)
    assert core.ledger.value("b") == core.ledger.value("a")


def test_unknown_run_and_wrong_state_raise() -> None:
    core = make(FifoPolicy())
    with pytest.raises(KeyError):
        core.state("nope")
    core.submit(spec("r1"), 0.0)
    with pytest.raises(ValueError, match="not running"):
        core.boundary("r1", 0.0)
    with pytest.raises(ValueError, match="already submitted"):
        core.submit(spec("r1"), 0.0)


def test_high_reserve_keeps_slots_for_the_high_class() -> None:
    core = SchedulerCore(policy=FifoPolicy(), slots=SlotPool({"d": 3}), high_reserve_slots=1)
    for r in ("n1", "n2", "n3"):
        core.submit(spec(r, priority=1), 0.0)
    assert [d.run_id for d in core.dispatch(0.0)] == ["n1", "n2"]  # the third slot stays free
    core.submit(spec("h1", priority=0), 1.0)
    assert [d.run_id for d in core.dispatch(1.0)] == ["h1"]
    assert core.boundary("n1", 2.0, done=True) is Verdict.DONE
    # the reservation is owed no more while a high-priority run holds a slot
    assert [d.run_id for d in core.dispatch(2.0)] == ["n3"]


def test_high_reserve_zero_is_work_conserving() -> None:
    core = SchedulerCore(policy=FifoPolicy(), slots=SlotPool({"d": 2}))
    for r in ("n1", "n2"):
        core.submit(spec(r, priority=1), 0.0)
    assert len(core.dispatch(0.0)) == 2


def test_slot_pool_places_on_the_fastest_free_deployment() -> None:
    pool = SlotPool({"slow": 2, "fast": 1}, speeds={"slow": 1.0, "fast": 1.5})
    assert pool.pick(None) == "fast"
    assert pool.pick(None, prefer="slow") == "fast"  # affinity yields to a faster free slot
    pool.acquire("fast")
    assert pool.pick(None, prefer="fast") == "slow"
    assert SlotPool({"a": 1, "b": 2}).pick(None, prefer="a") == "a"  # no speeds: affinity first
    with pytest.raises(ValueError, match="speeds"):
        SlotPool({"a": 1}, speeds={"b": 1.0})


def test_midstream_preemption_evicts_a_less_urgent_generation_for_an_urgent_run() -> None:
    core = SchedulerCore(
        policy=PriorityPolicy(aging_s=1e9),
        slots=SlotPool({"slow": 1, "fast": 1}, speeds={"slow": 1.0, "fast": 2.0}),
    )
    core.submit(spec("n1", priority=1), 0.0)
    core.submit(spec("n2", priority=2), 0.0)
    assert {d.run_id: d.deployment for d in core.dispatch(0.0)} == {"n1": "fast", "n2": "slow"}
    assert core.preempt_midstream(1.0, {"n1", "n2"}) is None  # nobody urgent waits
    core.submit(spec("h", priority=0), 2.0)
    assert core.preempt_midstream(2.0, {"n1"}) == "n1"  # only n1 can stop mid-stream
    assert core.state("n1") is RunState.READY
    started = core.dispatch(2.0)
    assert [(d.run_id, d.deployment, d.resume) for d in started] == [("h", "fast", False)]
    assert core.switches.by_reason == {"preempt_midstream": 1}
    # the victim resumes (from its partial output) once a slot frees
    assert core.boundary("h", 3.0, done=True) is Verdict.DONE
    assert [(d.run_id, d.resume) for d in core.dispatch(3.0)] == [("n1", True)]


def test_midstream_preemption_never_evicts_the_same_or_a_more_urgent_class() -> None:
    core = make(PriorityPolicy(aging_s=1e9))
    core.submit(spec("h1", priority=0), 0.0)
    core.dispatch(0.0)
    core.submit(spec("h2", priority=0), 1.0)
    assert core.preempt_midstream(1.0, {"h1"}) is None
    assert core.state("h1") is RunState.RUNNING
