"""Limiter: permission, rpm, tpm (estimate + reconcile), budget per period, spend."""

from __future__ import annotations

import datetime as dt

import pytest

from core.clock import ManualClock
from core.errors import BudgetExceededError, PermissionDeniedError, RateLimitError
from core.store.protocol import Store
from core.wire import Usage
from gateway.auth import Principal
from gateway.limits import Limiter, estimate_prompt_tokens, period_bounds


def _clock_at(iso: str) -> ManualClock:
    wall = dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC).timestamp()
    return ManualClock(start=1_000.0, wall_offset=wall - 1_000.0)


@pytest.mark.parametrize(
    ("period", "at", "period_id", "end"),
    [
        ("day", "2025-03-04T23:59:59", "2025-03-04", "2025-03-05T00:00:00"),
        ("month", "2025-03-31T12:00:00", "2025-03", "2025-04-01T00:00:00"),
        ("month", "2025-12-15T00:00:00", "2025-12", "2026-01-01T00:00:00"),
        ("total", "2025-12-15T00:00:00", "total", None),
    ],
    ids=["day", "month", "december", "total"],
)
def test_period_bounds(period: str, at: str, period_id: str, end: str | None) -> None:
    wall = _clock_at(at).wall()
    want_end = dt.datetime.fromisoformat(end).replace(tzinfo=dt.UTC).timestamp() if end else None
    assert period_bounds(period, wall) == (period_id, want_end)  # type: ignore[arg-type]


async def test_model_not_allowed_is_permission_denied(store: Store, key_id: str) -> None:
    p = Principal(key_id=key_id, allowed_models=frozenset({"auto"}))
    with pytest.raises(PermissionDeniedError) as err:
        await Limiter(store).admit(p, "gpt-4o")
    assert err.value.status == 403 and err.value.param == "model"


@pytest.mark.parametrize("allowed", [None, {"gpt-4o"}, {"*"}], ids=["all", "listed", "wildcard"])
async def test_model_allowed(store: Store, key_id: str, allowed: set[str] | None) -> None:
    p = Principal(key_id=key_id, allowed_models=frozenset(allowed) if allowed is not None else None)
    await Limiter(store).admit(p, "gpt-4o")


async def test_rpm_admits_limit_then_429_with_retry_after(store: Store, key_id: str) -> None:
    limiter = Limiter(store)
    p = Principal(key_id=key_id, rpm=3)
    for _ in range(3):
        await limiter.admit(p, "auto")
    with pytest.raises(RateLimitError) as err:
        await limiter.admit(p, "auto")
    assert err.value.status == 429 and 0 < (err.value.retry_after_s or 0) <= 60
    assert 1 <= int(err.value.headers()["retry-after"]) <= 60


async def test_rpm_is_per_key(store: Store, key_id: str) -> None:
    limiter = Limiter(store)
    await limiter.admit(Principal(key_id=key_id, rpm=1), "auto")
    await limiter.admit(Principal(key_id=key_id + "-other", rpm=1), "auto")


async def test_tpm_refuses_estimate_over_what_is_left(store: Store, key_id: str) -> None:
    limiter = Limiter(store)
    p = Principal(key_id=key_id, tpm=100)
    await limiter.admit(p, "auto", est_tokens=60)
    with pytest.raises(RateLimitError, match="tokens per minute"):
        await limiter.admit(p, "auto", est_tokens=60)
    await limiter.admit(p, "auto", est_tokens=40)


async def test_tpm_reconciles_real_usage_at_record(store: Store, key_id: str) -> None:
    limiter = Limiter(store)
    p = Principal(key_id=key_id, tpm=100)
    adm = await limiter.admit(p, "auto", est_tokens=10)
    await limiter.record(p, Usage(prompt_tokens=30, completion_tokens=70), 0.0, admission=adm)
    with pytest.raises(RateLimitError):
        await limiter.admit(p, "auto", est_tokens=1)


