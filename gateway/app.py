"""The FastAPI application: routes, the one error handler, pure ASGI middleware, the lifespan.

``create_app(settings)`` builds the app without touching the network or the config; its lifespan
(:func:`gateway.runtime.open_runtime`) opens the Store, the HTTP pool and the local model owner,
loads the config, and starts the background loops. The OpenAI endpoints are plain Starlette routes
(no FastAPI dependency solving on the hot path); admin routers are ordinary FastAPI routers.

Wiring points for the lead: ``Hooks`` (selector registry for learned routers, tool selector,
lifespan extensions) and ``extra_routers`` (APIRouters such as the agents or tools API; they reach
the runtime through ``request.app.state.runtime``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, FastAPI
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core.clock import Clock
from gateway.admin_keys_api import KeyServices, admin_keys_api
from gateway.api import chat, completions, embeddings, models, ops
from gateway.dashboard import dashboard_api
from gateway.http_errors import install_error_handlers
from gateway.metrics import GatewayMetrics
from gateway.middleware import RequestContextMiddleware
from gateway.runtime import Hooks, Runtime, open_runtime
from gateway.settings import GatewaySettings

_DEFAULT_MAX_BODY = 4 * 1024 * 1024


class _Raw:
    """Marks a raw ASGI endpoint for Starlette's Route (a plain function would be wrapped as a
    request handler)."""

    def __init__(self, endpoint: ASGIApp) -> None:
        self._endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._endpoint(scope, receive, send)


class GatewayApp(FastAPI):
    """FastAPI with a front door for the hot endpoints: an HTTP request whose (method, path) is in
    ``fast_routes`` goes straight to that raw ASGI endpoint, skipping Starlette's middleware stack,
    router and exception middleware (the endpoint does the request-context work itself, see
    ``gateway.api.chat.chat_asgi``). Everything else takes the normal FastAPI path."""

    fast_routes: dict[tuple[str, str], ASGIApp]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.fast_routes.get((scope["method"], scope["path"]))
            if endpoint is not None:
                scope["app"] = self
                await endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: GatewaySettings | None = None,
    *,
    hooks: Hooks | None = None,
    clock: Clock | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    settings = settings or GatewaySettings()
    metrics = GatewayMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, hooks=hooks, clock=clock, metrics=metrics) as rt:
            app.state.runtime = rt
            try:
                yield
            finally:
                del app.state.runtime

    app = GatewayApp(title="Switchboard", version="0.1.0", lifespan=lifespan, docs_url="/docs",
                     redoc_url=None)
    app.fast_routes = {("POST", "/v1/chat/completions"): chat.chat_asgi}
    app.state.settings = settings

    def key_services() -> KeyServices:
        rt: Runtime = app.state.runtime
        assert rt.keys is not None
        return rt.keys

    def max_body() -> int:
        rt: Runtime | None = getattr(app.state, "runtime", None)
        if rt is None or rt.reloader is None or not rt.reloader.loaded:
            return _DEFAULT_MAX_BODY
        return rt.snapshot.config.settings.max_body_bytes

    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=max_body)

    # POST is served by app.fast_routes; the route stays so that other methods get 405
    app.router.routes.append(Route("/v1/chat/completions", _Raw(chat.chat_asgi), methods=["POST"],
                                   include_in_schema=False))
    app.router.routes.append(Route("/v1/completions", completions.completions, methods=["POST"],
                                   include_in_schema=False))
    app.add_route("/v1/embeddings", embeddings.embeddings, methods=["POST"], include_in_schema=False)
    app.add_route("/v1/models", models.list_models, methods=["GET"], include_in_schema=False)
    app.add_route("/v1/models/{model_id:path}", models.get_model, methods=["GET"], include_in_schema=False)
    app.add_route("/health", ops.liveness, methods=["GET"], include_in_schema=False)
    app.add_route("/health/liveness", ops.liveness, methods=["GET"], include_in_schema=False)
    app.add_route("/health/readiness", ops.readiness, methods=["GET"], include_in_schema=False)
    app.add_route("/metrics", ops.metrics, methods=["GET"], include_in_schema=False)
    app.add_route("/admin/config", ops.config_status, methods=["GET"], include_in_schema=False)
    app.add_route("/admin/config/reload", ops.config_reload, methods=["POST"], include_in_schema=False)
    app.include_router(admin_keys_api(key_services))
    app.include_router(dashboard_api())  # GET /dashboard + /admin/dashboard/* (H)
    for router in extra_routers:
        app.include_router(router)
    return app
