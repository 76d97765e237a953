"""Prompt features for routers: the sentence embedding plus a few cheap text features.

The embedding comes from an :class:`core.embedding.Embedder` (all-MiniLM-L6-v2, L2-normalised, 384-d);
the cheap features are computed here from the text in microseconds. Routers see both through
:class:`Features` so every family is trained and served on the same inputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.embedding import Embedder

F32 = npt.NDArray[np.float32]

CHEAP_FEATURES: tuple[str, ...] = (
    "log_chars",
    "log_words",
    "log_lines",
    "turns",
    "code",
    "math",
    "digits",
    "choices",
    "question",
    "non_ascii",
    "cjk",
    "cyrillic",
)

_CODE = re.compile(
    r"```|\bdef \w+\(|\bclass \w+|#include|\bfunction\b|=>|\breturn\b|\bimport \w+|[{};]\s*$"
    r"|\bSELECT\b|\bpublic static\b|\bconsole\.log|\bprint\(",
    re.MULTILINE,
)
_MATH = re.compile(
    r"\\frac|\\sqrt|\\sum|\\int|\$[^$]+\$|\b\d+\s*[-+*/^=]\s*\d+|\bsolve\b|\bequation\b|\bprobability\b"
    r"|\bintegral\b|\bderivative\b|\bprove\b|\btheorem\b",
    re.IGNORECASE,
)
_CHOICE = re.compile(r"^\s*\(?[A-J][.)]\s", re.MULTILINE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_CYR = re.compile(r"[\u0400-\u04ff]")


def cheap_features(text: str, turns: int = 1) -> F32:
    """The :data:`CHEAP_FEATURES` of one prompt, each roughly in [0, 10]."""
    n = max(1, len(text))
    words = len(text.split())
    digits = sum(ch.isdigit() for ch in text)
    non_ascii = sum(ord(ch) > 127 for ch in text)
    vals = (
        math.log1p(len(text)),
        math.log1p(words),
        math.log1p(text.count("\n")),
        math.log1p(max(0, turns - 1)),
        math.log1p(len(_CODE.findall(text))),
        math.log1p(len(_MATH.findall(text))),
        min(1.0, 10.0 * digits / n),
        math.log1p(len(_CHOICE.findall(text))),
        1.0 if "?" in text else 0.0,
        min(1.0, 4.0 * non_ascii / n),
        1.0 if _CJK.search(text) else 0.0,
        1.0 if _CYR.search(text) else 0.0,
    )
    return np.asarray(vals, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Features:
    """A batch of prompt features: ``embedding`` (n, dim) L2-normalised and ``cheap`` (n, k)."""

    embedding: F32
    cheap: F32

    def __len__(self) -> int:
        return int(self.embedding.shape[0])

    def row(self, i: int) -> Features:
        return Features(self.embedding[i : i + 1], self.cheap[i : i + 1])

    def rows(self, idx: npt.NDArray[np.int64]) -> Features:
        return Features(self.embedding[idx], self.cheap[idx])


def cheap_matrix(texts: Sequence[str], turns: Sequence[int] | None = None) -> F32:
    """Stack :func:`cheap_features` for many prompts: shape (n, len(CHEAP_FEATURES))."""
    if not texts:
        return np.zeros((0, len(CHEAP_FEATURES)), dtype=np.float32)
    ts = turns if turns is not None else [1] * len(texts)
    return np.stack([cheap_features(t, k) for t, k in zip(texts, ts, strict=True)])


def make_features(embedding: F32, texts: Sequence[str], turns: Sequence[int] | None = None) -> Features:
    """Features from precomputed embeddings (rows aligned with ``texts``)."""
    emb = np.asarray(embedding, dtype=np.float32)
    if emb.shape[0] != len(texts):
        raise ValueError(f"{emb.shape[0]} embeddings for {len(texts)} texts")
    return Features(emb, cheap_matrix(texts, turns))


async def featurize(embedder: Embedder, texts: Sequence[str], turns: Sequence[int] | None = None) -> Features:
    """Embed ``texts`` (one call to the embedder, which may cache and micro-batch) and add cheap features."""
    emb = await embedder.embed(list(texts))
    return make_features(emb, texts, turns)


def count_turns(messages: Sequence[dict[str, object]]) -> int:
    """The number of user turns in an OpenAI ``messages`` list (at least 1)."""
    return max(1, sum(1 for m in messages if m.get("role") == "user"))
