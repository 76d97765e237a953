"""POST /v1/chat/completions — non-streaming JSON and SSE streaming.

Order per request: parse + validate → authenticate + admit (B) → take the config snapshot →
plan (policy, constraints, selector) → optional tool selection (E) → dispatch inside one deadline
→ record spend, metrics → respond with routing headers. Every failure is OpenAI error JSON; after
SSE headers are out, a failure is one ``data: {"error": …}`` event.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from core.deadline import Deadline
from core.errors import SwitchboardError
from core.wire import ChatRequest, Usage
from gateway.api.common import Admitted, admit, route_headers, runtime_of, settle
from gateway.api.validation import parse_json_object, validate_chat
from gateway.dispatch import OpenedStream, RoutePlan
from gateway.http_errors import error_response
from gateway.route_inputs import estimate_prompt_tokens, max_output_tokens
from gateway.runtime import Runtime
from gateway.streaming import ClientDisconnected, SSEResponse, cancel_on_disconnect, sse_events

ENDPOINT = "chat"


async def plan_chat(rt: Runtime, request: Request, body: dict[str, Any], who: Admitted) -> RoutePlan:
    """Plan a validated chat body for an admitted caller (shared with /v1/completions)."""
    metadata = body.get("metadata")
    creq = ChatRequest(body, tenant=who.principal.tenant, metadata=metadata if isinstance(metadata, dict) else {})
    plan = await rt.dispatcher.plan(creq, snapshot=rt.snapshot, caller=who.caller, headers=request.headers)
    hook = rt.hooks.tool_selector
    if hook is not None and plan.request.body.get("tools"):
        new_body = await hook(plan.request.body, plan.policy)
        plan = dataclasses.replace(plan, request=dataclasses.replace(plan.request, body=new_body))
    rt.metrics.decision(plan.policy_label, plan.decision.ranked[0], plan.decision.router)
    return plan


async def chat_completions(request: Request) -> Response:
    rt = runtime_of(request)
    t0 = time.perf_counter()
    plan: RoutePlan | None = None
    deployment = ""
    try:
        body = parse_json_object(await request.body())
        model = validate_chat(body)
        est = estimate_prompt_tokens(body) + (max_output_tokens(body) or 0)
        who = await admit(rt, request, model, est)
        plan = await plan_chat(rt, request, body, who)
        deadline = Deadline.after(plan.snapshot.config.settings.request_timeout_s, rt.clock)
        if plan.request.stream:
            opened = await cancel_on_disconnect(rt.dispatcher.open_stream(plan, deadline), request.receive)
            return stream_response(rt, who, plan, opened, t0, ENDPOINT, sse_events(opened.__aiter__()))
        done = await cancel_on_disconnect(rt.dispatcher.run(plan, deadline), request.receive)
        deployment = done.entry.name
        usage = done.response.usage
        cost = plan.snapshot.cost_usd(deployment, usage.prompt_tokens, usage.completion_tokens)
        await settle(rt, who, usage, cost)
        rt.metrics.request_done(ENDPOINT, plan.policy_label, deployment, 200, time.perf_counter() - t0,
                                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                                cost_usd=cost)
        return Response(orjson.dumps(done.response.body), media_type="application/json",
                        headers=route_headers(plan, done.entry, cost))
    except ClientDisconnected:
        rt.metrics.request_failed(ENDPOINT, plan.policy_label if plan else "", deployment, 499, "client_closed")
        return Response(status_code=499)
    except SwitchboardError as exc:
        rt.metrics.request_failed(ENDPOINT, plan.policy_label if plan else "", deployment, exc.status,
                                  exc.code or exc.type)
        return error_response(exc)


def stream_response(
    rt: Runtime,
    who: Admitted,
    plan: RoutePlan,
    opened: OpenedStream,
    t0: float,
    endpoint: str,
    events: AsyncIterator[bytes],
) -> SSEResponse:
    """An SSE response over ``events``; when it ends (finished, failed or client gone) the usage
    is settled and metrics recorded."""
    name = opened.entry.name

    async def on_close() -> None:
        await opened.aclose()
        usage = Usage.from_openai(opened.usage)
        cost = plan.snapshot.cost_usd(name, usage.prompt_tokens, usage.completion_tokens)
        try:
            await settle(rt, who, usage, cost)
        except SwitchboardError:
            pass  # the answer is already out; a store hiccup must not turn into a crash here
        if response.disconnected:
            rt.metrics.request_failed(endpoint, plan.policy_label, name, 499, "client_closed")
        elif opened.failed is not None:
            rt.metrics.request_failed(endpoint, plan.policy_label, name, 200, opened.failed.code or "error")
        else:
            rt.metrics.request_done(endpoint, plan.policy_label, name, 200, time.perf_counter() - t0,
                                    prompt_tokens=usage.prompt_tokens,
                                    completion_tokens=usage.completion_tokens, cost_usd=cost,
                                    ttft_s=opened.ttft_s)

    response = SSEResponse(events, route_headers(plan, opened.entry, None), on_close)
    return response
