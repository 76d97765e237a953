"""The embedded run store made durable: ``MemoryRunStore`` with its records written through to
SQLite, and a SQLite tool ledger. The embedded default (no Redis) of a gateway with a state path.

Every record change is one UPSERT (WAL, ``synchronous=NORMAL``: a power cut may lose the last
changes, a crash of the process does not). On open, unfinished runs are admitted again, in
creation order: a run that was queued or running owns its thread and goes back on the queue (a
running one resumes from its last checkpoint, which the SQLite checkpointer kept), a waiting one
waits behind it, a suspended one stays suspended; a thread whose active run finished hands over to
its first waiting run. Events (the SSE history) are not kept: after a restart a run's stream
starts empty (a finished run's stream then gives one synthesized ``done`` event). ``prune``
(retention, inherited) deletes the forgotten runs' rows too. Each thread's newest finish time
(thread retention, agents.thread_retention) is kept in ``agent_threads``; a file written before
that table existed gets it filled from its finished runs on open.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections import deque
from pathlib import Path
from typing import Any

from agents.memory_runs import MemoryRunStore
from agents.runs import TERMINAL, RunRecord

_KNOWN = frozenset(RunRecord.__dataclass_fields__)


def _connect(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class SqliteRunStore(MemoryRunStore):
    """``RunStorage`` in process memory, durable in SQLite at ``path``. ``close()`` when done."""

    def __init__(self, path: str | Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._db = _connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS agent_runs (run_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, "
            "data TEXT NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS agent_threads (thread_id TEXT PRIMARY KEY, finished_at REAL NOT NULL)"
        )
        self._seq = int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM agent_runs").fetchone()[0])
        self.restored = self._restore()

    def close(self) -> None:
        self._db.close()

    def _persist(self, run_id: str) -> None:
        rec = self._records.get(run_id)
        if rec is None:
            return
        self._seq += 1
        self._db.execute(
            "INSERT INTO agent_runs (run_id, seq, data) VALUES (?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET data = excluded.data",
            (run_id, self._seq, json.dumps(dataclasses.asdict(rec))),
        )

    def _forget(self, run_id: str) -> None:
        self._db.execute("DELETE FROM agent_runs WHERE run_id = ?", (run_id,))

    def _persist_thread(self, thread_id: str) -> None:
        self._db.execute(
            "INSERT INTO agent_threads (thread_id, finished_at) VALUES (?, ?) "
            "ON CONFLICT (thread_id) DO UPDATE SET finished_at = excluded.finished_at",
            (thread_id, self._thread_done[thread_id]),
        )

    def _forget_thread(self, thread_id: str) -> None:
        self._db.execute("DELETE FROM agent_threads WHERE thread_id = ?", (thread_id,))

    async def prune(self, before: float) -> int:
        """As MemoryRunStore.prune, with every row deletion in one SQLite transaction."""
        self._db.execute("BEGIN")
        try:
            n = await super().prune(before)  # no await inside: nothing else writes meanwhile
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return n

    def _restore(self) -> int:
        """Load the records and admit the unfinished runs again; returns how many were."""
        again: list[str] = []
        self._thread_done.update(self._db.execute("SELECT thread_id, finished_at FROM agent_threads"))
        known_threads = set(self._thread_done)
        for (data,) in self._db.execute("SELECT data FROM agent_runs ORDER BY seq"):
            rec = RunRecord(**{k: v for k, v in json.loads(data).items() if k in _KNOWN})
            self._records[rec.run_id] = rec
            if rec.status in TERMINAL:
                self._finished.append(rec.run_id)
                if rec.thread_id not in known_threads:  # a file from before agent_threads
                    at = max(self._thread_done.get(rec.thread_id, 0.0), rec.updated_at)
                    self._thread_done[rec.thread_id] = at
                    self._persist_thread(rec.thread_id)
            elif rec.status == "waiting":
                self._waiting.setdefault(rec.thread_id, deque()).append(rec.run_id)
            else:  # queued, pending, running, suspended: the thread's active run
                self._active[rec.thread_id] = rec.run_id
                if rec.status != "suspended":
                    again.append(rec.run_id)
        for thread, waiting in list(self._waiting.items()):
            if thread not in self._active and waiting:
                self._active[thread] = nxt = waiting.popleft()
                again.append(nxt)
            if not waiting:
                del self._waiting[thread]
        for run_id in again:
            rec = self._records[run_id]
            rec.status, rec.owner = "queued", ""
            self._persist(run_id)
            self._entry_seq += 1
            self._queue.append((f"{self._entry_seq}-0", run_id))
        return len(again)


class SqliteToolLedger:
    """``ToolLedger`` in SQLite (table ``agent_toolcalls``): results survive a restart, so a step
    resumed after one returns the recorded result instead of calling the tool again. Each entry
    carries the thread that claimed it (column ``thread_id``, indexed; entries written before the
    column existed have ``''`` and are not deleted by thread retention)."""

    _PENDING = "\x00pending"

    def __init__(self, path: str | Path) -> None:
        self._db = _connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS agent_toolcalls (key TEXT PRIMARY KEY, result TEXT NOT NULL, "
            "thread_id TEXT NOT NULL DEFAULT '')"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(agent_toolcalls)")}
        if "thread_id" not in columns:
            self._db.execute("ALTER TABLE agent_toolcalls ADD COLUMN thread_id TEXT NOT NULL DEFAULT ''")
        self._db.execute("CREATE INDEX IF NOT EXISTS agent_toolcalls_thread ON agent_toolcalls (thread_id)")

    def close(self) -> None:
        self._db.close()

    async def claim(self, key: str, thread_id: str = "") -> bool:
        cur = self._db.execute(
            "INSERT OR IGNORE INTO agent_toolcalls (key, result, thread_id) VALUES (?, ?, ?)",
            (key, self._PENDING, thread_id),
        )
        return cur.rowcount == 1

    def forget_thread(self, thread_id: str) -> int:
        """Delete the entries claimed for ``thread_id``; returns how many (one statement,
        synchronous: atomic with respect to the event loop)."""
        return int(self._db.execute("DELETE FROM agent_toolcalls WHERE thread_id = ?", (thread_id,)).rowcount)

    async def record(self, key: str, result: str) -> None:
        self._db.execute(
            "INSERT INTO agent_toolcalls (key, result) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET result = excluded.result",
            (key, result),
        )

    async def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT result FROM agent_toolcalls WHERE key = ?", (key,)).fetchone()
        return None if row is None or row[0] == self._PENDING else str(row[0])
