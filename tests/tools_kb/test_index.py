from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.decompose import decompose
from tools_kb.documents import build_document
from tools_kb.fusion import RRF, Fusion
from tools_kb.index import SearchHit, ToolIndex
from tools_kb.search_options import SearchOptions
from tools_kb.tool import Tool


async def _index(catalog: list[Tool], embedder: HashingEmbedder, fusion: Fusion | None = None) -> ToolIndex:
    return await ToolIndex.build(catalog, embedder, fusion=fusion)


async def test_finds_the_tool_for_a_plain_request(catalog: list[Tool], embedder: HashingEmbedder) -> None:
    index = await _index(catalog, embedder)
    hits = await index.search("What is the weather forecast in Paris?", k=3)
    assert hits[0].name == "getWeatherForecast"
    assert hits[0].score >= hits[1].score


async def test_every_intent_of_a_multi_request_query_is_represented(
    catalog: list[Tool], embedder: HashingEmbedder
) -> None:
    index = await _index(catalog, embedder)
    query = (
        "Translate this letter into German. Also send an email to my boss, and show the stock price of ACME"
    )
    names = [h.name for h in await index.search(query, k=3)]
    assert set(names) == {"translateText", "sendEmail", "getStockPrice"}


async def test_clauses_that_are_all_requests_weigh_as_much_as_the_whole_query(
    catalog: list[Tool], embedder: HashingEmbedder
) -> None:
    index = await _index(catalog, embedder, Fusion("weighted", 0.5))
    query = "Get the weather forecast for Paris, and also convert 100 euros into dollars"
    clause = decompose(query).clauses[1]
    alone = await index.search(clause, k=1, options=SearchOptions(decompose=False))
    assert alone[0].name == "convert_currency"

    def score_in(hits: list[SearchHit]) -> float:
        return next(h.score for h in hits if h.name == "convert_currency")

    full = await index.search(query, k=5)
    assert score_in(full) == pytest.approx(alone[0].score)
    damped = await index.search(query, k=5, options=SearchOptions(request_weight=0.9))
    assert score_in(damped) == pytest.approx(0.9 * alone[0].score)
    # the same cut with a clause that asks for nothing keeps the connective weight
    statement = "Get the weather forecast for Paris, and also the euro against the dollar"
    assert not decompose(statement).requests


async def test_clauses_that_weigh_less_keep_the_whole_querys_best_tool_first(
    catalog: list[Tool], embedder: HashingEmbedder
) -> None:
    index = await _index(catalog, embedder, Fusion("weighted", 0.5))
    # constructed so that, under the hashing embedder, the clause of the second sentence (a
    # sentence-only cut: it weighs 0.8 of the whole query) outscores the whole query's best tool
    query = "Find email headlines hotel forecast. My topic temperature latest."
    assert not decompose(query).explicit
    whole = await index.search(query, k=2, options=SearchOptions(decompose=False))
    assert whole[0].name == "getWeatherForecast"
    assert whole[0].score > whole[1].score
    unpinned = await index.search(query, k=3, options=SearchOptions(keep_whole_top=False))
    assert unpinned[0].name == "bookHotel"
    hits = await index.search(query, k=3)
    assert [h.name for h in hits[:2]] == ["getWeatherForecast", "bookHotel"]
    assert hits[0].score == unpinned[0].score  # moved up, it takes the top score
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # not among the combined top k at all: added at rank 1, the list still has k hits
    one = await index.search(query, k=1)
    assert [h.name for h in one] == ["getWeatherForecast"]


async def test_other_tenants_private_tools_are_never_returned(
    catalog: list[Tool], embedder: HashingEmbedder
) -> None:
    index = await _index(catalog, embedder)
    names = [h.name for h in await index.search("run the payroll for employees", k=20, tenant="acme")]
    assert "acme_internal_payroll" in names
    assert "globex_payroll_export" not in names


async def test_anonymous_caller_sees_only_public_tools(
    catalog: list[Tool], embedder: HashingEmbedder
) -> None:
    index = await _index(catalog, embedder)
    names = {h.name for h in await index.search("payroll", k=50)}
    assert names == {t.name for t in catalog if t.tenants is None}


async def test_adaptive_k_cuts_below_the_score_ratio(catalog: list[Tool], embedder: HashingEmbedder) -> None:
    index = await _index(catalog, embedder)
    hits = await index.search(
        "weather forecast temperature", k=10, options=SearchOptions(min_score_ratio=0.7)
    )
    assert 1 <= len(hits) < 10
    assert hits[0].name == "getWeatherForecast"


