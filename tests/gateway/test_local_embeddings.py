"""/v1/embeddings served by the local all-MiniLM-L6-v2 (engineer C's ONNX embedder), loaded lazily."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import openai
import pytest

from core.embedders import OnnxMiniLMEmbedder
from tests.fakes.upstream import FakeUpstream
from tests.gateway.harness import GatewayServer, fake_config

MODELS = Path(__file__).resolve().parents[2] / "var" / "models"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (MODELS / "manifest.json").exists(), reason="run `switchboard prepare-models` first"),
]


@pytest.fixture(scope="module")
def server(_fake_upstream_session: FakeUpstream) -> Iterator[GatewayServer]:
    cfg = fake_config(_fake_upstream_session.base_url).replace(
        "embeddings:\n", "embeddings:\n  - {name: minilm, kind: local_embedding}\n")
    with GatewayServer(cfg, models_dir=MODELS) as gw:
        yield gw


def test_local_embeddings_are_unit_vectors(server: GatewayServer) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    resp = client.embeddings.create(model="minilm", input=["a cat sat on the mat", "stock prices fell"])
    vecs = np.array([d.embedding for d in resp.data])
    assert vecs.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)


def test_base64_encoding_matches_floats(server: GatewayServer) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    floats = client.embeddings.create(model="minilm", input="hello").data[0].embedding
    raw = client.embeddings.with_raw_response.create(model="minilm", input="hello", encoding_format="base64")
    b64 = raw.http_response.json()["data"][0]["embedding"]
    decoded = np.frombuffer(base64.b64decode(b64), dtype="<f4")
    assert np.allclose(decoded, floats, atol=1e-6)


def test_a_long_request_returns_each_inputs_own_vector_in_order(server: GatewayServer) -> None:
    """Many long inputs (cut into pieces by the batching embedder), with repeats, while short
    requests run beside it: every row is its own input's vector, in the request's order."""
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=120)
    distinct = [f"passage {i}: " + "the shipment of invoices and contracts " * 8 for i in range(40)]
    inputs = [*distinct, distinct[5], distinct[0], *distinct[:3]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        long = pool.submit(client.embeddings.create, model="minilm", input=inputs)
        shorts = [client.embeddings.create(model="minilm", input=f"route prompt {i}") for i in range(5)]
        rows = np.array([d.embedding for d in long.result().data])
    assert [d.index for d in long.result().data] == list(range(len(inputs)))
    # expected rows from the model itself in this process (the gateway's cache would hand back
    # whatever the long request stored, right or wrong)
    alone = dict(zip(distinct, OnnxMiniLMEmbedder.from_models_dir(MODELS).embed_sync(distinct), strict=True))
    for text, row in zip(inputs, rows, strict=True):
        assert np.allclose(row, alone[text], atol=1e-5)
    assert all(len(s.data) == 1 for s in shorts)


def test_short_requests_are_answered_while_a_bulk_one_runs(server: GatewayServer) -> None:
    """A request of many inputs runs as background slices that other embeddings overtake: one-input
    requests sent while it runs are answered before it ends (before session 12 each of them
    waited for the whole bulk call, so at most the first one or two could finish before its
    response)."""
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=300)
    bulk = [f"bulk passage {i}: " + "invoices and shipments " * 5 for i in range(300)]  # ~45 KB
    answered_first = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        long = pool.submit(client.embeddings.create, model="minilm", input=bulk)
        time.sleep(0.3)  # the bulk request is being embedded (300 model runs in all)
        for i in range(200):
            if long.done():
                break
            client.embeddings.create(model="minilm", input=f"route prompt {i} about the weather")
            answered_first += not long.done()
        assert len(long.result().data) == len(bulk)
    assert answered_first >= 5
