"""POST /v1/chat/completions — non-streaming JSON and SSE streaming.

Order per request: parse + validate → authenticate + admit (B) → take the config snapshot →
plan (policy, constraints, selector) → optional tool selection (E) → dispatch inside one deadline
→ record spend, metrics → respond with routing headers. Every failure is OpenAI error JSON; after
SSE headers are out, a failure is one ``data: {"error": …}`` event.

:func:`chat_asgi` is a raw ASGI endpoint: the app hands ``POST /v1/chat/completions`` to it
before Starlette's middleware and router (see ``gateway.app.GatewayApp``), so it does the request
context work itself (request id, body limit → 413, ``server-timing``) and an unexpected error
becomes a 500 ``api_error`` here.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from core.deadline import Deadline
from core.errors import PayloadTooLargeError, SwitchboardError
from core.wire import ChatRequest, Usage
from gateway.api.common import Admitted, admit, read_body, route_headers_raw, settle
from gateway.api.validation import parse_json_object, validate_chat
from gateway.dispatch import OpenedStream, RoutePlan
from gateway.http_errors import error_body, error_response
from gateway.middleware import request_id_and_length, server_timing
from gateway.route_inputs import estimate_prompt_tokens, max_output_tokens
from gateway.runtime import Runtime
from gateway.streaming import ClientDisconnected, SSEResponse, cancel_on_disconnect, sse_events
from gateway.tool_request import kept_headers

ENDPOINT = "chat"
_DEFAULT_MAX_BODY = 4 * 1024 * 1024
_JSON = (b"content-type", b"application/json")
# opt-in (a strict client may expect only ``data:`` lines): the stream's cost as a trailing comment
HDR_STREAM_COST = "x-switchboard-stream-cost"
log = logging.getLogger("switchboard.errors")


async def plan_chat(rt: Runtime, headers: Mapping[str, str], body: dict[str, Any], who: Admitted) -> RoutePlan:
    """Plan a validated chat body for an admitted caller (shared with /v1/completions)."""
    metadata = body.get("metadata")
    creq = ChatRequest(body, tenant=who.principal.tenant, metadata=metadata if isinstance(metadata, dict) else {})
    plan = await rt.dispatcher.plan(creq, snapshot=rt.snapshot, caller=who.caller, headers=headers)
    learner = rt.hooks.tool_learner
    if learner is not None and plan.snapshot.config.tools.learn_from_logs:
        learner(body, who.principal.tenant)
    hook = rt.hooks.tool_selector
    if hook is not None and hook.wanted(plan.request.body, plan.policy, headers):
        new_body, kept = await hook(plan.request.body, plan.policy, headers, who.principal.tenant)
        if new_body.get("tools") and not plan.request.body.get("tools"):
            # The KB added tools to a request that had none: route again, so only deployments
            # that can call tools (and fit the longer prompt) qualify.
            creq = dataclasses.replace(creq, body=new_body)
            plan = await rt.dispatcher.plan(creq, snapshot=plan.snapshot, caller=who.caller, headers=headers)
        plan = dataclasses.replace(plan, request=dataclasses.replace(plan.request, body=new_body),
                                   extra_headers=(*plan.extra_headers, *kept_headers(kept)))
    rt.metrics.decision(plan.policy_label, plan.decision.ranked[0], plan.decision.router)
    return plan


def _max_body(rt: Runtime | None) -> int:
    if rt is None or rt.reloader is None or not rt.reloader.loaded:
        return _DEFAULT_MAX_BODY
    return rt.snapshot.config.settings.max_body_bytes


async def chat_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """The raw ASGI endpoint for ``POST /v1/chat/completions``."""
    t0 = time.perf_counter()
    rid, length = request_id_and_length(scope["headers"])
    scope.setdefault("state", {})["request_id"] = rid.decode()
    ctx = [(b"x-request-id", rid)]

    async def send_ctx(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *ctx, (b"server-timing", server_timing(t0))]
        await send(message)

    rt: Runtime | None = getattr(scope["app"].state, "runtime", None)
    try:
        if rt is None:
            raise RuntimeError("runtime not started (lifespan not run)")
        limit = _max_body(rt)
        if length is not None and length > limit:
            exc = PayloadTooLargeError(f"The request body exceeds the limit of {limit} bytes.")
            await error_response(exc, {"connection": "close"})(scope, receive, send_ctx)
            return
        raw = await read_body(receive, limit)
        await _chat(rt, scope, receive, send, raw, t0, ctx)
    except SwitchboardError as exc:
        if rt is not None:
            rt.metrics.request_failed(ENDPOINT, "", "", exc.status, exc.code or exc.type)
        await error_response(exc)(scope, receive, send_ctx)
    except Exception as exc:  # a bug must still answer OpenAI-shaped, like the app's error handler
        log.error("unhandled error in request %s", rid.decode(), exc_info=exc)
        body = error_body("The server had an error while processing your request.", "api_error",
                          "internal_error")
        await send_ctx({"type": "http.response.start", "status": 500,
                        "headers": [_JSON, (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})


async def _chat(rt: Runtime, scope: Scope, receive: Receive, send: Send, raw: bytes, t0: float,
                ctx: list[tuple[bytes, bytes]]) -> None:
    plan: RoutePlan | None = None
    deployment = ""
    try:
        body = parse_json_object(raw)
        model = validate_chat(body)
        est = estimate_prompt_tokens(body) + (max_output_tokens(body) or 0)
        headers = Headers(scope=scope)
        who = await admit(rt, headers.get("authorization"), model, est)
        plan = await plan_chat(rt, headers, body, who)
        rt.decisions.begin(plan, scope)  # the dashboard's decision log joins it with the outcome
        deadline = Deadline.after(plan.snapshot.config.settings.request_timeout_s, rt.clock)
        if plan.request.stream:
            opened = await cancel_on_disconnect(rt.dispatcher.open_stream(plan, deadline), receive)
            wants_cost = headers.get(HDR_STREAM_COST, "").lower() in ("1", "true", "yes")
            events = sse_events(opened.__aiter__(), cost_trailer(opened) if wants_cost else None)
            response = stream_response(rt, who, plan, opened, t0, ENDPOINT, events,
                                       extra_headers=[*ctx, (b"server-timing", server_timing(t0))])
            await response(scope, receive, send)
            return
        done = await cancel_on_disconnect(rt.dispatcher.run(plan, deadline), receive)
        deployment = done.entry.name
        usage = done.response.usage
        cost = plan.snapshot.cost_usd(deployment, usage.prompt_tokens, usage.completion_tokens)
        await settle(rt, who, usage, cost)
        rt.metrics.request_done(ENDPOINT, plan.policy_label, deployment, 200, time.perf_counter() - t0,
                                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                                cost_usd=cost)
        out = orjson.dumps(done.response.body)
        headers_out = [_JSON, (b"content-length", b"%d" % len(out)), *route_headers_raw(plan, done.entry, cost),
                       *ctx, (b"server-timing", server_timing(t0))]
        await send({"type": "http.response.start", "status": 200, "headers": headers_out})
        await send({"type": "http.response.body", "body": out})
    except ClientDisconnected:
        rt.metrics.request_failed(ENDPOINT, plan.policy_label if plan else "", deployment, 499, "client_closed")
    except SwitchboardError as exc:
        rt.metrics.request_failed(ENDPOINT, plan.policy_label if plan else "", deployment, exc.status,
                                  exc.code or exc.type)
        hdrs = {k.decode(): v.decode() for k, v in ctx}
        hdrs["server-timing"] = server_timing(t0).decode()
        await error_response(exc, hdrs)(scope, receive, send)


def cost_trailer(opened: OpenedStream) -> Callable[[], bytes | None]:
    """The stream's cost as an SSE comment before ``[DONE]`` (``: x-switchboard-cost-usd=…``),
    sent when the request has ``x-switchboard-stream-cost: true``: the cost header cannot carry
    it, since headers go out before the usage is known."""

    def trailer() -> bytes | None:
        usage = Usage.from_openai(opened.usage)
        cost = opened.plan.snapshot.cost_usd(opened.entry.name, usage.prompt_tokens, usage.completion_tokens)
        return b": x-switchboard-cost-usd=%.8f\n\n" % cost

    return trailer


def stream_response(
    rt: Runtime,
    who: Admitted,
    plan: RoutePlan,
    opened: OpenedStream,
    t0: float,
    endpoint: str,
    events: AsyncIterator[bytes],
    *,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
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

    raw = route_headers_raw(plan, opened.entry, None)
    if extra_headers:
        raw += extra_headers
    response = SSEResponse(events, raw_headers=raw, on_close=on_close)
    return response
