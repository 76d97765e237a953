"""A fake OpenAI-compatible upstream that is a real HTTP/1.1 server on a loopback port.

It runs its own asyncio loop in a daemon thread, so tests (sync or async) talk to it over real
sockets exactly as the gateway talks to OpenAI. Behaviour is scripted per ``model``: a test queues
:class:`Reply` objects with :meth:`FakeUpstream.script`; a request for a model with an empty queue
gets the default reply (a normal answer, JSON or SSE as the request asks).

What it can do: scripted latency (before the answer and between stream chunks), JSON and SSE
answers with usage, errors with any status and headers (429 + Retry-After, 500 …), malformed JSON,
streams cut after N chunks (the socket is closed without the terminating chunk), an in-stream error
event, and stalls that only end when the client goes away. Every request is recorded, and every
connection the *client* closed while the server still had work to do is counted in
``client_closed`` (the proof that a cancelled gateway request closed its upstream connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import orjson

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``kind``: ok | error | malformed | cut | stream_error | stall."""

    kind: str = "ok"
    status: int = 200
    text: str = "Hello from the fake upstream."
    body: bytes | None = None  # raw body for "error"/"malformed"
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0  # before the status line
    chunk_delay_s: float = 0.0  # between SSE chunks
    chunks: int = 5  # SSE content chunks for an ok stream
    after_chunks: int = 2  # for cut / stream_error
    prompt_tokens: int = 11
    completion_tokens: int = 7
    tool_calls: tuple[tuple[str, str], ...] = ()  # (function name, arguments JSON): answer with calls

    @classmethod
    def ok(cls, text: str = "Hello from the fake upstream.", **kw: Any) -> Reply:
        return cls("ok", text=text, **kw)

    @classmethod
    def tool_call(cls, name: str, arguments: str = "{}", **kw: Any) -> Reply:
        """An assistant message that calls ``name`` (no content; finish_reason tool_calls)."""
        return cls("ok", text="", tool_calls=((name, arguments),), **kw)

    @classmethod
    def error(cls, status: int, message: str = "upstream exploded", **kw: Any) -> Reply:
        body = orjson.dumps({"error": {"message": message, "type": "server_error", "code": "boom"}})
        return cls("error", status=status, body=body, **kw)

    @classmethod
    def rate_limited(cls, retry_after: str = "1", **kw: Any) -> Reply:
        return cls.error(429, "slow down", headers=(("retry-after", retry_after),), **kw)

    @classmethod
    def malformed(cls, **kw: Any) -> Reply:
        return cls("malformed", body=b'{"id": "x", "choices": [', **kw)

    @classmethod
    def cut(cls, after_chunks: int = 2, **kw: Any) -> Reply:
        return cls("cut", after_chunks=after_chunks, **kw)

    @classmethod
    def stream_error(cls, after_chunks: int = 2, **kw: Any) -> Reply:
        return cls("stream_error", after_chunks=after_chunks, **kw)

    @classmethod
    def stall(cls) -> Reply:
        return cls("stall")


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _State:
    scripts: dict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    default: Reply = field(default_factory=Reply.ok)
    requests: list[Recorded] = field(default_factory=list)
    client_closed: int = 0
    connections: int = 0


