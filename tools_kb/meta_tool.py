"""The ``search_tools`` meta-tool: lets an agent look tools up in the knowledge base itself.

Give the model ``SEARCH_TOOLS`` (an OpenAI tool definition); when it calls it, run
:func:`run_search_tools` with the call's arguments and hand the result back as the tool message.
The result lists the matching tools' OpenAI schemas, ready to be added to the next request.
"""

from __future__ import annotations

import json
from typing import Any

from core.errors import InvalidRequestError
from tools_kb.index import SearchHit
from tools_kb.kb import ToolKB

MAX_K = 20

SEARCH_TOOLS: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "search_tools",
        "description": (
            "Search the tool catalog for tools that can do a task. Describe the task in plain words; "
            "the result lists matching tools with their parameters, best match first."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What you need a tool for"},
                "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "description": "How many tools"},
            },
            "required": ["query"],
        },
    },
}


async def run_search_tools(
    kb: ToolKB, arguments: str | dict[str, Any], *, tenant: str | None
) -> dict[str, Any]:
    """Execute one ``search_tools`` call. ``arguments`` is the call's JSON string or dict.
    Raises InvalidRequestError for malformed arguments (the caller reports it to the model)."""
    try:
        args = json.loads(arguments) if isinstance(arguments, str) else arguments
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidRequestError(f"search_tools arguments are not valid JSON: {exc}") from exc
    if not isinstance(args, dict) or not isinstance(args.get("query"), str) or not args["query"].strip():
        raise InvalidRequestError("search_tools needs a non-empty 'query' string", param="query")
    k = args.get("k", 5)
    if not isinstance(k, int) or isinstance(k, bool):
        raise InvalidRequestError("search_tools: 'k' must be an integer", param="k")
    hits = await kb.search(args["query"], k=max(1, min(k, MAX_K)), tenant=tenant)
    return {"tools": [_entry(h) for h in hits]}


def _entry(hit: SearchHit) -> dict[str, Any]:
    out = {**hit.tool.openai_schema(), "score": round(hit.score, 4)}
    if hit.needed_by is not None:  # tell the model to call it first
        out["needed_by"] = hit.needed_by
    return out
