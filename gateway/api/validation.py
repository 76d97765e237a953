"""Request parsing and validation for the OpenAI endpoints, without pydantic on the hot path.

Bodies stay plain dicts (unknown fields pass through); only the fields the gateway or every
upstream relies on are checked, each with the ``param`` path OpenAI would report
(``messages[0].role``). Every failure is an InvalidRequestError (400); nothing here can raise
anything else for any input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from core.errors import InvalidRequestError

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object. Malformed JSON and invalid UTF-8 are 400s."""
    if not raw:
        raise InvalidRequestError("The request body is empty; expected a JSON object.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        what = "valid UTF-8" if "utf-8" in str(exc).lower() else "valid JSON"
        raise InvalidRequestError(f"The request body is not {what}.") from exc
    if not isinstance(data, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    return data


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bad(param: str, expected: str) -> InvalidRequestError:
    return InvalidRequestError(f"Invalid type for '{param}': expected {expected}.", param=param)


def _check_range(body: dict[str, Any], name: str, lo: float | None, hi: float | None, integer: bool) -> None:
    v = body.get(name)
    if v is None:
        return
    if not (_is_int(v) if integer else _is_num(v)):
        raise _bad(name, "an integer" if integer else "a number")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        bounds = f"between {lo} and {hi}" if lo is not None and hi is not None else f">= {lo}"
        raise InvalidRequestError(f"Invalid value for '{name}': must be {bounds}.", param=name)


def _check_type(body: dict[str, Any], name: str, ok: Callable[[Any], bool], expected: str) -> None:
    v = body.get(name)
    if v is not None and not ok(v):
        raise _bad(name, expected)


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise InvalidRequestError("Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str) or not model:
        raise _bad("model", "a non-empty string")
    return model


def _stop(v: Any) -> bool:
    return isinstance(v, str) or (isinstance(v, list) and len(v) <= 4 and all(isinstance(s, str) for s in v))


def _stream_options(body: dict[str, Any]) -> None:
    so = body.get("stream_options")
    if so is not None:
        if not isinstance(so, dict):
            raise _bad("stream_options", "an object")
        if "include_usage" in so and not isinstance(so["include_usage"], bool):
            raise _bad("stream_options.include_usage", "a boolean")


def _rng(name: str, lo: float | None, hi: float | None, integer: bool) -> tuple[str, Callable[[dict[str, Any]], None]]:
    return name, lambda body: _check_range(body, name, lo, hi, integer)


def _typ(name: str, ok: Callable[[Any], bool], expected: str) -> tuple[str, Callable[[dict[str, Any]], None]]:
    return name, lambda body: _check_type(body, name, ok, expected)


# (field, check) in reporting order; a check runs only when its field is present, so a typical
# body costs a few dict look-ups instead of ~20 calls.
_COMMON: tuple[tuple[str, Callable[[dict[str, Any]], None]], ...] = (
    _typ("stream", lambda v: isinstance(v, bool), "a boolean"),
    ("stream_options", _stream_options),
    _rng("temperature", 0, 2, False),
    _rng("top_p", 0, 1, False),
    _rng("n", 1, 128, True),
    _rng("max_tokens", 0, None, True),
    _rng("presence_penalty", -2, 2, False),
    _rng("frequency_penalty", -2, 2, False),
    _typ("seed", _is_int, "an integer"),
    _typ("stop", _stop, "a string or an array of at most 4 strings"),
    _typ("user", lambda v: isinstance(v, str), "a string"),
    _typ("logit_bias", lambda v: isinstance(v, dict), "an object"),
    _typ("metadata", lambda v: isinstance(v, dict), "an object"),
)


def _tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _bad("tools", "an array")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise _bad(f"tools[{i}]", "an object")


_CHAT: tuple[tuple[str, Callable[[dict[str, Any]], None]], ...] = (
    _rng("max_completion_tokens", 0, None, True),
    _rng("top_logprobs", 0, 20, True),
    _typ("logprobs", lambda v: isinstance(v, bool), "a boolean"),
    ("tools", _tools),
    _typ("tool_choice", lambda v: isinstance(v, (str, dict)), "a string or an object"),
    _typ("response_format", lambda v: isinstance(v, dict), "an object"),
    _typ("parallel_tool_calls", lambda v: isinstance(v, bool), "a boolean"),
)


def _run(body: dict[str, Any], checks: tuple[tuple[str, Callable[[dict[str, Any]], None]], ...]) -> None:
    for name, check in checks:
        if name in body:
            check(body)


def _common(body: dict[str, Any]) -> None:
    _run(body, _COMMON)


def _content(v: Any, param: str) -> None:
    if v is None or isinstance(v, str):
        return
    if not isinstance(v, list):
        raise _bad(param, "a string or an array of content parts")
    for j, part in enumerate(v):
        p = f"{param}[{j}]"
        if not isinstance(part, dict):
            raise _bad(p, "an object")
        if not isinstance(part.get("type"), str):
            raise InvalidRequestError(f"Missing required parameter: '{p}.type'.", param=f"{p}.type")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise _bad(f"{p}.text", "a string")


def validate_chat(body: dict[str, Any]) -> str:
    """Check a /v1/chat/completions body; returns the model name. Raises InvalidRequestError."""
    model = _model(body)
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequestError("Missing required parameter: 'messages'.", param="messages")
    if not isinstance(messages, list):
        raise _bad("messages", "an array")
    if not messages:
        raise InvalidRequestError("'messages' must contain at least one message.", param="messages")
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if not isinstance(role, str) or role not in _ROLES:  # the common case builds no strings
            p = f"messages[{i}]"
            if not isinstance(msg, dict):
                raise _bad(p, "an object")
            if role is None:
                raise InvalidRequestError(f"Missing required parameter: '{p}.role'.", param=f"{p}.role")
            raise InvalidRequestError(
                f"Invalid value for '{p}.role': expected one of {', '.join(sorted(_ROLES))}.", param=f"{p}.role"
            )
        content = msg.get("content")
        if content is not None and not isinstance(content, str):
            _content(content, f"messages[{i}].content")
        if "tool_calls" in msg and msg["tool_calls"] is not None and not isinstance(msg["tool_calls"], list):
            raise _bad(f"messages[{i}].tool_calls", "an array")
    _common(body)
    _run(body, _CHAT)
    return model


def validate_completion(body: dict[str, Any]) -> str:
    """Check a legacy /v1/completions body; returns the model name."""
    model = _model(body)
    prompt = body.get("prompt")
    if prompt is None:
        raise InvalidRequestError("Missing required parameter: 'prompt'.", param="prompt")
    if not (isinstance(prompt, str) or (isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt))):
        raise _bad("prompt", "a string or a non-empty array of strings")
    _common(body)
    _check_type(body, "suffix", lambda v: isinstance(v, str), "a string")
    _check_type(body, "echo", lambda v: isinstance(v, bool), "a boolean")
    return model


def validate_embeddings(body: dict[str, Any]) -> tuple[str, list[str]]:
    """Check a /v1/embeddings body; returns (model, texts). Token-array inputs are refused."""
    model = _model(body)
    inp = body.get("input")
    if inp is None:
        raise InvalidRequestError("Missing required parameter: 'input'.", param="input")
    if isinstance(inp, str):
        texts = [inp]
    elif isinstance(inp, list) and inp and all(isinstance(t, str) for t in inp):
        texts = list(inp)
    else:
        raise _bad("input", "a string or a non-empty array of strings")
    if len(texts) > 2048:
        raise InvalidRequestError("'input' may hold at most 2048 items.", param="input")
    fmt = body.get("encoding_format")
    if fmt is not None and fmt not in ("float", "base64"):
        raise InvalidRequestError("Invalid value for 'encoding_format': expected 'float' or 'base64'.",
                                  param="encoding_format")
    _check_range(body, "dimensions", 1, None, True)
    return model, texts