class FakeUpstream:
    """Start with ``with FakeUpstream() as fake:`` (or start()/stop()); ``fake.base_url`` ends in /v1."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ids = itertools.count(1)
        self.port = 0

    # -- control -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, model: str, *replies: Reply) -> None:
        with self._lock:
            self._state.scripts[model].extend(replies)

    def set_default(self, reply: Reply) -> None:
        with self._lock:
            self._state.default = reply

    def reset(self) -> None:
        with self._lock:
            self._state.scripts.clear()
            self._state.requests.clear()
            self._state.default = Reply.ok()
            self._state.client_closed = 0

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._state.requests)

    def requests_for(self, model: str) -> list[Recorded]:
        return [r for r in self.requests if isinstance(r.body, dict) and r.body.get("model") == model]

    @property
    def client_closed(self) -> int:
        with self._lock:
            return self._state.client_closed

    def wait_client_closed(self, at_least: int = 1, timeout_s: float = 5.0) -> bool:
        """Block until the server has seen ``at_least`` connections closed by the client."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.client_closed >= at_least:
                return True
            time.sleep(0.01)
        return self.client_closed >= at_least

    def wait_requests(self, model: str, count: int = 1, timeout_s: float = 5.0) -> bool:
        """Block until ``count`` requests for ``model`` have arrived."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if len(self.requests_for(model)) >= count:
                return True
            time.sleep(0.005)
        return False

    def start(self) -> FakeUpstream:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, sock=sock, backlog=512)
            )
            ready.set()
            loop.run_forever()
            self._server.close()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- server side ---------------------------------------------------------------------------
    def _next_reply(self, model: str) -> Reply:
        with self._lock:
            queue = self._state.scripts.get(model)
            if queue:
                return queue.popleft()
            return self._state.default

    def _closed_by_client(self) -> None:
        with self._lock:
            self._state.client_closed += 1

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                try:
                    body: Any = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    body = raw
                with self._lock:
                    self._state.requests.append(Recorded(method, path, headers, body))
                keep = await self._respond(reader, writer, method, path, body)
                if not keep or headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass  # server shutdown; Python 3.11's stream callback logs cancelled handler tasks
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _wait_or_client_gone(self, reader: asyncio.StreamReader, seconds: float | None) -> bool:
        """Sleep ``seconds`` (None: forever) unless the client closes first; True if it closed."""
        try:
            data = await asyncio.wait_for(reader.read(1), seconds)
        except TimeoutError:
            return False
        if data:  # a pipelined request would be unusual here; treat as still connected
            return False
        self._closed_by_client()
        return True

    async def _respond(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str, body: Any
    ) -> bool:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            self._write(writer, 200, orjson.dumps({"object": "list", "data": []}))
            return True
        model = body.get("model", "") if isinstance(body, dict) else ""
        reply = self._next_reply(str(model))
        if reply.delay_s and await self._wait_or_client_gone(reader, reply.delay_s):
            return False
        if reply.kind == "stall":
            await self._wait_or_client_gone(reader, None)
            return False
        if reply.kind == "error":
            self._write(writer, reply.status, reply.body or b"", reply.headers)
            return True
        if reply.kind == "malformed":
            self._write(writer, 200, reply.body or b"{", reply.headers)
            return True
        if path.rstrip("/").endswith("/embeddings"):
            self._write(writer, 200, orjson.dumps(_embeddings(body)))
            return True
        stream = isinstance(body, dict) and bool(body.get("stream"))
        if not stream:
            self._write(writer, 200, orjson.dumps(self._completion(reply, str(model))))
            return True
        return await self._stream(reader, writer, reply, body)

    def _write(
        self, writer: asyncio.StreamWriter, status: int, payload: bytes, extra: tuple[tuple[str, str], ...] = ()
    ) -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "content-type: application/json",
                f"content-length: {len(payload)}"]
        head += [f"{k}: {v}" for k, v in extra]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)

    def _completion(self, reply: Reply, model: str) -> dict[str, Any]:
        cid = f"chatcmpl-fake{next(self._ids)}"
        return {
            "id": cid,
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "message": _message(reply, cid),
                         "finish_reason": "tool_calls" if reply.tool_calls else "stop", "logprobs": None}],
            "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                      "total_tokens": reply.prompt_tokens + reply.completion_tokens},
        }

    async def _stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reply: Reply, body: dict[str, Any]
    ) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        cid = f"chatcmpl-fake{next(self._ids)}"
        model = str(body.get("model", ""))
        pieces = _split(reply.text, reply.chunks)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"id": cid, "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        events: list[bytes] = [orjson.dumps(chunk({"role": "assistant", "content": ""}))]
        if reply.tool_calls:
            events += [orjson.dumps(chunk({"tool_calls": [call]})) for call in _calls(reply, cid)]
        else:
            events += [orjson.dumps(chunk({"content": p})) for p in pieces]
        events.append(orjson.dumps(chunk({}, "tool_calls" if reply.tool_calls else "stop")))
        opts = body.get("stream_options")
        if isinstance(opts, dict) and opts.get("include_usage"):
            usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                     "total_tokens": reply.prompt_tokens + reply.completion_tokens}
            events.append(orjson.dumps({"id": cid, "object": "chat.completion.chunk", "created": 1_700_000_000,
                                        "model": model, "choices": [], "usage": usage}))
        limit = reply.after_chunks if reply.kind in {"cut", "stream_error"} else len(events)
        for i, event in enumerate(events[:limit]):
            if i and reply.chunk_delay_s and await self._wait_or_client_gone(reader, reply.chunk_delay_s):
                return False
            _write_chunk(writer, b"data: " + event + b"\n\n")
            await writer.drain()
        if reply.kind == "cut":
            await writer.drain()
            return False  # close without the terminating chunk
        if reply.kind == "stream_error":
            err = orjson.dumps({"error": {"message": "secret-internal-detail", "type": "server_error"}})
            _write_chunk(writer, b"data: " + err + b"\n\n")
        else:
            _write_chunk(writer, b"data: [DONE]\n\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


def _calls(reply: Reply, prefix: str) -> list[dict[str, Any]]:
    return [{"index": i, "id": f"call_{prefix}_{i}", "type": "function",
             "function": {"name": name, "arguments": args}} for i, (name, args) in enumerate(reply.tool_calls)]


def _message(reply: Reply, prefix: str) -> dict[str, Any]:
    if reply.tool_calls:
        calls = [{k: v for k, v in c.items() if k != "index"} for c in _calls(reply, prefix)]
        return {"role": "assistant", "content": None, "tool_calls": calls}
    return {"role": "assistant", "content": reply.text}


def _write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def _split(text: str, n: int) -> list[str]:
    n = max(1, n)
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _embeddings(body: Any) -> dict[str, Any]:
    inputs = body.get("input", []) if isinstance(body, dict) else []
    items = [inputs] if isinstance(inputs, str) else list(inputs)
    data = [{"object": "embedding", "index": i, "embedding": [0.6, 0.8, 0.0]} for i, _ in enumerate(items)]
    return {"object": "list", "data": data, "model": body.get("model", "") if isinstance(body, dict) else "",
            "usage": {"prompt_tokens": len(items), "total_tokens": len(items)}}
