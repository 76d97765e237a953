"""Build a policy from its kind name (typed registry; never a dotted path from YAML)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agents.scheduler.policies import (
    CriticalPathPolicy,
    EdfPolicy,
    FairSharePolicy,
    FifoPolicy,
    PriorityPolicy,
    RoundRobinPolicy,
    ShortestRemainingPolicy,
)
from agents.scheduler.policy import SchedulerPolicy

_POLICIES: Mapping[str, Callable[..., SchedulerPolicy]] = {
    "fifo": FifoPolicy,
    "round_robin": RoundRobinPolicy,
    "priority": PriorityPolicy,
    "edf": EdfPolicy,
    "fair_share": FairSharePolicy,
    "critical_path": CriticalPathPolicy,
    "shortest_remaining": ShortestRemainingPolicy,
}


def policy_kinds() -> list[str]:
    return sorted(_POLICIES)


def build_policy(kind: str, **params: Any) -> SchedulerPolicy:
    """Raises ValueError for an unknown kind or bad parameters."""
    factory = _POLICIES.get(kind)
    if factory is None:
        raise ValueError(f"unknown scheduler policy {kind!r}; known: {', '.join(policy_kinds())}")
    try:
        return factory(**params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad parameters for scheduler policy {kind!r}: {exc}") from exc
