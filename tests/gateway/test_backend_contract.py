"""The ChatBackend contract suite: every backend implementation passes the same tests.

Both run against the real fake upstream over HTTP: the fast OpenAI-compatible backend directly,
and the litellm backend through litellm's openai-compatible provider (``openai/<model>`` with
``api_base``).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from core.backend import ChatBackend
from core.clock import SystemClock
from core.deadline import Deadline
from core.errors import (
    UpstreamBadResponseError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from core.wire import ChatRequest
from gateway.providers.http_pool import HttpPool
from gateway.providers.litellm_backend import LiteLLMBackend
from gateway.providers.openai_compat import OpenAICompatBackend
from tests.fakes.upstream import FakeUpstream, Reply

MODEL = "contract-model"
BackendFactory = Callable[[str], ChatBackend]


@pytest.fixture(params=["openai_compat", "litellm"])
async def make_backend(request: pytest.FixtureRequest, fake_upstream: FakeUpstream) -> AsyncIterator[BackendFactory]:
    made: list[ChatBackend] = []

    def factory(base_url: str = fake_upstream.base_url) -> ChatBackend:
        backend: ChatBackend
        if request.param == "openai_compat":
            backend = OpenAICompatBackend("dep", base_url=base_url, model=MODEL, pool=HttpPool(),
                                          api_key="sk-test", owns_pool=True)
        else:
            backend = LiteLLMBackend("dep", model=f"openai/{MODEL}", api_key="sk-test", api_base=base_url)
        made.append(backend)
        return backend

    yield factory
    for b in made:
        await b.aclose()


def _deadline(seconds: float = 10.0) -> Deadline:
    return Deadline.after(seconds, SystemClock())


def _request(**extra: object) -> ChatRequest:
    return ChatRequest({"model": "whatever", "messages": [{"role": "user", "content": "hi"}], **extra})


async def test_complete_returns_the_upstream_answer(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(MODEL, Reply.ok("four", prompt_tokens=3, completion_tokens=1))
    resp = await make_backend(fake_upstream.base_url).complete(_request(), _deadline())
    assert resp.text == "four"
    assert resp.deployment == "dep"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (3, 1)


async def test_known_fields_pass_through(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    await make_backend(fake_upstream.base_url).complete(_request(seed=7, temperature=0.5), _deadline())
    sent = fake_upstream.requests_for(MODEL)[-1].body
    assert (sent["seed"], sent["temperature"], sent["model"]) == (7, 0.5, MODEL)


async def test_stream_yields_chunks_and_the_usage_chunk(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(MODEL, Reply.ok("streamed words here", chunks=3))
    req = _request(stream=True, stream_options={"include_usage": True})
    chunks = [c async for c in make_backend(fake_upstream.base_url).stream(req, _deadline())]
    text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))
    assert text == "streamed words here"
    assert chunks[-1]["usage"]["completion_tokens"] == 7


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply.error(500), UpstreamUnavailableError),
        (Reply.error(503), UpstreamUnavailableError),
        (Reply.error(400), UpstreamRejectedError),
        (Reply.rate_limited("7"), UpstreamRateLimitError),
    ],
    ids=["500", "503", "400", "429"],
)
async def test_http_errors_map_to_the_upstream_family(
    make_backend: BackendFactory, fake_upstream: FakeUpstream, reply: Reply, error: type[UpstreamError]
) -> None:
    fake_upstream.script(MODEL, reply)
    with pytest.raises(error) as info:
        await make_backend(fake_upstream.base_url).complete(_request(), _deadline())
    assert "upstream exploded" not in info.value.message  # bodies are never forwarded
    assert info.value.deployment == "dep"


async def test_retry_after_is_read(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(MODEL, Reply.rate_limited("7"))
    with pytest.raises(UpstreamRateLimitError) as info:
        await make_backend(fake_upstream.base_url).complete(_request(), _deadline())
    assert info.value.retry_after_s == 7.0


async def test_stream_http_error_raises_before_any_chunk(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(MODEL, Reply.error(500))
    with pytest.raises(UpstreamError):
        async for _ in make_backend(fake_upstream.base_url).stream(_request(stream=True), _deadline()):
            pytest.fail("no chunk expected")


async def test_malformed_body_is_a_bad_response(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(MODEL, Reply.malformed())
    with pytest.raises(UpstreamError) as info:
        await make_backend(fake_upstream.base_url).complete(_request(), _deadline())
    assert info.value.retryable


async def test_deadline_is_honoured(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(MODEL, Reply.ok(delay_s=5))
    with pytest.raises(UpstreamTimeoutError):
        await make_backend(fake_upstream.base_url).complete(_request(), _deadline(0.2))


async def test_expired_deadline_fails_without_calling(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    with pytest.raises(UpstreamTimeoutError):
        await make_backend(fake_upstream.base_url).complete(_request(), _deadline(0.0))
    assert fake_upstream.requests_for(MODEL) == []


async def test_cut_stream_raises_mid_stream(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(MODEL, Reply.cut(after_chunks=2))
    got = []
    with pytest.raises(UpstreamError):
        async for chunk in make_backend(fake_upstream.base_url).stream(_request(stream=True), _deadline()):
            got.append(chunk)
    assert len(got) >= 1


async def test_in_stream_error_event_raises_without_its_text(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(MODEL, Reply.stream_error(after_chunks=2))
    with pytest.raises(UpstreamError) as info:
        async for _ in make_backend(fake_upstream.base_url).stream(_request(stream=True), _deadline()):
            pass
    assert "secret-internal-detail" not in info.value.message


async def test_cancel_closes_the_upstream_connection(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(MODEL, Reply.stall())
    backend = make_backend(fake_upstream.base_url)
    task = asyncio.create_task(backend.complete(_request(), _deadline()))
    assert await asyncio.to_thread(fake_upstream.wait_requests, MODEL)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(fake_upstream.wait_client_closed, 1)


async def test_closing_a_stream_early_closes_the_connection(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(MODEL, Reply.ok("a b c d e f", chunks=6, chunk_delay_s=0.3))
    stream = make_backend(fake_upstream.base_url).stream(_request(stream=True), _deadline())
    it = aiter(stream)
    await anext(it)
    await it.aclose()  # type: ignore[attr-defined]
    assert await asyncio.to_thread(fake_upstream.wait_client_closed, 1)


async def test_unreachable_upstream_is_unavailable(make_backend: BackendFactory) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UpstreamError) as info:
        await make_backend(f"http://127.0.0.1:{port}/v1").complete(_request(), _deadline(5))
    assert info.value.retryable
    assert not isinstance(info.value, UpstreamBadResponseError)


async def test_aclose_is_idempotent(make_backend: BackendFactory, fake_upstream: FakeUpstream) -> None:
    backend = make_backend(fake_upstream.base_url)
    await backend.complete(_request(), _deadline())
    await backend.aclose()
    await backend.aclose()
