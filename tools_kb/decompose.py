"""Multi-intent query decomposition by clause splitting (no language model).

``split_intents(query)`` returns the query's intents as a list of clauses: sentences first
(``.``, ``?``, ``!``, ``;``, new lines; decimals and "e.g." are kept whole), then each sentence
cut before discourse connectives ("additionally", "after that", "then", "also", "finally" …;
"next", "first" and "second" only after a comma or "and", since "my next trip" or "the first
number" is no clause boundary) and,
in sentences that make a request, at " and " / ", and " when both sides carry enough content
words to stand alone and the left side does not end with a bare verb ("compare and cluster
similar sentences": two verbs, one object). A sentence makes a request when it asks ("can you", "please", "I need",
"help me", a wh-word) or tells (an imperative such as "find", "book", "show" …). In a
statement ("My blood pressure was 140/90 and my heart rate was 85 bpm", a pasted input text)
" and " joins facts, not intents, so it is not cut there. Clauses with fewer than ``min_words``
content words (greetings, "Thank you.") are dropped. A query with one intent comes back as
``[query]``. At most ``max_clauses`` come back (each is one more embedding and scoring pass of a
search; the public query sets have at most 14): past that, a pasted document is mostly context,
so the clauses of sentences that make a request and those opened by a connective are kept first,
then the others; within each group the clauses nearest the start or the end of the query win
(the request around a pasted text is at one of its ends), and the kept ones stay in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tools_kb.lexical import tokenize

# Sentence ends: punctuation followed by space/end, not inside numbers (0.985) or "e.g.", "i.e.".
_SENTENCE = re.compile(
    r"(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\betc)(?<!\bMr)(?<!\bDr)(?<!\bSt)[.?!;]+(?=\s|$)|\n+"
)
_CONNECTIVE = re.compile(
    r",\s*(?=(?:and\s+)?(?:(?:can|could|would|will) you|please)\b)"  # ", can you …": a new request
    r"|(?:,\s*|\s+)(?=(?:and\s+)?(?:additionally|in addition|after that|afterwards|then|also|finally|lastly|"
    r"furthermore|moreover|besides|as well as|plus|meanwhile|subsequently|secondly|thirdly)\b)"
    # "next", "first", "second" start a clause only after a comma or "and" ("…, next book a hotel");
    # elsewhere they qualify a noun ("my next trip", "for next week", "the first number").
    r"|(?:,\s*|\s+and\s+)(?=(?:next|first(?:ly)?|second)\b)",
    re.IGNORECASE,
)
# Imperative verbs of requests ("find …", "book …").
_VERBS = (
    r"show|tell|give|find|get|book|search|recommend|suggest|check|create|send|calculate|translate"
    r"|convert|list|provide|generate|make|schedule|play|order|buy|look up|set|add|remove|delete|update"
    r"|cancel|record|register|retrieve|fetch|compute|analy[sz]e|summari[sz]e|write|draft|plan|compare"
    r"|track|estimate|predict|detect|classify|identify|extract|explain|describe|download|upload|query"
    r"|modify|open"
)
# Cues that a sentence asks for something (checked anywhere in the sentence, case-insensitive).
_REQUEST = re.compile(
    r"\b(?:can|could|would|will) (?:you|i|we)\b|\bplease\b|\bi(?:'d| would)? (?:like|want|need|wish)\b"
    r"|\bwe (?:need|want|would like)\b|\bhelp (?:me|us)\b|\blet me know\b|\bis there\b|\bare there\b"
    r"|\bdo you\b|\bdoes\b|\b(?:what|which|how|where|when|who)\b"
    rf"|\b(?:{_VERBS})\b",
    re.IGNORECASE,
)
# A side of " and " that ends with a bare verb has no object of its own: "compare and cluster
# similar sentences" is one action on one thing, not two requests.
_ENDS_WITH_VERB = re.compile(rf"\b(?:{_VERBS})\W*$", re.IGNORECASE)
_QUOTES = re.compile(r"[\"“”]")
_AND = re.compile(r",?\s+and\s+|,\s+as well as\s+|,\s+plus\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Decomposition:
    clauses: list[str]
    explicit: bool  # a connective or a clause-joining "and" was seen, not only sentence breaks
    # every clause asks for something on its own (a question word, "can you", an imperative …)
    requests: bool = False


MAX_CLAUSES = 16
# How far a catalog's queries are cut (tools_kb.decomposition_check chooses it per catalog).
Split = Literal["all", "connectives", "none"]
SPLITS: tuple[Split, ...] = ("all", "connectives", "none")


def decompose(
    query: str,
    *,
    min_words: int = 2,
    min_side_words: int = 3,
    max_clauses: int = MAX_CLAUSES,
    split: Split = "all",
) -> Decomposition:
    """The clauses of ``query`` that look like separate requests (order kept, deduplicated,
    at most ``max_clauses``). ``split``: "all" cuts at sentences, connectives and " and ";
    "connectives" only before connectives (the whole query is one sentence, " and " is never
    cut); "none" returns ``[query]``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "none":
        return Decomposition([query], False)
    text_only = _QUOTES.sub(" ", query)
    sentences = _SENTENCE.split(text_only) if split == "all" else [text_only]
    clauses: list[str] = []
    cued: set[str] = set()  # clauses of a request sentence or opened by a connective
    explicit = False
    for sentence in sentences:
        parts = _CONNECTIVE.split(sentence)
        explicit = explicit or len(parts) > 1
        asks = is_request(sentence)
        for n, part in enumerate(parts):
            text = part.strip(" ,")
            cut_and = asks and split == "all"
            pieces = _split_and(text, min_side_words) if cut_and else ([text] if text else [])
            explicit = explicit or len(pieces) > 1
            clauses.extend(pieces)
            if asks or n > 0:
                cued.update(pieces)
    if len(clauses) < 2:  # one clause: nothing to weigh (most queries; skips tokenizing)
        return Decomposition([query], False)
    kept = [c for c in dict.fromkeys(clauses) if len(tokenize(c)) >= min_words]
    if len(kept) < 2:
        return Decomposition([query], False)
    if len(kept) > max_clauses:
        # cued clauses first, and of those (then of the rest) the ones nearest either end: a
        # pasted text's request comes before it or after it ("<30k characters> Summarise this.")
        last = len(kept) - 1
        first = sorted(range(len(kept)), key=lambda i: (kept[i] not in cued, min(i, last - i)))
        kept = [kept[i] for i in sorted(first[:max_clauses])]
    return Decomposition(kept, explicit, all(is_request(c) for c in kept))


def is_request(sentence: str) -> bool:
    """Whether ``sentence`` asks for something: a question word, a polite request or an
    imperative verb anywhere in it (the sentence splitter has already removed its "?")."""
    return _REQUEST.search(sentence) is not None


def split_intents(query: str, *, min_words: int = 2, min_side_words: int = 3) -> list[str]:
    """Just the clauses of :func:`decompose`."""
    return decompose(query, min_words=min_words, min_side_words=min_side_words).clauses


def _split_and(text: str, min_side_words: int) -> list[str]:
    """Cut at each " and " whose two sides both have ``min_side_words`` content words."""
    pieces = _AND.split(text)
    if len(pieces) == 1:
        return [text] if text else []
    out = [pieces[0]]
    for piece in pieces[1:]:
        if (
            len(tokenize(out[-1])) >= min_side_words
            and len(tokenize(piece)) >= min_side_words
            and not _ENDS_WITH_VERB.search(out[-1])
        ):
            out.append(piece)
        else:
            out[-1] = f"{out[-1]} and {piece}"
    return [p for p in out if p]
