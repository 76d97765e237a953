"""Hot reload: admin endpoint and file change; invalid configs keep the old one; in-flight requests
finish on the config they started with."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.harness import GatewayServer, fake_config

MSGS = [{"role": "user", "content": "hi"}]
NEW_POLICY = """  - name: added
    candidates: [backup]
"""


@pytest.fixture
def server(_fake_upstream_session: FakeUpstream) -> Iterator[GatewayServer]:
    with GatewayServer(fake_config(_fake_upstream_session.base_url)) as gw:  # no file polling
        yield gw


def _version(gw: GatewayServer) -> int:
    return int(httpx.get(gw.url + "/admin/config").json()["version"])


def test_admin_reload_swaps_in_a_valid_config(server: GatewayServer, fake_upstream: FakeUpstream) -> None:
    server.config_path.write_text(fake_config(fake_upstream.base_url, extra=NEW_POLICY))
    resp = httpx.post(server.url + "/admin/config/reload")
    assert resp.status_code == 200
    assert resp.json()["ok"] is True
    assert _version(server) == 2
    chat = httpx.post(server.url + "/v1/chat/completions", json={"model": "added", "messages": MSGS})
    assert chat.headers["x-switchboard-deployment"] == "backup"


def test_invalid_config_keeps_the_old_one_and_says_why(server: GatewayServer) -> None:
    server.config_path.write_text("deployments:\n  - {name: a, kind: nope}\n")
    resp = httpx.post(server.url + "/admin/config/reload")
    assert resp.status_code == 400
    problems = resp.json()["problems"]
    assert problems and problems[0].startswith(f"{server.config_path}:2:5: deployments[0]")
    status = httpx.get(server.url + "/admin/config").json()
    assert status["version"] == 1
    assert status["last_error"]["problems"] == problems
    ok = httpx.post(server.url + "/v1/chat/completions", json={"model": "auto", "messages": MSGS})
    assert ok.status_code == 200


def test_file_change_is_picked_up(fake_upstream: FakeUpstream) -> None:
    with GatewayServer(fake_config(fake_upstream.base_url), reload_poll_s=0.05) as server:
        server.write_config(fake_config(fake_upstream.base_url, extra=NEW_POLICY))
        end = time.monotonic() + 10
        while _version(server) < 2 and time.monotonic() < end:
            time.sleep(0.02)
        assert _version(server) == 2


def test_in_flight_requests_finish_on_their_config(server: GatewayServer, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("old config answer", delay_s=1.0))
    result: dict[str, httpx.Response] = {}

    def call() -> None:
        result["r"] = httpx.post(server.url + "/v1/chat/completions",
                                 json={"model": "auto", "messages": MSGS}, timeout=10)

    t = threading.Thread(target=call)
    t.start()
    assert fake_upstream.wait_requests("m-fast")
    # the new config routes "auto" to backup only
    swapped = fake_config(fake_upstream.base_url).replace("candidates: [fast]\n    fallbacks: [backup]",
                                                          "candidates: [backup]")
    server.config_path.write_text(swapped)
    assert httpx.post(server.url + "/admin/config/reload").json()["ok"] is True
    t.join(10)
    assert result["r"].status_code == 200
    assert result["r"].headers["x-switchboard-deployment"] == "fast"
    after = httpx.post(server.url + "/v1/chat/completions", json={"model": "auto", "messages": MSGS})
    assert after.headers["x-switchboard-deployment"] == "backup"
