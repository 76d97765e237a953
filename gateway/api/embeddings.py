"""POST /v1/embeddings — served by the config's ``embeddings`` deployments.

``local_embedding`` uses engineer C's ``core.embedders.default_embedder`` (ONNX int8
all-MiniLM-L6-v2, cached and micro-batched), loaded on the first request, never at startup; a
request of many inputs runs as background slices that the process's routing and tool-search
embeddings overtake (``core.embedders.background.embed_many``).
``openai_embedding`` forwards to an OpenAI-compatible ``/embeddings`` endpoint over the shared pool.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from typing import Any

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import Response

from core.config.models import LocalEmbeddingDeployment, OpenAIEmbeddingDeployment
from core.embedders.background import embed_many
from core.errors import InvalidRequestError, SwitchboardError, UnknownModelError
from core.wire import Usage
from gateway.api.common import admit, runtime_of, settle
from gateway.api.validation import parse_json_object, validate_embeddings
from gateway.http_errors import error_response
from gateway.providers import errors as perr
from gateway.runtime import Runtime
from gateway.streaming import ClientDisconnected, cancel_on_disconnect

ENDPOINT = "embeddings"


async def _local(rt: Runtime, texts: list[str], body: dict[str, Any]) -> list[Any]:
    embedder = await rt.local_embedder()
    dims = body.get("dimensions")
    if dims is not None and dims != embedder.dim:
        raise InvalidRequestError(f"This model has {embedder.dim} dimensions; 'dimensions' cannot change it.",
                                  param="dimensions")
    vectors = await embed_many(embedder, texts)  # a bulk request yields to routing and searches
    if body.get("encoding_format") == "base64":
        return [base64.b64encode(v.astype("<f4").tobytes()).decode() for v in vectors]
    return list(vectors)


async def _remote(rt: Runtime, dep: OpenAIEmbeddingDeployment, body: dict[str, Any]) -> dict[str, Any]:
    assert rt.pool is not None
    headers = {"content-type": "application/json"}
    if dep.api_key_env:
        key = os.environ.get(dep.api_key_env, "")
        if not key:
            raise perr.unreachable(dep.name, f"{dep.api_key_env} not set")
        headers["authorization"] = f"Bearer {key}"
    url = dep.base_url.rstrip("/") + "/embeddings"
    try:
        async with asyncio.timeout(dep.timeout_s):
            resp = await rt.pool.session.post(url, data=orjson.dumps({**body, "model": dep.model}), headers=headers)
            raw = await resp.read()
            resp.release()
    except TimeoutError as exc:
        raise perr.timeout(dep.name) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise perr.unreachable(dep.name, type(exc).__name__) from exc
    if resp.status >= 400:
        raise perr.error_for_status(resp.status, dep.name, retry_after=resp.headers.get("retry-after"), body=raw)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise perr.bad_response(dep.name, "a body that is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise perr.bad_response(dep.name, "a body without data")
    return data


async def embeddings(request: Request) -> Response:
    rt = runtime_of(request)
    t0 = time.perf_counter()
    model = ""
    try:
        body = parse_json_object(await request.body())
        model, texts = validate_embeddings(body)
        est = sum(len(t) for t in texts) // 4 + len(texts)
        who = await admit(rt, request.headers.get("authorization"), model, est)
        dep = rt.snapshot.embeddings.get(model)
        if dep is None:
            raise UnknownModelError(f"The embedding model {model!r} does not exist.", param="model")
        if isinstance(dep, LocalEmbeddingDeployment):
            vectors = await cancel_on_disconnect(_local(rt, texts, body), request.receive)
            data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
            out: dict[str, Any] = {"object": "list", "data": data, "model": model,
                                   "usage": {"prompt_tokens": est, "total_tokens": est}}
        else:
            out = await cancel_on_disconnect(_remote(rt, dep, body), request.receive)
            out["model"] = model
        usage_tokens = int((out.get("usage") or {}).get("prompt_tokens") or est)
        await settle(rt, who, Usage(prompt_tokens=usage_tokens), 0.0)
    except ClientDisconnected:
        return Response(status_code=499)
    except SwitchboardError as exc:
        rt.metrics.request_failed(ENDPOINT, "", model, exc.status, exc.code or exc.type)
        return error_response(exc)
    rt.metrics.request_done(ENDPOINT, "", model, 200, time.perf_counter() - t0, prompt_tokens=usage_tokens)
    return Response(orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json",
                    headers={"x-switchboard-model": dep.model, "x-switchboard-deployment": dep.name})

