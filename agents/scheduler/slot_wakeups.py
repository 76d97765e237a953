"""One pub/sub connection per process for the global slot wake-ups (see global_slots).

:class:`Wakeups` runs one subscriber task per :class:`~agents.scheduler.global_slots.GlobalSlots`
instance, started lazily by the first run that has to wait. It is subscribed to a deployment's
wake channel while at least one local run waits on that deployment (and unsubscribes when none
does), reads the releases' messages and sets the :class:`asyncio.Event` of each local waiter
they name. A (re)subscription's confirmation sets every local waiter of that deployment, so a
release published before the subscription was in place is caught by each waiter's next attempt.

A waiter registers its event *before* its first attempt (a plain dict entry: no Redis traffic,
and no subscription until :meth:`Wakeups.waiting` says it was refused), so a release between
that attempt and its wait cannot be missed on a channel that is already subscribed.

Failures: a Redis error or timeout drops the connection; the subscriber opens a new one after a
jittered backoff (0.05 s doubling to 5 s, reset once a subscription is confirmed again), and
the waiters' poll is the safety net meanwhile. A half-open connection is found by a PING after
``_KEEPALIVE_S`` without traffic (no pong within ``call_timeout_s``: reconnect). Waiters never
await the subscriber (registering and leaving are synchronous), so it can never hold up a
waiter's cancellation. :meth:`Wakeups.aclose` stops it; a run that waits afterwards polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_BACKOFF_MIN_S = 0.05
_BACKOFF_MAX_S = 5.0
_KEEPALIVE_S = 30.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Wakeups:
    """Local waiters' events, woken from one subscription per process. ``channel`` maps a
    deployment to its wake channel; every Redis call is bounded by ``call_timeout_s``."""

    def __init__(self, client: Any, channel: Callable[[str], str], call_timeout_s: float) -> None:
        self._r = client
        self._channel = channel
        self._call_timeout_s = call_timeout_s
        self._events: dict[str, dict[str, asyncio.Event]] = {}  # deployment → holder → event
        self._waiting: dict[str, set[str]] = {}  # deployment → holders refused and waiting
        self._deployments: dict[str, str] = {}  # channel → deployment
        self._changed = asyncio.Event()  # the set of channels wanted changed
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.reconnects = 0  # connections dropped after an error (observability, tests)

    def register(self, deployment: str, holder: str) -> asyncio.Event:
        """The event a message naming ``holder`` sets; no subscription yet."""
        ev = asyncio.Event()
        self._events.setdefault(deployment, {})[holder] = ev
        return ev

    def waiting(self, deployment: str, holder: str) -> None:
        """``holder`` was refused: have ``deployment``'s channel subscribed while it waits."""
        holders = self._waiting.setdefault(deployment, set())
        if not holders:
            self._changed.set()
        holders.add(holder)
        self._deployments[self._channel(deployment)] = deployment
        if (self._task is None or self._task.done()) and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="global-slot-wakeups")

    def unregister(self, deployment: str, holder: str) -> None:
        """``holder`` stopped waiting (granted, cancelled or failed); never blocks."""
        self._events.get(deployment, {}).pop(holder, None)
        holders = self._waiting.get(deployment)
        if holders is not None and holder in holders:
            holders.discard(holder)
            if not holders:
                self._changed.set()

    def subscribed_channels(self) -> set[str]:
        return {self._channel(d) for d, holders in self._waiting.items() if holders}

    async def aclose(self) -> None:
        """Stop the subscriber and close its connection (bounded by ``call_timeout_s``)."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                async with asyncio.timeout(self._call_timeout_s * 2):
                    await task

    async def _run(self) -> None:
        delay = _BACKOFF_MIN_S
        while not self._closed:
            ps = self._r.pubsub()
            try:
                if await self._serve(ps):
                    delay = _BACKOFF_MIN_S
            except Exception as exc:  # redis, OS or timeout errors: a fresh connection
                self.reconnects += 1
                log.warning("global slot wake-up subscription failed (%s); reconnecting", exc)
            finally:
                await asyncio.shield(self._close(ps))
            if self._closed:
                return
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, _BACKOFF_MAX_S)

    async def _serve(self, ps: Any) -> bool:
        """Keep ``ps`` subscribed to the wanted channels and dispatch what it reads, until an
        error (raised) or close. True when a subscription was confirmed on it."""
        loop = asyncio.get_running_loop()
        subscribed: set[str] = set()
        confirmed = False
        read: asyncio.Task[Any] | None = None
        ping_at = loop.time() + _KEEPALIVE_S
        pong_by: float | None = None
        try:
            while not self._closed:
                self._changed.clear()
                want = self.subscribed_channels()
                add, drop = want - subscribed, subscribed - want
                if add or drop:
                    async with asyncio.timeout(self._call_timeout_s):
                        if add:
                            await ps.subscribe(*sorted(add))
                        if drop:
                            await ps.unsubscribe(*sorted(drop))
                    subscribed = want
                if read is None and ps.connection is not None:
                    read = loop.create_task(ps.get_message(timeout=None))
                if read is None:  # nothing subscribed yet: wait for a waiter
                    await self._changed.wait()
                    continue
                changed = loop.create_task(self._changed.wait())
                try:
                    until = pong_by if pong_by is not None else ping_at
                    done, _ = await asyncio.wait(
                        (read, changed),
                        timeout=max(0.0, until - loop.time()),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    changed.cancel()
                if read in done:
                    msg, read = read.result(), None  # a failed read raises: reconnect
                    ping_at, pong_by = loop.time() + _KEEPALIVE_S, None
                    confirmed |= self._dispatch(msg)
                elif not done and loop.time() >= until:
                    if pong_by is not None:
                        raise TimeoutError("no pong on the wake-up subscription")
                    if subscribed:
                        async with asyncio.timeout(self._call_timeout_s):
                            await ps.ping()
                        pong_by = loop.time() + self._call_timeout_s
                    else:
                        ping_at = loop.time() + _KEEPALIVE_S
        finally:
            if read is not None:
                read.cancel()
                with contextlib.suppress(BaseException):
                    await read
        return confirmed

    def _dispatch(self, msg: Any) -> bool:
        """Wake the waiters ``msg`` concerns; True for a subscription's confirmation."""
        if not isinstance(msg, dict):
            return False
        kind = msg.get("type")
        deployment = self._deployments.get(_text(msg.get("channel")))
        events = self._events.get(deployment, {}) if deployment is not None else {}
        if kind == "message":
            for name in _text(msg.get("data")).split():
                ev = events.get(name)
                if ev is not None:
                    ev.set()
        elif kind == "subscribe":
            for ev in events.values():  # anything published before it: they must look again
                ev.set()
            return True
        return False

    async def _close(self, ps: Any) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._call_timeout_s):
                await ps.aclose()
