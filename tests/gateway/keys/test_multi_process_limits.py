"""Limits are exact across processes: two ``switchboard serve`` processes share one real Redis.

A key with 100 requests per minute gets 300 requests, alternating between the two gateways, in
front of the fake upstream: 100 (±1) are answered, the rest are 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway.keys.gateway_proc import MASTER, gateway_process

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
            stack.enter_context(gateway_process(config, tmp_path / f"gw{i}.log", redis_url=clean_redis_url))
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
