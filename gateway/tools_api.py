"""HTTP API of the tool knowledge base.

* ``POST /v1/tools/search`` ``{"query", "k"?, "tenant"?, "adaptive"?}`` →
  ``{"object": "list", "version", "fusion", "decomposition", "data": [{"name", "score", "description", "tags",
  "tool": <OpenAI tool schema>}]}``. The caller's own tenant (from its key) is used when
  ``tenant_of`` is given; only the master key may search as another tenant.
  A blank query is a 400 (``param: "query"``). While the catalog cannot serve searches
  (``problems()`` non-empty, e.g. ``config/tools/`` could not seed an empty catalog) a search is a
  503 ``tool_catalog_unavailable`` saying why.
* ``GET /admin/tools`` → the catalog, its version and ``problems``; ``POST /admin/tools``
  ``{"tools": [...]}`` upserts (all-or-nothing: one invalid definition rejects the request with a
  400 whose ``param`` is the entry's field, ``tools[1].parameters.type``; nothing is written);
  ``DELETE /admin/tools/{name}`` removes one (404 when the catalog has no such tool). Admin reads
  and removes first catch this replica up with the shared catalog store, so they see every write
  made through any replica (read-your-writes).

Errors are ``core.errors`` classes, rendered by the app's one error handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import NotFoundError, ToolCatalogUnavailableError
from tools_kb.tool import Tool, ToolValidationError, parse_tool

if TYPE_CHECKING:  # tools_kb.kb pulls in the index (bm25s, ~0.2 s): the app imports this module at start-up
    from tools_kb.kb import ToolKB


class SearchBody(BaseModel):
    # strict: "3" is not a k and "yes" not a boolean (a 400 naming the field, as the
    # search_tools meta-tool does)
    model_config = ConfigDict(extra="forbid", strict=True)

    query: str = Field(min_length=1, max_length=20_000)
    k: int = Field(default=5, ge=1, le=100)
    tenant: str | None = None
    adaptive: bool = False

    @field_validator("query")
    @classmethod
    def _not_blank(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("must not be blank")
        return query


class UpsertBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tools: list[dict[str, Any]] = Field(min_length=1)


TenantOf = Callable[[Request, str | None], Awaitable[str | None]]


async def _body_tenant(request: Request, asked: str | None) -> str | None:
    return asked


async def _no_guard() -> None:
    return None


def _no_problems() -> Sequence[str]:
    return ()


def tools_api(
    kb: ToolKB | Callable[[], ToolKB | Awaitable[ToolKB]],
    *,
    tenant_of: TenantOf = _body_tenant,
    admin_guard: Callable[..., Awaitable[None]] = _no_guard,
    problems: Callable[[], Sequence[str]] = _no_problems,
) -> APIRouter:
    """Routers for search and admin. ``kb``: the KB or a zero-argument callable (sync or async)
    returning it (built in the lifespan, or opened on first use). ``tenant_of(request, asked)``
    decides the tenant a search runs as (e.g. the key's tenant; the master key may pass
    ``asked``). ``admin_guard`` is a FastAPI dependency that raises for non-admins (e.g. the
    master-key check). ``problems()``, asked after ``kb``: why the catalog cannot serve searches
    (each a line of ``GET /admin/tools``; the 503 only points there); empty when it can."""

    async def get_kb() -> ToolKB:
        if not callable(kb):
            return kb
        got = kb()
        return await got if inspect.isawaitable(got) else got

    api = APIRouter(tags=["tools"])

    @api.post("/v1/tools/search")
    async def search(body: SearchBody, request: Request) -> dict[str, Any]:
        tenant = await tenant_of(request, body.tenant)  # the caller first: a 401 says nothing else
        store = await get_kb()
        if found := problems():
            raise ToolCatalogUnavailableError(found)
        hits = await store.search(body.query, k=body.k, tenant=tenant, adaptive=body.adaptive)
        return {
            "object": "list",
            "version": store.version,
            "fusion": store.index.fusion.describe(),
            # how far queries are cut into clauses on this catalog (tools_kb.decomposition_check)
            "decomposition": store.index.split,
            "data": [
                {
                    "name": h.name,
                    "score": round(h.score, 6),
                    # a prerequisite: the hit above that needs a value this tool hands out
                    "needed_by": h.needed_by,
                    "description": h.tool.description,
                    "tags": list(h.tool.tags),
                    "tool": h.tool.openai_schema(),
                }
                for h in hits
            ],
        }

    admin = APIRouter(prefix="/admin/tools", tags=["tools"], dependencies=[Depends(admin_guard)])

    @admin.get("")
    async def list_tools() -> dict[str, Any]:
        store = await get_kb()
        await store.refresh()  # read-your-writes: another replica may have written just now
        index, version = store.index, store.version  # one snapshot: no await between the two
        return {
            "object": "list",
            "version": version,
            "problems": list(problems()),
            "data": [t.to_json() for t in index.tools],
        }

    @admin.post("")
    async def upsert(body: UpsertBody) -> dict[str, Any]:
        tools = _parse_entries(body.tools)
        version = await (await get_kb()).upsert(tools)
        return {"version": version, "upserted": [t.name for t in tools]}

    @admin.delete("/{name:path}")
    async def remove(name: str) -> dict[str, Any]:
        store = await get_kb()
        await store.refresh()  # the tool may have been added through another replica just now
        if store.index.get(name) is None:
            raise NotFoundError(f"No tool named {name!r}.", param="name")
        return {"version": await store.remove([name]), "removed": [name]}

    api.include_router(admin)
    return api


def _parse_entries(raws: Sequence[object]) -> list[Tool]:
    """Every definition of an upsert's ``tools`` list. Raises ToolValidationError at the first
    wrong entry with ``param`` = that entry's field (``tools[1].parameters.type``); a name given
    twice is wrong at its second entry."""
    tools: list[Tool] = []
    first: dict[str, int] = {}
    for i, raw in enumerate(raws):
        try:
            tool = parse_tool(raw, where=f"tools[{i}]")
        except ToolValidationError as exc:
            raise exc.located(f"tools[{i}]", raw) from exc
        if tool.name in first:
            dupe = ToolValidationError(tool.name, "name", f"appears twice (also tools[{first[tool.name]}])")
            raise dupe.located(f"tools[{i}]", raw)
        first[tool.name] = i
        tools.append(tool)
    return tools
