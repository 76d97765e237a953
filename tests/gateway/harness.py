"""Run the real gateway under uvicorn on a free loopback port, in a thread, for tests.

``GatewayServer(config_text, **settings)`` writes the config to a temporary file, starts uvicorn
(the same app factory ``switchboard serve`` uses, minus the CLI) and stops it on exit. Requests go
over real sockets, so the official openai client, raw HTTP and disconnects behave as in production.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter

from gateway.app import create_app
from gateway.runtime import Hooks
from gateway.settings import GatewaySettings


def fake_config(base_url: str, *, cooldown_failures: int = 100, extra: str = "") -> str:
    """A config whose deployments all point at the fake upstream (models named ``m-<name>``)."""
    return f"""
settings:
  max_body_bytes: 65536
  request_timeout_s: 10
  cooldown: {{failures: {cooldown_failures}, seconds: 30}}
deployments:
  - {{name: fast, kind: openai_compatible, base_url: "{base_url}", model: m-fast,
      capabilities: [streaming, tools, json_mode, logprobs], price: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}}}
  - {{name: backup, kind: openai_compatible, base_url: "{base_url}", model: m-backup,
      capabilities: [streaming, tools, json_mode]}}
  - {{name: edge, kind: openai_compatible, base_url: "{base_url}", model: m-edge, tier: edge,
      price: {{input_per_mtok: 0, output_per_mtok: 0}}}}
  - {{name: lite, kind: litellm, model: openai/m-lite, api_base: "{base_url}", api_key_env: SB_TEST_LITE_KEY}}
  - {{name: keyed, kind: openai_compatible, base_url: "{base_url}", model: m-keyed,
      api_key_env: SB_TEST_NEVER_SET_KEY}}
embeddings:
  - {{name: remote-emb, kind: openai_embedding, base_url: "{base_url}", model: m-emb}}
policies:
  - name: main
    aliases: [auto]
    candidates: [fast]
    fallbacks: [backup]
    retry: {{max_attempts: 2, backoff_base_s: 0.01, backoff_max_s: 0.05}}
  - name: edge-first
    candidates: [edge, fast]
  - name: dead
    candidates: [keyed]
{extra}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayServer:
    def __init__(self, config_text: str, *, hooks: Hooks | None = None, env: dict[str, str] | None = None,
                 extra_routers: Sequence[APIRouter] = (), **settings: Any) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="sb-gw-")
        self.config_path = Path(self._tmp.name) / "gateway.yaml"
        self.config_path.write_text(config_text)
        self.port = free_port()
        base = {"config": self.config_path, "port": self.port, "state_path": None, "reload_poll_s": 0.0,
                "master_key": None, "models_dir": Path(self._tmp.name) / "models"}
        base.update(settings)
        self.settings = GatewaySettings(**base)
        self._hooks = hooks or Hooks(env={"SB_TEST_LITE_KEY": "sk-lite", **(env or {})})
        self.app = create_app(self.settings, hooks=self._hooks, extra_routers=extra_routers)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayServer:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, loop="asyncio", http="httptools",
                                access_log=False, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="gateway", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("gateway failed to start")
            if time.monotonic() > deadline:
                raise RuntimeError("gateway did not start in 20 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self._tmp.cleanup()

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    def write_config(self, text: str) -> None:
        """Replace the config file (bumping its mtime so a poll notices even within one tick)."""
        self.config_path.write_text(text)
        st = self.config_path.stat()
        os.utime(self.config_path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def tool_kb_gateway(config_text: str, workdir: Path, *, master_key: str, models_dir: Path,
                    redis_url: str | None = None, **service: Any) -> GatewayServer:
    """A (not yet started) gateway wired like ``switchboard serve`` with a tool KB whose catalog
    lives in ``workdir`` (seed folder ``workdir/seed``, empty unless the test writes files there;
    tests upsert their own tools), or in Redis when ``redis_url`` is given (replicas share it).
    ``service``: extra ToolKBService arguments."""
    from gateway.tool_kb import ToolKBService
    from gateway.wiring import default_hooks, extra_routers

    (workdir / "seed").mkdir(parents=True, exist_ok=True)
    tools = ToolKBService(seed_dir=workdir / "seed", sqlite_path=workdir / "catalog.sqlite", **service)
    hooks = default_hooks(None, tools)
    hooks.env = {}
    return GatewayServer(config_text, hooks=hooks, extra_routers=extra_routers(None, tools),
                         master_key=master_key, models_dir=models_dir, redis_url=redis_url)
