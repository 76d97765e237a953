"""Virtual API keys: create, look up, list, revoke. Secrets are never stored.

A secret is ``sk-sb-`` + 43 url-safe characters (256 random bits). The Store keeps only
HMAC-SHA256(pepper, secret) — a fast hash is enough for secrets with that much entropy; the pepper
(``SWITCHBOARD_KEY_PEPPER``, per deployment) keeps a leaked store from being checked offline against
guessed keys. Changing the pepper invalidates every key.

Layout in the Store (namespace ``vk:``, which the embedded store persists to disk):

* hash ``vk:by_hash``: field = secret hash → the key record as JSON (one read on the hot path);
* hash ``vk:ids``: field = key id → secret hash (admin look-ups by id).

Every method blocks only on the Store and raises only ``core.errors`` classes
(``NotFoundError`` for an unknown id).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

from core.clock import Clock, SystemClock
from core.errors import NotFoundError
from core.store.protocol import Store

BudgetPeriod = Literal["day", "month", "total"]
BUDGET_PERIODS: tuple[BudgetPeriod, ...] = ("day", "month", "total")

SECRET_PREFIX = "sk-sb-"
_BY_HASH = "vk:by_hash"
_IDS = "vk:ids"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What is stored about one virtual key (never the secret)."""

    id: str
    name: str
    tenant: str
    hint: str  # e.g. "sk-sb-Ab…wxyz", enough for a person to tell keys apart
    created_at: float  # unix seconds
    allowed_models: tuple[str, ...] | None = None  # models and policy names; None: all
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    budget_period: BudgetPeriod = "month"
    tags: tuple[str, ...] = ()
    revoked: bool = False
    revoked_at: float | None = None

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> KeyRecord:
        d: dict[str, Any] = json.loads(raw)
        allowed = d.get("allowed_models")
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            tenant=str(d["tenant"]),
            hint=str(d.get("hint", "")),
            created_at=float(d["created_at"]),
            allowed_models=tuple(allowed) if allowed is not None else None,
            rpm=d.get("rpm"),
            tpm=d.get("tpm"),
            budget_usd=d.get("budget_usd"),
            budget_period=cast(BudgetPeriod, d.get("budget_period", "month")),
            tags=tuple(d.get("tags") or ()),
            revoked=bool(d.get("revoked", False)),
            revoked_at=d.get("revoked_at"),
        )

    def public(self) -> dict[str, Any]:
        """The record as the admin API shows it (it never held the secret)."""
        return dataclasses.asdict(self)


class KeyStore:
    """Virtual keys over a :class:`Store`."""

    def __init__(self, store: Store, *, pepper: str = "", clock: Clock | None = None) -> None:
        self._store = store
        self._pepper = pepper.encode()
        self._clock = clock or SystemClock()

    def hash_secret(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    async def create(
        self,
        *,
        name: str = "",
        tenant: str = "default",
        allowed_models: Iterable[str] | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        budget_usd: float | None = None,
        budget_period: BudgetPeriod = "month",
        tags: Iterable[str] = (),
    ) -> tuple[str, KeyRecord]:
        """A new key: returns ``(secret, record)``. The secret is not retrievable later."""
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        rec = KeyRecord(
            id="key_" + secrets.token_hex(8),
            name=name,
            tenant=tenant,
            hint=f"{secret[:8]}…{secret[-4:]}",
            created_at=self._clock.wall(),
            allowed_models=tuple(allowed_models) if allowed_models is not None else None,
            rpm=rpm,
            tpm=tpm,
            budget_usd=budget_usd,
            budget_period=budget_period,
            tags=tuple(tags),
        )
        h = self.hash_secret(secret)
        # record first, then the id index: a crash in between leaves an unlisted, usable key at
        # worst, never a listed key that cannot be found.
        await self._store.hset(_BY_HASH, {h: rec.to_json()})
        await self._store.hset(_IDS, {rec.id: h.encode()})
        return secret, rec

    async def get_by_hash(self, secret_hash: str) -> KeyRecord | None:
        raw = await self._store.hget(_BY_HASH, secret_hash)
        return KeyRecord.from_json(raw) if raw is not None else None

    async def get_by_secret(self, secret: str) -> KeyRecord | None:
        return await self.get_by_hash(self.hash_secret(secret))

    async def get(self, key_id: str) -> KeyRecord:
        """The record for ``key_id``; raises NotFoundError."""
        h = await self._store.hget(_IDS, key_id)
        raw = await self._store.hget(_BY_HASH, h.decode()) if h is not None else None
        if raw is None:
            raise NotFoundError(f"No key with id {key_id!r}.", param="key_id")
        return KeyRecord.from_json(raw)

    async def list(self) -> list[KeyRecord]:
        """Every key (revoked ones included), oldest first."""
        rows = await self._store.hgetall(_BY_HASH)
        recs = [KeyRecord.from_json(raw) for raw in rows.values()]
        return sorted(recs, key=lambda r: (r.created_at, r.id))

    async def revoke(self, key_id: str) -> KeyRecord:
        """Mark ``key_id`` revoked (idempotent) and return the record; raises NotFoundError."""
        h = await self._store.hget(_IDS, key_id)
        if h is None:
            raise NotFoundError(f"No key with id {key_id!r}.", param="key_id")
        rec = await self.get(key_id)
        if rec.revoked:
            return rec
        rec = dataclasses.replace(rec, revoked=True, revoked_at=self._clock.wall())
        await self._store.hset(_BY_HASH, {h.decode(): rec.to_json()})
        return rec
