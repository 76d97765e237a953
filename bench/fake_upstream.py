"""A minimal, fast OpenAI-shaped upstream for benchmarks (not for tests: tests/fakes/upstream.py).

It must never be the bottleneck, so it is a raw asyncio protocol on uvloop with canned bytes:
POST .../chat/completions answers a ~1 KB JSON completion, or, when the body asks for
``"stream": true``, 50 SSE chunks and ``data: [DONE]``. Every answer waits ``--latency-ms`` first
(scheduled with call_later, so waiting costs no CPU).

    python -m bench.fake_upstream --port 9001 --latency-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson

_CONTENT = ("Switchboard benchmark answer. " * 30)[:900]


def _completion_body() -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": _CONTENT},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 200, "total_tokens": 220},
        }
    )


def _stream_body(chunks: int = 50) -> bytes:
    parts = []
    for i in range(chunks):
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "delta": ({"role": "assistant", "content": "tok "} if i == 0 else {"content": "tok "}),
                    "finish_reason": None if i < chunks - 1 else "stop",
                }
            ],
        }
        parts.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
    usage = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [],
        "usage": {"prompt_tokens": 20, "completion_tokens": chunks, "total_tokens": 20 + chunks},
    }
    parts.append(b"data: " + orjson.dumps(usage) + b"\n\n")
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


class _Upstream(asyncio.Protocol):
    json_response: bytes = b""
    stream_head: bytes = b""
    stream_chunks: list[bytes] = []
    latency_s = 0.0

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            total = head_end + 4 + length
            if len(self.buf) < total:
                return
            body = self.buf[head_end + 4 : total]
            self.buf = self.buf[total:]
            first = head.split("\r\n", 1)[0]
            self._answer(first, body)

    def _answer(self, request_line: str, body: bytes) -> None:
        loop = asyncio.get_running_loop()
        if request_line.startswith("GET"):
            self._write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
            return
        is_stream = b'"stream":true' in body.replace(b" ", b"")
        if self.latency_s > 0:
            loop.call_later(self.latency_s, self._send, is_stream)
        else:
            self._send(is_stream)

    def _send(self, is_stream: bool) -> None:
        if is_stream:
            self._write(self.stream_head)
            for chunk in self.stream_chunks:
                self._write(chunk)
        else:
            self._write(self.json_response)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


def _prepare(latency_ms: float) -> None:
    body = _completion_body()
    _Upstream.json_response = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    stream = _stream_body()
    _Upstream.stream_head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    events = [e + b"\n\n" for e in stream.split(b"\n\n") if e]
    chunks = [f"{len(e):x}".encode() + b"\r\n" + e + b"\r\n" for e in events]
    chunks.append(b"0\r\n\r\n")
    _Upstream.stream_chunks = chunks
    _Upstream.latency_s = latency_ms / 1000.0


async def serve(host: str, port: int, latency_ms: float) -> None:
    _prepare(latency_ms)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Upstream, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.host, args.port, args.latency_ms))


if __name__ == "__main__":
    main()
