"""Helpers shared by the OpenAI endpoints: caller admission, routing headers, accounting."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request

from core.wire import Usage
from gateway.auth import Principal
from gateway.dispatch import RoutePlan
from gateway.limits import Admission
from gateway.route_inputs import Caller
from gateway.runtime import Runtime
from gateway.snapshot import DeploymentEntry

_HEADER_UNSAFE = re.compile(r"[^\x20-\x7e]")


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


@dataclass(frozen=True, slots=True)
class Admitted:
    principal: Principal
    admission: Admission

    @property
    def caller(self) -> Caller:
        p = self.principal
        return Caller(p.key_id, p.tenant, p.tags)


async def admit(rt: Runtime, request: Request, model: str, est_tokens: int) -> Admitted:
    """Authenticate and admit one request. Raises AuthenticationError, PermissionDeniedError,
    RateLimitError, BudgetExceededError."""
    assert rt.keys is not None
    principal = await rt.keys.auth.authenticate(request.headers.get("authorization"))
    admission = await rt.keys.limiter.admit(principal, model, est_tokens)
    return Admitted(principal, admission)


async def settle(rt: Runtime, who: Admitted, usage: Usage, cost_usd: float) -> None:
    """Record spend and token usage for the caller's limits."""
    assert rt.keys is not None
    await rt.keys.limiter.record(who.principal, usage, cost_usd, admission=who.admission)


def header_safe(text: str, limit: int = 256) -> str:
    return _HEADER_UNSAFE.sub("?", text)[:limit]


def route_headers(plan: RoutePlan, entry: DeploymentEntry, cost_usd: float | None) -> dict[str, str]:
    headers = {
        "x-switchboard-model": header_safe(entry.spec.model),
        "x-switchboard-deployment": header_safe(entry.name),
        "x-switchboard-tier": entry.spec.tier,
        "x-switchboard-policy": header_safe(plan.policy_label),
        "x-switchboard-route-reason": header_safe(plan.decision.reason),
    }
    if cost_usd is not None:
        headers["x-switchboard-cost-usd"] = f"{cost_usd:.8f}"
    return headers