async def test_tpm_single_request_larger_than_limit_runs_on_idle_key(store: Store, key_id: str) -> None:
    await Limiter(store).admit(Principal(key_id=key_id, tpm=100), "auto", est_tokens=5000)


async def test_budget_exhausted_is_429_insufficient_quota(store: Store, key_id: str) -> None:
    clock = _clock_at("2025-03-04T12:00:00")
    limiter = Limiter(store, clock=clock)
    p = Principal(key_id=key_id, budget_usd=0.01, budget_period="day")
    await limiter.admit(p, "auto")
    await limiter.record(p, Usage(10, 10), 0.011)
    with pytest.raises(BudgetExceededError) as err:
        await limiter.admit(p, "auto")
    assert (err.value.status, err.value.code) == (429, "insufficient_quota")
    assert err.value.retry_after_s == pytest.approx(12 * 3600)


async def test_budget_renews_with_the_period(store: Store, key_id: str) -> None:
    clock = _clock_at("2025-03-04T23:59:00")
    limiter = Limiter(store, clock=clock)
    p = Principal(key_id=key_id, budget_usd=0.01, budget_period="day")
    await limiter.record(p, Usage(10, 10), 0.02)
    with pytest.raises(BudgetExceededError):
        await limiter.admit(p, "auto")
    clock.advance(120)
    await limiter.admit(p, "auto")


async def test_total_budget_never_renews(store: Store, key_id: str) -> None:
    limiter = Limiter(store, clock=_clock_at("2025-03-04T00:00:00"))
    p = Principal(key_id=key_id, budget_usd=1.0, budget_period="total")
    await limiter.record(p, Usage(), 1.0)
    with pytest.raises(BudgetExceededError) as err:
        await limiter.admit(p, "auto")
    assert err.value.retry_after_s is None and "retry-after" not in err.value.headers()


async def test_spend_report(store: Store, key_id: str) -> None:
    clock = _clock_at("2025-03-31T23:00:00")
    limiter = Limiter(store, clock=clock)
    p = Principal(key_id=key_id, budget_usd=5.0)
    await limiter.record(p, Usage(1, 1), 0.25)
    clock.advance(2 * 3600)  # into April
    await limiter.record(p, Usage(1, 1), 0.5)
    rep = await limiter.spend(key_id, "month", 5.0)
    assert (rep.period_id, rep.period_spend_usd, rep.total_spend_usd) == ("2025-04", 0.5, 0.75)


@pytest.mark.parametrize("who", [Principal.master(), Principal.anonymous()], ids=["master", "anonymous"])
async def test_master_and_anonymous_are_unlimited(store: Store, who: Principal) -> None:
    limiter = Limiter(store)
    for _ in range(5):
        await limiter.admit(who, "anything", est_tokens=10**6)
        await limiter.record(who, Usage(10**6, 10**6), 100.0)


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], 1),
        ([{"role": "user", "content": "x" * 400}], 105),
        ([{"role": "user", "content": [{"type": "text", "text": "y" * 40}, {"type": "image_url"}]}], 15),
    ],
    ids=["empty", "string", "parts"],
)
def test_estimate_prompt_tokens(messages: list[dict[str, object]], expected: int) -> None:
    assert estimate_prompt_tokens(messages) == expected


async def test_tpm_refusal_does_not_use_an_rpm_unit(store: Store, key_id: str) -> None:
    limiter = Limiter(store)
    p = Principal(key_id=key_id, rpm=2, tpm=100)
    await limiter.admit(p, "auto", est_tokens=90)
    with pytest.raises(RateLimitError, match="tokens per minute"):
        await limiter.admit(p, "auto", est_tokens=50)
    await limiter.admit(p, "auto", est_tokens=5)  # the second request unit is still there
    with pytest.raises(RateLimitError, match="requests per minute"):
        await limiter.admit(p, "auto", est_tokens=1)
