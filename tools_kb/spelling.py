"""Typo-tolerant tool documents: a misspelt word gets its correction written next to it.

Tool descriptions are written by hand and carry typos ("Povides strology services",
"enerate summaries"); neither the embedder (which sees "strology" as unrelated word pieces)
nor BM25 (no user writes "strology") can match them. ``typo_corrections`` finds, from the
catalog alone, the words that look like typos and their most likely correction, and
``apply_corrections`` appends the correction after the word ("strology (astrology)"), so the
original token still matches whoever types it.

A word counts as a typo when all of these hold (fixed rules, not tuned on any query set):

- it is alphabetic ASCII, at least ``MIN_LEN`` letters, and unknown to the English word list of
  the ``pyspellchecker`` package;
- it occurs in exactly one tool of the catalog (a word several tools share is the catalog's
  own vocabulary: "resnet", "subnet", "tensors");
- it is never written capitalised in the middle of a sentence in the catalog (a proper noun or
  brand: "Giphy", "Zapier"); a capital after a sentence end still counts as a plain word;
- it has a known word at edit distance 1 (insertion, deletion, substitution, transposition);
  the most frequent such word is the correction (ties: alphabetical).

Brand names written in lower case still get a (wrong) correction appended; appending instead
of replacing keeps that harmless for lexical matching and only adds one word to the dense text.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from tools_kb.documents import ToolDocument

MIN_LEN = 5
# Words are runs of letters of any script, so "Qualität" is one (non-English) word, never the
# ASCII fragment "Qualit" that would look like a typo of "quality".
_WORD = re.compile(r"[^\W\d_]+")
_CAPITALISED = re.compile(r"(?<![^\W\d_])[A-Z][^\W\d_]*")


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _word_counts() -> Mapping[str, int]:
    """The English word list with its counts: ~0.2 s to load and ~30 MB while held, so it is
    loaded per catalog build that has unseen candidate words and dropped afterwards (a
    long-running gateway builds rarely and should not keep it); answers are cached by word."""
    from spellchecker import SpellChecker

    counts: Mapping[str, int] = SpellChecker(distance=1).word_frequency.dictionary
    return counts


_ANSWERS: dict[str, str | None] = {}  # word → correction(word), bounded by _MAX_ANSWERS
_MAX_ANSWERS = 1 << 16


def _fields(doc: ToolDocument) -> list[str]:
    """Every text of a document except the enhancement extras (name words first)."""
    return [doc.name_words, doc.description, *(t for p in doc.params for t in p), *doc.tags]


def _proper_nouns(text: str) -> Iterable[str]:
    """Lower-cased words written with a capital in mid-sentence (not at the start of the text
    and not right after ``.!?:;``)."""
    for m in _CAPITALISED.finditer(text):
        i = m.start() - 1
        while i >= 0 and text[i].isspace():
            i -= 1
        if i >= 0 and text[i] not in ".!?:;":
            yield m.group(0).lower()


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return {
        *(a + b[1:] for a, b in splits if b),
        *(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1),
        *(a + c + b[1:] for a, b in splits if b for c in _LETTERS),
        *(a + c + b for a, b in splits for c in _LETTERS),
    }


def correction(word: str, counts: Mapping[str, int] | None = None) -> str | None:
    """The most frequent known word at edit distance 1 from the lower-case ``word``, or None
    when ``word`` is known, too short, or has no such neighbour. ``counts``: the word list when
    the caller holds it (else it is loaded for this call unless the answer is cached)."""
    if len(word) < MIN_LEN or not word.isascii() or not word.isalpha():
        return None
    if word in _ANSWERS:
        return _ANSWERS[word]
    answer = _correct(word, counts if counts is not None else _word_counts())
    if len(_ANSWERS) >= _MAX_ANSWERS:
        _ANSWERS.clear()
    _ANSWERS[word] = answer
    return answer


def _correct(word: str, counts: Mapping[str, int]) -> str | None:
    if word in counts:
        return None
    known = sorted(c for c in _edits1(word) if c in counts)
    if not known:
        return None
    return max(known, key=lambda c: counts[c])


def typo_corrections(docs: Sequence[ToolDocument]) -> dict[str, str]:
    """Lower-case typo → correction for ``docs`` (rules in the module docstring). Pure and
    deterministic for a given catalog and word list."""
    tools_with: Counter[str] = Counter()
    proper: set[str] = set()
    for doc in docs:
        fields = _fields(doc)
        tools_with.update({w.lower() for f in fields for w in _WORD.findall(f)})
        for text in fields[1:]:  # name words are lower-cased already
            proper.update(_proper_nouns(text))
    candidates = [w for w, n in tools_with.items() if n == 1 and w not in proper and len(w) >= MIN_LEN]
    unseen = any(w not in _ANSWERS and w.isascii() and w.isalpha() for w in candidates)
    counts = _word_counts() if unseen else None
    out: dict[str, str] = {}
    for word in candidates:
        fixed = correction(word, counts)
        if fixed is not None:
            out[word] = fixed
    return out


def apply_corrections(doc: ToolDocument, corrections: Mapping[str, str]) -> ToolDocument:
    """``doc`` with "word (correction)" for each typo in its name words, description,
    parameters and tags; the same object when there is nothing to correct."""
    if not corrections:
        return doc

    def fix(text: str) -> str:
        return _WORD.sub(lambda m: _annotate(m.group(0), corrections), text)

    fixed = dataclasses.replace(
        doc,
        name_words=fix(doc.name_words),
        description=fix(doc.description),
        params=tuple((fix(a), fix(b)) for a, b in doc.params),
        tags=tuple(fix(t) for t in doc.tags),
    )
    return doc if fixed == doc else fixed


def _annotate(word: str, corrections: Mapping[str, str]) -> str:
    fixed = corrections.get(word.lower())
    return word if fixed is None else f"{word} ({fixed})"
