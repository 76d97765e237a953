"""Inputs of the scheduler simulation: emulated upstream tiers and trace-driven workloads.

Upstream tiers come from splitwise-sim's measured perf_model.csv (prefill time by prompt size
at batch 1, per-token decode time by batch size at prompt 512; the anomalous batch-64 rows are
dropped). Workloads come from the LMCache agent traces (one LLM call per row, grouped into
sessions) and the Azure LLM inference traces (code and conversation, one request per row).
"""

from __future__ import annotations

import bisect
import csv
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

TRACES = Path("/work/shared/data/traces")

# What the trace's inter-call gap is made of: the original call's latency (unknown model) plus
# tool time. We subtract a reference latency (0.5 s to first token + 20 ms per output token,
# roughly a hosted 70B model) and keep at least 50 ms of tool/agent overhead.
REF_TTFT_S = 0.5
REF_TPOT_S = 0.020
MIN_TOOL_S = 0.05


def _interp(xs: list[float], ys: list[float], x: float) -> float:
    """Piecewise-linear, extrapolating linearly past both ends."""
    i = min(max(bisect.bisect_left(xs, x), 1), len(xs) - 1)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


@dataclass(frozen=True)
class Tier:
    """One deployment's latency model (seconds) and its concurrency capacity."""

    name: str
    capacity: int
    prompt_sizes: list[float]
    prompt_s: list[float]  # prefill at batch 1
    batch_sizes: list[float]
    token_s: list[float]  # per output token at batch n

    def contention(self, in_flight: int) -> float:
        return _interp(self.batch_sizes, self.token_s, float(in_flight)) / self.token_s[0]

    def service_s(self, prefill_tokens: int, output_tokens: int, in_flight: int) -> float:
        """Latency of one call that starts with ``in_flight`` calls on the deployment (itself
        included): prefill scaled by the decode contention factor, plus decode at that batch."""
        n = max(1, in_flight)
        prefill = max(0.0, _interp(self.prompt_sizes, self.prompt_s, float(max(1, prefill_tokens))))
        tpot = _interp(self.batch_sizes, self.token_s, float(n))
        return prefill * self.contention(n) + output_tokens * tpot


def load_tier(
    name: str,
    model: str,
    hardware: str,
    capacity: int,
    path: Path = TRACES / "splitwise-sim" / "perf_model.csv",
) -> Tier:
    prompt: dict[int, list[float]] = defaultdict(list)
    token: dict[int, list[float]] = defaultdict(list)
    with path.open() as f:
        for r in csv.DictReader(f):
            if r["model"] != model or r["hardware"] != hardware or r["batch_size"] == "64":
                continue
            p, b = int(r["prompt_size"]), int(r["batch_size"])
            if b == 1:
                prompt[p].append(float(r["prompt_time"]) / 1e3)
            if p == 512:
                token[b].append(float(r["token_time"]) / 1e3)
    if not prompt or not token:
        raise ValueError(f"no perf_model rows for {model} on {hardware}")
    ps, bs = sorted(prompt), sorted(token)
    return Tier(
        name,
        capacity,
        [float(p) for p in ps],
        [sum(prompt[p]) / len(prompt[p]) for p in ps],
        [float(b) for b in bs],
        [sum(token[b]) / len(token[b]) for b in bs],
    )


@dataclass(frozen=True)
class Call:
    """One LLM step and the tool/agent time that follows it before the next step is ready."""

    prompt_tokens: int
    shared_prefix_tokens: int  # prefix identical to the previous call's input (cacheable)
    output_tokens: int
    tool_s: float


@dataclass
class Session:
    sid: str
    kind: str
    tenant: str
    priority: int  # 0 high, 1 normal, 2 low
    arrival_s: float
    calls: list[Call]
    deadline_s: float = float("inf")  # absolute
    est_steps: int = 8
    meta: dict[str, float] = field(default_factory=dict)


def load_agent_sessions(path: Path = TRACES / "lmcache-agent-trace" / "agent_calls.csv") -> list[Session]:
    """The LMCache agent sessions (magagent, miniswe, taubench), calls in time order."""
    rows: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    with path.open() as f:
        for r in csv.DictReader(f):
            rows[(r["agent"], r["session_id"])].append(r)
    out: list[Session] = []
    for (agent, sid), calls in sorted(rows.items()):
        calls.sort(key=lambda r: int(r["call_idx"]))
        parsed: list[Call] = []
        for i, r in enumerate(calls):
            out_tok = int(r["output_tokens_est"])
            if i + 1 < len(calls):
                gap = float(calls[i + 1]["gap_from_prev_ms"]) / 1e3
                tool = max(MIN_TOOL_S, gap - (REF_TTFT_S + REF_TPOT_S * out_tok))
            else:
                tool = 0.0
            shared = int(r["prefix_shared_chars_with_prev_input"]) // 4
            parsed.append(
                Call(
                    int(r["input_tokens_est"]), min(shared, int(r["input_tokens_est"])), max(1, out_tok), tool
                )
            )
        out.append(Session(f"{agent}:{sid[:8]}", agent, "", 1, 0.0, parsed))
    return out


def load_azure(kind: str, minutes: float, start_min: float = 0.0) -> list[tuple[float, int, int]]:
    """(arrival seconds from the window start, context tokens, generated tokens) of the Azure
    ``code`` or ``conv`` trace within [start_min, start_min + minutes)."""
    path = TRACES / "AzurePublicDataset" / f"AzureLLMInferenceTrace_{kind}_2023.csv"
    out: list[tuple[float, int, int]] = []
    t0: datetime | None = None
    with path.open() as f:
        for r in csv.DictReader(f):
            ts = datetime.strptime(r["TIMESTAMP"][:26], "%Y-%m-%d %H:%M:%S.%f")
            t0 = t0 or ts
            t = (ts - t0).total_seconds() - 60 * start_min
            if t < 0:
                continue
            if t >= 60 * minutes:
                break
            out.append((t, int(r["ContextTokens"]), max(1, int(r["GeneratedTokens"]))))
    return out


def isolated_s(tier: Tier, call: Call, warm: bool) -> float:
    """A call's latency alone on ``tier`` (the SLO reference)."""
    prefill = call.prompt_tokens - (call.shared_prefix_tokens if warm else 0)
    return tier.service_s(prefill, call.output_tokens, 1)


def sample_sessions(pool: list[Session], n: int, rng: random.Random) -> list[Session]:
    """``n`` sessions drawn with replacement (fresh copies, unique ids)."""
    picked = []
    for i in range(n):
        s = rng.choice(pool)
        picked.append(Session(f"{s.sid}#{i}", s.kind, "", 1, 0.0, list(s.calls)))
    return picked
