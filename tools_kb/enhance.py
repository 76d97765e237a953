"""Toolshed-style enhancement: key topics and example user queries generated per tool by a model.

For each tool a configured model (any :class:`core.backend.ChatBackend`; the CLI hands in the
local SmolLM2 or an OpenAI-compatible server) is asked, from the tool's own document only —
name words, description, parameters, tags; never a user query or a gold label — for a few key
topics and three example user requests. The answers are parsed into an :class:`Enhancement`,
stored in an :class:`~tools_kb.enhance_cache.EnhancementCache` (keyed by the model and a hash
of the tool's definition, written after every tool) and reused: a second run asks nothing, an
interrupted run resumes where it stopped, a changed tool is asked again.

:func:`extra_texts` turns enhancements into the extra texts :meth:`tools_kb.index.ToolIndex.build`
indexes: one extra dense row per example query (a tool scores the max over its rows) and the
topics and examples appended to its BM25 document.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.backend import ChatBackend
from core.clock import Clock, SystemClock
from core.deadline import Deadline
from core.errors import UpstreamError
from core.wire import ChatRequest
from tools_kb.documents import ToolDocument, build_document
from tools_kb.enhance_cache import EnhancementCache
from tools_kb.tool import Tool

log = logging.getLogger(__name__)

MAX_TOPICS = 5
MAX_EXAMPLES = 3
_DOC_CHARS = 900  # small models have small contexts; the head of a document says the most

_SYSTEM = "You help people find software tools. Answer with a short list, one item per line."

# One worked demonstration (an invented tool, in no benchmark) steers a small model's format.
_DEMO_TOOL = (
    "Tool: convert units\n"
    "Description: Convert a quantity between units of length, weight and temperature.\n"
    "Parameters: value (number to convert); from unit; to unit"
)
_DEMO_TOPICS = "unit conversion\nlength and distance\nweight\ntemperature"

_EXAMPLES_ASK = (
    "Write 3 different requests a user could send to an assistant that need this tool. "
    "Mention what the tool does. One per line."
)
_TOPICS_ASK = "List 3 to 5 key topics of this tool, a few words each. One per line."


@dataclass(frozen=True, slots=True)
class Enhancement:
    topics: tuple[str, ...]
    examples: tuple[str, ...]

    def to_json(self) -> dict[str, list[str]]:
        return {"topics": list(self.topics), "examples": list(self.examples)}

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Enhancement:
        def strings(key: str) -> tuple[str, ...]:
            value = raw.get(key)
            return tuple(str(x) for x in value) if isinstance(value, list) else ()

        return cls(strings("topics"), strings("examples"))


def tool_key(tool: Tool) -> str:
    """Cache key of a tool's definition: its name and a hash of what the model is shown."""
    doc = json.dumps(
        [tool.name, tool.description, tool.parameters, list(tool.tags)], sort_keys=True, default=str
    )
    return f"{tool.name}#{hashlib.blake2b(doc.encode(), digest_size=8).hexdigest()}"


def tool_prompt_text(doc: ToolDocument) -> str:
    """What the model sees of one tool (the document only)."""
    lines = [f"Tool: {doc.name_words}"]
    if doc.description:
        lines.append(f"Description: {doc.description}")
    if doc.params:
        lines.append("Parameters: " + "; ".join(f"{w} ({d})" if d else w for w, d in doc.params))
    if doc.tags:
        lines.append("Tags: " + ", ".join(doc.tags))
    return "\n".join(lines)[:_DOC_CHARS]


def _messages(doc: ToolDocument, ask: str, demo_answer: str | None) -> list[dict[str, str]]:
    """With ``demo_answer`` the invented demonstration tool comes first (a 135M model copies a
    demonstration's example queries, so examples are asked for without one)."""
    demo = (
        [{"role": "user", "content": f"{_DEMO_TOOL}\n\n{ask}"}, {"role": "assistant", "content": demo_answer}]
        if demo_answer is not None
        else []
    )
    return [
        {"role": "system", "content": _SYSTEM},
        *demo,
        {"role": "user", "content": f"{tool_prompt_text(doc)}\n\n{ask}"},
    ]


