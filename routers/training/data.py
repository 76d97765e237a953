"""Routing records and price tables as the shared data set stores them.

A record is ``{"id", "source", "prompt", "category", "score_kind", "scores", "output_tokens"?,
"cost_usd"?}``; ``scores`` may lack any model (no usable value upstream). Files are ``.jsonl`` or
``.jsonl.gz``. The score matrix keeps missing cells as NaN so every consumer handles them the same way.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input_per_mtok: float
    output_per_mtok: float


def _open_text(path: Path) -> Iterator[str]:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            yield from fh
    else:
        with path.open(encoding="utf-8") as fh:
            yield from fh


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All objects of a ``.jsonl`` / ``.jsonl.gz`` file; blank lines are skipped."""
    return [json.loads(line) for line in _open_text(Path(path)) if line.strip()]


def load_prices(path: str | Path) -> dict[str, ModelPrice]:
    """``models.json``: ``{model: {"input_per_mtok", "output_per_mtok", ...}}``."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        name: ModelPrice(float(v["input_per_mtok"]), float(v["output_per_mtok"])) for name, v in raw.items()
    }


@dataclass(frozen=True)
class RecordSet:
    """Records in a fixed order with their dense score/token matrices (NaN = missing)."""

    ids: tuple[str, ...]
    prompts: tuple[str, ...]
    sources: tuple[str, ...]
    categories: tuple[str, ...]
    models: tuple[str, ...]
    scores: FloatArray  # (n, m), NaN where the record has no score for the model
    output_tokens: FloatArray  # (n, m), NaN where unknown
    cost_usd: FloatArray  # (n, m), NaN where the source gives no per-prompt cost

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx: Sequence[int] | npt.NDArray[np.int64]) -> RecordSet:
        ii = np.asarray(idx, dtype=np.int64)
        return RecordSet(
            tuple(self.ids[i] for i in ii),
            tuple(self.prompts[i] for i in ii),
            tuple(self.sources[i] for i in ii),
            tuple(self.categories[i] for i in ii),
            self.models,
            self.scores[ii],
            self.output_tokens[ii],
            self.cost_usd[ii],
        )

    def family(self) -> tuple[str, ...]:
        """The data family of each record: ``llmrouter/gsm8k`` → ``llmrouter``."""
        return tuple(s.split("/", 1)[0] for s in self.sources)


def build_record_set(records: Iterable[dict[str, Any]], models: Sequence[str] | None = None) -> RecordSet:
    """Dense matrices over ``models`` (default: every model any record scores, sorted)."""
    recs = list(records)
    if models is None:
        models = sorted({m for r in recs for m in r.get("scores", {})})
    col = {m: j for j, m in enumerate(models)}
    n, m = len(recs), len(models)
    scores = np.full((n, m), np.nan)
    toks = np.full((n, m), np.nan)
    cost = np.full((n, m), np.nan)
    for i, r in enumerate(recs):
        for name, v in (r.get("scores") or {}).items():
            if name in col and v is not None:
                scores[i, col[name]] = min(1.0, max(0.0, float(v)))
        for field, arr in (("output_tokens", toks), ("cost_usd", cost)):
            vals = r.get(field)
            if isinstance(vals, dict):
                for name, v in vals.items():
                    if name in col and v is not None:
                        arr[i, col[name]] = float(v)
    return RecordSet(
        ids=tuple(str(r.get("id", i)) for i, r in enumerate(recs)),
        prompts=tuple(str(r.get("prompt", "")) for r in recs),
        sources=tuple(str(r.get("source", "unknown")) for r in recs),
        categories=tuple(str(r.get("category") or "") for r in recs),
        models=tuple(models),
        scores=scores,
        output_tokens=toks,
        cost_usd=cost,
    )


def load_records(paths: Sequence[str | Path], models: Sequence[str] | None = None) -> RecordSet:
    """Read and concatenate routing record files into one :class:`RecordSet`."""
    recs: list[dict[str, Any]] = []
    for p in paths:
        recs.extend(read_jsonl(p))
    return build_record_set(recs, models)
