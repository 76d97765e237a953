"""The scheduler's state machine: runs, ready queue, slots, preemption at step boundaries.

``SchedulerCore`` does no I/O and reads no clock: every method takes ``now``. The live
scheduler (:mod:`agents.scheduler.runtime`) drives it with a :class:`core.clock.Clock`; the
discrete-event simulation in ``bench/scheduler.py`` drives it with simulated time, so both run
the same decisions.

Run states::

    submit → READY ──dispatch──▶ RUNNING ──boundary(done)──▶ DONE
               ▲  ▲                 │  │
               │  └──preempted──────┘  └──boundary(block)──▶ BLOCKED ──wake──▶ READY
               └──resume── SUSPENDED ◀──suspend (at the next boundary when running)

A preemption is the context switch: the executor checkpoints, the slot is released, the run is
re-queued and later dispatched with ``resume=True`` (restore by thread id, possibly elsewhere).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from agents.scheduler.accounting import FairShareLedger, SwitchStats
from agents.scheduler.policy import SchedulerPolicy
from agents.scheduler.slots import SlotPool
from agents.scheduler.views import RunView


class RunState(enum.Enum):
    READY = "ready"
    RUNNING = "running"
    BLOCKED = "blocked"
    SUSPENDED = "suspended"
    DONE = "done"
    CANCELLED = "cancelled"


class Verdict(enum.Enum):
    """What the executor must do after a step boundary."""

    CONTINUE = "continue"  # keep the slot, run the next step
    PREEMPT = "preempt"  # context switch: checkpoint, stop; the scheduler resumes it later
    RELEASE = "release"  # the run blocks (long tool call / waiting for input); slot released
    SUSPEND = "suspend"  # suspended on request: checkpoint and stop until resumed
    CANCEL = "cancel"  # cancelled on request: stop
    DONE = "done"


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What the scheduler needs to know about a run when it is submitted."""

    run_id: str
    thread_id: str
    tenant: str = "default"
    priority: int = 1
    deadline: float = math.inf
    est_steps: int = 8
    deployments: tuple[str, ...] | None = None  # None: any deployment


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Run ``run_id`` on a slot of ``deployment``; ``resume``: restore it from its checkpoint.
    ``priority``: the run's class (lower is more urgent), for gates that order waiters;
    ``waited_s``: how long it had been ready in this scheduler's queue, for gates that age them."""

    run_id: str
    thread_id: str
    deployment: str
    resume: bool
    priority: int = 1
    waited_s: float = 0.0


@dataclass(slots=True)
class _Run:
    spec: RunSpec
    state: RunState
    submitted_at: float
    seq: int = 0
    ready_since: float = 0.0
    slice_steps: int = 0
    steps_done: int = 0
    deployment: str | None = None
    last_deployment: str | None = None
    switched_out: bool = False
    step_started: float = 0.0
    step_ewma_s: float | None = None
    pending: Verdict | None = None  # SUSPEND / CANCEL requested while running
    tokens: int = 0


