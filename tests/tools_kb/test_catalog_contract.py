"""One contract suite for every CatalogStore (SQLite file, Redis)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tools_kb.catalog import CatalogStore, RedisCatalogStore, SqliteCatalogStore
from tools_kb.tool import Tool


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CatalogStore]:
    s: CatalogStore
    if request.param == "sqlite":
        s = SqliteCatalogStore(tmp_path / "tools.sqlite")
    else:
        url = request.getfixturevalue("redis_url")
        s = RedisCatalogStore(url, prefix=f"test:{uuid.uuid4().hex}")
    yield s
    await s.aclose()


async def test_empty_store_is_version_zero(store: CatalogStore) -> None:
    assert await store.version() == 0
    assert await store.load() == (0, [])


async def test_upsert_bumps_version_and_stores_tools(store: CatalogStore) -> None:
    v = await store.upsert([Tool("b", "two"), Tool("a", "one", tenants=frozenset({"t"}))])
    assert v == 1
    version, tools = await store.load()
    assert version == 1
    assert tools == [Tool("a", "one", tenants=frozenset({"t"})), Tool("b", "two")]


async def test_upsert_replaces_by_name(store: CatalogStore) -> None:
    await store.upsert([Tool("a", "old")])
    await store.upsert([Tool("a", "new")])
    assert (await store.load())[1] == [Tool("a", "new")]


async def test_remove_deletes_and_ignores_unknown_names(store: CatalogStore) -> None:
    await store.upsert([Tool("a", "x"), Tool("b", "y")])
    assert await store.remove(["a", "nope"]) == 2
    assert (await store.load())[1] == [Tool("b", "y")]


async def test_versions_increase_by_one_per_write(store: CatalogStore) -> None:
    versions = [await store.upsert([Tool(f"t{i}", "d")]) for i in range(3)]
    assert versions == [1, 2, 3]
    assert await store.version() == 3


async def test_sqlite_catalog_survives_reopening(tmp_path: Path) -> None:
    await SqliteCatalogStore(tmp_path / "c.sqlite").upsert([Tool("a", "x")])
    assert await SqliteCatalogStore(tmp_path / "c.sqlite").load() == (1, [Tool("a", "x")])
