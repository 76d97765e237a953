"""Bookkeeping the scheduler owns: context-switch statistics and fair-share counters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


@dataclass(slots=True)
class SwitchStats:
    """Context switches: how many, why, and what they cost.

    ``save_s``/``restore_s`` are the checkpoint write at the switch and the read on resume,
    ``bytes`` the checkpoint size, ``wasted_tokens`` the prompt tokens prefilled again because the
    switch lost the deployment's prefix cache (or a partial generation that was thrown away).
    """

    count: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    save_s: list[float] = field(default_factory=list)
    restore_s: list[float] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    wasted_tokens: int = 0

    def switched(self, reason: str) -> None:
        self.count += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1

    def record(
        self, *, save_s: float = 0.0, restore_s: float = 0.0, nbytes: int = 0, wasted_tokens: int = 0
    ) -> None:
        if save_s:
            self.save_s.append(save_s)
        if restore_s:
            self.restore_s.append(restore_s)
        if nbytes:
            self.bytes.append(nbytes)
        self.wasted_tokens += wasted_tokens

    def summary(self) -> dict[str, Any]:
        total = [s + r for s, r in zip(self.save_s, self.restore_s, strict=False)]
        return {
            "count": self.count,
            "by_reason": dict(sorted(self.by_reason.items())),
            "save_ms_p50": 1e3 * percentile(self.save_s, 50),
            "save_ms_p99": 1e3 * percentile(self.save_s, 99),
            "restore_ms_p50": 1e3 * percentile(self.restore_s, 50),
            "restore_ms_p99": 1e3 * percentile(self.restore_s, 99),
            "save_restore_ms_p99": 1e3 * percentile(total, 99),
            "bytes_mean": (sum(self.bytes) / len(self.bytes)) if self.bytes else 0.0,
            "wasted_tokens": self.wasted_tokens,
        }


@dataclass(slots=True)
class FairShareLedger:
    """Virtual token counters per tenant (VTC: Sheng et al., "Fairness in Serving LLMs").

    A tenant's counter grows by ``(prompt·w_in + completion·w_out) / weight`` for each step
    served. When a tenant becomes active again after having nothing queued, its counter is
    lifted to the smallest counter among the active tenants, so idling never banks credit.
    """

    weights: dict[str, float] = field(default_factory=dict)
    w_in: float = 1.0
    w_out: float = 2.0
    counters: dict[str, float] = field(default_factory=dict)

    def weight(self, tenant: str) -> float:
        return self.weights.get(tenant, 1.0)

    def value(self, tenant: str) -> float:
        return self.counters.get(tenant, 0.0)

    def activate(self, tenant: str, active: Iterable[str]) -> None:
        others = [self.counters.get(t, 0.0) for t in active if t != tenant]
        if others:
            self.counters[tenant] = max(self.counters.get(tenant, 0.0), min(others))
        else:
            self.counters.setdefault(tenant, 0.0)

    def charge(self, tenant: str, prompt_tokens: int, completion_tokens: int) -> None:
        cost = (prompt_tokens * self.w_in + completion_tokens * self.w_out) / self.weight(tenant)
        self.counters[tenant] = self.counters.get(tenant, 0.0) + cost
