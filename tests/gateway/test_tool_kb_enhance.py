"""Toolshed-style enhancement in the served gateway: with ``tools.llm.enhance`` every catalog tool
is described by the configured model through the routed backend, in the background, and the
answers are cached beside the catalog (a restart asks nothing again)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.harness import GatewayServer, fake_config, tool_kb_gateway
from tests.gateway.test_tool_kb_wiring import CATALOG

pytestmark = pytest.mark.slow

MASTER = "sk-master-kb-enhance"
AUTH = {"authorization": f"Bearer {MASTER}"}
EXTRA = """  - name: describer
    candidates: [backup]
tools:
  llm: {model: describer, decompose: false, rerank: false, enhance: true}
"""


def _serve(fake: FakeUpstream, tmp: Path, models_dir: Path) -> GatewayServer:
    return tool_kb_gateway(fake_config(fake.base_url, extra=EXTRA), tmp, master_key=MASTER,
                           models_dir=models_dir, extras_interval_s=0.2)


def _wait(what: str, predicate: object) -> None:
    deadline = time.monotonic() + 60
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    up = FakeUpstream().start()
    up.set_default(Reply.ok("What is the forecast for tomorrow in Oslo\nConvert my salary into yen please"))
    try:
        yield up
    finally:
        up.stop()


def test_catalog_is_enhanced_in_the_background_and_cached(
    prepared_models_dir: Path, tmp_path: Path, fake: FakeUpstream
) -> None:
    cache = tmp_path / "enhance.json"
    with _serve(fake, tmp_path, prepared_models_dir) as gw:
        r = httpx.post(f"{gw.url}/admin/tools", json={"tools": CATALOG}, headers=AUTH, timeout=60)
        assert r.status_code == 200, r.text

        def cached() -> int:
            if not cache.exists():
                return 0
            return len(json.loads(cache.read_text()).get("models", {}).get("describer", {}))

        _wait("every tool to be enhanced", lambda: cached() == len(CATALOG))
        asked = [str(q.body["messages"][-1]["content"]) for q in fake.requests_for("m-backup")]
        for name in ("get weather", "convert currency", "send email"):
            assert any(a.startswith(f"Tool: {name}") for a in asked), asked
        r = httpx.post(f"{gw.url}/v1/tools/search", json={"query": "forecast for Oslo tomorrow", "k": 1},
                       headers=AUTH, timeout=60)
        assert r.status_code == 200, r.text
    n_asked = len(fake.requests_for("m-backup"))
    with _serve(fake, tmp_path, prepared_models_dir) as gw:  # a restart reuses the cache
        r = httpx.post(f"{gw.url}/v1/tools/search", json={"query": "weather", "k": 1}, headers=AUTH, timeout=60)
        assert r.status_code == 200, r.text
        time.sleep(1.0)  # give the background enhancement its round
    assert len(fake.requests_for("m-backup")) == n_asked