_BULLET = re.compile(r"^\s*(?:[-*•]+|\(?\d{1,2}[.):]|[a-eA-E][.)])\s*")
_CODE = re.compile(r"[=;{}<>]|^\w+\(|\bopen\(|^(?:import|def|return|print)\b")
_LABEL = re.compile(r"^(?:example|request|query|question|topic|user)s?\s*\d*\s*:\s*", re.IGNORECASE)


def parse_list(text: str, limit: int, *, min_words: int = 1) -> tuple[str, ...]:
    """Items of a model's list answer: one per line (or comma-separated on a single line),
    bullets, numbers, labels and quotes stripped, duplicates and echoes of the ask dropped."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) == 1 and min_words == 1 and "," in lines[0]:
        lines = lines[0].split(",")
    out: list[str] = []
    seen: set[str] = set()
    for line in lines:
        item = _LABEL.sub("", _BULLET.sub("", line.strip())).strip().strip("\"'“”").strip()
        low = item.lower()
        if (
            not item
            or len(item.split()) < min_words
            or _CODE.search(item)
            or low in seen
            or low.startswith(("tool:", "description:", "parameters:", "tags:", "here are", "sure"))
        ):
            continue
        seen.add(low)
        out.append(item[:200])
        if len(out) == limit:
            break
    return tuple(out)


class Enhancer:
    """Asks ``backend`` for each tool's topics and examples (sequentially; small local models
    serve one request at a time). ``model`` names the model in the cache key."""

    def __init__(
        self,
        backend: ChatBackend,
        cache: EnhancementCache,
        *,
        model: str,
        max_tokens: int = 96,
        timeout_s: float = 120.0,
        clock: Clock | None = None,
    ) -> None:
        self._backend = backend
        self._cache = cache
        self._model = model
        self._max_tokens = max_tokens
        self._timeout_s = timeout_s
        self._clock = clock or SystemClock()
        self.asked = 0  # tools sent to the model in this process (not served from the cache)
        self.failed = 0

    async def enhance(self, tools: Sequence[Tool]) -> dict[str, Enhancement]:
        """Enhancements by tool name; cached ones are reused, each new one is saved at once.
        A tool whose model call fails is left out (and asked again on the next run)."""
        out: dict[str, Enhancement] = {}
        for tool in tools:
            key = tool_key(tool)
            cached = self._cache.get(self._model, key)
            if cached is not None:
                out[tool.name] = Enhancement.from_json(cached)
                continue
            try:
                enh = await self._ask(build_document(tool))
            except UpstreamError as exc:
                self.failed += 1
                log.warning("enhancement of %s failed: %s", tool.name, exc)
                continue
            self.asked += 1
            self._cache.put(self._model, key, enh.to_json())
            out[tool.name] = enh
        return out

    async def _ask(self, doc: ToolDocument) -> Enhancement:
        examples = parse_list(
            await self._complete(_messages(doc, _EXAMPLES_ASK, None)), MAX_EXAMPLES, min_words=3
        )
        topics = parse_list(await self._complete(_messages(doc, _TOPICS_ASK, _DEMO_TOPICS)), MAX_TOPICS)
        demo = {x.lower() for x in _DEMO_TOPICS.splitlines()}
        topics = tuple(t for t in topics if t.lower() not in demo)
        return Enhancement(topics, examples)

    async def _complete(self, messages: list[dict[str, str]]) -> str:
        body = {
            "model": self._model,
            "messages": messages,
            "max_tokens": self._max_tokens,
            "temperature": 0,
        }
        response = await self._backend.complete(
            ChatRequest(body), Deadline.after(self._timeout_s, self._clock)
        )
        return response.text


def extra_texts(enhancements: Mapping[str, Enhancement]) -> dict[str, tuple[str, ...]]:
    """Per tool: the example queries (each becomes an extra dense row) — and, when there are
    topics, one more text "topics: …" (dense row too). All of them go into the BM25 document."""
    out: dict[str, tuple[str, ...]] = {}
    for name, enh in enhancements.items():
        texts = list(enh.examples)
        if enh.topics:
            texts.append("; ".join(enh.topics))
        if texts:
            out[name] = tuple(texts)
    return out
