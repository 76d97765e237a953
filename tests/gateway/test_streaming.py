"""Client disconnects cancel the upstream call; upstream failures mid-stream become one error event."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.harness import GatewayServer

MSGS = [{"role": "user", "content": "hi"}]


def _stream_lines(gateway: GatewayServer, model: str = "fast", headers: dict[str, str] | None = None
                  ) -> tuple[int, list[str]]:
    body = {"model": model, "messages": MSGS, "stream": True}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=10) as resp:
        return resp.status_code, [line for line in resp.iter_lines() if line]


def test_disconnect_mid_stream_closes_the_upstream_connection(gateway: GatewayServer,
                                                              fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("a b c d e f g h", chunks=8, chunk_delay_s=0.5))
    body = {"model": "fast", "messages": MSGS, "stream": True}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, timeout=10) as resp:
        first = next(resp.iter_lines())
        assert first.startswith("data: ")
    assert fake_upstream.wait_client_closed(1)


def test_disconnect_before_the_first_chunk_closes_the_upstream(gateway: GatewayServer,
                                                               fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.stall())
    body = {"model": "fast", "messages": MSGS, "stream": True}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=0.5)
    assert fake_upstream.wait_client_closed(1)


def test_disconnect_during_a_json_request_closes_the_upstream(gateway: GatewayServer,
                                                              fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.stall())
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gateway.url + "/v1/chat/completions", json={"model": "fast", "messages": MSGS}, timeout=0.5)
    assert fake_upstream.wait_client_closed(1)
    assert httpx.get(gateway.url + "/health/liveness").status_code == 200


@pytest.mark.parametrize("reply", [Reply.cut(after_chunks=2), Reply.stream_error(after_chunks=2)],
                         ids=["cut-stream", "upstream-error-event"])
def test_mid_stream_failure_is_one_error_event(gateway: GatewayServer, fake_upstream: FakeUpstream,
                                               reply: Reply) -> None:
    fake_upstream.script("m-fast", reply)
    status, lines = _stream_lines(gateway)
    assert status == 200
    errors = [ln for ln in lines if ln.startswith("data: {\"error\"")]
    assert len(errors) == 1
    assert lines[-1] == errors[0]  # the error is the last event: no [DONE] after it
    err = orjson.loads(errors[0][len("data: "):])["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert "secret-internal-detail" not in errors[0]
    assert _stream_lines(gateway)[1][-1] == "data: [DONE]"  # and the server keeps serving


def test_stream_failing_before_any_chunk_is_an_http_error(gateway: GatewayServer, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.error(500), Reply.error(500))
    body = {"model": "fast", "messages": MSGS, "stream": True}
    resp = httpx.post(gateway.url + "/v1/chat/completions", json=body)
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "upstream_unavailable"
    assert "upstream exploded" not in resp.text


def test_stream_falls_back_before_the_first_chunk(gateway: GatewayServer, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.error(500), Reply.error(500))
    body = {"model": "auto", "messages": MSGS, "stream": True}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body) as resp:
        assert resp.headers["x-switchboard-deployment"] == "backup"
        assert [ln for ln in resp.iter_lines() if ln][-1] == "data: [DONE]"


def test_stream_cost_comes_as_a_comment_before_done_on_request(gateway: GatewayServer, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("one two three"))
    assert all(ln.startswith("data: ") for ln in _stream_lines(gateway)[1])  # opt-in only
    status, lines = _stream_lines(gateway, headers={"x-switchboard-stream-cost": "true"})
    assert status == 200
    assert lines[-1] == "data: [DONE]"
    assert lines[-2].startswith(": x-switchboard-cost-usd=")
    assert float(lines[-2].split("=", 1)[1]) >= 0.0
    assert not any(ln.startswith("data: {\"error\"") for ln in lines)