@pytest.mark.parametrize(
    "fusion", [RRF, Fusion("weighted", 0.0), Fusion("weighted", 1.0)], ids=["rrf", "bm25", "dense"]
)
async def test_fixed_fusions_rank_the_obvious_tool_first(
    catalog: list[Tool], embedder: HashingEmbedder, fusion: Fusion
) -> None:
    index = await _index(catalog, embedder, fusion)
    hits = await index.search("convert currency exchange rate", k=3, options=SearchOptions(decompose=False))
    assert hits[0].name == "convert_currency"


async def test_fusion_is_tuned_from_the_catalog_when_not_given(
    catalog: list[Tool], embedder: HashingEmbedder
) -> None:
    index = await _index(catalog, embedder)
    assert index.tuning is not None
    # 12 tools is below the pseudo-query minimum: the documented fallback is RRF.
    assert index.fusion.kind == "rrf"


async def test_k_larger_than_catalog_returns_every_visible_tool(
    catalog: list[Tool], embedder: HashingEmbedder
) -> None:
    index = await _index(catalog, embedder)
    assert len(await index.search("anything", k=100, tenant="acme")) == 11


async def test_empty_catalog_returns_nothing(embedder: HashingEmbedder) -> None:
    index = await ToolIndex.build([], embedder)
    assert await index.search("weather", k=5) == []


async def test_duplicate_names_are_rejected(embedder: HashingEmbedder) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        await ToolIndex.build([Tool("a", "x"), Tool("a", "y")], embedder)


def test_centrality_is_z_scored_closeness_to_the_catalog() -> None:
    from tools_kb.dense import centrality

    a = np.asarray([1.0, 0.0, 0.0], dtype=np.float32)
    b = np.asarray([0.0, 1.0, 0.0], dtype=np.float32)
    mid = (a + b) / np.linalg.norm(a + b)
    c = centrality(np.stack([a, a, b, mid]).astype(np.float32))
    assert c[3] > c[0] > c[2]  # the broad tool between both topics is the most central
    assert abs(float(c.mean())) < 1e-5 and abs(float(c.std()) - 1.0) < 1e-4
    assert not centrality(np.stack([a, a])).any()  # all equally central
    assert centrality(a[None, :]).shape == (1,)


async def test_prior_breaks_a_tie_towards_the_central_tool(embedder: HashingEmbedder) -> None:
    # weather_now and weatherNow have the same words, so BM25 ties them; weatherNow's vector sits
    # in the middle of the catalog, weather_now's off to one side.
    tools = [
        Tool("weather_now", "current conditions"),
        Tool("weatherNow", "current conditions"),
        Tool("stockQuote", "share price"),
        Tool("flightStatus", "departure board"),
    ]
    docs = [build_document(t) for t in tools]
    raw = np.zeros((4, embedder.dim), dtype=np.float32)
    raw[:, :4] = [[0, 0, 0, 1], [1, 1, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]]
    vectors = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    lexical_only = Fusion("weighted", 0.0)
    plain = ToolIndex(tools, docs, vectors, embedder, lexical_only)
    with_prior = ToolIndex(tools, docs, vectors, embedder, Fusion("weighted", 0.0, prior=0.1))
    assert [h.name for h in await plain.search("weather now", k=2)] == ["weather_now", "weatherNow"]
    assert [h.name for h in await with_prior.search("weather now", k=2)] == ["weatherNow", "weather_now"]


class _InlineHashing(HashingEmbedder):
    """HashingEmbedder that also offers ``embed_sync`` and the compute thread it runs on (as
    ``OnnxMiniLMEmbedder`` does); records the threads each path ran on."""

    def __init__(self) -> None:
        super().__init__()
        from core.embedders.compute import ComputeThread

        self.compute = ComputeThread(name="test-compute")
        self.sync_threads: list[int] = []

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        import threading

        self.sync_threads.append(threading.get_ident())
        return self.vectors(texts)


