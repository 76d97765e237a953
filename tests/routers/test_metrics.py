"""APGR / CPT / AIQ against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from routers.metrics import aiq, apgr, cpt, min_cost_for_quality, pgr_curve, upper_hull


def test_apgr_hand_computed() -> None:
    # order by score: p0 (gain 1), p3 (gain 1), p2 (0), p1 (0); PGR = 0, .5, 1, 1, 1
    score = np.array([0.9, 0.1, 0.5, 0.8])
    qs, qw = np.array([1.0, 1.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0, 0.0])
    share, pgr = pgr_curve(score, qs, qw)
    assert share.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert pgr.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert apgr(score, qs, qw) == pytest.approx(0.75)
    assert cpt(score, qs, qw, 0.5) == pytest.approx(0.25)
    assert cpt(score, qs, qw, 0.8) == pytest.approx(0.4)


def test_tied_scores_move_together_so_a_constant_router_scores_one_half() -> None:
    score = np.zeros(5)
    qs, qw = np.ones(5), np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    assert apgr(score, qs, qw) == pytest.approx(0.5)


def test_worst_order_gives_low_apgr() -> None:
    score = np.array([0.1, 0.9])
    qs, qw = np.array([1.0, 1.0]), np.array([0.0, 1.0])
    assert apgr(score, qs, qw) == pytest.approx(0.25)


def test_pgr_undefined_without_a_gap() -> None:
    with pytest.raises(ValueError):
        pgr_curve(np.array([0.1, 0.2]), np.array([0.0, 0.0]), np.array([0.0, 1.0]))


def test_upper_hull_drops_dominated_and_concave_points() -> None:
    hull = upper_hull([(0.0, 0.5), (1.0, 0.55), (2.0, 1.0), (3.0, 0.9)])
    assert hull.tolist() == [[0.0, 0.5], [2.0, 1.0]]


def test_aiq_of_a_straight_line() -> None:
    assert aiq([(0.0, 0.5), (1.0, 1.0)], 0.0, 1.0) == pytest.approx(0.75)


def test_aiq_is_flat_beyond_the_last_point() -> None:
    assert aiq([(0.0, 0.5), (1.0, 1.0)], 0.0, 2.0) == pytest.approx((0.75 + 1.0) / 2)


def test_min_cost_for_quality_interpolates() -> None:
    assert min_cost_for_quality([(0.0, 0.5), (1.0, 1.0)], 0.75) == pytest.approx(0.5)
    assert min_cost_for_quality([(0.0, 0.5), (1.0, 1.0)], 1.5) is None


def test_multi_report_on_an_oracle_router() -> None:
    from routers.evaluation import multi_report

    # 4 prompts, cheap model right on 2 of them, dear model right on all; costs $1 and $10
    true_q = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    true_c = np.tile([1.0, 10.0], (4, 1))
    rep = multi_report(["cheap", "dear"], true_q, true_c, true_q, true_c)  # predictions = truth
    assert (rep.best_single_model, rep.best_single_quality, rep.best_single_cost_usd) == ("dear", 1.0, 10.0)
    # the oracle reaches quality 1 at mean cost (1 + 1 + 10 + 10) / 4 = 5.5
    assert rep.cost_fraction_at_best_single_quality == pytest.approx(0.55)
    # at cost 5 (half of 10) the hull between (1, 0.5) and (5.5, 1.0) gives 0.5 + 0.5 * 4 / 4.5
    assert rep.quality_at_half_best_single_cost == pytest.approx(0.5 + 0.5 * 4 / 4.5)
    assert rep.aiq > rep.zero_router_aiq


def test_multi_report_skips_rows_missing_a_score() -> None:
    from routers.evaluation import multi_report

    true_q = np.array([[1.0, 1.0], [np.nan, 1.0], [0.0, 1.0]])
    true_c = np.tile([1.0, 10.0], (3, 1))
    rep = multi_report(["a", "b"], np.nan_to_num(true_q), true_c, true_q, true_c)
    assert rep.n == 2
