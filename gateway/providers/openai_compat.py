"""The fast path: a ChatBackend for any server that speaks OpenAI's HTTP API.

No litellm here. The pool's fast HTTP/1.1 client (``HttpPool.fast``, see
:mod:`gateway.providers.fast_http`) carries every call over keep-alive connections, with the
request head pre-encoded per backend; bodies are encoded and decoded with orjson. The request body goes upstream as the client sent it, with ``model``
replaced by the deployment's model name, so unknown fields pass through untouched.

Contract (core.backend.ChatBackend): only UpstreamError subclasses escape; the deadline bounds the
whole call (each stream read is bounded by what is left of it); cancelling the caller, or closing
the stream iterator early, closes the upstream connection instead of returning it to the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from core.deadline import Deadline
from core.errors import UpstreamError
from core.wire import ChatRequest, ChatResponse
from gateway.providers import errors as perr
from gateway.providers.fast_http import FastHttpClient, HttpClientError, Response
from gateway.providers.http_pool import HttpPool

_MAX_ERROR_BODY = 64 * 1024
_MAX_EVENT = 16 * 1024 * 1024


def _event_data(event: bytes) -> bytes | None:
    """The ``data:`` payload of one SSE event (lines joined), None when it has none."""
    if event.startswith(b"data:") and b"\n" not in event:
        return event[5:].lstrip()
    lines = [ln[5:].lstrip() for ln in event.split(b"\n") if ln.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


class OpenAICompatBackend:
    """Calls ``{base_url}/chat/completions`` of one deployment."""

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        model: str,
        pool: HttpPool,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        owns_pool: bool = False,
    ) -> None:
        self.name = name
        self.model = model
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._pool = pool
        self._owns_pool = owns_pool
        hdrs = {"content-type": "application/json", "accept": "application/json"}
        if api_key:
            hdrs["authorization"] = f"Bearer {api_key}"
        hdrs.update(headers or {})
        self._key, path, host = FastHttpClient.target(self._url)
        self._head = self._encode_head(path, host, hdrs)
        self._stream_head = self._encode_head(path, host, {**hdrs, "accept": "text/event-stream"})

    @staticmethod
    def _encode_head(path: bytes, host: bytes, headers: Mapping[str, str]) -> bytes:
        lines = [b"POST " + path + b" HTTP/1.1", b"host: " + host]
        for k, v in headers.items():
            if k.lower() in ("host", "content-length", "transfer-encoding", "connection"):
                continue
            if any(c in f"{k}{v}" for c in "\r\n\0"):
                raise ValueError(f"header {k!r} holds a control character")
            lines.append(f"{k}: {v}".encode("latin-1"))
        return b"\r\n".join(lines) + b"\r\n"

    async def _post(self, head: bytes, payload: bytes) -> Response:
        return await self._pool.fast.request(self._key, head, payload)

    def _payload(self, request: ChatRequest, stream: bool) -> bytes:
        body = dict(request.body)
        body["model"] = self.model
        if stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        return orjson.dumps(body)

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        payload = self._payload(request, stream=False)
        remaining = deadline.remaining()
        if remaining <= 0:
            raise perr.timeout(self.name)
        resp: Response | None = None
        try:
            async with asyncio.timeout(remaining):
                resp = await self._post(self._head, payload)
                raw = await resp.read()
        except TimeoutError as exc:
            raise perr.timeout(self.name) from exc
        except HttpClientError as exc:
            raise perr.unreachable(self.name, str(exc)) from exc
        except OSError as exc:
            raise perr.unreachable(self.name, type(exc).__name__) from exc
        finally:
            if resp is not None:
                resp.release()  # unread payload (cancel/timeout) → the connection is closed, not pooled
        if resp.status >= 400:
            raise perr.error_for_status(
                resp.status, self.name, retry_after=resp.headers.get("retry-after"), body=raw
            )
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise perr.bad_response(self.name, "a body that is not JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise perr.bad_response(self.name, "a body without choices")
        return ChatResponse(data, self.name)

    async def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        payload = self._payload(request, stream=True)
        remaining = deadline.remaining()
        if remaining <= 0:
            raise perr.timeout(self.name)
        resp: Response | None = None
        finished = False
        try:
            try:
                async with asyncio.timeout(remaining):
                    resp = await self._post(self._stream_head, payload)
                    if resp.status >= 400:
                        raw = await resp.read(_MAX_ERROR_BODY)
                        raise perr.error_for_status(
                            resp.status, self.name, retry_after=resp.headers.get("retry-after"), body=raw
                        )
            except TimeoutError as exc:
                raise perr.timeout(self.name) from exc
            async for chunk in self._events(resp, deadline):
                yield chunk
            finished = True
        except HttpClientError as exc:
            raise perr.unreachable(self.name, str(exc)) from exc
        except OSError as exc:
            raise perr.unreachable(self.name, type(exc).__name__) from exc
        finally:
            if resp is not None:
                if finished:
                    resp.release()
                else:
                    resp.close()  # early exit, cancel or failure: drop the socket

    async def _events(self, resp: Response, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        """Parse SSE events into chunk dicts until ``[DONE]``; a stream that ends first is an error.

        Reads whatever the socket has (one await per network read, not per line) and splits it
        into events, so a burst of chunks costs one read.
        """
        buf = b""
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise perr.timeout(self.name)
            try:
                async with asyncio.timeout(remaining):
                    data = await resp.readany()
            except TimeoutError as exc:
                raise perr.timeout(self.name) from exc
            if not data:
                raise perr.bad_response(self.name, "a stream that ended before [DONE]")
            buf = buf + data if buf else data
            if b"\r" in buf:
                buf = buf.replace(b"\r\n", b"\n")
            while True:
                cut = buf.find(b"\n\n")
                if cut < 0:
                    break
                event, buf = buf[:cut], buf[cut + 2 :]
                payload = _event_data(event)
                if payload is None:
                    continue
                if payload == b"[DONE]":
                    return
                yield self._decode_event(payload)
            if len(buf) > _MAX_EVENT:
                raise perr.bad_response(self.name, "an oversized stream event")

    def _decode_event(self, data: bytes) -> dict[str, Any]:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise perr.bad_response(self.name, "a stream event that is not JSON") from exc
        if not isinstance(obj, dict):
            raise perr.bad_response(self.name, "a stream event that is not an object")
        if "error" in obj and "choices" not in obj:
            code = perr.safe_upstream_code(obj)
            raise UpstreamError(
                f"deployment {self.name!r} failed mid-stream" + (f" ({code})" if code else ""),
                deployment=self.name,
            )
        return obj

    async def aclose(self) -> None:
        if self._owns_pool:
            await self._pool.aclose()
