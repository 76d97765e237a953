"""Pure summaries for the dashboard's panels, computed from decision records, live deployment
state and the active config snapshot. No I/O; every function returns plain JSON-able data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gateway.decision_log import DecisionRecord, Totals
from gateway.deployment_state import DeploymentStates
from gateway.reload import ConfigReloader
from gateway.snapshot import ConfigSnapshot


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _group(records: Sequence[DecisionRecord], key: str) -> dict[str, list[DecisionRecord]]:
    groups: dict[str, list[DecisionRecord]] = {}
    for rec in records:
        name = getattr(rec, key)
        if name:
            groups.setdefault(name, []).append(rec)
    return groups


def traffic(records: Sequence[DecisionRecord], totals: Totals, *, source: str) -> dict[str, Any]:
    """Totals since start plus, over the recent ``records`` window, per-deployment request and
    error counts, latency p50/p95 (successful requests), TTFT p50 (streams), tokens and cost, and
    spend / cost saved per policy."""
    per_deployment = []
    for name, recs in sorted(_group(records, "deployment").items()):
        ok = [r.latency_ms for r in recs if not r.error and r.latency_ms is not None]
        ttft = [r.ttft_ms for r in recs if r.ttft_ms is not None]
        per_deployment.append({
            "deployment": name,
            "tier": next((r.tier for r in recs if r.tier), ""),
            "requests": len(recs),
            "errors": sum(1 for r in recs if r.error),
            "p50_ms": percentile(ok, 50),
            "p95_ms": percentile(ok, 95),
            "ttft_p50_ms": percentile(ttft, 50),
            "prompt_tokens": sum(r.prompt_tokens for r in recs),
            "completion_tokens": sum(r.completion_tokens for r in recs),
            "cost_usd": sum(r.cost_usd for r in recs),
        })
    per_policy = []
    for name, recs in sorted(_group(records, "policy").items()):
        cost = sum(r.cost_usd for r in recs)
        base = sum(r.baseline_cost_usd for r in recs)
        per_policy.append({"policy": name, "requests": len(recs), "cost_usd": cost,
                           "baseline_cost_usd": base, "saved_usd": max(0.0, base - cost)})
    return {
        "source": source,
        "totals": totals.to_json(),
        "window": {"records": len(records), "since": min((r.at for r in records), default=None),
                   "until": max((r.at for r in records), default=None)},
        "deployments": per_deployment,
        "policies": per_policy,
    }


def deployments(snapshot: ConfigSnapshot, states: DeploymentStates) -> list[dict[str, Any]]:
    """Each configured deployment's health as this process sees it now."""
    out = []
    for entry in snapshot.deployments.values():
        cooling = states.cooling(entry.name)
        st = states.get(entry.name)
        ttft, tpot = states.latency(entry.name)
        out.append({
            "name": entry.name, "kind": entry.spec.kind, "model": entry.spec.model, "tier": entry.spec.tier,
            "available": entry.available and cooling is None,
            "unavailable_reason": entry.reason or cooling or "",
            "cooling_down": cooling,
            "in_flight": st.in_flight, "max_concurrency": entry.spec.max_concurrency,
            "consecutive_failures": st.failures,
            "ttft_ms": ttft, "tpot_ms": tpot, "e2e_ms": st.e2e_ms,
            "input_per_mtok": entry.input_per_mtok, "output_per_mtok": entry.output_per_mtok,
        })
    return out


def config_status(reloader: ConfigReloader) -> dict[str, Any]:
    """The active config version and, when the last reload was rejected, why (file:line:col)."""
    snap = reloader.current
    err = reloader.last_error
    last = reloader.last_result
    return {
        "version": snap.version,
        "source": snap.source,
        "loaded_at": snap.loaded_at,
        "last_reload": last.to_json() if last else None,
        "last_error": err.to_json() if err else None,
        "policies": [
            {"name": p.name, "aliases": list(p.aliases), "router": p.router.kind,
             "candidates": list(p.candidates), "fallbacks": list(p.fallbacks), "cost_weight": p.cost_weight}
            for p in snap.config.policies
        ],
    }
