"""``switchboard check-config PATH…``: validate gateway config files.

Exit 0 when every file is valid (``PATH: ok`` on stdout); exit 1 otherwise, with one
``path:line:col: dotted.path: message`` line per problem on stderr. Router kinds are checked
against the selectors the served gateway registers.
"""

from __future__ import annotations

import argparse
import sys

from core.config.models import GatewayConfig
from core.config.validate import validate_document
from core.config.yaml_source import load_yaml_file
from core.errors import ConfigError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML config file(s)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing for valid files")


def check(path: str, router_kinds: frozenset[str]) -> list[str]:
    """The problems of one file (empty when valid)."""
    try:
        doc = load_yaml_file(path)
        config = validate_document(doc, GatewayConfig)
    except ConfigError as exc:
        return list(exc.problems)
    return [
        doc.problem(("policies", i, "router", "kind"),
                    f"unknown router kind {p.router.kind!r} (registered: {', '.join(sorted(router_kinds))})")
        for i, p in enumerate(config.policies)
        if p.router.kind not in router_kinds
    ]


def run(args: argparse.Namespace) -> int:
    from gateway.wiring import default_hooks

    kinds = default_hooks().registry.kinds()
    failed = False
    for path in args.paths:
        problems = check(path, kinds)
        if problems:
            failed = True
            for line in problems:
                print(line, file=sys.stderr)
        elif not args.quiet:
            print(f"{path}: ok")
    return 1 if failed else 0
