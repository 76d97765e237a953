"""Which tool calls in a conversation succeeded, and for which user request (learning from logs).

A client that runs tools sends their results back in the next request: an assistant message with
``tool_calls``, then one ``role: tool`` message per call (``tool_call_id``). The gateway never sees
the tool run, so it reads the outcome from there. :func:`successful_tool_calls` looks only at the
latest round — the assistant's last tool calls and the results that follow them at the end of the
conversation — so a long conversation is not learned again on every turn. A call counts as
successful when its result is present and does not look like an error (a JSON object with an
``error`` field, or text that starts with "error", "exception", "traceback" or "failed"). The
request it served is the last user message before the assistant's tool calls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from core.wire import content_text, prompt_text

_ERROR_WORDS = ("error", "exception", "traceback", "failed", "failure")


def successful_tool_calls(messages: Sequence[Any]) -> list[tuple[str, str]]:
    """(user request, tool name) for each call of the latest round whose result is not an error."""
    tail = len(messages)
    while tail > 0 and _role(messages[tail - 1]) == "tool":
        tail -= 1
    results = {
        str(m.get("tool_call_id")): content_text(m.get("content"))
        for m in messages[tail:]
        if isinstance(m, Mapping) and m.get("tool_call_id") is not None
    }
    if not results or tail == 0 or _role(messages[tail - 1]) != "assistant":
        return []
    calls = messages[tail - 1].get("tool_calls")
    query = prompt_text(messages[: tail - 1])
    if not query.strip() or not isinstance(calls, list):
        return []
    out: list[tuple[str, str]] = []
    for call in calls:
        if not isinstance(call, Mapping):
            continue
        fn = call.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else None
        result = results.get(str(call.get("id")))
        if isinstance(name, str) and name and result is not None and not looks_like_error(result):
            out.append((query, name))
    return out


def looks_like_error(result: str) -> bool:
    text = result.strip()
    if not text:
        return True
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("error"):
            return True
    return text.lower().lstrip("[(").startswith(_ERROR_WORDS)


def _role(message: Any) -> str | None:
    return message.get("role") if isinstance(message, Mapping) else None
