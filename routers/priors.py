"""Ability priors for models a router has never seen scored."""

from __future__ import annotations

import math
from collections.abc import Mapping


def price_rank_abilities(blended_price: Mapping[str, float]) -> dict[str, float]:
    """Ability by price: the dearest model +1, the cheapest −1, linear in log price in between
    (all 0 when prices are equal). ``blended_price``: e.g. input + 3·output USD per million tokens.

    A prior, not a measurement: it only orders unknown models the way their prices do.
    """
    logs = {n: math.log(max(p, 1e-3)) for n, p in blended_price.items()}
    if not logs:
        return {}
    lo, hi = min(logs.values()), max(logs.values())
    if hi - lo < 1e-9:
        return dict.fromkeys(logs, 0.0)
    return {n: -1.0 + 2.0 * (v - lo) / (hi - lo) for n, v in logs.items()}
