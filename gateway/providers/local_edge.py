"""The embedded edge model as just another OpenAI-compatible upstream.

Engineer C's ``gateway.providers.local_llama.LocalLlamaServer`` runs a supervised llama-cpp-python
OpenAI server on a loopback port. This module only decides *when* it starts (on the first request
for it, or at startup with ``preload``) and routes calls to its ``base_url`` through the fast
OpenAI-compatible backend. llama_cpp is never imported by the gateway process itself.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from core.config.models import LocalLlamaDeployment
from core.deadline import Deadline
from core.errors import SwitchboardError, UpstreamError, UpstreamUnavailableError
from core.wire import ChatRequest, ChatResponse
from gateway.providers.http_pool import HttpPool
from gateway.providers.openai_compat import OpenAICompatBackend


def _key(spec: LocalLlamaDeployment) -> str:
    return f"{spec.gguf}|{spec.n_ctx}|{spec.port}"


class LocalModels:
    """Owns the local model servers of this process (one per distinct gguf/n_ctx/port).

    An async context manager entered in the lifespan; leaving it stops every server it started.
    """

    def __init__(self, models_dir: Path, pool: HttpPool) -> None:
        self._models_dir = models_dir
        self._pool = pool
        self._stack = AsyncExitStack()
        self._servers: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def availability(spec: LocalLlamaDeployment) -> tuple[bool, str]:
        """Cheap check (no import of llama_cpp): is local inference installed at all?"""
        if importlib.util.find_spec("llama_cpp") is None:
            return False, "llama-cpp-python is not installed"
        if importlib.util.find_spec("gateway.providers.local_llama") is None:
            return False, "local model support (gateway.providers.local_llama) is not installed"
        return True, ""

    async def base_url(self, spec: LocalLlamaDeployment) -> str:
        """Start the server for ``spec`` unless running; its OpenAI base URL (ending in /v1).

        Raises UpstreamUnavailableError when it cannot start (missing GGUF, crash on load).
        """
        key = _key(spec)
        server = self._servers.get(key)
        if server is None:
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:
                server = self._servers.get(key)
                if server is None:
                    server = await self._start(spec)
                    self._servers[key] = server
        return str(server.base_url)

    async def _start(self, spec: LocalLlamaDeployment) -> Any:
        try:
            from gateway.providers.local_llama import LocalLlamaServer

            server = LocalLlamaServer.from_deployment(spec, models_dir=self._models_dir)
            return await self._stack.enter_async_context(server)
        except (ImportError, SwitchboardError, OSError) as exc:
            msg = exc.message if isinstance(exc, SwitchboardError) else str(exc)
            raise UpstreamUnavailableError(
                f"local model {spec.name!r} could not start: {msg}", deployment=spec.name
            ) from exc

    def backend(self, spec: LocalLlamaDeployment) -> LocalEdgeBackend:
        return LocalEdgeBackend(spec, self)

    def pool(self) -> HttpPool:
        return self._pool

    async def __aenter__(self) -> LocalModels:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()
        self._servers.clear()


class LocalEdgeBackend:
    """ChatBackend for a ``local_llama`` deployment; starts its server on first use."""

    def __init__(self, spec: LocalLlamaDeployment, models: LocalModels) -> None:
        self.name = spec.name
        self._spec = spec
        self._models = models
        self._inner: OpenAICompatBackend | None = None

    async def _backend(self) -> OpenAICompatBackend:
        if self._inner is None:
            url = await self._models.base_url(self._spec)
            self._inner = OpenAICompatBackend(
                self._spec.name, base_url=url, model=self._spec.model, pool=self._models.pool()
            )
        return self._inner

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        return await (await self._backend()).complete(request, deadline)

    async def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        backend = await self._backend()
        async for chunk in backend.stream(request, deadline):
            yield chunk

    async def warm(self) -> None:
        """Start the server now (preload); failures are left for the first request to report."""
        try:
            await self._backend()
        except UpstreamError:
            pass

    async def aclose(self) -> None:
        """The server belongs to LocalModels; nothing to release here."""
