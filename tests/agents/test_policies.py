"""Each scheduling policy: which ready run goes next, and when the running one is preempted."""

from __future__ import annotations

import math

import pytest

from agents.scheduler import (
    CriticalPathPolicy,
    EdfPolicy,
    FairSharePolicy,
    FifoPolicy,
    PriorityPolicy,
    RoundRobinPolicy,
    RunView,
    SchedulerPolicy,
    ShortestRemainingPolicy,
    build_policy,
)

NOW = 100.0


def v(run_id: str, **kw: object) -> RunView:
    return RunView(run_id=run_id, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "ready", "expected"),
    [
        (FifoPolicy(), [v("b", seq=2), v("a", seq=1)], "a"),
        (RoundRobinPolicy(), [v("b", seq=5), v("a", seq=3)], "a"),
        (
            PriorityPolicy(aging_s=30),
            [v("lo", seq=1, priority=2, ready_since=NOW), v("hi", seq=2, priority=0, ready_since=NOW)],
            "hi",
        ),
        (
            PriorityPolicy(aging_s=30),
            [
                v("old-lo", seq=1, priority=2, ready_since=NOW - 90),
                v("hi", seq=2, priority=0, ready_since=NOW),
            ],
            "old-lo",
        ),
        (EdfPolicy(), [v("late", seq=1, deadline=NOW + 50), v("soon", seq=2, deadline=NOW + 10)], "soon"),
        (EdfPolicy(), [v("none", seq=1), v("dl", seq=2, deadline=NOW + 10)], "dl"),
        (
            EdfPolicy(),
            [
                v("hopeless", seq=1, deadline=NOW + 1, predicted_step_s=5, remaining_steps=3),
                v("feasible", seq=2, deadline=NOW + 60),
            ],
            "feasible",
        ),
        (
            FairSharePolicy(),
            [
                v("heavy", seq=1, tenant="a", tenant_vtokens=9000),
                v("light", seq=2, tenant="b", tenant_vtokens=100),
            ],
            "light",
        ),
        (
            CriticalPathPolicy(),
            [
                v("short", seq=1, predicted_step_s=1, remaining_steps=2, ready_since=NOW),
                v("long", seq=2, predicted_step_s=5, remaining_steps=20, ready_since=NOW),
            ],
            "long",
        ),
        (
            CriticalPathPolicy(),
            [
                v("long-lo", seq=1, priority=2, predicted_step_s=9, remaining_steps=30, ready_since=NOW),
                v("short-hi", seq=2, priority=0, ready_since=NOW),
            ],
            "short-hi",
        ),
        (
            ShortestRemainingPolicy(),
            [
                v("long", seq=1, predicted_step_s=5, remaining_steps=20, ready_since=NOW),
                v("short", seq=2, predicted_step_s=1, remaining_steps=2, ready_since=NOW),
            ],
            "short",
        ),
        (
            ShortestRemainingPolicy(aging_s=1e9),
            [
                v("long-waited", seq=1, predicted_step_s=5, remaining_steps=20, ready_since=NOW - 99),
                v("short-new", seq=2, predicted_step_s=1, remaining_steps=2, ready_since=NOW),
            ],
            "long-waited",
        ),
        (
            ShortestRemainingPolicy(aging_s=60),
            [
                v("short-normal", seq=1, priority=1, ready_since=NOW),
                v("long-hi", seq=2, priority=0, predicted_step_s=9, remaining_steps=30, ready_since=NOW),
            ],
            "long-hi",
        ),
        (
            ShortestRemainingPolicy(aging_s=60),
            [
                v("short-hi", seq=1, priority=0, ready_since=NOW),
                v(
                    "aged-lo",
                    seq=2,
                    priority=2,
                    predicted_step_s=9,
                    remaining_steps=30,
                    ready_since=NOW - 190,
                ),
            ],
            "aged-lo",
        ),
    ],
    ids=[
        "fifo-order",
        "rr-order",
        "priority-class",
        "priority-aging",
        "edf-earliest",
        "edf-deadline-before-none",
        "edf-skips-hopeless",
        "fair-least-served",
        "critical-path-most-work",
        "critical-path-class-first",
        "srpt-least-work",
        "srpt-waiting-counts",
        "srpt-class-first",
        "srpt-aging-beats-class",
    ],
)
def test_choose_next(policy: SchedulerPolicy, ready: list[RunView], expected: str) -> None:
    chosen = policy.choose_next(ready, NOW)
    assert chosen is not None and chosen.run_id == expected


