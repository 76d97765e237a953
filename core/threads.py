"""One native compute thread per process, chosen before numpy, ONNX Runtime or tokenizers load.

On the 2-vCPU machines Switchboard targets, a second BLAS / OpenMP thread speeds one search up
only while the other vCPU is idle; whenever anything else runs (the event loop, a neighbour) it
costs far more than it gives. OpenBLAS reads ``OMP_NUM_THREADS`` once, when numpy is first
imported, so setting it later (inside a command's ``run``) is too late: the ``switchboard``
command and the ``bench`` package call :func:`default_to_one_thread` before anything imports
numpy. Values already in the environment win (an operator may choose more threads).
"""

from __future__ import annotations

import os

ONE_THREAD_DEFAULTS: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def default_to_one_thread() -> None:
    """Set each of :data:`ONE_THREAD_DEFAULTS` that the environment does not set already."""
    for name, value in ONE_THREAD_DEFAULTS.items():
        os.environ.setdefault(name, value)
