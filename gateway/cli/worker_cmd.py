"""``switchboard worker``: run agent workers that share the Redis run queue.

Reads the same environment as ``switchboard serve`` (SWITCHBOARD_CONFIG, SWITCHBOARD_REDIS_URL …):
the agents' LLM steps go through the routed dispatcher built from that config, and each
deployment's ``max_concurrency`` is its number of scheduler slots, shared by every worker on the
Redis (agents.scheduler.global_slots). Stops on SIGTERM / SIGINT
(runs in flight stay on the queue and are resumed by another worker from their checkpoints).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from agents.scheduler import policy_kinds


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents-dir", default="config/agents", help="directory of agent YAML files")
    parser.add_argument("--workers", type=int, default=1, help="worker loops in this process")
    parser.add_argument("--policy", default="priority", choices=policy_kinds(), help="scheduling policy")
    parser.add_argument("--consumer", default=None, help="consumer name prefix (default host-pid)")
    parser.add_argument(
        "--slots",
        type=int,
        default=None,
        help="one pool of N slots instead of the deployments' max_concurrency",
    )
    parser.add_argument(
        "--lease-s",
        type=float,
        default=10.0,
        help="a run whose worker sent no heartbeat for this long is taken over",
    )
    parser.add_argument("--heartbeat-s", type=float, default=2.0)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    from agents.bootstrap import open_agents
    from agents.spec import load_agents
    from core.errors import ConfigError, SwitchboardError
    from gateway.agents_api import key_budget_check, key_spend_recorder
    from gateway.agents_backend import RoutedAgentBackend
    from gateway.runtime import open_runtime
    from gateway.settings import GatewaySettings

    settings = GatewaySettings()
    if not settings.redis_url:
        print(
            "switchboard worker: SWITCHBOARD_REDIS_URL is required (workers share runs through Redis)",
            file=sys.stderr,
        )
        return 2
    try:
        specs = load_agents(args.agents_dir)
        async with open_runtime(settings) as rt:
            slots = (
                {"default": args.slots}
                if args.slots
                else {d.name: d.max_concurrency for d in rt.config.deployments} or {"default": 8}
            )
            async with open_agents(
                settings.redis_url,
                specs,
                # steps count in this process's metrics; with Redis its decision log is mirrored
                # to the gateways' dashboards
                RoutedAgentBackend(rt.dispatcher, metrics=rt.metrics, decisions=rt.decisions),
                rt.clock,
                workers=args.workers,
                slots=slots,
                policy=args.policy,
                consumer=args.consumer,
                lease_s=args.lease_s,
                heartbeat_s=args.heartbeat_s,
                cost=lambda d, p, c: rt.snapshot.cost_usd(d, p, c),
                on_spend=key_spend_recorder(rt),
                key_check=key_budget_check(rt),
                retention_s=settings.agents_retention_s,
            ) as agents_rt:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, stop.set)
                names = ", ".join(w.cfg.consumer for w in agents_rt.workers)
                print(f"switchboard worker: {len(specs)} agents, workers {names}, slots {slots}", flush=True)
                await stop.wait()
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    except SwitchboardError as exc:
        print(f"switchboard worker: {exc.message}", file=sys.stderr)
        return 1
    return 0
