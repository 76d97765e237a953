"""The prepared-models folder (``var/models``) and its ``manifest.json``.

Layout written by ``switchboard prepare-models --out DIR``::

    DIR/manifest.json                  this manifest (format 1)
    DIR/minilm/model.int8.onnx         all-MiniLM-L6-v2, pooled + L2-normalised, int8 per-channel
    DIR/minilm/tokenizer.json          fast tokenizer (plus vocab / configs beside it)

The manifest records what was exported from which package version, the sha256 of every artefact,
the library versions that made it, and where the edge model's GGUF lives. Reading is cheap and
imports nothing heavy; :func:`read_manifest` raises :class:`core.errors.LocalModelError` when the
folder was never prepared or the manifest is unreadable.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import LocalModelError

MANIFEST_NAME = "manifest.json"
MODELS_DIR_ENV = "SWITCHBOARD_MODELS_DIR"
DEFAULT_MODELS_DIR = Path("var/models")
MANIFEST_FORMAT = 1
EMBEDDER_SUBDIR = "minilm"
ONNX_NAME = "model.int8.onnx"
TOKENIZER_NAME = "tokenizer.json"


@dataclass(frozen=True, slots=True)
class EmbedderManifest:
    name: str  # "all-MiniLM-L6-v2"
    onnx: str  # relative to the models folder
    tokenizer: str  # relative to the models folder
    sha256: str  # of the .onnx file
    dim: int
    max_length: int
    quantization: dict[str, Any]
    source_package: str
    source_version: str
    source_sha256: str  # of model.safetensors
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def cache_name(self) -> str:
        """Names model + export, so caches and indexes can tell vectors of two exports apart."""
        return f"{self.name}/onnx-int8:{self.sha256[:12]}"


@dataclass(frozen=True, slots=True)
class EdgeModelManifest:
    name: str
    gguf: str  # absolute path inside site-packages
    sha256: str
    size_bytes: int
    source_package: str
    source_version: str


@dataclass(frozen=True, slots=True)
class ModelsManifest:
    embedder: EmbedderManifest
    edge_llm: EdgeModelManifest | None
    format: int = MANIFEST_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @staticmethod
    def from_json(text: str) -> ModelsManifest:
        raw = json.loads(text)
        if raw.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"unsupported manifest format {raw.get('format')!r}")
        edge = raw.get("edge_llm")
        return ModelsManifest(
            embedder=EmbedderManifest(**raw["embedder"]),
            edge_llm=EdgeModelManifest(**edge) if edge else None,
        )


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(models_dir: Path) -> ModelsManifest:
    """Parse ``models_dir/manifest.json``; raises LocalModelError naming the fix when absent."""
    path = Path(models_dir) / MANIFEST_NAME
    try:
        return ModelsManifest.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LocalModelError(
            f"{path} not found: run `switchboard prepare-models --out {models_dir}`"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise LocalModelError(f"{path} is unreadable ({exc}): run prepare-models again") from exc


def default_models_dir() -> Path:
    """Where command-line tools look for the prepared models when not told.

    ``$SWITCHBOARD_MODELS_DIR`` when set; else ``var/models`` under the working directory when
    it holds a manifest; else the ``var/models`` of the checkout this code runs from (an
    editable install: ``make run`` / ``make test`` prepare it there), so that a command run from
    another folder uses the same embedder instead of falling back to a slower, different one;
    else ``var/models`` (whose absence the caller reports).
    """
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        return Path(env)
    if (DEFAULT_MODELS_DIR / MANIFEST_NAME).is_file():
        return DEFAULT_MODELS_DIR
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / DEFAULT_MODELS_DIR / MANIFEST_NAME).is_file():
        return checkout / DEFAULT_MODELS_DIR
    return DEFAULT_MODELS_DIR
