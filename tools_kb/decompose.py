"""Multi-intent query decomposition by clause splitting (no language model).

``split_intents(query)`` returns the query's intents as a list of clauses: sentences first
(``.``, ``?``, ``!``, ``;``, new lines; decimals and "e.g." are kept whole), then each sentence
cut before discourse connectives ("additionally", "after that", "then", "also", "finally" …) and
at " and " / ", and " when both sides carry enough content words to stand alone. Clauses with
fewer than ``min_words`` content words (greetings, "Thank you.") are dropped. A query with one
intent comes back as ``[query]``.
"""

from __future__ import annotations

import re

from tools_kb.lexical import tokenize

# Sentence ends: punctuation followed by space/end, not inside numbers (0.985) or "e.g.", "i.e.".
_SENTENCE = re.compile(
    r"(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\betc)(?<!\bMr)(?<!\bDr)(?<!\bSt)[.?!;]+(?=\s|$)|\n+"
)
_CONNECTIVE = re.compile(
    r"(?:,\s*|\s+)(?=(?:and\s+)?(?:additionally|in addition|after that|afterwards|then|also|finally|lastly|"
    r"furthermore|moreover|besides|next|as well as|plus|meanwhile|subsequently|secondly|thirdly|"
    r"first(?:ly)?|second)\b)",
    re.IGNORECASE,
)
_QUOTES = re.compile(r"[\"“”]")
_AND = re.compile(r",?\s+and\s+|,\s+as well as\s+|,\s+plus\s+", re.IGNORECASE)


def split_intents(query: str, *, min_words: int = 2, min_side_words: int = 3) -> list[str]:
    """The clauses of ``query`` that look like separate requests (order kept, deduplicated)."""
    clauses: list[str] = []
    for sentence in _SENTENCE.split(_QUOTES.sub(" ", query)):
        for part in _CONNECTIVE.split(sentence):
            clauses.extend(_split_and(part.strip(" ,"), min_side_words))
    kept = [c for c in dict.fromkeys(clauses) if len(tokenize(c)) >= min_words]
    return kept or [query]


def _split_and(text: str, min_side_words: int) -> list[str]:
    """Cut at each " and " whose two sides both have ``min_side_words`` content words."""
    pieces = _AND.split(text)
    if len(pieces) == 1:
        return [text] if text else []
    out = [pieces[0]]
    for piece in pieces[1:]:
        if len(tokenize(out[-1])) >= min_side_words and len(tokenize(piece)) >= min_side_words:
            out.append(piece)
        else:
            out[-1] = f"{out[-1]} and {piece}"
    return [p for p in out if p]
