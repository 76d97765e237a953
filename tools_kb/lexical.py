"""Lexical index: BM25 from the ``bm25s`` library over the tools' lexical text.

Tokens are lower-case words with identifiers split (``getWeather`` → ``get weather``), English
stop words dropped and Snowball-stemmed (PyStemmer), so "nurses" meets ``nurse``. Words of any
script count: accents are folded ("Zürich" and "Zurich" are one token, not "rich"), and runs of
Chinese or Japanese characters, which have no spaces to split at, become overlapping character
pairs ("查询天气" → 查询, 询天, 天气). Scores are raw BM25 (unbounded, 0 when no query term occurs
in a document).

Given the tools' ``name_tokens`` (their name words, :func:`tokenize`-d), a second BM25 over each name's adjacent token
pairs is added to the score: a query that says "weather forecast" in that order boosts
``getWeatherForecast`` over tools that only mention both words somewhere. It is a plain sum (a
name pair weighs like any other BM25 term; no weight tuned).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from tools_kb.text import split_identifier

_WORD = re.compile(r"[^\W_]+(?:['’][^\W\d_]+)?")  # letters and digits of any script
# Scripts written without spaces between words: Han, Hiragana, Katakana (and their extensions).
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_UNSPACED_RUNS = re.compile(f"({_UNSPACED.pattern})")  # split keeping the runs
_STOP = frozenset(STOPWORDS_EN_PLUS) | {"please", "could", "would", "want", "need", "like", "help", "tell"}


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Stemmed content words of ``text`` (may be empty)."""
    out: list[str] = []
    for raw in _WORD.findall(text):
        out.extend(_word_stems(raw))
    return out


@lru_cache(maxsize=1 << 16)
def _word_stems(raw: str) -> tuple[str, ...]:
    """The stems one raw word contributes (identifier split, stop words dropped); cached, since
    catalogs and queries repeat their words."""
    words = split_identifier(raw.replace("’", "'").split("'")[0]).split()
    if not raw.isascii():
        words = [p if _UNSPACED.match(p) else _fold(p) for w in words for p in _unspaced_pairs(w)]
    kept = [w for w in words if w and w not in _STOP and (len(w) > 1 or _UNSPACED.match(w))]
    return tuple(_stemmer().stemWords(kept)) if kept else ()


def _fold(word: str) -> str:
    """``word`` without accents ("zürich" → "zurich"); letters without a decomposition stay
    (not used on Chinese or Japanese pairs: "ザ" is not "サ")."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _unspaced_pairs(word: str) -> list[str]:
    """``word`` with each run of unspaced-script characters replaced by its overlapping pairs
    (a single character stays), the rest of the word kept as it is."""
    if not _UNSPACED.search(word):
        return [word]
    out: list[str] = []
    for piece in _UNSPACED_RUNS.split(word):
        if not piece:
            continue
        if _UNSPACED.fullmatch(piece):
            out.extend([piece] if len(piece) == 1 else [piece[i : i + 2] for i in range(len(piece) - 1)])
        else:
            out.append(piece)
    return out


def bigrams(tokens: Sequence[str]) -> list[str]:
    """Adjacent token pairs ("weather_forecast")."""
    return [f"{a}_{b}" for a, b in zip(tokens, tokens[1:], strict=False)]


class LexicalIndex:
    """Immutable BM25 index over documents given in row order; ``name_tokens`` (same order, each
    name's :func:`tokenize` stems) adds the name-pair BM25 described in the module docstring."""

    def __init__(
        self,
        texts: Sequence[str],
        *,
        k1: float = 1.2,
        b: float = 0.75,
        name_tokens: Sequence[Sequence[str]] | None = None,
    ) -> None:
        self._n = len(texts)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        corpus = [tokenize(t) or [""] for t in texts]
        if self._n:
            self._bm25.index(corpus, show_progress=False)
        self._vocab: dict[str, int] = dict(self._bm25.vocab_dict) if self._n else {}
        self._pairs: Any = None
        self._pair_vocab: dict[str, int] = {}
        if name_tokens is not None:
            if len(name_tokens) != self._n:
                raise ValueError("name_tokens and texts differ in length")
            grams = [bigrams(n) for n in name_tokens]
            if any(grams):
                self._pairs = bm25s.BM25(k1=k1, b=b)
                self._pairs.index([g or [""] for g in grams], show_progress=False)
                self._pair_vocab = {t: i for t, i in self._pairs.vocab_dict.items() if t}

    def __len__(self) -> int:
        return self._n

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """BM25 score of every row for ``query`` (plus the name-pair score when the index has
        names); zeros when no query term is known."""
        return self.scores_of(tokenize(query))

    def scores_of(self, tokens: Sequence[str]) -> npt.NDArray[np.float32]:
        """:meth:`scores` for a text already :func:`tokenize`-d (callers that use the tokens
        for something else too tokenize once)."""
        out = self.scores_for_tokens(tokens)
        if self._pairs is not None:
            ids = [self._pair_vocab[g] for g in bigrams(tokens) if g in self._pair_vocab]
            if ids:
                out += np.asarray(self._pairs.get_scores_from_ids(ids), dtype=np.float32)
        return out

    def scores_for_tokens(self, tokens: Sequence[str]) -> npt.NDArray[np.float32]:
        ids = [self._vocab[t] for t in tokens if t and t in self._vocab]
        if not ids or not self._n:
            return np.zeros(self._n, dtype=np.float32)
        out = self._bm25.get_scores_from_ids(ids)
        return np.asarray(out, dtype=np.float32)
