"""The shipped default router: small, loadable, complete; and `switchboard route` over it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gateway.cli import main
from routers.serialize import default_router_dir, load_router
from routers.training.categories import LABELS
from tests.routers.conftest import fake_features

REPO = Path(__file__).resolve().parents[2]


def test_default_router_is_small_and_complete() -> None:
    d = default_router_dir()
    assert sum(p.stat().st_size for p in d.iterdir()) <= 5 * 1024 * 1024
    r = load_router("default")
    assert r.categories is not None and set(r.categories.labels) <= set(LABELS)
    assert {"gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"} <= set(r.models)
    # never scored on the same prompts: the difficulty head answers this pair
    assert not r.knows_pair("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    s = r.strong_needed(fake_features(["what is 2+2", "prove the Riemann hypothesis"]), "x", "y")
    assert s.shape == (2,) and np.all((s > 0) & (s < 1))


def test_training_data_ships_with_its_licences() -> None:
    data = REPO / "config" / "routers" / "data"
    assert {p.name for p in (data / "LICENSES").iterdir()} >= {
        "LLMRouter.txt",
        "MMLU-Pro.txt",
        "alpaca_eval.txt",
        "RouterArena.txt",
    }


@pytest.mark.slow
def test_route_cli_applies_the_math_override(capsys: pytest.CaptureFixture[str]) -> None:
    if not (REPO / "var" / "models" / "manifest.json").exists():
        pytest.skip("needs `switchboard prepare-models --out var/models` (make test prepares it)")
    cfg = str(REPO / "config" / "routers" / "learned.yaml")
    assert (
        main(
            [
                "route",
                "Solve for x: 3x^2 - 12x + 9 = 0",
                "--config",
                cfg,
                "--json",
                "--models-dir",
                str(REPO / "var" / "models"),
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["category"] == "math" and out["ranked"] == ["gpt-4.1"]
    assert out["reason"].startswith("router=learned category=math pick=gpt-4.1")
