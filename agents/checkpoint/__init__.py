"""Checkpointers for agent runs: Redis (plain commands) or the embedded SQLite / in-memory ones."""

from agents.checkpoint.factory import open_checkpointer
from agents.checkpoint.redis_saver import RedisSaver

__all__ = ["RedisSaver", "open_checkpointer"]
