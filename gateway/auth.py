"""Who is calling: an ``Authorization`` header becomes a :class:`Principal`.

Contract of :meth:`Authenticator.authenticate`:

* master key configured (``SWITCHBOARD_MASTER_KEY``):
  no header → ``AuthenticationError``; the master key → the master principal (no limits);
  a live virtual key → its principal; a revoked or unknown key → ``AuthenticationError``.
* no master key configured: the gateway runs open. A live virtual key still maps to its principal
  (so its limits apply); a revoked key is refused; anything else (no header, any other token, as
  the openai SDK always sends one) is the anonymous principal.

Lookups are cached in process for ``cache_ttl_s`` (default 1 s), so a revocation made on another
replica takes effect here within that time; revocations through this process's admin API call
:meth:`Authenticator.forget` and take effect at once. Blocks only on the Store.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from core.clock import Clock, SystemClock
from core.errors import AuthenticationError
from gateway.keys import BudgetPeriod, KeyRecord, KeyStore

MASTER_KEY_ID = "master"
ANONYMOUS_KEY_ID = "anonymous"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, as limits, routing and logs see it."""

    key_id: str
    tenant: str = "default"
    is_master: bool = False
    allowed_models: frozenset[str] | None = None  # None: every model and policy
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    budget_period: BudgetPeriod = "month"
    tags: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def master(cls) -> Principal:
        return cls(key_id=MASTER_KEY_ID, is_master=True)

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(key_id=ANONYMOUS_KEY_ID)

    @classmethod
    def from_record(cls, rec: KeyRecord) -> Principal:
        return cls(
            key_id=rec.id,
            tenant=rec.tenant,
            allowed_models=frozenset(rec.allowed_models) if rec.allowed_models is not None else None,
            rpm=rec.rpm,
            tpm=rec.tpm,
            budget_usd=rec.budget_usd,
            budget_period=rec.budget_period,
            tags=frozenset(rec.tags),
        )


def bearer_token(authorization_header: str | None) -> str | None:
    """The token of ``Bearer <token>`` (scheme case-insensitive) or of a bare token; None if empty."""
    if authorization_header is None:
        return None
    parts = authorization_header.split(None, 1)
    if not parts:
        return None
    if parts[0].lower() == "bearer":
        return parts[1].strip() or None if len(parts) > 1 else None
    return authorization_header.strip() or None


class Authenticator:
    """Maps ``Authorization`` headers to principals; see the module docstring for the rules."""

    def __init__(
        self,
        keys: KeyStore,
        *,
        master_key: str | None,
        clock: Clock | None = None,
        cache_ttl_s: float = 1.0,
        cache_max: int = 10_000,
    ) -> None:
        self._keys = keys
        self._master = master_key or None
        self._clock = clock or SystemClock()
        self._ttl = cache_ttl_s
        self._max = cache_max
        # token hash → (expires_at monotonic, record or None when unknown)
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}

    @property
    def open(self) -> bool:
        """True when no master key is configured (anonymous callers are let in)."""
        return self._master is None

    def is_master(self, authorization_header: str | None) -> bool:
        token = bearer_token(authorization_header)
        return self._master is not None and token is not None and _same(token, self._master)

    async def authenticate(self, authorization_header: str | None) -> Principal:
        """The caller's principal. Raises AuthenticationError (401) per the module rules."""
        token = bearer_token(authorization_header)
        if token is None:
            if self._master is None:
                return Principal.anonymous()
            raise AuthenticationError("Missing API key: send 'Authorization: Bearer <key>'.")
        if self._master is not None and _same(token, self._master):
            return Principal.master()
        rec = await self._lookup(token)
        if rec is not None and not rec.revoked:
            return Principal.from_record(rec)
        if rec is not None:
            raise AuthenticationError("This API key has been revoked.")
        if self._master is None:
            return Principal.anonymous()
        raise AuthenticationError("Invalid API key.")

    def forget(self, key_id: str) -> None:
        """Drop cached lookups for ``key_id`` (called after a local revoke)."""
        for h, (_, rec) in list(self._cache.items()):
            if rec is not None and rec.id == key_id:
                del self._cache[h]

    async def _lookup(self, token: str) -> KeyRecord | None:
        h = self._keys.hash_secret(token)
        now = self._clock.now()
        hit = self._cache.get(h)
        if hit is not None and hit[0] > now:
            return hit[1]
        rec = await self._keys.get_by_hash(h)
        if len(self._cache) >= self._max:
            self._cache.clear()  # bounded; a full clear is rare and cheap to refill
        self._cache[h] = (now + self._ttl, rec)
        return rec


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
