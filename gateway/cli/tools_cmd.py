"""``switchboard tools``: the tool knowledge base from the command line.

    switchboard tools eval --catalog CATALOG.jsonl --queries QUERIES.jsonl [--k 5] [--llm] --json
    switchboard tools search "query" [--catalog NAME|FILE] [--k 5] [--tenant T] [--json]
    switchboard tools add FILE... | --mcp "python server.py" | --mcp-url http://host/mcp
        [--mcp-label NAME] [--mcp-env NAME[=VALUE]]... [--mcp-timeout S]
    switchboard tools list | remove NAME...

The stored catalog is the SQLite file ``--db`` (default var/tools_kb/catalog.sqlite) or Redis
when ``SWITCHBOARD_REDIS_URL`` / ``--redis-url`` is set — the same store the gateway reads.
``search --catalog`` takes a file, or a NAME from config/tools/ (NAME.yaml / NAME.jsonl).

``eval`` builds a fresh index from the catalog alone (every tool public: tenant lists are dropped,
with a warning) and prints n, recall@1/5/10, ndcg@5/10 and sufficiency@5/10. Without ``--llm`` no
language model is used.

Bad arguments exit with 2 (argparse); bad files and an unusable store print one line on stderr and
exit with 1 (the store's as ``switchboard: error: tool catalog (sqlite PATH): …``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import shlex
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from core.embedders.manifest import default_models_dir
from gateway.cli.catalog_store import CatalogStoreError, opened_catalog_store

DEFAULT_CACHE = Path("var/tools_kb/vectors.sqlite")
DEFAULT_DB = Path("var/tools_kb/catalog.sqlite")
DEFAULT_ENHANCE_CACHE = Path("var/tools_kb/enhance.json")
CONFIG_TOOLS = Path("config/tools")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    ev = sub.add_parser("eval", help="evaluate retrieval on a catalog and a labelled query file")
    ev.add_argument("--catalog", required=True, type=Path)
    ev.add_argument("--queries", required=True, type=Path)
    ev.add_argument(
        "--k",
        type=_at_least_one,
        default=5,
        help="kept for compatibility: each query is ranked max(k, 10) deep and the metrics are fixed "
        "at @1, @5 and @10, so k does not change what is measured",
    )
    ev.add_argument("--llm", action="store_true", help="enhance tool documents with the configured model")
    ev.add_argument(
        "--llm-base-url", default=None, help="OpenAI-compatible server (default: the local SmolLM2)"
    )
    ev.add_argument("--llm-model", default=None, help="model name at --llm-base-url")
    ev.add_argument("--llm-api-key-env", default=None, help="env var holding the server's API key")
    ev.add_argument("--llm-gguf", default="smollm2", help="local model when no --llm-base-url")
    ev.add_argument(
        "--llm-cache", type=Path, default=DEFAULT_ENHANCE_CACHE, help="enhancement cache ('' = none)"
    )
    ev.add_argument("--json", action="store_true", help="print only the JSON metrics")
    ev.add_argument(
        "--method",
        default="auto",
        help="auto (default) | dense | bm25 | rrf | weighted:W (W = dense share, 0 to 1)",
    )
    ev.add_argument("--no-decompose", action="store_true", help="auto without multi-intent decomposition")
    ev.add_argument(
        "--strict",
        action="store_true",
        help="reject a catalog with any invalid tool (as `tools add` does) instead of dropping "
        "the invalid parts with a warning",
    )
    _embedder_args(ev)

    se = sub.add_parser("search", help="search the catalog")
    se.add_argument("query", type=_non_blank)
    se.add_argument(
        "--catalog", help="a catalog file, or a NAME in config/tools/; default: the stored catalog"
    )
    se.add_argument("--k", type=_at_least_one, default=5, help="hits to show (at least 1)")
    se.add_argument("--tenant", default=None)
    se.add_argument("--adaptive", action="store_true", help="cut the list where scores drop")
    se.add_argument("--json", action="store_true")
    _embedder_args(se)
    _store_args(se)

    add = sub.add_parser("add", help="validate tool definitions and store them (upsert by name)")
    add.add_argument("files", nargs="*", type=Path)
    add.add_argument(
        "--mcp",
        action="append",
        default=[],
        type=_mcp_command,
        metavar="COMMAND",
        help="stdio MCP server command line, split as a POSIX shell does (quote a path with spaces)",
    )
    add.add_argument(
        "--mcp-url",
        action="append",
        default=[],
        type=_non_blank,
        metavar="URL",
        help="Streamable HTTP MCP server URL",
    )
    add.add_argument(
        "--mcp-label",
        type=_mcp_label,
        default=None,
        metavar="NAME",
        help="tag the MCP tools mcp:NAME (every --mcp/--mcp-url of this command; default: "
        "scheme://host:port/path of a URL, the script or executable name of a command)",
    )
    add.add_argument(
        "--mcp-env",
        action="append",
        default=[],
        type=_mcp_env,
        metavar="NAME[=VALUE]",
        help="pass the variable NAME from this environment (or NAME=VALUE) to every --mcp server; "
        "they get only HOME, LOGNAME, PATH, SHELL, TERM and USER otherwise",
    )
    add.add_argument(
        "--mcp-timeout",
        type=_seconds,
        default=None,
        metavar="S",
        help="give up on an MCP server that has not listed all its tools in S seconds (default 120)",
    )
    add.add_argument(
        "--tenant", action="append", default=None, type=_tenant, help="make the added tools private to it"
    )
    _store_args(add)

    ls = sub.add_parser("list", help="list the stored catalog")
    ls.add_argument("--json", action="store_true")
    _store_args(ls)

    rm = sub.add_parser("remove", help="remove tools by name")
    rm.add_argument("names", nargs="+")
    _store_args(rm)


def _tenant(value: str) -> str:
    """A ``--tenant`` value: a tenant name, not blank (a tool private to "" is visible to no one)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must name a tenant")
    return value.strip()


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=DEFAULT_DB)
    p.add_argument("--redis-url", default=os.environ.get("SWITCHBOARD_REDIS_URL") or None)


