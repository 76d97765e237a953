"""Where the tool catalog lives: the ``CatalogStore`` seam and its two implementations.

* :class:`SqliteCatalogStore` — the embedded default (one SQLite file under var/).
* :class:`RedisCatalogStore` — shared by several gateway replicas: one hash of tool JSON and one
  version counter, changed together in a MULTI/EXEC transaction, so a replica that sees a new
  version always reads the tools that go with it.

Every write bumps the catalog version by one and returns it; replicas poll ``version()`` and
rebuild their in-memory index when it changes. Writes are all-or-nothing: the tools are
validated (they are :class:`Tool` objects) before anything is written, and a failed write leaves
the stored catalog as it was. Backend errors become :class:`core.errors.SwitchboardError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from core.errors import StoreUnavailableError
from tools_kb.tool import Tool, ToolValidationError, parse_tool

log = logging.getLogger(__name__)

T = TypeVar("T")


class CatalogStore(Protocol):
    async def version(self) -> int:
        """Monotonic; 0 for an empty, never-written catalog."""
        ...

    async def load(self) -> tuple[int, list[Tool]]:
        """A consistent (version, tools) pair, tools sorted by name."""
        ...

    async def upsert(self, tools: Sequence[Tool]) -> int:
        """Insert or replace by name; returns the new version."""
        ...

    async def remove(self, names: Iterable[str]) -> int:
        """Delete by name (unknown names are ignored); returns the new version."""
        ...

    async def aclose(self) -> None: ...


def _dump(tool: Tool) -> str:
    return json.dumps(tool.to_json(), sort_keys=True, ensure_ascii=False)


def _undump(text: str | bytes) -> Tool:
    """A stored tool. One stored under older, looser rules (``tenants: []``, a description over
    today's limit) is kept as it was accepted, with a warning: a stored catalog always loads."""
    raw = json.loads(text)
    try:
        return parse_tool(raw)
    except ToolValidationError as exc:
        log.warning("stored %s (kept as stored; upsert the tool again to fix it)", exc.message)
        tenants = raw.get("tenants")
        return Tool(
            raw["name"],
            raw.get("description", ""),
            raw.get("parameters"),
            tuple(raw.get("tags", ())),
            None if tenants is None else frozenset(tenants),
            strict=raw.get("strict"),
        )


class SqliteCatalogStore:
    """One SQLite file; safe across processes (WAL, each write one transaction). A file that
    cannot be created, opened, read or written (a folder, not a database, no permission) raises
    StoreUnavailableError naming it, from the constructor and from every call."""

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        with self._errors():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("CREATE TABLE IF NOT EXISTS tools (name TEXT PRIMARY KEY, body TEXT NOT NULL)")
                db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
                db.execute("INSERT OR IGNORE INTO meta (k, v) VALUES ('version', 0)")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StoreUnavailableError(f"tool catalog: sqlite {self._path}: {reason}") from exc

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        def guarded() -> T:
            with self._errors():
                return fn(*args)

        return await asyncio.to_thread(guarded)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    async def version(self) -> int:
        return await self._call(self._version)

    def _version(self) -> int:
        with self._connect() as db:
            row = db.execute("SELECT v FROM meta WHERE k = 'version'").fetchone()
        return int(row[0]) if row else 0

    async def load(self) -> tuple[int, list[Tool]]:
        return await self._call(self._load)

    def _load(self) -> tuple[int, list[Tool]]:
        db = self._connect()
        try:
            db.execute("BEGIN")
            version = db.execute("SELECT v FROM meta WHERE k = 'version'").fetchone()[0]
            rows = db.execute("SELECT body FROM tools ORDER BY name").fetchall()
            db.execute("COMMIT")
        finally:
            db.close()
        return int(version), [_undump(r[0]) for r in rows]

    async def upsert(self, tools: Sequence[Tool]) -> int:
        rows = [(t.name, _dump(t)) for t in tools]
        return await self._call(self._write, rows, [])

    async def remove(self, names: Iterable[str]) -> int:
        return await self._call(self._write, [], list(names))

    def _write(self, rows: list[tuple[str, str]], removals: list[str]) -> int:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO tools (name, body) VALUES (?, ?)", rows)
                db.executemany("DELETE FROM tools WHERE name = ?", [(n,) for n in removals])
                db.execute("UPDATE meta SET v = v + 1 WHERE k = 'version'")
                version = db.execute("SELECT v FROM meta WHERE k = 'version'").fetchone()[0]
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        finally:
            db.close()
        return int(version)

    async def aclose(self) -> None:
        return None


class RedisCatalogStore:
    """Keys: ``{prefix}:tools`` (hash name → tool JSON), ``{prefix}:version`` (integer)."""

    def __init__(self, url: str, *, prefix: str = "sb:tools") -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url)
        self._tools_key = f"{prefix}:tools"
        self._version_key = f"{prefix}:version"

    async def version(self) -> int:
        try:
            raw = await self._redis.get(self._version_key)
        except Exception as exc:  # redis.exceptions.* → our error at the boundary
            raise StoreUnavailableError(f"tool catalog: redis unavailable: {type(exc).__name__}") from exc
        return int(raw) if raw is not None else 0

    async def load(self) -> tuple[int, list[Tool]]:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(self._version_key)
                pipe.hgetall(self._tools_key)
                raw_version, raw_tools = await pipe.execute()
        except Exception as exc:
            raise StoreUnavailableError(f"tool catalog: redis unavailable: {type(exc).__name__}") from exc
        tools = sorted((_undump(body) for body in raw_tools.values()), key=lambda t: t.name)
        return (int(raw_version) if raw_version is not None else 0), tools

    async def upsert(self, tools: Sequence[Tool]) -> int:
        mapping = {t.name: _dump(t) for t in tools}
        return await self._write(mapping, [])

    async def remove(self, names: Iterable[str]) -> int:
        return await self._write({}, list(names))

    async def _write(self, mapping: dict[str, str], removals: list[str]) -> int:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                if mapping:
                    pipe.hset(self._tools_key, mapping=cast(Any, mapping))
                if removals:
                    pipe.hdel(self._tools_key, *removals)
                pipe.incr(self._version_key)
                results = await pipe.execute()
        except Exception as exc:
            raise StoreUnavailableError(f"tool catalog: redis unavailable: {type(exc).__name__}") from exc
        return int(results[-1])

    async def aclose(self) -> None:
        await self._redis.aclose()


def open_catalog_store(redis_url: str | None, sqlite_path: Path | str) -> CatalogStore:
    """Redis when a URL is configured (several replicas), else the embedded SQLite file."""
    if redis_url:
        return RedisCatalogStore(redis_url)
    return SqliteCatalogStore(sqlite_path)
