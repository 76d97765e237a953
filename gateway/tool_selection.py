"""Tool selection on the chat path: hand the model only the few tools it needs.

``ToolSelector.select(body, policy, headers=…, tenant=…)`` runs when a request

* carries more tools than the policy's ``max_tools`` (default 16): the request's own tools are
  ranked against the last user turn and the top ``max_tools`` are kept; or
* asks for tools from the knowledge base (header ``x-switchboard-tool-kb: 1`` or
  ``metadata.tool_kb: true``): the KB's top tools for the prompt (visible to the caller's
  tenant) are added to the request's own, and the union is cut to ``max_tools``.

Tools the caller forced with ``tool_choice`` or already called earlier in the conversation are
always kept. When it runs, every request tool is validated like a catalog tool (400 naming
``tools[i].function.<field>``), and a function name that repeats is a 400 naming the repeat and
its first use. It returns a :class:`ToolSelection` with the body to send and the names kept (the
gateway puts them in the ``x-switchboard-tools-kept`` header and counts ``dropped`` in metrics).
``ToolSelector.hook`` is (body, policy) → body; the served gateway calls ``select`` through
``gateway.tool_kb.ToolKBService``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.config.models import Policy
from core.embedding import Embedder
from core.wire import prompt_text
from gateway.tool_request import asks_for_kb, tool_name
from tools_kb.fusion import RRF
from tools_kb.index import ToolIndex
from tools_kb.kb import ToolKB
from tools_kb.search_options import SearchOptions
from tools_kb.tool import Tool, ToolValidationError, parse_tool


@dataclass(frozen=True, slots=True)
class ToolSelection:
    body: dict[str, Any]
    kept: tuple[str, ...]
    dropped: int  # request tools not sent
    added: int  # KB tools added
    reason: str  # "none" | "max_tools" | "kb"


class ToolSelector:
    """Holds an optional ToolKB and a small cache of indexes over request tool sets."""

    def __init__(self, embedder: Embedder, kb: ToolKB | None = None, *, cache_size: int = 64) -> None:
        self._embedder = embedder
        self._kb = kb
        self._indexes: OrderedDict[str, ToolIndex] = OrderedDict()
        self._cache_size = cache_size

    async def hook(self, body: dict[str, Any], policy: Policy) -> dict[str, Any]:
        """The runtime hook: (body, policy) → body (metadata-triggered KB only; no headers)."""
        return (await self.select(body, policy)).body

    async def select(
        self,
        body: dict[str, Any],
        policy: Policy,
        *,
        headers: Mapping[str, str] | None = None,
        tenant: str | None = None,
    ) -> ToolSelection:
        """Raises ToolValidationError (400) when a request tool is malformed or a function name
        repeats (checked only when selection runs: over ``max_tools`` or asking for KB tools)."""
        own = body.get("tools") or []
        wants_kb = self._kb is not None and asks_for_kb(body, headers)
        limit = policy.max_tools
        if not wants_kb and len(own) <= limit:
            return ToolSelection(body, tuple(_names(own)), 0, 0, "none")
        parsed = [_parse(t, i) for i, t in enumerate(own)]
        _check_unique(own, [t.name for t in parsed])
        query = prompt_text(body.get("messages") or [])
        pinned = _pinned(body)
        ranked_own = await self._rank_own(own, parsed, query) if len(own) > limit else list(own)
        added: list[dict[str, Any]] = []
        if wants_kb and self._kb is not None and query:
            have = set(_names(own))
            hits = await self._kb.search(query, k=limit, tenant=tenant, adaptive=True)
            added = [h.tool.openai_schema() for h in hits if h.name not in have]
        # pinned first, then alternate own and KB tools (both best-first), up to the limit
        by_name = dict(zip(_names(own), own, strict=True))
        chosen = [by_name[n] for n in pinned if n in by_name]
        seen = set(_names(chosen))
        for tool in _interleave(ranked_own, added):
            if len(chosen) >= limit:
                break
            if tool_name(tool) not in seen:
                chosen.append(tool)
                seen.add(tool_name(tool))
        new_body = {**body, "tools": chosen}
        kept = tuple(_names(chosen))
        dropped = len([n for n in _names(own) if n not in set(kept)])
        n_added = len([t for t in chosen if tool_name(t) not in by_name])
        return ToolSelection(new_body, kept, dropped, n_added, "kb" if wants_kb else "max_tools")

    async def _rank_own(
        self, own: Sequence[dict[str, Any]], tools: Sequence[Tool], query: str
    ) -> list[dict[str, Any]]:
        """``own`` best-first for ``query`` (``tools``: the same tools parsed; names unique)."""
        if not query:
            return list(own)
        key = json.dumps([t.fingerprint() for t in tools])
        index = self._indexes.get(key)
        if index is None:
            # Ad-hoc tool sets are small and change per caller: RRF needs no tuning.
            index = await ToolIndex.build(tools, self._embedder, fusion=RRF, correct_typos=False)
            self._indexes[key] = index
            if len(self._indexes) > self._cache_size:
                self._indexes.popitem(last=False)
        else:
            self._indexes.move_to_end(key)
        hits = await index.search(query, k=len(tools), options=SearchOptions())
        by_name = {tool_name(t): t for t in own}
        return [by_name[h.name] for h in hits]


def _names(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    return [tool_name(t) for t in tools]


_FUNCTION_FIELDS = ("name", "description", "parameters", "strict")


def _parse(raw: Mapping[str, Any], i: int) -> Tool:
    """Request tool ``i`` (Chat Completions' wrapped form or the flat Responses form) as a Tool.
    Fields other than the function's own are ignored (a request may carry more than a catalog
    stores). Raises ToolValidationError with ``param`` = the field's path in the request."""
    fn = raw.get("function")
    shown: dict[str, Any] = {k: raw[k] for k in ("type", "function") if k in raw}
    if isinstance(fn, Mapping):
        shown["function"] = {k: fn[k] for k in _FUNCTION_FIELDS if k in fn}
    else:
        shown.update({k: raw[k] for k in _FUNCTION_FIELDS if k in raw})
    try:
        return parse_tool(shown, where=f"tools[{i}]")
    except ToolValidationError as exc:
        raise exc.located(f"tools[{i}]", raw) from exc


def _check_unique(own: Sequence[Mapping[str, Any]], names: Sequence[str]) -> None:
    """Raises ToolValidationError at the first function name that repeats, naming its first use."""
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            exc = ToolValidationError(name, "name", f"duplicate function name (also tools[{first[name]}])")
            raise exc.located(f"tools[{i}]", own[i])
        first[name] = i


def _pinned(body: Mapping[str, Any]) -> list[str]:
    """Tools that must stay: the forced tool_choice and those already called in the conversation."""
    out: list[str] = []
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        out.append(str(choice["function"].get("name", "")))
    for msg in body.get("messages") or []:
        for call in (msg.get("tool_calls") or []) if isinstance(msg, Mapping) else []:
            fn = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(fn, Mapping) and fn.get("name"):
                out.append(str(fn["name"]))
    return list(dict.fromkeys(out))


def _interleave(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(max(len(a), len(b))):
        out.extend(x[i] for x in (a, b) if i < len(x))
    return out
