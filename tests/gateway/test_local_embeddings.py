"""/v1/embeddings served by the local all-MiniLM-L6-v2 (engineer C's ONNX embedder), loaded lazily."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest

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
