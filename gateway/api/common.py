"""Helpers shared by the OpenAI endpoints: caller admission, routing headers, accounting."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import Receive

from core.errors import PayloadTooLargeError
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


async def admit(rt: Runtime, authorization: str | None, model: str, est_tokens: int) -> Admitted:
    """Authenticate (``authorization`` = the header value) and admit one request. Raises
    AuthenticationError, PermissionDeniedError, RateLimitError, BudgetExceededError."""
    assert rt.keys is not None
    principal = await rt.keys.auth.authenticate(authorization)
    admission = await rt.keys.limiter.admit(principal, model, est_tokens)
    return Admitted(principal, admission)


async def settle(rt: Runtime, who: Admitted, usage: Usage, cost_usd: float) -> None:
    """Record spend and token usage for the caller's limits."""
    assert rt.keys is not None
    await rt.keys.limiter.record(who.principal, usage, cost_usd, admission=who.admission)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body from ASGI ``receive``; PayloadTooLargeError past ``limit`` bytes."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False) and len(body) <= limit:
        return body
    parts = [body]
    seen = len(body)
    while message.get("more_body", False):
        if seen > limit:
            break
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        seen += len(chunk)
        parts.append(chunk)
    if seen > limit:
        raise PayloadTooLargeError(f"The request body exceeds the limit of {limit} bytes.")
    return b"".join(parts)


_SAFE_CACHE: dict[str, bytes] = {}


def header_safe(text: str, limit: int = 256) -> str:
    return _HEADER_UNSAFE.sub("?", text)[:limit]


def _safe_bytes(text: str) -> bytes:
    """``header_safe(text)`` encoded, cached (deployment, policy and reason strings repeat)."""
    hit = _SAFE_CACHE.get(text)
    if hit is None:
        if len(_SAFE_CACHE) > 4096:
            _SAFE_CACHE.clear()
        hit = _SAFE_CACHE[text] = header_safe(text).encode("ascii")
    return hit


def route_headers_raw(plan: RoutePlan, entry: DeploymentEntry, cost_usd: float | None) -> list[tuple[bytes, bytes]]:
    """The routing response headers as raw ASGI header pairs."""
    headers = [
        (b"x-switchboard-model", _safe_bytes(entry.spec.model)),
        (b"x-switchboard-deployment", _safe_bytes(entry.name)),
        (b"x-switchboard-tier", _safe_bytes(entry.spec.tier)),
        (b"x-switchboard-policy", _safe_bytes(plan.policy_label)),
        (b"x-switchboard-route-reason", _safe_bytes(plan.decision.reason)),
    ]
    if cost_usd is not None:
        headers.append((b"x-switchboard-cost-usd", b"%.8f" % cost_usd))
    if plan.extra_headers:
        headers.extend(plan.extra_headers)
    return headers


def route_headers(plan: RoutePlan, entry: DeploymentEntry, cost_usd: float | None) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in route_headers_raw(plan, entry, cost_usd)}
