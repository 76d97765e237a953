"""Fake LLM upstreams that pace tokens by absolute deadlines, for the scheduler's live mode.

One process serves one HTTP port per tier on loopback. ``POST /v1/chat/completions`` with a JSON
body ``{"session": str, "prompt_tokens": int, "shared_prefix_tokens": int, "max_tokens": int}``:

* above the tier's concurrency capacity: ``429`` with ``Retry-After`` at once;
* otherwise an SSE stream. With ``n`` calls in flight (itself included) when it starts, the first
  chunk is due at ``start + prefill`` and token ``i`` at ``start + prefill + i·tpot(n)`` (prefill
  and tpot from splitwise perf_model.csv via :class:`bench.scheduler_model.Tier`, divided by
  ``--speed``). Each chunk's send time is computed from the monotonic start, and the server
  sleeps until that absolute time, so per-chunk lateness does not accumulate. The prefix of a
  session's previous call on the same tier is cached (only the new part is prefilled).

``GET /stats`` returns the pacing drift (actual send time − intended, per chunk and at stream end)
and resets it. Started by ``bench/scheduler_live.py``; prints ``{"ports": {...}}`` on stdout.

    python -m bench.paced_upstream --tier llama2-70b@h100:h100-80gb:4 --speed 10
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson

from bench.scheduler_model import Tier, load_tier
from bench.scheduler_sim import percentile

TOKENS_PER_CHUNK = 4


class PacedUpstream:
    def __init__(self, tier: Tier, speed: float) -> None:
        self.tier = tier
        self.speed = speed
        self.in_flight = 0
        self.cached: set[str] = set()
        self.lateness: list[float] = []  # per chunk: actual - intended (s, wall)
        self.end_drift: list[float] = []  # per stream: (actual end - start) / intended duration - 1
        self.end_late: list[float] = []  # per stream: actual end - intended end (s, wall)
        self.rejected = 0
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for h in lines[1:]:
                k, _, v = h.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v)
            body = await reader.readexactly(length) if length else b"{}"
            if method == "GET" and path == "/stats":
                writer.write(_response(200, "application/json", orjson.dumps(self.stats())))
            elif method == "POST" and path.endswith("/chat/completions"):
                await self._complete(orjson.loads(body), writer)
            else:
                writer.write(_response(404, "text/plain", b"not found"))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _complete(self, req: dict[str, object], writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        if self.in_flight >= self.tier.capacity:
            self.rejected += 1
            writer.write(
                _response(
                    429, "application/json", b'{"error":{"type":"rate_limit"}}', extra=b"Retry-After: 1\r\n"
                )
            )
            return
        start = loop.time()
        self.in_flight += 1
        try:
            session = str(req["session"])
            prompt = int(str(req["prompt_tokens"]))
            shared = int(str(req.get("shared_prefix_tokens", 0)))
            out = max(1, int(str(req["max_tokens"])))
            warm = session in self.cached
            n = self.in_flight
            prefill_tok = max(1, prompt - (shared if warm else 0))
            # same model as the simulation: prefill scaled by decode contention, decode at batch n
            total = self.tier.service_s(prefill_tok, out, n) / self.speed
            tpot = (
                self.tier.service_s(prefill_tok, out + 1, n) - self.tier.service_s(prefill_tok, out, n)
            ) / self.speed
            prefill = total - out * tpot
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
            sent = 0
            while sent < out:
                k = min(TOKENS_PER_CHUNK, out - sent)
                sent += k
                due = start + prefill + sent * tpot  # absolute deadline of this chunk's last token
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(b'data: {"t":"' + b"x" * k + b'"}\n\n')
                await writer.drain()
                self.lateness.append(loop.time() - due)
            writer.write(b"data: [DONE]\n\n")
            await writer.drain()
            self.end_drift.append((loop.time() - start) / total - 1.0)
            self.end_late.append(loop.time() - start - total)
            self.cached.add(session)
            self.served += 1
        finally:
            self.in_flight -= 1  # before the close the client waits for

    def stats(self) -> dict[str, object]:
        late = [1e3 * x for x in self.lateness]
        out: dict[str, object] = {
            "served": self.served,
            "rejected_429": self.rejected,
            "chunks": len(late),
            "chunk_lateness_ms": {
                "p50": round(percentile(late, 50), 3),
                "p99": round(percentile(late, 99), 3),
                "max": round(max(late), 3),
            }
            if late
            else None,
            "stream_end_drift_pct": {
                "p50": round(100 * percentile(self.end_drift, 50), 3),
                "p99": round(100 * percentile(self.end_drift, 99), 3),
                "mean": round(100 * sum(self.end_drift) / len(self.end_drift), 3),
            }
            if self.end_drift
            else None,
            "stream_end_late_ms": {
                "p50": round(1e3 * percentile(self.end_late, 50), 3),
                "p99": round(1e3 * percentile(self.end_late, 99), 3),
            }
            if self.end_late
            else None,
        }
        self.lateness, self.end_drift, self.end_late, self.rejected, self.served = [], [], [], 0, 0
        self.cached.clear()
        return out


def _response(status: int, ctype: str, body: bytes, extra: bytes = b"") -> bytes:
    reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}[status]
    return (
        (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n"
        ).encode()
        + extra
        + b"\r\n"
        + body
    )


async def serve(specs: list[str], speed: float) -> None:
    ports: dict[str, int] = {}
    servers = []
    for spec in specs:
        name, hardware, cap = spec.split(":")
        up = PacedUpstream(load_tier(name, name.split("@")[0], hardware, int(cap)), speed)
        srv = await asyncio.start_server(up.handle, "127.0.0.1", 0, backlog=1024)
        ports[name] = srv.sockets[0].getsockname()[1]
        servers.append(srv)
    sys.stdout.write(orjson.dumps({"ports": ports}).decode() + "\n")
    sys.stdout.flush()
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--tier",
        action="append",
        required=True,
        help="name@x:hardware:capacity, e.g. llama2-70b@h100:h100-80gb:4",
    )
    ap.add_argument("--speed", type=float, default=1.0, help="run this many times faster than the model")
    args = ap.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(serve(args.tier, args.speed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
