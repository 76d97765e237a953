"""The MemoryStore's on-disk snapshot: a small JSON file, replaced atomically.

Format (version 1)::

    {"version": 1, "saved_at": <unix s>,
     "entries": {"<key>": {"v": "<base64>" | {"<field>": "<base64>"}, "exp": <unix s> | null}}}

Expiry is stored as wall-clock time and converted to and from the Clock's monotonic time, so a
restart keeps the remaining TTL. A snapshot that cannot be read raises ``StoreUnavailableError``
(refusing to start beats silently forgetting every key).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from core.clock import Clock
from core.errors import StoreUnavailableError

Entries = dict[str, tuple[bytes | dict[str, bytes], float | None]]


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def dump(entries: Entries, clock: Clock) -> bytes:
    """Serialise entries whose ``exp`` is in the Clock's monotonic time."""
    offset = clock.wall() - clock.now()
    out: dict[str, Any] = {}
    for key, (value, exp) in entries.items():
        v: str | dict[str, str] = (
            _b64(value) if isinstance(value, bytes) else {f: _b64(b) for f, b in value.items()}
        )
        out[key] = {"v": v, "exp": None if exp is None else exp + offset}
    return json.dumps({"version": 1, "saved_at": clock.wall(), "entries": out}).encode()


def load(path: Path, clock: Clock) -> Entries:
    """Entries from ``path`` with ``exp`` in monotonic time; expired ones are left out."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StoreUnavailableError(f"cannot read store snapshot {path}: {exc}") from exc
    try:
        doc = json.loads(raw)
        entries: dict[str, Any] = doc["entries"]
        offset = clock.wall() - clock.now()
        out: Entries = {}
        for key, e in entries.items():
            exp = e.get("exp")
            if exp is not None and exp <= clock.wall():
                continue
            v = e["v"]
            value = (
                base64.b64decode(v) if isinstance(v, str) else {f: base64.b64decode(b) for f, b in v.items()}
            )
            out[key] = (value, None if exp is None else float(exp) - offset)
        return out
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreUnavailableError(f"store snapshot {path} is corrupt: {exc}") from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
