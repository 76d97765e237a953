"""Token streaming for LLM steps: an optional backend capability and the assembly of chunks.

A ChatBackend that also implements :class:`StepStreamer` lets the ReAct graph stream a step:
``stream_step`` yields the OpenAI chunks as they arrive and then exactly one
:class:`core.wire.ChatResponse` (the assembled completion, with usage and the deployment that
answered, so the step is priced as a non-streamed one would be). The graph hands the text to
``TOKEN_SINK`` (the run's event stream: ``token`` events). Backends without it are called with ``complete``.

:func:`assemble` turns chunks into a ``chat.completion`` body: content concatenated, tool calls
merged by ``index`` (id, name, arguments concatenated), the last ``usage`` seen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import Any, Protocol, runtime_checkable

from core.deadline import Deadline
from core.wire import ChatRequest, ChatResponse

# Where a streamed step's text goes: set by the executor around a run's graph stream (a context
# variable, inherited by langgraph's node tasks; langgraph's own custom stream mode is not used:
# with several stream modes, closing the stream at a step boundary loses the boundary checkpoint).
TOKEN_SINK: ContextVar[Callable[[str], Awaitable[None]] | None] = ContextVar(
    "agents_token_sink", default=None
)


@runtime_checkable
class StepStreamer(Protocol):
    def stream_step(
        self, request: ChatRequest, deadline: Deadline
    ) -> AsyncIterator[dict[str, Any] | ChatResponse]:
        """Chunks as they arrive, then one ChatResponse. Raises core.errors.UpstreamError."""
        ...


def delta_text(chunk: dict[str, Any]) -> str:
    """The content text a chunk adds (empty for role, tool-call and usage chunks)."""
    out = []
    for choice in chunk.get("choices") or []:
        content = (choice.get("delta") or {}).get("content")
        if isinstance(content, str):
            out.append(content)
    return "".join(out)


def assemble(chunks: Iterable[dict[str, Any]], model: str = "") -> dict[str, Any]:
    """One ``chat.completion`` body from the chunks of choice 0."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    usage: dict[str, Any] | None = None
    role = "assistant"
    for chunk in chunks:
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        model = model or str(chunk.get("model") or "")
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            role = str(delta.get("role") or role)
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            for tc in delta.get("tool_calls") or []:
                call = calls.setdefault(
                    int(tc.get("index", len(calls))),
                    {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                )
                call["id"] = tc.get("id") or call["id"]
                fn = tc.get("function") or {}
                call["function"]["name"] += fn.get("name") or ""
                call["function"]["arguments"] += fn.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    message: dict[str, Any] = {"role": role, "content": "".join(content) if content or not calls else None}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    body: dict[str, Any] = {
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish or "stop"}],
    }
    if usage is not None:
        body["usage"] = usage
    return body
