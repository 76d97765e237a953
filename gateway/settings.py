"""Process settings: read once from the environment (prefix ``SWITCHBOARD_``) and passed down.

Everything that is per-process (where to listen, which config file, the Redis URL, the master key)
lives here; everything an operator may change while running lives in the YAML config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """``SWITCHBOARD_HOST``, ``SWITCHBOARD_PORT``, ``SWITCHBOARD_CONFIG`` … (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=4000, ge=0, le=65535)
    config: Path = Path("config/default.yaml")
    redis_url: str | None = None
    master_key: SecretStr | None = None
    key_pepper: SecretStr = Field(default=SecretStr(""), description="HMAC pepper of virtual-key hashes")
    state_path: Path | None = Field(
        default=Path("var/state/store.json"),
        description="durable snapshot of the in-process store (keys, spend); unused with Redis",
    )
    models_dir: Path = Path("var/models")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    workers: int = Field(default=1, ge=1)
    reload_poll_s: float = Field(default=2.0, ge=0, description="config mtime poll; 0 turns it off")
    latency_flush_s: float = Field(default=1.0, gt=0, description="latency stats → Store period")
    agents_retention_s: float = Field(
        default=7 * 86400.0,
        ge=0,
        description="finished agent runs (record, events, list entries) are forgotten this long after "
        "they finished, and threads idle that long with no unfinished run lose their checkpoints and "
        "tool-ledger entries (a new run on them starts fresh); 0 keeps them forever. Queued, running "
        "and suspended runs never expire",
    )
    preload_local_models: bool = Field(
        default=False, description="start configured local models at startup instead of on first use"
    )

    @field_validator("state_path", "redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    def master_key_value(self) -> str | None:
        value = self.master_key.get_secret_value() if self.master_key else ""
        return value or None
