"""How one search reads its query: ``SearchOptions`` and the weighted texts a query becomes.

A query is searched as itself, plus (when it is cut: :mod:`tools_kb.decompose`, as far as the
catalog's level or the options allow) its clauses, which all get one weight against the whole
query's scores (:mod:`tools_kb.index`, step 4).
"""

from __future__ import annotations

from dataclasses import dataclass

from tools_kb.decompose import SPLITS, Split, decompose

CLAUSE_WEIGHT = 0.9
SENTENCE_WEIGHT = 0.8  # sentences often elaborate one request: trust them less
# Cut at a connective and every clause a request of its own ("find X, and also book Y"): each
# clause is an intent, so its best tool ranks with the whole query's best.
REQUEST_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class SearchOptions:
    # how far to cut the query into clauses: None follows the catalog (ToolIndex.split, chosen by
    # tools_kb.decomposition_check); True is "all", False "none", or a level of decompose.Split
    decompose: bool | Split | None = None
    clause_weight: float = CLAUSE_WEIGHT  # clauses cut at connectives ("then", "also", ", and" …)
    sentence_weight: float = SENTENCE_WEIGHT  # clauses that are only separate sentences
    request_weight: float = REQUEST_WEIGHT  # connective cuts whose clauses are all requests
    min_score_ratio: float | None = None  # adaptive k: keep hits within this share of the top
    min_k: int = 1
    prerequisites: bool = True  # each hit's producer right after it (tools_kb.prerequisites)
    # clauses that weigh less than the whole query (weight < 1) never push its best tool off rank 1
    keep_whole_top: bool = True

    def __post_init__(self) -> None:
        if not (self.decompose is None or isinstance(self.decompose, bool) or self.decompose in SPLITS):
            raise ValueError(f"decompose must be None, a bool or one of {SPLITS}, got {self.decompose!r}")

    def split(self, catalog: Split) -> Split:
        """The level this search cuts at: the catalog's unless ``decompose`` forces one (True is
        "all", False "none")."""
        if self.decompose is None:
            return catalog
        if isinstance(self.decompose, bool):
            return "all" if self.decompose else "none"
        return self.decompose


def query_texts(query: str, split: Split, options: SearchOptions) -> tuple[list[str], float]:
    """The whole query, then its clauses when it is cut at level ``split``; and the weight the
    clauses get (0.0 when there are none)."""
    parts = decompose(query, split=split)
    if len(parts.clauses) < 2:
        return [query], 0.0
    if not parts.explicit:
        weight = options.sentence_weight
    else:
        weight = options.request_weight if parts.requests else options.clause_weight
    return [query, *parts.clauses], weight
