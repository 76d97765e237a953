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

from collections.abc import Callable, Sequence

from tools_kb.text import split_identifier
from tools_kb.tool import Tool

# Last words that make a parameter a handle another tool hands out.
HANDLE_WORDS = frozenset({"id", "ids", "uuid", "guid", "token", "key", "session"})
# Handles that say nothing about what they identify on their own.
_BARE = frozenset({"id", "ids", "uuid", "guid"})
_MAX_CANDIDATES = 8  # a handle more tools than this could produce is not followed at all


class Prerequisites:
    """Per tool row, the candidate producer rows of each of its handles (immutable)."""

    def __init__(self, tools: Sequence[Tool]) -> None:
        name_words = [tuple(split_identifier(t.name).split()) for t in tools]
        params = [_param_words(t) for t in tools]
        by_suffix: dict[tuple[str, ...], list[int]] = {}
        for row, words in enumerate(name_words):
            for n in range(1, len(words)):  # proper suffixes: a word must come before them
                by_suffix.setdefault(words[-n:], []).append(row)
        self._needs: dict[int, tuple[tuple[int, ...], ...]] = {}
        for row, handles in enumerate(params):
            groups: list[tuple[int, ...]] = []
            for words in handles:
                if words[-1] not in HANDLE_WORDS or set(words) <= _BARE:
                    continue
                found = tuple(p for p in by_suffix.get(words, ()) if p != row and words not in params[p])
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


def _param_words(tool: Tool) -> list[tuple[str, ...]]:
    props = (tool.parameters or {}).get("properties") or {}
    words = (tuple(split_identifier(str(name)).split()) for name in props)
    return [w for w in words if w]
