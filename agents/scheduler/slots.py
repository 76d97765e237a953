"""Model capacity as the CPU: each deployment has a number of concurrency slots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class SlotPool:
    """Concurrency slots per deployment. Not thread-safe; the scheduler owns it.

    Raises ValueError for an unknown deployment or a release without an acquire.
    """

    def __init__(self, capacities: Mapping[str, int]) -> None:
        if not capacities or any(c < 1 for c in capacities.values()):
            raise ValueError("every deployment needs at least one slot")
        self._capacity = dict(capacities)
        self._in_use = dict.fromkeys(capacities, 0)

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
        """A deployment with a free slot: ``prefer`` when it has one (prefix-cache affinity),
        else the allowed one with the most free slots (first in declaration order on ties)."""
        names = list(self._capacity) if allowed is None else [d for d in allowed if d in self._capacity]
        if prefer is not None and prefer in names and self.free(prefer) > 0:
            return prefer
        best = max(names, key=self.free, default=None)
        return best if best is not None and self.free(best) > 0 else None

    def acquire(self, deployment: str) -> None:
        if self.free(deployment) <= 0:
            raise ValueError(f"no free slot on {deployment!r}")
        self._in_use[deployment] += 1

    def release(self, deployment: str) -> None:
        if self._in_use.get(deployment, 0) <= 0:
            raise ValueError(f"release without acquire on {deployment!r}")
        self._in_use[deployment] -= 1
