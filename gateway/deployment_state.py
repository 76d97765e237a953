"""Live state per deployment: in-flight gauge, consecutive failures and cooldown, latency stats.

Latency (TTFT from streams, time per output token, end-to-end) is kept as an exponentially
weighted moving average here and merged into the Store by :meth:`DeploymentStates.flush` (the
lifespan calls it every ``latency_flush_s``), so that selectors on every replica see roughly the
same numbers. Cooldowns and in-flight counts are per process: they describe what this replica saw,
and a replica that cools a deployment down needs no agreement from the others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from core.clock import Clock
from core.config.models import CooldownPolicy
from core.errors import UpstreamError, UpstreamRateLimitError, UpstreamRejectedError
from core.store.protocol import Store

_ALPHA = 0.2  # weight of a new sample in the moving averages
STORE_PREFIX = "lat:"


@dataclass(slots=True)
class DeploymentState:
    in_flight: int = 0
    failures: int = 0  # consecutive
    cooldown_until: float = 0.0
    cooldown_reason: str = ""
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None
    dirty: bool = False


def _ewma(old: float | None, new: float) -> float:
    return new if old is None else old + _ALPHA * (new - old)


class DeploymentStates:
    """Mutable per-process book of deployment health; every method is O(1) and never blocks."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._states: dict[str, DeploymentState] = {}
        self._me = os.urandom(6).hex().encode()  # tells our own writes from other replicas'

    def get(self, name: str) -> DeploymentState:
        st = self._states.get(name)
        if st is None:
            st = self._states[name] = DeploymentState()
        return st

    def cooling(self, name: str) -> str | None:
        """The cooldown reason while ``name`` is cooling down, else None."""
        st = self._states.get(name)
        if st is None or st.cooldown_until <= self._clock.now():
            return None
        left = st.cooldown_until - self._clock.now()
        return f"cooling down for {left:.0f}s after {st.cooldown_reason}"

    def started(self, name: str) -> None:
        self.get(name).in_flight += 1

    def finished(self, name: str) -> None:
        st = self.get(name)
        st.in_flight = max(0, st.in_flight - 1)

    def succeeded(
        self, name: str, *, e2e_s: float, ttft_s: float | None = None, tpot_s: float | None = None
    ) -> None:
        st = self.get(name)
        st.failures = 0
        st.e2e_ms = _ewma(st.e2e_ms, e2e_s * 1000)
        if ttft_s is not None:
            st.ttft_ms = _ewma(st.ttft_ms, ttft_s * 1000)
        if tpot_s is not None:
            st.tpot_ms = _ewma(st.tpot_ms, tpot_s * 1000)
        st.dirty = True

    def failed(self, name: str, error: UpstreamError, policy: CooldownPolicy) -> bool:
        """Count a failure; True when this one started a cooldown. A rejected request (the
        upstream said the *request* was wrong) says nothing about the deployment's health."""
        if isinstance(error, UpstreamRejectedError):
            return False
        st = self.get(name)
        st.failures += 1
        if isinstance(error, UpstreamRateLimitError) and error.retry_after_s and error.retry_after_s > 0:
            # Honour Retry-After for every later request, not only this one's retries.
            self.cool_for(name, error.retry_after_s, "a 429 with Retry-After")
        if st.failures >= policy.failures:
            st.failures = 0
            self.cool_for(name, policy.seconds, f"{policy.failures} consecutive failures")
            return True
        return False

    def cool_for(self, name: str, seconds: float, reason: str) -> None:
        st = self.get(name)
        until = self._clock.now() + seconds
        if until > st.cooldown_until:
            st.cooldown_until = until
            st.cooldown_reason = reason

    def latency(self, name: str) -> tuple[float | None, float | None]:
        """``(ttft_ms, tpot_ms)`` for selectors; TTFT falls back to end-to-end latency (an upper
        bound) for deployments that so far only answered non-streaming requests."""
        st = self._states.get(name)
        if st is None:
            return None, None
        return (st.ttft_ms if st.ttft_ms is not None else st.e2e_ms), st.tpot_ms

    async def flush(self, store: Store) -> None:
        """Merge this process's fresh averages with the Store's and adopt the merged value."""
        for name, st in list(self._states.items()):
            if not st.dirty:
                continue
            st.dirty = False
            key = STORE_PREFIX + name
            remote = await store.hgetall(key)
            if remote.get("by") == self._me:
                remote = {}  # our own last write: nothing new to merge
            merged: dict[str, bytes] = {"by": self._me}
            for field in ("ttft_ms", "tpot_ms", "e2e_ms"):
                local = getattr(st, field)
                raw = remote.get(field)
                other = float(raw) if raw else None
                value = local if other is None else other if local is None else (local + other) / 2
                if value is not None:
                    setattr(st, field, value)
                    merged[field] = repr(value).encode()
            await store.hset(key, merged)

    async def load(self, store: Store, names: list[str]) -> None:
        """Adopt the Store's averages for deployments this process has no data on yet."""
        for name in names:
            remote = await store.hgetall(STORE_PREFIX + name)
            st = self.get(name)
            for field in ("ttft_ms", "tpot_ms", "e2e_ms"):
                raw = remote.get(field)
                if raw and getattr(st, field) is None:
                    setattr(st, field, float(raw))