@dataclass(slots=True)
class SchedulerCore:
    """Admits ready runs into deployment slots and decides preemption at step boundaries.

    ``high_reserve_slots`` holds that many slots of the fastest deployment back for high-priority
    runs (priority 0): a less urgent run may take a slot there only while more of its slots stay
    free than the reservation still owed (reservation − high-priority runs already running), so
    an urgent step that becomes ready finds a fast slot instead of queueing behind long
    generations or decoding on a slower deployment. 0 disables it.

    Raises KeyError for an unknown run id and ValueError for a call in the wrong state.
    """

    policy: SchedulerPolicy
    slots: SlotPool
    ledger: FairShareLedger = field(default_factory=FairShareLedger)
    switches: SwitchStats = field(default_factory=SwitchStats)
    default_step_s: float = 1.0
    high_reserve_slots: int = 0
    _runs: dict[str, _Run] = field(default_factory=dict)
    _seq: int = 0
    _global_step_s: float | None = None

    # ---- queries -------------------------------------------------------------------------
    def state(self, run_id: str) -> RunState:
        return self._runs[run_id].state

    def ready_ids(self) -> list[str]:
        return [r.spec.run_id for r in self._runs.values() if r.state is RunState.READY]

    def running_ids(self) -> list[str]:
        return [r.spec.run_id for r in self._runs.values() if r.state is RunState.RUNNING]

    def deployment_of(self, run_id: str) -> str | None:
        return self._runs[run_id].deployment

    def steps_done(self, run_id: str) -> int:
        return self._runs[run_id].steps_done

    def view(self, run_id: str) -> RunView:
        return self._view(self._runs[run_id])

    # ---- transitions ---------------------------------------------------------------------
    def submit(self, spec: RunSpec, now: float) -> None:
        if spec.run_id in self._runs:
            raise ValueError(f"run {spec.run_id!r} already submitted")
        run = _Run(spec, RunState.READY, submitted_at=now)
        self._runs[spec.run_id] = run
        self._enqueue(run, now)

    def dispatch(self, now: float, exclude: Collection[str] = ()) -> list[Dispatch]:
        """Fill free slots with ready runs in policy order; the caller starts each one.
        Runs in ``exclude`` stay queued (their previous executor is still shutting down)."""
        out: list[Dispatch] = []
        while self.slots.total_free() > 0:
            fits = [
                r
                for r in self._ready()
                if r.spec.run_id not in exclude and self.slots.pick(self._allowed(r)) is not None
            ]
            if not fits:
                break
            chosen = self.policy.choose_next([self._view(r) for r in fits], now)
            if chosen is None:
                break
            run = self._runs[chosen.run_id]
            dep = self.slots.pick(self._allowed(run), prefer=run.last_deployment)
            assert dep is not None
            self.slots.acquire(dep)
            run.state, run.deployment, run.slice_steps = RunState.RUNNING, dep, 0
            run.step_started = now
            out.append(
                Dispatch(
                    run.spec.run_id,
                    run.spec.thread_id,
                    dep,
                    run.switched_out,
                    run.spec.priority,
                    max(0.0, now - run.ready_since),
                )
            )
            run.switched_out = False
        return out

    def boundary(
        self,
        run_id: str,
        now: float,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        done: bool = False,
        block: bool = False,
    ) -> Verdict:
        """A running run finished one step. Charges its tokens and says what happens next."""
        run = self._running(run_id)
        run.steps_done += 1
        run.slice_steps += 1
        run.tokens += prompt_tokens + completion_tokens
        self.ledger.charge(run.spec.tenant, prompt_tokens, completion_tokens)
        self._observe_step(run, now - run.step_started)
        run.step_started = now
        if done:
            self._release(run, RunState.DONE)
            return Verdict.DONE
        if run.pending is not None:
            verdict, run.pending = run.pending, None
            self._release(run, RunState.SUSPENDED if verdict is Verdict.SUSPEND else RunState.CANCELLED)
            run.switched_out = verdict is Verdict.SUSPEND
            return verdict
        if block:
            self._release(run, RunState.BLOCKED)
            return Verdict.RELEASE
        dep = run.deployment
        rivals = [
            self._view(r) for r in self._ready() if r.spec.deployments is None or dep in r.spec.deployments
        ]
        if rivals and self.policy.should_preempt(self._view(run), rivals, now):
            self._release(run, RunState.READY)
            run.switched_out = True
            self.switches.switched("preempt")
            self._enqueue(run, now)
            return Verdict.PREEMPT
        return Verdict.CONTINUE

    def preempt_midstream(self, now: float, eligible: Collection[str]) -> str | None:
        """Mid-stream preemption of a long generation (optional; class-based).

        When the run the policy would admit next finds no free slot it may use, evict one
        running run of a strictly less urgent class (the least urgent, then one on the fastest
        deployment, then the one whose step started last) among ``eligible`` (runs whose executor can stop its generation now and
        keep the partial output). The victim's slot is released and it is re-queued switched
        out, as at a step boundary; the caller stops its generation, keeps the partial output
        and resumes from it later (re-prefilling it: the switch's wasted tokens), then calls
        :meth:`dispatch`, which admits the urgent run (the victim, just re-queued and of a less
        urgent class, ranks after it). Returns the victim's run id, or None.
        """
        ready = self._ready()
        if not ready:
            return None
        chosen = self.policy.choose_next([self._view(r) for r in ready], now)
        if chosen is None:
            return None
        urgent = self._runs[chosen.run_id]
        if self.slots.pick(self._allowed(urgent)) is not None:
            return None  # it gets a free slot anyway
        allowed = urgent.spec.deployments
        candidates = [
            r
            for r in self._runs.values()
            if r.state is RunState.RUNNING
            and r.spec.run_id in eligible
            and r.spec.priority > urgent.spec.priority
            and (allowed is None or r.deployment in allowed)
        ]
        if not candidates:
            return None
        victim = max(
            candidates,
            key=lambda r: (r.spec.priority, self.slots.speed(r.deployment or ""), r.step_started),
        )
        self._release(victim, RunState.READY)
        victim.switched_out = True
        self.switches.switched("preempt_midstream")
        self._enqueue(victim, now)
        return victim.spec.run_id

    def wake(self, run_id: str, now: float) -> None:
        """A blocked run can continue (its tool call returned / new input arrived)."""
        run = self._runs[run_id]
        if run.state is not RunState.BLOCKED:
            raise ValueError(f"run {run_id!r} is {run.state.value}, not blocked")
        self._enqueue(run, now)

    def suspend(self, run_id: str) -> RunState:
        """Suspend now when queued, at the next step boundary when running."""
        run = self._runs[run_id]
        if run.state in (RunState.READY, RunState.BLOCKED):
            run.state = RunState.SUSPENDED
            run.switched_out = True
        elif run.state is RunState.RUNNING:
            run.pending = Verdict.SUSPEND
        return run.state

    def resume(self, run_id: str, now: float) -> None:
        run = self._runs[run_id]
        if run.state is not RunState.SUSPENDED:
            raise ValueError(f"run {run_id!r} is {run.state.value}, not suspended")
        self._enqueue(run, now)

    def cancel(self, run_id: str) -> RunState:
        """Cancel now unless running; a running run is cancelled at its next boundary (the
        executor may also abort the step and call :meth:`abort`)."""
        run = self._runs[run_id]
        if run.state in (RunState.READY, RunState.BLOCKED, RunState.SUSPENDED):
            run.state = RunState.CANCELLED
        elif run.state is RunState.RUNNING:
            run.pending = Verdict.CANCEL
        return run.state

    def abort(self, run_id: str, *, failed: bool = True) -> None:
        """A running run's executor stopped mid-step (error, cancel): release its slot."""
        run = self._running(run_id)
        self._release(run, RunState.CANCELLED if failed else RunState.DONE)

    def forget(self, run_id: str) -> None:
        """Drop a finished run's record."""
        run = self._runs[run_id]
        if run.state not in (RunState.DONE, RunState.CANCELLED):
            raise ValueError(f"run {run_id!r} is still {run.state.value}")
        del self._runs[run_id]

    # ---- internals -----------------------------------------------------------------------
    def _allowed(self, run: _Run) -> tuple[str, ...] | None:
        """Where ``run`` may start now: its allowed deployments, minus the reserved slots of the
        fastest deployment when the run is not high priority (see ``high_reserve_slots``)."""
        if self.high_reserve_slots <= 0 or run.spec.priority <= 0:
            return run.spec.deployments
        owed = self.high_reserve_slots - sum(
            1 for r in self._runs.values() if r.state is RunState.RUNNING and r.spec.priority <= 0
        )
        fastest = max(self.slots.deployments, key=self.slots.speed)
        if owed <= 0 or self.slots.free(fastest) > owed:
            return run.spec.deployments
        names = self.slots.deployments if run.spec.deployments is None else run.spec.deployments
        return tuple(d for d in names if d != fastest)

    def _ready(self) -> list[_Run]:
        return [r for r in self._runs.values() if r.state is RunState.READY]

    def _running(self, run_id: str) -> _Run:
        run = self._runs[run_id]
        if run.state is not RunState.RUNNING:
            raise ValueError(f"run {run_id!r} is {run.state.value}, not running")
        return run

    def _active_tenants(self, exclude: _Run) -> set[str]:
        return {
            r.spec.tenant
            for r in self._runs.values()
            if r is not exclude and r.state in (RunState.READY, RunState.RUNNING, RunState.BLOCKED)
        }

    def _enqueue(self, run: _Run, now: float) -> None:
        active = self._active_tenants(exclude=run)
        if run.spec.tenant not in active:
            self.ledger.activate(run.spec.tenant, active)
        self._seq += 1
        run.seq, run.ready_since, run.state = self._seq, now, RunState.READY

    def _release(self, run: _Run, state: RunState) -> None:
        if run.deployment is not None:
            self.slots.release(run.deployment)
        run.last_deployment, run.deployment, run.state = run.deployment, None, state

    def _observe_step(self, run: _Run, seconds: float) -> None:
        def ewma(old: float | None) -> float:
            return seconds if old is None else 0.7 * old + 0.3 * seconds

        run.step_ewma_s = ewma(run.step_ewma_s)
        self._global_step_s = ewma(self._global_step_s)

    def _view(self, run: _Run) -> RunView:
        step = run.step_ewma_s or self._global_step_s or self.default_step_s
        return RunView(
            run_id=run.spec.run_id,
            tenant=run.spec.tenant,
            priority=run.spec.priority,
            seq=run.seq,
            submitted_at=run.submitted_at,
            ready_since=run.ready_since,
            deadline=run.spec.deadline,
            predicted_step_s=step,
            remaining_steps=max(1, run.spec.est_steps - run.steps_done),
            slice_steps=run.slice_steps,
            tenant_vtokens=self.ledger.value(run.spec.tenant),
        )


def ready_views(core: SchedulerCore, run_ids: Sequence[str]) -> list[RunView]:
    """Snapshots of the given runs (for inspection and tests)."""
    return [core.view(r) for r in run_ids]
