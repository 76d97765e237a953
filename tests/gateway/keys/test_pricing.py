"""PriceBook: litellm's bundled map (read as a file, never imported) with per-deployment overrides."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.config.models import PriceOverride
from core.pricing import DeploymentPricing, PriceBook, litellm_price_map_path

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def raw_map() -> dict[str, dict[str, object]]:
    path = litellm_price_map_path()
    assert path is not None, "litellm's bundled price map was not found"
    return dict(json.loads(path.read_text()))


def _per_mtok(entry: dict[str, object], field: str) -> float:
    return float(entry[field]) * 1e6  # type: ignore[arg-type]


def test_price_from_bundled_map(raw_map: dict[str, dict[str, object]]) -> None:
    e = raw_map["gpt-4o-mini"]
    book = PriceBook([DeploymentPricing("mini", "gpt-4o-mini")])
    assert book.price_for("mini") == pytest.approx(
        (_per_mtok(e, "input_cost_per_token"), _per_mtok(e, "output_cost_per_token"))
    )
    assert book.context_window("mini") == e["max_input_tokens"]


def test_plain_model_name_and_provider_prefix(raw_map: dict[str, dict[str, object]]) -> None:
    book = PriceBook()
    assert book.price_for("openai/gpt-4o-mini") == book.price_for("gpt-4o-mini") is not None


def test_price_model_is_looked_up_instead_of_model() -> None:
    book = PriceBook([DeploymentPricing("vllm-4o", "my-served-name", price_model="gpt-4o")])
    assert book.price_for("vllm-4o") == PriceBook().price_for("gpt-4o")


def test_override_wins_over_map() -> None:
    dep = DeploymentPricing("mini", "gpt-4o-mini", price=PriceOverride(input_per_mtok=1, output_per_mtok=2),
                            context_window=4096)
    book = PriceBook([dep])
    assert book.price_for("mini") == (1, 2)
    assert book.context_window("mini") == 4096
    assert book.cost_usd("mini", 1_000_000, 500_000) == pytest.approx(2.0)


def test_unknown_model_has_no_price_and_costs_nothing() -> None:
    book = PriceBook([DeploymentPricing("edge", "smollm2-135m-local")])
    assert book.price_for("edge") is None and book.context_window("edge") is None
    assert book.cost_usd("edge", 1000, 1000) == 0.0


def test_cost_usd_arithmetic() -> None:
    book = PriceBook(price_map={}, deployments=[
        DeploymentPricing("d", "m", price=PriceOverride(input_per_mtok=3, output_per_mtok=15))])
    assert book.cost_usd("d", 2000, 1000) == pytest.approx((2000 * 3 + 1000 * 15) / 1e6)


def test_pricing_never_imports_litellm() -> None:
    code = (
        "import sys; from core.pricing import PriceBook; "
        "assert PriceBook().price_for('gpt-4o') is not None; "
        "assert 'litellm' not in sys.modules, 'litellm was imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
