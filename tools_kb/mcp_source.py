"""Load tools from MCP servers' tool lists with the official ``mcp`` client.

``server`` is a Streamable HTTP URL (``http://host:port/mcp``) or a command line for a stdio
server (``["python", "server.py"]``). Every page of ``tools/list`` is read; each MCP tool
becomes a :class:`Tool` (its ``inputSchema`` as ``parameters``), tagged ``mcp:<label>``.

The label is short, stable and holds no secret (any caller of the search API can read tags):
for a URL ``scheme://host[:port]/path`` (no user, password, query or fragment), for a command the
last path component of its script (``server.py``), of the module after ``-m``, or of the
executable. Messages show URLs with user info and query masked (:func:`redact_url`).

Failures, each naming the server and the innermost real cause (never an exception group):

- connection and protocol failures: :class:`core.errors.UpstreamUnavailableError`;
- no complete listing within ``timeout_s`` (connect + every page): :class:`UpstreamTimeoutError`;
- a listing that does not end (a cursor seen before, more than ``max_pages`` pages or
  ``max_tools`` tools): :class:`UpstreamBadResponseError`;
- a tool the server describes badly: ToolValidationError naming it.

A stdio server is a child process that lives only inside the call: the ``mcp`` stdio transport
stops it (stdin closed, then SIGTERM, then SIGKILL to its process group) when the client context
exits, also on timeout and on cancellation. It gets the ``mcp`` package's small default
environment (HOME, PATH, …) plus ``env``, never the caller's whole environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

from core.errors import (
    UpstreamBadResponseError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from tools_kb.tool import Tool, parse_tool

DEFAULT_TIMEOUT_S = 120.0  # a first `npx -y …` / `uvx …` start downloads the server package
MAX_PAGES = 1_000
MAX_TOOLS = 100_000

_MASK = "***"
_MAX_SEGMENT = 16  # a longer URL path segment may be a token: masked in labels and messages
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
# Interpreters and package runners: the script or package they run names the server.
_LAUNCHER = re.compile(
    r"(python[0-9.]*|pypy[0-9.]*|node|nodejs|deno|bun|bunx|npx|uv|uvx|pipx|sh|bash|zsh|ruby|perl|java)"
    r"(\.exe)?",
    re.IGNORECASE,
)
_SCRIPT_SUFFIX = re.compile(r"\.(py|pyz|js|mjs|cjs|ts|mts|sh|rb|pl|jar)$", re.IGNORECASE)


def _split_url(url: str) -> tuple[str, str, str, str]:
    """``(scheme_and_slashes, userinfo, host_and_path, query_and_fragment)``, split as RFC 3986
    reads it (the authority ends at the first ``/``, ``?`` or ``#``); pure text, so a URL that
    is not well formed still splits."""
    cut = min((i for i in (url.find("?"), url.find("#")) if i != -1), default=len(url))
    head, tail = url[:cut], url[cut:]
    sep = head.find("//")
    if sep == -1:
        return "", "", head, tail
    start = sep + 2
    slash = head.find("/", start)
    end = slash if slash != -1 else len(head)
    userinfo, at, host = head[start:end].rpartition("@")
    return head[:start], userinfo if at else "", host + head[end:], tail


def _safe_path(host_and_path: str) -> str:
    """Host and path with every path segment longer than :data:`_MAX_SEGMENT` masked: hosted
    MCP servers often put their access token in the path (``/api/mcp/s/<token>/mcp``)."""
    if not host_and_path.startswith("["):
        host, slash, path = host_and_path.partition("/")
    else:  # an IPv6 literal holds no "/": the path starts after "]"
        end = host_and_path.find("]") + 1
        host, slash, path = host_and_path[:end], host_and_path[end : end + 1], host_and_path[end + 1 :]
        if slash != "/":
            return host_and_path
    segments = [seg if len(seg) <= _MAX_SEGMENT else _MASK for seg in path.split("/")]
    return host + slash + "/".join(segments)


def redact_url(url: str) -> str:
    """The URL with its user info, query and fragment masked, and any long path segment, for
    messages: ``http://user:pw@host/mcp?key=1`` → ``http://***@host/mcp?***``."""
    scheme, userinfo, rest, tail = _split_url(url)
    if scheme:
        rest = _safe_path(rest)
    return scheme + (f"{_MASK}@" if userinfo else "") + rest + (tail[:1] + _MASK if tail else "")


def url_label(url: str) -> str:
    """``scheme://host[:port]/path`` of the URL: no user info, query or fragment, and path
    segments longer than :data:`_MAX_SEGMENT` characters masked (they may be tokens)."""
    scheme, _, rest, _ = _split_url(url.strip())
    return scheme + (_safe_path(rest) if scheme else rest)


def command_label(argv: Sequence[str]) -> str:
    """A short, stable name for a stdio server command: the last path component of the script
    it runs (``python /srv/x/server.py`` → ``server.py``), of the module after ``-m``, of a
    package path (``npx -y @org/server-github`` → ``server-github``), else of the executable.
    Other arguments (which may be secrets) never go into it: an argument that follows a long
    option (``--api-key VALUE``), is a URL, holds ``=`` (``TOKEN=…``) or whose last component
    holds a blank, ``@`` or ``:`` (``sh -c "…"``) is never used."""
    exe = os.path.basename(argv[0].rstrip("/\\")) or argv[0]
    if not _LAUNCHER.fullmatch(exe):
        return exe
    args = list(argv[1:])
    for i, arg in enumerate(args):
        if arg == "-m" and i + 1 < len(args) and _plain_name(args[i + 1]):
            return args[i + 1]
    plain = [
        a
        for i, a in enumerate(args)
        if not a.startswith("-") and not _option_value(args, i) and _plain_name(a)
    ]
    for arg in plain:
        if _SCRIPT_SUFFIX.search(arg):
            return _last_component(arg)
    for arg in plain:
        if "/" in arg or "\\" in arg:
            return _last_component(arg)
    return exe


def _option_value(args: Sequence[str], i: int) -> bool:
    """Whether ``args[i]`` may be the value of the long option before it (``--api-key KEY``;
    short options are mostly flags: ``npx -y pkg``)."""
    return i > 0 and args[i - 1].startswith("--") and "=" not in args[i - 1]


def _plain_name(arg: str) -> bool:
    """An argument that can name a server: not a URL (``mcp-remote https://user:pw@host/…``
    would put its credentials or path token in the tag), no ``=``, and a last path component
    without a blank, ``@`` or ``:`` (``postgresql://admin:pw@db``, ``user:token``)."""
    last = _last_component(arg)
    return "://" not in arg and "=" not in arg and not any(c.isspace() or c in "@:" for c in last)


def _last_component(path: str) -> str:
    return re.split(r"[/\\]", path.rstrip("/\\"))[-1] or path


def default_label(server: str | Sequence[str]) -> str:
    """The label a server gets when none is given (see the module docstring)."""
    return url_label(server) if isinstance(server, str) else command_label(server)


def _secrets_of(url: str) -> list[str]:
    """The user info and query parts of ``url`` (raw and percent-decoded), longest first."""
    _, userinfo, _, tail = _split_url(url)
    found = {userinfo, unquote(userinfo), tail[1:], unquote(tail[1:])}
    for part in userinfo.split(":"):
        found.update((part, unquote(part)))
    for key, value in parse_qsl(tail[1:].split("#", 1)[0], keep_blank_values=True):
        found.update((key + "=" + value, value))
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)