def _embedder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", type=Path, default=default_models_dir())
    p.add_argument("--embedder", choices=("auto", "onnx", "st"), default="auto")
    p.add_argument("--vector-cache", type=Path, default=DEFAULT_CACHE, help="'' disables the cache")
    p.add_argument(
        "--build-threads",
        type=_at_least_one,
        default=None,
        help="ONNX sessions embedding the catalog in parallel (default: one per CPU; queries: one)",
    )


def _at_least_one(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _mcp_command(text: str) -> list[str]:
    """A ``--mcp`` value: a command line split as a POSIX shell does (no expansion)."""
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a valid command line: {exc}") from None
    if not argv:
        raise argparse.ArgumentTypeError("must name the server's command")
    return argv


def _mcp_label(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty or blank")
    return text.strip()


def _mcp_env(text: str) -> tuple[str, str]:
    """A ``--mcp-env`` value: NAME (taken from this environment; it must be set) or NAME=VALUE."""
    name, eq, value = text.partition("=")
    if not name or any(c.isspace() or c == "\0" for c in name):
        raise argparse.ArgumentTypeError("must be NAME or NAME=VALUE")
    if not eq:
        if name not in os.environ:
            raise argparse.ArgumentTypeError(f"{name} is not set in this environment")
        value = os.environ[name]
    return name, value


def _seconds(text: str) -> float:
    """argparse type: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not (0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"must be above 0 and finite, got {text!r}")
    return value


def _non_blank(text: str) -> str:
    """argparse type: text that is not empty or only blanks (as the search API asks)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty or blank")
    return text


def run(args: argparse.Namespace) -> int:
    for key, value in (
        ("OMP_NUM_THREADS", "1"),
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ):
        os.environ.setdefault(key, value)
    handler = {"eval": _eval, "search": _search, "add": _add, "list": _list, "remove": _remove}[args.action]
    try:
        return asyncio.run(handler(args))
    except CatalogStoreError as exc:
        print(f"switchboard: error: {exc}", file=sys.stderr)
        return 1


def _optional_path(value: Path | str | None) -> Path | None:
    """A path option where '' means "none" (argparse's ``type=Path`` turns '' into '.')."""
    if value is None or str(value) in ("", "."):
        return None
    return Path(value)


def _embedder(args: argparse.Namespace) -> Any:
    from tools_kb.embedders import local_embedder

    cache = _optional_path(args.vector_cache)
    return local_embedder(args.models_dir, prefer=args.embedder, cache=cache)


def _build_embedder(args: argparse.Namespace, query_embedder: Any) -> Any:
    """Catalog embedding on ``--build-threads`` ONNX sessions (same vectors as the queries')."""
    from tools_kb.embedders import build_embedder

    if args.embedder == "st":
        return query_embedder
    cache = _optional_path(args.vector_cache)
    return build_embedder(args.models_dir, query_embedder, threads=args.build_threads, cache=cache)


async def _eval(args: argparse.Namespace) -> int:
    from core.errors import ConfigError, SwitchboardError
    from tools_kb.evaluation import evaluate_catalog, method_fusion, public_tools, read_queries, unknown_gold
    from tools_kb.loaders import load_tools_file, load_tools_repairing
    from tools_kb.metrics import METRIC_KEYS

    try:  # checked before the (long) build
        method_fusion(args.method)
    except ValueError as exc:
        print(f"--method: {exc}", file=sys.stderr)
        return 1
    try:
        if args.strict:
            tools = load_tools_file(args.catalog)
        else:
            tools, notes = load_tools_repairing(args.catalog)
            _warn_repairs(args.catalog, notes)
        # The queries reach nothing until the index exists.
        queries = read_queries(args.queries)
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    tools, private = public_tools(tools)
    if private:
        print(
            f"warning: {args.catalog}: {private} tools have tenants; the eval measures the whole "
            "catalog, so they are evaluated as public",
            file=sys.stderr,
        )
    affected, missing = unknown_gold(queries, (t.name for t in tools))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" …" if len(missing) > 5 else "")
        print(
            f"warning: {affected} of {len(queries)} queries name gold tools that are not in "
            f"{args.catalog} ({len(missing)}: {shown}); they count as misses",
            file=sys.stderr,
        )
    extras = None
    if args.llm:
        try:
            extras = await _enhancement_texts(args, tools)
        except SwitchboardError as exc:
            print(f"--llm: {exc.message}", file=sys.stderr)
            return 1
    started = time.perf_counter()
    embedder = _embedder(args)
    metrics, index = await evaluate_catalog(
        tools,
        queries,
        embedder,
        k=args.k,
        method=args.method,
        decompose=False if args.no_decompose else None,
        extras=extras,
        build_embedder=_build_embedder(args, embedder),
    )
    out = {key: metrics[key] for key in METRIC_KEYS}
    out["n"] = int(out["n"])
    if args.json:
        print(json.dumps(out))
    else:
        print(f"catalog: {args.catalog} ({len(tools)} tools), queries: {args.queries}")
        print(f"fusion: {index.fusion.describe()} — {index.fusion.reason}")
        if index.tuning is not None:
            print(f"decomposition: {index.tuning.decomposition}")
        for key, value in out.items():
            print(f"  {key:15s} {value}")
        print(f"({time.perf_counter() - started:.1f} s)")
    return 0


def _warn_repairs(catalog: Path, notes: list[str], shown: int = 10) -> None:
    """One stderr line per repaired or skipped record (the first ``shown``), then a count."""
    if not notes:
        return
    for note in notes[:shown]:
        print(f"warning: {note}", file=sys.stderr)
    more = f" ({len(notes) - shown} more not shown)" if len(notes) > shown else ""
    print(
        f"warning: {catalog}: {len(notes)} invalid parts dropped or records skipped{more}; "
        "--strict rejects such a catalog instead",
        file=sys.stderr,
    )


async def _enhancement_texts(args: argparse.Namespace, tools: list[Any]) -> dict[str, tuple[str, ...]]:
    """Topics + example queries per tool from the configured model (cached under var/), as
    extra index texts. The model sees the tool documents only."""
    from gateway.providers.http_pool import HttpPool
    from gateway.providers.local_llama import LocalLlamaServer
    from gateway.providers.openai_compat import OpenAICompatBackend
    from tools_kb.enhance import Enhancer, extra_texts
    from tools_kb.enhance_cache import EnhancementCache

    cache = EnhancementCache(_optional_path(args.llm_cache))
    started = time.perf_counter()
    async with HttpPool() as pool:
        if args.llm_base_url:
            model = args.llm_model or "default"
            key = os.environ.get(args.llm_api_key_env) if args.llm_api_key_env else None
            backend = OpenAICompatBackend(
                "enhance", base_url=args.llm_base_url, model=model, pool=pool, api_key=key
            )
            enhancer = Enhancer(backend, cache, model=model)
            enhanced = await enhancer.enhance(tools)
        else:
            async with contextlib.AsyncExitStack() as stack:
                local = LocalLlamaServer(args.llm_gguf)
                model = local.model_name
                enhancer = Enhancer(_LazyLocalBackend(local, pool, stack), cache, model=model)
                enhanced = await enhancer.enhance(tools)
    if not args.json:
        print(
            f"enhancement ({model}): {len(enhanced)}/{len(tools)} tools, {enhancer.asked} asked, "
            f"{enhancer.failed} failed, {time.perf_counter() - started:.0f} s; cache {cache.path}",
            file=sys.stderr,
        )
    return extra_texts(enhanced)


class _LazyLocalBackend:
    """ChatBackend over the local llama.cpp server, started on the first call only (a fully
    cached enhancement run starts no model). Stopped when ``stack`` closes."""

    def __init__(self, server: Any, pool: Any, stack: contextlib.AsyncExitStack) -> None:
        self._server = server
        self._pool = pool
        self._stack = stack
        self._inner: Any = None

    async def _backend(self) -> Any:
        if self._inner is None:
            from gateway.providers.openai_compat import OpenAICompatBackend

            await self._stack.enter_async_context(self._server)
            self._inner = OpenAICompatBackend(
                "enhance", base_url=self._server.base_url, model=self._server.model_name, pool=self._pool
            )
        return self._inner

    async def complete(self, request: Any, deadline: Any) -> Any:
        return await (await self._backend()).complete(request, deadline)

    async def stream(self, request: Any, deadline: Any) -> AsyncIterator[dict[str, Any]]:
        async for chunk in (await self._backend()).stream(request, deadline):
            yield chunk

    async def aclose(self) -> None:
        return None


def _catalog_file(name: str) -> Path:
    path = Path(name)
    if path.is_file():
        return path
    for suffix in (".yaml", ".yml", ".jsonl", ".ndjson", ".json"):
        candidate = CONFIG_TOOLS / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no catalog file {name!r} and no {CONFIG_TOOLS}/{name}.yaml|.jsonl")


def _config_tools(load: Any) -> list[Any]:
    """The shipped config/tools/ catalog (when the store is empty)."""
    return list(load(CONFIG_TOOLS)) if CONFIG_TOOLS.is_dir() else []


async def _search(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from tools_kb.index import ToolIndex
    from tools_kb.loaders import load_tools_dir, load_tools_file
    from tools_kb.search_options import SearchOptions

    try:
        if args.catalog:
            tools = load_tools_file(_catalog_file(args.catalog))
        else:
            async with opened_catalog_store(args.redis_url, args.db) as store:
                tools = (await store.load())[1]
            if not tools:
                tools = _config_tools(load_tools_dir)
    except (ConfigError, FileNotFoundError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    embedder = _embedder(args)
    index = await ToolIndex.build(tools, _build_embedder(args, embedder), query_embedder=embedder)
    options = SearchOptions(min_score_ratio=0.6 if args.adaptive else None)
    hits = await index.search(args.query, args.k, args.tenant, options)
    if args.json:
        print(
            json.dumps([{"name": h.name, "score": round(h.score, 6), "needed_by": h.needed_by} for h in hits])
        )
        return 0
    print(f"{len(tools)} tools, fusion {index.fusion.describe()}, decomposition {index.split}")
    for rank, h in enumerate(hits, start=1):
        why = f"  (needed by {h.needed_by})" if h.needed_by else ""
        print(f"{rank:3d}. {h.score:8.4f}  {h.name}{why}  — {h.tool.description[:90]}")
    return 0


async def _add(args: argparse.Namespace) -> int:
    from core.errors import ConfigError, SwitchboardError
    from tools_kb.loaders import load_tools_file
    from tools_kb.mcp_source import tools_from_mcp
    from tools_kb.tool import Tool

    servers: list[str | list[str]] = [*args.mcp, *args.mcp_url]
    misuse = None
    if not servers and (args.mcp_label is not None or args.mcp_timeout is not None):
        misuse = "--mcp-label and --mcp-timeout need an --mcp or --mcp-url"
    elif args.mcp_env and not args.mcp:
        misuse = "--mcp-env needs an --mcp (a stdio server)"
    if misuse:
        print(f"switchboard tools add: error: {misuse}", file=sys.stderr)
        return 2
    options: dict[str, Any] = {"label": args.mcp_label, "tenants": args.tenant, "env": dict(args.mcp_env)}
    if args.mcp_timeout is not None:
        options["timeout_s"] = args.mcp_timeout
    tools: list[Tool] = []
    stopped: list[signal.Signals] = []
    try:
        for path in args.files:
            tools.extend(load_tools_file(path))
        async with _stopped_by_signals(stopped):
            for server in servers:
                tools.extend(await tools_from_mcp(server, **options))
    except (SwitchboardError, asyncio.CancelledError) as exc:
        if not stopped:  # after a signal, whatever the interrupted listing raised means "stopped"
            if isinstance(exc, asyncio.CancelledError):
                raise
            print(exc.message, file=sys.stderr)
            if isinstance(exc, ConfigError):
                print("nothing was stored", file=sys.stderr)
            return 1
    if stopped:
        print(f"stopped by {stopped[0].name}; nothing was stored", file=sys.stderr)
        return 128 + stopped[0].value
    if args.tenant is not None and args.files:
        tools = [dataclasses.replace(t, tenants=frozenset(args.tenant)) for t in tools]
    names = [t.name for t in tools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        print(f"tools defined more than once: {dupes}; nothing was stored", file=sys.stderr)
        return 1
    if not tools:
        print("no tools given", file=sys.stderr)
        return 2
    async with opened_catalog_store(args.redis_url, args.db) as store:
        version = await store.upsert(tools)
    print(f"stored {len(tools)} tools; catalog version {version}")
    return 0


@contextlib.asynccontextmanager
async def _stopped_by_signals(received: list[signal.Signals]) -> AsyncIterator[None]:
    """While inside, SIGTERM and SIGHUP cancel the current task instead of ending the process
    at once, so the MCP client contexts exit and stop the stdio servers they started (those run
    in their own process group and would outlive us). The signal is appended to ``received``."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def stop(sig: signal.Signals) -> None:
        if not received and task is not None:
            received.append(sig)
            task.cancel()

    installed: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            before = signal.getsignal(sig)
            if before == signal.SIG_IGN:  # ignored on purpose (nohup): leave it so
                continue
            loop.add_signal_handler(sig, stop, sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            continue
        installed[sig] = before
    try:
        yield
    finally:
        for sig, before in installed.items():
            loop.remove_signal_handler(sig)
            if before is not None:  # remove_signal_handler leaves SIG_DFL, not what was there
                signal.signal(sig, before)
        if received and task is not None:
            task.uncancel()


async def _list(args: argparse.Namespace) -> int:
    async with opened_catalog_store(args.redis_url, args.db) as store:
        version, tools = await store.load()
    if args.json:
        print(json.dumps({"version": version, "tools": [t.to_json() for t in tools]}))
        return 0
    print(f"catalog version {version}: {len(tools)} tools")
    for t in tools:
        scope = "" if t.tenants is None else f"  [tenants: {', '.join(sorted(t.tenants))}]"
        print(f"  {t.name}{scope} — {t.description[:80]}")
    return 0


async def _remove(args: argparse.Namespace) -> int:
    names = list(dict.fromkeys(args.names))  # a name given twice is one tool
    async with opened_catalog_store(args.redis_url, args.db) as store:
        known = {t.name for t in (await store.load())[1]}
        missing = [n for n in names if n not in known]
        version = None if missing else await store.remove(names)
    if version is None:
        print(f"unknown tools: {missing}; nothing removed", file=sys.stderr)
        return 1
    print(f"removed {len(names)}; catalog version {version}")
    return 0
