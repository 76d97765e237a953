"""``/admin/keys``: create, list, show and revoke virtual keys. Master key only.

* ``POST /admin/keys`` → 201 ``{"key": "sk-sb-…", **record}`` (the only time the secret is shown)
* ``GET /admin/keys`` → ``{"object": "list", "data": [record, …]}`` (no secrets, ever)
* ``GET /admin/keys/{id}`` → ``{**record, "spend": {...}}``
* ``DELETE /admin/keys/{id}`` and ``POST /admin/keys/{id}/revoke`` → the revoked record

Errors are raised as ``core.errors`` classes and rendered by the app's one error handler as OpenAI
error JSON: 401 without or with a wrong master key, 403 when no master key is configured (the
admin API is then off), 404 for an unknown id. The app's validation handler turns a bad body into
a 400 ``invalid_request_error``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field

from core.clock import Clock
from core.errors import AuthenticationError, PermissionDeniedError
from core.store.protocol import Store
from gateway.auth import Authenticator
from gateway.keys import BudgetPeriod, KeyRecord, KeyStore
from gateway.limits import Limiter


class KeyCreate(BaseModel):
    """Body of ``POST /admin/keys``; every field optional."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    tenant: str = Field(default="default", min_length=1, max_length=200, description="team")
    allowed_models: list[str] | None = Field(default=None, description="models/policies; null = all")
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    budget_usd: float | None = Field(default=None, ge=0)
    budget_period: BudgetPeriod = "month"
    tags: list[str] = Field(default_factory=list)


def _public(rec: KeyRecord) -> dict[str, Any]:
    return {"object": "key", **rec.public()}


@dataclass(frozen=True, slots=True)
class KeyServices:
    """The three collaborators of the keys API (and of the request path)."""

    keys: KeyStore
    auth: Authenticator
    limiter: Limiter

    @classmethod
    def build(
        cls, store: Store, *, master_key: str | None, pepper: str = "", clock: Clock | None = None
    ) -> KeyServices:
        keys = KeyStore(store, pepper=pepper, clock=clock)
        return cls(keys, Authenticator(keys, master_key=master_key, clock=clock), Limiter(store, clock=clock))


def admin_keys_api(services: KeyServices | Callable[[], KeyServices]) -> APIRouter:
    """The router; ``app.include_router(admin_keys_api(...))``.

    Pass the services, or a zero-argument callable that returns them when a request arrives
    (e.g. ``lambda: app.state.key_services`` when they are built in the lifespan).
    """

    def svc() -> KeyServices:
        return services if isinstance(services, KeyServices) else services()

    async def require_master(authorization: Annotated[str | None, Header()] = None) -> None:
        auth = svc().auth
        if auth.open:
            raise PermissionDeniedError(
                "The admin API is off: set SWITCHBOARD_MASTER_KEY to manage keys."
            )
        if not auth.is_master(authorization):
            raise AuthenticationError("The admin API needs the master key.")

    api = APIRouter(prefix="/admin/keys", tags=["keys"], dependencies=[Depends(require_master)])

    @api.post("", status_code=201)
    async def create_key(body: KeyCreate) -> dict[str, Any]:
        secret, rec = await svc().keys.create(**body.model_dump())
        return {**_public(rec), "key": secret}

    @api.get("")
    async def list_keys() -> dict[str, Any]:
        return {"object": "list", "data": [_public(r) for r in await svc().keys.list()]}

    @api.get("/{key_id}")
    async def get_key(key_id: str) -> dict[str, Any]:
        s = svc()
        rec = await s.keys.get(key_id)
        spend = await s.limiter.spend(rec.id, rec.budget_period, rec.budget_usd)
        return {
            **_public(rec),
            "spend": {
                "period": spend.period,
                "period_id": spend.period_id,
                "period_usd": spend.period_spend_usd,
                "total_usd": spend.total_spend_usd,
                "budget_usd": spend.budget_usd,
                "period_ends_at": spend.period_ends_at,
            },
        }

    async def _revoke(key_id: str) -> dict[str, Any]:
        s = svc()
        rec = await s.keys.revoke(key_id)
        s.auth.forget(key_id)
        return _public(rec)

    api.add_api_route("/{key_id}", _revoke, methods=["DELETE"], name="revoke_key")
    api.add_api_route("/{key_id}/revoke", _revoke, methods=["POST"], name="revoke_key_post")
    return api
