"""Toolshed-style enhancement with a scripted model: its texts are indexed, cached and reused."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.chat_backend import ScriptedChatBackend
from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.enhance import Enhancer, extra_texts, parse_list
from tools_kb.enhance_cache import EnhancementCache
from tools_kb.fusion import DENSE_ONLY, LEXICAL_ONLY, Fusion
from tools_kb.index import ToolIndex
from tools_kb.tool import Tool

MODEL = "scripted-1"
QUERY = "any cheap hop over to Lisbon next week"  # no word of it is in any tool document


def _backend() -> ScriptedChatBackend:
    return ScriptedChatBackend(
        [
            (("Tool: search flights", "key topics"), "air travel\nflight search"),
            (
                "Tool: search flights",
                "1. Any cheap hop over to Lisbon next week?\n2. Fly me from Oslo to Rome",
            ),
        ],
        default="- something generic to ask",
    )


def test_parse_list_strips_bullets_labels_and_code() -> None:
    text = '1. "Find a flight"\n- Example 2: book a hotel room\n* print("x")\n3) Find a flight'
    assert parse_list(text, 5) == ("Find a flight", "book a hotel room")


async def test_enhancement_text_lifts_a_query_only_the_example_matches(
    catalog: list[Tool], embedder: HashingEmbedder, tmp_path: Path
) -> None:
    backend = _backend()
    enhanced = await Enhancer(backend, EnhancementCache(tmp_path / "e.json"), model=MODEL).enhance(catalog)
    flights = enhanced["searchFlights"]
    assert flights.examples[0] == "Any cheap hop over to Lisbon next week?"
    assert flights.topics == ("air travel", "flight search")
    # The model saw the tool documents only: one examples ask and one topics ask per tool.
    assert len(backend.requests) == 2 * len(catalog)
    extras = extra_texts(enhanced)
    fusion: Fusion
    for fusion in (DENSE_ONLY, LEXICAL_ONLY):
        plain = await ToolIndex.build(catalog, embedder, fusion=fusion)
        rich = await ToolIndex.build(catalog, embedder, fusion=fusion, extras=extras)
        assert rich.extra_rows == sum(len(x) for x in extras.values())
        assert (await plain.search(QUERY, 1))[0].name != "searchFlights"
        assert (await rich.search(QUERY, 1))[0].name == "searchFlights"
    auto = await ToolIndex.build(catalog, embedder, extras=extras)
    assert (await auto.search(QUERY, 1))[0].name == "searchFlights"


async def test_cache_is_reused_and_a_partial_run_resumes(catalog: list[Tool], tmp_path: Path) -> None:
    path = tmp_path / "enhance.json"
    first = _backend()
    half = catalog[: len(catalog) // 2]
    part = await Enhancer(first, EnhancementCache(path), model=MODEL).enhance(half)
    assert len(first.requests) == 2 * len(half)

    resumed = _backend()
    enhancer = Enhancer(resumed, EnhancementCache(path), model=MODEL)
    full = await enhancer.enhance(catalog)
    assert enhancer.asked == len(catalog) - len(half)
    assert {name: full[name] for name in part} == part

    again = _backend()
    enhancer = Enhancer(again, EnhancementCache(path), model=MODEL)
    assert await enhancer.enhance(catalog) == full
    assert again.requests == [] and enhancer.asked == 0
    # Another model, or a changed tool definition, is asked again.
    other = Enhancer(_backend(), EnhancementCache(path), model="other-model")
    await other.enhance(catalog[:1])
    assert other.asked == 1
    changed = Tool(catalog[0].name, catalog[0].description + " (v2)", catalog[0].parameters)
    enhancer = Enhancer(_backend(), EnhancementCache(path), model=MODEL)
    await enhancer.enhance([changed])
    assert enhancer.asked == 1


async def test_enhancement_extras_forget_removed_tools(catalog: list[Tool], tmp_path: Path) -> None:
    from tools_kb.extras import EnhancementExtras

    extras = EnhancementExtras()
    await extras.update(Enhancer(_backend(), EnhancementCache(tmp_path / "e.json"), model=MODEL), catalog)
    v = await extras.version()
    assert "searchFlights" in await extras.load()
    await extras.forget(["searchFlights"])
    assert "searchFlights" not in await extras.load()
    assert await extras.version() > v
