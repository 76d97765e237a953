"""LLM decomposition and rerank around the KB: every intent is represented, the model's order
wins, and a failing model leaves the retrieval result untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from core.deadline import Deadline
from core.errors import UpstreamUnavailableError
from core.wire import ChatRequest, ChatResponse
from tests.fakes.chat_backend import ScriptedChatBackend
from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.catalog import SqliteCatalogStore
from tools_kb.index import SearchHit
from tools_kb.kb import ToolKB
from tools_kb.llm_stages import LLMStages, LLMStageSettings
from tools_kb.search_pipeline import AugmentedSearch, PipelineSettings, interleave
from tools_kb.tool import Tool

CATALOG = [
    Tool("searchFlights", "Find flights between two airports on a date."),
    Tool("bookHotel", "Reserve a hotel room in a city for some nights."),
    Tool("getWeather", "Current weather and forecast for a city."),
    Tool("convertCurrency", "Convert an amount of money between currencies."),
    Tool("sendEmail", "Send an email message to a recipient."),
]
QUERY = "I fly to Rome on Friday: find me a flight, and what will the weather be like there"


class DownBackend:
    """A model endpoint that is down: every call fails like an unreachable upstream."""

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        raise UpstreamUnavailableError("connection refused")

    def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        raise UpstreamUnavailableError("connection refused")

    async def aclose(self) -> None:
        return None


async def _kb(tmp_path: Path) -> ToolKB:
    kb = ToolKB(SqliteCatalogStore(tmp_path / "t.sqlite"), HashingEmbedder())
    await kb.__aenter__()
    await kb.upsert(CATALOG)
    return kb


async def test_decomposition_represents_every_intent(tmp_path: Path) -> None:
    backend = ScriptedChatBackend(
        [(QUERY, "1. Find a flight to Rome on Friday\n2. Weather forecast in Rome on Friday")],
        default="0",  # the rerank step answers "none helps": order unchanged
    )
    kb = await _kb(tmp_path)
    try:
        search = AugmentedSearch(
            kb,
            LLMStages(backend, LLMStageSettings(model="auto")),
            PipelineSettings(decompose=True, rerank=False),
        )
        hits = await search.search(QUERY, k=2)
        assert {h.name for h in hits} == {"searchFlights", "getWeather"}
        asked = backend.requests[0].body
        assert asked["model"] == "auto" and asked["temperature"] == 0
    finally:
        await kb.__aexit__(None, None, None)


async def test_rerank_puts_the_models_picks_first(tmp_path: Path) -> None:
    kb = await _kb(tmp_path)
    try:
        base = await kb.search("money", k=5)
        last = base[-1].name
        pick = next(i + 1 for i, h in enumerate(base) if h.name == last)
        backend = ScriptedChatBackend([("Tools:", f"{pick}, 99, {pick}")])
        search = AugmentedSearch(
            kb,
            LLMStages(backend, LLMStageSettings(model="auto")),
            PipelineSettings(decompose=False, rerank=True, rerank_depth=5),
        )
        hits = await search.search("money", k=3)
        assert hits[0].name == last
        assert [h.name for h in hits[1:]] == [h.name for h in base if h.name != last][:2]
        assert search.stages == ("rerank",)
    finally:
        await kb.__aexit__(None, None, None)


async def test_a_failing_model_changes_nothing(tmp_path: Path) -> None:
    kb = await _kb(tmp_path)
    try:
        stages = LLMStages(DownBackend(), LLMStageSettings(model="auto"))
        search = AugmentedSearch(kb, stages)
        plain = await kb.search(QUERY, k=3)
        assert [h.name for h in await search.search(QUERY, k=3)] == [h.name for h in plain]
        assert stages.failures == 2  # decomposition and rerank both fell back
    finally:
        await kb.__aexit__(None, None, None)


def test_interleave_round_robin_without_duplicates() -> None:
    def hits(*names: str) -> list[SearchHit]:
        return [SearchHit(n, 1.0, Tool(n, n)) for n in names]

    merged = interleave([hits("a", "b", "c"), hits("x", "a", "y")])
    assert [h.name for h in merged] == ["a", "x", "b", "c", "y"]
