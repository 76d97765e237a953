"""agents.streaming.assemble: chunks back into one chat.completion body."""

from __future__ import annotations

from agents.streaming import assemble, delta_text


def test_content_chunks_and_usage_are_assembled() -> None:
    chunks = [
        {"model": "m", "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        {"choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
    ]
    body = assemble(chunks)
    assert body["model"] == "m" and body["usage"] == {"prompt_tokens": 3, "completion_tokens": 2}
    assert body["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "Hello"},
        "finish_reason": "stop",
    }
    assert [delta_text(c) for c in chunks] == ["", "Hel", "lo", ""]


def test_tool_call_deltas_are_merged_by_index() -> None:
    def call(**delta: object) -> dict[str, object]:
        return {"choices": [{"index": 0, "delta": {"tool_calls": [delta]}}]}

    chunks = [
        call(index=0, id="c0", type="function", function={"name": "add", "arguments": ""}),
        call(index=1, id="c1", type="function", function={"name": "mul", "arguments": '{"a"'}),
        call(index=0, function={"arguments": '{"a": 1}'}),
        call(index=1, function={"arguments": ": 2}"}),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    message = assemble(chunks)["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "c0", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}},
        {"id": "c1", "type": "function", "function": {"name": "mul", "arguments": '{"a": 2}'}},
    ]
    assert assemble(chunks)["choices"][0]["finish_reason"] == "tool_calls" and "usage" not in assemble(chunks)
