"""Agent tools: builtin functions, HTTP tools, MCP servers and the KB, behind one protocol."""

from agents.tools.base import AgentTool, FunctionTool, ToolCallError, ToolContext
from agents.tools.ledger import MemoryToolLedger, RedisToolLedger, ToolLedger
from agents.tools.toolbox import Toolbox, ToolCatalog

__all__ = [
    "AgentTool",
    "FunctionTool",
    "MemoryToolLedger",
    "RedisToolLedger",
    "ToolCallError",
    "ToolCatalog",
    "ToolContext",
    "ToolLedger",
    "Toolbox",
]
