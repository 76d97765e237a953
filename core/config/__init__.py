"""Configuration: YAML with positions, validated into frozen models with file:line:col errors."""

from pathlib import Path

from core.config.models import GatewayConfig
from core.config.validate import load_model_file, load_model_text


def load_gateway_config(path: str | Path) -> GatewayConfig:
    """Raises core.errors.ConfigError listing every problem as ``path:line:col: where: msg``."""
    return load_model_file(path, GatewayConfig)


__all__ = ["GatewayConfig", "load_gateway_config", "load_model_file", "load_model_text"]
