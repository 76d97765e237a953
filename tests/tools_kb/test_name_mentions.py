from __future__ import annotations

import numpy as np

from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.documents import build_document
from tools_kb.fusion import Fusion
from tools_kb.index import ToolIndex
from tools_kb.lexical import tokenize
from tools_kb.name_mentions import NameMentions
from tools_kb.tool import Tool

BASE = ["NewsTool", "WeatherTool", "MusicTool", "getWeatherForecast", "get_stock_price", "getUser"]
# 40 more tools with one-off names: 46 in all, so a word in more than 2.3 names is generic
NAMES = BASE + [f"filler{a}{b}" for a in "abcdefgh" for b in "vwxyz"]


def _mentions(names: list[str]) -> NameMentions:
    return NameMentions([tokenize(n) for n in names])


def _named(mentions: NameMentions, text: str) -> list[str]:
    hits = mentions.mentioned(tokenize(text))
    return [] if hits is None else [NAMES[i] for i in np.flatnonzero(hits)]


def test_a_text_names_a_tool_when_it_has_every_distinctive_name_word() -> None:
    mentions = _mentions(NAMES)
    # "tool" and "get" (3 of 46 names each) are generic: "news" alone names NewsTool.
    assert _named(mentions, "any recent news about the company?") == ["NewsTool"]
    # "weather" names WeatherTool; getWeatherForecast also needs "forecast".
    assert _named(mentions, "will the weather be nice") == ["WeatherTool"]
    assert _named(mentions, "the weather forecast for Paris") == ["WeatherTool", "getWeatherForecast"]
    # any order, stemmed like BM25's tokens
    assert _named(mentions, "prices of that stock") == ["get_stock_price"]


def test_nothing_named_gives_none_and_generic_only_names_are_never_named() -> None:
    mentions = _mentions(NAMES)
    assert mentions.mentioned(tokenize("book a table for two")) is None
    assert mentions.mentioned(tokenize("")) is None
    # getUser's only distinctive word is "user"; a text with just the generic "get" names nothing
    assert mentions.mentioned(tokenize("get it")) is None
    assert _named(mentions, "get the user") == ["getUser"]


def test_a_word_used_by_one_name_is_distinctive_even_in_a_tiny_catalog() -> None:
    mentions = _mentions(["NewsTool", "WeatherTool"])
    assert len(mentions) == 2
    hits = mentions.mentioned(tokenize("news please"))
    assert hits is not None and hits.tolist() == [1.0, 0.0]
    assert mentions.mentioned(tokenize("tool")) is None  # "tool" is in both names


async def test_the_name_bonus_lifts_the_named_tool_over_a_better_lexical_match() -> None:
    embedder = HashingEmbedder()
    tools = [
        Tool("NewsTool", "stay connected to global events"),
        Tool("eventDigest", "global news digest: news and events"),
        Tool("WeatherTool", "current conditions"),
        Tool("MusicTool", "playlists"),
    ]
    docs = [build_document(t) for t in tools]
    vectors = await embedder.embed([d.dense_text() for d in docs])
    query = "news about global events"
    plain = ToolIndex(tools, docs, vectors, embedder, Fusion("weighted", 0.0))
    named = ToolIndex(tools, docs, vectors, embedder, Fusion("weighted", 0.0, name_bonus=0.5))
    assert [h.name for h in await plain.search(query, k=2)] == ["eventDigest", "NewsTool"]
    assert [h.name for h in await named.search(query, k=2)] == ["NewsTool", "eventDigest"]
    # no bonus for a text that names nothing: same order and scores as without it
    other = "playlists and current conditions"
    assert await plain.search(other, k=4) == await named.search(other, k=4)
