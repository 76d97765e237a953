"""The name a local GGUF is served under when none is configured: caches (the tool KB's
enhancements) are keyed by it, so two different files must never share one."""

from __future__ import annotations

from pathlib import Path

from core.embedders.locate import smollm2_gguf_path
from gateway.providers.local_llama import SMOLLM2_MODEL_NAME, LocalLlamaServer, default_model_name


def _gguf(path: Path, body: bytes) -> Path:
    path.write_bytes(b"GGUF" + body)
    return path


def test_the_bundled_model_keeps_its_name() -> None:
    assert default_model_name("smollm2") == SMOLLM2_MODEL_NAME
    assert LocalLlamaServer().model_name == SMOLLM2_MODEL_NAME


def test_another_gguf_is_not_named_as_the_bundled_one(tmp_path: Path) -> None:
    path = _gguf(tmp_path / "qwen2.5-1.5b-q4_k_m.gguf", b"\x00" * 64)
    name = LocalLlamaServer(path).model_name
    assert name != SMOLLM2_MODEL_NAME
    assert name.startswith("local:qwen2.5-1.5b-q4_k_m:")
    assert LocalLlamaServer(str(path)).model_name == name  # stable for the same file


def test_same_stem_different_content_different_name(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _gguf(tmp_path / "a" / "model.gguf", b"one")
    second = _gguf(tmp_path / "b" / "model.gguf", b"two")
    same_head_longer = _gguf(tmp_path / "model.gguf", b"one" + b"\x00" * (2 << 20))
    names = {default_model_name(str(p)) for p in (first, second, same_head_longer)}
    assert len(names) == 3


def test_an_explicit_name_wins_and_a_missing_file_gets_its_stem(tmp_path: Path) -> None:
    path = _gguf(tmp_path / "m.gguf", b"x")
    assert LocalLlamaServer(path, model_name="edge-model").model_name == "edge-model"
    assert default_model_name(str(tmp_path / "gone.gguf")) == "local:gone"


def test_a_retrained_model_over_the_same_path_gets_a_new_name(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    header = b"GGUF" + b"\x01" * (2 << 20)  # metadata and vocabulary: more than a MiB, unchanged
    path.write_bytes(header + b"\x00" * (6 << 20))
    before = default_model_name(str(path))
    path.write_bytes(header + b"\x7f" * (6 << 20))  # same size, every weight changed
    assert default_model_name(str(path)) != before


def test_the_bundled_gguf_by_path_keeps_the_bundled_name() -> None:
    assert default_model_name(str(smollm2_gguf_path())) == SMOLLM2_MODEL_NAME
