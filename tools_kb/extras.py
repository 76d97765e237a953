"""Sources of extra texts per tool for the KB's index (see ``ToolKB(extras=…)``).

* :class:`EnhancementExtras` — Toolshed-style enhancement of the served catalog: topics and
  example requests generated per tool by a configured model (:class:`tools_kb.enhance.Enhancer`,
  cached by model + tool definition, so a restart or a second replica with the same cache file
  asks nothing again), filled in the background in batches so the index improves as it goes.
* :class:`CombinedExtras` — several sources as one (e.g. enhancement + learned examples).

A source's ``version`` never decreases; it changes when its texts do, which tells the KB to
rebuild. ``forget(names)`` drops the texts of tools the catalog no longer has (the KB calls it
when a rebuild sees tools removed), so a new tool that reuses a removed one's name does not
inherit its texts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from tools_kb.enhance import Enhancer, extra_texts
from tools_kb.tool import Tool

BATCH = 16  # tools enhanced between two publications of the texts


class ExtrasSource(Protocol):
    async def version(self) -> int: ...

    async def load(self) -> Mapping[str, Sequence[str]]: ...

    async def forget(self, names: Iterable[str]) -> None: ...


class CombinedExtras:
    def __init__(self, *sources: ExtrasSource) -> None:
        self._sources = sources

    async def version(self) -> int:
        return sum([await s.version() for s in self._sources])

    async def load(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, dict[str, None]] = {}
        for source in self._sources:
            for name, texts in (await source.load()).items():
                out.setdefault(name, {}).update(dict.fromkeys(texts))
        return {name: tuple(texts) for name, texts in out.items()}

    async def forget(self, names: Iterable[str]) -> None:
        gone = list(names)
        for source in self._sources:
            await source.forget(gone)


class EnhancementExtras:
    def __init__(self) -> None:
        self._texts: dict[str, tuple[str, ...]] = {}
        self._version = 0

    async def version(self) -> int:
        return self._version

    async def load(self) -> dict[str, tuple[str, ...]]:
        return dict(self._texts)

    async def update(self, enhancer: Enhancer, tools: Sequence[Tool]) -> None:
        """Enhance ``tools`` (cached ones cost nothing), publishing every :data:`BATCH` tools;
        tools no longer in ``tools`` are dropped. A tool whose model call fails is left out."""
        keep = {t.name for t in tools}
        texts = {name: t for name, t in self._texts.items() if name in keep}
        for start in range(0, len(tools), BATCH):
            texts.update(extra_texts(await enhancer.enhance(tools[start : start + BATCH])))
            self._publish(texts)
        self._publish(texts)

    async def forget(self, names: Iterable[str]) -> None:
        gone = set(names)
        self._publish({name: t for name, t in self._texts.items() if name not in gone})

    def _publish(self, texts: dict[str, tuple[str, ...]]) -> None:
        if texts != self._texts:
            self._texts = dict(texts)
            self._version += 1
