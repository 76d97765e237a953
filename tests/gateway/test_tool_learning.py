"""Reading successful tool calls out of a conversation (learning from logs)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.tool_learning import looks_like_error, successful_tool_calls


def _call(i: str, name: str) -> dict[str, Any]:
    return {"id": i, "type": "function", "function": {"name": name, "arguments": "{}"}}


def _conv(*results: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Lyon and 100 EUR in USD?"}]},
        {"role": "assistant", "content": None,
         "tool_calls": [_call("c1", "get_weather"), _call("c2", "convert_currency")]},
        *({"role": "tool", "tool_call_id": i, "content": text} for i, text in results),
    ]


def test_latest_round_successes_with_their_request() -> None:
    msgs = _conv(("c1", '{"temp_c": 21}'), ("c2", '{"error": "rate source down"}'))
    assert successful_tool_calls(msgs) == [("Weather in Lyon and 100 EUR in USD?", "get_weather")]


def test_nothing_until_results_arrive_and_old_rounds_are_not_relearned() -> None:
    assert successful_tool_calls(_conv()) == []
    later = [*_conv(("c1", "21 C, sunny")), {"role": "assistant", "content": "It is sunny."},
             {"role": "user", "content": "thanks"}]
    assert successful_tool_calls(later) == []


def test_malformed_messages_are_ignored() -> None:
    assert successful_tool_calls([{"role": "tool", "tool_call_id": "x", "content": "ok"}]) == []
    assert successful_tool_calls(["junk", {"role": "assistant", "tool_calls": "nope"},
                                  {"role": "tool", "tool_call_id": "x", "content": "ok"}]) == []


@pytest.mark.parametrize(("text", "error"), [
    ('{"error": {"message": "boom"}}', True), ('{"error": null, "value": 3}', False),
    ("Error: city not found", True), ("Traceback (most recent call last)", True), ("", True),
    ("21 C and sunny", False), ("[]", False),
])
def test_error_detection(text: str, error: bool) -> None:
    assert looks_like_error(text) is error
