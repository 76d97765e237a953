"""``switchboard keys create|list|show|revoke``: manage virtual keys through a running gateway.

Talks to the gateway's ``/admin/keys`` API (``--url``, default ``http://127.0.0.1:4000``) with the
master key from ``--master-key`` or ``SWITCHBOARD_MASTER_KEY``. Exit codes: 0 done, 1 the gateway
refused (its error message is printed), 2 usage error or gateway unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:4000"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("SWITCHBOARD_URL", DEFAULT_URL),
                        help=f"gateway base URL (default {DEFAULT_URL})")
    parser.add_argument("--master-key", default=None,
                        help="master key (default: $SWITCHBOARD_MASTER_KEY)")
    parser.add_argument("--json", action="store_true", help="print raw JSON")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    c = sub.add_parser("create", help="create a key; prints the secret once")
    c.add_argument("--name", default="")
    c.add_argument("--tenant", "--team", dest="tenant", default="default")
    c.add_argument("--models", default=None, help="comma-separated models/policies the key may use")
    c.add_argument("--rpm", type=int, default=None, help="requests per minute")
    c.add_argument("--tpm", type=int, default=None, help="tokens per minute")
    c.add_argument("--budget-usd", type=float, default=None)
    c.add_argument("--budget-period", choices=["day", "month", "total"], default="month")
    c.add_argument("--tag", action="append", default=[], help="tag (repeatable), e.g. edge-only")

    sub.add_parser("list", help="list keys (never shows secrets)")
    s = sub.add_parser("show", help="one key with its spend")
    s.add_argument("key_id")
    r = sub.add_parser("revoke", help="revoke a key")
    r.add_argument("key_id")


def run(args: argparse.Namespace) -> int:
    master = args.master_key or os.environ.get("SWITCHBOARD_MASTER_KEY")
    if not master:
        print("error: no master key: pass --master-key or set SWITCHBOARD_MASTER_KEY", file=sys.stderr)
        return 2
    method, path, body = _request_for(args)
    url = args.url.rstrip("/") + path
    try:
        with httpx.Client(timeout=10.0) as client:
            resp = client.request(method, url, json=body, headers={"authorization": f"Bearer {master}"})
    except httpx.HTTPError as exc:
        print(f"error: cannot reach the gateway at {args.url} ({type(exc).__name__}: {exc}); "
              "is `switchboard serve` running? (--url)", file=sys.stderr)
        return 2
    try:
        data: Any = resp.json()
    except ValueError:
        print(f"error: {method} {url} answered {resp.status_code} with a non-JSON body", file=sys.stderr)
        return 1
    if resp.status_code >= 400:
        err = data.get("error", {}) if isinstance(data, dict) else {}
        print(f"error: {resp.status_code} {err.get('message', data)}", file=sys.stderr)
        return 1
    print(json.dumps(data, indent=2) if args.json else _human(args.action, data))
    return 0


def _request_for(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    if args.action == "create":
        models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
        body = {"name": args.name, "tenant": args.tenant, "allowed_models": models, "rpm": args.rpm,
                "tpm": args.tpm, "budget_usd": args.budget_usd, "budget_period": args.budget_period,
                "tags": args.tag}
        return "POST", "/admin/keys", body
    if args.action == "list":
        return "GET", "/admin/keys", None
    if args.action == "show":
        return "GET", f"/admin/keys/{args.key_id}", None
    return "POST", f"/admin/keys/{args.key_id}/revoke", None


def _limits(k: dict[str, Any]) -> str:
    parts = [f"{n}={k[n]}" for n in ("rpm", "tpm") if k.get(n) is not None]
    if k.get("budget_usd") is not None:
        parts.append(f"budget=${k['budget_usd']}/{k.get('budget_period')}")
    if k.get("allowed_models") is not None:
        parts.append("models=" + ",".join(k["allowed_models"]))
    if k.get("tags"):
        parts.append("tags=" + ",".join(k["tags"]))
    return " ".join(parts) or "unlimited"


def _human(action: str, data: dict[str, Any]) -> str:
    if action == "create":
        return (f"created {data['id']} ({data['name'] or 'unnamed'}, tenant {data['tenant']}, "
                f"{_limits(data)})\n{data['key']}\nstore this secret now: it is not shown again")
    if action == "list":
        rows = [f"{'ID':<22} {'NAME':<16} {'TENANT':<12} {'STATE':<8} {'HINT':<16} LIMITS"]
        for k in data.get("data", []):
            state = "revoked" if k.get("revoked") else "active"
            rows.append(f"{k['id']:<22} {k['name'][:16]:<16} {k['tenant'][:12]:<12} {state:<8} "
                        f"{k.get('hint', ''):<16} {_limits(k)}")
        return "\n".join(rows)
    if action == "show":
        sp = data.get("spend", {})
        return (f"{data['id']} {data['name']} tenant={data['tenant']} "
                f"{'revoked' if data.get('revoked') else 'active'} {_limits(data)}\n"
                f"spend: ${sp.get('period_usd', 0):.6f} this {sp.get('period')} "
                f"({sp.get('period_id')}), ${sp.get('total_usd', 0):.6f} in total")
    return f"revoked {data['id']}"
