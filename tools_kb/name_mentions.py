"""Which tools a request names: every distinctive word of a tool's name occurs in the text.

A tool's name words (``getWeatherForecast`` → get, weather, forecast; stemmed like BM25's
tokens) are *distinctive* unless more than ``GENERIC_SHARE`` of the catalog's names use them:
"get", "query", "tool" or "base" say what kind of tool it is, not which. A text *mentions* a
tool when it contains all of the tool's distinctive name words, in any order ("news" names
``NewsTool``; "weather" alone does not name ``getWeatherForecast``). Tools whose name has no
distinctive word are never mentioned.

Built from the catalog alone; :class:`tools_kb.index.ToolIndex` adds a small fixed bonus to a
mentioned tool's fused score (``Fusion.name_bonus``), so that between tools that match a request
about equally well, the one the request names wins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

# A name word used by more than this share of the catalog's names is generic (in ToolE, "tool"
# is in 20 % of the names; in Seal-Tools, "get" in 56 %; a tool's own subject word in < 1 %).
GENERIC_SHARE = 0.05


class NameMentions:
    """Immutable; row i is the tool whose name words, :func:`tools_kb.lexical.tokenize`-d, are
    ``name_tokens[i]`` (the same tokens the lexical index's name pairs use)."""

    def __init__(self, name_tokens: Sequence[Sequence[str]], *, generic_share: float = GENERIC_SHARE) -> None:
        names = [set(n) for n in name_tokens]
        self._n = len(names)
        df = Counter(stem for stems in names for stem in stems)
        limit = max(1.0, generic_share * self._n)  # a word only one name uses is never generic
        self._ids: dict[str, int] = {}  # distinctive stem → id
        stem_ids: list[int] = []
        stem_rows: list[int] = []
        for row, stems in enumerate(names):
            for stem in stems:
                if df[stem] <= limit:
                    stem_ids.append(self._ids.setdefault(stem, len(self._ids)))
                    stem_rows.append(row)
        ids = np.asarray(stem_ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        # postings of stem i: self._rows[self._starts[i]:self._starts[i + 1]]
        self._rows = np.asarray(stem_rows, dtype=np.int64)[order]
        self._starts = np.searchsorted(ids[order], np.arange(len(self._ids) + 1))
        self._required = np.bincount(np.asarray(stem_rows, dtype=np.int64), minlength=self._n).astype(
            np.int32
        )

    def __len__(self) -> int:
        return self._n

    def mentioned(self, tokens: Iterable[str]) -> npt.NDArray[np.float32] | None:
        """1.0 for each tool that ``tokens`` (a text's :func:`tools_kb.lexical.tokenize` stems) name, else 0.0;
        None when the text names no tool (the common case: nothing to add)."""
        hits = [self._ids[t] for t in set(tokens) if t in self._ids]
        if not hits:
            return None
        counts = np.zeros(self._n, dtype=np.int32)
        for i in hits:
            counts[self._rows[self._starts[i] : self._starts[i + 1]]] += 1
        named = (counts == self._required) & (self._required > 0)
        if not named.any():
            return None
        out: npt.NDArray[np.float32] = named.astype(np.float32)
        return out
