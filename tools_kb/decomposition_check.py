"""How far a catalog's queries are cut into clauses: checked on the catalog's own descriptions.

Decomposition (:mod:`tools_kb.decompose`) cuts a query at connectives, sentence ends and
" and " between two clauses, and each clause adds its best tools. That serves multi-request
queries and costs most single-request ones nothing. But in a catalog of sibling tools whose
texts coordinate nouns ("captions for images and videos", "names of people and
organizations"), the halves of one request each pull in siblings that push the requested tool
down.

The check measures that on the catalog's descriptions as pseudo-queries, the way the fusion
tuning does (:mod:`tools_kb.tuning`): searched against the tuning's held-out catalog, whose
documents have no descriptions. A description asks for one tool, so it is a single-intent query
by construction. The descriptions of held-out tools that ``decompose`` cuts (the tuning's
pseudo-queries first, then the held-out catalog's other described tools; distinct texts, at
most ``MAX_CHECKED``) are searched with and without the cut, with the catalog's fusion and the
index's full search (name pairs and name mentions included), and each is counted as *lost* when
its own tool leaves the top ``K`` (5, the default k) because of the cut, or *gained* when the
cut brings it in. Cutting is harmful when losses outnumber gains by a one-sided sign test at
p < 0.05. The check walks down the ``decompose`` levels: every cut ("all": sentences,
connectives, " and "), then connectives only ("connectives": "also", "then", ", can you", and
"first" / "next" / "second" after "and" or a comma; sentences and other " and " stay whole), and
the catalog gets the first level that is not harmful on its descriptions, or "none". The burden
of proof is on harm: with four or fewer changed descriptions no p-value reaches 0.05, so a level
with too little evidence is kept. No user query and no gold label is read. The
language-model decomposition of :mod:`tools_kb.search_pipeline` (when a model is configured)
does not follow the level: it splits by meaning, not at " and ".
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from tools_kb.decompose import Split, decompose
from tools_kb.documents import ToolDocument
from tools_kb.tuning import TuningReport, is_described

T = TypeVar("T")

K = 5
P_VALUE = 0.05
# The levels tried, most cutting first; "none" when both are harmful.
LEVELS: tuple[Split, ...] = ("all", "connectives")
# Pseudo-queries checked at most, and their clauses at most: the clauses are embedded (2-3
# short texts per description on the public catalogs, up to decompose.MAX_CLAUSES on catalogs
# of long descriptions, where the clause budget ends the sample first). Searching them runs in
# batches of BATCH, so the event loop is held for one batch's clause splitting at a time.
MAX_CHECKED = 400
MAX_CLAUSES_CHECKED = 1200
BATCH = 32


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

    def describe(self) -> str:
        return (
            f"cutting {self.cut} pseudo-queries lost {self.lost} and gained {self.gained} own "
            f"tools in the top {K}, sign test p={self.p_value:.3g}"
        )

    @property
    def p_value(self) -> float:
        """One-sided sign test: the chance of at least ``lost`` losses among the
        ``lost + gained`` changed queries if cutting were as likely to help as to hurt."""
        n = self.lost + self.gained
        if n == 0:
            return 1.0
        tail: int = sum(math.comb(n, i) for i in range(self.lost, n + 1))
        return tail / float(2**n)


def cut_queries(report: TuningReport, docs: Sequence[ToolDocument], split: Split) -> list[int]:
    """Catalog rows of the held-out tools whose descriptions ``decompose`` cuts at level
    ``split``, at most ``MAX_CHECKED`` with ``MAX_CLAUSES_CHECKED`` clauses in all: the tuning's
    pseudo-queries first (their vectors are known), then the other described tools of the
    held-out catalog."""
    sample = report.sample
    if sample is None:
        return []
    sampled = set(sample.rows)
    others = (i for i in sample.pool if i not in sampled and is_described(docs[i].description))
    out: list[int] = []
    seen: set[str] = set()  # a repeated description is one trial, not several
    clauses = 0
    for row in itertools.chain(sample.rows, others):
        text = docs[row].description
        if text in seen:
            continue
        n = len(decompose(text, split=split).clauses)
        if n > 1:
            if clauses + n > MAX_CLAUSES_CHECKED:
                break
            seen.add(text)
            out.append(row)
            clauses += n
            if len(out) == MAX_CHECKED:
                break
    return out


async def count_changes(
    index: HeldOutSearch,
    queries: Sequence[str],
    targets: Sequence[str],
    options: Callable[[Split], Any],
    split: Split,
) -> Counts:
    """Search ``queries`` on ``index`` cut at level ``split`` and whole (``options(level)``
    makes the search options of a level)."""
    cut: list[list[Any]] = []
    whole: list[list[Any]] = []
    for start in range(0, len(queries), BATCH):
        batch = queries[start : start + BATCH]
        cut.extend(await index.search_many(batch, K, None, options(split)))
        whole.extend(await index.search_many(batch, K, None, options("none")))
    lost = gained = 0
    for target, with_cut, without in zip(targets, cut, whole, strict=True):
        found_cut = any(h.name == target for h in with_cut)
        found_whole = any(h.name == target for h in without)
        lost += found_whole and not found_cut
        gained += found_cut and not found_whole
    return Counts(len(queries), lost, gained)


async def choose_split(
    report: TuningReport,
    docs: Sequence[ToolDocument],
    held_out: Callable[[], Awaitable[HeldOutSearch]],
    options: Callable[[Split], Any],
) -> TuningReport:
    """``report`` with the catalog's level and why, without its sample. ``docs``: the catalog's
    documents (rows as in the sample); ``held_out()`` builds the index of the held-out catalog
    (called once, only when some description is cut)."""
    if report.sample is None:
        return replace(report, split="all", decomposition="all (no pseudo-queries to check)", sample=None)
    index: HeldOutSearch | None = None
    steps: list[str] = []
    chosen: Split = "none"
    for split in LEVELS:
        rows = await asyncio.to_thread(cut_queries, report, docs, split)  # regex work: off the loop
        if not rows:
            steps.append(f"{split}: no pseudo-query is cut")
            chosen = split
            break
        if index is None:
            index = await held_out()
        queries = [docs[i].description for i in rows]
        counts = await count_changes(index, queries, [docs[i].name for i in rows], options, split)
        harmful = counts.p_value < P_VALUE
        steps.append(f"{split}: {counts.describe()}, {'harmful' if harmful else 'kept'}")
        if not harmful:
            chosen = split
            break
    return replace(report, split=chosen, decomposition=f"{chosen} ({'; '.join(steps)})", sample=None)


class ThreadRunner:
    """Runs the held-out index's scoring in a worker thread, off the event loop."""

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(fn, *args)
