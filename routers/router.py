"""The Router seam and the routers built from trained components.

``Router.score(features)`` predicts the quality in [0, 1] of each model the router knows, for a batch
of prompts. ``Router.strong_needed(features, strong, weak)`` gives a score that grows with the benefit of
sending a prompt to ``strong`` instead of ``weak``: from the family's own predictions when the router
saw both models on the same prompts, otherwise from the model-agnostic difficulty head, so any pair,
including models absent from training, can be routed RouteLLM-style.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from routers.components import BilinearScorer, DesignMap, KnnScorer, Mlp, sigmoid
from routers.features import Features

F64 = npt.NDArray[np.float64]
Family = Literal["knn", "mf", "heads"]
# Pairs seen together on fewer prompts than this are answered by the difficulty head.
MIN_PAIR_RECORDS = 100


class Router(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def models(self) -> tuple[str, ...]: ...

    def score(self, features: Features) -> F64:
        """Predicted quality, shape ``(len(features), len(self.models))``."""
        ...

    def strong_needed(self, features: Features, strong: str, weak: str) -> F64:
        """Shape ``(len(features),)``; higher means the strong model is more worth its price."""
        ...


@dataclass(frozen=True)
class DifficultyHead:
    """Model-agnostic difficulty ``δ(x)`` on a logit scale, with abilities ``θ`` of known models.

    A model of ability θ is predicted to score ``σ(θ − δ(x))`` on prompt x (a one-parameter IRT model
    fitted across every source); unknown models get the ability the caller supplies (default 0).
    The second output predicts the mean score gain of the stronger over the weaker model of the
    training pairs, which is what "strong model needed" asks for any pair.
    """

    net: Mlp  # output 0: difficulty δ; output 1: expected gain of a stronger over a weaker model
    abilities: Mapping[str, float]

    def difficulty(self, x: F64) -> F64:
        out: F64 = self.net(x)[:, 0]
        return out

    def gain(self, x: F64) -> F64:
        """Predicted quality gain of a clearly stronger model over a weaker one (any pair)."""
        out: F64 = self.net(x)[:, 1]
        return out

    def quality(self, x: F64, abilities: Sequence[float]) -> F64:
        return sigmoid(np.asarray(abilities, np.float64)[None, :] - self.difficulty(x)[:, None])


@dataclass(frozen=True)
class CategoryHead:
    """Softmax classifier over prompt categories (labels from categories.jsonl.gz)."""

    labels: tuple[str, ...]
    net: Mlp

    def probabilities(self, x: F64) -> F64:
        z = self.net(x)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: F64 = e / e.sum(axis=1, keepdims=True)
        return out

    def predict(self, x: F64) -> list[str]:
        return [self.labels[int(i)] for i in self.probabilities(x).argmax(axis=1)]


@dataclass(frozen=True)
class TrainedRouter:
    """A learned router: one family scorer + output-token heads + difficulty head (+ categories)."""

    family: Family
    models: tuple[str, ...]
    design: DesignMap
    scorer: KnnScorer | BilinearScorer | Mlp
    difficulty: DifficultyHead
    tokens: Mlp | None  # log1p(expected output tokens) per model
    mean_tokens: F64  # (m,) fallback when tokens is None
    pair_counts: npt.NDArray[np.int64]  # (m, m) prompts on which both models were scored
    categories: CategoryHead | None = None
    knn: KnnScorer | None = None  # when set, quality = mean of the family's and the kNN's estimates
    meta: Mapping[str, object] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.family

    def index(self, model: str) -> int | None:
        try:
            return self.models.index(model)
        except ValueError:
            return None

    def score(self, features: Features) -> F64:
        if isinstance(self.scorer, KnnScorer):
            return self.scorer(features)
        x = self.design.design(features)
        base = self.scorer(x) if isinstance(self.scorer, BilinearScorer) else sigmoid(self.scorer(x))
        if self.knn is None:
            return base
        out: F64 = 0.5 * (base + self.knn(features))
        return out

    def knows_pair(self, strong: str, weak: str) -> bool:
        i, j = self.index(strong), self.index(weak)
        need = self.meta.get("min_pair_records", MIN_PAIR_RECORDS)
        return i is not None and j is not None and int(self.pair_counts[i, j]) >= int(need)  # type: ignore[call-overload]

    def difficulty_of(self, features: Features) -> F64:
        return self.difficulty.difficulty(self.design.design(features))

    def strong_needed(self, features: Features, strong: str, weak: str) -> F64:
        i, j = self.index(strong), self.index(weak)
        if i is not None and j is not None and self.knows_pair(strong, weak):
            q = self.score(features)
            gain: F64 = q[:, i] - q[:, j]
            return gain
        # Leave-one-source-out: the IRT difficulty transfers to unseen benchmarks better than the
        # pairwise-gain output (docs/benchmarks.md), so unknown pairs are ranked by difficulty.
        return sigmoid(self.difficulty_of(features))

    def quality(
        self, features: Features, candidates: Sequence[str], abilities: Mapping[str, float] | None = None
    ) -> F64:
        """Predicted quality of each candidate model, ``(n, len(candidates))``.

        Known models use the family's prediction; others the difficulty head with the ability given
        in ``abilities`` (else the fitted ability if the model was seen, else 0).
        """
        given = abilities or {}
        out = np.empty((len(features), len(candidates)))
        q = self.score(features) if any(self.index(c) is not None for c in candidates) else None
        x = self.design.design(features)
        delta = self.difficulty.difficulty(x)
        for c, name in enumerate(candidates):
            i = self.index(name)
            if name in given or i is None or q is None:
                theta = given.get(name, self.difficulty.abilities.get(name, 0.0))
                out[:, c] = sigmoid(theta - delta)
            else:
                out[:, c] = q[:, i]
        return out

    def expected_output_tokens(self, features: Features, candidates: Sequence[str]) -> F64:
        """Expected completion tokens per candidate, ``(n, len(candidates))``; unknown models get the
        median over known models."""
        if self.tokens is not None:
            per_model = np.expm1(np.clip(self.tokens(self.design.design(features)), 0.0, 9.0))
        else:
            per_model = np.tile(self.mean_tokens, (len(features), 1))
        fallback = np.median(per_model, axis=1) if per_model.shape[1] else np.full(len(features), 256.0)
        out = np.empty((len(features), len(candidates)))
        for c, name in enumerate(candidates):
            i = self.index(name)
            out[:, c] = per_model[:, i] if i is not None else fallback
        return out

    def category(self, features: Features) -> list[str] | None:
        if self.categories is None:
            return None
        return self.categories.predict(self.design.design(features))


def _prompt_unit(features: Features, seed: int) -> F64:
    """A deterministic pseudo-random number in [0, 1) per prompt (hash of its embedding)."""
    out = np.empty(len(features))
    for i in range(len(features)):
        h = hashlib.blake2b(features.embedding[i].tobytes(), digest_size=8, key=seed.to_bytes(8, "little"))
        out[i] = int.from_bytes(h.digest(), "little") / 2.0**64
    return out


@dataclass(frozen=True)
class BaselineRouter:
    """Reference routers: ``random``, ``always-strong``, ``always-weak`` and ``length`` (longer → strong)."""

    name: Literal["random", "always-strong", "always-weak", "length"]
    seed: int = 0
    models: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.name

    def score(self, features: Features) -> F64:
        return np.zeros((len(features), len(self.models)))

    def strong_needed(self, features: Features, strong: str, weak: str) -> F64:
        n = len(features)
        if self.name == "random":
            return _prompt_unit(features, self.seed)
        if self.name == "always-strong":
            return np.ones(n)
        if self.name == "always-weak":
            return np.zeros(n)
        # log chars is the first cheap feature; ties broken by a tiny deterministic jitter
        out: F64 = features.cheap[:, 0].astype(np.float64) + 1e-6 * _prompt_unit(features, self.seed)
        return out


BASELINES: tuple[str, ...] = ("random", "always-strong", "always-weak", "length")
