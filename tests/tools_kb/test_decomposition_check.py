"""The per-catalog decomposition check (tools_kb.decomposition_check) on real indexes."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.store.factory import open_store
from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.catalog import SqliteCatalogStore
from tools_kb.decompose import decompose
from tools_kb.decomposition_check import MAX_CLAUSES_CHECKED, Counts, cut_queries
from tools_kb.documents import build_document
from tools_kb.fusion import RRF
from tools_kb.index import ToolIndex
from tools_kb.kb import ToolKB
from tools_kb.learned_examples import LearnedExamples
from tools_kb.memo_embedder import MemoEmbedder
from tools_kb.search_options import SearchOptions
from tools_kb.tool import Tool
from tools_kb.tuning import choose_fusion

MEDIA = ["images", "videos", "audio", "tables", "charts", "maps", "scans", "slides", "emails", "logs"]


def _params(*names: str) -> dict[str, Any]:
    return {"type": "object", "properties": {n: {"type": "string"} for n in names}}


def _siblings(singles: int, joint: str = " and ") -> list[Tool]:
    """A catalog where cutting hurts: each "mixer" tool handles two media and is described as
    "classify uploaded A files<joint>B files …"; a generic tool and ``singles`` tools per medium
    answer each half better than the mixer, so the cut halves push it out of the top 5."""
    tools = [Tool("classify_uploaded_files_pretrained_model", "")]
    for i, (a, b) in enumerate(itertools.combinations(MEDIA, 2)):
        text = f"classify uploaded {a} files{joint}{b} files with a pretrained model"
        tools.append(Tool(f"mixer_{i}", text, _params(f"{a}_files", f"{b}_files")))
    kinds = ["classifier", "model", "reader", "loader"]
    tools += [Tool(f"{m}_files_{kinds[v]}", "", _params(m, "files")) for m in MEDIA for v in range(singles)]
    return tools


def _mixer_query(index: ToolIndex) -> str:
    return next(t.description for t in index.tools if t.name == "mixer_0")


async def test_cutting_at_and_hurts_this_catalog_so_it_is_cut_at_connectives_only() -> None:
    index = await ToolIndex.build(_siblings(1), HashingEmbedder())
    assert index.tuning is not None and index.split == index.tuning.split == "connectives"
    assert index.tuning.decomposition == (
        "connectives (all: cutting 45 pseudo-queries lost 7 and gained 0 own tools in the top 5, "
        "sign test p=0.00781, harmful; connectives: no pseudo-query is cut)"
    )
    assert index.tuning.sample is None  # the vectors are not kept with the index
    query = _mixer_query(index)
    whole = await index.search(query, 5, options=SearchOptions(decompose=False))
    assert await index.search(query, 5) == whole  # no connective in it: not cut
    assert await index.search(query, 5, options=SearchOptions(decompose=True)) != whole  # forced


async def test_when_connective_cuts_hurt_too_queries_are_not_cut() -> None:
    index = await ToolIndex.build(_siblings(1, ", then "), HashingEmbedder())
    assert index.split == "none"
    assert index.tuning is not None and index.tuning.decomposition.startswith("none (all: cutting 45 ")
    query = _mixer_query(index)
    assert await index.search(query, 5) == await index.search(
        query, 5, options=SearchOptions(decompose=False)
    )
    assert await index.search(query, 5, options=SearchOptions(decompose="connectives")) != await index.search(
        query, 5
    )


async def test_connective_cuts_are_measured_on_their_own_and_kept_when_harmless() -> None:
    cities = ["paris", "rome", "oslo", "lima", "cairo", "delhi", "tokyo", "quito"]
    reports = [
        Tool(
            f"{c}_weather_report",
            f"fetch the {c} weather forecast, then format the {c} weather report",
            _params(f"{c}_city"),
        )
        for c in cities
    ]
    index = await ToolIndex.build(_siblings(1) + reports, HashingEmbedder())
    assert index.split == "connectives"
    assert index.tuning is not None
    assert "harmful; connectives: cutting 8 pseudo-queries lost 0 and gained 0 " in index.tuning.decomposition


def test_unknown_levels_are_refused() -> None:
    for bad in ("off", "bogus", "All", 0, 1):
        with pytest.raises(ValueError, match="decompose must be"):
            SearchOptions(decompose=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="split must be"):
        decompose("find a hotel and book a flight to Rome", split="off")  # type: ignore[arg-type]
    assert SearchOptions(decompose="connectives").decompose == "connectives"


async def test_a_catalog_where_cutting_costs_its_descriptions_nothing_keeps_every_cut() -> None:
    for joint in (" and ", ", then "):
        index = await ToolIndex.build(_siblings(4, joint), HashingEmbedder())
        assert index.split == "all"
        assert index.tuning is not None
        assert index.tuning.decomposition.startswith(
            "all (all: cutting 45 pseudo-queries lost 0 and gained 0 "
        )


async def test_catalog_without_cut_descriptions_or_tuning_keeps_every_cut() -> None:
    tools = [Tool(f"tool_{i}", f"returns the weather report number {i} for a city") for i in range(30)]
    index = await ToolIndex.build(tools, HashingEmbedder())
    assert index.tuning is not None
    assert index.tuning.decomposition == "all (all: no pseudo-query is cut)"
    few = await ToolIndex.build(tools[:5], HashingEmbedder())  # too few to tune: RRF, nothing to check
    assert few.tuning is not None and few.tuning.decomposition == "all (no pseudo-queries to check)"
    assert few.split == "all"
    fixed = await ToolIndex.build(_siblings(1), HashingEmbedder(), fusion=RRF)  # given fusion: no check
    assert fixed.tuning is None and fixed.split == "all"


async def test_a_given_tuning_report_is_reused_without_tuning_again() -> None:
    embedder = HashingEmbedder()
    first = await ToolIndex.build(_siblings(1), embedder)
    calls = len(embedder.calls)
    again = await ToolIndex.build(_siblings(1), embedder, tuning=first.tuning)
    assert len(embedder.calls) == calls + 1  # the documents only
    assert again.tuning == first.tuning and again.split == "connectives"
    assert again.fusion == first.fusion


async def test_the_kb_keeps_the_verdict_when_only_learned_examples_change(tmp_path: Path) -> None:
    async with open_store(None) as store:
        examples = LearnedExamples(store)
        kb = ToolKB(
            SqliteCatalogStore(tmp_path / "c.sqlite"),
            HashingEmbedder(),
            extras=examples,
            extras_interval_s=0.0,
        )
        async with kb:
            await kb.upsert(_siblings(1))
            tuning = kb.index.tuning
            assert tuning is not None and kb.index.split == "connectives"
            await examples.add("mixer_0", "sort the uploaded media")
            assert await kb.refresh()  # rebuilt for the example, not tuned again
            assert kb.index.extra_rows == 1
            assert kb.index.tuning is tuning and kb.index.split == "connectives"


async def test_the_kb_embeds_only_new_texts_when_a_tool_is_added(tmp_path: Path) -> None:
    """The check's clauses stay in the KB's memo like the documents: adding one tool embeds
    that tool's texts, not the check's ~100 clauses again."""
    embedder = HashingEmbedder()
    async with ToolKB(SqliteCatalogStore(tmp_path / "c.sqlite"), embedder) as kb:
        await kb.upsert(_siblings(1))
        first = sum(embedder.calls)
        await kb.upsert([Tool("mixer_new", "classify uploaded logs files and maps files with care")])
        assert await kb.refresh() is False  # upsert already rebuilt
        assert kb.index.split == "connectives"
        added = sum(embedder.calls) - first
        assert 0 < added <= 6, added  # its document, held-out view, description and clauses


async def test_fusion_and_tuning_together_are_refused_and_a_fresh_report_is_checked() -> None:
    embedder = HashingEmbedder()
    tools = _siblings(1)
    fresh = await choose_fusion([build_document(t) for t in tools], embedder)
    assert fresh.sample is not None and fresh.decomposition == "not checked"
    index = await ToolIndex.build(tools, embedder, tuning=fresh)
    assert index.tuning is not None and index.tuning.sample is None and index.split == "connectives"
    with pytest.raises(ValueError, match="not both"):
        await ToolIndex.build(tools, embedder, fusion=index.fusion, tuning=index.tuning)


async def test_a_repeated_description_is_checked_once() -> None:
    tools = _siblings(1)
    tools += [Tool(f"copy_{i}", tools[1].description) for i in range(5)]
    index = await ToolIndex.build(tools, HashingEmbedder())
    assert index.tuning is not None
    assert index.tuning.decomposition.startswith("connectives (all: cutting 45 pseudo-queries")


def test_sign_test() -> None:
    assert Counts(10, 0, 0).p_value == 1.0
    assert Counts(10, 5, 0).p_value == pytest.approx(1 / 32)
    assert Counts(10, 2, 0).p_value == pytest.approx(0.25)
    assert Counts(10, 9, 2).p_value == pytest.approx(sum(math.comb(11, i) for i in range(9, 12)) / 2**11)
    assert Counts(10, 0, 3).p_value == 1.0


async def test_a_seeded_memo_embeds_only_the_texts_it_does_not_know() -> None:
    inner = HashingEmbedder()
    known = MemoEmbedder(inner, ["a b c"], np.full((1, inner.dim), 7.0, dtype=np.float32))
    out = await known.embed(["x y", "a b c", "x y", "z"])
    assert inner.calls == [2]  # "x y" once, "z"
    assert np.array_equal(await known.embed(["z"]), out[3:])
    assert inner.calls == [2]  # kept
    assert (out[1] == 7.0).all()
    assert np.allclose(out[0], inner.vectors(["x y"])[0]) and np.allclose(out[2], out[0])
    assert np.allclose(out[3], inner.vectors(["z"])[0])
    assert (known.dim, known.name) == (inner.dim, inner.name)


async def test_the_check_embeds_a_bounded_number_of_clauses() -> None:
    """Long descriptions end the sample at the clause budget, before 400 descriptions."""
    steps = ["open the ledger", "sum the invoices", "round the totals", "print the report", "mail the owner"]
    tools = [Tool(f"tool_{i}", ". ".join(f"{s} number {i}" for s in steps) + ".") for i in range(600)]
    docs = [build_document(t) for t in tools]
    report = await choose_fusion(docs, HashingEmbedder())
    rows = cut_queries(report, docs, "all")
    clauses = sum(len(decompose(docs[i].description).clauses) for i in rows)
    assert len(rows) == MAX_CLAUSES_CHECKED // len(steps) and clauses <= MAX_CLAUSES_CHECKED
