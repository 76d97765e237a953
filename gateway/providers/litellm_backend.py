"""A ChatBackend for every provider that does not speak OpenAI's API (Anthropic, Gemini, Bedrock …).

litellm is imported on the first call, never at startup (it costs ~3 s and ~100 MB), and with
``LITELLM_LOCAL_MODEL_COST_MAP=True`` so that importing it never reaches for the network. litellm's
own retries are switched off: the routed dispatcher owns retries, fallbacks and the deadline.

Contract as core.backend.ChatBackend: litellm's exceptions are converted into the UpstreamError
family (bodies never copied), cancellation propagates into litellm's HTTP call.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from types import ModuleType
from typing import Any

from core.deadline import Deadline
from core.errors import UpstreamError
from core.wire import ChatRequest, ChatResponse
from gateway.providers import errors as perr

# Fields the gateway consumes itself and never hands to litellm.
_DROP = frozenset({"model", "stream", "messages"})


def import_litellm() -> ModuleType:
    """Import litellm lazily with the offline price map; the import itself is cached by Python."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


def convert_litellm_error(exc: BaseException, deployment: str) -> UpstreamError:
    """Map a litellm (or openai/httpx) exception to our family by class name and status code."""
    name = type(exc).__name__
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or name in {"Timeout", "APITimeoutError"}:
        return perr.timeout(deployment)
    if name == "APIConnectionError":
        return perr.unreachable(deployment, "connection failed")
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 400:
        retry_after = None
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        if headers is not None:
            try:
                retry_after = headers.get("retry-after")
            except Exception:  # a foreign headers object we cannot read: ignore it
                retry_after = None
        return perr.error_for_status(status, deployment, retry_after=retry_after)
    return perr.bad_response(deployment, f"an error litellm could not classify ({name})")


class LiteLLMBackend:
    """Calls ``litellm.acompletion`` for one deployment (``model`` in litellm's provider/model form)."""

    def __init__(
        self,
        name: str,
        *,
        model: str,
        api_key: str | None = None,
        api_base: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self._api_key = api_key
        self._api_base = api_base
        self._extra = dict(extra or {})

    def _kwargs(self, request: ChatRequest, stream: bool, timeout_s: float) -> dict[str, Any]:
        kwargs = {k: v for k, v in request.body.items() if k not in _DROP}
        if not stream:
            kwargs.pop("stream_options", None)
        kwargs.update(self._extra)
        kwargs["model"] = self.model
        kwargs["messages"] = request.messages
        kwargs["stream"] = stream
        kwargs["timeout"] = timeout_s
        kwargs["num_retries"] = 0
        kwargs["max_retries"] = 0
        if self._api_key:
            kwargs["api_key"] = self._api_key
        if self._api_base:
            kwargs["api_base"] = self._api_base
        return kwargs

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise perr.timeout(self.name)
        litellm = import_litellm()
        try:
            async with asyncio.timeout(remaining):
                resp = await litellm.acompletion(**self._kwargs(request, False, remaining))
        except UpstreamError:
            raise
        except Exception as exc:
            raise convert_litellm_error(exc, self.name) from exc
        body = _to_dict(resp)
        if not isinstance(body.get("choices"), list):
            raise perr.bad_response(self.name, "a body without choices")
        return ChatResponse(body, self.name)

    async def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise perr.timeout(self.name)
        litellm = import_litellm()
        it: Any = None
        try:
            try:
                async with asyncio.timeout(remaining):
                    it = await litellm.acompletion(**self._kwargs(request, True, remaining))
            except Exception as exc:
                raise convert_litellm_error(exc, self.name) from exc
            aiter = it.__aiter__()
            while True:
                left = deadline.remaining()
                if left <= 0:
                    raise perr.timeout(self.name)
                try:
                    async with asyncio.timeout(left):
                        chunk = await aiter.__anext__()
                except StopAsyncIteration:
                    return
                except Exception as exc:
                    raise convert_litellm_error(exc, self.name) from exc
                yield _to_dict(chunk)
        finally:
            if it is not None:
                await _close_quietly(it)

    async def aclose(self) -> None:
        """litellm keeps its own client cache; nothing of ours to release."""


def _to_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        out = dump(exclude_none=False)
        if isinstance(out, dict):
            return out
    raise perr.bad_response("litellm", "an object that is not a chat completion")


async def _close_quietly(it: Any) -> None:
    for attr in ("aclose", "close"):
        fn = getattr(it, attr, None)
        if callable(fn):
            try:
                res = fn()
                if asyncio.iscoroutine(res):
                    await res
            except Exception:  # closing a broken stream must not mask the original error
                pass
            return
