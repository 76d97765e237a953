"""Property-based fuzz of the chat request schema: any JSON in any field gets 200 or an OpenAI
error with a 4xx/503 status, never a 500, and the server keeps serving."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.harness import GatewayServer

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "wizard", ""])
content = st.one_of(
    st.text(max_size=50),
    st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "x"]),
                                    "text": st.text(max_size=10)}), max_size=3),
    json_values,
)
message = st.one_of(st.fixed_dictionaries({"role": roles, "content": content}), json_values)
field_values: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from(["auto", "fast", "nope", "", "dead"]) | json_values,
    "messages": st.lists(message, max_size=3) | json_values,
    "stream": st.booleans() | json_values,
    "stream_options": st.fixed_dictionaries({"include_usage": st.booleans() | json_values}) | json_values,
    "temperature": st.floats(-1, 3) | json_values,
    "top_p": st.floats(-1, 2) | json_values,
    "n": st.integers(-2, 3) | json_values,
    "max_tokens": st.integers(-5, 100) | json_values,
    "stop": st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=5) | json_values,
    "tools": st.lists(json_values, max_size=3) | json_values,
    "tool_choice": st.sampled_from(["auto", "none"]) | json_values,
    "response_format": st.just({"type": "json_object"}) | json_values,
    "seed": st.integers(-(2**63), 2**63 - 1) | json_values,
    "logprobs": st.booleans() | json_values,
    "metadata": st.dictionaries(st.text(max_size=5), st.text(max_size=5)) | json_values,
    "unknown_field": json_values,
}
bodies = st.fixed_dictionaries({}, optional=field_values)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=bodies)
def test_chat_schema_fuzz(gateway: GatewayServer, body: dict[str, Any]) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        resp = client.post("/v1/chat/completions", content=orjson.dumps(body),
                           headers={"content-type": "application/json"})
        assert resp.status_code in {200, 400, 404, 413, 503}, resp.text
        if resp.status_code != 200:
            err = resp.json()["error"]
            assert set(err) == {"message", "type", "param", "code"}
        assert client.get("/health/liveness").status_code == 200
