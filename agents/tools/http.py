"""HTTP tools declared in an agent's YAML: JSON in, text out, allow-listed hosts only."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema

from agents.spec import HttpToolSpec
from agents.tools.base import ToolCallError, ToolContext

MAX_RESULT_CHARS = 8_000


class HttpTool:
    """Calls ``spec.url`` with the arguments (JSON body for POST, query for GET) and the
    ``Idempotency-Key`` header. Arguments are validated against ``spec.parameters`` first.
    ``client`` is shared and owned by the caller."""

    def __init__(self, spec: HttpToolSpec, allowed_hosts: Collection[str], client: httpx.AsyncClient) -> None:
        host = urlsplit(spec.url).hostname or ""
        if host not in allowed_hosts:
            raise ValueError(f"http tool {spec.name!r}: host {host!r} is not allow-listed")
        self._spec = spec
        self._client = client

    @property
    def name(self) -> str:
        return self._spec.name

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self._spec.name,
                "description": self._spec.description,
                "parameters": self._spec.parameters,
            },
        }

    async def call(self, arguments: Mapping[str, Any], ctx: ToolContext) -> str:
        try:
            jsonschema.validate(dict(arguments), self._spec.parameters)
        except jsonschema.ValidationError as exc:
            raise ToolCallError(f"tool {self.name!r}: invalid arguments: {exc.message}") from exc
        headers = {"Idempotency-Key": ctx.idempotency_key}
        try:
            if self._spec.method == "GET":
                resp = await self._client.get(
                    self._spec.url, params=dict(arguments), headers=headers, timeout=self._spec.timeout_s
                )
            else:
                resp = await self._client.post(
                    self._spec.url, json=dict(arguments), headers=headers, timeout=self._spec.timeout_s
                )
        except httpx.HTTPError as exc:
            raise ToolCallError(f"tool {self.name!r}: request failed ({type(exc).__name__})") from exc
        if resp.status_code >= 400:
            raise ToolCallError(f"tool {self.name!r}: HTTP {resp.status_code}")
        text = resp.text
        if resp.headers.get("content-type", "").startswith("application/json"):
            text = json.dumps(resp.json(), ensure_ascii=False)
        return text[:MAX_RESULT_CHARS]
