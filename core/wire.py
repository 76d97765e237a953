"""Wire types shared by every package: an OpenAI chat request and response as Switchboard sees them.

Bodies stay plain JSON dicts so that fields we do not know pass through to the upstream untouched;
the gateway validates the known fields at the edge (pydantic) before building a ChatRequest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: dict[str, Any] | None) -> Usage:
        if not usage:
            return cls()
        return cls(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """An OpenAI ``/v1/chat/completions`` body plus who asked.

    ``body`` is what goes upstream (a backend replaces ``model`` with its deployment's model name).
    ``tenant`` and ``metadata`` come from the caller's key and request; backends do not send them.
    """

    body: dict[str, Any]
    tenant: str = "default"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        msgs = self.body.get("messages")
        return msgs if isinstance(msgs, list) else []

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def with_body(self, **changes: Any) -> ChatRequest:
        return ChatRequest({**self.body, **changes}, self.tenant, self.metadata)


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A complete (non-streamed) OpenAI chat completion body and the deployment that produced it."""

    body: dict[str, Any]
    deployment: str = ""

    @property
    def usage(self) -> Usage:
        return Usage.from_openai(self.body.get("usage"))

    @property
    def text(self) -> str:
        choices = self.body.get("choices") or []
        if not choices:
            return ""
        content = (choices[0].get("message") or {}).get("content")
        return content if isinstance(content, str) else ""


def content_text(content: Any) -> str:
    """A message's content as text: the string itself, or its text parts joined by spaces."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def prompt_text(messages: Sequence[Any]) -> str:
    """The text a router or tool search should look at: the last user turn (string or parts).
    Entries that are not message objects are skipped."""
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user" and isinstance(msg.get("content"), str | list):
            return content_text(msg["content"])
    return ""
