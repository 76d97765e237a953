"""The admin dashboard: a static single-page app and the JSON it polls.

* ``GET /dashboard`` — the page (plain HTML + JS + CSS shipped in ``gateway/dashboard/static``;
  no build step, nothing fetched from elsewhere). The page holds no data: it asks for the admin key
  when an endpoint answers 401 and keeps it in ``sessionStorage``.
* ``GET /admin/dashboard/traffic`` — totals (requests, errors by type, tokens, spend, cost saved)
  and per-deployment / per-policy figures over the recent decisions;
* ``GET /admin/dashboard/decisions?limit=N`` — recent requests with their routing decision;
* ``GET /admin/dashboard/deployments`` — availability, cooldowns, in-flight, live latency;
* ``GET /admin/dashboard/config`` — active version and the last rejected reload's problems;
* ``GET /admin/dashboard/features`` — which optional panels have an API behind them.

The ``/admin/dashboard`` routes need the master key when one is configured (401 otherwise), like
the rest of the admin API; with no master key the gateway, and this, run open. With a Redis Store,
traffic and decisions cover every replica (the decision log is mirrored there); deployments'
health is what the replica that answers sees.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.routing import Match

from core.errors import AuthenticationError, NotFoundError
from gateway.dashboard import stats
from gateway.decision_log import DecisionRecord, Totals
from gateway.runtime import Runtime

_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
TOOLS_SEARCH = ("POST", "/v1/tools/search")
AGENT_RUN = ("GET", "/v1/agents/runs/any-run-id")
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def require_admin(request: Request) -> Runtime:
    """The runtime, when the caller may see admin data. Raises AuthenticationError (401)."""
    rt = _runtime(request)
    assert rt.keys is not None
    auth = rt.keys.auth
    if not auth.open and not auth.is_master(request.headers.get("authorization")):
        raise AuthenticationError("The dashboard API needs the master key.")
    return rt


async def recent_decisions(rt: Runtime, limit: int) -> tuple[list[DecisionRecord], Totals, str]:
    """Newest-first records and totals: every replica's from Redis when configured, else this
    process's. Raises the Store's errors (rendered as 503 by the app's handler)."""
    if rt.settings.redis_url and rt.store is not None:
        records, totals = await rt.decisions.shared(rt.store, limit)
        return records, totals, "shared"
    return rt.decisions.recent(limit), rt.decisions.totals, "local"


def _has_route(request: Request, method: str, path: str) -> bool:
    """Whether the app serves ``method path`` (asked through Starlette's own route matching, so
    routes inside included routers count too)."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "path_params": {},
             "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in request.app.routes)


def _read_static(name: str) -> bytes:
    return resources.files("gateway.dashboard").joinpath("static", name).read_bytes()


def dashboard_api(*, window: int = 1000) -> APIRouter:
    """The dashboard's router. ``window``: how many recent decisions the traffic panel covers."""
    api = APIRouter(tags=["dashboard"], include_in_schema=False)
    page = _read_static("index.html")
    assets = {name: _read_static(name) for name in _STATIC}

    @api.get("/dashboard")
    async def index() -> Response:
        return Response(page, media_type="text/html; charset=utf-8",
                        headers={"content-security-policy": _CSP, "cache-control": "no-cache",
                                 "x-content-type-options": "nosniff"})

    @api.get("/dashboard/static/{name}")
    async def asset(name: str) -> Response:
        body = assets.get(name)
        if body is None:
            raise NotFoundError(f"no dashboard file {name!r}")
        return Response(body, media_type=_STATIC[name],
                        headers={"cache-control": "no-cache", "x-content-type-options": "nosniff"})

    @api.get("/admin/dashboard/traffic")
    async def traffic(rt: Runtime = Depends(require_admin)) -> dict[str, Any]:
        records, totals, source = await recent_decisions(rt, window)
        return stats.traffic(records, totals, source=source)

    @api.get("/admin/dashboard/decisions")
    async def decisions(rt: Runtime = Depends(require_admin),
                        limit: int = Query(default=50, ge=1, le=1000)) -> dict[str, Any]:
        records, _, source = await recent_decisions(rt, limit)
        return {"object": "list", "source": source, "data": [r.to_json() for r in records]}

    @api.get("/admin/dashboard/deployments")
    async def deployments(rt: Runtime = Depends(require_admin)) -> dict[str, Any]:
        return {"object": "list", "data": stats.deployments(rt.snapshot, rt.states)}

    @api.get("/admin/dashboard/config")
    async def config(rt: Runtime = Depends(require_admin)) -> dict[str, Any]:
        assert rt.reloader is not None
        return stats.config_status(rt.reloader)

    @api.get("/admin/dashboard/features")
    async def features(request: Request, rt: Runtime = Depends(require_admin)) -> dict[str, Any]:
        return {
            "tools_search": _has_route(request, *TOOLS_SEARCH),
            "agents": _has_route(request, *AGENT_RUN),
            "shared": bool(rt.settings.redis_url),
            "replica": rt.decisions.replica,
            "window": window,
        }

    return api
