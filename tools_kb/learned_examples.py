"""Learning from logs: a query whose tool call succeeded becomes one of that tool's examples.

Opt-in (``tools.learn_from_logs``). Examples live in the gateway's Store, so every replica sees
them (Redis) and the embedded default keeps them across restarts (the MemoryStore persists the
``toolex:`` prefix lazily in its state file):

* ``toolex:tools`` — a hash whose fields are the tools that have examples;
* ``toolex:q:<tool>`` — a hash: example query → sequence number; past ``max_per_tool`` the
  oldest are dropped;
* ``toolex:version`` — the sequence, bumped by every change, so a replica knows when to rebuild.

:meth:`LearnedExamples.load` gives the examples by tool name, deduplicated, in the form
:meth:`tools_kb.index.ToolIndex.build` takes as ``extras``: each example becomes an extra dense
row of its tool (a tool scores the best of its rows) and text in its BM25 document — the same
path the Toolshed-style enhancement uses.

What counts as a success is decided by the caller (the gateway: the conversation carries the tool's
result and it is not an error). Examples are capped in length and count, so a noisy log cannot
grow a tool's document without bound.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.store.protocol import Store

PREFIX = "toolex:"
TOOLS_KEY = PREFIX + "tools"
VERSION_KEY = PREFIX + "version"
MAX_QUERY_CHARS = 300


def _examples_key(tool: str) -> str:
    return f"{PREFIX}q:{tool}"


def normalize_query(query: str) -> str:
    """Whitespace collapsed and cut to :data:`MAX_QUERY_CHARS`; empty when nothing is left."""
    return " ".join(query.split())[:MAX_QUERY_CHARS]


class LearnedExamples:
    def __init__(self, store: Store, *, max_per_tool: int = 20) -> None:
        self._store = store
        self._max = max_per_tool

    async def add(self, tool: str, query: str) -> bool:
        """Record ``query`` as an example of ``tool``; False when empty or already recorded."""
        text = normalize_query(query)
        if not text or not tool:
            return False
        key = _examples_key(tool)
        existing = await self._store.hgetall(key)
        if text.casefold() in {q.casefold() for q in existing}:
            return False
        seq = await self._store.incr_by(VERSION_KEY, 1)
        await self._store.hset(key, {text: b"%d" % int(seq)})
        await self._store.hset(TOOLS_KEY, {tool: b"1"})
        if len(existing) >= self._max:
            ranked = sorted(existing.items(), key=lambda kv: int(kv[1]))
            await self._store.hdel(key, *[q for q, _ in ranked[: len(existing) + 1 - self._max]])
        return True

    async def version(self) -> int:
        raw = await self._store.get(VERSION_KEY)
        return int(float(raw)) if raw else 0

    async def load(self) -> dict[str, tuple[str, ...]]:
        """Examples by tool name, oldest first, at most ``max_per_tool`` (the newest)."""
        out: dict[str, tuple[str, ...]] = {}
        for tool in sorted(await self._store.hgetall(TOOLS_KEY)):
            examples = await self._store.hgetall(_examples_key(tool))
            ranked = [q for q, _ in sorted(examples.items(), key=lambda kv: int(kv[1]))]
            if ranked:
                out[tool] = tuple(ranked[-self._max :])
        return out

    async def forget(self, tools: Iterable[str]) -> None:
        """Drop every example of ``tools`` (the KB calls this when they leave the catalog); the
        version moves only when something was dropped."""
        known = await self._store.hgetall(TOOLS_KEY)
        gone = [t for t in dict.fromkeys(tools) if t in known]
        if not gone:
            return
        for tool in gone:
            await self._store.delete(_examples_key(tool))
        await self._store.hdel(TOOLS_KEY, *gone)
        await self._store.incr_by(VERSION_KEY, 1)
