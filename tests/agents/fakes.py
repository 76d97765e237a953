"""A small deterministic ChatBackend for agent tests (a fake through the ChatBackend seam).

Its answer is a pure function of the request's messages: while fewer than ``tool_rounds`` tool
results are in the conversation it asks for the ``add`` tool (call id derived from the
conversation length), then it answers with the sum of the tool results.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from agents.streaming import assemble
from agents.tools import FunctionTool, ToolContext
from core.deadline import Deadline
from core.wire import ChatRequest, ChatResponse


class ScriptedAgentBackend:
    def __init__(self, tool_rounds: int = 3, delay_s: float = 0.0) -> None:
        self.tool_rounds = tool_rounds
        self.delay_s = delay_s
        self.calls = 0

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        msgs = request.messages
        results = [m for m in msgs if m.get("role") == "tool"]
        user = next((str(m.get("content")) for m in reversed(msgs) if m.get("role") == "user"), "")
        if len(results) < self.tool_rounds:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{len(msgs)}",
                        "type": "function",
                        "function": {
                            "name": "add",
                            "arguments": json.dumps({"a": len(results), "b": len(user)}),
                        },
                    }
                ],
            }
        else:
            total = sum(int(str(m.get("content"))) for m in results if str(m.get("content")).isdigit())
            message = {"role": "assistant", "content": f"total={total} for {user!r}"}
        body = {
            "id": f"fake-{self.calls}",
            "object": "chat.completion",
            "model": request.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10 * len(msgs), "completion_tokens": 5},
        }
        return ChatResponse(body, deployment="fake")

    async def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        response = await self.complete(request, deadline)
        yield {"choices": [{"index": 0, "delta": response.body["choices"][0]["message"]}]}

    async def aclose(self) -> None:
        return None


class StreamingScriptedBackend(ScriptedAgentBackend):
    """The same answers, also as a token stream (agents.streaming.StepStreamer): content in
    3-character chunks, a tool call in two deltas (name, then arguments), a usage chunk, then the
    assembled response."""

    async def stream_step(
        self, request: ChatRequest, deadline: Deadline
    ) -> AsyncIterator[dict[str, Any] | ChatResponse]:
        response = await self.complete(request, deadline)
        message = response.body["choices"][0]["message"]
        chunks: list[dict[str, Any]] = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        text = message.get("content") or ""
        chunks += [
            {"choices": [{"index": 0, "delta": {"content": text[i : i + 3]}}]} for i in range(0, len(text), 3)
        ]
        for i, call in enumerate(message.get("tool_calls") or []):
            fn = call["function"]
            chunks.append(
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": i,
                                        "id": call["id"],
                                        "type": "function",
                                        "function": {"name": fn["name"], "arguments": ""},
                                    }
                                ]
                            },
                        }
                    ]
                }
            )
            chunks.append(
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [{"index": i, "function": {"arguments": fn["arguments"]}}]
                            },
                        }
                    ]
                }
            )
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        chunks.append({"choices": [], "usage": response.body["usage"]})
        for chunk in chunks:
            yield chunk
        yield ChatResponse(assemble(chunks, request.model), deployment=response.deployment)


def add_tool(effects: list[str]) -> FunctionTool:
    """``add(a, b)``; every real execution is appended to ``effects`` (its idempotency key)."""

    async def fn(args: Mapping[str, Any], ctx: ToolContext) -> str:
        effects.append(ctx.idempotency_key)
        return str(int(args["a"]) + int(args["b"]))

    return FunctionTool(
        "add",
        "Add two integers.",
        fn,
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    )
