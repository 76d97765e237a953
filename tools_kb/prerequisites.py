"""Prerequisite tools: the one tool that hands out a value another tool needs.

Many APIs take a value that only another API gives: ``DeleteAccount(token)`` needs the token
``GetUserToken`` returns, ``decryptMessage(key)`` the key of ``generateAppKey``. A request
names what it wants done ("delete my account"), never the login step, so retrieval finds the
consumer and misses its producer, and the agent that receives the tools cannot finish.

From the catalog alone: a parameter is a *handle* when its last word says it is handed out
(``token``, ``key``, ``session``, ``id`` …) and it says what it is a handle of (a bare ``id``
does not: it could be anything's). Its producer is the tool whose name ends with the parameter's
words, has a word before them (a verb or a qualifier: ``GetUserToken`` for ``token``,
``getPatientId`` for ``patient_id``) and does not take that parameter itself. A handle is only
followed when exactly one visible tool produces it: several candidates mean the name does not
say which one, and guessing would push a relevant hit out of the list.

:meth:`Prerequisites.expand` puts each retrieved consumer's producer right after it (moved up
if it was lower, chained when the producer needs a handle of its own) and cuts the list back
to its length, so a search returns as many tools as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from tools_kb.text import split_identifier
from tools_kb.tool import Tool

# Last words that make a parameter a handle another tool hands out.
HANDLE_WORDS = frozenset({"id", "ids", "uuid", "guid", "token", "key", "session"})
# Handles that say nothing about what they identify on their own.
_BARE = frozenset({"id", "ids", "uuid", "guid"})
_MAX_CANDIDATES = 8  # a handle more tools than this could produce is not followed at all
_TAIL = re.compile(r"[\W_]+$")  # what split_identifier drops at the end
_HANDLE_ENDINGS = tuple(HANDLE_WORDS)


class Prerequisites:
    """Per tool row, the candidate producer rows of each of its handles (immutable)."""

    def __init__(self, tools: Sequence[Tool]) -> None:
        wanted: dict[int, list[str]] = {}  # row -> its handles, as parameter words
        params: list[list[str]] = []  # row -> its parameter names
        for row, tool in enumerate(tools):
            names = [str(p) for p in ((tool.parameters or {}).get("properties") or {})]
            params.append(names)
            handles = [h for p in names if (h := _handle(p))]
            if handles:
                wanted[row] = handles
        self._needs: dict[int, tuple[tuple[int, ...], ...]] = {}
        if not wanted:
            return
        every = {w for handles in wanted.values() for w in handles}
        last_words = tuple({w.rpartition(" ")[2] for w in every})
        lengths = sorted({w.count(" ") + 1 for w in every})
        by_suffix: dict[str, list[int]] = {}
        for row, tool in enumerate(tools):
            if not _ending(tool.name).endswith(last_words):  # most names: no split needed
                continue
            name = split_identifier(tool.name).split()
            for n in lengths:  # proper suffixes only: a word must come before them
                if n < len(name) and (suffix := " ".join(name[-n:])) in every:
                    by_suffix.setdefault(suffix, []).append(row)
        for row, handles in wanted.items():
            groups: list[tuple[int, ...]] = []
            for handle in dict.fromkeys(handles):
                found = tuple(
                    p
                    for p in by_suffix.get(handle, ())
                    if p != row and all(_handle(w) != handle for w in params[p])
                )
                if 0 < len(found) <= _MAX_CANDIDATES:
                    groups.append(found)
            if groups:
                self._needs[row] = tuple(groups)

    def __len__(self) -> int:
        """How many tools need a prerequisite."""
        return len(self._needs)

    def producers_of(self, row: int, visible: Callable[[int], bool]) -> list[int]:
        """The producer row of each handle of ``row`` that exactly one visible tool produces."""
        out: list[int] = []
        for group in self._needs.get(row, ()):
            seen = [p for p in group if visible(p)]
            if len(seen) == 1 and seen[0] not in out:
                out.append(seen[0])
        return out

    def expand(
        self, rows: Sequence[int], visible: Callable[[int], bool], limit: int
    ) -> list[tuple[int, int | None]]:
        """``rows`` (best first) with each consumer's producers right after it, as
        ``(row, consumer row or None)``, at most ``limit`` long. A producer already lower in
        ``rows`` moves up; one already above stays where it is."""
        if not self._needs:
            return [(r, None) for r in rows[:limit]]
        out: list[tuple[int, int | None]] = []
        placed: set[int] = set()

        def place(row: int, needed_by: int | None) -> None:
            if row in placed or len(out) >= limit:
                return
            placed.add(row)
            out.append((row, needed_by))
            for producer in self.producers_of(row, visible):
                place(producer, row)

        for row in rows:
            if len(out) >= limit:
                break
            place(row, None)
        return out


@lru_cache(maxsize=1 << 14)  # parameter names repeat across a catalog and its rebuilds
def _handle(param: str) -> str | None:
    """The words of ``param`` when it is a handle that says what it is a handle of, else None."""
    if not _ending(param).endswith(_HANDLE_ENDINGS):
        return None
    words = split_identifier(param)
    if words.rpartition(" ")[2] not in HANDLE_WORDS or set(words.split()) <= _BARE:
        return None
    return words


def _ending(identifier: str) -> str:
    """``identifier`` lower-cased without trailing punctuation (a superset test for its last word)."""
    if identifier[-1:].isalnum():
        return identifier.lower()
    return _TAIL.sub("", identifier).lower()
