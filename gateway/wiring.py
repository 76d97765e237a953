"""The composition the ``switchboard serve`` command runs: settings from the environment plus the
optional collaborators (learned routers, tool selection, agents) registered in one place.

The lead extends :func:`default_hooks` (e.g. ``hooks.registry.register("knn", learned_factory)``,
``hooks.tool_selector = ...``, ``hooks.extensions = [...]``) and :func:`extra_routers`.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, FastAPI

from gateway.agents_api import AgentsHolder, agents_api
from gateway.app import create_app
from gateway.learned_routing import register_learned_selectors
from gateway.runtime import Extension, Hooks, Runtime
from gateway.settings import GatewaySettings
from gateway.tool_kb import ToolKBService


@contextlib.asynccontextmanager
async def freeze_startup_heap(rt: Runtime) -> AsyncIterator[None]:
    """Move everything alive after start-up (modules, config, pydantic schemas …) out of the
    garbage collector's reach, so the periodic full collections of a served process scan only
    request-time objects: shorter GC pauses, which show up as latency outliers."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def default_hooks(agents: AgentsHolder | None = None, tools: ToolKBService | None = None) -> Hooks:
    """Hooks for a served gateway. The last extension freezes the start-up heap (keep it last
    when adding extensions). ``agents`` is the agents runtime (Redis Streams runs when a Redis URL
    is set, else the embedded in-process queue with SQLite beside the state file; opened on the
    first agents request); ``tools`` is the tool knowledge base (opened on first use) and the chat path's tool selector."""
    extensions: list[Extension] = []
    if tools is not None:
        extensions.append(tools.extension)
    if agents is not None:
        extensions.append(agents.extension(
            agents_dir="config/agents", workers=1, policy="priority", catalog=tools,
            extra_tools=(lambda: [tools.search_tools_tool()]) if tools is not None else tuple))
    extensions.append(freeze_startup_heap)
    hooks = Hooks(extensions=extensions, tool_selector=tools, tool_learner=tools.learn if tools is not None else None)
    register_learned_selectors(hooks.registry)  # kinds learned | knn | mf | heads
    return hooks


def extra_routers(agents: AgentsHolder | None = None, tools: ToolKBService | None = None) -> Sequence[APIRouter]:
    """APIRouters mounted beside the OpenAI API (agents, tools; the dashboard is create_app's)."""
    routers: list[APIRouter] = []
    if agents is not None:
        routers.append(agents_api(agents))
    if tools is not None:
        routers.append(tools.router())  # POST /v1/tools/search, /admin/tools
    return routers


def serve_app() -> FastAPI:
    """uvicorn factory (``gateway.wiring:serve_app``): one app per worker process."""
    agents = AgentsHolder()
    tools = ToolKBService()
    return create_app(GatewaySettings(), hooks=default_hooks(agents, tools),
                      extra_routers=extra_routers(agents, tools))
