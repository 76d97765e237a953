"""Run ``switchboard serve`` as a real process for the keys tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
MASTER = "sk-master-keys-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gateway_process(
    config: Path, log: Path, *, redis_url: str | None = None, state_path: Path | None = None
) -> Iterator[str]:
    """``switchboard serve`` on a free port (Redis when ``redis_url``, else the in-process store
    with its snapshot at ``state_path``); yields its base URL once it is ready."""
    port = _free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_HOST": "127.0.0.1",
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_CONFIG": str(config),
        "SWITCHBOARD_MASTER_KEY": MASTER,
        "SWITCHBOARD_RELOAD_POLL_S": "0",
    }
    env.pop("SWITCHBOARD_REDIS_URL", None)
    if redis_url:
        env["SWITCHBOARD_REDIS_URL"] = redis_url
    if state_path:
        env["SWITCHBOARD_STATE_PATH"] = str(state_path)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from gateway.cli import main; raise SystemExit(main(['serve']))"],
            cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/health/readiness", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
