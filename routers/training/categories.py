"""Coarse prompt categories for the shipped classifier, mapped from the labelled taxonomies.

Policies match on these labels (``overrides: - category: math``): math, coding, science, business,
health, humanities, knowledge, reasoning, writing, translation, chat.
"""

from __future__ import annotations

LABELS: tuple[str, ...] = (
    "math",
    "coding",
    "science",
    "business",
    "health",
    "humanities",
    "knowledge",
    "reasoning",
    "writing",
    "translation",
    "chat",
)

_LLMROUTER = {
    "gsm8k": "math",
    "math": "math",
    "agentverse-mgsm": "math",
    "mbpp": "coding",
    "human_eval": "coding",
    "gpqa": "science",
    "mmlu": "knowledge",
    "natural_qa": "knowledge",
    "trivia_qa": "knowledge",
    "arc_challenge": "reasoning",
    "openbook_qa": "reasoning",
    "commonsense_qa": "reasoning",
    "agentverse-logicgrid": "reasoning",
    "commongen": "writing",
}
_MMLU_PRO = {
    "math": "math",
    "physics": "science",
    "chemistry": "science",
    "biology": "science",
    "engineering": "science",
    "computer science": "science",
    "business": "business",
    "economics": "business",
    "health": "health",
    "psychology": "humanities",
    "history": "humanities",
    "law": "humanities",
    "philosophy": "humanities",
    "other": "knowledge",
}
_ARENA_V2 = {"coding": "coding", "math": "math", "creative_writing": "writing"}
_ROUTERARENA_PREFIX = (
    ("AIME", "math"),
    ("AsDiv", "math"),
    ("MATH", "math"),
    ("MathQA", "math"),
    ("FinQA", "business"),
    ("OpenTDB_Science: Mathematics", "math"),
    ("LiveCodeBench", "coding"),
    ("MedMCQA", "health"),
    ("PubMedQA", "health"),
    ("MMLU_management", "business"),
    ("MMLU_formal_logic", "humanities"),
    ("Ethics", "humanities"),
    ("QANTA_Science", "science"),
    ("QANTA", "humanities"),
    ("OpenTDB", "knowledge"),
    ("GeoBench", "knowledge"),
    ("GeoGraphyData", "knowledge"),
    ("ArcMMLU", "knowledge"),
    ("MusicTheoryBench", "knowledge"),
    ("ChessInstruct", "reasoning"),
    ("SocialiQA", "reasoning"),
    ("SuperGLUE", "reasoning"),
    ("NarrativeQA", "reasoning"),
    ("WMT19", "translation"),
)


def coarse_category(taxonomy: str, label: str) -> str | None:
    """The coarse label for ``label`` of ``taxonomy`` (None: not used)."""
    if taxonomy == "llmrouter_task14":
        return _LLMROUTER.get(label)
    if taxonomy == "mmlupro_category14":
        return _MMLU_PRO.get(label)
    if taxonomy == "arenahard_v2_subcategory":
        return _ARENA_V2.get(label)
    if taxonomy == "routerarena_dataset_subcat":
        if label.startswith("MMLUPro_"):
            return _MMLU_PRO.get(label.removeprefix("MMLUPro_"))
        return next((c for p, c in _ROUTERARENA_PREFIX if label.startswith(p)), None)
    return None
