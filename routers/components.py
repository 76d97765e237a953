"""The numeric parts routers are built from: pure numpy inference over arrays saved in ``.npz``.

Every component turns :class:`~routers.features.Features` into predictions and round-trips through
``to_arrays`` / ``from_arrays`` (a flat ``name → ndarray`` dict) so a trained router is one small
``arrays.npz`` plus a ``manifest.json``. Training lives in :mod:`routers.training`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routers.features import Features

F64 = npt.NDArray[np.float64]
Arrays = Mapping[str, npt.NDArray[np.generic]]


def sigmoid(z: F64) -> F64:
    out: F64 = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
    return out


@dataclass(frozen=True)
class DesignMap:
    """Features → design matrix ``[embedding, standardised cheap features, 1]``."""

    cheap_mean: F64
    cheap_std: F64

    @classmethod
    def fit(cls, feats: Features) -> DesignMap:
        c = feats.cheap.astype(np.float64)
        return cls(c.mean(axis=0), np.maximum(c.std(axis=0), 1e-3))

    def design(self, feats: Features) -> F64:
        c = (feats.cheap.astype(np.float64) - self.cheap_mean) / self.cheap_std
        ones = np.ones((len(feats), 1))
        return np.hstack([feats.embedding.astype(np.float64), np.clip(c, -5.0, 5.0), ones])

    def to_arrays(self, p: str) -> dict[str, npt.NDArray[np.generic]]:
        return {f"{p}cheap_mean": self.cheap_mean, f"{p}cheap_std": self.cheap_std}

    @classmethod
    def from_arrays(cls, p: str, a: Arrays) -> DesignMap:
        return cls(np.asarray(a[f"{p}cheap_mean"], np.float64), np.asarray(a[f"{p}cheap_std"], np.float64))


@dataclass(frozen=True)
class Mlp:
    """A dense net ``X → out``: linear layers with ReLU between them (one layer = linear model)."""

    weights: tuple[F64, ...]
    biases: tuple[F64, ...]

    def __call__(self, x: F64) -> F64:
        h = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h

    def to_arrays(self, p: str) -> dict[str, npt.NDArray[np.generic]]:
        out: dict[str, npt.NDArray[np.generic]] = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            out[f"{p}w{i}"] = w.astype(np.float32)
            out[f"{p}b{i}"] = b.astype(np.float32)
        return out

    @classmethod
    def from_arrays(cls, p: str, a: Arrays) -> Mlp:
        ws: list[F64] = []
        bs: list[F64] = []
        i = 0
        while f"{p}w{i}" in a:
            ws.append(np.asarray(a[f"{p}w{i}"], np.float64))
            bs.append(np.asarray(a[f"{p}b{i}"], np.float64))
            i += 1
        if not ws:
            raise KeyError(f"no layers under {p!r}")
        return cls(tuple(ws), tuple(bs))


@dataclass(frozen=True)
class KnnScorer:
    """Similarity-weighted kNN: quality of each model = weighted mean over the k most similar prompts.

    Weights are ``exp((cos - cos_max) / temperature)``; cells missing in a neighbour are skipped and
    every estimate is shrunk toward the model's prior with ``shrink`` pseudo-neighbours.
    """

    keys: npt.NDArray[np.float32]  # (N, dim) L2-normalised
    values: npt.NDArray[np.float32]  # (N, m), NaN = missing
    prior: F64  # (m,)
    k: int
    temperature: float
    shrink: float

    def __call__(self, feats: Features) -> F64:
        out = np.empty((len(feats), self.values.shape[1]))
        emb = feats.embedding.astype(np.float32)
        k = min(self.k, self.keys.shape[0])
        for start in range(0, len(feats), 512):  # bounded memory for large evaluation sets
            sims = emb[start : start + 512] @ self.keys.T  # (≤512, N)
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            for r in range(sims.shape[0]):
                s = sims[r, top[r]].astype(np.float64)
                w = np.exp((s - s.max()) / self.temperature)
                v = self.values[top[r]].astype(np.float64)
                mask = ~np.isnan(v)
                num = (np.where(mask, v, 0.0) * w[:, None]).sum(axis=0) + self.shrink * self.prior
                den = (mask * w[:, None]).sum(axis=0) + self.shrink
                out[start + r] = num / den
        return out

    def to_arrays(self, p: str) -> dict[str, npt.NDArray[np.generic]]:
        return {
            f"{p}keys": self.keys.astype(np.float16),
            f"{p}values": self.values.astype(np.float16),
            f"{p}prior": self.prior,
            f"{p}hyper": np.asarray([self.k, self.temperature, self.shrink], np.float64),
        }

    @classmethod
    def from_arrays(cls, p: str, a: Arrays) -> KnnScorer:
        k, t, s = (float(x) for x in np.asarray(a[f"{p}hyper"]))
        return cls(
            np.asarray(a[f"{p}keys"], np.float32),
            np.asarray(a[f"{p}values"], np.float32),
            np.asarray(a[f"{p}prior"], np.float64),
            int(k),
            t,
            s,
        )


@dataclass(frozen=True)
class BilinearScorer:
    """Matrix factorisation over N models: ``q(x, m) = σ(⟨proj(x), v_m⟩ + c_m)``.

    ``proj`` maps the design matrix to a rank-r prompt vector; each model is a learned vector ``v_m``
    and bias ``c_m``, so a new model needs only ``(v, c)`` fitted on a few hundred labelled prompts.
    """

    proj: F64  # (D, r)
    model_vecs: F64  # (m, r)
    model_bias: F64  # (m,)

    def __call__(self, x: F64) -> F64:
        return sigmoid((x @ self.proj) @ self.model_vecs.T + self.model_bias)

    def to_arrays(self, p: str) -> dict[str, npt.NDArray[np.generic]]:
        return {
            f"{p}proj": self.proj.astype(np.float32),
            f"{p}vecs": self.model_vecs.astype(np.float32),
            f"{p}bias": self.model_bias.astype(np.float32),
        }

    @classmethod
    def from_arrays(cls, p: str, a: Arrays) -> BilinearScorer:
        return cls(
            np.asarray(a[f"{p}proj"], np.float64),
            np.asarray(a[f"{p}vecs"], np.float64),
            np.asarray(a[f"{p}bias"], np.float64),
        )
