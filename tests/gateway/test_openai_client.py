"""The official openai client (sync, async, streaming) against the gateway running under uvicorn."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.harness import GatewayServer

MSGS = [{"role": "user", "content": "What is two plus two?"}]


@pytest.fixture
def client(gateway: GatewayServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-anything", max_retries=0)


@pytest.fixture
def aclient(gateway: GatewayServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key="sk-anything", max_retries=0)


def test_sync_completion(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("four"))
    resp = client.chat.completions.create(model="auto", messages=MSGS)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "four"
    assert resp.usage is not None and resp.usage.total_tokens == 18


def test_routing_headers(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=MSGS)  # type: ignore[arg-type]
    assert raw.headers["x-switchboard-model"] == "m-fast"
    assert raw.headers["x-switchboard-deployment"] == "fast"
    assert raw.headers["x-switchboard-tier"] == "cloud"
    assert raw.headers["x-switchboard-policy"] == "main"
    assert "fast" in raw.headers["x-switchboard-route-reason"]
    # 11 prompt tokens at $1/Mtok + 7 completion tokens at $2/Mtok
    assert float(raw.headers["x-switchboard-cost-usd"]) == pytest.approx(25e-6)
    assert raw.headers["x-request-id"]


def test_caller_request_id_is_echoed(gateway: GatewayServer) -> None:
    resp = httpx.get(gateway.url + "/health/liveness", headers={"x-request-id": "trace-123"})
    assert resp.headers["x-request-id"] == "trace-123"


def test_unknown_and_known_fields_pass_through(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    client.chat.completions.create(
        model="auto", messages=MSGS, seed=3, tools=tools, tool_choice="auto",  # type: ignore[arg-type]
        response_format={"type": "json_object"}, logprobs=True,
        extra_body={"vendor_knob": {"x": 1}},
    )
    sent = fake_upstream.requests_for("m-fast")[-1].body
    assert sent["vendor_knob"] == {"x": 1}
    assert (sent["seed"], sent["tool_choice"], sent["response_format"], sent["logprobs"]) == (
        3, "auto", {"type": "json_object"}, True)
    assert sent["tools"] == tools


def test_a_deployment_can_be_named_directly(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    raw = client.chat.completions.with_raw_response.create(model="backup", messages=MSGS)  # type: ignore[arg-type]
    assert raw.headers["x-switchboard-deployment"] == "backup"
    assert fake_upstream.requests_for("m-backup")


def test_litellm_deployment_through_the_gateway(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-lite", Reply.ok("via litellm"))
    resp = client.chat.completions.create(model="lite", messages=MSGS)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "via litellm"


def test_sync_stream_with_usage(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("one two three", chunks=3))
    stream = client.chat.completions.create(model="auto", messages=MSGS, stream=True,  # type: ignore[arg-type]
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    chunks = list(client.chat.completions.create(model="auto", messages=MSGS, stream=True))  # type: ignore[arg-type]
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    # the gateway still asked the upstream for usage, for spend accounting
    assert fake_upstream.requests_for("m-fast")[-1].body["stream_options"] == {"include_usage": True}


def test_raw_sse_ends_with_done(gateway: GatewayServer, fake_upstream: FakeUpstream) -> None:
    body = {"model": "auto", "messages": MSGS, "stream": True}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-switchboard-deployment"] == "fast"
        events = [line for line in resp.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)


async def test_async_completion(aclient: openai.AsyncOpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("async answer"))
    resp = await aclient.chat.completions.create(model="auto", messages=MSGS)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "async answer"


async def test_async_stream(aclient: openai.AsyncOpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("streaming async", chunks=4))
    stream = await aclient.chat.completions.create(model="auto", messages=MSGS, stream=True)  # type: ignore[arg-type]
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "streaming async"


def test_legacy_completions(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("done"))
    resp = client.completions.create(model="auto", prompt="Say done")
    assert resp.object == "text_completion"
    assert resp.choices[0].text == "done"
    assert fake_upstream.requests_for("m-fast")[-1].body["messages"] == [{"role": "user", "content": "Say done"}]


def test_legacy_completions_stream(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("m-fast", Reply.ok("abc def", chunks=2))
    text = "".join(c.choices[0].text for c in client.completions.create(model="auto", prompt="x", stream=True)
                   if c.choices)
    assert text == "abc def"


def test_embeddings_remote(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    resp = client.embeddings.create(model="remote-emb", input=["a", "b"])
    assert [d.index for d in resp.data] == [0, 1]
    assert resp.data[0].embedding == [0.6, 0.8, 0.0]
    assert resp.model == "remote-emb"


def test_models_lists_deployments_policies_and_flags_unavailable(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list().data}
    assert {"fast", "backup", "auto", "main", "remote-emb"} <= set(models)
    keyed = models["keyed"].model_extra or {}
    assert keyed["switchboard"]["available"] is False
    assert keyed["switchboard"]["unavailable_reason"] == "SB_TEST_NEVER_SET_KEY not set"
    assert (models["auto"].model_extra or {})["switchboard"]["kind"] == "policy"


def test_model_retrieve(client: openai.OpenAI) -> None:
    assert client.models.retrieve("fast").id == "fast"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
