from __future__ import annotations

import math

import pytest

from tools_kb.metrics import evaluate, ndcg_at, recall_at, sufficiency_at


def test_recall_counts_gold_found_in_top_k() -> None:
    assert recall_at(["a", "b", "c"], ["a", "c", "z"], 2) == pytest.approx(1 / 3)


def test_ndcg_uses_ideal_over_min_gold_k() -> None:
    assert ndcg_at(["x", "a"], ["a"], 5) == pytest.approx(1 / math.log2(3))


def test_sufficiency_needs_every_gold_tool() -> None:
    assert sufficiency_at(["a", "b"], ["a", "b"], 2) == 1.0
    assert sufficiency_at(["a", "x"], ["a", "b"], 2) == 0.0


def test_evaluate_reports_exactly_the_issue_keys() -> None:
    out = evaluate([["a"]], [["a"]])
    assert set(out) == {
        "n",
        "recall@1",
        "recall@5",
        "recall@10",
        "ndcg@5",
        "ndcg@10",
        "sufficiency@5",
        "sufficiency@10",
    }
