"""Limits are exact across processes: two ``switchboard serve`` processes share one real Redis.

A key with 100 requests per minute gets 300 requests, alternating between the two gateways, in
front of the fake upstream: 100 (±1) are answered, the rest are 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parents[3]
MASTER = "sk-master-multi-process"

CONFIG = """\
deployments:
  - name: fake
    kind: openai_compatible
    model: fake-model
    base_url: {base_url}
policies:
  - name: auto
    candidates: [fake]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gateway_process(config: Path, redis_url: str, log: Path) -> Iterator[str]:
    """``switchboard serve`` on a free port; yields its base URL once it is ready."""
    port = _free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_HOST": "127.0.0.1",
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_CONFIG": str(config),
        "SWITCHBOARD_REDIS_URL": redis_url,
        "SWITCHBOARD_MASTER_KEY": MASTER,
        "SWITCHBOARD_RELOAD_POLL_S": "0",
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from gateway.cli import main; raise SystemExit(main(['serve']))"],
            cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/health/readiness", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _send_all(urls: list[str], secret: str, n: int) -> list[httpx.Response]:
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {secret}"}
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(i: int) -> httpx.Response:
            async with limit:
                return await client.post(urls[i % 2] + "/v1/chat/completions", json=body, headers=headers)

        return await asyncio.gather(*(one(i) for i in range(n)))


@pytest.mark.slow
def test_rpm_is_exact_across_two_gateway_processes(
    clean_redis_url: str, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(CONFIG.format(base_url=fake_upstream.base_url))
    with ExitStack() as stack:
        urls = [
            stack.enter_context(gateway_process(config, clean_redis_url, tmp_path / f"gw{i}.log"))
            for i in range(2)
        ]
        created = httpx.post(
            urls[0] + "/admin/keys", json={"name": "rpm-100", "rpm": 100},
            headers={"authorization": f"Bearer {MASTER}"}, timeout=10,
        )
        assert created.status_code == 201, created.text
        responses = asyncio.run(_send_all(urls, created.json()["key"], 300))

    statuses = [r.status_code for r in responses]
    accepted = statuses.count(200)
    refused = [r for r in responses if r.status_code == 429]
    print(f"accepted={accepted} refused={len(refused)} of {len(responses)}")
    assert 99 <= accepted <= 101, f"accepted {accepted}"
    assert len(refused) == 300 - accepted, sorted(set(statuses))
    for r in refused:
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
    # both processes did admit requests: the limit was shared, not per process
    served_by = {str(r.request.url).split("/v1/")[0] for r in responses if r.status_code == 200}
    assert len(served_by) == 2
