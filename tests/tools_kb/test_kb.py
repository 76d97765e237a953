from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.catalog import RedisCatalogStore, SqliteCatalogStore
from tools_kb.kb import ToolKB
from tools_kb.tool import Tool, ToolValidationError

CONFIG_TOOLS = Path(__file__).resolve().parents[2] / "config" / "tools"


async def test_upsert_is_searchable_at_once(tmp_path: Path, catalog: list[Tool]) -> None:
    async with ToolKB(SqliteCatalogStore(tmp_path / "t.sqlite"), HashingEmbedder()) as kb:
        await kb.upsert(catalog)
        hits = await kb.search("weather forecast for Paris", k=1)
        assert [h.name for h in hits] == ["getWeatherForecast"]


async def test_remove_drops_the_tool_from_results(tmp_path: Path, catalog: list[Tool]) -> None:
    async with ToolKB(SqliteCatalogStore(tmp_path / "t.sqlite"), HashingEmbedder()) as kb:
        await kb.upsert(catalog)
        await kb.remove(["getWeatherForecast"])
        assert "getWeatherForecast" not in {h.name for h in await kb.search("weather forecast", k=20)}


async def test_duplicate_names_in_one_upsert_are_rejected_and_nothing_is_lost(
    tmp_path: Path, catalog: list[Tool]
) -> None:
    async with ToolKB(SqliteCatalogStore(tmp_path / "t.sqlite"), HashingEmbedder()) as kb:
        await kb.upsert(catalog)
        before = kb.version
        with pytest.raises(ToolValidationError, match="'x'"):
            await kb.upsert([Tool("x", "a"), Tool("x", "b")])
        assert kb.version == before
        assert len(await kb.tools()) == len(catalog)


async def test_rebuild_embeds_only_new_documents(tmp_path: Path, catalog: list[Tool]) -> None:
    embedder = HashingEmbedder()
    async with ToolKB(SqliteCatalogStore(tmp_path / "t.sqlite"), embedder) as kb:
        await kb.upsert(catalog)
        embedder.calls.clear()
        await kb.upsert([Tool("newTool", "brand new capability")])
        # one call for the new document (the 13-tool catalog is below the tuning minimum)
        assert sum(embedder.calls) == 1


async def test_a_second_replica_follows_writes_through_redis(redis_url: str, catalog: list[Tool]) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    async with (
        ToolKB(RedisCatalogStore(redis_url, prefix=prefix), HashingEmbedder()) as writer,
        ToolKB(RedisCatalogStore(redis_url, prefix=prefix), HashingEmbedder()) as reader,
    ):
        await writer.upsert(catalog)
        assert await reader.refresh() is True
        assert reader.version == writer.version
        assert [h.name for h in await reader.search("convert currency", k=1)] == ["convert_currency"]
        assert await reader.refresh() is False


async def test_search_tools_meta_tool_returns_openai_schemas(tmp_path: Path, catalog: list[Tool]) -> None:
    from core.errors import InvalidRequestError
    from tools_kb.meta_tool import SEARCH_TOOLS, run_search_tools

    assert SEARCH_TOOLS["function"]["name"] == "search_tools"
    async with ToolKB(SqliteCatalogStore(tmp_path / "t.sqlite"), HashingEmbedder()) as kb:
        await kb.upsert(catalog)
        out = await run_search_tools(kb, '{"query": "send an email message", "k": 2}', tenant=None)
        assert out["tools"][0]["function"]["name"] == "sendEmail"
        with pytest.raises(InvalidRequestError):
            await run_search_tools(kb, {"k": 2}, tenant=None)
        for broken in ('{"query": "send email"', ""):  # a model's truncated call: still a clear error
            with pytest.raises(InvalidRequestError, match="not valid JSON"):
                await run_search_tools(kb, broken, tenant=None)


async def test_a_seed_never_overwrites_what_another_replica_wrote_meanwhile(tmp_path: Path) -> None:
    """Replica a last saw an empty catalog; b wrote a tool since. a's seed must see b's write."""
    from tools_kb.kb import seed_if_empty

    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "t.yaml").write_text("tools:\n  - name: list_things\n    description: Lists things.\n")
    a = ToolKB(SqliteCatalogStore(tmp_path / "c.sqlite"), HashingEmbedder())
    b = ToolKB(SqliteCatalogStore(tmp_path / "c.sqlite"), HashingEmbedder())
    async with a, b:
        await b.upsert([Tool("list_things", "Lists the things of the CRM account, paged.")])
        assert a.version == 0  # a has not polled yet
        assert await seed_if_empty(a, seed) == 0
        _, stored = await SqliteCatalogStore(tmp_path / "c.sqlite").load()
        assert [t.description for t in stored] == ["Lists the things of the CRM account, paged."]


async def test_empty_catalog_is_seeded_from_config_once(tmp_path: Path) -> None:
    from tools_kb.kb import open_tool_kb, seed_if_empty

    folder = CONFIG_TOOLS
    async with open_tool_kb(HashingEmbedder(), redis_url=None, sqlite_path=str(tmp_path / "c.sqlite")) as kb:
        assert await seed_if_empty(kb, folder) >= 5
        assert await seed_if_empty(kb, folder) == 0


class _TwoLaneEmbedder(HashingEmbedder):
    """Records what reaches the background lane (index builds) and the request lane."""

    def __init__(self) -> None:
        super().__init__()
        self.background_texts: list[str] = []
        self.request_texts: list[str] = []

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.request_texts.extend(texts)
        return await super().embed(texts)

    async def embed_background(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.background_texts.extend(texts)
        return self.vectors(texts)


async def test_builds_embed_in_the_background_lane_and_searches_in_the_request_lane(
    tmp_path: Path, catalog: list[Tool]
) -> None:
    embedder = _TwoLaneEmbedder()
    async with ToolKB(SqliteCatalogStore(tmp_path / "t.sqlite"), embedder) as kb:
        await kb.upsert(catalog)
        await kb.upsert([Tool("newTool", "brand new capability")])  # a small incremental build too
        await kb.search("weather forecast for Paris", k=1)
    assert any("brand new capability" in t for t in embedder.background_texts)
    assert len(embedder.background_texts) >= len(catalog) + 1
    assert embedder.request_texts == ["weather forecast for Paris"]
