"""gateway.learned_routing.LearnedSelector over a tiny trained router and the fake embedder."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from core.config.models import CategoryOverride, Constraints, Policy, RouterRef
from core.errors import NoCandidateError
from core.routing import DeploymentView, RouteConstraints
from core.wire import ChatRequest
from gateway.learned_routing import (
    LEARNED_KINDS,
    LearnedSelector,
    price_abilities,
    register_learned_selectors,
)
from gateway.routing import SelectorContext, SelectorRegistry
from routers.router import TrainedRouter
from routers.serialize import save_router
from routers.training.data import build_record_set
from routers.training.train import CategoryData, TrainConfig, train_router
from tests.routers.conftest import FakeEmbedder, fake_features, synthetic_records

MATH = "compute the sum of 12 and 40 apples then multiply by 3 what is the total number"
CHAT = "hello there tell me something nice about cats today please friend"


@functools.cache
def router() -> TrainedRouter:
    rs = build_record_set(synthetic_records(30, seed=1))
    feats = fake_features(rs.prompts)
    cats = CategoryData(rs.prompts, rs.categories, feats)
    return train_router("heads", rs, feats, TrainConfig(irt_steps=150, knn_blend=False), cats)


def _view(name: str, model: str, price: float, tier: str = "cloud") -> DeploymentView:
    return DeploymentView(
        name=name,
        model=model,
        tier=tier,
        input_per_mtok=price,  # type: ignore[arg-type]
        output_per_mtok=price,
        context_window=None,
        capabilities=frozenset(),
        available=True,
    )


VIEWS = {
    "d-big": _view("d-big", "big", 10.0),
    "d-small": _view("d-small", "small", 0.1),
    "d-edge": _view("d-edge", "unseen-edge-model", 0.0, "edge"),
}


def _policy(**kw: object) -> Policy:
    base: dict[str, object] = dict(
        name="auto", candidates=("d-big", "d-small"), cost_weight=5.0, router=RouterRef(kind="heads")
    )
    base.update(kw)
    return Policy(**base)  # type: ignore[arg-type]


def _req(text: str) -> ChatRequest:
    return ChatRequest({"model": "auto", "messages": [{"role": "user", "content": text}]})


def _selector(**params: object) -> LearnedSelector:
    return LearnedSelector(router(), FakeEmbedder(), "heads", params)


@pytest.mark.parametrize(
    ("text", "first", "category"),
    [(MATH, "d-big", "math"), (CHAT, "d-small", "chat")],
    ids=["math-goes-strong", "chat-goes-cheap"],
)
async def test_quality_minus_cost_picks_per_prompt(text: str, first: str, category: str) -> None:
    d = await _selector().select(_req(text), _policy(), VIEWS, RouteConstraints(prompt_tokens=50))
    assert d.ranked[0] == first
    assert d.category == category
    assert d.router == "heads" and f"pick={first}" in d.reason


async def test_category_override_replaces_candidates_and_tightens_constraints() -> None:
    pol = _policy(
        overrides=(
            CategoryOverride(
                category="chat", candidates=("d-edge", "d-small"), constraints=Constraints(tiers=("edge",))
            ),
        )
    )
    d = await _selector().select(_req(CHAT), pol, VIEWS, RouteConstraints())
    assert d.ranked == ("d-edge",)
    assert d.binding_constraint is None or d.binding_constraint == "tier"


async def test_threshold_mode_orders_strong_and_weak() -> None:
    sel = _selector(threshold=0.3, strong="d-big", weak="d-small")
    d_math = await sel.select(_req(MATH), _policy(), VIEWS, RouteConstraints())
    d_chat = await sel.select(_req(CHAT), _policy(), VIEWS, RouteConstraints())
    assert d_math.ranked == ("d-big", "d-small") and "strong_needed=" in d_math.reason
    assert d_chat.ranked == ("d-small", "d-big")


async def test_no_candidate_error_names_the_constraint() -> None:
    with pytest.raises(NoCandidateError) as err:
        await _selector().select(_req(MATH), _policy(), VIEWS, RouteConstraints(tiers=frozenset({"edge"})))
    assert err.value.constraint == "tier"


async def test_fallbacks_come_after_the_ranked_candidates() -> None:
    d = await _selector().select(_req(MATH), _policy(fallbacks=("d-edge",)), VIEWS, RouteConstraints())
    assert d.ranked[-1] == "d-edge" and len(d.ranked) == 3


def test_price_prior_for_unseen_models() -> None:
    ab = price_abilities(["d-big", "d-small", "d-edge"], VIEWS)
    assert ab["d-big"] == 1.0 and ab["d-edge"] == -1.0 and -1.0 < ab["d-small"] < 1.0


def test_the_gateway_registry_builds_learned_selectors(tmp_path: Path) -> None:
    reg = SelectorRegistry()
    register_learned_selectors(reg)
    assert set(LEARNED_KINDS) <= reg.kinds()
    save_router(router(), tmp_path / "r")
    sel = reg.build(
        RouterRef(kind="heads", path=str(tmp_path / "r")),
        SelectorContext(extras={"embedder": FakeEmbedder()}),
    )
    assert isinstance(sel, LearnedSelector) and sel.kind == "heads"
