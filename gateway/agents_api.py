"""The agents HTTP API (an APIRouter) and the lifespan extension that opens the agents runtime.

    POST /v1/agents/{name}/runs          {input, thread_id?, priority?, deadline?, on_active_run?} → 202 run
    GET  /v1/agents/runs                 ?agent=&state=&limit= → {object: list, data: [run], has_more}
    GET  /v1/agents/runs/{run_id}        state, steps, usage, cost_usd, output
    GET  /v1/agents/runs/{run_id}/events SSE: status / step / done events (Last-Event-ID resumes)
    POST /v1/agents/runs/{run_id}/cancel | /suspend | /resume

Wiring (lead)::

    holder = AgentsHolder()
    hooks.extensions = [*hooks.extensions, holder.extension(agents_dir="config/agents", workers=1)]
    extra_routers = [agents_api(holder)]

Tenancy: a virtual key sees and controls only its tenant's runs (another tenant's run is 404, as
an unknown one); the master key (and an app without key services) sees every run.

With SWITCHBOARD_REDIS_URL the runs live in Redis (shared with ``switchboard worker`` processes).
Without it agents run embedded in this process (in-process run queue; runs, tool results and
checkpoints in SQLite beside the state file), opened on the first agents request so gateway start-up does not import
langgraph. Errors are core.errors types, rendered as OpenAI error JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from core.errors import BudgetExceededError, InvalidRequestError, NotFoundError, SwitchboardError
from core.wire import Usage
from gateway.auth import ANONYMOUS_KEY_ID, MASTER_KEY_ID, Principal

if TYPE_CHECKING:  # the agents runtime (langgraph: ~1.5 s to import) loads only when first needed
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
    """Holds the RunService once the lifespan extension opened it (embedded: on first use)."""

    def __init__(self) -> None:
        self.service: RunService | None = None
        self._open: Callable[[], Coroutine[Any, Any, RunService]] | None = None
        self._opening: asyncio.Task[RunService] | None = None

    async def aget(self) -> RunService:
        """The service; opens the embedded runtime on the first call. Raises AgentsUnavailableError."""
        if self.service is not None:
            return self.service
        if self._open is None:
            raise AgentsUnavailableError("agents are not available (the agents runtime is not configured)")
        if self._opening is None:
            self._opening = asyncio.get_running_loop().create_task(self._open(), name="agents-open")
        try:  # shielded: a client that goes away does not cancel the opening for everyone else
            return await asyncio.shield(self._opening)
        except SwitchboardError:
            raise
        except Exception as exc:
            raise AgentsUnavailableError(f"agents could not start ({type(exc).__name__})") from exc

    def extension(
        self,
        *,
        agents_dir: str | Path = "config/agents",
        workers: int = 1,
        policy: str = "priority",
        catalog: Any = None,
        extra_tools: Callable[[], Sequence[Any]] = tuple,
    ) -> Callable[[Any], AbstractAsyncContextManager[object]]:
        """A gateway lifespan extension: opens the agents runtime with the routed dispatcher as the
        agents' ChatBackend (``RoutedAgentBackend``: LLM steps stream their tokens), ``workers``
        in-process workers (at least one when embedded), the runtime's PriceBook pricing every
        LLM step and the key services charging it (and stopping a run whose key's budget ran out
        at its next step boundary). With the runtime's Redis URL it opens at
        start-up; without one, embedded, on the first agents request (runs, tool results and
        checkpoints in SQLite beside the state file). ``catalog`` (an
        ``agents.tools.ToolCatalog``) answers ``kb_top_k`` / ``tag`` tool references;
        ``extra_tools()`` adds in-process tools (e.g. ``search_tools``)."""

        @contextlib.asynccontextmanager
        async def ext(rt: Any) -> AsyncIterator[object]:
            from agents.spec import load_agents  # light: pydantic + core.config
            from gateway.agents_backend import RoutedAgentBackend  # light: agents.streaming

            specs = load_agents(agents_dir)  # bad agent YAML fails start-up, with positions
            redis_url = rt.settings.redis_url
            slots = {d.name: d.max_concurrency for d in rt.config.deployments} or {"default": 8}

            def cost(deployment: str, prompt_tokens: int, completion_tokens: int) -> float:
                return float(rt.snapshot.cost_usd(deployment, prompt_tokens, completion_tokens))

            def open_agents(bootstrap: Any, *, embedded: bool) -> AbstractAsyncContextManager[Any]:
                state_path = rt.settings.state_path
                return bootstrap.open_agents(  # type: ignore[no-any-return]
                    None if embedded else redis_url,
                    specs,
                    RoutedAgentBackend(rt.dispatcher, metrics=rt.metrics, decisions=rt.decisions),
                    rt.clock,
                    workers=max(1, workers) if embedded else workers,
                    slots=slots,
                    policy=policy,
                    catalog=catalog,
                    extra_tools=extra_tools(),
                    cost=cost,
                    on_spend=key_spend_recorder(rt),
                    key_check=key_budget_check(rt),
                    checkpoint_path=Path(state_path).parent / "agents-checkpoints.sqlite"
                    if state_path
                    else None,
                    runs_path=Path(state_path).parent / "agents-runs.sqlite" if state_path else None,
                    retention_s=getattr(rt.settings, "agents_retention_s", bootstrap.DEFAULT_RETENTION_S),
                )

            async with contextlib.AsyncExitStack() as stack:
                if redis_url:
                    from agents import bootstrap

                    agents_rt = await stack.enter_async_context(open_agents(bootstrap, embedded=False))
                    self.service = agents_rt.service
                else:
                    if getattr(rt.settings, "workers", 1) > 1:
                        log.warning(
                            "agents run embedded per process without SWITCHBOARD_REDIS_URL; with several "
                            "gateway workers a run is visible only in the process that accepted it"
                        )

                    async def open_embedded() -> RunService:
                        mod = await asyncio.to_thread(importlib.import_module, "agents.bootstrap")
                        agents_rt = await stack.enter_async_context(open_agents(mod, embedded=True))
                        self.service = agents_rt.service
                        log.info("agents running embedded (in-process run queue, no Redis)")
                        return agents_rt.service  # type: ignore[no-any-return]

                    self._open = open_embedded
                try:
                    yield self
                finally:
                    opening, self._opening, self._open, self.service = self._opening, None, None, None
                    if opening is not None:
                        with contextlib.suppress(Exception, asyncio.CancelledError):
                            await opening

        return ext


class Caller:
    """Who asks: ``tenant`` owns the runs it creates; ``scope`` is the tenant whose runs it may
    read and control (None: all, the master key); ``principal`` (None without key services)."""

    def __init__(self, tenant: str, scope: str | None, principal: Principal | None = None) -> None:
        self.tenant = tenant
        self.scope = scope
        self.principal = principal


async def _caller(request: Request) -> Caller:
    rt = getattr(request.app.state, "runtime", None)
    keys = getattr(rt, "keys", None)
    if keys is None:  # an app without key services (tests of the router alone): no tenancy
        return Caller("default", None)
    principal: Principal = await keys.auth.authenticate(request.headers.get("authorization"))
    return Caller(principal.tenant, None if principal.is_master else principal.tenant, principal)


def key_spend_recorder(rt: Any) -> Callable[[RunRecord, int, int, float], Coroutine[Any, Any, None]]:
    """``on_spend`` for the agents runtime: charges each LLM step of a run created with a virtual
    key to that key (spend per budget period, tokens-per-minute window), as the chat endpoint
    does for a request. Runs of the master key or of an open gateway are not charged."""

    async def record(rec: RunRecord, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        keys = rt.keys
        if keys is None or rec.key_id in ("", MASTER_KEY_ID, ANONYMOUS_KEY_ID):
            return
        principal = Principal.from_record(await keys.keys.get(rec.key_id))
        await keys.limiter.record(principal, Usage(prompt_tokens, completion_tokens), cost_usd)

    return record


def key_budget_check(rt: Any) -> Callable[[RunRecord], Coroutine[Any, Any, str | None]]:
    """``key_check`` for the agents runtime, asked for the key that created the run before its
    first step and at every step boundary: a revoked (or deleted) key stops the run with
    ``key revoked: …``, as the key would be refused on its next request; otherwise the admission
    path's budget check (``Limiter.check_budget``, the same test ``Limiter.admit`` makes), where
    a spent budget stops the run with ``budget exceeded: key budget exhausted: …``. Runs of the
    master key or of an open gateway have no key to check."""

    async def check(rec: RunRecord) -> str | None:
        keys = rt.keys
        if keys is None or rec.key_id in ("", MASTER_KEY_ID, ANONYMOUS_KEY_ID):
            return None
        try:
            key = await keys.keys.get(rec.key_id)
        except NotFoundError:
            return f"key revoked: the API key {rec.key_id!r} that started this run no longer exists"
        if key.revoked:
            return f"key revoked: the API key {rec.key_id!r} that started this run was revoked"
        principal = Principal.from_record(key)
        try:
            await keys.limiter.check_budget(principal)
        except BudgetExceededError as exc:
            return f"budget exceeded: key {exc.message[:1].lower()}{exc.message[1:]}"
        return None

    return check


_EVENT_ID = re.compile(r"\d{1,20}(-\d{1,20})?")


def agents_api(holder: AgentsHolder) -> APIRouter:
    api = APIRouter(prefix="/v1/agents", tags=["agents"])

    @api.post("/{name}/runs", status_code=202)
    async def create_run(name: str, body: RunCreate, request: Request) -> JSONResponse:
        caller = await _caller(request)
        service = await holder.aget()
        spec = service.agents.get(name)
        keys = getattr(getattr(request.app.state, "runtime", None), "keys", None)
        if spec is not None and keys is not None and caller.principal is not None:
            # the key may use the agent's policy, is within its budget and rate limits (one request)
            await keys.limiter.admit(caller.principal, spec.policy, len(body.input) // 4)
        rec, _ = await service.submit(
            name,
            body.input,
            thread_id=body.thread_id,
            priority=body.priority,
            deadline_s=body.deadline,
            on_active_run=body.on_active_run,
            tenant=caller.tenant,
            key_id=caller.principal.key_id if caller.principal is not None else "",
        )
        return JSONResponse(run_object(rec), status_code=202)

    @api.get("/runs")
    async def list_runs(
        request: Request, agent: str | None = None, state: str | None = None, limit: int = 20
    ) -> dict[str, Any]:
        caller = await _caller(request)
        runs, more = await (await holder.aget()).list_runs(
            tenant=caller.scope, agent=agent, status=state, limit=limit
        )
        return {"object": "list", "data": [run_object(r) for r in runs], "has_more": more}

    @api.get("/runs/{run_id}")
    async def get_run(run_id: str, request: Request) -> dict[str, Any]:
        caller = await _caller(request)
        return run_object(await (await holder.aget()).get(run_id, tenant=caller.scope))

    @api.post("/runs/{run_id}/cancel")
    async def cancel_run(run_id: str, request: Request) -> dict[str, Any]:
        caller = await _caller(request)
        return run_object(await (await holder.aget()).cancel(run_id, tenant=caller.scope))

    @api.post("/runs/{run_id}/suspend")
    async def suspend_run(run_id: str, request: Request) -> dict[str, Any]:
        caller = await _caller(request)
        return run_object(await (await holder.aget()).suspend(run_id, tenant=caller.scope))

    @api.post("/runs/{run_id}/resume")
    async def resume_run(run_id: str, request: Request) -> dict[str, Any]:
        caller = await _caller(request)
        return run_object(await (await holder.aget()).resume(run_id, tenant=caller.scope))

    @api.get("/runs/{run_id}/events")
    async def run_events(run_id: str, request: Request) -> StreamingResponse:
        caller = await _caller(request)
        service = await holder.aget()
        await service.get(run_id, tenant=caller.scope)  # 404 before the stream starts
        after = request.headers.get("last-event-id") or "0"
        if not _EVENT_ID.fullmatch(after):
            raise InvalidRequestError(
                "Last-Event-ID must be an event id from this stream", param="last-event-id"
            )

        async def sse() -> AsyncIterator[bytes]:
            try:
                async for eid, kind, data in service.events(run_id, after, tenant=caller.scope):
                    yield (
                        b"id: "
                        + eid.encode()
                        + b"\nevent: "
                        + kind.encode()
                        + b"\ndata: "
                        + orjson.dumps(data)
                        + b"\n\n"
                    )
            except NotFoundError:  # forgotten while streaming (embedded store bound): end the stream
                return
            except SwitchboardError as exc:
                yield b"data: " + orjson.dumps(exc.to_openai()) + b"\n\n"

        return StreamingResponse(
            sse(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    return api
