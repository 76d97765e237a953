"""The ``switchboard`` command. Each subcommand lives in its own module and is imported only when
it runs, so ``switchboard check-config`` never pays for torch or litellm."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core.threads import default_to_one_thread

# subcommand → module that defines ``register(parser)`` and ``run(args) -> int``
_COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("gateway.cli.serve_cmd", "run the gateway (uvicorn)"),
    "check-config": ("gateway.cli.config_cmd", "validate a config file; exit 1 with file:line:col errors"),
    "keys": ("gateway.cli.keys_cmd", "create, list and revoke virtual keys"),
    "prepare-models": ("gateway.cli.models_cmd", "export the local embedder to ONNX int8 and check the edge model"),
    "router": ("gateway.cli.router_cmd", "train and evaluate learned routers"),
    "route": ("gateway.cli.route_cmd", "show the routing decision for a prompt"),
    "tools": ("gateway.cli.tools_cmd", "tool knowledge base: add, search, eval"),
    "worker": ("gateway.cli.worker_cmd", "run an agent worker"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="switchboard", description="LLM routing gateway")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in _COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not args_list or args_list[0] in {"-h", "--help"} or args_list[0] not in _COMMANDS:
        parser.parse_args(args_list)  # prints help or the 'invalid choice' error
        parser.print_help()
        return 2
    name = args_list[0]
    default_to_one_thread()  # before the command's module imports numpy or ONNX Runtime
    module = importlib.import_module(_COMMANDS[name][0])
    cmd_parser = argparse.ArgumentParser(prog=f"switchboard {name}", description=_COMMANDS[name][1])
    module.register(cmd_parser)
    args = cmd_parser.parse_args(args_list[1:])
    code: int = module.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
