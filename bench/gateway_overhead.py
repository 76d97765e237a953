"""Gateway overhead, side by side: direct calls vs Switchboard vs LiteLLM proxy, one run.

    python -m bench.gateway_overhead --json

All three talk to the same fast fake upstream (bench/fake_upstream.py) at 0 ms and 20 ms latency.
Measured per system:
- ``overhead_p50_ms`` / ``overhead_p99_ms``: added latency at concurrency 1 (the system's latency
  percentile minus direct's), 0 ms upstream; the 20 ms figures are reported beside them;
- ``rps`` at concurrency 64 (``rps_p99_ms`` says whether p99 stayed under 200 ms);
- ``stream_ttft_added_ms``: added time to the first content chunk of a 50-chunk stream;
- ``rss_mb`` of the server's process tree after 10k requests; ``startup_s`` until it answers ready.
Rounds interleave the systems so that machine noise hits them alike; figures are medians of rounds.
LiteLLM proxy (litellm[proxy]==1.108.7, 1 worker, no database) lives in its own venv under
bench/.litellm-venv, created on first use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
LITELLM_VENV = ROOT / "bench" / ".litellm-venv"
LITELLM_VERSION = "1.108.7"
# Both gateways run with authentication on (LiteLLM refuses to start without a master key).
MASTER_KEY = "sk-bench-5f0c3b9a7d2e4c6f8a1b3d5e7f9a0c2e4b6d8f0a1c3e5f7a"
BODY = {
    "model": "",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Give me a short summary of the benefits of connection pooling."},
    ],
    "max_tokens": 200,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss_mb(pid: int) -> float:
    """RSS of ``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    total_kb = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024.0


@dataclass
class System:
    name: str
    url_for: Callable[[int], str]  # upstream latency ms → chat completions URL
    model_for: Callable[[int], str]
    proc: subprocess.Popen[bytes] | None = None
    startup_s: float | None = None


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None, timeout: float = 120.0) -> float:
    import urllib.request

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready ({url})")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"not ready after {timeout}s: {url}")


def ensure_litellm_venv() -> Path:
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        print(f"creating {LITELLM_VENV} with litellm[proxy]=={LITELLM_VERSION} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run(
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"],
            check=True,
        )
    return exe


def start_upstream(latency_ms: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_upstream", "--port", str(port), "--latency-ms", str(latency_ms)],
        cwd=ROOT,
    )
    wait_ready(f"http://127.0.0.1:{port}/health", proc)
    return proc, port


def start_switchboard(up: dict[int, int], workdir: Path) -> System:
    cfg = workdir / "switchboard.yaml"
    lines = ["deployments:"]
    for lat, port in up.items():
        lines += [
            f"  - name: fake-{lat}",
            "    kind: openai_compatible",
            "    model: gpt-4o-mini",
            f"    base_url: http://127.0.0.1:{port}/v1",
            "    max_concurrency: 1024",
        ]
    cfg.write_text("\n".join(lines) + "\n")
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SWITCHBOARD_MASTER_KEY": MASTER_KEY}
    env.pop("SWITCHBOARD_REDIS_URL", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "switchboard"), "serve", "--config", str(cfg),
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/health/readiness", proc)
    sysm = System("switchboard", lambda lat: f"http://127.0.0.1:{port}/v1/chat/completions",
                  lambda lat: f"fake-{lat}", proc)
    sysm.startup_s = time.perf_counter() - t0
    return sysm


def start_litellm(up: dict[int, int], workdir: Path) -> System:
    exe = ensure_litellm_venv()
    cfg = workdir / "litellm.yaml"
    lines = ["model_list:"]
    for lat, port in up.items():
        lines += [
            f"  - model_name: fake-{lat}",
            "    litellm_params:",
            "      model: openai/gpt-4o-mini",
            f"      api_base: http://127.0.0.1:{port}/v1",
            "      api_key: sk-bench",
        ]
    lines += ["litellm_settings:", "  telemetry: false", "  drop_params: true",
              "general_settings:", f"  master_key: {MASTER_KEY}"]
    cfg.write_text("\n".join(lines) + "\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "VIRTUAL_ENV"}}
    env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "OMP_NUM_THREADS": "1", "LITELLM_LOG": "ERROR"})
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/health/liveliness", proc, timeout=180)
    sysm = System("litellm", lambda lat: f"http://127.0.0.1:{port}/v1/chat/completions",
                  lambda lat: f"fake-{lat}", proc)
    sysm.startup_s = time.perf_counter() - t0
    return sysm


