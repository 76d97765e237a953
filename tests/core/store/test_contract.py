"""The Store contract: every implementation (ids ``memory``, ``redis``) passes these tests.

Time: the MemoryStore runs on a ManualClock that ``env.advance`` moves; Redis keeps time on the
server, so ``env.advance`` really sleeps there (short TTLs; a slow machine only makes keys *more*
expired, so no test depends on being fast).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from core.clock import ManualClock
from core.store.memory import MemoryStore
from core.store.protocol import RateSpec, Store
from core.store.redis import RedisStore


@dataclass
class StoreEnv:
    store: Store
    advance: Callable[[float], Awaitable[None]]
    prefix: str
    make_peer: Callable[[], Store]  # another client of the same state (another "process")

    def k(self, name: str) -> str:
        return self.prefix + name


@pytest.fixture(params=["memory", "redis"])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[StoreEnv]:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    if request.param == "memory":
        clock = ManualClock()
        mem = MemoryStore(clock=clock)

        async def advance_clock(s: float) -> None:
            clock.advance(s)

        yield StoreEnv(mem, advance_clock, prefix, lambda: mem)
        await mem.aclose()
        return
    url: str = request.getfixturevalue("redis_url")
    peers: list[RedisStore] = []

    def make_peer() -> Store:
        peers.append(RedisStore.from_url(url))
        return peers[-1]

    main = make_peer()
    yield StoreEnv(main, asyncio.sleep, prefix, make_peer)
    for p in peers:
        await p.aclose()


async def test_get_missing_is_none(env: StoreEnv) -> None:
    assert await env.store.get(env.k("nope")) is None


async def test_set_then_get(env: StoreEnv) -> None:
    await env.store.set(env.k("a"), b"\x00bin\xff")
    assert await env.store.get(env.k("a")) == b"\x00bin\xff"


async def test_set_with_ttl_expires(env: StoreEnv) -> None:
    await env.store.set(env.k("a"), b"v", ttl_s=0.2)
    assert await env.store.get(env.k("a")) == b"v"
    await env.advance(0.4)
    assert await env.store.get(env.k("a")) is None


async def test_set_without_ttl_clears_old_ttl(env: StoreEnv) -> None:
    await env.store.set(env.k("a"), b"v", ttl_s=0.2)
    await env.store.set(env.k("a"), b"w")
    await env.advance(0.4)
    assert await env.store.get(env.k("a")) == b"w"


async def test_set_if_absent_only_first_wins(env: StoreEnv) -> None:
    assert await env.store.set_if_absent(env.k("a"), b"1") is True
    assert await env.store.set_if_absent(env.k("a"), b"2") is False
    assert await env.store.get(env.k("a")) == b"1"


async def test_set_if_absent_succeeds_after_expiry(env: StoreEnv) -> None:
    assert await env.store.set_if_absent(env.k("a"), b"1", ttl_s=0.2)
    await env.advance(0.4)
    assert await env.store.set_if_absent(env.k("a"), b"2")
    assert await env.store.get(env.k("a")) == b"2"


async def test_delete_counts_existing_keys(env: StoreEnv) -> None:
    await env.store.set(env.k("a"), b"1")
    await env.store.hset(env.k("h"), {"f": b"1"})
    assert await env.store.delete(env.k("a"), env.k("h"), env.k("missing")) == 2
    assert await env.store.get(env.k("a")) is None
    assert await env.store.hgetall(env.k("h")) == {}


async def test_incr_by_float_accumulates(env: StoreEnv) -> None:
    assert await env.store.incr_by(env.k("c"), 0.25) == pytest.approx(0.25)
    assert await env.store.incr_by(env.k("c"), 1.5) == pytest.approx(1.75)
    raw = await env.store.get(env.k("c"))
    assert raw is not None and float(raw) == pytest.approx(1.75)


async def test_incr_by_integral_reads_back_as_integer_text(env: StoreEnv) -> None:
    await env.store.incr_by(env.k("c"), 2)
    await env.store.incr_by(env.k("c"), 1)
    assert await env.store.get(env.k("c")) == b"3"


async def test_incr_by_ttl_applies_on_creation_only(env: StoreEnv) -> None:
    await env.store.incr_by(env.k("c"), 1, ttl_s=0.3)
    await env.store.incr_by(env.k("c"), 1, ttl_s=100)  # must not extend the first TTL
    await env.advance(0.5)
    assert await env.store.get(env.k("c")) is None


async def test_expire_sets_ttl_on_existing_key_only(env: StoreEnv) -> None:
    await env.store.set(env.k("a"), b"1")
    assert await env.store.expire(env.k("a"), 0.2) is True
    assert await env.store.expire(env.k("missing"), 0.2) is False
    await env.advance(0.4)
    assert await env.store.get(env.k("a")) is None


async def test_hash_set_get_all_delete(env: StoreEnv) -> None:
    h = env.k("h")
    await env.store.hset(h, {"a": b"1", "b": b"2"})
    await env.store.hset(h, {"b": b"3"})
    assert await env.store.hget(h, "b") == b"3"
    assert await env.store.hget(h, "zz") is None
    assert await env.store.hgetall(h) == {"a": b"1", "b": b"3"}
    assert await env.store.hdel(h, "a", "zz") == 1
    assert await env.store.hgetall(h) == {"b": b"3"}


async def test_hgetall_of_missing_key_is_empty(env: StoreEnv) -> None:
    assert await env.store.hgetall(env.k("nothing")) == {}


async def test_window_admits_exactly_limit(env: StoreEnv) -> None:
    got = [await env.store.rate_acquire(env.k("w"), limit=5, window_s=60) for _ in range(7)]
    assert [d.allowed for d in got] == [True] * 5 + [False] * 2
    assert [d.remaining for d in got[:5]] == [4, 3, 2, 1, 0]
    assert 0 < got[5].retry_after_s <= 60


async def test_window_refused_calls_consume_nothing(env: StoreEnv) -> None:
    for _ in range(3):
        assert (await env.store.rate_acquire(env.k("w"), limit=3, window_s=0.3)).allowed
    for _ in range(5):
        assert not (await env.store.rate_acquire(env.k("w"), limit=3, window_s=0.3)).allowed
    await env.advance(0.5)
    got = [(await env.store.rate_acquire(env.k("w"), limit=3, window_s=0.3)).allowed for _ in range(4)]
    assert got == [True, True, True, False]


async def test_window_slides_and_retry_after_is_honest(env: StoreEnv) -> None:
    w = env.k("w")
    assert (await env.store.rate_acquire(w, limit=2, window_s=0.6)).allowed
    await env.advance(0.2)
    assert (await env.store.rate_acquire(w, limit=2, window_s=0.6)).allowed
    refused = await env.store.rate_acquire(w, limit=2, window_s=0.6)
    assert not refused.allowed and 0 < refused.retry_after_s <= 0.6
    await env.advance(refused.retry_after_s + 0.02)
    assert (await env.store.rate_acquire(w, limit=2, window_s=0.6)).allowed


async def test_window_with_costs(env: StoreEnv) -> None:
    w = env.k("w")
    assert (await env.store.rate_acquire(w, limit=10, window_s=60, cost=4)).allowed
    assert (await env.store.rate_acquire(w, limit=10, window_s=60, cost=4)).allowed
    refused = await env.store.rate_acquire(w, limit=10, window_s=60, cost=4)
    assert not refused.allowed and refused.remaining == 2
    assert (await env.store.rate_acquire(w, limit=10, window_s=60, cost=2)).allowed


async def test_window_cost_over_limit_is_never_admitted(env: StoreEnv) -> None:
    d = await env.store.rate_acquire(env.k("w"), limit=3, window_s=60, cost=4)
    assert not d.allowed and d.retry_after_s == pytest.approx(60)


async def test_rate_add_is_unconditional_and_counts(env: StoreEnv) -> None:
    w = env.k("w")
    assert (await env.store.rate_acquire(w, limit=10, window_s=60, cost=3)).allowed
    assert await env.store.rate_add(w, window_s=60, cost=20) == 23
    assert not (await env.store.rate_acquire(w, limit=10, window_s=60)).allowed


async def test_concurrent_acquire_never_over_admits(env: StoreEnv) -> None:
    w = env.k("w")
    results = await asyncio.gather(
        *(env.store.rate_acquire(w, limit=50, window_s=60) for _ in range(300))
    )
    assert sum(d.allowed for d in results) == 50


async def test_concurrent_acquire_from_several_clients_is_exact(env: StoreEnv) -> None:
    w = env.k("w")
    clients = [env.make_peer() for _ in range(4)]
    results = await asyncio.gather(
        *(clients[i % 4].rate_acquire(w, limit=37, window_s=60, cost=1) for i in range(200))
    )
    assert sum(d.allowed for d in results) == 37


async def test_ping(env: StoreEnv) -> None:
    assert await env.store.ping() is True


async def test_many_keys_with_ttl_all_expire(env: StoreEnv) -> None:
    for i in range(20):
        await env.store.set(env.k(f"m{i}"), b"v", ttl_s=0.2)
        await env.store.rate_acquire(env.k(f"w{i}"), limit=5, window_s=0.2)
    await env.advance(0.4)
    assert [await env.store.get(env.k(f"m{i}")) for i in range(20)] == [None] * 20
    assert all([(await env.store.rate_acquire(env.k(f"w{i}"), limit=1, window_s=0.2)).allowed
                for i in range(20)])


async def test_acquire_many_is_all_or_nothing(env: StoreEnv) -> None:
    rpm, tpm = env.k("{id}:rpm"), env.k("{id}:tpm")
    ok = await env.store.rate_acquire_many([RateSpec(rpm, 5, 60), RateSpec(tpm, 100, 60, 80)])
    assert [d.allowed for d in ok] == [True, True] and [d.remaining for d in ok] == [4, 20]
    refused = await env.store.rate_acquire_many([RateSpec(rpm, 5, 60), RateSpec(tpm, 100, 60, 30)])
    assert [d.allowed for d in refused] == [False, False]
    assert refused[0].retry_after_s == 0 and 0 < refused[1].retry_after_s <= 60
    # the refused call took nothing from the window that had room
    got = [(await env.store.rate_acquire(rpm, limit=5, window_s=60)).allowed for _ in range(5)]
    assert got == [True, True, True, True, False]


async def test_acquire_many_concurrent_is_exact_in_every_window(env: StoreEnv) -> None:
    a, b = env.k("{x}:a"), env.k("{x}:b")
    results = await asyncio.gather(
        *(env.store.rate_acquire_many([RateSpec(a, 40, 60), RateSpec(b, 90, 60, 3)]) for _ in range(100))
    )
    assert sum(d[0].allowed for d in results) == 30  # b allows 30 × 3 units; a would allow 40
    assert (await env.store.rate_add(b, window_s=60, cost=0)) == 90


# -- capped lists (the dashboard's decision log) ---------------------------------------------------
async def test_list_range_of_missing_key_is_empty(env: StoreEnv) -> None:
    assert await env.store.list_range(env.k("l")) == []


async def test_list_push_puts_newest_first(env: StoreEnv) -> None:
    assert await env.store.list_push(env.k("l"), [b"1", b"2"], max_len=10) == 2
    assert await env.store.list_push(env.k("l"), [b"3"], max_len=10) == 3
    assert await env.store.list_range(env.k("l")) == [b"3", b"2", b"1"]


async def test_list_push_trims_the_oldest_past_max_len(env: StoreEnv) -> None:
    await env.store.list_push(env.k("l"), [b"%d" % i for i in range(5)], max_len=3)
    assert await env.store.list_push(env.k("l"), [b"5"], max_len=3) == 3
    assert await env.store.list_range(env.k("l")) == [b"5", b"4", b"3"]


@pytest.mark.parametrize(("start", "stop", "expected"), [
    (0, 1, [b"c", b"b"]), (1, -1, [b"b", b"a"]), (-1, -1, [b"a"]), (2, 10, [b"a"]), (5, 9, []),
], ids=["head", "tail-negative", "last", "stop-past-end", "start-past-end"])
async def test_list_range_bounds_follow_lrange(env: StoreEnv, start: int, stop: int,
                                               expected: list[bytes]) -> None:
    await env.store.list_push(env.k("l"), [b"a", b"b", b"c"], max_len=10)
    assert await env.store.list_range(env.k("l"), start, stop) == expected


async def test_list_is_shared_between_clients_and_deletable(env: StoreEnv) -> None:
    await env.store.list_push(env.k("l"), [b"x"], max_len=10)
    await env.make_peer().list_push(env.k("l"), [b"y"], max_len=10)
    assert await env.store.list_range(env.k("l")) == [b"y", b"x"]
    assert await env.store.delete(env.k("l")) == 1
    assert await env.store.list_range(env.k("l")) == []


async def test_list_push_rejects_a_zero_cap(env: StoreEnv) -> None:
    with pytest.raises(ValueError):
        await env.store.list_push(env.k("l"), [b"x"], max_len=0)
