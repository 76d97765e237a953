"""`make run`'s config end to end: with no cloud keys, model "auto" is answered by the local
SmolLM2 edge model (a supervised llama-cpp-python server started on first use)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from functools import cache
from pathlib import Path

import openai
import pytest

from gateway.runtime import Hooks
from tests.gateway.harness import GatewayServer

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python not installed"),
]


_PROBE = """
import llama_cpp
from core.embedders.locate import resolve_gguf
m = llama_cpp.Llama(str(resolve_gguf("smollm2")), n_ctx=256, n_threads=1, verbose=False)
m.create_completion("hi", max_tokens=1)
"""


@cache
def _llama_runs_here() -> bool:
    """llama.cpp wheels built for another CPU die with SIGILL on the first token."""
    return subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, timeout=120).returncode == 0


def test_auto_falls_to_the_local_edge_model_without_cloud_keys() -> None:
    if not _llama_runs_here():
        pytest.skip("the installed llama.cpp build cannot run inference on this CPU (SIGILL)")
    text = (ROOT / "config" / "default.yaml").read_text()
    with GatewayServer(text, hooks=Hooks(env={}), models_dir=ROOT / "var" / "models") as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0, timeout=120)
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0)
        assert raw.headers["x-switchboard-deployment"] == "smollm2-local"
        assert raw.headers["x-switchboard-tier"] == "edge"
        assert "gpt-4.1-mini=availability" in raw.headers["x-switchboard-route-reason"]
        answer = raw.parse()
        assert answer.choices[0].message.content
        assert answer.usage is not None and answer.usage.completion_tokens > 0
