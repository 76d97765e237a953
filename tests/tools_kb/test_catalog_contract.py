"""One contract suite for every CatalogStore (SQLite file, Redis)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio

from core.errors import StoreUnavailableError
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


async def test_strict_survives_the_store(store: CatalogStore) -> None:
    tools = [Tool("a", "one", strict=True), Tool("b", "two", strict=False), Tool("c", "three")]
    await store.upsert(tools)
    assert (await store.load())[1] == tools


LEGACY = json.dumps({"name": "legacy", "description": "", "parameters": None, "tags": [], "tenants": []})


async def test_a_tool_stored_under_older_rules_still_loads_from_sqlite(tmp_path: Path) -> None:
    # stored before an empty tenant list was rejected: kept as accepted then (visible to nobody)
    store = SqliteCatalogStore(tmp_path / "c.sqlite")
    with contextlib.closing(sqlite3.connect(tmp_path / "c.sqlite")) as db, db:
        db.execute("INSERT INTO tools (name, body) VALUES ('legacy', ?)", (LEGACY,))
    assert (await store.load())[1] == [Tool("legacy", "", tenants=frozenset())]


async def test_a_tool_stored_under_older_rules_still_loads_from_redis(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    writer = redis.asyncio.Redis.from_url(redis_url)
    store = RedisCatalogStore(redis_url, prefix=prefix)
    try:
        await writer.hset(f"{prefix}:tools", "legacy", LEGACY)
        assert (await store.load())[1] == [Tool("legacy", "", tenants=frozenset())]
    finally:
        await writer.aclose()
        await store.aclose()


async def test_sqlite_catalog_survives_reopening(tmp_path: Path) -> None:
    await SqliteCatalogStore(tmp_path / "c.sqlite").upsert([Tool("a", "x")])
    assert await SqliteCatalogStore(tmp_path / "c.sqlite").load() == (1, [Tool("a", "x")])


async def test_an_unusable_sqlite_file_is_a_store_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "notes.sqlite"
    bad.write_text("not a database\n" * 100)
    with pytest.raises(StoreUnavailableError, match=f"tool catalog: sqlite {bad}: file is not a database"):
        SqliteCatalogStore(bad)
