"""Prices and context windows per deployment, from litellm's bundled model map.

The map is the JSON file that ships inside the installed ``litellm`` package
(``model_prices_and_context_window_backup.json``); it is located with
``importlib.util.find_spec`` and read directly, so ``litellm`` itself (≈2 s to import) is never
imported. The file is parsed once per process, lazily, on the first price or context-window
question (parsing costs tens of milliseconds, which startup need not pay).

A deployment's price is its config ``price:`` override when set, otherwise the map entry for
``price_model or model`` (tried as written, then without a ``provider/`` prefix). Unknown models
have no price (``price_for`` → None) and cost 0.0: local models are free, and an unpriced cloud
model should be given a ``price:`` in config.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config.models import GatewayConfig, PriceOverride

PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One map entry, in USD per million tokens."""

    input_per_mtok: float | None
    output_per_mtok: float | None
    context_window: int | None


@dataclass(frozen=True, slots=True)
class DeploymentPricing:
    """What the PriceBook needs to know about one deployment."""

    name: str
    model: str
    price_model: str | None = None
    price: PriceOverride | None = None
    context_window: int | None = None


def litellm_price_map_path() -> Path | None:
    """The bundled map inside the installed litellm package, without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        candidate = Path(loc) / PRICE_MAP_FILE
        if candidate.is_file():
            return candidate
    return None


def _per_mtok(v: Any) -> float | None:
    return float(v) * 1e6 if isinstance(v, int | float) else None


def parse_price_map(raw: Mapping[str, Any]) -> dict[str, ModelInfo]:
    """Keep only what we use from litellm's map (prices per token → per million tokens)."""
    out: dict[str, ModelInfo] = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or name == "sample_spec":
            continue
        ctx = entry.get("max_input_tokens") or entry.get("max_tokens")
        out[name] = ModelInfo(
            _per_mtok(entry.get("input_cost_per_token")),
            _per_mtok(entry.get("output_cost_per_token")),
            int(ctx) if isinstance(ctx, int | float) and ctx > 0 else None,
        )
    return out


@functools.lru_cache(maxsize=4)
def load_price_map(path: Path | None = None) -> Mapping[str, ModelInfo]:
    """The parsed map, cached per process (per path). Empty when litellm is not installed."""
    path = path or litellm_price_map_path()
    if path is None:
        return {}
    try:
        import orjson

        raw = orjson.loads(path.read_bytes())
    except ImportError:  # pragma: no cover - orjson is a dependency; json is the slow fallback
        raw = json.loads(path.read_bytes())
    return parse_price_map(raw)


class PriceBook:
    """Prices and context windows by deployment name (or by plain model name).

    Immutable once built; build a new one when the config reloads (the parsed map is shared).
    """

    def __init__(
        self,
        deployments: Iterable[DeploymentPricing] = (),
        *,
        price_map: Mapping[str, ModelInfo] | None = None,
        price_map_path: Path | None = None,
    ) -> None:
        self._deployments = {d.name: d for d in deployments}
        self._map = price_map
        self._map_path = price_map_path

    @classmethod
    def from_config(cls, config: GatewayConfig, **kwargs: Any) -> PriceBook:
        return cls(
            (
                DeploymentPricing(d.name, d.model, d.price_model, d.price, d.context_window)
                for d in config.deployments
            ),
            **kwargs,
        )

    def model_info(self, model: str) -> ModelInfo | None:
        """The map entry for a model name: as written, then without its ``provider/`` prefix."""
        if self._map is None:
            self._map = load_price_map(self._map_path)
        info = self._map.get(model)
        if info is None and "/" in model:
            info = self._map.get(model.split("/", 1)[1])
        return info

    def price_for(self, name: str) -> tuple[float, float] | None:
        """``(input_per_mtok, output_per_mtok)`` in USD for a deployment or model; None: unknown."""
        dep = self._deployments.get(name)
        if dep is not None and dep.price is not None:
            return dep.price.input_per_mtok, dep.price.output_per_mtok
        info = self.model_info((dep.price_model or dep.model) if dep is not None else name)
        if info is None or info.input_per_mtok is None:
            return None
        return info.input_per_mtok, info.output_per_mtok or 0.0

    def context_window(self, name: str) -> int | None:
        """Input tokens the deployment or model accepts: config first, then the map."""
        dep = self._deployments.get(name)
        if dep is not None and dep.context_window is not None:
            return dep.context_window
        info = self.model_info((dep.price_model or dep.model) if dep is not None else name)
        return info.context_window if info is not None else None

    def cost_usd(self, name: str, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one call; 0.0 when the deployment or model has no known price."""
        price = self.price_for(name)
        if price is None:
            return 0.0
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6
