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

REST catalogs name a resource's id after the resource, and a user who knows a resource by its
name gets the id from the resource's search endpoint: ``GET /person/{person_id}/movie_credits``
needs ``GET /search/person``. So for a tool named by a path (a ``/`` in its name), when no
tool's name ends with an identifier handle's words, a tool whose name ends with a search verb
(``search``, ``find``, ``lookup``) and then the resource's words (``person``, or ``persons``) is
its producer, under the same rules. Parameters written into a tool's name as a path template
(``{person_id}``) count as parameters of that tool. Function-style catalogs are left out: in
Seal-Tools, ``getExoplanetInfo(exoplanet_id)`` next to ``searchExoplanets`` is common, and in
none of its dev queries whose gold holds such a tool did the gold hold the search tool too.

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
# Verbs of an endpoint that finds a resource's identifiers from what a user knows (its name).
_SEARCH_VERBS = frozenset({"search", "find", "lookup"})
_TEMPLATE = re.compile(r"\{([^{}]+)\}")  # a path parameter written into a name: /person/{person_id}
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
            if "{" in tool.name:
                names += [p for p in _TEMPLATE.findall(tool.name) if p not in names]
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
        # search endpoints: only when a REST path takes an identifier
        if any("/" in tools[row].name and any(map(_resource, hs)) for row, hs in wanted.items()):
            searches = _search_endpoints(tools)
        else:
            searches = {}
        for row, handles in wanted.items():
            groups: list[tuple[int, ...]] = []
            for handle in dict.fromkeys(handles):
                found = _producers(by_suffix.get(handle, ()), row, handle, params)
                if not found and "/" in tools[row].name:
                    found = _producers(searches.get(_resource(handle), ()), row, handle, params)
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


def _producers(candidates: Sequence[int], row: int, handle: str, params: list[list[str]]) -> tuple[int, ...]:
    """The ``candidates`` other than ``row`` that do not take ``handle`` themselves."""
    return tuple(p for p in candidates if p != row and all(_handle(w) != handle for w in params[p]))


def _search_endpoints(tools: Sequence[Tool]) -> dict[str, list[int]]:
    """Rows of the tools whose name ends with a search verb and a resource's words, by the
    resource's words (singular): ``GET /search/person`` and ``searchPersons`` under "person"."""
    out: dict[str, list[int]] = {}
    for row, tool in enumerate(tools):
        lowered = tool.name.lower()
        if not any(verb in lowered for verb in _SEARCH_VERBS):  # most names: no split needed
            continue
        words = split_identifier(tool.name).split()
        verbs = [i for i, w in enumerate(words) if w in _SEARCH_VERBS]
        if not verbs or verbs[-1] == len(words) - 1:  # no verb, or nothing after the last one
            continue
        resource = words[verbs[-1] + 1 :]
        if resource[-1].endswith("s") and len(resource[-1]) > 3:  # "persons" -> "person"
            resource[-1] = resource[-1][:-1]
        out.setdefault(" ".join(resource), []).append(row)
    return out


def _resource(handle: str) -> str:
    """What an identifier handle identifies ("person" for "person id"); "" for other handles."""
    resource, _, last = handle.rpartition(" ")
    return resource if last in _BARE else ""


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
