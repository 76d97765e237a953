"""``core.threads``: one BLAS thread when numpy loads after the ``switchboard`` command or the
bench package set the defaults (a real subprocess, so numpy loads fresh)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_PROBE = """
import json, os, sys
{setup}
import numpy
from threadpoolctl import threadpool_info
print(json.dumps([os.environ.get("OMP_NUM_THREADS"), [i["num_threads"] for i in threadpool_info()]]))
"""


def _probe(setup: str, env_omp: str | None) -> tuple[str | None, list[int]]:
    env = {k: v for k, v in os.environ.items() if k not in {"OMP_NUM_THREADS", "MKL_NUM_THREADS"}}
    if env_omp is not None:
        env["OMP_NUM_THREADS"] = env_omp
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(setup=setup)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    omp, threads = json.loads(out.splitlines()[-1])  # after any help text
    return omp, threads


@pytest.mark.parametrize(
    "setup",
    [
        "import bench",
        "from gateway.cli import main\ntry:\n    main(['route', '--help'])\nexcept SystemExit:\n    pass",
    ],
)
def test_entry_points_pin_blas_to_one_thread_before_numpy_loads(setup: str) -> None:
    omp, threads = _probe(setup, None)
    assert omp == "1"
    assert threads and all(n == 1 for n in threads)


def test_an_operator_setting_wins() -> None:
    omp, _ = _probe("import bench", "2")
    assert omp == "2"
