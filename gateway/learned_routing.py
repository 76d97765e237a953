"""The learned RouteSelector: featurize the prompt, predict per-candidate quality, select.

Policy YAML (``router:`` block of a policy)::

    router:
      kind: learned            # or knn | mf | heads: any trained router directory
      path: default            # config/routers/default, or a router directory
      params:
        threshold: 0.42        # optional strong/weak mode: strong_needed ≥ threshold → strong first
        strong: gpt-4o         # deployments for that mode
        weak: gpt-4o-mini
        ability.gpt-4o: 2.0    # optional ability of a deployment's model the router never saw
    cost_weight: 50            # λ in quality − λ·expected_cost_usd
    overrides:
      - category: math         # the router's category classifier label
        candidates: [gpt-4o]

Unknown models get an ability from ``ability.<deployment>`` or, failing that, from their price rank
among the candidates (dearest +1 … cheapest −1): a prior, not a measurement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.config.models import Constraints, Policy, RouterRef
from core.embedding import Embedder
from core.errors import NoCandidateError
from core.routing import DeploymentView, RouteConstraints, RouteDecision
from core.wire import ChatRequest, prompt_text
from gateway.routing import SelectorContext, SelectorRegistry
from routers.features import count_turns, featurize
from routers.priors import price_rank_abilities
from routers.router import TrainedRouter
from routers.selection import select_target
from routers.serialize import load_router

LEARNED_KINDS: tuple[str, ...] = ("learned", "knn", "mf", "heads")


def tighten(c: RouteConstraints, extra: Constraints | None) -> RouteConstraints:
    """``c`` tightened (never loosened) by a category override's constraints."""
    if extra is None:
        return c

    def low(a: float | None, b: float | None) -> float | None:
        return b if a is None else a if b is None else min(a, b)

    return replace(
        c,
        max_cost_usd=low(c.max_cost_usd, extra.max_cost_usd),
        ttft_slo_ms=low(c.ttft_slo_ms, extra.ttft_slo_ms),
        tpot_slo_ms=low(c.tpot_slo_ms, extra.tpot_slo_ms),
        tiers=c.tiers & frozenset(extra.tiers),
        require_capabilities=c.require_capabilities | frozenset(extra.require_capabilities),
    )


def price_abilities(names: Sequence[str], views: Mapping[str, DeploymentView]) -> dict[str, float]:
    """Ability prior by price rank among the candidates (routers.priors.price_rank_abilities)."""
    return price_rank_abilities(
        {n: views[n].input_per_mtok + 3 * views[n].output_per_mtok for n in names if n in views}
    )


@dataclass
class LearnedSelector:
    """Implements gateway.routing.RouteSelector with a trained router."""

    router: TrainedRouter
    embedder: Embedder
    kind: str = "learned"
    params: Mapping[str, Any] | None = None

    def _abilities(self, names: Sequence[str], views: Mapping[str, DeploymentView]) -> dict[str, float]:
        params = self.params or {}
        prior = price_abilities(names, views)
        out: dict[str, float] = {}
        for n in names:
            key = f"ability.{n}"
            if key in params:
                out[n] = float(params[key])
            elif n in views and self.router.index(views[n].model) is None:
                out[n] = prior.get(n, 0.0)
        return out

    async def select(
        self,
        request: ChatRequest,
        policy: Policy,
        views: Mapping[str, DeploymentView],
        constraints: RouteConstraints,
    ) -> RouteDecision:
        """Raises NoCandidateError (constraint named) when no candidate fits."""
        text = prompt_text(request.messages)
        feats = await featurize(self.embedder, [text], [count_turns(request.messages)])
        cats = self.router.category(feats)
        category = cats[0] if cats else None
        override = next((o for o in policy.overrides if o.category == category), None)
        candidates = tuple(override.candidates) if override and override.candidates else policy.candidates
        cons = tighten(constraints, override.constraints if override else None)
        params = self.params or {}
        strong, weak = params.get("strong"), params.get("weak")
        if "threshold" in params and isinstance(strong, str) and isinstance(weak, str) and not override:
            return self._threshold(
                policy, feats, views, cons, strong, weak, float(params["threshold"]), category
            )
        names = [n for n in candidates if n in views]
        models = [views[n].model for n in names]
        abil = self._abilities(names, views)
        by_model = {views[n].model: abil[n] for n in names if n in abil}
        q = self.router.quality(feats, models, by_model)[0]
        toks = self.router.expected_output_tokens(feats, models)[0]
        decision = select_target(
            policy.name,
            candidates,
            views,
            cons,
            {n: float(q[i]) for i, n in enumerate(names)},
            output_tokens={n: float(toks[i]) for i, n in enumerate(names)},
            cost_weight=policy.cost_weight,
            router=self.kind,
            category=category,
        )
        return self._with_fallbacks(decision, policy, views, cons)

    def _threshold(
        self,
        policy: Policy,
        feats: Any,
        views: Mapping[str, DeploymentView],
        cons: RouteConstraints,
        strong: str,
        weak: str,
        threshold: float,
        category: str | None,
    ) -> RouteDecision:
        s_model = views[strong].model if strong in views else strong
        w_model = views[weak].model if weak in views else weak
        score = float(self.router.strong_needed(feats, s_model, w_model)[0])
        order = (strong, weak) if score >= threshold else (weak, strong)
        quality = {order[0]: 1.0, order[1]: 0.0}
        d = select_target(policy.name, order, views, cons, quality, router=self.kind, category=category)
        parts = [
            f"router={self.kind}",
            *([f"category={category}"] if category else []),
            f"pick={d.ranked[0]}",
            f"strong_needed={score:.3f}",
            f"threshold={threshold:g}",
        ]
        if d.binding_constraint:
            parts.append(f"bound_by={d.binding_constraint}")
        return replace(d, reason=" ".join(parts), scores={"strong_needed": round(score, 4)})

    def _with_fallbacks(
        self, d: RouteDecision, policy: Policy, views: Mapping[str, DeploymentView], cons: RouteConstraints
    ) -> RouteDecision:
        extra = [n for n in policy.fallbacks if n not in d.ranked]
        if not extra:
            return d
        try:
            fb = select_target(policy.name, extra, views, cons, {}, router=self.kind)
        except NoCandidateError:
            return d
        return replace(d, ranked=(*d.ranked, *fb.ranked))


def learned_selector_factory(ref: RouterRef, ctx: SelectorContext) -> LearnedSelector:
    """SelectorFactory for gateway.routing.SelectorRegistry: ``registry.register(kind,
    learned_selector_factory)`` for each kind in LEARNED_KINDS.

    The embedder is ``ctx.extras["embedder"]`` when given, else core.embedders.default_embedder over
    ``ctx.models_dir`` and ``ctx.store``. Raises ConfigError when the router directory is unreadable.
    """
    router = load_router(ref.path or "default")
    embedder = ctx.extras.get("embedder")
    if embedder is None:
        from core.embedders import default_embedder

        embedder = default_embedder(ctx.models_dir, ctx.store)
    return LearnedSelector(router=router, embedder=embedder, kind=ref.kind, params=dict(ref.params))


def register_learned_selectors(registry: SelectorRegistry) -> None:
    """Register :func:`learned_selector_factory` for every kind in :data:`LEARNED_KINDS`."""
    for kind in LEARNED_KINDS:
        registry.register(kind, learned_selector_factory)
