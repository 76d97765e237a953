"""A small pooled HTTP/1.1 client for the OpenAI-compatible fast path (asyncio protocol + httptools).

Why not aiohttp here: per upstream call aiohttp spends ~100 µs of CPU in request/response object
machinery that this path does not need (measured in docs/benchmarks.md). This client does only
what an OpenAI-shaped POST needs:

* one ``transport.write`` per request (head and body together), pre-encoded static headers;
* responses parsed by httptools (content-length, chunked and close-delimited bodies); gzip or
  deflate bodies are inflated (we never ask for them, but a server may send them anyway);
* keep-alive connections pooled per (scheme, host, port), LIFO, dropped after ``keepalive_s`` idle;
  a reused connection that dies before any response byte arrives is retried once on a fresh one
  (the server closed it while it sat idle);
* TLS through the standard ``ssl`` default context for ``https`` URLs.

Contract: failures raise :class:`HttpClientError` (or OSError from connect); a cancelled call, or
a response released before it was read to the end, closes its connection instead of pooling it.
Deadlines are the caller's (``asyncio.timeout`` around the calls).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from urllib.parse import urlsplit

import httptools


class HttpClientError(Exception):
    """The connection failed or the peer sent something that is not HTTP/1.1."""


class _Conn(asyncio.Protocol):
    """One connection; parses one response at a time."""

    def __init__(self, key: tuple[str, str, int]) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self.closed = False
        self.parser = httptools.HttpResponseParser(self)
        self.resp: Response | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        resp = self.resp
        if resp is None:  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        resp.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            resp._fail(HttpClientError(f"malformed HTTP response ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        resp = self.resp
        if resp is not None and not resp.complete:
            if resp.head_done and not resp.framed and exc is None:
                resp._finish(keep_alive=False)  # a close-delimited body ends at EOF
            else:
                resp._fail(HttpClientError("connection closed by the server"))

    # -- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.resp is not None
        self.resp._raw_headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        assert self.resp is not None
        self.resp._head(self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        assert self.resp is not None
        self.resp._body(body)

    def on_message_complete(self) -> None:
        assert self.resp is not None
        self.resp._finish(keep_alive=self.parser.should_keep_alive())

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Response:
    """One HTTP response. Read it with :meth:`read` or :meth:`readany`, then :meth:`release`."""

    def __init__(self, client: FastHttpClient, conn: _Conn) -> None:
        self._client = client
        self._conn = conn
        self.status = 0
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self.headers: dict[str, str] = {}
        self.head_done = False
        self.framed = False
        self.complete = False
        self.got_bytes = False
        self._keep_alive = False
        self._chunks: list[bytes] = []
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._inflate: zlib._Decompress | None = None
        self._released = False

    # -- fed by the connection
    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _head(self, status: int) -> None:
        self.status = status
        hdrs: dict[str, str] = {}
        for k, v in self._raw_headers:
            name = k.decode("latin-1")
            hdrs[name] = f"{hdrs[name]}, {v.decode('latin-1')}" if name in hdrs else v.decode("latin-1")
        self.headers = hdrs
        self.framed = "content-length" in hdrs or "chunked" in hdrs.get("transfer-encoding", "").lower()
        if hdrs.get("content-encoding", "").lower() in ("gzip", "deflate", "x-gzip"):
            self._inflate = zlib.decompressobj(wbits=47)  # zlib or gzip header, auto-detected
        self.head_done = True
        self._wake()

    def _body(self, data: bytes) -> None:
        if self._inflate is not None:
            try:
                data = self._inflate.decompress(data)
            except zlib.error:
                self._fail(HttpClientError("a compressed body that does not inflate"))
                self._conn.close()
                return
        if data:
            self._chunks.append(data)
            self._wake()

    def _finish(self, keep_alive: bool) -> None:
        self.complete = True
        self._keep_alive = keep_alive
        self._wake()

    def _fail(self, exc: Exception) -> None:
        if self._error is None and not self.complete:
            self._error = exc
        self._wake()

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    # -- public
    async def _await_head(self) -> None:
        while not self.head_done:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def readany(self) -> bytes:
        """Whatever body bytes have arrived (waiting for some); b"" at the end of the body."""
        while not self._chunks:
            if self.complete:
                return b""
            if self._error is not None:
                raise self._error
            await self._wait()
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        return data

    async def read(self, limit: int | None = None) -> bytes:
        """The body to its end (or its first ``limit`` bytes, leaving the connection unpoolable)."""
        parts = []
        size = 0
        while True:
            data = await self.readany()
            if not data:
                break
            parts.append(data)
            size += len(data)
            if limit is not None and size >= limit:
                break
        out = b"".join(parts)
        return out if limit is None else out[:limit]

    def release(self) -> None:
        """Give the connection back when the body was read to its end, else close it."""
        if self._released:
            return
        self._released = True
        conn = self._conn
        conn.resp = None
        if self.complete and self._keep_alive and not self._chunks and not conn.closed:
            self._client._put(conn)
        else:
            conn.close()

    def close(self) -> None:
        self._released = True
        self._conn.resp = None
        self._conn.close()


class FastHttpClient:
    """Pooled keep-alive HTTP/1.1 POSTs. Use inside a running loop; :meth:`aclose` when done."""

    def __init__(self, *, keepalive_s: float = 30.0, max_idle_per_host: int = 256) -> None:
        self._keepalive_s = keepalive_s
        self._max_idle = max_idle_per_host
        self._idle: dict[tuple[str, str, int], deque[_Conn]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    @staticmethod
    def target(url: str) -> tuple[tuple[str, str, int], bytes, bytes]:
        """``(pool key, request path, host header value)`` of an absolute http(s) URL."""
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = u.port or (443 if u.scheme == "https" else 80)
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        return (u.scheme, u.hostname, port), path.encode("latin-1"), u.netloc.encode("idna")

    def _put(self, conn: _Conn) -> None:
        if self._closed:
            conn.close()
            return
        q = self._idle.setdefault(conn.key, deque())
        if len(q) >= self._max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        q.append(conn)

    def _take(self, key: tuple[str, str, int]) -> _Conn | None:
        q = self._idle.get(key)
        if not q:
            return None
        now = time.monotonic()
        while q:
            conn = q.pop()
            if conn.closed or conn.transport is None or conn.transport.is_closing():
                continue
            if now - conn.idle_since > self._keepalive_s:
                conn.close()
                continue
            return conn
        return None

    async def _connect(self, key: tuple[str, str, int]) -> _Conn:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        ctx = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            ctx = self._ssl
        _, conn = await loop.create_connection(lambda: _Conn(key), host, port, ssl=ctx,
                                               server_hostname=host if ctx else None)
        return conn

    async def request(self, key: tuple[str, str, int], head: bytes, body: bytes) -> Response:
        """Send ``head`` (request line + headers, without content-length and the blank line) and
        ``body``; return once the response head has arrived. Raises HttpClientError, OSError."""
        if self._closed:
            raise HttpClientError("the client is closed")
        data = b"%scontent-length: %d\r\n\r\n%s" % (head, len(body), body)
        for _ in range(2):
            conn = self._take(key)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(key)
            resp = Response(self, conn)
            conn.resp = resp
            try:
                assert conn.transport is not None
                conn.transport.write(data)
                await resp._await_head()
            except HttpClientError:
                resp.close()
                if reused and not resp.got_bytes:
                    continue  # a stale keep-alive connection: once more on a fresh one
                raise
            except BaseException:
                resp.close()  # cancelled or failed mid-request: never pool this socket
                raise
            return resp
        raise HttpClientError("connection closed by the server")

    async def aclose(self) -> None:
        """Close every idle connection; idempotent."""
        self._closed = True
        for q in self._idle.values():
            while q:
                q.pop().close()
        self._idle.clear()
