"""Language-model stages of tool retrieval: query decomposition and rerank.

Both ask a model through any :class:`core.backend.ChatBackend` — in the gateway that is the routed
backend, so ``model`` may name a policy (``auto``) or a deployment and the call is routed, retried
and priced like any other. Both are best effort: a model error, a timeout or an answer that cannot
be parsed leaves the retrieval result as it was (and is counted in :attr:`LLMStages.failures`),
so a flaky model can only cost latency, never a search.

* :meth:`LLMStages.decompose` splits a request into the separate tasks that each need a tool
  ("book a flight to Rome and tell me the weather there" → two sub-queries). Searching each
  sub-query and interleaving the hits represents every intent.
* :meth:`LLMStages.rerank` shows the model the numbered candidates (name and the head of the
  description) and asks for the numbers of the relevant ones, best first. Those come first, in
  the model's order; the others keep their retrieval order behind them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.backend import ChatBackend
from core.clock import Clock, SystemClock
from core.deadline import Deadline
from core.errors import SwitchboardError
from core.wire import ChatRequest
from tools_kb.enhance import parse_list
from tools_kb.tool import Tool

log = logging.getLogger(__name__)

MAX_SUBQUERIES = 5
_DESCRIPTION_CHARS = 160

_DECOMPOSE_SYSTEM = (
    "You split a user's request into the separate tasks it asks for. Each task must be doable "
    "with one software tool. Rewrite each task as a short, self-contained request that repeats "
    "the details it needs. If the request asks for one thing, answer with it unchanged. "
    "Answer with one task per line and nothing else."
)
_RERANK_SYSTEM = (
    "You choose software tools for a user's request. You get the request and numbered tools. "
    "Answer with the numbers of the tools that help with the request, most useful first, "
    "separated by commas, and nothing else. Answer 0 if none helps."
)
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class LLMStageSettings:
    model: str  # a policy, alias or deployment name the backend routes
    timeout_s: float = 10.0
    max_tokens: int = 128


class LLMStages:
    """Decomposition and rerank through one backend. Safe to share between tasks."""

    def __init__(
        self, backend: ChatBackend, settings: LLMStageSettings, *, clock: Clock | None = None
    ) -> None:
        self._backend = backend
        self._settings = settings
        self._clock = clock or SystemClock()
        self.calls = 0
        self.failures = 0

    @property
    def model(self) -> str:
        return self._settings.model

    async def decompose(self, query: str) -> list[str]:
        """The request's separate tasks (at most :data:`MAX_SUBQUERIES`); ``[query]`` when it
        has one task or the model fails."""
        answer = await self._ask(_DECOMPOSE_SYSTEM, query)
        if answer is None:
            return [query]
        tasks = [t for t in parse_list(answer, MAX_SUBQUERIES, min_words=2) if not t.endswith(":")]
        return tasks if len(tasks) >= 2 else [query]

    async def rerank(self, query: str, candidates: Sequence[Tool]) -> list[int]:
        """A permutation of ``range(len(candidates))``: the model's picks first, in its order,
        then the rest in their given order. The identity when the model fails."""
        order = list(range(len(candidates)))
        if len(candidates) < 2:
            return order
        listing = "\n".join(
            f"{i + 1}. {tool.name}: {' '.join(tool.description.split())[:_DESCRIPTION_CHARS]}"
            for i, tool in enumerate(candidates)
        )
        answer = await self._ask(_RERANK_SYSTEM, f"Request: {query}\n\nTools:\n{listing}")
        if answer is None:
            return order
        picked: list[int] = []
        for number in _NUMBER.findall(answer):
            i = int(number) - 1
            if 0 <= i < len(candidates) and i not in picked:
                picked.append(i)
        if not picked:
            return order
        return picked + [i for i in order if i not in picked]

    async def _ask(self, system: str, user: str) -> str | None:
        body = {
            "model": self._settings.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": self._settings.max_tokens,
            "temperature": 0,
        }
        self.calls += 1
        try:
            response = await self._backend.complete(
                ChatRequest(body), Deadline.after(self._settings.timeout_s, self._clock)
            )
        except SwitchboardError as exc:  # upstream, routing or deadline: keep the retrieval result
            self.failures += 1
            log.warning("tool retrieval LLM stage failed (%s): %s", self._settings.model, exc)
            return None
        return response.text
