"""Agent definitions (config/agents/*.yaml), validated into frozen pydantic models.

One file per agent. Errors read ``file:line:col: dotted.path: message`` (core.config)::

    name: researcher
    system_prompt: You are a careful research assistant.
    policy: auto                     # routing policy (or model) for the agent's LLM steps
    tools:
      - name: get_weather            # a tool by name (builtin, HTTP, MCP or KB)
      - tag: finance                 # every KB tool with this tag
      - kb_top_k: 5                  # the k KB tools most relevant to the run's input
    http_tools:
      - name: lookup_order
        description: Look up an order by id.
        url: https://orders.internal.example/lookup
        parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
    allowed_hosts: [orders.internal.example]
    mcp_servers:
      - name: files
        command: [python, -m, my_mcp_server]
    max_steps: 8
    budget: {max_tokens: 20000, max_cost_usd: 0.5}
    priority: normal                 # high | normal | low
    deadline_s: 120                  # per run, from submission
    on_active_run: enqueue           # reject | enqueue | interrupt (a new message on a busy thread)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.config import load_model_file
from core.errors import ConfigError

PriorityClass = Literal["high", "normal", "low"]
ThreadPolicy = Literal["reject", "enqueue", "interrupt"]
_NAME = r"^[A-Za-z0-9_-]{1,64}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolRef(_Frozen):
    """Exactly one of ``name``, ``tag`` or ``kb_top_k``."""

    name: str | None = Field(default=None, min_length=1)
    tag: str | None = Field(default=None, min_length=1)
    kb_top_k: int | None = Field(default=None, ge=1, le=64)

    @model_validator(mode="after")
    def _exactly_one(self) -> ToolRef:
        if sum(x is not None for x in (self.name, self.tag, self.kb_top_k)) != 1:
            raise ValueError("give exactly one of name, tag, kb_top_k")
        return self


class HttpToolSpec(_Frozen):
    name: str = Field(pattern=_NAME)
    description: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")
    method: Literal["GET", "POST"] = "POST"
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    timeout_s: float = Field(default=10.0, gt=0, le=300)


class McpServerSpec(_Frozen):
    name: str = Field(pattern=_NAME)
    command: list[str] = Field(min_length=1, description="stdio server command line")
    env: dict[str, str] = Field(default_factory=dict)


class Budget(_Frozen):
    max_tokens: int | None = Field(default=None, gt=0)
    max_cost_usd: float | None = Field(default=None, gt=0)


class AgentSpec(_Frozen):
    name: str = Field(pattern=_NAME)
    system_prompt: str = ""
    policy: str = Field(default="auto", min_length=1)
    tools: list[ToolRef] = Field(default_factory=list)
    http_tools: list[HttpToolSpec] = Field(default_factory=list)
    allowed_hosts: list[str] = Field(default_factory=list)
    mcp_servers: list[McpServerSpec] = Field(default_factory=list)
    max_steps: int = Field(default=8, ge=1, le=200)
    budget: Budget = Field(default_factory=Budget)
    priority: PriorityClass = "normal"
    deadline_s: float | None = Field(default=None, gt=0)
    on_active_run: ThreadPolicy = "enqueue"
    temperature: float | None = Field(default=None, ge=0, le=2)

    @model_validator(mode="after")
    def _http_hosts_allowed(self) -> AgentSpec:
        allowed = set(self.allowed_hosts)
        for tool in self.http_tools:
            host = urlsplit(tool.url).hostname or ""
            if host not in allowed:
                raise ValueError(f"http tool {tool.name!r}: host {host!r} is not in allowed_hosts")
        return self


def load_agent(path: str | Path) -> AgentSpec:
    """Raises core.errors.ConfigError with ``file:line:col`` problems."""
    return load_model_file(path, AgentSpec)


def load_agents(directory: str | Path) -> dict[str, AgentSpec]:
    """Every ``*.yaml`` in ``directory`` by agent name; all problems of all files in one
    ConfigError (a duplicate name is one)."""
    agents: dict[str, AgentSpec] = {}
    problems: list[str] = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            spec = load_agent(path)
        except ConfigError as exc:
            problems += exc.problems
            continue
        if spec.name in agents:
            problems.append(f"{path}:1:1: name: duplicate agent name {spec.name!r}")
        agents[spec.name] = spec
    if problems:
        raise ConfigError(problems)
    return agents
