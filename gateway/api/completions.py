"""POST /v1/completions — the legacy text completion API, served through the chat path.

The prompt becomes one user message, so every deployment kind (and every policy, retry and
fallback) serves it; the answer is reshaped into ``text_completion`` objects. Several prompts run
concurrently and their choices are numbered in order. ``echo`` prepends the prompt; ``suffix``,
``best_of`` and integer ``logprobs`` have no chat equivalent and are dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from core.deadline import Deadline
from core.errors import InvalidRequestError, SwitchboardError
from core.wire import ChatResponse
from gateway.api.chat import plan_chat, stream_response
from gateway.api.common import admit, route_headers, runtime_of, settle
from gateway.api.validation import parse_json_object, validate_completion
from gateway.dispatch import Completed, OpenedStream
from gateway.http_errors import error_response
from gateway.route_inputs import max_output_tokens
from gateway.streaming import ClientDisconnected, SSEResponse, cancel_on_disconnect, sse_events

ENDPOINT = "completions"
_DROP = ("prompt", "suffix", "echo", "best_of", "logprobs")


def _chat_body(body: dict[str, Any], prompt: str) -> dict[str, Any]:
    chat = {k: v for k, v in body.items() if k not in _DROP}
    chat["messages"] = [{"role": "user", "content": prompt}]
    return chat


def _choices(resp: ChatResponse, index: int, prefix: str) -> list[dict[str, Any]]:
    out = []
    for i, c in enumerate(resp.body.get("choices") or []):
        msg = c.get("message") or {}
        content = msg.get("content")
        text = content if isinstance(content, str) else ""
        out.append({"text": prefix + text, "index": index + i, "logprobs": None,
                    "finish_reason": c.get("finish_reason")})
    return out


async def _text_chunks(opened: OpenedStream, prefix: str) -> AsyncIterator[dict[str, Any]]:
    first = True
    async for chunk in opened:
        choices = []
        for c in chunk.get("choices") or []:
            delta = c.get("delta") or {}
            content = delta.get("content")
            text = content if isinstance(content, str) else ""
            if first and prefix:
                text, first = prefix + text, False
            choices.append({"text": text, "index": c.get("index", 0), "logprobs": None,
                            "finish_reason": c.get("finish_reason")})
        out: dict[str, Any] = {"id": chunk.get("id", ""), "object": "text_completion",
                               "created": chunk.get("created", 0), "model": chunk.get("model", ""),
                               "choices": choices}
        if chunk.get("usage") is not None:
            out["usage"] = chunk["usage"]
        yield out


async def completions(request: Request) -> Response | SSEResponse:
    rt = runtime_of(request)
    t0 = time.perf_counter()
    try:
        body = parse_json_object(await request.body())
        model = validate_completion(body)
        raw_prompt = body["prompt"]
        prompts = [raw_prompt] if isinstance(raw_prompt, str) else list(raw_prompt)
        echo = bool(body.get("echo"))
        if body.get("stream") and len(prompts) > 1:
            raise InvalidRequestError("Streaming supports one prompt per request.", param="prompt")
        est = sum(len(p) for p in prompts) // 4 + (max_output_tokens(body) or 0) * len(prompts)
        who = await admit(rt, request.headers.get("authorization"), model, est)
        plans = [await plan_chat(rt, request.headers, _chat_body(body, p), who) for p in prompts]
        deadline = Deadline.after(plans[0].snapshot.config.settings.request_timeout_s, rt.clock)
        if body.get("stream"):
            plan = plans[0]
            opened = await cancel_on_disconnect(rt.dispatcher.open_stream(plan, deadline), request.receive)
            events = sse_events(_text_chunks(opened, prompts[0] if echo else ""))
            return stream_response(rt, who, plan, opened, t0, ENDPOINT, events)
        runs = asyncio.gather(*(rt.dispatcher.run(p, deadline) for p in plans))
        done: list[Completed] = await cancel_on_disconnect(runs, request.receive)
    except ClientDisconnected:
        return Response(status_code=499)
    except SwitchboardError as exc:
        rt.metrics.request_failed(ENDPOINT, "", "", exc.status, exc.code or exc.type)
        return error_response(exc)
    choices: list[dict[str, Any]] = []
    prompt_tokens = completion_tokens = 0
    cost = 0.0
    for d, prompt in zip(done, prompts, strict=True):
        choices += _choices(d.response, len(choices), prompt if echo else "")
        u = d.response.usage
        prompt_tokens += u.prompt_tokens
        completion_tokens += u.completion_tokens
        cost += plans[0].snapshot.cost_usd(d.entry.name, u.prompt_tokens, u.completion_tokens)
    first = done[0]
    usage = first.response.usage.__class__(prompt_tokens, completion_tokens)
    try:
        await settle(rt, who, usage, cost)
    except SwitchboardError as exc:
        return error_response(exc)
    rt.metrics.request_done(ENDPOINT, plans[0].policy_label, first.entry.name, 200, time.perf_counter() - t0,
                            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=cost)
    out = {
        "id": "cmpl-" + str(first.response.body.get("id", "")).removeprefix("chatcmpl-"),
        "object": "text_completion",
        "created": first.response.body.get("created", int(time.time())),
        "model": first.response.body.get("model", model),
        "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
    return Response(orjson.dumps(out), media_type="application/json",
                    headers=route_headers(plans[0], first.entry, cost))
