"""The in-memory tool index: one immutable snapshot of a catalog, searchable concurrently.

Pipeline for one query (``search``):

1. Visibility first: the rows the tenant may see are selected, and only those are scored.
2. Decomposition: ``decompose`` cuts a multi-request query into clauses, as far as the
   catalog's own descriptions showed cutting to be harmless (``split``, chosen at build by
   :mod:`tools_kb.decomposition_check`: every cut, connectives only, or none).
3. For the whole query and each clause: dense cosine over the float32 matrix and BM25, fused
   by the catalog's ``Fusion`` (chosen by :mod:`tools_kb.tuning` unless given).
4. Each tool keeps ``max(whole-query score, clause_weight × best clause score)``, so a tool
   that answers one intent well ranks even when the whole query is about something else,
   while the whole query still decides the top. When the query was cut at connectives and every
   clause is a request of its own, the clauses weigh as much as the whole query. Otherwise
   (clauses weigh less than the whole query) the whole query's own best tool stays first: a
   clause adds tools below it ("…set an alarm. My username is foo" keeps the alarm tool on
   top, the login tools come next), it does not replace the top.
   A tuned weighted fusion also adds ``name_bonus`` to the tools each text names (all
   distinctive words of the tool's name occur in it, :mod:`tools_kb.name_mentions`), before
   the max, and then ``prior × centrality`` (z-scored mean cosine of the tool's vector to the
   catalog's, :func:`tools_kb.dense.centrality`): between near-equal candidates, the named tool
   and the broad tool win over the others.
5. Enhancement (``extras``, see :mod:`tools_kb.enhance`): each extra text of a tool is one more
   dense row owned by that tool (a tool's dense score is the max over its rows) and is appended
   to its BM25 document.
6. Top-k; with ``min_score_ratio`` the list is cut where scores fall below that share of the
   top score (adaptive k, at least ``min_k``).

Steps 3 to 6 on a big catalog (≥ 4096 public tools, weighted fusion): the public rows' cosines
come from an int8 copy of their matrix with a proven error bound (a tenant's own private rows are
scored exactly; enhancement rows have an int8 copy too, pooled per tool), and only the tools whose
score could reach the top-k are re-scored on their float32 rows (:mod:`tools_kb.bounded_topk`,
:mod:`tools_kb.dense_view`): the same hits and scores as scanning the visible float32 rows, for
about a quarter of their bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from core.embedding import Embedder
from tools_kb.bounded_topk import TextScores, bounded_top
from tools_kb.decompose import Split
from tools_kb.decomposition_check import ThreadRunner, choose_split
from tools_kb.dense import DenseIndex, Lru, Rows, centrality
from tools_kb.dense_bounds import MIN_ROWS as PREFILTER_MIN_ROWS
from tools_kb.dense_bounds import BoundedScan
from tools_kb.dense_view import DenseView, ExtraRows
from tools_kb.documents import ToolDocument, build_document
from tools_kb.fusion import DENSE_ONLY, Fusion
from tools_kb.lexical import LexicalIndex, tokenize
from tools_kb.memo_embedder import MemoEmbedder
from tools_kb.name_mentions import NameMentions
from tools_kb.prerequisites import Prerequisites
from tools_kb.search_options import SearchOptions, query_texts
from tools_kb.spelling import apply_corrections, typo_corrections
from tools_kb.tool import Tool
from tools_kb.tuning import TuningReport, choose_fusion
from tools_kb.visibility import Visibility

T = TypeVar("T")

# Big catalogs: the whole query's ranking is read this far past k to see ties at its top.
_TIE_MARGIN = 8


@dataclass(frozen=True, slots=True)
class SearchHit:
    name: str
    score: float
    tool: Tool
    # Set on a prerequisite (tools_kb.prerequisites): the hit above it that needs a value this
    # tool hands out. It carries that hit's score.
    needed_by: str | None = None


class ComputeRunner(Protocol):
    """Where a search does its CPU work: the process's one compute thread
    (``core.embedders.ComputeThread``)."""

    async def run(self, fn: Callable[..., T], *args: object) -> T: ...


def _inline_parts(embedder: Embedder) -> tuple[ComputeRunner | None, Callable[..., Any] | None]:
    """The compute thread an embedder runs on (``OnnxMiniLMEmbedder.compute``; the cache and
    batching wrappers pass their inner one on) and its blocking ``embed_sync`` (only the bare
    embedder has one), each None when absent."""
    compute = getattr(embedder, "compute", None)
    if compute is None or not callable(getattr(compute, "run", None)):
        return None, None
    embed_sync = getattr(embedder, "embed_sync", None)
    return compute, embed_sync if callable(embed_sync) else None


class ToolIndex:
    """Immutable; build with :meth:`build`. ``search`` is safe to call concurrently."""

    def __init__(
        self,
        tools: Sequence[Tool],
        docs: Sequence[ToolDocument],
        vectors: npt.NDArray[np.float32],
        embedder: Embedder,
        fusion: Fusion,
        tuning: TuningReport | None = None,
        *,
        extra_vectors: npt.NDArray[np.float32] | None = None,
        extra_owner: npt.NDArray[np.int64] | None = None,
        compute: ComputeRunner | None = None,
        prefilter: bool = True,
        prefilter_min_rows: int = PREFILTER_MIN_ROWS,
    ) -> None:
        """``extra_vectors`` (m, dim) are enhancement rows; ``extra_owner`` (m,) the tool row
        each belongs to. ``prefilter`` (catalogs of at least ``prefilter_min_rows`` public tools):
        public searches find their candidates on an int8 copy of the matrix and re-score them
        on the float32 rows (:mod:`tools_kb.bounded_topk`; the same hits and scores, to float32
        rounding); False scans the float32 matrix for every query. ``compute``: the thread
        searches score on (default: the query embedder's compute thread when it exposes one;
        with its ``embed_sync`` too, a search is one hop: embedding and scoring in one call on
        that thread; through the cache / batching wrappers the vectors come first, then the
        scoring hop). Without either, scoring runs in the caller (the event loop)."""
        self.tools = tuple(tools)
        self.docs = tuple(docs)
        self.fusion = fusion
        self.tuning = tuning
        # how far queries are cut into clauses (tools_kb.decomposition_check); "all" untuned
        self.split: Split = "all" if tuning is None else tuning.split
        self._embedder = embedder
        own_compute, self._embed_sync = _inline_parts(embedder)
        self._compute = compute or own_compute
        if self._compute is not own_compute:
            self._embed_sync = None  # embedding on another thread than scoring: two hops
        self._dense = DenseIndex(vectors)
        self._centrality = centrality(self._dense.matrix)
        name_tokens = [tokenize(d.name_words) for d in docs]  # once: name pairs and mentions
        self._lexical = LexicalIndex([d.lexical_text() for d in docs], name_tokens=name_tokens)
        self._mentions = NameMentions(name_tokens)
        self._prerequisites = Prerequisites(self.tools)
        self._visibility = Visibility.of(tools)
        self._by_name = {t.name: i for i, t in enumerate(tools)}
        self._extra: DenseIndex | None = None
        self._extra_owner = np.zeros(0, dtype=np.int64)
        if extra_vectors is not None and extra_owner is not None and len(extra_owner):
            if extra_vectors.shape[0] != extra_owner.shape[0]:
                raise ValueError("extra_vectors and extra_owner differ in length")
            self._extra = DenseIndex(extra_vectors)
            self._extra_owner = np.asarray(extra_owner, dtype=np.int64)
        # With a weighted fusion that uses the cosines, searches re-score only the tools that can
        # reach the top-k (tools_kb.bounded_topk): an int8 scan of the public rows, a tenant's own
        # private rows scored exactly, enhancement rows int8-scanned and pooled per tool. RRF
        # needs every cosine's rank; BM25 alone needs no cosine.
        public = self._visibility.public
        self._bounded = (
            BoundedScan.build(
                self._dense.matrix if self._visibility.all_public else self._dense.matrix[public],
                min_rows=prefilter_min_rows,
            )
            if prefilter and fusion.kind == "weighted" and fusion.weight > 0.0
            else None
        )
        self._extra_rows = (
            ExtraRows(self._extra.matrix, self._extra_owner, len(self.tools))
            if self._bounded is not None and self._extra is not None
            else None
        )
        self._views: Lru[DenseView] = Lru(32)  # by tenant, like the dense sub-matrices

    @property
    def vectors(self) -> npt.NDArray[np.float32]:
        """The tools' dense vectors, row i for ``tools[i]`` (read-only use)."""
        return self._dense.matrix

    @property
    def prefiltered(self) -> bool:
        """Whether searches use the int8 prefilter (see ``prefilter``)."""
        return self._bounded is not None

    @property
    def extra_rows(self) -> int:
        """How many enhancement rows the dense index holds."""
        return int(self._extra_owner.shape[0])

    @classmethod
    async def build(
        cls,
        tools: Sequence[Tool],
        embedder: Embedder,
        *,
        fusion: Fusion | None = None,
        query_embedder: Embedder | None = None,
        extras: Mapping[str, Sequence[str]] | None = None,
        compute: ComputeRunner | None = None,
        correct_typos: bool = True,
        tuning: TuningReport | None = None,
    ) -> ToolIndex:
        """Embed the tools' documents and, unless ``fusion`` is given, tune it on the catalog
        and choose how far its queries are cut into clauses (:mod:`tools_kb.decomposition_check`;
        with a given ``fusion`` nothing is checked and every cut is made). ``tuning``, the report
        of an earlier build of the same tools (``index.tuning``), reuses both decisions instead
        (a report fresh from ``choose_fusion`` is checked first); ``fusion`` and ``tuning``
        together are a ValueError.
        ``query_embedder`` (default ``embedder``) embeds queries at search time; it must make
        the same vectors. ``extras``: enhancement texts by tool name (extra dense rows and BM25
        text; the fusion is tuned on the plain documents). With ``correct_typos`` (catalogs),
        typos in the tools' texts get their correction appended (:mod:`tools_kb.spelling`, found
        from the catalog alone; in a worker thread: the word list takes ~0.3 s and ~40 MB to
        load once per process); ad-hoc tool sets of one request pass False (in a handful of
        tools almost every word is "used by one tool only", the rule's catalog signal).
        Raises ValueError on duplicate tool names."""
        names = [t.name for t in tools]
        if len(set(names)) != len(names):
            raise ValueError("duplicate tool names in catalog")
        if correct_typos:
            plain, docs = await asyncio.to_thread(_documents, tools, extras or {}, True)
        else:
            plain, docs = _documents(tools, extras or {}, False)
        vectors = (
            await embedder.embed([d.dense_text() for d in docs])
            if docs
            else np.zeros((0, embedder.dim), dtype=np.float32)
        )
        owner = np.asarray([i for i, d in enumerate(docs) for _ in d.extra], dtype=np.int64)
        extra_vectors = await embedder.embed([x for d in docs for x in d.extra]) if len(owner) else None
        if fusion is not None and tuning is not None:
            raise ValueError("give ToolIndex.build a fusion or a tuning report, not both")
        if fusion is None:
            if tuning is None:
                tuning = await choose_fusion(plain, embedder)
            if tuning.sample is not None:  # a fresh report: decide on decomposition
                tuning = await cls._checked(tools, plain, tuning, embedder)
            fusion = tuning.fusion
        # The constructor is CPU work (BM25, name mentions, centrality, the int8 prefilter:
        # ~1 s at 10k tools): a worker thread, so a gateway's event loop keeps serving.
        return await asyncio.to_thread(
            cls,
            tools,
            docs,
            vectors,
            query_embedder or embedder,
            fusion,
            tuning,
            extra_vectors=extra_vectors,
            extra_owner=owner,
            compute=compute,
        )

    @classmethod
    async def _checked(
        cls, tools: Sequence[Tool], docs: Sequence[ToolDocument], tuning: TuningReport, embedder: Embedder
    ) -> TuningReport:
        """``tuning`` with the catalog's decomposition level (:mod:`tools_kb.decomposition_check`),
        measured on an index of the tuning's held-out documents."""
        sample = tuning.sample

        async def held_out() -> ToolIndex:
            assert sample is not None
            n = len(sample.pool)
            return await asyncio.to_thread(
                cls,
                [replace(tools[i], description="", tenants=None) for i in sample.pool],
                [replace(docs[i], description="", extra=()) for i in sample.pool],
                sample.vectors[:n],
                MemoEmbedder(embedder, sample.queries, sample.vectors[n:]),
                tuning.fusion,
                compute=ThreadRunner(),
                prefilter=False,
            )

        return await choose_split(tuning, docs, held_out, lambda split: SearchOptions(decompose=split))

    def __len__(self) -> int:
        return len(self.tools)

    def get(self, name: str) -> Tool | None:
        i = self._by_name.get(name)
        return None if i is None else self.tools[i]

    async def search(
        self, query: str, k: int = 5, tenant: str | None = None, options: SearchOptions = SearchOptions()
    ) -> list[SearchHit]:
        """Top ``k`` tools for ``query`` among those ``tenant`` may see (best first)."""
        return (await self.search_many([query], k, tenant, options))[0]

    async def search_many(
        self,
        queries: Sequence[str],
        k: int = 5,
        tenant: str | None = None,
        options: SearchOptions = SearchOptions(),
    ) -> list[list[SearchHit]]:
        """Like :meth:`search` for several queries, embedding all their texts in one call.
        Each text's BM25 scores are computed once (after the embedding; scoring them while it
        runs measured no faster: BM25 is ~0.07 ms of a ~2.5 ms search at 10k tools).

        Threads: with an inline-capable query embedder the whole search (embedding, dense,
        BM25, fusion, top-k) is one call on its compute thread; otherwise the embedder is
        awaited and the scoring runs on ``compute`` (or in the caller when there is none)."""
        if not queries:
            return []
        split = options.split(self.split)
        parts = [query_texts(q, split, options) for q in queries]  # whole query + weighted clauses
        flat = [t for p, _ in parts for t in p]
        rows = self._visibility.rows_for(tenant)
        if self._compute is not None and self._embed_sync is not None:
            return await self._compute.run(self._search_sync, parts, flat, rows, k, tenant, options)
        vectors = await self._embedder.embed(flat)
        if self._compute is not None:
            return await self._compute.run(self._score, parts, vectors, flat, rows, k, tenant, options)
        return self._score(parts, vectors, flat, rows, k, tenant, options)

    def _search_sync(
        self,
        parts: Sequence[tuple[list[str], float]],
        flat: list[str],
        rows: Rows | None,
        k: int,
        tenant: str | None,
        options: SearchOptions,
    ) -> list[list[SearchHit]]:
        assert self._embed_sync is not None
        vectors: npt.NDArray[np.float32] = self._embed_sync(flat)
        return self._score(parts, vectors, flat, rows, k, tenant, options)

    def _score(
        self,
        parts: Sequence[tuple[list[str], float]],
        vectors: npt.NDArray[np.float32],
        flat: list[str],
        rows: Rows | None,
        k: int,
        tenant: str | None,
        options: SearchOptions,
    ) -> list[list[SearchHit]]:
        """Blocking: the scoring and top-k of :meth:`search_many` for embedded texts."""
        # once per text, shared by BM25 and the name mentions (none needed by dense-only)
        wanted = self._uses_lexical() or self.fusion.uses_name_bonus
        tokens = [tokenize(t) if wanted else [] for t in flat]
        lexical = [self._lexical_scores(t, rows) for t in tokens]
        named = [self._named(t, rows) for t in tokens]
        out: list[list[SearchHit]] = []
        pos = 0
        for texts, weight in parts:
            end = pos + len(texts)
            if self._bounded is not None:
                texts_scores = [
                    TextScores(v, lx, nm)
                    for v, lx, nm in zip(vectors[pos:end], lexical[pos:end], named[pos:end], strict=True)
                ]
                hits = self._bounded_hits(texts_scores, rows, tenant, weight, k, options)
                if self._keeps_whole_top(texts, weight, options) and hits:
                    # the whole query's own ranking, a few past k: a top already tied with its
                    # best is not overruled (as in the plain path); when the tie runs past the
                    # list, whether the top is in it is unknown and it stays (never seen so far)
                    whole_hits = self._bounded_hits(
                        texts_scores[:1], rows, tenant, 0.0, k + _TIE_MARGIN, SearchOptions()
                    )
                    best = whole_hits[0].score
                    tied = {h.name for h in whole_hits if h.score >= best}
                    if hits[0].name not in tied and whole_hits[-1].score < best:
                        hits = _first_at_top(hits, whole_hits[0].tool, k)
                out.append(self._with_prerequisites(hits, tenant, k, options))
                pos = end
                continue
            whole, scores = self._combined(
                vectors[pos:end], lexical[pos:end], named[pos:end], rows, tenant, weight
            )
            if self.fusion.uses_prior:
                prior = np.float32(self.fusion.prior) * (
                    self._centrality if rows is None else self._centrality[rows]
                )
                whole, scores = whole + prior, scores + prior
            pos = end
            hits = self._top(scores, rows, k, options)
            if self._keeps_whole_top(texts, weight, options) and hits:
                best = int(np.argmax(whole))
                if whole[self._position(hits[0].name, rows)] < whole[best]:
                    hits = _first_at_top(hits, self.tools[best if rows is None else int(rows[best])], k)
            out.append(self._with_prerequisites(hits, tenant, k, options))
        return out

    def _position(self, name: str, rows: Rows | None) -> int:
        """Where the tool ``name`` is among the visible ``rows`` (sorted catalog rows)."""
        row = self._by_name[name]
        return row if rows is None else int(np.searchsorted(rows, row))

    @staticmethod
    def _keeps_whole_top(texts: Sequence[str], weight: float, options: SearchOptions) -> bool:
        """Whether the whole query's best tool must stay first (unless the top is one of the
        tools tied for it): it was cut into clauses that weigh less than itself."""
        return options.keep_whole_top and len(texts) > 1 and weight < 1.0

    def _with_prerequisites(
        self, hits: list[SearchHit], tenant: str | None, k: int, options: SearchOptions
    ) -> list[SearchHit]:
        """``hits`` with each one's prerequisite right after it (:mod:`tools_kb.prerequisites`),
        still at most ``k``; a prerequisite carries the score of the hit that needs it."""
        if not options.prerequisites or not len(self._prerequisites) or not hits:
            return hits
        by_row = {self._by_name[h.name]: h for h in hits}
        expanded = self._prerequisites.expand(list(by_row), lambda row: self.tools[row].visible_to(tenant), k)
        if all(needed_by is None for _, needed_by in expanded) and len(expanded) == len(hits):
            return hits
        out: list[SearchHit] = []
        scores: dict[int, float] = {}
        for row, needed_by in expanded:
            if needed_by is None:
                hit = by_row[row]
            else:
                tool = self.tools[row]
                hit = SearchHit(tool.name, scores[needed_by], tool, needed_by=self.tools[needed_by].name)
            scores[row] = hit.score
            out.append(hit)
        return out

    def _uses_lexical(self) -> bool:
        return not (
            self.fusion is DENSE_ONLY or (self.fusion.kind == "weighted" and self.fusion.weight >= 1.0)
        )

    def _lexical_scores(self, tokens: Sequence[str], rows: Rows | None) -> npt.NDArray[np.float32] | None:
        if not self._uses_lexical():
            return None
        lexical = self._lexical.scores_of(tokens)
        return lexical if rows is None else lexical[rows]

    def _named(self, tokens: Sequence[str], rows: Rows | None) -> npt.NDArray[np.float32] | None:
        """``name_bonus`` for each visible tool a text (its ``tokens``) names, or None (no
        bonus, no name)."""
        if not self.fusion.uses_name_bonus:
            return None
        named = self._mentions.mentioned(tokens)
        if named is None:
            return None
        named *= np.float32(self.fusion.name_bonus)
        return named if rows is None else named[rows]

    def _fused(
        self,
        vector: npt.NDArray[np.float32],
        lexical: npt.NDArray[np.float32] | None,
        named: npt.NDArray[np.float32] | None,
        rows: Rows | None,
        tenant: str | None,
    ) -> npt.NDArray[np.float32]:
        dense = self._dense.scores(vector, rows, rows_key=tenant or "")
        if self._extra is not None:
            pooled = np.full(len(self.tools), -np.inf, dtype=np.float32)
            np.maximum.at(pooled, self._extra_owner, self._extra.scores(vector))
            dense = np.maximum(dense, pooled if rows is None else pooled[rows])
        fused = dense if lexical is None else self.fusion(dense, lexical)
        return fused if named is None else fused + named

    def _combined(
        self,
        vectors: npt.NDArray[np.float32],
        lexical: Sequence[npt.NDArray[np.float32] | None],
        named: Sequence[npt.NDArray[np.float32] | None],
        rows: Rows | None,
        tenant: str | None,
        clause_weight: float,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """(the whole query's fused scores, the combined scores)."""
        whole = self._fused(vectors[0], lexical[0], named[0], rows, tenant)
        scores = whole
        for vec, lex, nm in zip(vectors[1:], lexical[1:], named[1:], strict=True):
            scores = np.maximum(scores, clause_weight * self._fused(vec, lex, nm, rows, tenant))
        return whole, scores

    def _top(
        self, scores: npt.NDArray[np.float32], rows: Rows | None, k: int, options: SearchOptions
    ) -> list[SearchHit]:
        n = scores.shape[0]
        k = max(0, min(k, n))
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-scores[top], kind="stable")]
        catalog_rows = top if rows is None else rows[top]
        return self._hits(catalog_rows, scores[top], float(scores.min()), options)

    def _bounded_hits(
        self,
        texts: list[TextScores],
        rows: Rows | None,
        tenant: str | None,
        clause_weight: float,
        k: int,
        options: SearchOptions,
    ) -> list[SearchHit]:
        """:meth:`_top` of the visible rows' combined scores, via :func:`bounded_top` (``texts``:
        lexical and name scores already restricted to ``rows``)."""
        prior = np.float32(self.fusion.prior) * self._centrality if self.fusion.uses_prior else None
        if rows is not None:
            prior = None if prior is None else prior[rows]
        ranked = bounded_top(
            self._view(rows, tenant or ""),
            texts,
            weight=self.fusion.weight,
            clause_weight=clause_weight,
            prior=prior,
            k=k,
            floor=options.min_score_ratio is not None,
        )
        catalog_rows = ranked.rows if rows is None else rows[ranked.rows]
        return self._hits(catalog_rows, ranked.scores, ranked.floor, options)

    def _view(self, rows: Rows | None, key: str) -> DenseView:
        """The cosines seen from ``rows`` (None: every tool; else the public ones + one tenant's
        own), cached by ``key``."""
        scan, public = self._bounded, self._visibility.public
        assert scan is not None
        return self._views.get_or_make(
            "\0all" if rows is None else key,
            lambda: DenseView(
                scan,
                self._dense.matrix,
                rows,
                None if rows is None else np.flatnonzero(np.isin(rows, public)),
                self._extra_rows,
            ),
        )

    def _hits(
        self,
        rows: npt.NDArray[np.int64],
        scores: npt.NDArray[np.float32],
        floor: float | None,
        options: SearchOptions,
    ) -> list[SearchHit]:
        """Hits for catalog ``rows`` ranked best first, with their ``scores``; ``floor`` is the
        lowest score over the visible rows (needed by adaptive k only)."""
        hits: list[SearchHit] = []
        if not len(rows):
            return hits
        # Adaptive k compares scores min-max scaled over the visible rows, so it means the same
        # for cosine, weighted and RRF scores: keep what is within ``ratio`` of the best.
        best = float(scores[0])
        span = best - floor if floor is not None else 0.0
        for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
            if (
                options.min_score_ratio is not None
                and floor is not None
                and len(hits) >= options.min_k
                and span > 0
                and (score - floor) < options.min_score_ratio * span
            ):
                break
            hits.append(SearchHit(self.tools[row].name, score, self.tools[row]))
        return hits


def _first_at_top(hits: list[SearchHit], tool: Tool, k: int) -> list[SearchHit]:
    """``hits`` with ``tool`` moved (or added) to rank 1, cut to ``k``. Moved up, it takes the
    top score (its own was at most that), so scores stay in rank order."""
    if hits[0].name == tool.name:
        return hits
    rest = [h for h in hits if h.name != tool.name]
    return [SearchHit(tool.name, hits[0].score, tool), *rest][:k]


def _documents(
    tools: Sequence[Tool], extras: Mapping[str, Sequence[str]], correct_typos: bool
) -> tuple[list[ToolDocument], list[ToolDocument]]:
    """(plain documents for tuning, documents with enhancement extras), typo-corrected if asked."""
    plain = [build_document(t) for t in tools]
    typos = typo_corrections(plain) if correct_typos else {}
    if typos:
        plain = [apply_corrections(d, typos) for d in plain]
    docs = [
        apply_corrections(build_document(t, extras[t.name]), typos) if t.name in extras else d
        for t, d in zip(tools, plain, strict=True)
    ]
    return plain, docs
