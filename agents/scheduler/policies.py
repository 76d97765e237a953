"""The scheduling policies: FIFO, round robin, priority with aging, EDF and fair share.

Every policy breaks ties by ``RunView.seq`` (ready-queue order), so decisions are
deterministic. None keeps state between calls: what changes over time (waiting time, a
tenant's virtual token counter, steps in the current slice) comes in through the views.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agents.scheduler.views import RunView


def _best(ready: Sequence[RunView], key: Callable[[RunView], tuple[float, ...]]) -> RunView | None:
    return min(ready, key=key) if ready else None


@dataclass(frozen=True, slots=True)
class FifoPolicy:
    """First come, first served by ready-queue order; never preempts."""

    name: str = "fifo"

    def choose_next(self, ready: Sequence[RunView], now: float) -> RunView | None:
        return _best(ready, lambda r: (r.seq,))

    def should_preempt(self, running: RunView, ready: Sequence[RunView], now: float) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class RoundRobinPolicy:
    """FIFO order, but a run that has used ``slice_steps`` steps yields to a waiting run."""

    slice_steps: int = 2
    name: str = "round_robin"

    def __post_init__(self) -> None:
        if self.slice_steps < 1:
            raise ValueError("slice_steps must be at least 1")

    def choose_next(self, ready: Sequence[RunView], now: float) -> RunView | None:
        return _best(ready, lambda r: (r.seq,))

    def should_preempt(self, running: RunView, ready: Sequence[RunView], now: float) -> bool:
        return bool(ready) and running.slice_steps >= self.slice_steps


@dataclass(frozen=True, slots=True)
class PriorityPolicy:
    """Strict priority classes softened by aging: every ``aging_s`` seconds of waiting lowers a
    run's effective priority number by one, so a low-priority run cannot starve.

    Preempts a running run only for a ready run of a strictly more urgent class. Aging decides
    who gets the next free slot, never a preemption: otherwise, under overload, every run that
    waited ``aging_s`` would evict a running run of its own class at each step (thrashing).
    """

    aging_s: float = 30.0
    name: str = "priority"

    def __post_init__(self) -> None:
        if self.aging_s <= 0:
            raise ValueError("aging_s must be positive")

    def effective(self, run: RunView, now: float) -> float:
        return run.priority - max(0.0, now - run.ready_since) / self.aging_s

    def choose_next(self, ready: Sequence[RunView], now: float) -> RunView | None:
        return _best(ready, lambda r: (self.effective(r, now), r.seq))

    def should_preempt(self, running: RunView, ready: Sequence[RunView], now: float) -> bool:
        return any(r.priority < running.priority for r in ready)


@dataclass(frozen=True, slots=True)
class EdfPolicy:
    """Earliest deadline first over runs that can still make it.

    A run whose laxity (deadline − now − predicted remaining work) is negative is already late;
    serving it first would make others late too (the EDF domino effect), so late runs and runs
    without a deadline go after the feasible ones, late ones by deadline, the rest FIFO.
    Preempts when a feasible ready run's deadline is earlier than the running run's by more than
    one predicted step of the running run.
    """

    name: str = "edf"

    def _key(self, run: RunView, now: float) -> tuple[float, ...]:
        if math.isinf(run.deadline):
            return (2.0, 0.0, float(run.seq))
        if run.laxity(now) < 0:
            return (1.0, run.deadline, float(run.seq))
        return (0.0, run.deadline, float(run.seq))

    def choose_next(self, ready: Sequence[RunView], now: float) -> RunView | None:
        return _best(ready, lambda r: self._key(r, now))

    def should_preempt(self, running: RunView, ready: Sequence[RunView], now: float) -> bool:
        best = self.choose_next(ready, now)
        if best is None or math.isinf(best.deadline) or best.laxity(now) < 0:
            return False
        mine = self._key(running, now)
        return self._key(best, now)[0] < mine[0] or (
            self._key(best, now)[0] == mine[0] and best.deadline + running.predicted_step_s < running.deadline
        )


@dataclass(frozen=True, slots=True)
class FairSharePolicy:
    """Fair share across tenants by weighted tokens (virtual token counter, VTC).

    Serves the ready run whose tenant has the smallest virtual counter (tokens served divided by
    the tenant's weight; the scheduler keeps the counters). Preempts a running run when its
    tenant is ahead of the least-served waiting tenant by more than ``quantum_tokens``.
    """

    quantum_tokens: float = 4_000.0
    name: str = "fair_share"

    def choose_next(self, ready: Sequence[RunView], now: float) -> RunView | None:
        return _best(ready, lambda r: (r.tenant_vtokens, r.priority, r.seq))

    def should_preempt(self, running: RunView, ready: Sequence[RunView], now: float) -> bool:
        others = [r for r in ready if r.tenant != running.tenant]
        if not others:
            return False
        least = min(r.tenant_vtokens for r in others)
        return running.tenant_vtokens - least > self.quantum_tokens


@dataclass(frozen=True, slots=True)
class CriticalPathPolicy:
    """Makespan-oriented (LPT / critical path first): within a priority class, the run with the
    most predicted work left (predicted step time × estimated remaining steps) goes first, so the
    longest agent sessions are not left to finish last. Aging as in PriorityPolicy keeps short
    runs from starving; only a strictly more urgent class preempts.
    """

    aging_s: float = 60.0
    name: str = "critical_path"

    def _key(self, run: RunView, now: float) -> tuple[float, ...]:
        effective = run.priority - max(0.0, now - run.ready_since) / self.aging_s
        remaining = run.predicted_step_s * max(1, run.remaining_steps)
        return (round(effective), -remaining, float(run.seq))

    def choose_next(self, ready: Sequence[RunView], now: float) -> RunView | None:
        return _best(ready, lambda r: self._key(r, now))

    def should_preempt(self, running: RunView, ready: Sequence[RunView], now: float) -> bool:
        return any(r.priority < running.priority for r in ready)


@dataclass(frozen=True, slots=True)
class ShortestRemainingPolicy:
    """Shortest predicted remaining work first (SRPT) within a priority class, with aging.

    Remaining work = predicted step time × estimated remaining steps (the run's EWMA step time,
    the agent's typical step count minus steps done). SRPT minimizes the mean session completion
    time; to keep long runs from starving, waiting counts twice: a run's key within its class is
    its remaining work minus its waiting time, and every ``aging_s`` seconds of waiting make it
    one class more urgent (as in PriorityPolicy). Only a strictly more urgent class preempts.
    """

    aging_s: float = 120.0
    wait_weight: float = 1.0
    name: str = "shortest_remaining"

    def __post_init__(self) -> None:
        if self.aging_s <= 0:
            raise ValueError("aging_s must be positive")

    def _key(self, run: RunView, now: float) -> tuple[float, ...]:
        waited = max(0.0, now - run.ready_since)
        remaining = run.predicted_step_s * max(1, run.remaining_steps)
        return (
            float(math.floor(run.priority - waited / self.aging_s)),
            remaining - self.wait_weight * waited,
            float(run.seq),
        )

    def choose_next(self, ready: Sequence[RunView], now: float) -> RunView | None:
        return _best(ready, lambda r: self._key(r, now))

    def should_preempt(self, running: RunView, ready: Sequence[RunView], now: float) -> bool:
        return any(r.priority < running.priority for r in ready)
