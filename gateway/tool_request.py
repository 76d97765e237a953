"""What a chat request says about tools, read cheaply (no tools_kb import): whether it asks for
tools from the knowledge base, and the names of the tools it carries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KB_HEADER = "x-switchboard-tool-kb"
KEPT_HEADER = "x-switchboard-tools-kept"
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
