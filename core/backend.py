"""The ChatBackend seam: anything that can answer an OpenAI chat request.

Implementations: the OpenAI-compatible HTTP backend (fast path), the litellm backend (every other
provider), and the gateway's routed dispatcher. Agents are handed one and never know which.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from core.deadline import Deadline
from core.wire import ChatRequest, ChatResponse


@runtime_checkable
class ChatBackend(Protocol):
    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        """Answer ``request`` (``stream`` is ignored) before ``deadline``.

        Raises only :class:`core.errors.UpstreamError` subclasses (UpstreamTimeoutError when the
        deadline passes). Cancelling the awaiting task cancels the upstream call and closes its
        connection.
        """
        ...

    def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        """Yield OpenAI ``chat.completion.chunk`` dicts; the final usage chunk when asked for.

        Raises only UpstreamError subclasses, also mid-stream. Closing the iterator (or cancelling
        the consumer) closes the upstream connection.
        """
        ...

    async def aclose(self) -> None:
        """Release pooled connections; idempotent."""
        ...
