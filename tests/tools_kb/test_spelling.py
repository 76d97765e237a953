from __future__ import annotations

from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.documents import build_document
from tools_kb.fusion import LEXICAL_ONLY
from tools_kb.index import ToolIndex
from tools_kb.spelling import apply_corrections, correction, typo_corrections
from tools_kb.tool import Tool

TOOLS = [
    Tool("StrologyTool", "Povides strology services for you."),
    Tool("gif_search", "Search gifs, powered by Giphy."),
    Tool("image_model", "A resnet image classifier."),
    Tool("video_model", "A resnet video classifier."),
    Tool("weather", "Weather forecast for a city."),
]


def test_a_rare_misspelt_word_gets_its_correction_appended() -> None:
    docs = [build_document(t) for t in TOOLS]
    typos = typo_corrections(docs)
    assert typos == {"strology": "astrology", "povides": "provides"}
    fixed = apply_corrections(docs[0], typos)
    assert fixed.name_words == "strology (astrology) tool"
    assert fixed.description == "Povides (provides) strology (astrology) services for you."


def test_shared_words_proper_nouns_and_known_words_are_left_alone() -> None:
    docs = [build_document(t) for t in TOOLS]
    typos = typo_corrections(docs)
    # "resnet": two tools use it; "Giphy": capitalised mid-sentence; the rest are English.
    assert "resnet" not in typos and "giphy" not in typos
    assert apply_corrections(docs[4], typos) is docs[4]
    assert correction("weather") is None and correction("abc") is None


def test_words_of_other_languages_are_read_whole_not_as_english_fragments() -> None:
    # "qualität" once read as "qualit" + "t", and "qualit" looked like a typo of "quality"
    docs = [
        build_document(Tool("pruefen", "prüft die qualität der daten")),
        *(build_document(t) for t in TOOLS),
    ]
    typos = typo_corrections(docs)
    assert "qualit" not in typos and "qualität" not in typos
    assert "qualität der" in apply_corrections(docs[0], typos).description  # nothing inserted


async def test_the_index_matches_the_corrected_word() -> None:
    index = await ToolIndex.build(TOOLS, HashingEmbedder(), fusion=LEXICAL_ONLY)
    assert (await index.search("daily astrology reading", k=1))[0].name == "StrologyTool"
