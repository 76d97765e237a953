"""Route selection: the RouteSelector seam, the default FallbackSelector, and the selector registry.

A selector turns (request, policy, live deployment views, constraints) into a RouteDecision whose
``ranked`` names are tried in order by the dispatcher. Selectors are looked up by the policy's
``router.kind`` in a typed registry (never by a dotted path from YAML): ``fallback`` is built in;
the lead registers the learned selectors (gateway/learned_routing.py) with
:meth:`SelectorRegistry.register`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.config.models import Policy, RouterRef
from core.errors import ConfigError, NoCandidateError
from core.routing import DeploymentView, RouteConstraints, RouteDecision
from core.store.protocol import Store
from core.wire import ChatRequest


class RouteSelector(Protocol):
    async def select(
        self,
        request: ChatRequest,
        policy: Policy,
        views: Mapping[str, DeploymentView],
        constraints: RouteConstraints,
    ) -> RouteDecision:
        """Rank the policy's deployments for this request, best first.

        Raises core.errors.NoCandidateError(constraint=...) when no deployment satisfies the
        constraints (``constraint`` names the one that bound: availability, tier, …).
        """
        ...


@dataclass(frozen=True)
class SelectorContext:
    """What a selector factory may need besides its RouterRef. ``extras`` is free-form for wiring
    (e.g. an embedder provider); factories must tolerate missing keys."""

    models_dir: Path = Path("var/models")
    store: Store | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)


SelectorFactory = Callable[[RouterRef, SelectorContext], RouteSelector]


def rejection(view: DeploymentView | None, c: RouteConstraints, *, strict: bool = True) -> str | None:
    """Why ``view`` cannot serve under ``c`` (the constraint's name), or None when it can.

    ``strict=False`` checks only availability (a client that names a deployment explicitly gets
    it whatever the policy-level constraints say).
    """
    if view is None:
        return "unknown_deployment"
    if not view.available:
        return "availability"
    if not strict:
        return None
    if view.tier not in c.tiers:
        return "tier"
    if not c.require_capabilities <= view.capabilities:
        return "capabilities"
    if view.context_window is not None and c.prompt_tokens + (c.max_output_tokens or 0) > view.context_window:
        return "context_window"
    if c.max_cost_usd is not None and estimated_cost(view, c) > c.max_cost_usd:
        return "max_cost_usd"
    if c.ttft_slo_ms is not None and view.ttft_ms is not None and view.ttft_ms > c.ttft_slo_ms:
        return "ttft_slo_ms"
    if c.tpot_slo_ms is not None and view.tpot_ms is not None and view.tpot_ms > c.tpot_slo_ms:
        return "tpot_slo_ms"
    return None


# When the request gives no max_tokens, cost checks assume this many output tokens.
DEFAULT_OUTPUT_TOKENS = 256


def estimated_cost(view: DeploymentView, c: RouteConstraints) -> float:
    out = c.max_output_tokens if c.max_output_tokens is not None else DEFAULT_OUTPUT_TOKENS
    return (c.prompt_tokens * view.input_per_mtok + out * view.output_per_mtok) / 1e6


class FallbackSelector:
    """Policy order: candidates then fallbacks, keeping those that pass every constraint.

    Saturated deployments (in_flight ≥ max_concurrency) move behind the others rather than out.
    """

    name = "fallback"

    async def select(
        self,
        request: ChatRequest,
        policy: Policy,
        views: Mapping[str, DeploymentView],
        constraints: RouteConstraints,
    ) -> RouteDecision:
        order = list(dict.fromkeys((*policy.candidates, *policy.fallbacks)))
        ok: list[str] = []
        busy: list[str] = []
        skipped: list[tuple[str, str]] = []
        for name in order:
            view = views.get(name)
            why = rejection(view, constraints)
            if why is not None:
                skipped.append((name, why))
            elif view is not None and view.in_flight >= view.max_concurrency:
                busy.append(name)
            else:
                ok.append(name)
        ranked = tuple(ok + busy)
        if not ranked:
            raise no_candidate(policy.name, skipped, views, constraints)
        reason = f"{policy.name}: {ranked[0]} (first eligible in policy order"
        if skipped:
            reason += "; skipped " + ", ".join(f"{n}={w}" for n, w in skipped[:4])
        reason += ")"
        return RouteDecision(policy=policy.name, ranked=ranked, reason=reason, router=self.name)


def no_candidate(
    policy: str,
    skipped: list[tuple[str, str]],
    views: Mapping[str, DeploymentView],
    constraints: RouteConstraints | None = None,
) -> NoCandidateError:
    """A NoCandidateError whose ``constraint`` is the reason that removed most candidates."""
    if not skipped:
        return NoCandidateError(f"policy {policy!r} has no deployments", constraint="empty_policy")
    counts: dict[str, int] = {}
    for _, why in skipped:
        counts[why] = counts.get(why, 0) + 1
    binding = max(counts, key=lambda k: counts[k])
    parts = []
    for name, why in skipped[:6]:
        view = views.get(name)
        detail = why
        if why == "availability" and view is not None:
            detail = view.unavailable_reason or why
        elif why == "capabilities" and view is not None and constraints is not None:
            detail = "lacks " + ", ".join(sorted(constraints.require_capabilities - view.capabilities))
        parts.append(f"{name}: {detail}")
    return NoCandidateError(
        f"no deployment of policy {policy!r} can serve this request ({'; '.join(parts)})",
        constraint=binding,
    )


class SelectorRegistry:
    """kind → factory. Built selectors are cached per RouterRef, so a config reload that keeps a
    policy's router block keeps its (possibly expensive) selector."""

    def __init__(self) -> None:
        self._factories: dict[str, SelectorFactory] = {"fallback": lambda ref, ctx: FallbackSelector()}
        self._built: dict[str, RouteSelector] = {}

    def register(self, kind: str, factory: SelectorFactory) -> None:
        self._factories[kind] = factory
        self._built = {k: v for k, v in self._built.items() if not k.startswith(f'{{"kind":"{kind}"')}

    def kinds(self) -> frozenset[str]:
        return frozenset(self._factories)

    def build(self, ref: RouterRef, ctx: SelectorContext) -> RouteSelector:
        """The selector for ``ref``. Raises ConfigError for an unknown kind or a failing factory."""
        key = ref.model_dump_json()
        hit = self._built.get(key)
        if hit is not None:
            return hit
        factory = self._factories.get(ref.kind)
        if factory is None:
            raise ConfigError([f"router.kind: unknown router kind {ref.kind!r} "
                               f"(registered: {', '.join(sorted(self._factories))})"])
        try:
            selector = factory(ref, ctx)
        except ConfigError:
            raise
        except Exception as exc:  # a router that cannot load must fail the reload, not the process
            raise ConfigError([f"router.kind: router {ref.kind!r} could not be built: {exc}"]) from exc
        self._built[key] = selector
        return selector
