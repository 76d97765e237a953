"""Text helpers shared by the tool documents, the lexical index and query decomposition.

Pure functions, no state. ``split_identifier`` turns tool and parameter names into words:
``getHealthWorkforce`` → ``get health workforce``, ``PDF&URLTool`` → ``pdf url tool``,
``dmis-lab/biobert-v1.1`` → ``dmis lab biobert v 1 1``, ``réserverHôtel`` → ``réserver hôtel``
(letters and digits of any script are word characters).
"""

from __future__ import annotations

import re

# Boundaries inside an identifier: lower→Upper, ACRONYM→Word, letter↔digit.
_CAMEL = re.compile(
    r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])"
)
_NON_WORD = re.compile(r"[\W_]+")  # not a letter or digit of any script
_SPACES = re.compile(r"\s+")


def split_identifier(name: str) -> str:
    """Lower-case words of an identifier (camelCase, snake_case, kebab, dotted, slashed)."""
    parts: list[str] = []
    for chunk in _NON_WORD.split(name):
        if chunk:
            parts.extend(p for p in (_CAMEL.split(chunk) if chunk.isascii() else _camel_parts(chunk)) if p)
    return " ".join(p.lower() for p in parts)


def _camel_parts(chunk: str) -> list[str]:
    """``_CAMEL``'s boundaries for any script (``re`` has no Unicode case classes)."""
    out: list[str] = []
    start = 0
    for i in range(1, len(chunk)):
        a, b, after = chunk[i - 1], chunk[i], chunk[i + 1 : i + 2]
        if (
            (a.islower() and b.isupper())
            or (a.isupper() and b.isupper() and after.islower())
            or (a.isalpha() and b.isdigit())
            or (a.isdigit() and b.isalpha())
        ):
            out.append(chunk[start:i])
            start = i
    out.append(chunk[start:])
    return out


def squash_spaces(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return _SPACES.sub(" ", text).strip()
