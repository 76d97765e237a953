"""Two gateway replicas sharing one Redis: the admin tool API reads and removes what the other
replica just wrote (read-your-writes), without waiting for the background catalog refresh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway.harness import GatewayServer, fake_config, tool_kb_gateway

pytestmark = pytest.mark.slow

MASTER = "sk-master-replicas"
AUTH = {"authorization": f"Bearer {MASTER}"}


def _tool(description: str) -> dict[str, object]:
    return {
        "name": "get_weather",
        "description": description,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }


@pytest.fixture
def replicas(
    prepared_models_dir: Path, tmp_path: Path, clean_redis_url: str, fake_upstream: FakeUpstream
) -> Iterator[tuple[GatewayServer, GatewayServer]]:
    config = fake_config(fake_upstream.base_url)
    # B's background refresh never runs during the test: only the admin calls can catch it up
    with (
        tool_kb_gateway(
            config,
            tmp_path / "a",
            master_key=MASTER,
            models_dir=prepared_models_dir,
            redis_url=clean_redis_url,
        ) as a,
        tool_kb_gateway(
            config,
            tmp_path / "b",
            master_key=MASTER,
            models_dir=prepared_models_dir,
            redis_url=clean_redis_url,
            refresh_interval_s=3600.0,
        ) as b,
    ):
        assert httpx.get(f"{b.url}/admin/tools", headers=AUTH, timeout=60).json()["version"] == 0
        yield a, b


def _upsert(gw: GatewayServer, description: str) -> int:
    r = httpx.post(f"{gw.url}/admin/tools", json={"tools": [_tool(description)]}, headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    version: int = r.json()["version"]
    return version


def test_list_on_one_replica_shows_the_others_write(replicas: tuple[GatewayServer, GatewayServer]) -> None:
    a, b = replicas
    _upsert(a, "Weather for a city.")
    version = _upsert(a, "Current weather and forecast for a city.")
    r = httpx.get(f"{b.url}/admin/tools", headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == version
    assert [t["description"] for t in r.json()["data"]] == ["Current weather and forecast for a city."]


def test_remove_on_one_replica_finds_the_others_write(replicas: tuple[GatewayServer, GatewayServer]) -> None:
    a, b = replicas
    version = _upsert(a, "Current weather and forecast for a city.")
    r = httpx.delete(f"{b.url}/admin/tools/get_weather", headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == {"version": version + 1, "removed": ["get_weather"]}
    assert httpx.get(f"{a.url}/admin/tools", headers=AUTH, timeout=60).json()["data"] == []
