"""The SchedulerPolicy seam and the registry that builds policies from a kind name.

A policy is pure: given the ready runs (and the running one) as frozen :class:`RunView`
snapshots and the current time, it decides. It never blocks, sleeps, reads a clock or keeps
hidden state that changes its answers, so one policy object can serve many schedulers and the
discrete-event simulation reuses the exact code the live scheduler runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from agents.scheduler.views import RunView


@runtime_checkable
class SchedulerPolicy(Protocol):
    @property
    def name(self) -> str:
        """The policy's kind name (``fifo``, ``round_robin`` …)."""
        ...

    def choose_next(self, ready: Sequence[RunView], now: float) -> RunView | None:
        """The ready run to admit into the next free slot; None only when ``ready`` is empty."""
        ...

    def should_preempt(self, running: RunView, ready: Sequence[RunView], now: float) -> bool:
        """At a step boundary of ``running``: give its slot to someone in ``ready``?"""
        ...
