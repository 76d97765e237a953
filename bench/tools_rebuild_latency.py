"""Requests during a catalog rebuild: ``python -m bench.tools_rebuild_latency --json``.

The gateway's tool KB builds its index on the process's shared embedder (one compute thread),
the same one that embeds requests (routing classification, tool searches). This bench holds a
:class:`tools_kb.kb.ToolKB` on the gateway's composition (``default_embedder``: cache → batching
→ ONNX int8 MiniLM on one compute thread; a SQLite catalog in a temporary folder), seeds it with
``--seed`` synthetic tools, then upserts ``--tools`` more twice, each a rebuild of the index (the
new documents embedded, the fusion tuned again): the first with nothing else running (the
build's own speed), the second while a client sends one request every 20 ms: a tool search
(``kb.search``) and a one-text embedding (what a routing classification asks for).

Modes, in alternating rounds: ``sliced`` (the shipped path: the KB embeds its builds as
background work, :class:`core.embedders.background.BackgroundEmbedder`, in short slices that
requests overtake, :meth:`ComputeThread.run_background`) and ``whole`` (the path before: the KB
sees only the embedder's ``embed``, so each build step is one call on the compute thread).
``--clients N`` runs N such clients at once (more requests queue behind each other; background
work then gets its time share, not more).
Prints per mode both rebuilds' seconds, and the requests' latency during the second (p50 / p99 /
max, ms) with the same client on the idle KB just before, medians over rounds. (The second
rebuild is longer where requests are served during it: they share the compute thread.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.tools_latency import synthetic_queries, synthetic_tools
from core.embedders.manifest import default_models_dir

PERIOD_S = 0.02


class _RequestLaneOnly:
    """The embedder as the KB saw it before background work existed: ``embed`` only."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.dim = inner.dim
        self.name = inner.name
        self.compute = inner.compute  # searches score on the compute thread, as in the gateway

    async def embed(self, texts: Any) -> Any:
        return await self._inner.embed(texts)


def latency_summary(values: list[float]) -> dict[str, float]:
    """n, p50 / p99 / max in ms of latencies in seconds (also used by bench.embedding_fairness)."""
    if not values:
        return {"n": 0}
    ms = sorted(v * 1000 for v in values)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2),
        "max_ms": round(ms[-1], 2),
    }


async def _client(
    kb: Any, embedder: Any, queries: list[str], stop: asyncio.Event, label: str
) -> dict[str, list[float]]:
    """One search and one embedding every PERIOD_S until ``stop``; their latencies (s)."""
    out: dict[str, list[float]] = {"search": [], "embed": []}
    i = 0
    while not stop.is_set():
        q = queries[i % len(queries)]
        t = time.perf_counter()
        await kb.search(q, 5)
        out["search"].append(time.perf_counter() - t)
        t = time.perf_counter()
        await embedder.embed([f"{q} ({label} request {i})"])  # a new text: no cache hit
        out["embed"].append(time.perf_counter() - t)
        i += 1
        await asyncio.sleep(PERIOD_S)
    return out


async def _clients(
    n: int, kb: Any, embedder: Any, queries: list[str], stop: asyncio.Event, label: str
) -> dict[str, list[float]]:
    runs = await asyncio.gather(*(_client(kb, embedder, queries, stop, f"{label} c{i}") for i in range(n)))
    return {kind: [v for run in runs for v in run[kind]] for kind in ("search", "embed")}


async def run_round(
    mode: str, models_dir: Path, seed: int, tools: int, round_no: int, clients: int
) -> dict[str, Any]:
    from core.embedders.compute import ComputeThread
    from core.embedders.factory import default_embedder
    from tools_kb.catalog import SqliteCatalogStore
    from tools_kb.kb import ToolKB
    from tools_kb.tool import parse_tool

    compute = ComputeThread()
    embedder = default_embedder(models_dir, None, compute=compute)
    kb_embedder = embedder if mode == "sliced" else _RequestLaneOnly(embedder)
    # a different catalog each round: nothing is cached between rounds
    raw = synthetic_tools(seed + 2 * tools, seed=1000 + round_no)
    queries = synthetic_queries(raw[:seed], 200, seed=round_no)
    quiet_batch = [parse_tool(r) for r in raw[seed : seed + tools]]
    busy_batch = [parse_tool(r) for r in raw[seed + tools :]]
    with tempfile.TemporaryDirectory(prefix="sb-rebuild-") as tmp:
        async with ToolKB(SqliteCatalogStore(Path(tmp) / "catalog.sqlite"), kb_embedder) as kb:
            await kb.upsert([parse_tool(r) for r in raw[:seed]])
            stop = asyncio.Event()
            idle_client = asyncio.create_task(
                _clients(clients, kb, embedder, queries, stop, f"idle {round_no}")
            )
            await asyncio.sleep(2.0)
            stop.set()
            idle = await idle_client
            start = time.perf_counter()
            await kb.upsert(quiet_batch)  # no client: the build's own speed
            quiet_s = time.perf_counter() - start
            stop = asyncio.Event()
            busy_client = asyncio.create_task(
                _clients(clients, kb, embedder, queries, stop, f"busy {round_no}")
            )
            await asyncio.sleep(0.1)
            start = time.perf_counter()
            await kb.upsert(busy_batch)
            busy_s = time.perf_counter() - start
            stop.set()
            busy = await busy_client
    compute.shutdown()  # this round's thread (and with it the ONNX session's work)
    return {"quiet_s": quiet_s, "busy_s": busy_s, "idle": idle, "during": busy}


def _merge(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rebuild_s_quiet": round(statistics.median(r["quiet_s"] for r in rounds), 2),
        "rebuild_s_with_client": round(statistics.median(r["busy_s"] for r in rounds), 2),
        "rounds": len(rounds),
    }
    for phase in ("idle", "during"):
        for kind in ("search", "embed"):
            per_round = [latency_summary(r[phase][kind]) for r in rounds]
            out[f"{kind}_{phase}"] = {
                key: round(statistics.median(s[key] for s in per_round), 2)
                for key in ("p50_ms", "p99_ms", "max_ms")
            } | {"n": sum(s["n"] for s in per_round)}
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, list[dict[str, Any]]] = {"sliced": [], "whole": []}
    for r in range(args.rounds):
        order = ("sliced", "whole") if r % 2 == 0 else ("whole", "sliced")
        for mode in order:
            results[mode].append(
                await run_round(mode, args.models_dir, args.seed, args.tools, r, args.clients)
            )
    return {mode: _merge(rounds) for mode, rounds in results.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tools_rebuild_latency")
    p.add_argument("--seed", type=int, default=200, help="tools in the catalog before the upsert")
    p.add_argument("--tools", type=int, default=2000, help="tools upserted while the client runs")
    p.add_argument("--rounds", type=int, default=2, help="rounds per mode (alternating)")
    p.add_argument("--clients", type=int, default=1, help="clients sending requests at once")
    p.add_argument("--models-dir", type=Path, default=default_models_dir())
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result))
    else:
        for mode, r in result.items():
            print(mode, json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
