"""The ReAct loop as a langgraph graph with async nodes.

State (plain OpenAI message dicts, so checkpoints are JSON-like and models never see LangChain
types)::

    messages   the conversation (system prompt excluded), appended by each node
    steps      LLM steps taken in the current run (the run's input resets it to 0)
    usage      prompt/completion tokens of the current run
    deployment the deployment that answered the last LLM step (prices the step)

``llm`` asks the agent's ChatBackend (the gateway's routed dispatcher in production) with the
agent's policy as ``model``, streaming the step when the backend can (its text goes to
``agents.streaming.TOKEN_SINK``); ``tools`` executes the tool calls of
the last assistant message, each under an idempotency key ``{thread_id}:{tool_call_id}``
checked against the ToolLedger, so a step replayed after a crash or a context switch never repeats a side effect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.spec import AgentSpec
from agents.streaming import TOKEN_SINK, StepStreamer, delta_text
from agents.tools.base import AgentTool, ToolCallError, ToolContext
from agents.tools.ledger import ToolLedger
from core.backend import ChatBackend
from core.clock import Clock
from core.deadline import Deadline
from core.errors import UpstreamBadResponseError
from core.wire import ChatRequest, ChatResponse


def _add_messages(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*left, *right]


def _add_usage(left: dict[str, int], right: dict[str, int]) -> dict[str, int]:
    if right.get("reset"):
        return {k: v for k, v in right.items() if k != "reset"}
    return {k: left.get(k, 0) + right.get(k, 0) for k in {*left, *right}}


class AgentState(TypedDict, total=False):
    messages: Annotated[list[dict[str, Any]], _add_messages]
    steps: int
    usage: Annotated[dict[str, int], _add_usage]
    deployment: str


def run_input(user_message: str | dict[str, Any]) -> AgentState:
    """The graph input that starts a run on a (new or existing) thread."""
    msg = {"role": "user", "content": user_message} if isinstance(user_message, str) else user_message
    return {"messages": [msg], "steps": 0, "usage": {"reset": 1, "prompt_tokens": 0, "completion_tokens": 0}}


@dataclass
class GraphDeps:
    spec: AgentSpec
    backend: ChatBackend
    tools: Sequence[AgentTool]
    ledger: ToolLedger
    clock: Clock
    step_timeout_s: float = 120.0
    tenant: str = "default"
    stream_tokens: bool = True  # stream steps when the backend can (agents.streaming.StepStreamer)


def build_react_graph(
    deps: GraphDeps, checkpointer: BaseCheckpointSaver[Any] | None
) -> CompiledStateGraph[AgentState, Any, AgentState, AgentState]:
    """Compile the ReAct graph; raises nothing at build time."""
    tools = {t.name: t for t in deps.tools}

    async def llm(state: AgentState, config: RunnableConfig) -> AgentState:
        messages = list(state.get("messages", []))
        if deps.spec.system_prompt:
            messages = [{"role": "system", "content": deps.spec.system_prompt}, *messages]
        body: dict[str, Any] = {"model": deps.spec.policy, "messages": messages}
        if tools:
            body["tools"] = [t.schema() for t in tools.values()]
        if deps.spec.temperature is not None:
            body["temperature"] = deps.spec.temperature
        conf = config.get("configurable", {})
        request = ChatRequest(
            body,
            tenant=deps.tenant,
            metadata={
                "agent": deps.spec.name,
                "run_id": conf.get("run_key", ""),
                "thread_id": conf.get("thread_id", ""),
            },
        )
        deadline = Deadline.after(deps.step_timeout_s, deps.clock)
        if deps.stream_tokens and isinstance(deps.backend, StepStreamer):
            response = await _streamed(deps.backend, request, deadline)
        else:
            response = await deps.backend.complete(request, deadline)
        choice = (response.body.get("choices") or [{}])[0]
        message = dict(choice.get("message") or {"role": "assistant", "content": ""})
        message.setdefault("role", "assistant")
        usage = response.usage
        return {
            "messages": [message],
            "steps": state.get("steps", 0) + 1,
            "deployment": response.deployment,
            "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
        }

    async def run_tools(state: AgentState, config: RunnableConfig) -> AgentState:
        last = state["messages"][-1]
        conf = config.get("configurable", {})
        thread_id, run_id = str(conf.get("thread_id", "")), str(conf.get("run_key", ""))
        out: list[dict[str, Any]] = []
        for call in last.get("tool_calls") or []:
            call_id = str(call.get("id", ""))
            fn = call.get("function") or {}
            key = f"{thread_id}:{call_id}"
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": call_id,
                    "content": await _call_once(
                        tools.get(str(fn.get("name", ""))),
                        fn,
                        key,
                        ToolContext(key, run_id, thread_id, deps.tenant),
                        deps.ledger,
                    ),
                }
            )
        return {"messages": out}

    def after_llm(state: AgentState) -> str:
        last = state["messages"][-1]
        if last.get("tool_calls") and state.get("steps", 0) < deps.spec.max_steps:
            return "tools"
        return END

    graph: StateGraph[AgentState, Any, AgentState, AgentState] = StateGraph(AgentState)
    graph.add_node("llm", llm)
    graph.add_node("tools", run_tools)
    graph.add_edge(START, "llm")
    graph.add_conditional_edges("llm", after_llm, ["tools", END])
    graph.add_edge("tools", "llm")
    return graph.compile(checkpointer=checkpointer)


TOKEN_BATCH = 4  # upstream content chunks per ``token`` event


async def _streamed(backend: StepStreamer, request: ChatRequest, deadline: Deadline) -> ChatResponse:
    """Stream one step: its content goes to ``TOKEN_SINK`` (when set) every TOKEN_BATCH chunks
    and at the end; returns the backend's final ChatResponse."""
    sink = TOKEN_SINK.get()
    pending: list[str] = []
    response: ChatResponse | None = None
    async for item in backend.stream_step(request, deadline):
        if isinstance(item, ChatResponse):
            response = item
            continue
        text = delta_text(item)
        if text:
            pending.append(text)
            if len(pending) >= TOKEN_BATCH:
                if sink is not None:
                    await sink("".join(pending))
                pending.clear()
    if pending and sink is not None:
        await sink("".join(pending))
    if response is None:
        raise UpstreamBadResponseError("the streamed step ended without a response")
    return response


async def _call_once(
    tool: AgentTool | None, fn: dict[str, Any], key: str, ctx: ToolContext, ledger: ToolLedger
) -> str:
    """Call a tool at most once per idempotency key; errors become the tool's answer."""
    if tool is None:
        return f"error: unknown tool {fn.get('name')!r}"
    try:
        args = json.loads(fn.get("arguments") or "{}")
    except json.JSONDecodeError:
        return "error: arguments are not valid JSON"
    if not isinstance(args, dict):
        return "error: arguments must be a JSON object"
    if not await ledger.claim(key, ctx.thread_id):
        done = await ledger.get(key)
        if done is not None:
            return done
        # the first attempt died mid-call: the tool must dedupe by the key (HTTP: Idempotency-Key)
    try:
        result = await tool.call(args, ctx)
    except ToolCallError as exc:
        result = f"error: {exc.message}"
    await ledger.record(key, result)
    return result
