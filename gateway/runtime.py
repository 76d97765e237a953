"""The per-process composition: every connection owner, the config reloader, the dispatcher.

:func:`open_runtime` is the lifespan body. It enters, in order: the Store (B's ``open_store``),
the HTTP pool, the local model owner, then loads the config (a failure stops the start with the
file:line:col problems), then starts the background loops (config mtime poll, latency flush) and
any extensions the lead wires in. Leaving it stops all of them in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.clock import Clock, SystemClock
from core.config.models import GatewayConfig, Policy
from core.embedding import Embedder
from core.errors import ConfigError
from core.store.factory import open_store
from core.store.protocol import Store
from gateway.admin_keys_api import KeyServices
from gateway.decision_log import DecisionLog
from gateway.deployment_state import DeploymentStates
from gateway.dispatch import Dispatcher
from gateway.metrics import GatewayMetrics
from gateway.providers.factory import BackendFactory
from gateway.providers.http_pool import HttpPool
from gateway.providers.local_edge import LocalEdgeBackend, LocalModels
from gateway.reload import ConfigReloader, ReloadResult
from gateway.routing import SelectorContext, SelectorRegistry
from gateway.settings import GatewaySettings
from gateway.shared_embedder import RuntimeEmbedder
from gateway.snapshot import ConfigSnapshot, build_snapshot

log = logging.getLogger("switchboard")



class ToolSelector(Protocol):
    """E's hook (wired by gateway.tool_kb.ToolKBService): cut a request's tools to the relevant
    top-k and/or add tools from the knowledge base. ``wanted`` is the cheap synchronous check the
    chat path makes first, so requests without tools pay nothing more."""

    def wanted(self, body: Mapping[str, Any], policy: Policy, headers: Mapping[str, str]) -> bool: ...

    async def __call__(self, body: dict[str, Any], policy: Policy, headers: Mapping[str, str],
                       tenant: str) -> tuple[dict[str, Any], Sequence[str]]:
        """The body to send and the names of the tools it carries (for the
        ``x-switchboard-tools-kept`` headers, ``gateway.tool_request.kept_headers``)."""
        ...

# A lead-wired extension entered in the lifespan after the runtime is up (agents scheduler, …).
Extension = Callable[["Runtime"], AbstractAsyncContextManager[object]]


@dataclass
class Hooks:
    """Optional collaborators the lead wires in (all default to off)."""

    registry: SelectorRegistry = field(default_factory=SelectorRegistry)
    tool_selector: ToolSelector | None = None
    # (request body, tenant) → None, never raises: learns from the conversation's tool results
    tool_learner: Callable[[Mapping[str, Any], str], None] | None = None
    extensions: Sequence[Extension] = ()
    selector_extras: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] | None = None  # environment for api_key_env look-ups (tests)


class Runtime:
    """What request handlers reach through ``request.app.state.runtime``."""

    def __init__(self, settings: GatewaySettings, clock: Clock, hooks: Hooks, metrics: GatewayMetrics) -> None:
        self.settings = settings
        self.clock = clock
        self.hooks = hooks
        self.metrics = metrics
        self.decisions = DecisionLog(clock)  # recent decisions for the dashboard (H)
        metrics.listeners.append(self.decisions)
        self.states = DeploymentStates(clock)
        self.store: Store | None = None
        self.keys: KeyServices | None = None
        self.reloader: ConfigReloader | None = None
        self.dispatcher = Dispatcher(lambda: self.snapshot, self.states, clock, observer=metrics)
        self._embedders: dict[str, Embedder] = {}
        self._embedder_lock = asyncio.Lock()
        self.pool: HttpPool | None = None

    @property
    def snapshot(self) -> ConfigSnapshot:
        """The active config; take it once per request."""
        if self.reloader is None:
            raise RuntimeError("runtime not started")
        return self.reloader.current

    @property
    def config(self) -> GatewayConfig:
        return self.snapshot.config

    async def ready(self) -> tuple[bool, str]:
        """Readiness: config loaded and store reachable."""
        if self.reloader is None or not self.reloader.loaded:
            return False, "config not loaded"
        if self.store is None or self.keys is None:
            return False, "store not open"
        try:
            if not await self.store.ping():
                return False, "store unreachable"
        except Exception as exc:  # any store failure means not ready, never a 500
            return False, f"store unreachable ({type(exc).__name__})"
        return True, "ok"

    async def local_embedder(self) -> Embedder:
        """C's default embedder (ONNX int8 MiniLM), loaded on first use in a worker thread."""
        async with self._embedder_lock:
            emb = self._embedders.get("local")
            if emb is None:
                from core.embedders.factory import default_embedder

                emb = await asyncio.to_thread(default_embedder, self.settings.models_dir, self.store)
                self._embedders["local"] = emb
            return emb

    def _on_reload(self, result: ReloadResult) -> None:
        self.metrics.reloads.labels("ok" if result.ok else "rejected").inc()
        self.metrics.config_version.set(result.version)


