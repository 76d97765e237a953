"""The one place errors become HTTP: OpenAI's error JSON ``{"error": {message, type, param, code}}``.

* :class:`core.errors.SwitchboardError` → its status, type, code, param (+ Retry-After);
* FastAPI's RequestValidationError (pydantic-validated routes such as /admin/keys) → 400
  ``invalid_request_error`` with ``param`` = the dotted location of the first problem;
* Starlette's HTTPException (unknown route 404, wrong method 405) → that status, OpenAI-shaped;
* anything else → 500 ``api_error`` without details (logged with the request id).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from core.errors import SwitchboardError

log = logging.getLogger("switchboard.errors")


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


def error_response(exc: SwitchboardError, headers: dict[str, str] | None = None) -> Response:
    hdrs = {**exc.headers(), **(headers or {})}
    return Response(orjson.dumps(exc.to_openai()), status_code=exc.status, headers=hdrs,
                    media_type="application/json")


def sse_error_event(exc: SwitchboardError) -> bytes:
    """The one in-stream event that reports a failure after SSE headers were sent."""
    return b"data: " + orjson.dumps(exc.to_openai()) + b"\n\n"


def _loc_param(loc: tuple[Any, ...]) -> str | None:
    """The dotted ``param`` of a FastAPI error location: its first element says where the value
    came from (body, query, path, header) and is dropped; field names are kept, even a body field
    called ``query``."""
    parts = loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or None


async def _switchboard(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SwitchboardError)
    return error_response(exc)


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = tuple(first.get("loc", ()))
    param = _loc_param(loc)
    if first.get("type") == "json_invalid":
        msg = "The request body is not valid JSON."
    else:
        msg = f"Invalid value for '{param}': {first.get('msg', 'invalid')}." if param else str(first.get("msg"))
    return Response(error_body(msg, "invalid_request_error", "invalid_request", param), status_code=400,
                    media_type="application/json")


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
    type_ = "invalid_request_error" if exc.status_code < 500 else "api_error"
    headers = dict(exc.headers or {})
    return Response(error_body(str(exc.detail), type_, code), status_code=exc.status_code, headers=headers,
                    media_type="application/json")


async def _unexpected(request: Request, exc: Exception) -> Response:
    rid = getattr(request.state, "request_id", "-")
    log.error("unhandled error in request %s", rid, exc_info=exc)
    return Response(error_body("The server had an error while processing your request.", "api_error",
                               "internal_error"), status_code=500, media_type="application/json")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SwitchboardError, _switchboard)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
