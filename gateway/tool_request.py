"""What a chat request says about tools, read cheaply (no tools_kb import): whether it asks for
tools from the knowledge base, and the names of the tools it carries; and the response headers
that say which tools were sent upstream.

``x-switchboard-tools-kept``: the names of the tools sent, in order, each percent-encoded (UTF-8;
RFC 3986 unreserved characters ``A-Z a-z 0-9 - . _ ~`` kept as they are, so a comma or any
non-ASCII character in a name is escaped) and joined by ``,``. It holds at most
:data:`KEPT_HEADER_MAX_BYTES` bytes, cut between names, never inside one.
``x-switchboard-tools-kept-count``: how many tools were sent; more than the names listed means
the list was cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

KB_HEADER = "x-switchboard-tool-kb"
KEPT_HEADER = "x-switchboard-tools-kept"
KEPT_COUNT_HEADER = "x-switchboard-tools-kept-count"
KEPT_HEADER_MAX_BYTES = 4096
_TRUE = {"1", "true", "yes", "on"}


def asks_for_kb(body: Mapping[str, Any], headers: Mapping[str, str] | None) -> bool:
    """True when the header ``x-switchboard-tool-kb`` or ``metadata.tool_kb`` is truthy."""
    if headers is not None and headers.get(KB_HEADER, "").strip().lower() in _TRUE:
        return True
    meta = body.get("metadata")
    if isinstance(meta, Mapping):
        flag = meta.get("tool_kb")
        return flag is True or (isinstance(flag, str) and flag.strip().lower() in _TRUE)
    return False


def tool_name(tool: Mapping[str, Any]) -> str:
    """An OpenAI tool's function name (or a bare ``name``)."""
    fn = tool.get("function")
    return str(fn.get("name", "")) if isinstance(fn, Mapping) else str(tool.get("name", ""))


def kept_headers(names: Sequence[str], max_bytes: int = KEPT_HEADER_MAX_BYTES) -> list[tuple[bytes, bytes]]:
    """The raw ``x-switchboard-tools-kept`` and ``x-switchboard-tools-kept-count`` response headers
    for the tools sent (module docstring): the encoded names that fit in ``max_bytes``, in order,
    and the full count."""
    listed: list[str] = []
    size = -1  # no comma before the first name
    for name in names:
        encoded = quote(name, safe="")  # only unreserved characters stay unescaped
        if size + 1 + len(encoded) > max_bytes:
            break
        listed.append(encoded)
        size += 1 + len(encoded)
    return [
        (KEPT_HEADER.encode(), ",".join(listed).encode("ascii")),
        (KEPT_COUNT_HEADER.encode(), str(len(names)).encode("ascii")),
    ]
