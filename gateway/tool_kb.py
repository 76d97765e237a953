"""The tool knowledge base in the served gateway: one :class:`ToolKBService` per process.

* Lifespan: :meth:`ToolKBService.extension` only remembers the runtime. Nothing is loaded at
  start-up: the first tool search / admin call / chat request that needs tool selection loads the
  runtime's shared embedder (``rt.local_embedder()``, the ONNX MiniLM), opens the catalog
  (``open_tool_kb``: Redis when ``SWITCHBOARD_REDIS_URL`` is set, else SQLite under ``var/``),
  seeds it from ``config/tools/`` when empty and starts ``kb.refresh_loop()`` so this replica
  follows catalog writes made by the others.
* An invalid file in ``config/tools/`` fails nothing but the searches of a catalog it should
  have seeded: the KB opens empty, the problems are logged (warning) and kept as
  :meth:`ToolKBService.problems` until the catalog is written (an admin upsert, any replica) or
  the folder changes and seeds it. Meanwhile ``POST /v1/tools/search`` and the ``search_tools``
  meta-tool answer 503 ``tool_catalog_unavailable`` (pointing admins to the list), chat requests that ask
  for KB tools are served without them (a warning per request), ``GET /admin/tools`` lists the
  problems and the admin routes keep working. Readiness is not affected: chat is served.
* HTTP: :meth:`router` mounts ``gateway.tools_api`` with the caller's key deciding the tenant
  (the master key may search as any tenant) and the admin routes behind the master key.
* Chat: the service is the runtime's ``hooks.tool_selector`` (E's ``ToolSelector.select``),
  counted in ``switchboard_tool_selection_tools_total``. Only a malformed request (400) fails
  the request; when selection itself fails (the KB or the embedder unavailable) the request is
  served without KB tools, its own tools ranked when possible, else sent unchanged.
* Agents: :meth:`find` is F's ``ToolCatalog`` (``kb_top_k`` / ``tag`` tool references) and
  :meth:`search_tools_tool` is the ``search_tools`` meta-tool as an agent tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from core.config.models import Policy, ToolRetrievalLLM
from core.errors import (
    ConfigError,
    InvalidRequestError,
    PermissionDeniedError,
    SwitchboardError,
    ToolCatalogUnavailableError,
)
from gateway.auth import ANONYMOUS_KEY_ID
from gateway.runtime import Runtime
from gateway.tool_request import asks_for_kb, tool_name

if TYPE_CHECKING:  # tools_kb's index imports bm25s (~0.2 s): loaded on first use only
    from agents.tools.base import AgentTool
    from gateway.tool_selection import ToolSelector
    from tools_kb.extras import EnhancementExtras
    from tools_kb.kb import ToolKB

log = logging.getLogger("switchboard.tools")


class ToolKBService:
    def __init__(
        self,
        *,
        seed_dir: str | Path = "config/tools",
        sqlite_path: str | Path = "var/tools_kb/catalog.sqlite",
        extras_interval_s: float = 30.0,
        refresh_interval_s: float = 2.0,
    ) -> None:
        self._seed_dir = Path(seed_dir)
        self._refresh_interval_s = refresh_interval_s  # how often to poll for other replicas' writes
        self._sqlite_path = str(sqlite_path)
        self._extras_interval_s = extras_interval_s  # learned/enhanced texts: rebuild at most this often
        self._rt: Runtime | None = None
        self._kb: ToolKB | None = None
        self._selector: ToolSelector | None = None
        self._selector_kb: ToolSelector | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._llm_config: ToolRetrievalLLM | None = None
        self._learning: set[asyncio.Task[None]] = set()
        self._enhancement: EnhancementExtras | None = None
        self._enhancing: asyncio.Task[None] | None = None
        self._seed_problems: tuple[str, ...] = ()  # config/tools/ could not seed the empty catalog
        self._seed_state: object = None  # the seed folder's files when the seed was last tried

    # -- lifespan -------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def extension(self, rt: Runtime) -> AsyncIterator[ToolKBService]:
        self._rt = rt
        try:
            yield self
        finally:
            if self._refresh is not None:
                self._refresh.cancel()
                await asyncio.gather(self._refresh, return_exceptions=True)
            await asyncio.gather(*self._learning, return_exceptions=True)
            await self._stop_enhancing()
            if self._kb is not None:
                await self._kb.__aexit__(None, None, None)
            self._rt, self._kb, self._refresh = None, None, None
            self._selector = self._selector_kb = None

    def _runtime(self) -> Runtime:
        if self._rt is None:
            raise RuntimeError("tool KB used before the gateway lifespan started")
        return self._rt

    async def kb(self) -> ToolKB:
        """The process's ToolKB, opened (and seeded) on first use; its language-model stages
        follow the config's ``tools.llm`` (re-read on every call, so a reload applies). An
        invalid seed folder does not fail it (see :meth:`problems`); raises the store's errors
        (StoreUnavailableError) and the embedder's (LocalModelError)."""
        if self._kb is not None:
            if self._seed_problems:
                await self._retry_seed(self._kb)
            self._sync_llm(self._kb)
            return self._kb
        async with self._lock:
            if self._kb is None:
                from tools_kb.extras import CombinedExtras, EnhancementExtras
                from tools_kb.kb import open_tool_kb
                from tools_kb.learned_examples import LearnedExamples

                rt = self._runtime()
                self._enhancement = EnhancementExtras()
                embedder = await rt.local_embedder()
                assert rt.store is not None
                per_tool = rt.snapshot.config.tools.learned_examples_per_tool
                kb = open_tool_kb(
                    embedder,
                    redis_url=rt.settings.redis_url,
                    sqlite_path=self._sqlite_path,
                    refresh_interval_s=self._refresh_interval_s,
                    extras_interval_s=self._extras_interval_s,
                    extras=CombinedExtras(
                        LearnedExamples(rt.store, max_per_tool=per_tool),
                        self._enhancement,
                    ),
                )
                await kb.__aenter__()
                try:
                    await self._seed(kb)
                except BaseException:
                    await kb.__aexit__(None, None, None)
                    raise
                self._refresh = asyncio.create_task(kb.refresh_loop(), name="tool-kb-refresh")
                self._kb = kb
            self._sync_llm(self._kb)
            return self._kb

    def problems(self) -> Sequence[str]:
        """Why the catalog cannot serve searches: the seed folder's problems (``file:line:col:
        tools[i]: tool 'x': field: problem``) while the catalog was never written; () otherwise."""
        if self._seed_problems and self._kb is not None and self._kb.version > 0:
            self._seed_problems = ()  # written since (admin upsert, another replica): seeding is moot
        return self._seed_problems

    async def searchable_kb(self) -> ToolKB:
        """:meth:`kb` for searches. Raises ToolCatalogUnavailableError (503) while
        :meth:`problems` says the catalog cannot serve them."""
        kb = await self.kb()
        if found := self.problems():
            raise ToolCatalogUnavailableError(found)
        return kb

    async def _seed(self, kb: ToolKB) -> None:
        """Seed an empty catalog from the seed folder; an invalid folder leaves it empty and is
        remembered (:meth:`problems`) and logged. Raises only the store's and embedder's errors."""
        from tools_kb.kb import seed_if_empty

        self._seed_state = await asyncio.to_thread(_folder_state, self._seed_dir)
        try:
            seeded = await seed_if_empty(kb, self._seed_dir)
        except ConfigError as exc:
            self._seed_problems = (
                f"{self._seed_dir} could not seed the empty catalog (fix the files, or add tools "
                "with POST /admin/tools)",
                *exc.problems,
            )
            log.warning("tool catalog left empty: %s", "\n".join(self._seed_problems))
            return
        self._seed_problems = ()
        if seeded:
            log.info("tool catalog seeded with %d tools from %s", seeded, self._seed_dir)

    async def _retry_seed(self, kb: ToolKB) -> None:
        """Seed again when the seed folder's files changed since the last try."""
        if not self.problems():
            return
        state = await asyncio.to_thread(_folder_state, self._seed_dir)
        async with self._lock:
            if self._seed_problems and state != self._seed_state:
                await self._seed(kb)

    def _sync_llm(self, kb: ToolKB) -> None:
        """Point the KB's language-model stages at the routed backend per ``tools.llm``."""
        rt = self._runtime()
        cfg = rt.snapshot.config.tools.llm
        if cfg == self._llm_config:
            return
        self._llm_config = cfg
        if self._enhancing is not None and (cfg is None or not cfg.enhance):
            self._enhancing.cancel()
            self._enhancing = None
        if cfg is None:
            kb.configure_llm(None)
            return
        from tools_kb.llm_stages import LLMStages, LLMStageSettings
        from tools_kb.search_pipeline import PipelineSettings

        stages = LLMStages(
            rt.dispatcher, LLMStageSettings(model=cfg.model, timeout_s=cfg.timeout_s), clock=rt.clock
        )
        kb.configure_llm(
            stages,
            PipelineSettings(decompose=cfg.decompose, rerank=cfg.rerank, rerank_depth=cfg.rerank_depth),
        )
        log.info("tool retrieval LLM stages %s through %r", kb.llm_stages, cfg.model)
        if cfg.enhance:
            if self._enhancing is not None:
                self._enhancing.cancel()
            self._enhancing = asyncio.get_running_loop().create_task(
                self._enhance(kb, cfg), name="tool-enhance"
            )

    async def _enhance(self, kb: ToolKB, cfg: ToolRetrievalLLM) -> None:
        """Keep the catalog enhanced: enhance every tool (cached ones are free), then again each
        time the catalog version changes. Runs until cancelled; errors are logged and retried."""
        from tools_kb.enhance import Enhancer
        from tools_kb.enhance_cache import EnhancementCache

        rt = self._runtime()
        enhancer = Enhancer(
            rt.dispatcher,
            EnhancementCache(Path(self._sqlite_path).parent / "enhance.json"),
            model=cfg.model,
            clock=rt.clock,
        )
        done_version = -1
        while True:
            try:
                if kb.version != done_version and self._enhancement is not None:
                    version = kb.version
                    await self._enhancement.update(enhancer, await kb.tools())
                    done_version = version
                    log.info(
                        "tool catalog v%d enhanced (%d asked, %d failed)",
                        version,
                        enhancer.asked,
                        enhancer.failed,
                    )
            except Exception:  # keep serving; try again on the next round
                log.exception("tool enhancement failed")
            await asyncio.sleep(5.0)

    async def _stop_enhancing(self) -> None:
        task, self._enhancing = self._enhancing, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- learning from logs (gateway.runtime.Hooks.tool_learner) ---------------------------------
    def learn(self, body: Mapping[str, Any], tenant: str) -> None:
        """Add the user request of each successful tool call in ``body`` (the latest round) to
        that tool's examples, in the background; a catalog tool the tenant cannot see, or a
        tool not in the catalog, teaches nothing. Never raises."""
        from gateway.tool_learning import successful_tool_calls

        messages = body.get("messages")
        pairs = successful_tool_calls(messages) if isinstance(messages, list) else []
        if not pairs or self._rt is None:
            return
        task = asyncio.get_running_loop().create_task(self._learn(pairs, tenant), name="tool-learn")
        self._learning.add(task)
        task.add_done_callback(self._learning.discard)

    async def _learn(self, pairs: list[tuple[str, str]], tenant: str) -> None:
        from tools_kb.learned_examples import LearnedExamples

        try:
            kb = await self.kb()
            rt = self._runtime()
            assert rt.store is not None
            examples = LearnedExamples(
                rt.store, max_per_tool=rt.snapshot.config.tools.learned_examples_per_tool
            )
            for query, name in pairs:
                tool = kb.index.get(name)
                if tool is not None and tool.visible_to(tenant) and await examples.add(name, query):
                    rt.metrics.tool_examples_learned.inc()
        except Exception:  # learning is best effort: it must never fail or slow a request
            log.exception("learning from a tool call failed")

    # -- chat path (gateway.runtime.ToolSelector) --------------------------------------------------
    def wanted(self, body: Mapping[str, Any], policy: Policy, headers: Mapping[str, str]) -> bool:
        tools = body.get("tools")
        if isinstance(tools, list) and len(tools) > policy.max_tools:
            return True
        return asks_for_kb(body, headers)

    async def __call__(
        self, body: dict[str, Any], policy: Policy, headers: Mapping[str, str], tenant: str
    ) -> tuple[dict[str, Any], Sequence[str]]:
        """The body to send and the names of its tools. Raises InvalidRequestError (400) for a
        malformed request tool or a repeated function name, nothing else: a selection failure
        must not fail the request."""
        try:
            selector = await self._usable_selector(asks_for_kb(body, headers))
            sel = await selector.select(body, policy, headers=headers, tenant=tenant)
        except InvalidRequestError:
            raise  # a malformed request tool: 400 naming tool and field
        except Exception:  # send the tools as given
            log.exception("tool selection failed; sending the request's tools unchanged")
            return body, [tool_name(t) for t in body.get("tools") or [] if isinstance(t, Mapping)]
        self._runtime().metrics.tools_selected(policy.name, len(sel.kept), sel.dropped, sel.added)
        return sel.body, sel.kept

    async def _usable_selector(self, with_kb: bool) -> ToolSelector:
        """The selector with the KB when asked for and it can serve, else (a warning) the one
        over the request's own tools. Raises the embedder's errors."""
        if with_kb:
            try:
                return await self._selector_for(True)
            except Exception as exc:  # the catalog or its store: the request is served without it
                log.warning("request served without KB tools: %s", exc)
        return await self._selector_for(False)

    async def _selector_for(self, with_kb: bool) -> ToolSelector:
        """Raises ToolCatalogUnavailableError (``with_kb``, see :meth:`problems`) and the KB's and
        embedder's errors."""
        from gateway.tool_selection import ToolSelector

        if with_kb:
            kb = await self.searchable_kb()  # also applies a reloaded tools.llm to the KB
            if self._selector_kb is None:
                self._selector_kb = ToolSelector(await self._runtime().local_embedder(), kb)
            return self._selector_kb
        if self._selector is None:  # the request's own tools only: the catalog is not opened
            self._selector = ToolSelector(await self._runtime().local_embedder())
        return self._selector

    # -- HTTP ------------------------------------------------------------------------------------
    def router(self) -> APIRouter:
        from gateway.dashboard.api import require_admin
        from gateway.tools_api import tools_api

        async def tenant_of(request: Request, asked: str | None) -> str | None:
            rt: Runtime = request.app.state.runtime
            assert rt.keys is not None
            principal = await rt.keys.auth.authenticate(request.headers.get("authorization"))
            if asked is None or asked == principal.tenant:
                return str(principal.tenant)
            # the master key may search as any tenant; so may an anonymous caller of an open
            # gateway (no master key), which may read every tool through /admin/tools anyway
            if principal.is_master or principal.key_id == ANONYMOUS_KEY_ID:
                return asked
            raise PermissionDeniedError(
                f"This key searches as tenant {principal.tenant!r}; only the master key may search "
                "as another tenant."
            )

        async def admin_guard(request: Request) -> None:
            await require_admin(request)

        return tools_api(self.kb, tenant_of=tenant_of, admin_guard=admin_guard, problems=self.problems)

    # -- agents (agents.tools.ToolCatalog + the search_tools meta-tool) ----------------------------
    async def find(
        self, query: str, k: int, *, tag: str | None = None, tenant: str | None = None
    ) -> list[str]:
        kb = await self.kb()
        if tag is None:
            return [h.name for h in await kb.search(query, k=k, tenant=tenant)]
        hits = await kb.search(query, k=len(kb.index), tenant=tenant)
        return [h.name for h in hits if tag in h.tool.tags][:k]

    def search_tools_tool(self) -> AgentTool:
        from agents.tools.base import FunctionTool, ToolCallError, ToolContext
        from tools_kb.meta_tool import SEARCH_TOOLS, run_search_tools

        async def call(arguments: Mapping[str, Any], ctx: ToolContext) -> str:
            import orjson

            try:
                result = await run_search_tools(
                    await self.searchable_kb(), dict(arguments), tenant=ctx.tenant
                )
            except SwitchboardError as exc:
                raise ToolCallError(str(exc)) from exc
            return orjson.dumps(result).decode()

        fn = SEARCH_TOOLS["function"]
        return FunctionTool(fn["name"], fn["description"], call, parameters=fn["parameters"])


def _folder_state(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """The files of ``folder`` (name, mtime, size): a change means the seed may succeed now."""
    try:
        entries = list(folder.iterdir())
    except OSError:  # no folder (yet), or unreadable
        return ()
    state = []
    for entry in entries:
        try:
            st = entry.stat()
        except OSError:  # gone since the listing (an editor's temporary file)
            continue
        state.append((entry.name, st.st_mtime_ns, st.st_size))
    return tuple(sorted(state))
