"""Command-line options shared by the tool-KB benches that read ../shared/data/tools."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from core.embedders.manifest import default_models_dir
from gateway.cli.tools_cmd import DEFAULT_CACHE


def data_bench_parser(prog: str) -> argparse.ArgumentParser:
    """``--data``, ``--models-dir``, ``--vector-cache`` (the defaults of ``switchboard tools
    eval``, whose code path these benches run) and ``--json``; offline Hugging Face hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # one thread: see bench/__init__.py
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--data", type=Path, default=Path("../shared/data/tools"))
    p.add_argument("--models-dir", type=Path, default=default_models_dir())
    p.add_argument("--vector-cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--json", action="store_true")
    return p
