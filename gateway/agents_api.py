"""The agents HTTP API (an APIRouter) and the lifespan extension that opens the agents runtime.

    POST /v1/agents/{name}/runs          {input, thread_id?, priority?, deadline?, on_active_run?} → 202 run
    GET  /v1/agents/runs/{run_id}        state, steps, usage, cost, output
    GET  /v1/agents/runs/{run_id}/events SSE: status / step / done events (Last-Event-ID resumes)
    POST /v1/agents/runs/{run_id}/cancel | /suspend | /resume

Wiring (lead)::

    holder = AgentsHolder()
    hooks.extensions = [*hooks.extensions, holder.extension(agents_dir="config/agents", workers=1)]
    extra_routers = [agents_api(holder)]

Errors are core.errors types, rendered by the gateway's handlers as OpenAI error JSON. Agents need
a Redis URL (SWITCHBOARD_REDIS_URL): without one the routes answer 503 ``agents_unavailable``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from core.errors import SwitchboardError

if TYPE_CHECKING:  # the agents runtime (langgraph: ~1.5 s to import) loads only when Redis is set
    from agents.runs import RunRecord
    from agents.service import RunService

log = logging.getLogger("switchboard.agents")


class AgentsUnavailableError(SwitchboardError):
    status = 503
    code = "agents_unavailable"


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1)
    thread_id: str | None = Field(default=None, min_length=1, max_length=128)
    priority: Literal["high", "normal", "low"] | None = None
    # the upper bound is the service's (agents.service.MAX_DEADLINE_S), checked with param="deadline"
    deadline: float | None = Field(default=None, gt=0, description="seconds from now")
    on_active_run: Literal["reject", "enqueue", "interrupt"] | None = None


def run_object(rec: RunRecord) -> dict[str, Any]:
    body = rec.to_public()
    body["id"] = body.pop("run_id")
    body["object"] = "agent.run"
    body.pop("input", None)
    return body


class AgentsHolder:
    """Holds the RunService once the lifespan extension opened it."""

    def __init__(self) -> None:
        self.service: RunService | None = None

    def get(self) -> RunService:
        if self.service is None:
            raise AgentsUnavailableError("agents are not available: no Redis URL configured")
        return self.service

    def extension(self, *, agents_dir: str | Path = "config/agents", workers: int = 1,
                  policy: str = "priority", catalog: Any = None,
                  extra_tools: Callable[[], Sequence[Any]] = tuple,
                  ) -> Callable[[Any], AbstractAsyncContextManager[object]]:
        """A gateway lifespan extension: opens the agents runtime on the runtime's Redis with
        the routed dispatcher as the agents' ChatBackend, and ``workers`` in-process workers.
        ``catalog`` (an ``agents.tools.ToolCatalog``) answers ``kb_top_k`` / ``tag`` tool
        references; ``extra_tools()`` adds in-process tools (e.g. ``search_tools``)."""

        @contextlib.asynccontextmanager
        async def ext(rt: Any) -> AsyncIterator[object]:
            redis_url = rt.settings.redis_url
            if not redis_url:
                log.warning("agents disabled: SWITCHBOARD_REDIS_URL is not set")
                yield None
                return
            from agents.bootstrap import open_agents
            from agents.spec import load_agents

            specs = load_agents(agents_dir)
            slots = {d.name: d.max_concurrency for d in rt.config.deployments} or {"default": 8}
            async with open_agents(redis_url, specs, rt.dispatcher, rt.clock, workers=workers, slots=slots,
                                   policy=policy, catalog=catalog, extra_tools=extra_tools()) as agents_rt:
                self.service = agents_rt.service
                try:
                    yield agents_rt
                finally:
                    self.service = None

        return ext


async def _tenant(request: Request) -> str:
    rt = getattr(request.app.state, "runtime", None)
    keys = getattr(rt, "keys", None)
    if keys is None:
        return "default"
    principal = await keys.auth.authenticate(request.headers.get("authorization"))
    return str(principal.tenant)


def agents_api(holder: AgentsHolder) -> APIRouter:
    api = APIRouter(prefix="/v1/agents", tags=["agents"])

    @api.post("/{name}/runs", status_code=202)
    async def create_run(name: str, body: RunCreate, request: Request) -> JSONResponse:
        service = holder.get()
        tenant = await _tenant(request)
        rec, _ = await service.submit(name, body.input, thread_id=body.thread_id, priority=body.priority,
                                      deadline_s=body.deadline, on_active_run=body.on_active_run, tenant=tenant)
        return JSONResponse(run_object(rec), status_code=202)

    @api.get("/runs/{run_id}")
    async def get_run(run_id: str, request: Request) -> dict[str, Any]:
        await _tenant(request)
        return run_object(await holder.get().get(run_id))

    @api.post("/runs/{run_id}/cancel")
    async def cancel_run(run_id: str, request: Request) -> dict[str, Any]:
        await _tenant(request)
        return run_object(await holder.get().cancel(run_id))

    @api.post("/runs/{run_id}/suspend")
    async def suspend_run(run_id: str, request: Request) -> dict[str, Any]:
        await _tenant(request)
        return run_object(await holder.get().suspend(run_id))

    @api.post("/runs/{run_id}/resume")
    async def resume_run(run_id: str, request: Request) -> dict[str, Any]:
        await _tenant(request)
        return run_object(await holder.get().resume(run_id))

    @api.get("/runs/{run_id}/events")
    async def run_events(run_id: str, request: Request) -> StreamingResponse:
        await _tenant(request)
        service = holder.get()
        await service.get(run_id)  # 404 before the stream starts
        after = request.headers.get("last-event-id") or "0"

        async def sse() -> AsyncIterator[bytes]:
            try:
                async for eid, kind, data in service.events(run_id, after):
                    yield b"id: " + eid.encode() + b"\nevent: " + kind.encode() + b"\ndata: " + orjson.dumps(
                        data) + b"\n\n"
            except SwitchboardError as exc:
                yield b"data: " + orjson.dumps(exc.to_openai()) + b"\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    return api