def _scrubbed(text: str, url: str | None) -> str:
    """``text`` with every URL in it redacted and the secrets of ``url`` masked."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    for secret in _secrets_of(url) if url else ():
        text = text.replace(secret, _MASK)
    return text


def _cause(exc: BaseException) -> BaseException:
    """The innermost real exception inside (nested) exception groups; cancellations, which
    the other tasks of a failing task group get, count only when nothing else is there."""
    import anyio

    cancelled = anyio.get_cancelled_exc_class()
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not isinstance(e, cancelled)] or list(exc.exceptions)
        exc = inner[0]
    return exc


def _describe(exc: BaseException, argv: Sequence[str] | None) -> str:
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED

    if isinstance(exc, MCPError):
        if exc.code == CONNECTION_CLOSED:
            gone = " (the server process exited or closed its output)" if argv else ""
            return f"connection closed{gone}"
        return exc.message or f"MCP error {exc.code}"
    if argv and isinstance(exc, OSError) and not isinstance(exc, ConnectionError) and exc.strerror:
        return f"cannot start {argv[0]!r}: {exc.strerror}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def tools_from_mcp(
    server: str | Sequence[str],
    *,
    label: str | None = None,
    tenants: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_pages: int = MAX_PAGES,
    max_tools: int = MAX_TOOLS,
) -> list[Tool]:
    """Connect, list every tool, disconnect; the tools are tagged ``mcp:<label>``
    (``label`` or :func:`default_label`).

    ``env``: variables for a stdio server on top of the ``mcp`` package's default whitelist.
    ``timeout_s`` bounds the whole call (start or connect, handshake, every page); the stdio
    server is stopped before it raises. Raises the errors listed in the module docstring;
    ``ValueError`` for an empty command or a ``timeout_s``/``max_pages``/``max_tools`` that is
    not positive. Cancellation stops the server too and propagates."""
    import anyio
    from mcp import Client, StdioServerParameters

    if not timeout_s > 0 or max_pages < 1 or max_tools < 1:  # (NaN is not > 0)
        raise ValueError("timeout_s, max_pages and max_tools must be positive")
    target: Any
    argv: list[str] | None = None
    if isinstance(server, str):
        target = server
    else:
        argv = list(server)
        if not argv or not argv[0]:
            raise ValueError("an MCP server command needs at least the executable")
        target = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(env) if env else None)
    name = label or default_label(server)
    url = server if isinstance(server, str) else None
    where = redact_url(url) if url is not None else name
    listed: list[Any] = []
    problem: str | None = None
    scope = anyio.move_on_after(timeout_s)
    try:
        with scope:
            async with Client(target, cache=None) as client:
                problem = await _list_every_page(client, listed, max_pages, max_tools)
    except Exception as exc:  # transport / protocol errors of any kind → our error
        error: type[UpstreamError] = UpstreamTimeoutError if scope.cancel_called else UpstreamUnavailableError
        why = _scrubbed(_describe(_cause(exc), argv), url)
        raise error(f"MCP server {where!r}: {why}") from exc
    if scope.cancelled_caught:
        raise UpstreamTimeoutError(
            f"MCP server {where!r}: no complete tool list within {timeout_s:g} s (timeout; "
            "--mcp-timeout S waits longer)"
        )
    if problem is not None:
        raise UpstreamBadResponseError(f"MCP server {where!r}: {problem}")
    out: list[Tool] = []
    for item in listed:
        raw: dict[str, Any] = {
            "name": item.name,
            "description": item.description or item.title or "",
            "parameters": item.input_schema or None,
            "tags": [f"mcp:{name}"],
        }
        if tenants is not None:
            raw["tenants"] = list(tenants)
        out.append(parse_tool(raw, where=f"mcp:{name}"))
    return out


async def _list_every_page(client: Any, listed: list[Any], max_pages: int, max_tools: int) -> str | None:
    """Append every page of ``tools/list`` to ``listed``; the reason to stop early, if any
    (returned, not raised, so that it does not come back wrapped in the client's task groups)."""
    cursor: str | None = None
    seen: set[str] = set()
    for page_no in range(1, max_pages + 1):
        page = await client.list_tools(cursor=cursor)
        listed.extend(page.tools)
        if len(listed) > max_tools:
            return f"tools/list gave more than {max_tools:,} tools; stopped after page {page_no}"
        cursor = page.next_cursor
        if not cursor:
            return None
        if cursor in seen:
            return f"tools/list page {page_no} repeats an earlier cursor ({cursor[:40]!r}); stopped"
        seen.add(cursor)
    return f"tools/list has more than {max_pages:,} pages; stopped"