@pytest.mark.parametrize(
    "policy",
    [
        FifoPolicy(),
        RoundRobinPolicy(),
        PriorityPolicy(),
        EdfPolicy(),
        FairSharePolicy(),
        CriticalPathPolicy(),
        ShortestRemainingPolicy(),
    ],
    ids=lambda p: p.name,
)
def test_choose_next_on_empty_queue_is_none(policy: SchedulerPolicy) -> None:
    assert policy.choose_next([], NOW) is None


@pytest.mark.parametrize(
    ("policy", "running", "ready", "expected"),
    [
        (FifoPolicy(), v("r", slice_steps=50), [v("w", seq=1)], False),
        (RoundRobinPolicy(slice_steps=2), v("r", slice_steps=1), [v("w", seq=1)], False),
        (RoundRobinPolicy(slice_steps=2), v("r", slice_steps=2), [v("w", seq=1)], True),
        (RoundRobinPolicy(slice_steps=2), v("r", slice_steps=9), [], False),
        (PriorityPolicy(), v("r", priority=1), [v("w", priority=0, ready_since=NOW)], True),
        (PriorityPolicy(), v("r", priority=1), [v("w", priority=1, ready_since=NOW)], False),
        (EdfPolicy(), v("r", deadline=NOW + 100, predicted_step_s=1), [v("w", deadline=NOW + 20)], True),
        (EdfPolicy(), v("r", deadline=NOW + 20, predicted_step_s=1), [v("w", deadline=NOW + 20.5)], False),
        (EdfPolicy(), v("r"), [v("w")], False),
        (
            FairSharePolicy(quantum_tokens=1000),
            v("r", tenant="a", tenant_vtokens=5000),
            [v("w", tenant="b", tenant_vtokens=1000)],
            True,
        ),
        (
            FairSharePolicy(quantum_tokens=1000),
            v("r", tenant="a", tenant_vtokens=5000),
            [v("w", tenant="a", tenant_vtokens=5000)],
            False,
        ),
        (
            ShortestRemainingPolicy(),
            v("r", priority=1, remaining_steps=50),
            [v("w", priority=1, remaining_steps=1, ready_since=NOW - 500)],
            False,
        ),
        (ShortestRemainingPolicy(), v("r", priority=1), [v("w", priority=0, ready_since=NOW)], True),
    ],
    ids=[
        "fifo-never",
        "rr-within-slice",
        "rr-slice-used",
        "rr-nobody-waiting",
        "priority-higher-waits",
        "priority-same-class",
        "edf-earlier-deadline",
        "edf-within-one-step",
        "edf-no-deadlines",
        "fair-tenant-ahead",
        "fair-same-tenant",
        "srpt-same-class-never",
        "srpt-higher-class",
    ],
)
def test_should_preempt(
    policy: SchedulerPolicy, running: RunView, ready: list[RunView], expected: bool
) -> None:
    assert policy.should_preempt(running, ready, NOW) is expected


def test_policies_are_pure_same_inputs_same_answer() -> None:
    ready = [
        v(
            f"r{i}",
            seq=i,
            priority=i % 3,
            tenant=f"t{i % 2}",
            ready_since=NOW - i,
            deadline=NOW + 10 * i if i % 2 else math.inf,
        )
        for i in range(1, 8)
    ]
    for kind in (
        "fifo",
        "round_robin",
        "priority",
        "edf",
        "fair_share",
        "critical_path",
        "shortest_remaining",
    ):
        policy = build_policy(kind)
        first = policy.choose_next(ready, NOW)
        assert all(policy.choose_next(list(ready), NOW) == first for _ in range(3))


def test_build_policy_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown scheduler policy"):
        build_policy("lottery")


def test_build_policy_rejects_bad_parameter() -> None:
    with pytest.raises(ValueError, match="round_robin"):
        build_policy("round_robin", slice_steps=0)
