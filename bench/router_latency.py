"""Latency and throughput of full learned routing decisions.

    python -m bench.router_latency --json [--n 2000] [--concurrency 64] [--router default]

Each decision = embed a fresh ~200-token prompt (a cache miss; the embedder micro-batches concurrent
calls on one compute thread) + category + per-candidate quality and output tokens + select_target,
through gateway.learned_routing.LearnedSelector. Prints {"p50_ms", "p99_ms", "throughput_per_s", ...};
``scoring_only_*`` time the same decision on a precomputed embedding (the cache-hit path).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from core.config.models import Policy, RouterRef
from core.embedding import Embedder
from core.routing import DeploymentView, RouteConstraints
from core.wire import ChatRequest
from gateway.learned_routing import LearnedSelector
from routers.serialize import load_router

WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but "
    "have an they you were her she there been one all we their has would when if so what can out "
    "about other into more some could time these two may then do first any my now such like our over "
    "man me even most made after also did many before must through back years where much your way "
    "well down should because each just those people how too little state good very make world still "
    "own see men work long get here between both life being under never day same another know while "
    "last might us great old year off come since against go came right used take three integral "
    "python function derivative matrix theorem proof algorithm recursion database query poem story "
    "translate summarize explain compare contrast essay physics chemistry biology history law"
).split()


def make_prompts(n: int, tokens: int = 200, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    # ~1.3 tokens per word for this vocabulary
    n_words = int(tokens / 1.3)
    return [f"{i}: " + " ".join(rng.choice(WORDS) for _ in range(n_words)) + "?" for i in range(n)]


class FixedEmbedder:
    """Returns precomputed vectors by text (the cache-hit path, no model run)."""

    def __init__(self, table: dict[str, npt.NDArray[np.float32]]) -> None:
        self._t = table
        self.dim = 384
        self.name = "fixed"

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.stack([self._t[t] for t in texts])


def views() -> dict[str, DeploymentView]:
    def v(name: str, model: str, tier: Literal["edge", "cloud"], pin: float, pout: float) -> DeploymentView:
        return DeploymentView(
            name=name,
            model=model,
            tier=tier,
            input_per_mtok=pin,  # type: ignore[arg-type]
            output_per_mtok=pout,
            context_window=128000,
            capabilities=frozenset({"tools", "streaming"}),
            available=True,
            ttft_ms=300.0,
            tpot_ms=20.0,
        )

    return {
        d.name: d
        for d in (
            v("gpt-4o", "gpt-4o", "cloud", 2.5, 10.0),
            v("gpt-4o-mini", "gpt-4o-mini", "cloud", 0.15, 0.6),
            v("llama-70b", "llama-3.1-70b-instruct", "cloud", 0.88, 0.88),
            v("llama-8b", "llama-3.1-8b-instruct", "cloud", 0.2, 0.2),
            v("edge", "smollm2", "edge", 0.0, 0.0),
        )
    }


def make_embedder(models_dir: Path) -> tuple[Embedder, str]:
    try:
        from core.embedders import default_embedder

        emb = default_embedder(models_dir)
        return emb, emb.name
    except Exception:
        from core.embedders import BatchingEmbedder, SentenceTransformerEmbedder

        st = SentenceTransformerEmbedder()
        return BatchingEmbedder(st, max_batch=64), st.name


async def run_load(
    selector: LearnedSelector, prompts: list[str], concurrency: int
) -> tuple[list[float], float]:
    policy = Policy(
        name="auto",
        candidates=tuple(views()),
        cost_weight=20.0,
        router=RouterRef(kind="learned", path="default"),
    )
    vs = views()
    cons = RouteConstraints(prompt_tokens=200, ttft_slo_ms=1000)
    lat: list[float] = []
    queue = list(reversed(prompts))

    async def worker() -> None:
        while queue:
            text = queue.pop()
            req = ChatRequest({"model": "auto", "messages": [{"role": "user", "content": text}]})
            t0 = time.perf_counter()
            await selector.select(req, policy, vs, cons)
            lat.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return lat, time.perf_counter() - t0


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    router = load_router(args.router)
    emb, emb_name = make_embedder(Path(args.models_dir))
    warm = make_prompts(64, seed=99)
    sel = LearnedSelector(router, emb, "learned")
    await run_load(sel, warm, args.concurrency)  # warm-up (sessions, thread, caches)
    prompts = make_prompts(args.n, seed=1)
    lat, wall = await run_load(sel, prompts, args.concurrency)
    # one request at a time, still a cache miss each: the embedding's own latency
    lat1, _ = await run_load(sel, make_prompts(100, seed=7), 1)
    # cache-hit path: same decisions with embeddings already known
    vecs = await emb.embed(prompts[: min(len(prompts), 512)])
    fixed = LearnedSelector(router, FixedEmbedder(dict(zip(prompts, vecs, strict=False))), "learned")
    lat_hit, wall_hit = await run_load(fixed, prompts[: len(vecs)], args.concurrency)
    seq: list[float] = []
    for p in prompts[:200]:
        req = ChatRequest({"model": "auto", "messages": [{"role": "user", "content": p}]})
        t0 = time.perf_counter()
        await fixed.select(req, Policy(name="auto", candidates=tuple(views())), views(), RouteConstraints())
        seq.append((time.perf_counter() - t0) * 1000)
    return {
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p99_ms": round(float(np.percentile(lat, 99)), 3),
        "throughput_per_s": round(len(lat) / wall, 1),
        "n": len(lat),
        "concurrency": args.concurrency,
        "prompt_tokens": 200,
        "embedder": emb_name,
        "single_request_miss_p50_ms": round(float(np.percentile(lat1, 50)), 3),
        "single_request_miss_p99_ms": round(float(np.percentile(lat1, 99)), 3),
        "scoring_only_sequential_p50_ms": round(float(np.percentile(seq, 50)), 3),
        "scoring_only_sequential_p99_ms": round(float(np.percentile(seq, 99)), 3),
        "cache_hit_throughput_per_s": round(len(lat_hit) / wall_hit, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--json", action="store_true")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--router", default="default")
    p.add_argument("--models-dir", default="var/models")
    args = p.parse_args()
    out = asyncio.run(main_async(args))
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
