"""Cheap cosines with a proven error bound, so that exact search reads the float32 matrix only
for the few rows that can matter.

Scanning the float32 matrix is memory-bound: 15 MB per query at 10k tools (0.6 ms here), 154 MB
at 100k (13 ms). ``BoundedScan`` keeps an int8 copy of it (one scale per row, a quarter of the
bytes) and multiplies it by the query with ONNX Runtime's ``DynamicQuantizeMatMul`` (the query
quantized to uint8 on the fly, VNNI int8 kernels): 0.19 ms at 10k, 1.9 ms at 100k. Every
approximate cosine comes with a bound ``eps`` on its error, which follows from how both sides were
rounded (x̂ the int8 row, q̂ the quantized query)::

    q·x − q̂·x̂ = q·(x − x̂) + (q − q̂)·x̂
    |q·x − q̂·x̂| ≤ ‖q‖₂ ‖x − x̂‖₂ + (s_q / 2) ‖x̂‖₁

where ``s_q`` is the query's uint8 step (ONNX ``DynamicQuantizeLinear``: its range including 0,
over 255; rounding to the nearest step errs by at most half of it). Both row norms are stored at
build time (their largest values: one bound per query). A small absolute slack covers float32 rounding in the final rescale.
:class:`tools_kb.index.ToolIndex` then re-scores, exactly on the float32 rows, every tool whose
upper bound could reach the top-k: results and scores are those of the full float32 scan.

The int8 kernel must not saturate: x86 CPUs without VNNI add u8×s8 pairs in 16 bits, which two
large neighbours overflow. On those the rows use 7 bits (±63, as ONNX Runtime's ``reduce_range``
does for its weights; the bound follows the coarser step). The build also checks the bound on
probe queries against the float32 scan and returns None when it does not hold, and the index then
scans the float32 matrix as before.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import numpy.typing as npt

# Below this many rows the float32 scan is already a few tens of microseconds.
MIN_ROWS = 4096
# Absolute slack on every bound: float32 rounding of the rescale (values ≤ ~1.5, so < 1e-6).
SLACK = 1e-5
# Margin on the query's step: ORT computes it in float32, maybe in another order than we do.
STEP_MARGIN = 1.01
_PROBES = 16


def int8_levels() -> int:
    """127 where the CPU multiplies u8×s8 without 16-bit saturation (VNNI), else 63."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return 63
    return 127 if re.search(r"\b(?:avx512_vnni|avx_vnni)\b", flags) else 63


class BoundedScan:
    """Immutable after construction; ``approx`` is safe to call from several threads."""

    def __init__(self, matrix: npt.NDArray[np.float32], *, levels: int | None = None) -> None:
        """``levels``: the largest int8 magnitude used (default :func:`int8_levels`)."""
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        top = levels or int8_levels()
        m = np.ascontiguousarray(matrix, dtype=np.float32)
        n, dim = m.shape
        peak = np.abs(m).max(axis=1)
        scale = np.where(peak > 0, peak / top, 1.0).astype(np.float32)
        q8 = np.clip(np.rint(m / scale[:, None]), -top, top).astype(np.int8)
        dequant = q8.astype(np.float32) * scale[:, None]
        # float64 norms, rounded up a little: they are bounds, not estimates
        self._max_resid = float(np.linalg.norm((m - dequant).astype(np.float64), axis=1).max()) * (1 + 1e-6)
        self._max_l1 = float(np.abs(dequant.astype(np.float64)).sum(axis=1).max()) * (1 + 1e-6)
        self.rows = n
        graph = helper.make_graph(
            [helper.make_node("DynamicQuantizeMatMul", ["q", "b", "b_scale"], ["y"], domain="com.microsoft")],
            "bounded_scan",
            [helper.make_tensor_value_info("q", TensorProto.FLOAT, ["t", dim])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["t", n])],
            [
                numpy_helper.from_array(np.ascontiguousarray(q8.T), "b"),
                numpy_helper.from_array(scale, "b_scale"),
            ],
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
        )
        model.ir_version = 9
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    @classmethod
    def build(
        cls, matrix: npt.NDArray[np.float32], *, min_rows: int = MIN_ROWS, levels: int | None = None
    ) -> BoundedScan | None:
        """A scan of ``matrix`` whose bounds held on probe queries (rows of the matrix, and
        their sums), or None: too few rows to be worth it, or the int8 kernel broke a bound."""
        if matrix.ndim != 2 or matrix.shape[0] < max(min_rows, 2):
            return None
        scan = cls(matrix, levels=levels)
        rng = np.random.default_rng(0)
        picks = rng.choice(matrix.shape[0], size=(_PROBES, 2), replace=True)
        probes = (matrix[picks[:, 0]] + 0.5 * matrix[picks[:, 1]]).astype(np.float32)
        probes /= np.maximum(np.linalg.norm(probes, axis=1, keepdims=True), 1e-12)
        approx, eps = scan.approx(probes)
        exact = probes @ np.ascontiguousarray(matrix, dtype=np.float32).T
        return scan if bool(np.all(np.abs(exact - approx) <= eps[:, None])) else None

    def approx(
        self, queries: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """For ``queries`` (t, dim): approximate cosines (t, rows) and, per query, one bound on
        their error (t,): ``|exact − approx| ≤ eps[i]`` for every row. (One bound per query,
        from the largest row norms, is looser than one per row by ~10 % but needs no pass over
        the rows.)"""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        (approx,) = self._session.run(["y"], {"q": q})
        # One uint8 step for the whole (t, dim) input: DynamicQuantizeLinear is per tensor.
        step = (max(0.0, float(q.max())) - min(0.0, float(q.min()))) / 255.0
        qnorm = np.linalg.norm(q.astype(np.float64), axis=1) * (1 + 1e-6)
        eps = qnorm * self._max_resid + 0.5 * step * STEP_MARGIN * self._max_l1 + SLACK
        return np.asarray(approx, dtype=np.float32), eps.astype(np.float32)
