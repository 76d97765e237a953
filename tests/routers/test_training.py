"""The training pipeline on tiny synthetic data: every family learns, round-trips, and routes."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from routers.features import CHEAP_FEATURES
from routers.router import BaselineRouter, TrainedRouter
from routers.serialize import load_router, save_router
from routers.training.data import build_record_set
from routers.training.train import (
    CategoryData,
    TrainConfig,
    add_model,
    family_weights,
    fit_transfer_ridge,
    train_router,
)
from tests.routers.conftest import fake_features, synthetic_records

FAST = TrainConfig(mf_steps=150, knn_k=10, irt_steps=150)
TRAIN = build_record_set(synthetic_records(30, seed=1))
TRAIN_F = fake_features(TRAIN.prompts)


@functools.cache
def _trained(family: str) -> TrainedRouter:
    return train_router(family, TRAIN, TRAIN_F, FAST)  # type: ignore[arg-type]


def _train(family: str, cats: CategoryData | None = None) -> tuple[TrainedRouter, list[str]]:
    if cats is None:
        return _trained(family), list(TRAIN.prompts)
    return train_router(family, TRAIN, TRAIN_F, FAST, cats), list(TRAIN.prompts)  # type: ignore[arg-type]


TEST = build_record_set(synthetic_records(10, seed=2))
TEST_F = fake_features(TEST.prompts)
IS_MATH = np.asarray([c == "math" for c in TEST.categories])


@pytest.mark.parametrize("family", ["knn", "mf", "heads"])
def test_family_sends_arithmetic_to_the_strong_model_first(family: str) -> None:
    router, _ = _train(family)
    s = router.strong_needed(TEST_F, "big", "small")
    assert s[IS_MATH].min() > s[~IS_MATH].max()


@pytest.mark.parametrize("family", ["knn", "mf", "heads"])
def test_quality_predictions_follow_the_labels(family: str) -> None:
    router, _ = _train(family)
    q = router.score(TEST_F)
    small = router.models.index("small")
    chat = np.asarray([c == "chat" for c in TEST.categories])
    assert q[chat, small].mean() > q[IS_MATH, small].mean() + 0.3


@pytest.mark.parametrize("family", ["knn", "mf", "heads"])
def test_save_and_load_give_the_same_scores(family: str, tmp_path: Path) -> None:
    router, _ = _train(family)
    loaded = load_router(save_router(router, tmp_path / family))
    np.testing.assert_allclose(loaded.score(TEST_F), router.score(TEST_F), atol=2e-3)
    np.testing.assert_allclose(
        loaded.strong_needed(TEST_F, "x", "y"), router.strong_needed(TEST_F, "x", "y"), atol=2e-3
    )
    assert loaded.models == router.models


def test_difficulty_head_routes_pairs_it_never_saw() -> None:
    router, _ = _train("heads")
    assert not router.knows_pair("gpt-x", "tiny-y")
    s = router.strong_needed(TEST_F, "gpt-x", "tiny-y")
    chat = np.asarray([c == "chat" for c in TEST.categories])
    assert s[IS_MATH].mean() > s[chat].mean()


def test_unknown_models_get_quality_from_their_ability() -> None:
    router, _ = _train("knn")
    q = router.quality(TEST_F, ["able", "unable"], abilities={"able": 3.0, "unable": -3.0})
    assert (q[:, 0] > q[:, 1]).all()


def test_output_token_heads_learn_lengths() -> None:
    router, _ = _train("heads")
    toks = router.expected_output_tokens(TEST_F, ["big", "nobody"])
    assert toks[IS_MATH, 0].mean() > 200
    assert toks[~IS_MATH, 0].mean() < 150
    assert (toks[:, 1] > 0).all()


def test_mf_adds_a_model_from_labelled_prompts() -> None:
    router, _ = _train("mf")
    extra = build_record_set(synthetic_records(40, seed=3))
    # the new model is good at chit-chat only
    y = np.asarray([1.0 if c == "chat" else 0.0 for c in extra.categories])
    bigger = add_model(router, "chatty", fake_features(extra.prompts), y)
    assert bigger.models[-1] == "chatty"
    q = bigger.score(TEST_F)[:, -1]
    chat = np.asarray([c == "chat" for c in TEST.categories])
    assert q[chat].min() > q[~chat].max()
    assert bigger.knows_pair("chatty", "small")


def test_category_classifier_is_trained_and_saved(tmp_path: Path) -> None:
    rs = build_record_set(synthetic_records(20, seed=4))
    cats = CategoryData(rs.prompts, rs.categories, fake_features(rs.prompts))
    router, _ = _train("heads", cats)
    assert router.category(TEST_F) == list(TEST.categories)
    loaded = load_router(save_router(router, tmp_path / "r"))
    assert loaded.category(TEST_F) == list(TEST.categories)


def test_records_missing_a_score_are_handled() -> None:
    rs = build_record_set(synthetic_records(30, seed=1))
    assert np.isnan(rs.scores).any()
    router, _ = _train("knn")
    assert np.isfinite(router.score(TEST_F)).all()


@pytest.mark.parametrize(("name", "expected"), [("always-strong", 1.0), ("always-weak", 0.0)])
def test_constant_baselines(name: str, expected: float) -> None:
    s = BaselineRouter(name).strong_needed(TEST_F, "a", "b")  # type: ignore[arg-type]
    assert (s == expected).all()


def test_random_baseline_is_deterministic_per_prompt() -> None:
    a = BaselineRouter("random").strong_needed(TEST_F, "a", "b")
    b = BaselineRouter("random").strong_needed(TEST_F, "a", "b")
    assert (a == b).all() and 0 <= a.min() and a.max() < 1 and len(set(a.tolist())) > 1


def test_length_baseline_prefers_longer_prompts() -> None:
    s = BaselineRouter("length").strong_needed(
        fake_features(["short", "a much longer prompt " * 20]), "a", "b"
    )
    assert s[1] > s[0]


def test_family_weights_give_every_family_the_same_total() -> None:
    w = family_weights(np.asarray([0, 0, 0, 1], dtype=np.int64))
    # 3 records share one family's weight, the lone record carries the other's
    np.testing.assert_allclose(w, [2 / 3, 2 / 3, 2 / 3, 2.0])
    assert w.mean() == pytest.approx(1.0)


def test_transfer_ridge_shrinks_cheap_features_harder() -> None:
    n_emb = 3
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(200, n_emb))
    cheap = rng.normal(size=(200, len(CHEAP_FEATURES)))
    x = np.hstack([emb, cheap, np.ones((200, 1))])
    y = emb[:, 0] + cheap[:, 0]  # equal true weight on one embedding and one cheap column
    plain = fit_transfer_ridge(x, y, 50.0, None, 1.0)
    shrunk = fit_transfer_ridge(x, y, 50.0, None, 0.1)
    cheap0 = n_emb
    # scale 1 is the ordinary ridge: both columns shrink alike
    assert plain[0] == pytest.approx(plain[cheap0], rel=0.15)
    # scale 0.1: the cheap column's penalty is 100× larger, the embedding column takes up the slack
    assert abs(shrunk[cheap0]) < 0.5 * abs(plain[cheap0])
    assert shrunk[0] >= plain[0] - 1e-9
