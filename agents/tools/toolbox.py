"""Resolve an agent's tool references (by name, by tag, top-k from the KB) to callable tools."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from agents.spec import AgentSpec
from agents.tools.base import AgentTool


class ToolCatalog(Protocol):
    """The slice of the tool knowledge base an agent needs (tools_kb implements it)."""

    async def find(
        self, query: str, k: int, *, tag: str | None = None, tenant: str | None = None
    ) -> list[str]:
        """Names of the ``k`` tools most relevant to ``query`` (all with ``tag`` when given)."""
        ...


class Toolbox:
    """Executable tools by name (builtin, HTTP, MCP), plus the KB for tag / top-k references.

    A KB tool is offered to the model only when something here can execute it.
    """

    def __init__(
        self,
        tools: Iterable[AgentTool],
        catalog: ToolCatalog | None = None,
        tags: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._tools = {t.name: t for t in tools}
        self._catalog = catalog
        self._tags = {k: list(v) for k, v in (tags or {}).items()}

    def get(self, name: str) -> AgentTool | None:
        return self._tools.get(name)

    def add(self, tool: AgentTool) -> None:
        self._tools[tool.name] = tool

    async def select(self, spec: AgentSpec, query: str, tenant: str = "default") -> list[AgentTool]:
        names: list[str] = []
        for ref in spec.tools:
            if ref.name is not None:
                names.append(ref.name)
            elif ref.tag is not None:
                names += self._tags.get(ref.tag, [])
                if self._catalog is not None:
                    names += await self._catalog.find(query, 64, tag=ref.tag, tenant=tenant)
            elif ref.kb_top_k is not None and self._catalog is not None:
                names += await self._catalog.find(query, ref.kb_top_k, tenant=tenant)
        names += [t.name for t in spec.http_tools]
        out: dict[str, AgentTool] = {}
        for name in names:
            tool = self._tools.get(name)
            if tool is not None and name not in out:
                out[name] = tool
        return list(out.values())
