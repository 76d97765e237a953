"""``switchboard serve`` as a real process: it starts, serves, reloads on SIGHUP, refuses a bad config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway.harness import fake_config, free_port

ROOT = Path(__file__).resolve().parents[2]


def _serve(config: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SWITCHBOARD_STATE_PATH": "", "SWITCHBOARD_MASTER_KEY": "", "SWITCHBOARD_RELOAD_POLL_S": "0"}
    env.pop("SWITCHBOARD_REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())", "serve", "--config", str(config), "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        assert proc.poll() is None, (proc.stdout.read() if proc.stdout else b"").decode()
        try:
            if httpx.get(url + "/health/readiness", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("gateway not ready")


def test_serve_answers_and_reloads_on_sighup(tmp_path: Path, fake_upstream: FakeUpstream) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text(fake_config(fake_upstream.base_url))
    port = free_port()
    proc = _serve(config, port)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        chat = httpx.post(url + "/v1/chat/completions", json={"model": "auto", "messages": [
            {"role": "user", "content": "hi"}]})
        assert chat.status_code == 200
        config.write_text(fake_config(fake_upstream.base_url, extra="  - {name: added, candidates: [backup]}\n"))
        proc.send_signal(signal.SIGHUP)
        end = time.monotonic() + 10
        while httpx.get(url + "/admin/config").json()["version"] < 2 and time.monotonic() < end:
            time.sleep(0.05)
        assert httpx.get(url + "/admin/config").json()["version"] == 2
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_refuses_an_invalid_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("deployments: 5\n")
    proc = _serve(config, free_port())
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert f"{config}:1:14: deployments: " in out.decode()


@pytest.mark.parametrize("module", ["litellm", "torch", "sentence_transformers", "llama_cpp"])
def test_app_import_pulls_in_no_heavy_modules(module: str) -> None:
    code = f"import sys, gateway.wiring; sys.exit(1 if {module!r} in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
