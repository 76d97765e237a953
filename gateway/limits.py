"""Per-key admission: model permission, budget, requests and tokens per minute; spend recording.

Order in :meth:`Limiter.admit`: permission → budget → rpm and tpm together. Both windows are
taken with one ``Store.rate_acquire_many`` (all or nothing, one Redis round trip), so a request
refused for tokens does not use up a request unit, and the reverse.

* rpm: 1 unit in a 60 s sliding window (``rl:{key}:rpm``) — exact across replicas on Redis.
* tpm: ``est_tokens`` units at admit (clamped to the limit so that one large request can still
  run on an idle key); :meth:`Limiter.record` adds what the real usage exceeded the estimate by
  with ``Store.rate_add``. Over-estimates are not handed back.
* budget: spend lives in ``spend:{key}:{period}`` counters (``incr_by`` with a TTL to the end of the
  period, UTC) and ``spend:{key}:total``. A key at or over budget is refused before its request
  runs; requests already in flight may overshoot by their own cost.

Master and anonymous principals have no limits and cost no Store round trip.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.clock import Clock, SystemClock
from core.errors import BudgetExceededError, PermissionDeniedError, RateLimitError
from core.store.protocol import RateSpec, Store
from core.wire import Usage
from gateway.auth import ANONYMOUS_KEY_ID, Principal
from gateway.keys import BudgetPeriod

WINDOW_S = 60.0
# counters outlive their period a little so a late record still lands in the right one
_PERIOD_SLACK_S = 3600.0


@dataclass(frozen=True, slots=True)
class Admission:
    """What :meth:`Limiter.admit` took; hand it back to :meth:`Limiter.record`."""

    key_id: str
    tpm_tokens: int = 0


@dataclass(frozen=True, slots=True)
class SpendReport:
    key_id: str
    period: BudgetPeriod
    period_id: str
    period_spend_usd: float
    total_spend_usd: float
    budget_usd: float | None
    period_ends_at: float | None  # unix seconds; None for "total"


def period_bounds(period: BudgetPeriod, wall: float) -> tuple[str, float | None]:
    """``(period_id, end_unix_s)`` of the budget period that contains ``wall`` (UTC)."""
    now = dt.datetime.fromtimestamp(wall, tz=dt.UTC)
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%d"), (start + dt.timedelta(days=1)).timestamp()
    if period == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
            month=start.month + 1
        )
        return start.strftime("%Y-%m"), nxt.timestamp()
    return "total", None


def estimate_prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """A cheap upper-ish estimate of prompt tokens for tpm admission: ~4 characters per token of
    every text part, plus a few tokens of framing per message. Real usage reconciles it later."""
    chars = 0
    for msg in messages:
        content = msg.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return chars // 4 + 4 * len(messages) + 1


def permits(principal: Principal, model_or_policy: str) -> bool:
    """True when the principal may use this model or policy name."""
    allowed = principal.allowed_models
    return allowed is None or model_or_policy in allowed or "*" in allowed


def _rpm_key(key_id: str) -> str:
    return f"rl:{{{key_id}}}:rpm"  # one hash tag per key: both windows in one cluster slot


def _tpm_key(key_id: str) -> str:
    return f"rl:{{{key_id}}}:tpm"


def _unlimited(p: Principal) -> bool:
    return p.is_master or p.key_id == ANONYMOUS_KEY_ID


class Limiter:
    """Admission and spend over a :class:`Store`. Raises only ``core.errors`` classes."""

    def __init__(self, store: Store, *, clock: Clock | None = None, window_s: float = WINDOW_S) -> None:
        self._store = store
        self._clock = clock or SystemClock()
        self._window = window_s

    async def admit(self, principal: Principal, model_or_policy: str, est_tokens: int = 0) -> Admission:
        """Admit one request or raise PermissionDeniedError (403), BudgetExceededError (429,
        Retry-After = seconds to the period's end) or RateLimitError (429, Retry-After)."""
        if not permits(principal, model_or_policy):
            raise PermissionDeniedError(
                f"This key may not use model {model_or_policy!r}.", param="model"
            )
        if _unlimited(principal):
            return Admission(principal.key_id)
        if principal.budget_usd is not None:
            await self._check_budget(principal, principal.budget_usd)
        specs: list[RateSpec] = []
        what: list[str] = []
        if principal.rpm is not None:
            specs.append(RateSpec(_rpm_key(principal.key_id), principal.rpm, self._window))
            what.append(f"{principal.rpm} requests per minute")
        taken = 0
        if principal.tpm is not None:
            taken = max(1, min(int(est_tokens), principal.tpm))
            specs.append(RateSpec(_tpm_key(principal.key_id), principal.tpm, self._window, taken))
            what.append(f"{principal.tpm} tokens per minute")
        if specs:
            decisions = await self._store.rate_acquire_many(specs)
            if not decisions[0].allowed:
                i = max(range(len(decisions)), key=lambda j: decisions[j].retry_after_s)
                raise RateLimitError(
                    f"Rate limit reached: {what[i]} for this key.",
                    retry_after_s=decisions[i].retry_after_s,
                )
        return Admission(principal.key_id, taken)

    async def check_budget(self, principal: Principal) -> None:
        """The budget part of :meth:`admit` alone (no rate-limit units taken): raise
        BudgetExceededError when the key is at or over its budget for the current period. Used
        between the steps of an agent run created with the key."""
        if _unlimited(principal) or principal.budget_usd is None:
            return
        await self._check_budget(principal, principal.budget_usd)

    async def record(
        self, principal: Principal, usage: Usage, cost_usd: float, *, admission: Admission | None = None
    ) -> None:
        """Add ``cost_usd`` to the key's spend and reconcile its tokens-per-minute window."""
        if _unlimited(principal):
            return
        jobs = []
        if cost_usd > 0:
            period_id, end = period_bounds(principal.budget_period, self._clock.wall())
            if period_id != "total":
                ttl = (end or 0) - self._clock.wall() + _PERIOD_SLACK_S
                jobs.append(
                    self._store.incr_by(f"spend:{principal.key_id}:{period_id}", cost_usd, ttl_s=ttl)
                )
            jobs.append(self._store.incr_by(f"spend:{principal.key_id}:total", cost_usd))
        if principal.tpm is not None:
            extra = usage.total_tokens - (admission.tpm_tokens if admission else 0)
            if extra > 0:
                jobs.append(
                    self._store.rate_add(_tpm_key(principal.key_id), window_s=self._window, cost=extra)
                )
        if jobs:
            await asyncio.gather(*jobs)

    async def spend(
        self, key_id: str, period: BudgetPeriod = "month", budget_usd: float | None = None
    ) -> SpendReport:
        """The key's spend in the current ``period`` and in total."""
        period_id, end = period_bounds(period, self._clock.wall())
        total_raw = await self._store.get(f"spend:{key_id}:total")
        total = float(total_raw) if total_raw else 0.0
        if period_id == "total":
            current = total
        else:
            raw = await self._store.get(f"spend:{key_id}:{period_id}")
            current = float(raw) if raw else 0.0
        return SpendReport(key_id, period, period_id, current, total, budget_usd, end)

    async def _check_budget(self, p: Principal, budget: float) -> None:
        period_id, end = period_bounds(p.budget_period, self._clock.wall())
        raw = await self._store.get(f"spend:{p.key_id}:{period_id}")
        spent = float(raw) if raw else 0.0
        if spent >= budget:
            retry = None if end is None else max(1.0, end - self._clock.wall())
            raise BudgetExceededError(
                f"Budget exhausted: spent ${spent:.4f} of ${budget:.2f} this {p.budget_period}.",
                retry_after_s=retry,
            )
