"""Cascade routing: answer with the cheap/edge model first, escalate when confidence is low.

Only for non-streaming requests (a streamed answer cannot be taken back). Confidence is the geometric
mean token probability from the provider's logprobs when the response carries them, else a learned
score (the router's predicted quality of the cheap model on this prompt).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.routing import DeploymentView, RouteDecision


@dataclass(frozen=True, slots=True)
class CascadePlan:
    first: str  # deployment answering first
    escalate_to: tuple[str, ...]  # tried in order when confidence < threshold
    threshold: float


def cascade_applies(body: Mapping[str, Any]) -> bool:
    """Cascades run only for non-streaming requests."""
    return not bool(body.get("stream"))


def plan_cascade(
    decision: RouteDecision, views: Mapping[str, DeploymentView], threshold: float
) -> CascadePlan | None:
    """First = the cheapest ranked deployment (edge preferred on ties); escalation = the others in
    ranked order. None when fewer than two deployments are ranked."""
    ranked = [n for n in decision.ranked if n in views]
    if len(ranked) < 2:
        return None

    def price(n: str) -> tuple[float, int, int]:
        v = views[n]
        return (v.input_per_mtok + v.output_per_mtok, 0 if v.tier == "edge" else 1, ranked.index(n))

    first = min(ranked, key=price)
    return CascadePlan(first, tuple(n for n in ranked if n != first), threshold)


def logprob_confidence(response_body: Mapping[str, Any]) -> float | None:
    """exp(mean token logprob) of the first choice, or None when the provider gave no logprobs."""
    choices = response_body.get("choices") or []
    if not choices:
        return None
    lp = (choices[0] or {}).get("logprobs") or {}
    content = lp.get("content") if isinstance(lp, Mapping) else None
    if not content:
        return None
    vals: Sequence[float] = [
        float(t["logprob"]) for t in content if isinstance(t, Mapping) and "logprob" in t
    ]
    if not vals:
        return None
    return math.exp(sum(vals) / len(vals))


def cascade_confidence(response_body: Mapping[str, Any], learned_score: float) -> tuple[float, str]:
    """``(confidence, source)`` with source ``logprobs`` or ``learned``."""
    c = logprob_confidence(response_body)
    return (c, "logprobs") if c is not None else (learned_score, "learned")


def should_escalate(confidence: float, threshold: float) -> bool:
    return confidence < threshold
