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
        distinctive = [{s for s in stems if df[s] <= limit} for stems in names]
        self._required = np.asarray([len(d) for d in distinctive], dtype=np.int32)
        rows: dict[str, list[int]] = {}
        for row, stems in enumerate(distinctive):
            for stem in stems:
                rows.setdefault(stem, []).append(row)
        self._postings = {stem: np.asarray(r, dtype=np.int64) for stem, r in rows.items()}

    def __len__(self) -> int:
        return self._n

    def mentioned(self, tokens: Iterable[str]) -> npt.NDArray[np.float32] | None:
        """1.0 for each tool that ``tokens`` (a text's :func:`tools_kb.lexical.tokenize` stems) name, else 0.0;
        None when the text names no tool (the common case: nothing to add)."""
        hits = [self._postings[t] for t in set(tokens) if t in self._postings]
        if not hits:
            return None
        counts = np.zeros(self._n, dtype=np.int32)
        for rows in hits:
            counts[rows] += 1
        named = (counts == self._required) & (self._required > 0)
        if not named.any():
            return None
        out: npt.NDArray[np.float32] = named.astype(np.float32)
        return out