async def _latency_flush(rt: Runtime) -> None:
    while True:
        await rt.clock.sleep(rt.settings.latency_flush_s)
        if rt.store is not None:
            try:
                await rt.states.flush(rt.store)
            except Exception as exc:  # the store being down must not kill the loop
                log.debug("latency flush failed: %s", exc)


@contextlib.asynccontextmanager
async def open_runtime(
    settings: GatewaySettings,
    *,
    hooks: Hooks | None = None,
    clock: Clock | None = None,
    metrics: GatewayMetrics | None = None,
) -> AsyncIterator[Runtime]:
    """Enter every connection owner, load the config, start background loops. Raises ConfigError
    when the config file is invalid and StoreUnavailableError when Redis cannot be reached."""
    hooks = hooks or Hooks()
    clock = clock or SystemClock()
    rt = Runtime(settings, clock, hooks, metrics or GatewayMetrics())
    async with AsyncExitStack() as stack:
        state_path = None if settings.redis_url else settings.state_path
        rt.store = await stack.enter_async_context(open_store(settings.redis_url, state_path=state_path))
        rt.keys = KeyServices.build(rt.store, master_key=settings.master_key_value(),
                                    pepper=settings.key_pepper.get_secret_value())
        rt.pool = await stack.enter_async_context(HttpPool())
        local = await stack.enter_async_context(LocalModels(settings.models_dir, rt.pool))
        backends = BackendFactory(rt.pool, local, hooks.env)
        extras = {"embedder": RuntimeEmbedder(rt.local_embedder, settings.models_dir), **hooks.selector_extras}
        ctx = SelectorContext(models_dir=settings.models_dir, store=rt.store, extras=extras)

        def build(config: GatewayConfig, version: int, source: str) -> ConfigSnapshot:
            return build_snapshot(config, version=version, source=source, loaded_at=clock.wall(),
                                  backends=backends, registry=hooks.registry, selector_context=ctx)

        rt.reloader = ConfigReloader(settings.config, build, clock, router_kinds=hooks.registry.kinds,
                                     on_result=rt._on_reload)
        first = rt.reloader.reload("startup")
        if not first.ok:
            raise ConfigError(list(first.problems))
        await rt.states.load(rt.store, list(rt.snapshot.deployments))
        stack.enter_context(rt.reloader.sighup())
        tasks: list[asyncio.Task[None]] = []
        if settings.reload_poll_s > 0:
            tasks.append(asyncio.create_task(rt.reloader.watch(settings.reload_poll_s), name="config-watch"))
        tasks.append(asyncio.create_task(_latency_flush(rt), name="latency-flush"))
        if settings.redis_url:  # every replica's dashboard reads all decisions from Redis
            tasks.append(asyncio.create_task(rt.decisions.mirror(rt.store), name="decision-mirror"))
        if settings.preload_local_models:
            for entry in rt.snapshot.deployments.values():
                if isinstance(entry.backend, LocalEdgeBackend) and entry.available:
                    tasks.append(asyncio.create_task(entry.backend.warm(), name=f"warm-{entry.name}"))
        for ext in hooks.extensions:
            await stack.enter_async_context(ext(rt))
        try:
            yield rt
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await rt.states.flush(rt.store)
