"""HTTP API of the tool knowledge base.

* ``POST /v1/tools/search`` ``{"query", "k"?, "tenant"?, "adaptive"?}`` →
  ``{"object": "list", "version", "fusion", "data": [{"name", "score", "description", "tags",
  "tool": <OpenAI tool schema>}]}``. The caller's own tenant (from its key) is used when
  ``tenant_of`` is given; only the master key may search as another tenant.
* ``GET /admin/tools`` → the catalog and its version; ``POST /admin/tools`` ``{"tools": [...]}``
  upserts (all-or-nothing: one invalid definition rejects the request with a 400 naming the tool
  and field, nothing is written); ``DELETE /admin/tools/{name}`` removes one.

Errors are ``core.errors`` classes, rendered by the app's one error handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from core.errors import NotFoundError
from tools_kb.tool import parse_tool

if TYPE_CHECKING:  # tools_kb.kb pulls in the index (bm25s, ~0.2 s): the app imports this module at start-up
    from tools_kb.kb import ToolKB


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=20_000)
    k: int = Field(default=5, ge=1, le=100)
    tenant: str | None = None
    adaptive: bool = False


class UpsertBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tools: list[dict[str, Any]] = Field(min_length=1)


TenantOf = Callable[[Request, str | None], Awaitable[str | None]]


async def _body_tenant(request: Request, asked: str | None) -> str | None:
    return asked


async def _no_guard() -> None:
    return None


def tools_api(
    kb: ToolKB | Callable[[], ToolKB | Awaitable[ToolKB]],
    *,
    tenant_of: TenantOf = _body_tenant,
    admin_guard: Callable[..., Awaitable[None]] = _no_guard,
) -> APIRouter:
    """Routers for search and admin. ``kb``: the KB or a zero-argument callable (sync or async)
    returning it (built in the lifespan, or opened on first use). ``tenant_of(request, asked)`` decides the tenant a search runs as
    (e.g. the key's tenant; the master key may pass ``asked``). ``admin_guard`` is a FastAPI
    dependency that raises for non-admins (e.g. the master-key check)."""

    async def get_kb() -> ToolKB:
        if not callable(kb):
            return kb
        got = kb()
        return await got if inspect.isawaitable(got) else got

    api = APIRouter(tags=["tools"])

    @api.post("/v1/tools/search")
    async def search(body: SearchBody, request: Request) -> dict[str, Any]:
        store = await get_kb()
        tenant = await tenant_of(request, body.tenant)
        hits = await store.search(body.query, k=body.k, tenant=tenant, adaptive=body.adaptive)
        return {
            "object": "list",
            "version": store.version,
            "fusion": store.index.fusion.describe(),
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
        return {
            "object": "list",
            "version": store.version,
            "data": [t.to_json() for t in await store.tools()],
        }

    @admin.post("")
    async def upsert(body: UpsertBody) -> dict[str, Any]:
        tools = [parse_tool(raw, where=f"tools[{i}]") for i, raw in enumerate(body.tools)]
        version = await (await get_kb()).upsert(tools)
        return {"version": version, "upserted": [t.name for t in tools]}

    @admin.delete("/{name:path}")
    async def remove(name: str) -> dict[str, Any]:
        store = await get_kb()
        if store.index.get(name) is None:
            raise NotFoundError(f"No tool named {name!r}.", param="name")
        return {"version": await store.remove([name]), "removed": [name]}

    api.include_router(admin)
    return api
