"""Authorization header → Principal, with and without a master key."""

from __future__ import annotations

import pytest

from core.clock import ManualClock
from core.errors import AuthenticationError
from core.store.protocol import Store
from gateway.auth import ANONYMOUS_KEY_ID, Authenticator, Principal, bearer_token
from gateway.keys import KeyStore

MASTER = "sk-master-test"


@pytest.mark.parametrize(
    ("header", "token"),
    [(None, None), ("", None), ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("abc", "abc"),
     ("Bearer ", None)],
    ids=["none", "empty", "bearer", "lowercase-spaces", "bare", "bearer-empty"],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


async def test_missing_header_with_master_key_is_401(store: Store) -> None:
    auth = Authenticator(KeyStore(store), master_key=MASTER)
    with pytest.raises(AuthenticationError):
        await auth.authenticate(None)


async def test_master_key_gives_master_principal(store: Store) -> None:
    auth = Authenticator(KeyStore(store), master_key=MASTER)
    p = await auth.authenticate(f"Bearer {MASTER}")
    assert p.is_master and p.rpm is None and p.allowed_models is None


async def test_virtual_key_gives_its_principal(store: Store) -> None:
    keys = KeyStore(store)
    secret, rec = await keys.create(
        name="a", tenant="team-a", allowed_models=["auto"], rpm=5, tpm=500, budget_usd=1.5,
        budget_period="day", tags=["edge-only"],
    )
    p = await Authenticator(keys, master_key=MASTER).authenticate(f"Bearer {secret}")
    assert p == Principal(
        key_id=rec.id, tenant="team-a", is_master=False, allowed_models=frozenset({"auto"}), rpm=5,
        tpm=500, budget_usd=1.5, budget_period="day", tags=frozenset({"edge-only"}),
    )


async def test_unknown_key_with_master_key_is_401(store: Store) -> None:
    auth = Authenticator(KeyStore(store), master_key=MASTER)
    with pytest.raises(AuthenticationError, match="Invalid"):
        await auth.authenticate("Bearer sk-sb-nope")


async def test_revoked_key_is_401(store: Store) -> None:
    keys = KeyStore(store)
    secret, rec = await keys.create()
    await keys.revoke(rec.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        await Authenticator(keys, master_key=MASTER).authenticate(f"Bearer {secret}")


@pytest.mark.parametrize("header", [None, "Bearer sk-anything"], ids=["no-header", "unknown-key"])
async def test_open_mode_lets_anonymous_in(store: Store, header: str | None) -> None:
    auth = Authenticator(KeyStore(store), master_key=None)
    assert (await auth.authenticate(header)).key_id == ANONYMOUS_KEY_ID


async def test_open_mode_still_applies_virtual_keys(store: Store) -> None:
    keys = KeyStore(store)
    secret, rec = await keys.create(rpm=3)
    p = await Authenticator(keys, master_key=None).authenticate(f"Bearer {secret}")
    assert (p.key_id, p.rpm) == (rec.id, 3)


async def test_revocation_on_another_replica_applies_within_cache_ttl(
    store: Store, clock: ManualClock
) -> None:
    here = Authenticator(KeyStore(store), master_key=MASTER, clock=clock, cache_ttl_s=1.0)
    other_replica_keys = KeyStore(store)
    secret, rec = await other_replica_keys.create()
    assert (await here.authenticate(f"Bearer {secret}")).key_id == rec.id
    await other_replica_keys.revoke(rec.id)
    clock.advance(1.01)
    with pytest.raises(AuthenticationError):
        await here.authenticate(f"Bearer {secret}")


async def test_local_revocation_applies_at_once(store: Store, clock: ManualClock) -> None:
    keys = KeyStore(store)
    auth = Authenticator(keys, master_key=MASTER, clock=clock, cache_ttl_s=60.0)
    secret, rec = await keys.create()
    await auth.authenticate(f"Bearer {secret}")
    await keys.revoke(rec.id)
    auth.forget(rec.id)
    with pytest.raises(AuthenticationError):
        await auth.authenticate(f"Bearer {secret}")
