"""Prometheus metrics of one gateway process, in its own registry (no module-global state).

Labels: ``endpoint`` (chat | completions | embeddings | agent_step; on requests, latency, TTFT,
tokens, cost and errors, so agents' steps can be told from clients' requests), ``policy`` ("" when the request named a
deployment), ``deployment`` ("" when none was reached), ``status`` (HTTP status), ``type`` (the
OpenAI error code). With several uvicorn workers each process exposes its own numbers.
"""

from __future__ import annotations

from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10)


class RequestListener(Protocol):
    """Told about every answered request right after the metrics are (the dashboard's decision
    log, gateway/decision_log.py). Must be synchronous, cheap and never raise."""

    def request_done(self, endpoint: str, policy: str, deployment: str, status: int, seconds: float, *,
                     prompt_tokens: int = 0, completion_tokens: int = 0, cost_usd: float = 0.0,
                     ttft_s: float | None = None) -> None: ...

    def request_failed(self, endpoint: str, policy: str, deployment: str, status: int, code: str) -> None: ...


class GatewayMetrics:
    """Counters and histograms the API, dispatcher and reloader record into."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("switchboard_requests_total", "Requests answered",
                                ["endpoint", "policy", "deployment", "status"], registry=r)
        self.latency = Histogram("switchboard_request_latency_seconds", "End-to-end request latency",
                                 ["endpoint", "policy", "deployment"], buckets=_LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("switchboard_time_to_first_token_seconds", "Streaming time to first chunk",
                              ["endpoint", "policy", "deployment"], buckets=_TTFT_BUCKETS, registry=r)
        self.tokens = Counter("switchboard_tokens_total", "Tokens by kind (prompt | completion)",
                              ["endpoint", "policy", "deployment", "kind"], registry=r)
        self.cost = Counter("switchboard_cost_usd_total", "Spend in USD", ["endpoint", "policy", "deployment"],
                            registry=r)
        self.errors = Counter("switchboard_errors_total", "Errors returned, by OpenAI error code",
                              ["endpoint", "policy", "deployment", "type"], registry=r)
        self.attempts = Counter("switchboard_upstream_attempts_total", "Upstream attempts by outcome",
                                ["deployment", "outcome"], registry=r)
        self.in_flight_g = Gauge("switchboard_deployment_in_flight", "Calls in flight per deployment",
                                 ["deployment"], registry=r)
        self.cooldowns = Counter("switchboard_deployment_cooldowns_total", "Cooldowns started",
                                 ["deployment"], registry=r)
        self.reloads = Counter("switchboard_config_reloads_total", "Config reloads by result", ["result"],
                               registry=r)
        self.config_version = Gauge("switchboard_config_version", "Version of the active config", registry=r)
        self.route_decisions = Counter("switchboard_route_decisions_total", "Routing decisions",
                                       ["policy", "deployment", "router"], registry=r)
        self.tool_selection = Counter("switchboard_tool_selection_tools_total",
                                      "Request tools kept or dropped and KB tools added by tool selection",
                                      ["policy", "outcome"], registry=r)
        self.tool_examples_learned = Counter("switchboard_tool_examples_learned_total",
                                             "Queries added to tools' examples from successful tool calls",
                                             registry=r)

        # labelled children by label tuple: prometheus' labels() costs microseconds per call
        self._children: dict[tuple[object, ...], Any] = {}
        self.listeners: list[RequestListener] = []

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # AttemptObserver (gateway.dispatch)
    def attempt(self, deployment: str, outcome: str) -> None:
        self._child(self.attempts, deployment, outcome).inc()

    def in_flight(self, deployment: str, value: int) -> None:
        self._child(self.in_flight_g, deployment).set(value)

    def decision(self, policy: str, deployment: str, router: str) -> None:
        self._child(self.route_decisions, policy, deployment, router).inc()

    def tools_selected(self, policy: str, kept: int, dropped: int, added: int) -> None:
        """One tool selection: ``kept`` tools sent (``added`` of them from the KB), ``dropped`` cut."""
        c = self._child
        c(self.tool_selection, policy, "kept").inc(kept)
        if dropped:
            c(self.tool_selection, policy, "dropped").inc(dropped)
        if added:
            c(self.tool_selection, policy, "added").inc(added)

    def cooldown(self, deployment: str) -> None:
        self.cooldowns.labels(deployment).inc()

    def request_done(
        self,
        endpoint: str,
        policy: str,
        deployment: str,
        status: int,
        seconds: float,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: float = 0.0,
        ttft_s: float | None = None,
    ) -> None:
        c = self._child
        c(self.requests, endpoint, policy, deployment, str(status)).inc()
        c(self.latency, endpoint, policy, deployment).observe(seconds)
        if prompt_tokens:
            c(self.tokens, endpoint, policy, deployment, "prompt").inc(prompt_tokens)
        if completion_tokens:
            c(self.tokens, endpoint, policy, deployment, "completion").inc(completion_tokens)
        if cost_usd > 0:
            c(self.cost, endpoint, policy, deployment).inc(cost_usd)
        if ttft_s is not None:
            c(self.ttft, endpoint, policy, deployment).observe(ttft_s)
        for listener in self.listeners:
            listener.request_done(endpoint, policy, deployment, status, seconds, prompt_tokens=prompt_tokens,
                                  completion_tokens=completion_tokens, cost_usd=cost_usd, ttft_s=ttft_s)

    def request_failed(self, endpoint: str, policy: str, deployment: str, status: int, code: str) -> None:
        self._child(self.requests, endpoint, policy, deployment, str(status)).inc()
        self._child(self.errors, endpoint, policy, deployment, code).inc()
        for listener in self.listeners:
            listener.request_failed(endpoint, policy, deployment, status, code)

    def render(self) -> bytes:
        return generate_latest(self.registry)
