"""Shared by the global-slot tests: a run that holds one of deployment ``d``'s slots on demand."""

from __future__ import annotations

import asyncio

from agents.scheduler.global_slots import GlobalSlots


class Holder:
    """Holds one of d's slots (as run ``run_id``) from ``start()`` until ``leave()``."""

    def __init__(self, slots: GlobalSlots, run_id: str = "X") -> None:
        self._slots, self._run_id = slots, run_id
        self._entered, self._leave = asyncio.Event(), asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _hold(self) -> None:
        async with self._slots.slot("d", self._run_id):
            self._entered.set()
            await asyncio.wait_for(self._leave.wait(), 60.0)

    async def start(self) -> None:
        self.task = asyncio.create_task(self._hold())
        await asyncio.wait_for(self._entered.wait(), 10.0)

    async def leave(self) -> None:
        assert self.task is not None
        self._leave.set()
        await asyncio.wait_for(self.task, 10.0)


class Served:
    """Runs that held one of d's slots, in the order they got it."""

    def __init__(self) -> None:
        self.order: list[str] = []

    async def run(
        self, slots: GlobalSlots, run_id: str, priority: int | None = None, waited_s: float = 0.0
    ) -> None:
        async with slots.slot("d", run_id, priority, waited_s):
            self.order.append(run_id)