async def one_call(session: aiohttp.ClientSession, url: str, model: str, stream: bool) -> tuple[float, float]:
    """(total latency s, time to first content chunk s)."""
    body = {**BODY, "model": model, "stream": stream}
    t0 = time.perf_counter()
    first = 0.0
    async with session.post(url, json=body, headers={"authorization": f"Bearer {MASTER_KEY}"}) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{url} answered {resp.status}: {(await resp.text())[:200]}")
        if stream:
            async for line in resp.content:
                if not first and line.startswith(b"data: {"):
                    first = time.perf_counter() - t0
        else:
            await resp.read()
    total = time.perf_counter() - t0
    return total, first or total


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


async def sequential(systems: list[System], latencies: list[int], n: int, rounds: int, stream: bool
                     ) -> dict[str, dict[int, list[float]]]:
    out: dict[str, dict[int, list[float]]] = {s.name: {lat: [] for lat in latencies} for s in systems}
    conn = aiohttp.TCPConnector(limit=8)
    async with aiohttp.ClientSession(connector=conn) as session:
        for s in systems:  # warm up connections and lazy paths
            for lat in latencies:
                for _ in range(20):
                    await one_call(session, s.url_for(lat), s.model_for(lat), stream)
        for _ in range(rounds):
            for lat in latencies:
                for s in systems:
                    for _ in range(n):
                        total, first = await one_call(session, s.url_for(lat), s.model_for(lat), stream)
                        out[s.name][lat].append(first if stream else total)
    return out


async def throughput(s: System, lat: int, total: int, concurrency: int) -> tuple[float, float]:
    """(requests per second, p99 latency ms) at ``concurrency`` over ``total`` requests."""
    lats: list[float] = []
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        remaining = total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                t, _ = await one_call(session, s.url_for(lat), s.model_for(lat), False)
                lats.append(t)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return total / elapsed, pct(lats, 0.99) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--n", type=int, default=200, help="sequential requests per system per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--load-requests", type=int, default=10_000, help="requests in the rps phase")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skip-litellm", action="store_true")
    args = parser.parse_args()

    latencies = [0, 20]
    procs: list[subprocess.Popen[bytes]] = []
    result: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            up: dict[int, int] = {}
            for lat in latencies:
                p, port = start_upstream(lat)
                procs.append(p)
                up[lat] = port
            direct = System("direct", lambda lat: f"http://127.0.0.1:{up[lat]}/v1/chat/completions",
                            lambda lat: "gpt-4o-mini")
            systems = [direct, start_switchboard(up, Path(tmp))]
            if not args.skip_litellm:
                systems.append(start_litellm(up, Path(tmp)))
            procs += [s.proc for s in systems if s.proc is not None]

            seq = asyncio.run(sequential(systems, latencies, args.n, args.rounds, stream=False))
            stm = asyncio.run(sequential(systems, [0], max(20, args.n // 4), args.rounds, stream=True))
            base = {lat: seq["direct"][lat] for lat in latencies}
            for s in systems:
                r: dict[str, object] = {}
                for lat in latencies:
                    mine = seq[s.name][lat]
                    suffix = "" if lat == 0 else f"_{lat}ms"
                    r[f"latency_p50_ms{suffix}"] = round(pct(mine, 0.5) * 1000, 3)
                    r[f"latency_p99_ms{suffix}"] = round(pct(mine, 0.99) * 1000, 3)
                    r[f"overhead_p50_ms{suffix}"] = round((pct(mine, 0.5) - pct(base[lat], 0.5)) * 1000, 3)
                    r[f"overhead_p99_ms{suffix}"] = round((pct(mine, 0.99) - pct(base[lat], 0.99)) * 1000, 3)
                r["stream_ttft_added_ms"] = round(
                    (statistics.median(stm[s.name][0]) - statistics.median(stm["direct"][0])) * 1000, 3)
                rps, p99 = asyncio.run(throughput(s, 0, args.load_requests, args.concurrency))
                r["rps"] = round(rps, 1)
                r["rps_p99_ms"] = round(p99, 1)
                r["rps_p99_under_200ms"] = p99 < 200
                r["rss_mb"] = round(tree_rss_mb(s.proc.pid), 1) if s.proc else None
                r["startup_s"] = round(s.startup_s, 3) if s.startup_s is not None else None
                result[s.name] = r
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
    if "litellm" in result and result["litellm"]["rps"]:
        result["switchboard"]["rps_vs_litellm"] = round(
            float(result["switchboard"]["rps"]) / float(result["litellm"]["rps"]), 2)  # type: ignore[arg-type]
    result["setup"] = {"upstream_latencies_ms": latencies, "n_per_round": args.n, "rounds": args.rounds,
                       "concurrency": args.concurrency, "load_requests": args.load_requests,
                       "cpus": os.cpu_count()}
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
