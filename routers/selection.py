"""Selection: one pure function from predictions + live deployment state to a :class:`RouteDecision`.

``select_target`` keeps the candidates that satisfy every constraint, in this order (the first one
that empties the set is the one named by :class:`~core.errors.NoCandidateError`):

=================  ==================================================================
``unknown``        the deployment is not configured
``availability``   key missing, process down, cooling down (``DeploymentView.available``)
``concurrency``    ``in_flight >= max_concurrency``
``tier``           tier not allowed (policy, ``x-switchboard-tier``, edge-only keys)
``capabilities``   a required capability (tools, vision, …) is missing
``context_window`` prompt + max output tokens exceed the window
``max_cost_usd``   expected cost above the per-request cap
``ttft_slo_ms``    live time-to-first-token above the SLO (no data yet = allowed)
``tpot_slo_ms``    live time-per-output-token above the SLO
=================  ==================================================================

and ranks the rest by ``quality − λ·expected_cost_usd`` (ties: policy order). The decision's
``binding_constraint`` names the constraint that removed the candidate that would have won without
constraints, and ``reason`` is one line for ``x-switchboard-route-reason``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from core.errors import NoCandidateError
from core.routing import DeploymentView, RouteConstraints, RouteDecision

DEFAULT_OUTPUT_TOKENS = 256.0


def expected_cost_usd(view: DeploymentView, prompt_tokens: int, output_tokens: float) -> float:
    return (prompt_tokens * view.input_per_mtok + output_tokens * view.output_per_mtok) / 1e6


def _capped_output(c: RouteConstraints, expected: float) -> float:
    return min(expected, float(c.max_output_tokens)) if c.max_output_tokens else expected


Check = Callable[[DeploymentView, RouteConstraints, float], str | None]


def _availability(v: DeploymentView, c: RouteConstraints, out: float) -> str | None:
    return None if v.available else (v.unavailable_reason or "unavailable")


def _concurrency(v: DeploymentView, c: RouteConstraints, out: float) -> str | None:
    return None if v.in_flight < v.max_concurrency else f"{v.in_flight}/{v.max_concurrency} in flight"


def _tier(v: DeploymentView, c: RouteConstraints, out: float) -> str | None:
    return None if v.tier in c.tiers else f"tier {v.tier} not in {sorted(c.tiers)}"


def _capabilities(v: DeploymentView, c: RouteConstraints, out: float) -> str | None:
    missing = c.require_capabilities - v.capabilities
    return f"lacks {','.join(sorted(missing))}" if missing else None


def _context(v: DeploymentView, c: RouteConstraints, out: float) -> str | None:
    need = c.prompt_tokens + (c.max_output_tokens or 0)
    if v.context_window is not None and need > v.context_window:
        return f"needs {need} > {v.context_window} tokens"
    return None


def _cost(v: DeploymentView, c: RouteConstraints, out: float) -> str | None:
    if c.max_cost_usd is None:
        return None
    cost = expected_cost_usd(v, c.prompt_tokens, out)
    return f"${cost:.6f} > ${c.max_cost_usd:.6f}" if cost > c.max_cost_usd else None


def _ttft(v: DeploymentView, c: RouteConstraints, out: float) -> str | None:
    if c.ttft_slo_ms is None or v.ttft_ms is None or v.ttft_ms <= c.ttft_slo_ms:
        return None
    return f"ttft {v.ttft_ms:.0f}>{c.ttft_slo_ms:.0f}ms"


def _tpot(v: DeploymentView, c: RouteConstraints, out: float) -> str | None:
    if c.tpot_slo_ms is None or v.tpot_ms is None or v.tpot_ms <= c.tpot_slo_ms:
        return None
    return f"tpot {v.tpot_ms:.1f}>{c.tpot_slo_ms:.1f}ms"


CHECKS: tuple[tuple[str, Check], ...] = (
    ("availability", _availability),
    ("concurrency", _concurrency),
    ("tier", _tier),
    ("capabilities", _capabilities),
    ("context_window", _context),
    ("max_cost_usd", _cost),
    ("ttft_slo_ms", _ttft),
    ("tpot_slo_ms", _tpot),
)


@dataclass(frozen=True, slots=True)
class Rejection:
    deployment: str
    constraint: str
    detail: str


def _utility(q: float, cost: float, lam: float) -> float:
    return q - lam * cost


def select_target(
    policy: str,
    candidates: Sequence[str],
    views: Mapping[str, DeploymentView],
    constraints: RouteConstraints,
    quality: Mapping[str, float],
    *,
    output_tokens: Mapping[str, float] | None = None,
    cost_weight: float = 0.0,
    router: str = "fallback",
    category: str | None = None,
) -> RouteDecision:
    """Rank ``candidates`` (deployment names, policy order) by ``quality − cost_weight·cost``.

    ``quality``: predicted quality per deployment (missing = 0.5); ``output_tokens``: expected
    completion tokens per deployment (missing = 256, capped by ``max_output_tokens``).
    Raises :class:`NoCandidateError` naming the first constraint that left no candidate.
    """
    toks = output_tokens or {}
    rejected: list[Rejection] = []
    alive: list[tuple[str, DeploymentView, float]] = []
    last_constraint = "unknown"
    pending: list[tuple[str, DeploymentView | None]] = [(n, views.get(n)) for n in dict.fromkeys(candidates)]
    known: list[tuple[str, DeploymentView, float]] = []
    for name, view in pending:
        if view is None:
            rejected.append(Rejection(name, "unknown", "not configured"))
            continue
        known.append((name, view, _capped_output(constraints, toks.get(name, DEFAULT_OUTPUT_TOKENS))))
    alive = known
    for cname, check in CHECKS:
        if not alive:
            break
        survivors = []
        for name, view, out in alive:
            why = check(view, constraints, out)
            if why is None:
                survivors.append((name, view, out))
            else:
                rejected.append(Rejection(name, cname, why))
        if not survivors:
            last_constraint = cname
        alive = survivors
    if not alive:
        details = "; ".join(f"{r.deployment}: {r.detail}" for r in rejected) or "no candidates"
        raise NoCandidateError(
            f"no deployment of policy {policy!r} satisfies {last_constraint} ({details})",
            constraint=last_constraint,
        )

    def key(item: tuple[str, DeploymentView, float]) -> float:
        name, view, out = item
        return _utility(
            quality.get(name, 0.5), expected_cost_usd(view, constraints.prompt_tokens, out), cost_weight
        )

    order = {n: i for i, n in enumerate(candidates)}
    ranked = sorted(alive, key=lambda it: (-key(it), order[it[0]]))
    unconstrained = sorted(known, key=lambda it: (-key(it), order[it[0]]))
    binding = None
    if unconstrained and unconstrained[0][0] != ranked[0][0]:
        lost = unconstrained[0][0]
        binding = next((r.constraint for r in rejected if r.deployment == lost), None)
    best_name, best_view, best_out = ranked[0]
    best_cost = expected_cost_usd(best_view, constraints.prompt_tokens, best_out)
    parts = [
        f"router={router}",
        *([f"category={category}"] if category else []),
        f"pick={best_name}",
        f"q={quality.get(best_name, 0.5):.3f}",
        f"cost=${best_cost:.6f}",
        f"lambda={cost_weight:g}",
    ]
    if binding:
        parts.append(f"bound_by={binding}")
    if rejected:
        parts.append("dropped=" + ",".join(f"{r.deployment}({r.constraint})" for r in rejected))
    return RouteDecision(
        policy=policy,
        ranked=tuple(n for n, _, _ in ranked),
        reason=" ".join(parts),
        scores={n: round(float(quality.get(n, 0.5)), 4) for n, _, _ in known},
        category=category,
        router=router,
        binding_constraint=binding,
    )
