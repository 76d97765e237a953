"""Selectors built on every reload share the runtime's one embedder (no second ONNX session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.embedders.factory import default_embedder
from core.embedders.manifest import read_manifest
from core.embedding import Embedder
from gateway.shared_embedder import RuntimeEmbedder


async def test_loads_once_and_delegates(prepared_models_dir: Path) -> None:
    loads: list[Embedder] = []
    real = default_embedder(prepared_models_dir, None)

    async def load() -> Embedder:
        loads.append(real)
        return real

    shared = RuntimeEmbedder(load, prepared_models_dir)
    manifest = read_manifest(prepared_models_dir).embedder
    assert (shared.dim, shared.name) == (manifest.dim, manifest.cache_name)
    assert loads == []  # reading dim/name never loads the model
    a = await shared.embed(["route this prompt"])
    b = await shared.embed(["route this prompt", "and this one"])
    assert len(loads) == 1
    np.testing.assert_allclose(a[0], (await real.embed(["route this prompt"]))[0], atol=1e-6)
    assert b.shape == (2, manifest.dim)


def test_unprepared_models_dir_still_answers_dim(tmp_path: Path) -> None:
    async def load() -> Embedder:
        raise AssertionError("not called")

    shared = RuntimeEmbedder(load, tmp_path)
    assert shared.dim == 384
    assert shared.name == "unprepared"
