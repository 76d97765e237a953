"""Tool documents: the text each index sees for one tool.

A document has fields (name words, description, parameter names + descriptions, tags). The dense
text is what the embedder reads (name words first: MiniLM truncates at 256 word pieces); the
lexical text is what BM25 tokenises — everything, with the name words repeated because a name
is the most specific thing a tool has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tools_kb.text import split_identifier, squash_spaces
from tools_kb.tool import Tool


@dataclass(frozen=True, slots=True)
class ToolDocument:
    name: str
    name_words: str
    description: str
    params: tuple[tuple[str, str], ...]  # (parameter words, parameter description)
    tags: tuple[str, ...]
    extra: tuple[str, ...] = ()  # enhancement texts (tools_kb.enhance): BM25 only; dense gets rows

    def dense_text(self) -> str:
        """Name words, description, parameters, tags. (Dropping the parameters makes documents
        up to 3x shorter to embed, but cost Seal-Tools 2-3 points of Recall@5: kept.)"""
        head = f"{self.name_words}: {self.description}" if self.description else self.name_words
        parts = [head]
        if self.params:
            parts.append("Parameters: " + "; ".join(_param_phrase(p) for p in self.params))
        if self.tags:
            parts.append("Tags: " + ", ".join(self.tags))
        return squash_spaces(" ".join(parts))

    def text_without_description(self) -> str:
        """Name, parameters and tags only: the held-out view used to tune the fusion weight."""
        parts = [self.name_words, *(_param_phrase(p) for p in self.params), *self.tags]
        return squash_spaces(" ".join(parts))

    def lexical_text(self) -> str:
        parts = [self.name_words, self.name_words, self.description]
        parts.extend(_param_phrase(p) for p in self.params)
        parts.extend(self.tags)
        parts.extend(self.extra)
        return squash_spaces(" ".join(parts))


def _param_phrase(param: tuple[str, str]) -> str:
    words, desc = param
    return f"{words} ({desc})" if desc else words


def build_document(tool: Tool, extra: Sequence[str] = ()) -> ToolDocument:
    """The document of one tool (``extra``: enhancement texts); pure and deterministic."""
    return ToolDocument(
        name=tool.name,
        name_words=split_identifier(tool.name),
        description=squash_spaces(tool.description),
        params=_params(tool.parameters),
        tags=tuple(squash_spaces(t) for t in tool.tags),
        extra=tuple(squash_spaces(x) for x in extra),
    )


def _params(schema: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if not schema:
        return ()
    props = schema.get("properties") or {}
    out: list[tuple[str, str]] = []
    for pname, pschema in props.items():
        desc = pschema.get("description") if isinstance(pschema, Mapping) else None
        out.append((split_identifier(str(pname)), squash_spaces(desc) if isinstance(desc, str) else ""))
    return tuple(out)
