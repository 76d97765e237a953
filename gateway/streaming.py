"""SSE responses and client-disconnect handling.

:class:`SSEResponse` sends its headers, then pumps encoded events while watching the client: a
disconnect cancels the pump at once (even while it waits for a slow upstream), and cancelling the
pump closes the event iterator, which closes the upstream connection.

:func:`cancel_on_disconnect` gives a non-streaming handler the same property: when the client
goes away while the upstream call runs, the call is cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from core.errors import SwitchboardError, UpstreamError
from gateway.http_errors import sse_error_event

T = TypeVar("T")

DONE = b"data: [DONE]\n\n"


class ClientDisconnected(Exception):
    """The client went away before the answer was ready."""


def encode_event(chunk: Mapping[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def sse_events(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """OpenAI SSE framing: one ``data:`` event per chunk, then ``data: [DONE]``. An error after
    the first event becomes exactly one ``data: {"error": …}`` event and the stream ends."""
    try:
        async for chunk in chunks:
            yield encode_event(chunk)
    except SwitchboardError as exc:
        if isinstance(exc, UpstreamError):
            exc.param = None
        yield sse_error_event(exc)
        return
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    yield DONE


class SSEResponse(Response):
    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[bytes],
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(content=None, status_code=200, headers=dict(headers or {}))
        self.raw_headers = [h for h in self.raw_headers if h[0] != b"content-length"]
        self.raw_headers += [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
        self._events = events
        self._on_close = on_close
        self.disconnected = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        pump = asyncio.create_task(self._pump(send))
        watch = asyncio.create_task(self._watch(receive))
        try:
            await asyncio.wait((pump, watch), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not pump.done():
                self.disconnected = True
                pump.cancel()
            watch.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
            if self._on_close is not None:
                await self._on_close()

    async def _pump(self, send: Send) -> None:
        events = self._events
        try:
            async for data in events:
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            self.disconnected = True  # the server reports a gone client on send
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

    @staticmethod
    async def _watch(receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return


async def cancel_on_disconnect(work: Awaitable[T], receive: Receive) -> T:
    """Await ``work``; if the client disconnects first, cancel it and raise ClientDisconnected."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
                task.cancel()
                return

    watcher = asyncio.create_task(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if gone:
            task.uncancel()
            raise ClientDisconnected() from None
        raise
    finally:
        watcher.cancel()
