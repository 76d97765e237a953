"""Whether a catalog's queries are cut into clauses: checked on the catalog's own descriptions.

Decomposition (:mod:`tools_kb.decompose`) cuts a query at connectives, sentence ends and
" and " between two clauses, and each clause adds its best tools. That serves multi-request
queries and costs most single-request ones nothing. But in a catalog of sibling tools whose
texts coordinate nouns ("captions for images and videos", "names of people and
organizations"), the halves of one request each pull in siblings that push the requested tool
down.

The check measures that on the tuning's pseudo-queries (:mod:`tools_kb.tuning`): each sampled
tool's description, searched against the sampled tools' documents without descriptions. A
description asks for one tool, so it is a single-intent query by construction. Each one that
``decompose`` cuts is searched with and without the cut, with the catalog's fusion and the
index's full search, and counted as *lost* when its own tool leaves the top ``K`` (5, the
default k) because of the cut, or *gained* when the cut brings it in. Decomposition is switched
off for the catalog when losses outnumber gains by a one-sided sign test at p < 0.05, i.e. when
cutting measurably hurts requests for one tool; otherwise it stays on. No user query and no
gold label is read.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from core.embedding import Embedder
from tools_kb.decompose import decompose
from tools_kb.documents import ToolDocument
from tools_kb.tuning import TuningReport, is_described

T = TypeVar("T")

K = 5
P_VALUE = 0.05
# Pseudo-queries checked at most: their clauses are embedded (~2-3 short texts each).
MAX_CHECKED = 400


class HeldOutSearch(Protocol):
    """The slice of ``ToolIndex`` the check uses (a protocol: ``tools_kb.index`` imports this
    module, and builds the index it hands over)."""

    async def search_many(
        self, queries: Sequence[str], k: int = ..., tenant: str | None = ..., options: Any = ...
    ) -> list[list[Any]]: ...


@dataclass(frozen=True, slots=True)
class Counts:
    cut: int  # pseudo-queries that decompose cuts
    lost: int  # own tool in the top K whole, out of it cut
    gained: int  # the reverse

    @property
    def p_value(self) -> float:
        """One-sided sign test: the chance of at least ``lost`` losses among the
        ``lost + gained`` changed queries if cutting were as likely to help as to hurt."""
        n = self.lost + self.gained
        if n == 0:
            return 1.0
        tail: int = sum(math.comb(n, i) for i in range(self.lost, n + 1))
        return tail / float(2**n)


def cut_queries(report: TuningReport, docs: Sequence[ToolDocument]) -> list[int]:
    """Catalog rows of the held-out tools whose descriptions ``decompose`` cuts, at most
    ``MAX_CHECKED``: the tuning's pseudo-queries first (their vectors are known), then the
    other described tools of the held-out catalog."""
    sample = report.sample
    if sample is None:
        return []
    sampled = set(sample.rows)
    others = (i for i in sample.pool if i not in sampled and is_described(docs[i].description))
    cut = (i for i in itertools.chain(sample.rows, others) if len(decompose(docs[i].description).clauses) > 1)
    return list(itertools.islice(cut, MAX_CHECKED))


async def count_changes(
    index: HeldOutSearch, queries: Sequence[str], targets: Sequence[str], options: Callable[[bool], Any]
) -> Counts:
    """Search ``queries`` on ``index`` cut (``options(True)``) and whole (``options(False)``)."""
    cut = await index.search_many(queries, K, None, options(True))
    whole = await index.search_many(queries, K, None, options(False))
    lost = gained = 0
    for target, with_cut, without in zip(targets, cut, whole, strict=True):
        found_cut = any(h.name == target for h in with_cut)
        found_whole = any(h.name == target for h in without)
        lost += found_whole and not found_cut
        gained += found_cut and not found_whole
    return Counts(len(queries), lost, gained)


def verdict(report: TuningReport, counts: Counts | None) -> TuningReport:
    """``report`` with the decision and its reason, without the sample."""
    if counts is None or counts.cut == 0:
        why = "no pseudo-queries to check" if report.sample is None else "no pseudo-query is cut"
        return replace(report, decompose=True, decomposition=f"on: {why}", sample=None)
    p = counts.p_value
    off = p < P_VALUE
    reason = (
        f"{'off' if off else 'on'}: cutting {counts.cut} pseudo-queries lost {counts.lost} "
        f"and gained {counts.gained} own tools in the top {K} (sign test p={p:.3g})"
    )
    return replace(report, decompose=not off, decomposition=reason, sample=None)


class KnownVectors:
    """An ``Embedder`` that answers the texts it was given vectors for and embeds the rest."""

    def __init__(self, inner: Embedder, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        self._inner = inner
        self._known = {t: vectors[i] for i, t in enumerate(texts)}

    @property
    def dim(self) -> int:
        return self._inner.dim

    @property
    def name(self) -> str:
        return self._inner.name

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing = [i for i, t in enumerate(texts) if t not in self._known]
        if missing:
            wanted = [texts[i] for i in missing]
            fresh = await self._inner.embed(list(dict.fromkeys(wanted)))
            out[missing] = fresh[_positions(wanted)]
        for i, t in enumerate(texts):
            if t in self._known:
                out[i] = self._known[t]
        return out


def _positions(texts: Sequence[str]) -> list[int]:
    """For each text, its position among the distinct texts in first-seen order."""
    first: dict[str, int] = {}
    return [first.setdefault(t, len(first)) for t in texts]


class ThreadRunner:
    """Runs the held-out index's scoring in a worker thread (the gateway's loop keeps serving)."""

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(fn, *args)
