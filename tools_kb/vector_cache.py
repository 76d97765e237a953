"""A persistent vector cache around any Embedder (one SQLite file, content-hash keyed).

Used by offline evaluation and the CLI so that a catalog or a query file is embedded once per
embedder, not once per run. Keys are sha256(embedder name, text); values are float32 bytes.
SQLite work runs in a worker thread; concurrent writers in other processes are safe (WAL).
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.embedding import Embedder, EmbedderWrapper

_CHUNK = 500  # SQLite variable limit is comfortably above this


class DiskCachedEmbedder(EmbedderWrapper):
    """Embedder wrapper: returns cached rows, embeds only misses (in one call), stores them."""

    def __init__(self, inner: Embedder, path: Path | str) -> None:
        super().__init__(inner)
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS vec (k BLOB PRIMARY KEY, v BLOB NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self._inner.name}\x00{text}".encode()).digest()

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        keys = [self._key(t) for t in texts]
        found = await asyncio.to_thread(self._lookup, keys)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        miss_idx = [i for i, k in enumerate(keys) if k not in found]
        for i, k in enumerate(keys):
            if k in found:
                out[i] = found[k]
        if miss_idx:
            unique = list(dict.fromkeys(texts[i] for i in miss_idx))
            vecs = await self._inner.embed(unique)
            by_text = dict(zip(unique, vecs, strict=True))
            for i in miss_idx:
                out[i] = by_text[texts[i]]
            await asyncio.to_thread(self._store, [(self._key(t), by_text[t]) for t in unique])
        return out

    def _lookup(self, keys: list[bytes]) -> dict[bytes, npt.NDArray[np.float32]]:
        found: dict[bytes, npt.NDArray[np.float32]] = {}
        with self._connect() as db:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for k, v in db.execute(f"SELECT k, v FROM vec WHERE k IN ({marks})", chunk):
                    found[bytes(k)] = np.frombuffer(v, dtype=np.float32)
        return found

    def _store(self, rows: list[tuple[bytes, npt.NDArray[np.float32]]]) -> None:
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO vec (k, v) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in rows],
            )
