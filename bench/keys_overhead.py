"""What keys, limits and spend add to one request, per Store; prints JSON.

    python -m bench.keys_overhead [--n 5000] [--redis-url redis://…]

Without ``--redis-url`` a throw-away ``redis-server`` is started on a free port (no persistence).
Figures (µs, one process, sequential calls): ``authenticate`` (cached look-up), ``admit``
(permission + budget + rpm + tpm), ``record`` (spend + tpm reconcile), raw ``rate_acquire``;
plus the PriceBook's first-use cost (map parse) in a fresh process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.redis_local import redis_for_bench
from core.store.memory import MemoryStore
from core.store.protocol import Store
from core.store.redis import RedisStore
from core.wire import Usage
from gateway.admin_keys_api import KeyServices


async def _time(fn: Callable[[], Awaitable[Any]], n: int) -> dict[str, float]:
    for _ in range(min(200, n)):
        await fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t) * 1e6)
    samples.sort()
    return {"p50_us": round(statistics.median(samples), 1), "p99_us": round(samples[int(0.99 * n) - 1], 1)}


async def _bench_store(store: Store, n: int) -> dict[str, Any]:
    svc = KeyServices.build(store, master_key="sk-master-bench")
    secret, _ = await svc.keys.create(name="bench", rpm=10**9, tpm=10**12, budget_usd=10**9)
    header = f"Bearer {secret}"
    principal = await svc.auth.authenticate(header)
    usage = Usage(100, 50)

    async def admit_record() -> None:
        adm = await svc.limiter.admit(principal, "auto", 100)
        await svc.limiter.record(principal, usage, 0.0001, admission=adm)

    return {
        "authenticate": await _time(lambda: svc.auth.authenticate(header), n),
        "admit": await _time(lambda: svc.limiter.admit(principal, "auto", 100), n),
        "admit_and_record": await _time(admit_record, n),
        "rate_acquire": await _time(lambda: store.rate_acquire("bench:w", limit=10**9, window_s=60), n),
    }


def _pricebook_first_use() -> dict[str, float]:
    code = (
        "import time; t=time.perf_counter(); from core.pricing import PriceBook; t1=time.perf_counter();"
        "PriceBook().price_for('gpt-4o'); t2=time.perf_counter();"
        "import sys; assert 'litellm' not in sys.modules;"
        "print((t1-t)*1e3, (t2-t1)*1e3)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imp, first = (float(x) for x in out.stdout.split())
    return {"import_ms": round(imp, 1), "first_price_lookup_ms": round(first, 1)}


async def _main(n: int, redis_url: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"n": n, "pricebook": _pricebook_first_use()}
    mem = MemoryStore()
    result["memory"] = await _bench_store(mem, n)
    await mem.aclose()
    with redis_for_bench(redis_url) as url:
        if url is None:
            raise SystemExit("redis-server not installed (apt-get install -y redis-server)")
        red = RedisStore.from_url(url)
        try:
            result["redis"] = await _bench_store(red, n)
        finally:
            await red.aclose()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--redis-url", default=None)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(_main(args.n, args.redis_url)), indent=2))


if __name__ == "__main__":
    main()
