"""A JSON file of tool enhancements, keyed by model and tool definition (see tools_kb.enhance).

Layout: ``{"version": 1, "models": {MODEL: {TOOL_KEY: {"topics": [...], "examples": [...]}}}}``.
Every ``put`` rewrites the file atomically (temp file + rename), so an interrupted enhancement
run loses at most the tool it was asking about and the next run resumes from there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_VERSION = 1


class EnhancementCache:
    def __init__(self, path: Path | str | None) -> None:
        """``path`` None keeps everything in memory (nothing is written)."""
        self._path = Path(path) if path is not None else None
        self._models: dict[str, dict[str, dict[str, Any]]] = {}
        if self._path is not None and self._path.is_file():
            raw = json.loads(self._path.read_text(encoding="utf-8"))
            if isinstance(raw, dict) and raw.get("version") == _VERSION:
                models = raw.get("models")
                if isinstance(models, dict):
                    self._models = {str(m): dict(v) for m, v in models.items() if isinstance(v, dict)}

    @property
    def path(self) -> Path | None:
        return self._path

    def get(self, model: str, key: str) -> dict[str, Any] | None:
        return self._models.get(model, {}).get(key)

    def put(self, model: str, key: str, value: dict[str, Any]) -> None:
        self._models.setdefault(model, {})[key] = value
        self._save()

    def count(self, model: str) -> int:
        return len(self._models.get(model, {}))

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps({"version": _VERSION, "models": self._models}, ensure_ascii=False, sort_keys=True),
            encoding="utf-8",
        )
        os.replace(tmp, self._path)
