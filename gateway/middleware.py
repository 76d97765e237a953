"""Pure ASGI middleware (BaseHTTPMiddleware buffers bodies and breaks streaming): one layer that

* gives every request an id (the caller's ``x-request-id`` when it is sane, else a fresh one),
  kept in ``scope["state"]["request_id"]`` and echoed in the ``x-request-id`` response header;
* refuses bodies over the configured maximum with 413: at once from ``content-length``, or while
  reading a chunked body (the endpoint's body read raises PayloadTooLargeError);
* adds ``server-timing: app;dur=<ms>`` (time until the response headers were sent).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import PayloadTooLargeError
from gateway.http_errors import error_response

_SANE_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_and_length(headers: list[tuple[bytes, bytes]]) -> tuple[bytes, int | None]:
    """The request id to use (the caller's ``x-request-id`` when sane, else a fresh one) and the
    declared ``content-length`` (None when absent or malformed)."""
    rid = b""
    length: int | None = None
    for k, v in headers:
        if k == b"x-request-id" and _SANE_ID.match(v):
            rid = v
        elif k == b"content-length":
            try:
                length = int(v)
            except ValueError:
                length = None
    return rid or b"req_" + os.urandom(12).hex().encode(), length


def server_timing(t0: float) -> bytes:
    return b"app;dur=%.3f" % ((time.perf_counter() - t0) * 1000)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: Callable[[], int]) -> None:
        self.app = app
        self._max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        rid_bytes, length = request_id_and_length(scope["headers"])
        state = scope.setdefault("state", {})
        state["request_id"] = rid_bytes.decode()
        limit = self._max()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", rid_bytes))
                headers.append((b"server-timing", server_timing(t0)))
                message["headers"] = headers
            await send(message)

        if length is not None and length > limit:
            exc = PayloadTooLargeError(f"The request body exceeds the limit of {limit} bytes.")
            await error_response(exc, {"connection": "close"})(scope, receive, send_with_headers)
            return

        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLargeError(f"The request body exceeds the limit of {limit} bytes.")
            return message

        await self.app(scope, limited_receive, send_with_headers)
