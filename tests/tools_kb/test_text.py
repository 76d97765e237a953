from __future__ import annotations

import pytest

from tools_kb.decompose import decompose, is_request, split_intents
from tools_kb.documents import build_document
from tools_kb.lexical import LexicalIndex, bigrams, tokenize
from tools_kb.text import split_identifier
from tools_kb.tool import Tool


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("getHealthWorkforce", "get health workforce"),
        ("convert_currency", "convert currency"),
        ("PDF&URLTool", "pdf url tool"),
        ("dmis-lab/biobert-v1.1", "dmis lab biobert v 1 1"),
        ("HTTPServerError", "http server error"),
        ("réserverHôtel", "réserver hôtel"),
        ("getWetterFürStadt", "get wetter für stadt"),
        ("ÉtatHTTP2", "état http 2"),
        ("查询天气_v2", "查询天气 v 2"),
    ],
    ids=[
        "camel",
        "snake",
        "acronym-symbol",
        "slashed-version",
        "leading-acronym",
        "accents",
        "umlaut",
        "accented-acronym",
        "han",
    ],
)
def test_split_identifier(name: str, words: str) -> None:
    assert split_identifier(name) == words


def test_tokenize_stems_and_drops_stop_words() -> None:
    assert tokenize("Can you find the nurses?") == ["find", "nurs"]


def test_tokenize_reads_words_of_any_script_whole_and_folds_accents() -> None:
    # "Zürich" was "z" + "rich", "hôtel" was "h" + "tel": words of other words
    assert tokenize("Réserver un hôtel à Zürich") == tokenize("Reserver un hotel a Zurich")
    assert "rich" not in tokenize("Zürich") and "zurich" in tokenize("Zürich")


def test_tokenize_cuts_unspaced_scripts_into_character_pairs() -> None:
    assert tokenize("查询天气") == ["查询", "询天", "天气"]
    assert tokenize("天 weather") == ["天", "weather"]
    assert tokenize("ユーザー") != tokenize("ユーサー")  # kana marks are letters, not accents


def test_lexical_index_matches_queries_in_other_scripts() -> None:
    index = LexicalIndex(["Wettervorhersage für eine Stadt", "查询城市天气预报", "Währung umrechnen"])
    assert int(index.scores_of(tokenize("wettervorhersage fur berlin")).argmax()) == 0
    assert int(index.scores_of(tokenize("明天的天气")).argmax()) == 1
    assert int(index.scores_of(tokenize("wahrung")).argmax()) == 2


def test_document_puts_name_words_first_and_lists_parameters() -> None:
    doc = build_document(
        Tool(
            "getWeather",
            "Weather for a city",
            {"type": "object", "properties": {"cityName": {"description": "City"}}},
        )
    )
    assert doc.dense_text() == "get weather: Weather for a city Parameters: city name (City)"
    assert "city name (City)" in doc.lexical_text()
    assert doc.text_without_description() == "get weather city name (City)"


@pytest.mark.parametrize(
    ("query", "clauses", "explicit"),
    [
        ("What is the weather in Paris?", ["What is the weather in Paris?"], False),
        (
            "Find flights to Denver. Then, book a hotel room downtown.",
            ["Find flights to Denver", "Then, book a hotel room downtown"],
            True,
        ),
        (
            "Tell me the latest news about Tesla and how it has impacted the stock market",
            ["Tell me the latest news about Tesla", "how it has impacted the stock market"],
            True,
        ),
        ("Mix salt and pepper", ["Mix salt and pepper"], False),
        (
            "The flow is 0.985 cubic meters per day, e.g. small",
            ["The flow is 0.985 cubic meters per day, e.g. small"],
            False,
        ),
        ("Check my account balance. Thank you.", ["Check my account balance. Thank you."], False),
        (
            "My blood pressure was 140/90 today and my heart rate was 85 bpm",
            ["My blood pressure was 140/90 today and my heart rate was 85 bpm"],
            False,
        ),
        (
            "Could you record my blood pressure readings and book a cardiology appointment tomorrow",
            ["Could you record my blood pressure readings", "book a cardiology appointment tomorrow"],
            True,
        ),
        (
            "I want a relaxing getaway for my next trip and calm music for the drive next week",
            ["I want a relaxing getaway for my next trip", "calm music for the drive next week"],
            True,
        ),
        (
            "Multiply two numbers: the first number is 8.7, next convert the result to hex",
            ["Multiply two numbers: the first number is 8.7", "next convert the result to hex"],
            True,
        ),
        (
            "Find a way to compare and cluster similar sentences in my documents",
            ["Find a way to compare and cluster similar sentences in my documents"],
            False,
        ),
    ],
    ids=[
        "single",
        "then",
        "and-clause",
        "and-in-phrase",
        "decimal-eg",
        "drops-courtesy",
        "and-in-statement",
        "and-in-request",
        "next-qualifies-a-noun",
        "first-in-phrase-next-after-comma",
        "two-verbs-one-object",
    ],
)
def test_decompose(query: str, clauses: list[str], explicit: bool) -> None:
    result = decompose(query)
    assert result.clauses == clauses
    assert result.explicit is explicit


