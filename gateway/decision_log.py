"""The decision log: recent requests with their routing decision and outcome, for the dashboard.

How a request gets in: the chat endpoint calls :meth:`DecisionLog.begin` once it has a route plan
(one line in ``gateway/api/chat.py``); the plan waits in a context variable of the request's task.
The log is a :class:`gateway.metrics.RequestListener`, so when the endpoint records the request's
outcome in the metrics (``request_done`` / ``request_failed``, on every path: JSON, stream end,
error, client gone) the log joins outcome and plan into one :class:`DecisionRecord`. Requests
without a plan (a 401, an embeddings call) are recorded too, with an empty decision.

Cost: recording is synchronous, allocation of one record plus a deque append; no awaits and no
I/O on the request path. It never raises into the request (a bug here is logged and dropped).

Replicas: when a Redis Store is configured, :meth:`DecisionLog.mirror` (a background loop in the
lifespan) pushes the records recorded since its last turn to one capped Redis list in a single
call, and this replica's running totals to one hash field, so every replica's dashboard reads the
same decisions (:meth:`DecisionLog.shared`). Without Redis the dashboard reads the local ring.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import socket
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

from core.clock import Clock
from core.store.protocol import Store
from gateway.dispatch import RoutePlan

log = logging.getLogger("switchboard.decisions")

LIST_KEY = "dash:decisions"
TOTALS_KEY = "dash:totals"


@dataclass(slots=True)  # not frozen: a frozen 20-field __init__ costs ~3 µs more per request
class DecisionRecord:
    """One answered request (never mutated after recording). ``baseline_cost_usd`` is what its tokens would have cost on the most
    expensive deployment its policy could route to (``cost saved`` = baseline − cost)."""

    request_id: str
    at: float  # unix seconds, when the outcome was recorded
    endpoint: str
    policy: str
    deployment: str
    tier: str
    router: str
    reason: str
    scores: Mapping[str, float]
    ranked: tuple[str, ...]
    binding_constraint: str | None
    status: int
    error: str  # OpenAI error code; "" on success
    latency_ms: float | None
    ttft_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    baseline_cost_usd: float
    replica: str
    agent: str = ""  # an agent's LLM step (endpoint "agent_step"): the agent; request_id is the run id

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["scores"] = {k: round(v, 6) for k, v in self.scores.items()}
        out["ranked"] = list(self.ranked)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DecisionRecord:
        """Raises KeyError / TypeError / ValueError on a malformed entry."""
        kw = {f.name: data[f.name] for f in fields(cls) if f.name != "agent"}
        kw["agent"] = str(data.get("agent", ""))  # absent in entries of older replicas
        kw["scores"] = {str(k): float(v) for k, v in dict(data["scores"]).items()}
        kw["ranked"] = tuple(str(x) for x in data["ranked"])
        return cls(**kw)


@dataclass(slots=True)
class Totals:
    """Running sums over every recorded request (since start; across replicas when merged)."""

    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    baseline_cost_usd: float = 0.0

    def add(self, rec: DecisionRecord) -> None:
        self.requests += 1
        if rec.error:
            self.errors[rec.error] = self.errors.get(rec.error, 0) + 1
        self.prompt_tokens += rec.prompt_tokens
        self.completion_tokens += rec.completion_tokens
        self.cost_usd += rec.cost_usd
        self.baseline_cost_usd += rec.baseline_cost_usd

    def merge(self, other: Totals) -> None:
        self.requests += other.requests
        for code, n in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + n
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd
        self.baseline_cost_usd += other.baseline_cost_usd

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors": dict(self.errors), "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost_usd": self.cost_usd,
                "baseline_cost_usd": self.baseline_cost_usd,
                "saved_usd": max(0.0, self.baseline_cost_usd - self.cost_usd)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Totals:
        return cls(int(data["requests"]), {str(k): int(v) for k, v in dict(data["errors"]).items()},
                   int(data["prompt_tokens"]), int(data["completion_tokens"]), float(data["cost_usd"]),
                   float(data["baseline_cost_usd"]))


@dataclass(frozen=True, slots=True)
class _Begun:
    plan: RoutePlan
    request_id: str
    agent: str = ""


def baseline_cost(plan: RoutePlan, prompt_tokens: int, completion_tokens: int, actual: float) -> float:
    """What the tokens would have cost on the policy's most expensive deployment (never less than
    what they did cost)."""
    pol = plan.policy
    snap = plan.snapshot
    worst = actual
    for name in (*pol.candidates, *pol.fallbacks):
        worst = max(worst, snap.cost_usd(name, prompt_tokens, completion_tokens))
    return worst


class DecisionLog:
    """Bounded ring of :class:`DecisionRecord` (newest last) plus running :class:`Totals`."""

    def __init__(self, clock: Clock, *, capacity: int = 1000, replica: str | None = None) -> None:
        self._clock = clock
        self.capacity = capacity
        self.replica = replica or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(2).hex()}"
        self._ring: deque[DecisionRecord] = deque(maxlen=capacity)
        self._pending: deque[DecisionRecord] = deque(maxlen=capacity)  # not yet mirrored
        self.mirroring = False
        self.totals = Totals()
        # one per log (not per module): the plan of the request running in this task
        self._current: contextvars.ContextVar[_Begun | None] = contextvars.ContextVar(
            f"decision-{id(self)}", default=None)

    # -- recording (hot path: synchronous, never raises) ---------------------------------------
    def begin(self, plan: RoutePlan, scope: Mapping[str, Any], *, agent: str = "") -> None:
        """Remember ``plan`` for the request running in this task (``scope``: its ASGI scope,
        whose ``state.request_id`` the chat endpoint sets); its outcome completes the record.
        ``agent``: the agent whose LLM step this is (gateway.agents_backend)."""
        state = scope.get("state") or {}
        self._current.set(_Begun(plan, str(state.get("request_id", "")), agent))

    def request_done(self, endpoint: str, policy: str, deployment: str, status: int, seconds: float, *,
                     prompt_tokens: int = 0, completion_tokens: int = 0, cost_usd: float = 0.0,
                     ttft_s: float | None = None) -> None:
        try:
            self._record(endpoint, policy, deployment, status, "", seconds * 1000, ttft_s, prompt_tokens,
                         completion_tokens, cost_usd)
        except Exception:  # the log must never break a request
            log.exception("decision log: could not record a request")

    def request_failed(self, endpoint: str, policy: str, deployment: str, status: int, code: str) -> None:
        try:
            self._record(endpoint, policy, deployment, status, code or "error", None, None, 0, 0, 0.0)
        except Exception:
            log.exception("decision log: could not record a failed request")

    def _record(self, endpoint: str, policy: str, deployment: str, status: int, error: str,
                latency_ms: float | None, ttft_s: float | None, prompt: int, completion: int,
                cost: float) -> None:
        begun = self._current.get()
        if begun is None:
            self.add(DecisionRecord("", self._clock.wall(), endpoint, policy, deployment, "", "", "", {}, (),
                                    None, status, error, latency_ms, None, prompt, completion, cost, cost,
                                    self.replica))
            return
        self._current.set(None)
        plan, decision = begun.plan, begun.plan.decision
        entry = plan.snapshot.deployments.get(deployment)
        self.add(DecisionRecord(
            begun.request_id, self._clock.wall(), endpoint, policy, deployment or (decision.ranked[0] if decision.ranked else ""),
            entry.spec.tier if entry is not None else "", decision.router, decision.reason, decision.scores,
            decision.ranked, decision.binding_constraint, status, error, latency_ms,
            None if ttft_s is None else ttft_s * 1000, prompt, completion, cost,
            baseline_cost(plan, prompt, completion, cost), self.replica, begun.agent))

    def add(self, rec: DecisionRecord) -> None:
        """Append one record (O(1), no I/O)."""
        self._ring.append(rec)
        self.totals.add(rec)
        if self.mirroring:
            self._pending.append(rec)

    def recent(self, limit: int | None = None) -> list[DecisionRecord]:
        """This process's records, newest first."""
        items = list(reversed(self._ring))
        return items if limit is None else items[:limit]

    # -- sharing through the Store ---------------------------------------------------------------
    async def flush(self, store: Store) -> None:
        """Push the records recorded since the last flush (one list_push) and this replica's
        totals. Raises the Store's errors; records already taken off the queue are then lost,
        which the dashboard can afford."""
        batch = [orjson.dumps(self._pending.popleft().to_json()) for _ in range(len(self._pending))]
        if batch:
            await store.list_push(LIST_KEY, batch, max_len=self.capacity)
        await store.hset(TOTALS_KEY, {self.replica: orjson.dumps(self.totals.to_json())})

    async def mirror(self, store: Store, interval_s: float = 1.0) -> None:
        """Flush every ``interval_s`` until cancelled (then once more); Store failures are logged
        and retried on the next turn."""
        self.mirroring = True
        try:
            while True:
                await self._clock.sleep(interval_s)
                try:
                    await self.flush(store)
                except Exception as exc:  # Redis down must not kill the loop
                    log.debug("decision log flush failed: %s", exc)
        finally:
            self.mirroring = False
            with contextlib.suppress(Exception):  # shutting down: what is left, best effort
                await self.flush(store)

    async def shared(self, store: Store, limit: int) -> tuple[list[DecisionRecord], Totals]:
        """Every replica's latest ``limit`` records (newest first) and summed totals, after
        flushing this replica's own. Raises the Store's errors."""
        await self.flush(store)
        raw = await store.list_range(LIST_KEY, 0, limit - 1)
        totals = Totals()
        for blob in (await store.hgetall(TOTALS_KEY)).values():
            totals.merge(Totals.from_json(orjson.loads(blob)))
        return list(_decode(raw)), totals


def _decode(raw: Iterable[bytes]) -> Iterable[DecisionRecord]:
    for blob in raw:
        try:
            yield DecisionRecord.from_json(orjson.loads(blob))
        except (KeyError, TypeError, ValueError) as exc:  # another version's entry: skip it
            log.debug("skipping a malformed decision entry: %s", exc)
