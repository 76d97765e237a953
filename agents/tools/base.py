"""What an agent can call: the AgentTool protocol, its call context, and in-process tools.

Every call carries an idempotency key (``{thread_id}:{tool_call_id}``: the tool call id comes from
the checkpointed assistant message, so a resumed step derives the same key). Tools with side
effects must honour it (HTTP tools send it as ``Idempotency-Key``); the ledger
(:mod:`agents.tools.ledger`) also remembers results so a resumed step does not call again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from core.errors import SwitchboardError


class ToolCallError(SwitchboardError):
    """A tool call failed; the message goes back to the model as the tool's result."""

    status = 502
    code = "tool_call_failed"


@dataclass(frozen=True, slots=True)
class ToolContext:
    idempotency_key: str
    run_id: str
    thread_id: str
    tenant: str = "default"


@runtime_checkable
class AgentTool(Protocol):
    @property
    def name(self) -> str: ...

    def schema(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry for this tool."""
        ...

    async def call(self, arguments: Mapping[str, Any], ctx: ToolContext) -> str:
        """Run the tool; raises ToolCallError (never anything else) on failure."""
        ...


ToolFn = Callable[[Mapping[str, Any], ToolContext], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """An in-process tool (builtins, tests)."""

    name: str
    description: str
    fn: ToolFn
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    tags: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": dict(self.parameters),
            },
        }

    async def call(self, arguments: Mapping[str, Any], ctx: ToolContext) -> str:
        try:
            return await self.fn(arguments, ctx)
        except ToolCallError:
            raise
        except Exception as exc:  # a tool bug must not kill the run: the model sees the error
            raise ToolCallError(f"tool {self.name!r} failed: {type(exc).__name__}") from exc
