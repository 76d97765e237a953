"""Shared state: the Store protocol and its two implementations (in-process, Redis)."""

from core.store.protocol import RateDecision, Store

__all__ = ["RateDecision", "Store"]