async def test_inline_embedder_searches_in_one_hop_with_the_same_hits(catalog: list[Tool]) -> None:
    import threading

    inline = _InlineHashing()
    plain = HashingEmbedder()
    try:
        a = await ToolIndex.build(catalog, plain, fusion=Fusion("weighted", 0.5, prior=0.02))
        b = ToolIndex(a.tools, a.docs, a._dense.matrix, inline, a.fusion)
        for query, tenant in (("weather forecast in Paris", None), ("run the payroll. Also email", "acme")):
            assert await a.search(query, 5, tenant) == await b.search(query, 5, tenant)
        assert inline.calls == []  # never the async embed: embedding ran inside the one hop
        assert len(set(inline.sync_threads)) == 1
        assert inline.sync_threads[0] != threading.get_ident()
    finally:
        inline.compute.shutdown()


async def test_scoring_on_a_given_compute_thread_gives_the_same_hits(catalog: list[Tool]) -> None:
    from core.embedders.compute import ComputeThread

    embedder = HashingEmbedder()
    compute = ComputeThread(name="test-scoring")
    try:
        a = await ToolIndex.build(catalog, embedder)
        b = ToolIndex(a.tools, a.docs, a._dense.matrix, embedder, a.fusion, compute=compute)
        query = "Translate this letter into German. Also send an email to my boss"
        assert await a.search(query, 4) == await b.search(query, 4)
    finally:
        compute.shutdown()


async def test_through_cache_and_batching_the_scoring_runs_on_the_inner_compute_thread(
    catalog: list[Tool],
) -> None:
    import threading

    from core.embedders.batching import BatchingEmbedder
    from core.embedders.cache import CachedEmbedder

    class _Recording(ToolIndex):
        threads: list[int] = []

        def _score(self, *args: object) -> list[list[SearchHit]]:
            self.threads.append(threading.get_ident())
            return super()._score(*args)  # type: ignore[arg-type]

    inline = _InlineHashing()
    wrapped = CachedEmbedder(BatchingEmbedder(inline))
    try:
        a = await ToolIndex.build(catalog, HashingEmbedder())
        b = _Recording(a.tools, a.docs, a.vectors, wrapped, a.fusion)
        query = "Translate this letter into German. Also send an email to my boss"
        assert await a.search(query, 4) == await b.search(query, 4)  # embedded via the wrappers
        assert await a.search(query, 4) == await b.search(query, 4)  # cache hit: no embedding
        assert inline.sync_threads == [] and len(inline.calls) == 1
        assert set(b.threads) == {await inline.compute.run(threading.get_ident)}
    finally:
        inline.compute.shutdown()


def _big_catalog(private_every: int = 0) -> list[Tool]:
    from tools_kb.dense_bounds import MIN_ROWS

    verbs = ["get", "create", "delete", "search", "book", "cancel", "send", "convert", "track", "list"]
    things = ["invoice", "flight", "hotel", "order", "ticket", "email", "meeting", "photo", "song", "lead"]
    return [
        Tool(
            f"{verbs[i % 10]}{things[i // 10 % 10].title()}{i}",
            f"{verbs[i % 10].title()} a {things[i // 10 % 10]} in region {i % 37} for team {i % 53}",
            None,
            (),
            frozenset({"acme" if i % 2 else "globex"}) if private_every and i % private_every == 0 else None,
        )
        for i in range(MIN_ROWS + 1500)  # >= MIN_ROWS public with every 7th private
    ]


@pytest.mark.parametrize(("private_every", "with_extras"), [(0, False), (7, False), (0, True), (7, True)])
async def test_a_big_catalog_gives_the_same_hits_with_and_without_the_int8_prefilter(
    private_every: int, with_extras: bool
) -> None:
    """All public, or with private tools: each tenant's own rows are scored exactly beside the
    public int8 scan, other tenants' rows never; with enhancement rows, pooled per tool
    (compared with the plain scan of visible rows)."""
    embedder = HashingEmbedder()
    tools = _big_catalog(private_every)
    extras = {
        t.name: [f"how do I {t.name[:4]} my stuff quickly", "export the weekly report"] for t in tools[::5]
    }
    fast = await ToolIndex.build(
        tools,
        embedder,
        fusion=Fusion("weighted", 0.6, prior=0.02, name_bonus=0.02),
        extras=extras if with_extras else None,
    )
    assert (fast.extra_rows > 0) == with_extras
    extra = fast._extra.matrix if fast._extra is not None else None
    plain = ToolIndex(
        fast.tools,
        fast.docs,
        fast.vectors,
        embedder,
        fast.fusion,
        extra_vectors=extra,
        extra_owner=fast._extra_owner,
        prefilter=False,
    )
    assert fast.prefiltered and not plain.prefiltered
    queries = [
        "book a hotel in region 4",
        "send an email for team 12. Also cancel the flight",
        "book a hotel in region 4. The photo is in region 30.",  # the whole query's best stays first
        "track order",
        "export the weekly report",
    ]
    for options, k in itertools.product(
        (SearchOptions(), SearchOptions(min_score_ratio=0.7, min_k=2)), (1, 10)
    ):
        for tenant in (None, "acme", "globex", "initech"):
            got = await fast.search_many(queries, k, tenant, options)
            want = await plain.search_many(queries, k, tenant, options)
            assert [[h.name for h in hits] for hits in got] == [[h.name for h in hits] for hits in want]
            for a, b in zip(got, want, strict=True):
                assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-6)
                assert (
                    all(h.tool.visible_to(tenant) for h in a)
                    if tenant
                    else all(h.tool.tenants is None for h in a)
                )


