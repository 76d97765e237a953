"""Agent run store overhead, Redis vs embedded: ``python -m bench.agents_runs --json``.

Runs ``--runs`` agent runs (one tool round, two LLM steps each) through the real RunService,
workers, scheduler and checkpointer with an instant deterministic backend (no model time), once
on a throw-away ``redis-server`` (or ``--redis-url``), once embedded (in-process run store,
in-memory checkpoints) and once embedded written through to SQLite (``SqliteRunStore``), and reports per store: submit latency p50/p99, wall time and runs/s until
every run finished, and GET /v1/agents/runs-equivalent list latency (newest 20; filtered by agent
and state) over all runs. Prints JSON. Machine-dependent; quote the load average with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from agents.bootstrap import open_agents
from agents.runs import TERMINAL
from agents.spec import AgentSpec, ToolRef
from agents.tools import FunctionTool, ToolContext
from bench.redis_local import redis_for_bench
from core.clock import SystemClock
from core.deadline import Deadline
from core.wire import ChatRequest, ChatResponse

SPECS = {"adder": AgentSpec(name="adder", tools=[ToolRef(name="add")], max_steps=4)}


class InstantBackend:
    """Asks for ``add`` once, then answers; usage 10 tokens per message + 5."""

    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        msgs = request.messages
        if not any(m.get("role") == "tool" for m in msgs):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{len(msgs)}",
                        "type": "function",
                        "function": {"name": "add", "arguments": json.dumps({"a": 1, "b": 2})},
                    }
                ],
            }
        else:
            message = {"role": "assistant", "content": "3"}
        body = {
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10 * len(msgs), "completion_tokens": 5},
        }
        return ChatResponse(body, deployment="fake")

    async def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        yield (await self.complete(request, deadline)).body

    async def aclose(self) -> None:
        return None


async def _add(args: Mapping[str, Any], ctx: ToolContext) -> str:
    return str(int(args["a"]) + int(args["b"]))


ADD = FunctionTool(
    "add",
    "Add two integers.",
    _add,
    {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
)


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def measure(redis_url: str | None, runs: int, runs_path: Path | None = None) -> dict[str, Any]:
    async with open_agents(
        redis_url,
        SPECS,
        InstantBackend(),
        SystemClock(),
        workers=1,
        slots={"fake": 8},
        extra_tools=[ADD],
        cost=lambda d, p, c: (p + 2 * c) / 1e6,
        runs_path=runs_path,
    ) as rt:
        svc = rt.service
        submit: list[float] = []
        t0 = time.perf_counter()
        ids = []
        for i in range(runs):
            s = time.perf_counter()
            rec, _ = await svc.submit("adder", f"question {i}", tenant="t1")
            submit.append(time.perf_counter() - s)
            ids.append(rec.run_id)
        pending = set(ids)
        while pending:
            for rid in list(pending):
                if (await svc.get(rid)).status in TERMINAL:
                    pending.discard(rid)
            await asyncio.sleep(0.01)
        wall = time.perf_counter() - t0
        final = [await svc.get(r) for r in ids]
        ok = sum(r.status == "succeeded" for r in final)
        lists: dict[str, list[float]] = {"newest_20": [], "agent_and_state_20": [], "tenant_100": []}
        for _ in range(50):
            for name, kw in (
                ("newest_20", {}),
                ("agent_and_state_20", {"agent": "adder", "status": "succeeded"}),
                ("tenant_100", {"tenant": "t1", "limit": 100}),
            ):
                s = time.perf_counter()
                await svc.list_runs(**kw)  # type: ignore[arg-type]
                lists[name].append(time.perf_counter() - s)
        cost = sum(r.cost_usd for r in final)
    return {
        "runs": runs,
        "succeeded": ok,
        "total_cost_usd": round(cost, 6),
        "submit_ms": {"p50": _ms(submit, 0.5), "p99": _ms(submit, 0.99)},
        "wall_s": round(wall, 3),
        "runs_per_s": round(runs / wall, 1),
        "list_ms_p50": {k: round(1000 * statistics.median(v), 3) for k, v in lists.items()},
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"load_avg": os.getloadavg()}
    with redis_for_bench(args.redis_url) as redis_url:
        out["embedded"] = await measure(None, args.runs)
        out["embedded_sqlite"] = await measure(
            None, args.runs, Path(tempfile.mkdtemp(prefix="bench-")) / "runs.sqlite"
        )
        out["redis"] = await measure(redis_url, args.runs) if redis_url else {"skipped": "no redis-server"}
    out["load_avg_after"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
