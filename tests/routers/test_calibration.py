"""Calibration of λ / threshold to a target, and the cascade helpers."""

from __future__ import annotations

import numpy as np
import pytest

from core.routing import DeploymentView, RouteDecision
from routers.calibration import (
    lambda_for_budget,
    lambda_for_quality_floor,
    lambda_for_strong_share,
    picks,
    threshold_for_strong_share,
)
from routers.cascade import cascade_applies, cascade_confidence, plan_cascade, should_escalate

# 4 prompts × (strong, weak): strong gains 0.4, 0.3, 0.2, 0.1; costs $0.01 vs $0.0001
Q = np.array([[0.9, 0.5], [0.8, 0.5], [0.7, 0.5], [0.6, 0.5]])
C = np.tile([0.01, 0.0001], (4, 1))


def _strong_share(lam: float) -> float:
    return float((picks(Q, C, lam) == 0).mean())


def test_threshold_for_strong_share() -> None:
    s = [0.1, 0.9, 0.5, 0.7]
    assert threshold_for_strong_share(s, 0.5) == 0.7
    assert threshold_for_strong_share(s, 0.0) == float("inf")
    assert threshold_for_strong_share(s, 1.0) == 0.1


def test_lambda_for_budget_meets_the_budget() -> None:
    # $5.1 per 1k requests: 2 strong calls cost (0.02 + 0.0002) / 4 = $0.00505 a request, 3 do not fit
    lam = lambda_for_budget(Q, C, usd_per_1k=5.1)
    p = picks(Q, C, lam)
    assert C[np.arange(4), p].mean() <= 0.0051
    assert _strong_share(lam) == 0.5


def test_lambda_for_quality_floor_keeps_the_floor() -> None:
    lam = lambda_for_quality_floor(Q, C, floor=0.7)
    p = picks(Q, C, lam)
    assert Q[np.arange(4), p].mean() >= 0.7 - 1e-9
    assert _strong_share(lam) < 1.0  # it did trade some quality for cost


def test_lambda_for_strong_share() -> None:
    lam = lambda_for_strong_share(Q, C, [0], 0.25)
    assert _strong_share(lam) == 0.25
    assert picks(Q, C, lam)[0] == 0  # the prompt with the largest gain keeps the strong model


def test_unreachable_quality_floor_gives_zero_lambda() -> None:
    assert lambda_for_quality_floor(Q, C, floor=0.99) == 0.0


def _view(name: str, tier: str, price: float) -> DeploymentView:
    return DeploymentView(
        name=name,
        model=name,
        tier=tier,
        input_per_mtok=price,  # type: ignore[arg-type]
        output_per_mtok=price,
        context_window=None,
        capabilities=frozenset(),
        available=True,
    )


def test_cascade_starts_on_the_cheapest_and_escalates_in_rank_order() -> None:
    views = {
        "big": _view("big", "cloud", 10),
        "mid": _view("mid", "cloud", 1),
        "edge": _view("edge", "edge", 0),
    }
    d = RouteDecision(policy="p", ranked=("big", "mid", "edge"), reason="")
    plan = plan_cascade(d, views, 0.6)
    assert plan is not None
    assert (plan.first, plan.escalate_to) == ("edge", ("big", "mid"))
    assert plan_cascade(RouteDecision(policy="p", ranked=("big",), reason=""), views, 0.6) is None


def test_confidence_prefers_logprobs_and_falls_back_to_the_learned_score() -> None:
    body = {"choices": [{"logprobs": {"content": [{"logprob": -0.1}, {"logprob": -0.3}]}}]}
    conf, src = cascade_confidence(body, learned_score=0.2)
    assert src == "logprobs" and conf == pytest.approx(np.exp(-0.2))
    assert cascade_confidence({"choices": [{"message": {}}]}, 0.2) == (0.2, "learned")
    assert should_escalate(0.2, 0.5) and not should_escalate(0.8, 0.5)


def test_cascade_only_for_non_streaming() -> None:
    assert cascade_applies({"stream": False}) and not cascade_applies({"stream": True})
