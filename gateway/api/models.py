"""GET /v1/models and GET /v1/models/{id}: deployments, embedding models and policy aliases.

Beyond OpenAI's fields (id, object, created, owned_by) each entry says what it is
(``switchboard.kind``: deployment | embedding | policy), its tier, and whether it is available now
with the reason when not. A caller whose key is limited to some models sees only those.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from core.errors import NotFoundError, SwitchboardError
from gateway.api.common import runtime_of
from gateway.deployment_state import DeploymentStates
from gateway.http_errors import error_response
from gateway.limits import permits
from gateway.snapshot import ConfigSnapshot


def model_list(snap: ConfigSnapshot, states: DeploymentStates) -> list[dict[str, Any]]:
    created = int(snap.loaded_at)
    out: list[dict[str, Any]] = []
    show_unavailable = snap.config.settings.expose_unavailable_models
    for name, entry in snap.deployments.items():
        available, reason = entry.available, entry.reason
        if available and (cooling := states.cooling(name)):
            available, reason = False, cooling
        if not available and not show_unavailable:
            continue
        out.append({"id": name, "object": "model", "created": created, "owned_by": entry.spec.kind,
                    "switchboard": {"kind": "deployment", "model": entry.spec.model, "tier": entry.spec.tier,
                                    "available": available, "unavailable_reason": reason or None}})
    for name, emb in snap.embeddings.items():
        out.append({"id": name, "object": "model", "created": created, "owned_by": emb.kind,
                    "switchboard": {"kind": "embedding", "model": emb.model, "available": True,
                                    "unavailable_reason": None}})
    for alias, pol in snap.policies.items():
        usable = [c for c in (*pol.candidates, *pol.fallbacks)
                  if snap.deployments[c].available and not states.cooling(c)]
        out.append({"id": alias, "object": "model", "created": created, "owned_by": "switchboard",
                    "switchboard": {"kind": "policy", "policy": pol.name, "candidates": list(pol.candidates),
                                    "available": bool(usable),
                                    "unavailable_reason": None if usable else "no candidate deployment is available"}})
    return out


async def list_models(request: Request) -> Response:
    rt = runtime_of(request)
    try:
        assert rt.keys is not None
        principal = await rt.keys.auth.authenticate(request.headers.get("authorization"))
    except SwitchboardError as exc:
        return error_response(exc)
    data = [m for m in model_list(rt.snapshot, rt.states) if permits(principal, m["id"])]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


async def get_model(request: Request) -> Response:
    rt = runtime_of(request)
    model_id = request.path_params["model_id"]
    try:
        assert rt.keys is not None
        principal = await rt.keys.auth.authenticate(request.headers.get("authorization"))
        for m in model_list(rt.snapshot, rt.states):
            if m["id"] == model_id and permits(principal, model_id):
                return Response(orjson.dumps(m), media_type="application/json")
        raise NotFoundError(f"The model {model_id!r} does not exist.", param="model")
    except SwitchboardError as exc:
        return error_response(exc)
