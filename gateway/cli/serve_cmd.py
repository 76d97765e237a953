"""``switchboard serve``: run the gateway under uvicorn (uvloop + httptools, access log off).

Flags override the ``SWITCHBOARD_*`` environment (they are written back into it so that every
worker process reads the same settings). The config is validated before uvicorn starts: an
invalid file prints ``path:line:col: …`` lines and exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="gateway YAML (default: $SWITCHBOARD_CONFIG or config/default.yaml)")
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 4000)")
    parser.add_argument("--workers", type=int, help="worker processes (default 1)")
    parser.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"])


def run(args: argparse.Namespace) -> int:
    for flag, var in (("config", "CONFIG"), ("host", "HOST"), ("port", "PORT"), ("workers", "WORKERS"),
                      ("log_level", "LOG_LEVEL")):
        value = getattr(args, flag)
        if value is not None:
            os.environ[f"SWITCHBOARD_{var}"] = str(value)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from gateway.cli.config_cmd import check
    from gateway.settings import GatewaySettings
    from gateway.wiring import default_hooks

    settings = GatewaySettings()
    problems = check(str(settings.config), default_hooks().registry.kinds())
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        return 1

    import uvicorn

    uvicorn.run(
        "gateway.wiring:serve_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=settings.log_level,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    return 0
