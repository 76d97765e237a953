"""Short embeddings beside a long one: ``python -m bench.embedding_fairness --json``.

A gateway process has one compute thread for every embedding: routing classifications and
tool searches (one short text each) and ``/v1/embeddings`` requests, which may carry up to 2,048
inputs. This bench holds the gateway's composition (``default_embedder``: cache → batching →
ONNX int8 MiniLM on one compute thread) and sends one long call of ``--texts`` paragraphs
(~``--chars`` characters each, all distinct: a RAG ingestion batch) while a client sends a
one-text call every 20 ms (a distinct prompt each time, so none is a cache hit).

Modes, in alternating rounds: ``sliced`` (the long call as ``/v1/embeddings`` makes it,
``core.embedders.background.embed_many``: a bulk call goes to the ONNX embedder's background lane,
~10 ms slices that short calls overtake on the compute thread) and ``whole`` (``embed``: the long
call is one model call, as before session 12). Prints per mode the long
call's seconds alone and with the client running, and the short calls' latency during it
(p50 / p99 / max ms), medians over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from bench.tools_rebuild_latency import latency_summary
from core.embedders.manifest import default_models_dir

PERIOD_S = 0.02
WORDS = (
    "invoice shipment contract patient sensor budget flight hotel ticket review policy claim "
    "account report meeting recipe playlist device route order payment campaign record lead "
    "the a of to and in for with on by from about after before during under over"
).split()


def paragraphs(n: int, chars: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words: list[str] = [f"chunk {seed}-{i}:"]
        while sum(len(w) + 1 for w in words) < chars:
            words.append(rng.choice(WORDS))
        out.append(" ".join(words))
    return out


async def _round(embedder: Any, long_call: Any, texts: int, chars: int, seed: int) -> dict[str, Any]:
    alone_texts = paragraphs(texts, chars, seed)
    start = time.perf_counter()
    await long_call(alone_texts)
    alone_s = time.perf_counter() - start

    long_texts = paragraphs(texts, chars, seed + 1)
    latencies: list[float] = []
    done = asyncio.Event()

    async def client() -> None:
        k = 0
        while not done.is_set():
            k += 1
            t0 = time.perf_counter()
            await embedder.embed([f"route this prompt {seed} {k} about a {WORDS[k % len(WORDS)]}"])
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(max(0.0, PERIOD_S - (time.perf_counter() - t0)))

    runner = asyncio.ensure_future(client())
    await asyncio.sleep(0.1)
    latencies.clear()  # only the calls made while the long one runs
    start = time.perf_counter()
    await long_call(long_texts)
    busy_s = time.perf_counter() - start
    done.set()
    await runner
    return {"alone_s": alone_s, "busy_s": busy_s, "short": latencies}


async def run(models_dir: Path, texts: int, chars: int, rounds: int) -> dict[str, Any]:
    from core.embedders import default_embedder
    from core.embedders.background import embed_many
    from core.embedders.compute import ComputeThread

    compute = ComputeThread()
    embedder = default_embedder(models_dir, compute=compute)  # the gateway's composition
    modes: dict[str, Any] = {
        "sliced": lambda texts: embed_many(embedder, texts),  # what /v1/embeddings does
        "whole": embedder.embed,  # before session 12
    }
    await embedder.embed(paragraphs(8, chars, 999))  # warm-up
    per_mode: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    try:
        for r in range(rounds):
            order = list(modes) if r % 2 == 0 else list(modes)[::-1]
            for mode in order:
                per_mode[mode].append(
                    await _round(embedder, modes[mode], texts, chars, seed=10 * r + len(mode))
                )
    finally:
        compute.shutdown()
    out: dict[str, Any] = {"texts": texts, "chars": chars, "rounds": rounds}
    for mode, results in per_mode.items():
        summaries = [latency_summary(x["short"]) for x in results]
        out[mode] = {
            "long_call_alone_s": round(statistics.median(x["alone_s"] for x in results), 2),
            "long_call_with_client_s": round(statistics.median(x["busy_s"] for x in results), 2),
            "short_calls": sum(s["n"] for s in summaries),
            **{
                k: round(statistics.median(s[k] for s in summaries if s["n"]), 2)
                for k in ("p50_ms", "p99_ms", "max_ms")
            },
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.embedding_fairness")
    p.add_argument("--texts", type=int, default=512, help="inputs of the long call")
    p.add_argument("--chars", type=int, default=600, help="characters per input (~130 word pieces)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--models-dir", type=Path, default=default_models_dir())
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = asyncio.run(run(args.models_dir, args.texts, args.chars, args.rounds))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
