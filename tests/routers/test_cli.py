"""``switchboard router train`` / ``router eval`` end to end on tiny files.

The embedding cache is pre-filled with the fake embedder's vectors, so no model is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gateway.cli import main
from routers.training.data import read_jsonl
from routers.training.embed_cache import EmbeddingCache
from tests.routers.conftest import fake_vector


@pytest.fixture
def cache(tmp_path: Path, data_files: tuple[Path, Path, Path]) -> Path:
    texts = sorted({r["prompt"] for f in data_files[:2] for r in read_jsonl(f)})
    c = EmbeddingCache(tmp_path / "emb.npz")
    c.add(texts, np.stack([fake_vector(t) for t in texts]))
    c.save()
    return tmp_path / "emb.npz"


@pytest.fixture
def trained(
    tmp_path: Path, data_files: tuple[Path, Path, Path], cache: Path, capsys: pytest.CaptureFixture[str]
) -> Path:
    train, _, models = data_files
    out = tmp_path / "router"
    assert (
        main(
            [
                "router",
                "train",
                "--data",
                str(train),
                "--models",
                str(models),
                "--kind",
                "knn",
                "--out",
                str(out),
                "--cache",
                str(cache),
            ]
        )
        == 0
    )
    capsys.readouterr()
    return out


def test_train_writes_a_small_router_directory(trained: Path) -> None:
    assert {p.name for p in trained.iterdir()} == {"manifest.json", "arrays.npz"}
    assert json.loads((trained / "manifest.json").read_text())["family"] == "knn"


def test_eval_two_models_prints_the_contract_keys(
    trained: Path, data_files: tuple[Path, Path, Path], cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, test, _ = data_files
    assert (
        main(
            [
                "router",
                "eval",
                "--router",
                str(trained),
                "--data",
                str(test),
                "--strong",
                "big",
                "--weak",
                "small",
                "--json",
                "--embedder",
                "reference",
                "--cache",
                str(cache),
                "--bootstrap",
                "50",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"n", "apgr", "cpt50", "cpt80", "apgr_ci95"}
    assert out["n"] == 26  # the 4 riddles without a "small" score are skipped
    assert out["apgr"] > 0.7  # random routing gives 0.5
    lo, hi = out["apgr_ci95"]
    assert lo <= out["apgr"] <= hi


def test_eval_baseline_by_name(
    data_files: tuple[Path, Path, Path], cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, test, _ = data_files
    assert (
        main(
            [
                "router",
                "eval",
                "--router",
                "always-weak",
                "--data",
                str(test),
                "--strong",
                "big",
                "--weak",
                "small",
                "--json",
                "--embedder",
                "reference",
                "--cache",
                str(cache),
                "--bootstrap",
                "20",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["apgr"] == pytest.approx(0.5)


def test_eval_multi_prints_the_contract_keys(
    trained: Path, data_files: tuple[Path, Path, Path], cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, test, models = data_files
    assert (
        main(
            [
                "router",
                "eval",
                "--router",
                str(trained),
                "--data",
                str(test),
                "--models",
                str(models),
                "--multi",
                "--json",
                "--cache",
                str(cache),
                "--embedder",
                "reference",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "n",
        "aiq",
        "best_single_model",
        "best_single_quality",
        "best_single_cost_usd",
        "cost_fraction_at_best_single_quality",
        "quality_at_half_best_single_cost",
    }
    assert out["best_single_model"] == "big"
    # the router reaches big's quality by sending only arithmetic to it
    assert out["cost_fraction_at_best_single_quality"] < 0.8


def test_eval_rejects_a_model_absent_from_the_data(
    trained: Path, data_files: tuple[Path, Path, Path], cache: Path
) -> None:
    _, test, _ = data_files
    assert (
        main(
            [
                "router",
                "eval",
                "--router",
                str(trained),
                "--data",
                str(test),
                "--strong",
                "nobody",
                "--weak",
                "small",
                "--json",
                "--cache",
                str(cache),
                "--embedder",
                "reference",
            ]
        )
        == 2
    )