def test_decompose_says_whether_every_clause_is_a_request() -> None:
    assert decompose("Find flights to Denver. Then, book a hotel room downtown.").requests
    assert not decompose(
        "I want a relaxing getaway for my next trip and calm music for the drive next week"
    ).requests
    assert not decompose("What is the weather in Paris?").requests  # one clause: nothing to weigh


def test_is_request() -> None:
    assert is_request("Can you find me a hotel")
    assert is_request("Book two tickets to Oslo")
    assert not is_request("The policy covers long-approved vaccines and new ones")


def test_split_intents_returns_only_clauses() -> None:
    assert split_intents("Get the forecast. Also convert 10 euros to dollars.") == [
        "Get the forecast",
        "Also convert 10 euros to dollars",
    ]


def test_name_pairs_favour_the_tool_whose_name_says_the_phrase_in_order() -> None:
    texts = ["forecast weather report", "weather forecast report"]
    plain = LexicalIndex(texts).scores("weather forecast for Paris")
    assert plain[0] == plain[1]
    named = LexicalIndex(texts, name_tokens=[tokenize("forecast of weather"), tokenize("weather forecast")])
    scores = named.scores("weather forecast for Paris")
    assert scores[1] > scores[0] == plain[0]
    assert bigrams(["a", "b", "c"]) == ["a_b", "b_c"]
    with pytest.raises(ValueError):
        LexicalIndex(texts, name_tokens=[tokenize("only one")])


def test_a_pasted_document_gives_at_most_max_clauses_with_its_requests_kept() -> None:
    context = " ".join(f"The report covers region number {i} in great detail." for i in range(40))
    query = f"{context} Please translate the summary into French. Also email the report to my manager."
    clauses = decompose(query).clauses
    assert len(clauses) == 16
    assert clauses[-2:] == ["Please translate the summary into French", "Also email the report to my manager"]
    assert clauses[0].startswith("The report covers region number 0")  # the rest: the first ones, in order


def test_a_request_after_a_long_pasted_text_of_requests_is_kept() -> None:
    """Past ``max_clauses``, the clauses nearest either end of the query win: the question that
    follows a pasted text full of imperatives is not cut off."""
    pasted = " ".join(f"Check the valve number {i} before the shift." for i in range(40))
    query = f"{pasted} What is the weather forecast in Paris tomorrow?"
    clauses = decompose(query).clauses
    assert len(clauses) == 16
    assert clauses[-1] == "What is the weather forecast in Paris tomorrow"
    assert clauses[0] == "Check the valve number 0 before the shift"


def test_decompose_levels() -> None:
    """ "connectives" keeps sentences and " and " whole, cutting only before connectives."""
    q = (
        "Find flights to Rome for two adults and book a hotel near the station. "
        "Also check the weather in Rome, then convert 100 euros to dollars"
    )
    assert decompose(q).clauses == [
        "Find flights to Rome for two adults",
        "book a hotel near the station",
        "Also check the weather in Rome",
        "then convert 100 euros to dollars",
    ]
    assert decompose(q, split="connectives").clauses == [
        "Find flights to Rome for two adults and book a hotel near the station.",
        "Also check the weather in Rome",
        "then convert 100 euros to dollars",
    ]
    assert decompose(q, split="none").clauses == [q]
    assert decompose("Find flights to Rome. Book a hotel near the station.", split="connectives").clauses == [
        "Find flights to Rome. Book a hotel near the station."
    ]
