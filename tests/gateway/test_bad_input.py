"""Bad input gets OpenAI error JSON with the right status, never a 500, and the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway.harness import GatewayServer, fake_config

OK_MSGS = [{"role": "user", "content": "hi"}]
JSON = {"content-type": "application/json"}


def _post(url: str, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", content=content, headers={**JSON, **(headers or {})})


def _j(obj: Any) -> bytes:
    import orjson

    return orjson.dumps(obj)


CASES: list[tuple[str, bytes, int, str, str | None]] = [
    # id, body, status, code, param
    ("malformed-json", b'{"model": "auto", "messages": [', 400, "invalid_request", None),
    ("invalid-utf8", b'{"model": "auto", "messages": [{"role": "user", "content": "\xff\xfe"}]}', 400,
     "invalid_request", None),
    ("empty-body", b"", 400, "invalid_request", None),
    ("not-an-object", b"[1, 2, 3]", 400, "invalid_request", None),
    ("missing-model", _j({"messages": OK_MSGS}), 400, "invalid_request", "model"),
    ("model-not-string", _j({"model": 5, "messages": OK_MSGS}), 400, "invalid_request", "model"),
    ("missing-messages", _j({"model": "auto"}), 400, "invalid_request", "messages"),
    ("messages-not-array", _j({"model": "auto", "messages": "hi"}), 400, "invalid_request", "messages"),
    ("empty-messages", _j({"model": "auto", "messages": []}), 400, "invalid_request", "messages"),
    ("message-not-object", _j({"model": "auto", "messages": ["hi"]}), 400, "invalid_request", "messages[0]"),
    ("bad-role", _j({"model": "auto", "messages": [{"role": "wizard", "content": "x"}]}), 400,
     "invalid_request", "messages[0].role"),
    ("missing-role", _j({"model": "auto", "messages": [{"content": "x"}]}), 400, "invalid_request",
     "messages[0].role"),
    ("content-wrong-type", _j({"model": "auto", "messages": [{"role": "user", "content": 42}]}), 400,
     "invalid_request", "messages[0].content"),
    ("temperature-string", _j({"model": "auto", "messages": OK_MSGS, "temperature": "hot"}), 400,
     "invalid_request", "temperature"),
    ("temperature-range", _j({"model": "auto", "messages": OK_MSGS, "temperature": 7}), 400,
     "invalid_request", "temperature"),
    ("max-tokens-float", _j({"model": "auto", "messages": OK_MSGS, "max_tokens": 1.5}), 400,
     "invalid_request", "max_tokens"),
    ("stream-not-bool", _j({"model": "auto", "messages": OK_MSGS, "stream": "yes"}), 400,
     "invalid_request", "stream"),
    ("stream-options-bad", _j({"model": "auto", "messages": OK_MSGS, "stream_options": {"include_usage": 1}}),
     400, "invalid_request", "stream_options.include_usage"),
    ("tools-not-array", _j({"model": "auto", "messages": OK_MSGS, "tools": {}}), 400, "invalid_request", "tools"),
    ("unknown-model", _j({"model": "gpt-nonexistent", "messages": OK_MSGS}), 404, "model_not_found", "model"),
    ("no-candidate", _j({"model": "dead", "messages": OK_MSGS}), 503, "no_candidate", None),
]


@pytest.mark.parametrize(("body", "status", "code", "param"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_request_body(gateway: GatewayServer, body: bytes, status: int, code: str, param: str | None) -> None:
    resp = _post(gateway.url, body)
    assert resp.status_code == status
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert (err["code"], err["param"]) == (code, param)
    assert _post(gateway.url, _j({"model": "auto", "messages": OK_MSGS})).status_code == 200


@pytest.mark.parametrize(
    ("header", "value"),
    [("x-switchboard-max-cost-usd", "cheap"), ("x-switchboard-max-cost-usd", "-1"),
     ("x-switchboard-ttft-slo-ms", "nan"), ("x-switchboard-tier", "moon")],
    ids=["cost-text", "cost-negative", "ttft-nan", "tier-unknown"],
)
def test_bad_routing_header(gateway: GatewayServer, header: str, value: str) -> None:
    resp = _post(gateway.url, _j({"model": "auto", "messages": OK_MSGS}), {header: value})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == header


def test_oversized_body_by_content_length(gateway: GatewayServer) -> None:
    big = _j({"model": "auto", "messages": [{"role": "user", "content": "x" * 70_000}]})
    resp = _post(gateway.url, big)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"


def test_oversized_chunked_body(gateway: GatewayServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "auto", "messages": [{"role": "user", "content": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}]}'

    resp = httpx.post(gateway.url + "/v1/chat/completions", content=chunks(), headers=JSON)
    assert resp.status_code == 413
    assert _post(gateway.url, _j({"model": "auto", "messages": OK_MSGS})).status_code == 200


def test_wrong_method_and_unknown_route(gateway: GatewayServer) -> None:
    assert httpx.get(gateway.url + "/v1/chat/completions").json()["error"]["code"] == "method_not_allowed"
    resp = httpx.get(gateway.url + "/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [("/v1/embeddings", {"model": "remote-emb"}, "input"),
     ("/v1/embeddings", {"model": "remote-emb", "input": [1, 2]}, "input"),
     ("/v1/embeddings", {"model": "remote-emb", "input": "x", "encoding_format": "hex"}, "encoding_format"),
     ("/v1/completions", {"model": "auto"}, "prompt"),
     ("/v1/completions", {"model": "auto", "prompt": 7}, "prompt")],
    ids=["emb-missing-input", "emb-token-arrays", "emb-format", "cmpl-missing-prompt", "cmpl-prompt-type"],
)
def test_bad_bodies_on_other_endpoints(gateway: GatewayServer, path: str, body: dict[str, Any], param: str) -> None:
    resp = httpx.post(gateway.url + path, json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == param


def test_unknown_embedding_model(gateway: GatewayServer) -> None:
    resp = httpx.post(gateway.url + "/v1/embeddings", json={"model": "nope", "input": "x"})
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "model_not_found"


@pytest.fixture(scope="module")
def locked_gateway(_fake_upstream_session: FakeUpstream) -> Iterator[GatewayServer]:
    with GatewayServer(fake_config(_fake_upstream_session.base_url), master_key="sk-master-test") as server:
        yield server


@pytest.mark.parametrize("auth", [None, "Bearer sk-wrong", "Basic abc"], ids=["missing", "wrong", "scheme"])
def test_bad_key_is_401(locked_gateway: GatewayServer, auth: str | None) -> None:
    headers = {"authorization": auth} if auth else {}
    resp = _post(locked_gateway.url, _j({"model": "auto", "messages": OK_MSGS}), headers)
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "authentication_error"
    ok = _post(locked_gateway.url, _j({"model": "auto", "messages": OK_MSGS}),
               {"authorization": "Bearer sk-master-test"})
    assert ok.status_code == 200


def test_models_needs_the_key_when_locked(locked_gateway: GatewayServer) -> None:
    assert httpx.get(locked_gateway.url + "/v1/models").status_code == 401


def test_admin_reload_needs_the_master_key(locked_gateway: GatewayServer) -> None:
    assert httpx.post(locked_gateway.url + "/admin/config/reload").status_code == 401
