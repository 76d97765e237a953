"""Model capacity as the CPU: each deployment has a number of concurrency slots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class SlotPool:
    """Concurrency slots per deployment. Not thread-safe; the scheduler owns it.

    Raises ValueError for an unknown deployment or a release without an acquire.
    """

    def __init__(self, capacities: Mapping[str, int], speeds: Mapping[str, float] | None = None) -> None:
        if not capacities or any(c < 1 for c in capacities.values()):
            raise ValueError("every deployment needs at least one slot")
        if speeds is not None and (set(speeds) - set(capacities) or any(v <= 0 for v in speeds.values())):
            raise ValueError("speeds must be positive and name known deployments")
        self._capacity = dict(capacities)
        self._in_use = dict.fromkeys(capacities, 0)
        self._speed = dict(speeds or {})

    @property
    def deployments(self) -> list[str]:
        return list(self._capacity)

    def capacity(self, deployment: str) -> int:
        return self._capacity[deployment]

    def in_use(self, deployment: str) -> int:
        return self._in_use[deployment]

    def free(self, deployment: str) -> int:
        return self._capacity[deployment] - self._in_use[deployment]

    def total_free(self) -> int:
        return sum(self.free(d) for d in self._capacity)

    def pick(self, allowed: Iterable[str] | None, prefer: str | None = None) -> str | None:
        """A deployment with a free slot: ``prefer`` when it has one (prefix-cache affinity) and
        no free deployment is faster, else the fastest free one (relative ``speeds``; 1.0 when
        not given), then the one with the most free slots (first in declaration order on ties).
        Placing by speed matters for long agent sessions: a session whose every step decodes on
        a 1.5x slower deployment finishes 1.5x later."""
        names = [d for d in (self._capacity if allowed is None else allowed) if d in self._capacity]
        free = [d for d in names if self.free(d) > 0]
        if not free:
            return None
        fastest = max(self.speed(d) for d in free)
        if prefer is not None and prefer in free and self.speed(prefer) >= fastest:
            return prefer
        return max(free, key=lambda d: (self.speed(d), self.free(d)))

    def speed(self, deployment: str) -> float:
        """Relative decode speed (higher is faster; 1.0 unless given)."""
        return self._speed.get(deployment, 1.0)

    def acquire(self, deployment: str) -> None:
        if self.free(deployment) <= 0:
            raise ValueError(f"no free slot on {deployment!r}")
        self._in_use[deployment] += 1

    def release(self, deployment: str) -> None:
        if self._in_use.get(deployment, 0) <= 0:
            raise ValueError(f"release without acquire on {deployment!r}")
        self._in_use[deployment] -= 1
