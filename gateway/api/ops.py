"""Operations endpoints: health probes, Prometheus metrics, config status and reload.

* GET /health/liveness — 200 while the process serves;
* GET /health/readiness — 200 once the config is loaded and the Store answers, else 503;
* GET /metrics — Prometheus text format;
* GET /admin/config — active version, source, load time, last rejected reload and why, deployments;
* POST /admin/config/reload — validate and swap; 200 with the result, 400 with the problems (the old
  config stays). Both admin routes need the master key when one is configured.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from core.errors import AuthenticationError, SwitchboardError
from gateway.api.common import runtime_of
from gateway.http_errors import error_response
from gateway.runtime import Runtime


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def liveness(request: Request) -> Response:
    return _json({"status": "ok"})


async def readiness(request: Request) -> Response:
    rt: Runtime | None = getattr(request.app.state, "runtime", None)
    if rt is None:
        return _json({"status": "not_ready", "reason": "starting"}, 503)
    ok, reason = await rt.ready()
    if not ok:
        return _json({"status": "not_ready", "reason": reason}, 503)
    return _json({"status": "ready", "config_version": rt.snapshot.version})


async def metrics(request: Request) -> Response:
    rt = runtime_of(request)
    return Response(rt.metrics.render(), media_type=rt.metrics.content_type)


def _require_admin(rt: Runtime, request: Request) -> None:
    assert rt.keys is not None
    auth = rt.keys.auth
    if not auth.open and not auth.is_master(request.headers.get("authorization")):
        raise AuthenticationError("The admin API needs the master key.")


async def config_status(request: Request) -> Response:
    rt = runtime_of(request)
    try:
        _require_admin(rt, request)
    except SwitchboardError as exc:
        return error_response(exc)
    snap = rt.snapshot
    assert rt.reloader is not None
    err = rt.reloader.last_error
    return _json({
        "version": snap.version,
        "source": snap.source,
        "loaded_at": snap.loaded_at,
        "last_error": err.to_json() if err else None,
        "deployments": [
            {"name": e.name, "kind": e.spec.kind, "model": e.spec.model, "tier": e.spec.tier,
             "available": e.available and not rt.states.cooling(e.name),
             "reason": e.reason or rt.states.cooling(e.name)}
            for e in snap.deployments.values()
        ],
        "policies": [{"name": p.name, "aliases": list(p.aliases), "router": p.router.kind}
                     for p in snap.config.policies],
    })


async def config_reload(request: Request) -> Response:
    rt = runtime_of(request)
    try:
        _require_admin(rt, request)
    except SwitchboardError as exc:
        return error_response(exc)
    assert rt.reloader is not None
    result = rt.reloader.reload("admin")
    if result.ok:
        return _json(result.to_json())
    body = {"error": {"message": "The new config is invalid; the previous one stays active.",
                      "type": "invalid_request_error", "param": None, "code": "invalid_config"},
            **result.to_json()}
    return _json(body, 400)
