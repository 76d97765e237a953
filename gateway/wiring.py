"""The composition the ``switchboard serve`` command runs: settings from the environment plus the
optional collaborators (learned routers, tool selection, agents) registered in one place.

The lead extends :func:`default_hooks` (e.g. ``hooks.registry.register("knn", learned_factory)``,
``hooks.tool_selector = ...``, ``hooks.extensions = [...]``) and :func:`extra_routers`.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI

from gateway.app import create_app
from gateway.runtime import Hooks
from gateway.settings import GatewaySettings


def default_hooks() -> Hooks:
    """Hooks for a served gateway. Only the built-in ``fallback`` selector is registered here."""
    return Hooks()


def extra_routers() -> Sequence[APIRouter]:
    """APIRouters mounted beside the OpenAI API (agents, tools, dashboard)."""
    return ()


def serve_app() -> FastAPI:
    """uvicorn factory (``gateway.wiring:serve_app``): one app per worker process."""
    return create_app(GatewaySettings(), hooks=default_hooks(), extra_routers=extra_routers())