async def test_a_tenants_own_tools_rank_beside_the_public_ones() -> None:
    embedder = HashingEmbedder()
    tools = _big_catalog(7)
    index = await ToolIndex.build(tools, embedder, fusion=Fusion("weighted", 0.6))
    own = next(t for t in tools if t.tenants == frozenset({"acme"}))
    hits = await index.search(own.description, 3, "acme")
    assert hits[0].name == own.name
    assert own.name not in [h.name for h in await index.search(own.description, 10, "globex")]


class _ThreadNoting(HashingEmbedder):
    """Notes the thread that asks for its compute thread: the index constructor does."""

    def __init__(self) -> None:
        super().__init__()
        self.asked_from: list[int] = []

    @property
    def compute(self) -> None:
        import threading

        self.asked_from.append(threading.get_ident())
        return None


async def test_build_constructs_the_index_off_the_event_loop(catalog: list[Tool]) -> None:
    import threading

    embedder = _ThreadNoting()
    index = await ToolIndex.build(catalog, embedder)
    assert embedder.asked_from and threading.get_ident() not in embedder.asked_from
    assert (await index.search("weather forecast in Paris", 1))[0].name == "getWeatherForecast"


class _TableEmbedder:
    """Fixed vectors per text (others: one spare axis), to build exact score ties."""

    dim = 8
    name = "table"

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self._table = table

    async def embed(self, texts: list[str]) -> np.ndarray:
        spare = np.eye(self.dim, dtype=np.float32)[-1]
        return np.stack([self._table.get(t, spare) for t in texts]).astype(np.float32)


async def test_a_top_tied_with_the_whole_querys_best_stays_on_both_paths() -> None:
    """alpha and beta tie for the whole query; a clause lifts beta above alpha. beta is as good
    a "whole-query best" as alpha, so it stays first, with and without the prefilter, at any k."""
    query = "Set an alarm for 7 am. My username is foo."
    clauses = decompose(query).clauses
    axis = np.eye(8, dtype=np.float32)
    alpha = 0.5 * axis[0] + np.float32(np.sqrt(0.75)) * axis[1]
    beta = 0.5 * axis[0] + np.float32(np.sqrt(0.75)) * axis[2]
    embedder = _TableEmbedder({query: axis[0], clauses[0]: axis[3], clauses[1]: beta})
    rng = np.random.default_rng(0)
    filler = rng.normal(size=(50, 8)).astype(np.float32)
    filler[:, :3] = 0
    filler /= np.linalg.norm(filler, axis=1, keepdims=True)
    tools = [Tool("alpha", "alpha tool"), Tool("beta", "beta tool")]
    tools += [Tool(f"f{i}", f"filler {i}") for i in range(50)]
    vectors = np.vstack([alpha, beta, filler]).astype(np.float32)
    docs = [build_document(t) for t in tools]
    options = SearchOptions(prerequisites=False)
    for prefilter in (True, False):
        index = ToolIndex(
            tools, docs, vectors, embedder, Fusion("weighted", 1.0), prefilter=prefilter, prefilter_min_rows=2
        )
        assert index.prefiltered == prefilter
        whole = await index.search(query, 2, options=SearchOptions(decompose=False, prerequisites=False))
        assert {h.name for h in whole} == {"alpha", "beta"} and whole[0].score == whole[1].score
        for k in (1, 3):
            assert (await index.search(query, k, options=options))[0].name == "beta"
