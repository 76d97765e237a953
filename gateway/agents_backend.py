"""The routed dispatcher as the agents' ChatBackend, with token streaming for LLM steps.

``RoutedAgentBackend(dispatcher)`` is what the agents runtime is handed in the gateway and in
``switchboard worker``: ``complete`` / ``stream`` are the dispatcher's, and ``stream_step``
(agents.streaming.StepStreamer) plans the step once, then streams it on the deployment the plan
picked (retries and fallbacks until the first chunk, as for a client stream) and ends with the
assembled ChatResponse carrying the usage and that deployment, so the step is priced exactly as
a non-streamed one (an upstream that sends no usage on streams gets an estimate: prompt ~4
characters per token, one completion token per content chunk). A policy whose plan is a cascade (cheap first, escalate on the whole answer)
is not streamable: it runs non-streamed and yields only its final response.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from agents.streaming import assemble
from core.deadline import Deadline
from core.errors import SwitchboardError, UnknownModelError, UpstreamRejectedError, UpstreamUnavailableError
from core.wire import ChatRequest, ChatResponse
from gateway.dispatch import Dispatcher, RoutePlan
from gateway.route_inputs import estimate_prompt_tokens


class RoutedAgentBackend:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self._d = dispatcher

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        return await self._d.complete(request, deadline)

    def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        return self._d.stream(request, deadline)

    async def aclose(self) -> None:
        return None

    async def _plan(self, request: ChatRequest) -> RoutePlan:
        try:
            return await self._d.plan(request)
        except UnknownModelError as exc:  # as a backend, routing problems are upstream errors
            raise UpstreamRejectedError(exc.message) from exc
        except SwitchboardError as exc:
            raise UpstreamUnavailableError(exc.message) from exc

    async def stream_step(
        self, request: ChatRequest, deadline: Deadline
    ) -> AsyncIterator[dict[str, Any] | ChatResponse]:
        plan = await self._plan(request.with_body(stream=False))
        if plan.cascade is not None:
            yield (await self._d.run(plan, deadline)).response
            return
        streamed = plan.request.with_body(stream=True, stream_options={"include_usage": True})
        opened = await self._d.open_stream(
            dataclasses.replace(plan, request=streamed, client_wants_usage=False), deadline
        )
        chunks: list[dict[str, Any]] = []
        try:
            async for chunk in opened:
                chunks.append(chunk)
                yield chunk
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
        yield ChatResponse(body, opened.entry.name)
