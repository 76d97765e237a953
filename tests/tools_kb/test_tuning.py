from __future__ import annotations

from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.documents import build_document
from tools_kb.tool import Tool
from tools_kb.tuning import CENTRALITY_PRIOR, choose_fusion


def _catalog(n: int) -> list[Tool]:
    topics = ["weather", "stock", "flight", "hotel", "email", "recipe", "news", "music", "movie", "sport"]
    verbs = ["get", "find", "search", "book", "send", "list", "check", "show"]
    return [
        Tool(
            f"{verbs[i % len(verbs)]}{topics[i % len(topics)].title()}{i}",
            f"{verbs[(i * 3) % len(verbs)]} {topics[i % len(topics)]} details number {i} for the user",
        )
        for i in range(n)
    ]


async def test_tuning_returns_a_weight_on_the_grid_and_a_curve() -> None:
    report = await choose_fusion([build_document(t) for t in _catalog(40)], HashingEmbedder())
    assert report.n_pseudo == 40
    assert set(report.curve) == {f"{0.1 * i:.1f}" for i in range(11)} | {"rrf"}
    if report.fusion.kind == "weighted":
        assert 0.0 <= report.fusion.weight <= 1.0
        assert report.fusion.prior == CENTRALITY_PRIOR  # tuned fusions carry the prior


async def test_descriptions_written_without_spaces_count_as_pseudo_queries() -> None:
    """A Chinese description is one whitespace "word"; its character pairs are its words."""
    topics = ["天气预报", "股票价格", "航班查询", "酒店预订", "发送邮件", "菜谱推荐", "新闻头条", "音乐播放"]
    tools = [Tool(f"tool_{i}", f"为用户提供{topics[i % len(topics)]}服务，编号{i}") for i in range(24)]
    report = await choose_fusion([build_document(t) for t in tools], HashingEmbedder())
    assert report.n_pseudo == 24
    assert report.curve  # tuned, not the "too few described tools" fallback


async def test_small_catalogs_fall_back_to_rrf() -> None:
    report = await choose_fusion([build_document(t) for t in _catalog(5)], HashingEmbedder())
    assert report.fusion.kind == "rrf"
    assert report.curve == {}


async def test_big_catalogs_are_tuned_on_a_sample() -> None:
    embedder = HashingEmbedder()
    report = await choose_fusion(
        [build_document(t) for t in _catalog(300)], embedder, max_queries=50, max_catalog=120
    )
    assert report.n_pseudo == 50
    assert sum(embedder.calls) == 120 + 50
