"""Fixtures for router tests: a bag-of-words fake embedder and a tiny synthetic routing data set.

The data has three kinds of prompt: arithmetic word problems (the weak model fails, the strong one
succeeds), chit-chat (both succeed) and riddles (both fail). A router that learns anything must send
arithmetic to the strong model first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from routers.features import Features, make_features

DIM = 384


def fake_vector(text: str) -> npt.NDArray[np.float32]:
    """Sum of per-word pseudo-random vectors, L2-normalised: shared words → similar vectors."""
    acc = np.zeros(DIM, dtype=np.float64)
    for word in text.lower().split():
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        acc += np.random.default_rng(seed).standard_normal(DIM)
    norm = np.linalg.norm(acc) or 1.0
    return (acc / norm).astype(np.float32)


class FakeEmbedder:
    """Implements core.embedding.Embedder without a model."""

    dim = DIM
    name = "fake-bow"

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.stack([fake_vector(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)


def fake_features(texts: Sequence[str]) -> Features:
    return make_features(np.stack([fake_vector(t) for t in texts]), list(texts))


_MATH = "compute the sum of {a} and {b} apples then multiply by {c} what is the total number"
_CHAT = "hello there tell me something nice about {w} today please friend"
_RIDDLE = "riddle {w} unsolvable paradox which no model answers correctly ever {a}"
_WORDS = ("cats", "dogs", "rain", "music", "books", "tea", "spring", "rivers", "mountains", "friends")


def synthetic_records(n_per_kind: int = 30, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    recs: list[dict[str, Any]] = []
    for i in range(n_per_kind):
        a, b, c = (int(x) for x in rng.integers(2, 99, 3))
        w = _WORDS[i % len(_WORDS)]
        recs.append(
            {
                "id": f"m{i}",
                "source": "toy/math",
                "prompt": _MATH.format(a=a, b=b, c=c),
                "category": "math",
                "score_kind": "correct",
                "scores": {"big": 1.0, "small": 0.0, "mid": float(i % 2)},
                "output_tokens": {"big": 300, "small": 200, "mid": 250},
            }
        )
        recs.append(
            {
                "id": f"c{i}",
                "source": "toy/chat",
                "prompt": _CHAT.format(w=w),
                "category": "chat",
                "score_kind": "correct",
                "scores": {"big": 1.0, "small": 1.0, "mid": 1.0},
                "output_tokens": {"big": 80, "small": 60, "mid": 70},
            }
        )
        recs.append(
            {
                "id": f"r{i}",
                "source": "toy/riddle",
                "prompt": _RIDDLE.format(w=w, a=a),
                "category": "riddle",
                "score_kind": "correct",
                "scores": {"big": 0.0, "small": 0.0} if i % 3 else {"big": 0.0},
                "output_tokens": {"big": 100, "small": 100},
            }
        )
    return recs


PRICES = {
    "big": {"input_per_mtok": 10.0, "output_per_mtok": 30.0, "source": "test"},
    "mid": {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "source": "test"},
    "small": {"input_per_mtok": 0.1, "output_per_mtok": 0.1, "source": "test"},
}


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return synthetic_records()


@pytest.fixture
def data_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(train.jsonl, test.jsonl, models.json) on disk."""
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in synthetic_records(30, seed=1)))
    test.write_text("".join(json.dumps(r) + "\n" for r in synthetic_records(10, seed=2)))
    models = tmp_path / "models.json"
    models.write_text(json.dumps(PRICES))
    return train, test, models
