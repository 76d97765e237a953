"""One deadline per request: retries, fallbacks and every upstream call spend from it."""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import Clock


@dataclass(frozen=True, slots=True)
class Deadline:
    """An absolute point on ``clock``'s monotonic time line."""

    at: float
    clock: Clock

    @classmethod
    def after(cls, seconds: float, clock: Clock) -> Deadline:
        return cls(clock.now() + seconds, clock)

    def remaining(self) -> float:
        """Seconds left; never negative."""
        return max(0.0, self.at - self.clock.now())

    def expired(self) -> bool:
        return self.clock.now() >= self.at
