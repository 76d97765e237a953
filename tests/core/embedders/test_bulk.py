"""embed_many: a request of many texts goes to the background lane, a small one to ``embed``."""

from __future__ import annotations

import numpy as np
import pytest

from core.embedders.background import embed_many, is_bulk
from core.embedders.batching import BatchingEmbedder
from core.embedders.cache import CachedEmbedder
from tests.fakes.embedder import BackgroundCountingEmbedder, CountingEmbedder, fake_vector

LONG = [f"document {i} " + "words " * 30 for i in range(40)]  # ~200 characters each


@pytest.mark.parametrize(
    ("texts", "bulk"),
    [
        (["one text " * 400], False),  # a single text never is
        ([f"t{i}" for i in range(19)], False),  # 1,947 counted characters
        ([f"t{i}" for i in range(20)], True),  # 2,050: each text counts its own run
        (["x" * 800, "y" * 800], False),  # 1,800
        (["x" * 900, "y" * 900, "z"], True),  # 2,101
        (["x" * 5000, "y" * 500], False),  # a text counts at most TEXT_MAX: 1,300 + 600
    ],
    ids=["one-text", "19-short", "20-short", "under-budget", "over-budget", "capped-text"],
)
async def test_what_counts_as_bulk(texts: list[str], bulk: bool) -> None:
    assert is_bulk(texts) is bulk
    inner = BackgroundCountingEmbedder()
    got = await embed_many(inner, texts)
    np.testing.assert_array_equal(got, np.stack([fake_vector(t, inner.dim) for t in texts]))
    assert bool(inner.background_calls) is bulk
    assert bool(inner.calls) is not bulk


async def test_bulk_through_the_gateway_wrappers_reaches_the_background_lane_in_order() -> None:
    inner = BackgroundCountingEmbedder()
    embedder = CachedEmbedder(BatchingEmbedder(inner))
    texts = [*LONG, LONG[3], LONG[0], *LONG[:5]]
    got = await embed_many(embedder, texts)
    np.testing.assert_array_equal(got, np.stack([fake_vector(t, inner.dim) for t in texts]))
    assert inner.background_calls == [LONG]  # once, each distinct text once
    assert inner.calls == []
    await embedder.embed(["a routing prompt"])  # requests keep the request lane
    assert inner.calls == [["a routing prompt"]]


async def test_without_a_background_lane_bulk_is_a_plain_embed() -> None:
    inner = CountingEmbedder()
    await embed_many(inner, LONG)
    assert inner.calls == [LONG]
