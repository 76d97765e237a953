"""The routed dispatcher as the agents' ChatBackend, with token streaming for LLM steps.

``RoutedAgentBackend(dispatcher, metrics=, decisions=)`` is what the agents runtime is handed in
the gateway and in ``switchboard worker``: ``complete`` plans and runs a step through the
dispatcher, and ``stream_step`` (agents.streaming.StepStreamer) plans the step once, then streams
it on the deployment the plan picked (retries and fallbacks until the first chunk, as for a client
stream) and ends with the assembled ChatResponse carrying the usage and that deployment, so the
step is priced exactly as a non-streamed one (an upstream that sends no usage on streams gets an
estimate: prompt ~4 characters per token, one completion token per content chunk). A policy whose
plan is a cascade (cheap first, escalate on the whole answer) is not streamable: it runs
non-streamed and yields only its final response.

Observability: every LLM step counts like a gateway request with ``endpoint="agent_step"``: the
routing decision counter, and ``GatewayMetrics.request_done`` / ``request_failed`` (requests,
latency, TTFT, tokens, cost and errors by policy and deployment), whose listeners include the
dashboard's decision log; the log entry is begun with the plan, the run id as its request id and
the agent's name (from the request metadata the agents graph sets: ``agent``, ``run_id``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

from agents.streaming import assemble
from core.deadline import Deadline
from core.errors import SwitchboardError, UnknownModelError, UpstreamRejectedError, UpstreamUnavailableError
from core.wire import ChatRequest, ChatResponse, Usage
from gateway.decision_log import DecisionLog
from gateway.dispatch import Dispatcher, RoutePlan
from gateway.metrics import GatewayMetrics
from gateway.route_inputs import estimate_prompt_tokens

ENDPOINT = "agent_step"


class RoutedAgentBackend:
    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        metrics: GatewayMetrics | None = None,
        decisions: DecisionLog | None = None,
    ) -> None:
        self._d = dispatcher
        self._metrics = metrics
        self._decisions = decisions

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        t0 = time.perf_counter()
        return await self._run_recorded(await self._plan(request), deadline, t0)

    def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        return self._d.stream(request, deadline)

    async def aclose(self) -> None:
        return None

    async def stream_step(
        self, request: ChatRequest, deadline: Deadline
    ) -> AsyncIterator[dict[str, Any] | ChatResponse]:
        t0 = time.perf_counter()
        plan = await self._plan(request.with_body(stream=False))
        if plan.cascade is not None:
            yield await self._run_recorded(plan, deadline, t0)
            return
        streamed = plan.request.with_body(stream=True, stream_options={"include_usage": True})
        try:
            opened = await self._d.open_stream(
                dataclasses.replace(plan, request=streamed, client_wants_usage=False), deadline
            )
        except BaseException as exc:
            self._failed(plan.policy_label, "", exc)
            raise
        chunks: list[dict[str, Any]] = []
        try:
            async for chunk in opened:
                chunks.append(chunk)
                yield chunk
        except BaseException as exc:
            self._failed(plan.policy_label, opened.entry.name, exc)
            raise
        finally:
            await opened.aclose()
        body = assemble(chunks)
        if opened.usage is not None:
            body["usage"] = opened.usage
        else:  # an upstream that ignores stream_options (llama.cpp's server): estimate, never 0
            body["usage"] = {
                "prompt_tokens": estimate_prompt_tokens(plan.request.body),
                "completion_tokens": opened.content_chunks,
                "estimated": True,
            }
        response = ChatResponse(body, opened.entry.name)
        self._done(plan, opened.entry.name, response.usage, t0, opened.ttft_s)
        yield response

    # -- planning and recording ------------------------------------------------------------------
    async def _run_recorded(self, plan: RoutePlan, deadline: Deadline, t0: float) -> ChatResponse:
        """Run ``plan`` non-streamed (retries, fallbacks, cascade) and record it as a request."""
        try:
            done = await self._d.run(plan, deadline)
        except BaseException as exc:
            self._failed(plan.policy_label, "", exc)
            raise
        self._done(plan, done.entry.name, done.response.usage, t0, None)
        return done.response

    async def _plan(self, request: ChatRequest) -> RoutePlan:
        try:
            plan = await self._d.plan(request)
        except SwitchboardError as exc:
            self._failed("", "", exc)
            if isinstance(exc, UnknownModelError):  # as a backend, routing problems are upstream errors
                raise UpstreamRejectedError(exc.message) from exc
            raise UpstreamUnavailableError(exc.message) from exc
        if self._metrics is not None:
            self._metrics.decision(plan.policy_label, plan.decision.ranked[0], plan.decision.router)
        if self._decisions is not None:
            meta = request.metadata
            self._decisions.begin(
                plan, {"state": {"request_id": str(meta.get("run_id", ""))}}, agent=str(meta.get("agent", ""))
            )
        return plan

    def _done(self, plan: RoutePlan, deployment: str, usage: Usage, t0: float, ttft_s: float | None) -> None:
        if self._metrics is None:
            return
        cost = plan.snapshot.cost_usd(deployment, usage.prompt_tokens, usage.completion_tokens)
        self._metrics.request_done(
            ENDPOINT,
            plan.policy_label,
            deployment,
            200,
            time.perf_counter() - t0,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_usd=cost,
            ttft_s=ttft_s,
        )

    def _failed(self, policy: str, deployment: str, exc: BaseException) -> None:
        if self._metrics is None:
            return
        if isinstance(exc, SwitchboardError):
            status, code = exc.status, exc.code or exc.type
        elif isinstance(exc, (asyncio.CancelledError, GeneratorExit)):  # run stopped or preempted
            status, code = 499, "cancelled"
        else:
            status, code = 500, "internal_error"
        self._metrics.request_failed(ENDPOINT, policy, deployment, status, code)
