"""Types that cross the routing seam: what the gateway knows about each deployment right now,
the constraints a request carries, and the decision a selector returns.

The gateway builds these from config + live state; ``routers`` decide over them without knowing
about HTTP; the gateway then dispatches ``RouteDecision.ranked`` in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Tier = Literal["edge", "cloud"]


@dataclass(frozen=True, slots=True)
class DeploymentView:
    """One deployment as the selector sees it at decision time."""

    name: str
    model: str
    tier: Tier
    input_per_mtok: float  # USD per million prompt tokens (0 when unknown/free)
    output_per_mtok: float
    context_window: int | None
    capabilities: frozenset[str]
    available: bool  # key present, process up, not cooling down
    unavailable_reason: str = ""
    ttft_ms: float | None = None  # live estimate (e.g. p90 of recent calls); None = no data yet
    tpot_ms: float | None = None  # time per output token
    in_flight: int = 0
    max_concurrency: int = 64


@dataclass(frozen=True, slots=True)
class RouteConstraints:
    """The policy's constraints tightened by the caller's headers/metadata and key tags."""

    max_cost_usd: float | None = None
    ttft_slo_ms: float | None = None
    tpot_slo_ms: float | None = None
    tiers: frozenset[str] = frozenset({"edge", "cloud"})
    require_capabilities: frozenset[str] = frozenset()
    prompt_tokens: int = 0  # estimate, for context-window and cost checks
    max_output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class RouteDecision:
    policy: str
    ranked: tuple[str, ...]  # deployment names to try, best first
    reason: str  # one line for x-switchboard-route-reason and the decision log
    scores: dict[str, float] = field(default_factory=dict)
    category: str | None = None
    router: str = "fallback"
    binding_constraint: str | None = None
