"""Hot reload: file change (mtime poll), SIGHUP, and ``POST /admin/config/reload``.

Every trigger runs the same :meth:`ConfigReloader.reload`: read → validate (file:line:col errors)
→ check router kinds → build a snapshot → swap one reference. There is no await between reading
and swapping, so a reload is atomic for the event loop; requests already running keep the
snapshot they took. When the new file is invalid the old snapshot stays and ``last_error`` (shown
by ``GET /admin/config``) says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.clock import Clock
from core.config.models import GatewayConfig
from core.config.validate import validate_document
from core.config.yaml_source import load_yaml_file
from core.errors import ConfigError
from gateway.snapshot import ConfigSnapshot

log = logging.getLogger("switchboard.reload")

SnapshotBuilder = Callable[[GatewayConfig, int, str], ConfigSnapshot]


@dataclass(frozen=True, slots=True)
class ReloadResult:
    ok: bool
    trigger: str  # "startup" | "file" | "sighup" | "admin"
    version: int  # the active version after this attempt
    problems: tuple[str, ...] = ()
    at: float = 0.0  # unix seconds

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "trigger": self.trigger, "version": self.version,
                "problems": list(self.problems), "at": self.at}


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class ConfigReloader:
    """Owns the current ConfigSnapshot of one process."""

    def __init__(
        self,
        path: Path,
        build: SnapshotBuilder,
        clock: Clock,
        *,
        router_kinds: Callable[[], frozenset[str]] = lambda: frozenset({"fallback"}),
        on_result: Callable[[ReloadResult], None] | None = None,
    ) -> None:
        self.path = path
        self._build = build
        self._clock = clock
        self._kinds = router_kinds
        self._on_result = on_result
        self._current: ConfigSnapshot | None = None
        self._version = 0
        self._seen = _stat(path)
        self.last_result: ReloadResult | None = None
        self.last_error: ReloadResult | None = None

    @property
    def current(self) -> ConfigSnapshot:
        if self._current is None:
            raise RuntimeError("no config loaded yet")
        return self._current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def load(self) -> ConfigSnapshot:
        """Validate and build a snapshot from the file without activating it. Raises ConfigError."""
        self._seen = _stat(self.path)
        doc = load_yaml_file(self.path)
        config = validate_document(doc, GatewayConfig)
        kinds = self._kinds()
        problems = [
            doc.problem(("policies", i, "router", "kind"),
                        f"unknown router kind {p.router.kind!r} (registered: {', '.join(sorted(kinds))})")
            for i, p in enumerate(config.policies)
            if p.router.kind not in kinds
        ]
        if problems:
            raise ConfigError(problems)
        return self._build(config, self._version + 1, str(self.path))

    def reload(self, trigger: str) -> ReloadResult:
        """Load and swap in the file's config, or keep the current one and report why not."""
        try:
            snap = self.load()
        except ConfigError as exc:
            result = ReloadResult(False, trigger, self._version, tuple(exc.problems), self._clock.wall())
            self.last_error = result
            log.warning("config reload (%s) rejected, keeping version %d:\n%s",
                        trigger, self._version, "\n".join(exc.problems))
        else:
            self._current = snap
            self._version = snap.version
            self.last_error = None
            result = ReloadResult(True, trigger, snap.version, (), self._clock.wall())
            log.info("config version %d active (%s)", snap.version, trigger)
        self.last_result = result
        if self._on_result is not None:
            self._on_result(result)
        return result

    def changed_on_disk(self) -> bool:
        return _stat(self.path) != self._seen

    async def watch(self, poll_s: float) -> None:
        """Poll the file's mtime/size every ``poll_s`` seconds and reload on change; runs until
        cancelled."""
        while True:
            await self._clock.sleep(poll_s)
            if self.changed_on_disk():
                self.reload("file")

    @contextlib.contextmanager
    def sighup(self) -> Iterator[ConfigReloader]:
        """Reload on SIGHUP while inside the block (main thread with a running loop only)."""
        loop = asyncio.get_running_loop()
        installed = False
        if hasattr(signal, "SIGHUP"):
            try:
                loop.add_signal_handler(signal.SIGHUP, self.reload, "sighup")
                installed = True
            except (ValueError, RuntimeError, NotImplementedError):
                log.debug("SIGHUP reload not available in this thread (pid %d)", os.getpid())
        try:
            yield self
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGHUP)
