"""Child-process entry point: ``python -m gateway.providers.llama_server_main <llama_cpp.server args>``.

Runs ``llama_cpp.server`` unchanged, except that llama.cpp's extra weight buffer types (AMX and
AVX-512 repacking) are off unless ``SWITCHBOARD_LLAMA_REPACK=1``. Why: a llama-cpp-python built
natively on a CPU that advertises AMX dies with SIGILL on the first token inside VMs that do not
enable AMX tile state (seen on these Firecracker machines); the plain CPU path works everywhere
and costs little for a 135M model. Patching the default model parameters is the only switch:
llama-cpp-python does not expose ``use_extra_bufts``.
"""

from __future__ import annotations

import os
from typing import Any


def _disable_extra_buffer_types() -> None:
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params

    def default_params() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = default_params


def main() -> None:
    if os.environ.get("SWITCHBOARD_LLAMA_REPACK") != "1":
        _disable_extra_buffer_types()
    from llama_cpp.server.__main__ import main as server_main

    server_main()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
