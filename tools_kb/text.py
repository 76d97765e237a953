"""Text helpers shared by the tool documents, the lexical index and query decomposition.

Pure functions, no state. ``split_identifier`` turns tool and parameter names into words:
``getHealthWorkforce`` → ``get health workforce``, ``PDF&URLTool`` → ``pdf url tool``,
``dmis-lab/biobert-v1.1`` → ``dmis lab biobert v1 1``.
"""

from __future__ import annotations

import re

# Boundaries inside an identifier: lower→Upper, ACRONYM→Word, letter↔digit.
_CAMEL = re.compile(
    r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])"
)
_NON_WORD = re.compile(r"[^0-9A-Za-z]+")
_SPACES = re.compile(r"\s+")


def split_identifier(name: str) -> str:
    """Lower-case words of an identifier (camelCase, snake_case, kebab, dotted, slashed)."""
    parts: list[str] = []
    for chunk in _NON_WORD.split(name):
        if chunk:
            parts.extend(p for p in _CAMEL.split(chunk) if p)
    return " ".join(p.lower() for p in parts)


def squash_spaces(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return _SPACES.sub(" ", text).strip()
