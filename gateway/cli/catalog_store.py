"""The stored tool catalog as ``switchboard tools`` opens it (``--db`` / ``--redis-url``).

A store that cannot be opened, read or written (no Redis listening, a ``--db`` in a folder that
cannot exist, a folder, a file that is not SQLite) becomes one :class:`CatalogStoreError` whose
message names the store; the command prints it as ``switchboard: error: …`` instead of a
traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SwitchboardError

if TYPE_CHECKING:  # tools_kb.catalog is imported when a command opens the store
    from tools_kb.catalog import CatalogStore

# What the stores raise: our errors (the SQLite and Redis stores convert theirs, and invalid
# stored tools), and redis-py's ValueError for a bad URL.
_STORE_ERRORS = (SwitchboardError, ValueError)


class CatalogStoreError(Exception):
    """The stored catalog could not be used; the message names the store and says why."""


def store_label(redis_url: str | None, db: Path) -> str:
    """The store as the user named it: the Redis URL without its password, or the SQLite file."""
    if redis_url:
        from core.store.redis import redact

        return f"redis {redact(redis_url)}"
    return f"sqlite {db}"


@contextlib.asynccontextmanager
async def opened_catalog_store(redis_url: str | None, db: Path) -> AsyncIterator[CatalogStore]:
    """The catalog store (Redis when ``redis_url`` is set, else the SQLite file ``db``), closed
    on exit. Raises CatalogStoreError, chained to the cause, when opening it, a call on it
    inside the block or closing it fails; keep the block to store calls only."""
    from tools_kb.catalog import open_catalog_store

    label = store_label(redis_url, db)
    try:
        store = open_catalog_store(redis_url, db)
    except _STORE_ERRORS as exc:
        raise CatalogStoreError(f"tool catalog ({label}): {_reason(exc, label)}") from exc
    try:
        try:
            yield store
        finally:
            await store.aclose()
    except _STORE_ERRORS as exc:
        raise CatalogStoreError(f"tool catalog ({label}): {_reason(exc, label)}") from exc


def _reason(exc: BaseException, label: str) -> str:
    if isinstance(exc, SwitchboardError):
        # "tool catalog: redis unavailable: ConnectionError", "tool catalog: sqlite PATH: …": the
        # label already says the first part
        return exc.message.removeprefix("tool catalog: ").removeprefix(f"{label}: ")
    return str(exc) or type(exc).__name__
