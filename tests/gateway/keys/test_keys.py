"""Virtual keys: secrets are shown once and stored only as a peppered hash."""

from __future__ import annotations

import pytest

from core.clock import ManualClock
from core.errors import NotFoundError
from core.store.protocol import Store
from gateway.keys import SECRET_PREFIX, KeyStore


async def test_create_returns_secret_and_record(store: Store, clock: ManualClock) -> None:
    keys = KeyStore(store, pepper="p", clock=clock)
    secret, rec = await keys.create(name="ci", tenant="team-a", rpm=10, tags=["edge-only"])
    assert secret.startswith(SECRET_PREFIX) and len(secret) > 40
    assert (rec.name, rec.tenant, rec.rpm, rec.tags, rec.revoked) == ("ci", "team-a", 10, ("edge-only",), False)
    assert rec.created_at == clock.wall()
    assert secret not in repr(rec.public())


async def test_store_never_holds_the_secret(store: Store) -> None:
    keys = KeyStore(store, pepper="p")
    secret, _ = await keys.create(name="x")
    everything = b"".join(
        [*(await store.hgetall("vk:by_hash")).values(), *(await store.hgetall("vk:ids")).values()]
    ) + "".join((await store.hgetall("vk:by_hash")).keys()).encode()
    assert secret.encode() not in everything
    assert secret[len(SECRET_PREFIX):].encode() not in everything


async def test_lookup_by_secret(store: Store) -> None:
    keys = KeyStore(store, pepper="p")
    secret, rec = await keys.create(name="x", allowed_models=["auto", "gpt-4o-mini"])
    found = await keys.get_by_secret(secret)
    assert found == rec
    assert await keys.get_by_secret(secret + "x") is None


async def test_other_pepper_finds_nothing(store: Store) -> None:
    secret, _ = await KeyStore(store, pepper="one").create()
    assert await KeyStore(store, pepper="two").get_by_secret(secret) is None


async def test_list_is_oldest_first(store: Store, clock: ManualClock) -> None:
    keys = KeyStore(store, clock=clock)
    _, a = await keys.create(name="a")
    clock.advance(1)
    _, b = await keys.create(name="b")
    assert [r.id for r in await keys.list()] == [a.id, b.id]


async def test_revoke_marks_record_and_is_idempotent(store: Store, clock: ManualClock) -> None:
    keys = KeyStore(store, clock=clock)
    secret, rec = await keys.create(name="a")
    revoked = await keys.revoke(rec.id)
    assert revoked.revoked and revoked.revoked_at == clock.wall()
    assert (await keys.get_by_secret(secret)) == revoked
    assert await keys.revoke(rec.id) == revoked


@pytest.mark.parametrize("op", ["get", "revoke"])
async def test_unknown_id_is_not_found(store: Store, op: str) -> None:
    keys = KeyStore(store)
    with pytest.raises(NotFoundError):
        await getattr(keys, op)("key_missing")
