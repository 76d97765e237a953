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
from starlette.types import Receive, Scope, Send

from core.errors import SwitchboardError, UpstreamError
from gateway.http_errors import sse_error_event

T = TypeVar("T")

DONE = b"data: [DONE]\n\n"


class ClientDisconnected(Exception):
    """The client went away before the answer was ready."""


def encode_event(chunk: Mapping[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def sse_events(
    chunks: AsyncIterator[dict[str, Any]], trailer: Callable[[], bytes | None] | None = None
) -> AsyncIterator[bytes]:
    """OpenAI SSE framing: one ``data:`` event per chunk, then ``data: [DONE]``. An error after
    the first event becomes exactly one ``data: {"error": …}`` event and the stream ends.
    ``trailer`` (called once the chunks are done) may add bytes just before ``[DONE]``, e.g. an
    SSE comment, which clients ignore."""
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
    extra = trailer() if trailer is not None else None
    if extra:
        yield extra
    yield DONE


class SSEResponse:
    """A plain ASGI response that streams ``events`` (already framed SSE bytes).

    Events that the producer yields without waiting in between (the chunks of one upstream
    network read) go out in one ASGI send, so a burst of 50 chunks costs one socket write; the
    first event is never held back. A client disconnect cancels the pump at once, which closes
    the event iterator (and so the upstream connection); ``on_close`` runs after either end.
    """

    media_type = "text/event-stream"
    status_code = 200
    _HIGH_WATER = 1 << 20  # bytes queued for a slow client before the producer waits

    def __init__(
        self,
        events: AsyncIterator[bytes],
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        *,
        raw_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        raw = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
        raw += raw_headers or []
        self.raw_headers = raw
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
        out = _Outbox(send)
        writer = asyncio.create_task(out.run())
        try:
            async for data in events:
                await out.put(data, writer)
            out.finish()
            await writer
        except OSError:
            self.disconnected = True  # the server reports a gone client on send
        finally:
            if not writer.done():
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

    @staticmethod
    async def _watch(receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return


class _Outbox:
    """Events queued by the producer and sent by one writer task, joined per wake-up."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._pending: list[bytes] = []
        self._size = 0
        self._done = False
        self._wake = asyncio.Event()
        self._room = asyncio.Event()

    async def put(self, data: bytes, writer: asyncio.Task[None]) -> None:
        if writer.done():
            writer.result()  # re-raise the writer's failure (client gone)
            raise OSError("the SSE writer stopped")
        self._pending.append(data)
        self._size += len(data)
        self._wake.set()
        if self._size > SSEResponse._HIGH_WATER:  # a slow client: wait until the writer took them
            self._room.clear()
            room = asyncio.ensure_future(self._room.wait())
            try:
                await asyncio.wait((room, writer), return_when=asyncio.FIRST_COMPLETED)
            finally:
                room.cancel()

    def finish(self) -> None:
        self._done = True
        self._wake.set()

    async def run(self) -> None:
        send = self._send
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._pending:
                data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
                self._pending.clear()
                self._size = 0
                self._room.set()
                await send({"type": "http.response.body", "body": data, "more_body": True})
            if self._done and not self._pending:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
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
