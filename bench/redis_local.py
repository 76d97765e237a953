"""Redis for a benchmark: the given URL, or a private throw-away ``redis-server`` (no persistence).

``with redis_for_bench(args.redis_url) as url:`` yields the URL to use, or None when no URL was
given and ``redis-server`` is not installed; a server it started is stopped on exit.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def redis_for_bench(redis_url: str | None) -> Iterator[str | None]:
    if redis_url is not None:
        yield redis_url
        return
    exe = shutil.which("redis-server")
    if exe is None:
        yield None
        return
    from tests.fixtures.redis_server import start_redis_server

    proc, port = start_redis_server(exe, Path(tempfile.mkdtemp(prefix="bench-redis-")))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
