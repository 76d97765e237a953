"""``switchboard route "prompt" [--policy NAME] [--json]``: show the routing decision for a prompt.

With a config (``--config``, default ``config/default.yaml``) the policy's selector decides over its
deployments as configured (all assumed available, no live latency yet). Without one, the router alone
answers: category, difficulty, strong-model-needed score and predicted quality per known model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from core.embedders.manifest import default_models_dir
from core.embedding import Embedder


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt")
    parser.add_argument("--policy", help="policy name (default: settings.default_policy or the first)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--config", default=os.environ.get("SWITCHBOARD_CONFIG", "config/default.yaml"))
    parser.add_argument("--router", default=None, help="router directory when the policy names none")
    parser.add_argument("--models-dir", default=str(default_models_dir()))


def _embedder(models_dir: str) -> Embedder:
    try:
        from core.embedders import default_embedder

        return default_embedder(Path(models_dir))
    except Exception:  # not prepared: fall back to the reference model (slower, same vectors)
        from core.embedders import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder()


async def _router_only(args: argparse.Namespace) -> dict[str, Any]:
    from routers.features import featurize
    from routers.serialize import load_router

    router = load_router(args.router or "default")
    feats = await featurize(_embedder(args.models_dir), [args.prompt])
    q = router.score(feats)[0]
    top = sorted(zip(router.models, q.tolist(), strict=True), key=lambda t: -t[1])[:8]
    cat = router.category(feats)
    return {
        "router": router.kind,
        "category": cat[0] if cat else None,
        "difficulty": round(float(router.difficulty_of(feats)[0]), 4),
        "strong_needed": round(float(router.strong_needed(feats, "<strong>", "<weak>")[0]), 4),
        "quality": {m: round(v, 4) for m, v in top},
        "reason": "no config: router scores only",
    }


async def _decide(args: argparse.Namespace) -> dict[str, Any]:
    from core.config import load_gateway_config
    from core.pricing import PriceBook
    from core.routing import DeploymentView, RouteConstraints
    from core.wire import ChatRequest
    from gateway.learned_routing import LEARNED_KINDS, LearnedSelector
    from gateway.routing import FallbackSelector, RouteSelector
    from routers.serialize import load_router

    cfg = load_gateway_config(args.config)
    name = args.policy or cfg.settings.default_policy or (cfg.policies[0].name if cfg.policies else None)
    policy = next((p for p in cfg.policies if p.name == name or name in p.aliases), None)
    if policy is None:
        raise SystemExit(f"switchboard route: no policy {name!r} in {args.config}")
    book = PriceBook.from_config(cfg)
    views: dict[str, DeploymentView] = {}
    for dep in cfg.deployments:
        price = book.price_for(dep.name) or (0.0, 0.0)
        views[dep.name] = DeploymentView(
            name=dep.name,
            model=dep.model,
            tier=dep.tier,
            input_per_mtok=price[0],
            output_per_mtok=price[1],
            context_window=dep.context_window or book.context_window(dep.name),
            capabilities=frozenset(dep.capabilities),
            available=True,
            max_concurrency=dep.max_concurrency,
        )
    pc = policy.constraints
    cons = RouteConstraints(
        max_cost_usd=pc.max_cost_usd,
        ttft_slo_ms=pc.ttft_slo_ms,
        tpot_slo_ms=pc.tpot_slo_ms,
        tiers=frozenset(pc.tiers),
        require_capabilities=frozenset(pc.require_capabilities),
        prompt_tokens=max(1, len(args.prompt) // 4),
    )
    selector: RouteSelector
    if policy.router.kind in LEARNED_KINDS:
        router = load_router(policy.router.path or args.router or "default")
        selector = LearnedSelector(
            router, _embedder(args.models_dir), policy.router.kind, dict(policy.router.params)
        )
    else:
        selector = FallbackSelector()
    req = ChatRequest({"model": policy.name, "messages": [{"role": "user", "content": args.prompt}]})
    d = await selector.select(req, policy, views, cons)
    return {
        "policy": d.policy,
        "ranked": list(d.ranked),
        "reason": d.reason,
        "scores": d.scores,
        "category": d.category,
        "router": d.router,
        "binding_constraint": d.binding_constraint,
    }


def run(args: argparse.Namespace) -> int:
    from core.errors import SwitchboardError

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        use_config = Path(args.config).exists() or args.policy
        out = asyncio.run(_decide(args) if use_config else _router_only(args))
    except SwitchboardError as exc:
        print(f"switchboard route: {exc.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return 0
