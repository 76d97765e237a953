"""Build a ChatBackend for each configured deployment, keyed by ``kind`` (a typed table, never a
dotted path from YAML), and decide whether it is available right now.

A cloud deployment whose ``api_key_env`` variable is unset is built but marked unavailable with
the reason ``"OPENAI_API_KEY not set"``; it switches itself on at the next config reload after the
variable appears.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from core.backend import ChatBackend
from core.config.models import (
    ChatDeployment,
    LiteLLMDeployment,
    LocalLlamaDeployment,
    OpenAICompatibleDeployment,
)
from gateway.providers.http_pool import HttpPool
from gateway.providers.litellm_backend import LiteLLMBackend
from gateway.providers.local_edge import LocalModels
from gateway.providers.openai_compat import OpenAICompatBackend


@dataclass(frozen=True, slots=True)
class BuiltBackend:
    backend: ChatBackend
    available: bool
    reason: str = ""


class BackendFactory:
    """Creates backends sharing one HTTP pool and one LocalModels owner."""

    def __init__(self, pool: HttpPool, local: LocalModels, env: Mapping[str, str] | None = None) -> None:
        self._pool = pool
        self._local = local
        self._env = env if env is not None else os.environ

    def _key(self, var: str | None) -> tuple[str | None, str]:
        if not var:
            return None, ""
        value = self._env.get(var, "")
        return (value, "") if value else (None, f"{var} not set")

    def build(self, spec: ChatDeployment) -> BuiltBackend:
        if isinstance(spec, OpenAICompatibleDeployment):
            key, missing = self._key(spec.api_key_env)
            backend = OpenAICompatBackend(
                spec.name, base_url=spec.base_url, model=spec.model, pool=self._pool,
                api_key=key, headers=spec.headers,
            )
            return BuiltBackend(backend, not missing, missing)
        if isinstance(spec, LiteLLMDeployment):
            key, missing = self._key(spec.api_key_env)
            lite = LiteLLMBackend(spec.name, model=spec.model, api_key=key, api_base=spec.api_base,
                                  extra=spec.extra)
            return BuiltBackend(lite, not missing, missing)
        if isinstance(spec, LocalLlamaDeployment):
            ok, why = LocalModels.availability(spec)
            return BuiltBackend(self._local.backend(spec), ok, why)
        raise TypeError(f"no backend for deployment kind {type(spec).__name__}")  # pragma: no cover
