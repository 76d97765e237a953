"""A deterministic ChatBackend for tests: answers from a script, records what it was asked.

``ScriptedChatBackend(rules)``: ``rules`` is a list of (needles, reply); the first rule whose
needles (one string or a tuple of them) all occur in the last user message answers (``default``
otherwise). No model, no network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from core.deadline import Deadline
from core.wire import ChatRequest, ChatResponse


class ScriptedChatBackend:
    def __init__(self, rules: Sequence[tuple[str | tuple[str, ...], str]], *, default: str = "") -> None:
        self._rules = list(rules)
        self._default = default
        self.requests: list[ChatRequest] = []

    def _reply(self, request: ChatRequest) -> str:
        last = next((m for m in reversed(request.messages) if m.get("role") == "user"), {})
        text = str(last.get("content", ""))
        for needles, reply in self._rules:
            if all(n in text for n in ((needles,) if isinstance(needles, str) else needles)):
                return reply
        return self._default

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        self.requests.append(request)
        body = {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": self._reply(request)}}],
        }
        return ChatResponse(body, "scripted")

    async def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        self.requests.append(request)
        yield {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": self._reply(request)}}],
        }

    async def aclose(self) -> None:
        return None
