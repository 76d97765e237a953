from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.catalog import SqliteCatalogStore
from tools_kb.evaluation import LabelledQuery, evaluate_catalog
from tools_kb.index import ToolIndex
from tools_kb.kb import ToolKB
from tools_kb.meta_tool import run_search_tools
from tools_kb.prerequisites import Prerequisites
from tools_kb.search_options import SearchOptions
from tools_kb.tool import Tool


def _tool(name: str, description: str, *params: str, tenants: frozenset[str] | None = None) -> Tool:
    schema: dict[str, Any] | None = (
        {"type": "object", "properties": {p: {"type": "string"} for p in params}} if params else None
    )
    return Tool(name, description, schema, (), tenants)


CATALOG = [
    _tool("DeleteAccount", "Close an account for good", "token"),  # 0
    _tool("GetUserToken", "Log in: a token for a username and password", "username", "password"),  # 1
    _tool("RefreshToken", "Renew a token before it expires", "token"),  # 2: takes it, not a producer
    _tool("getWeather", "Weather forecast for a city", "city"),  # 3
    _tool("getRecord", "A record by its id", "id"),  # 4: a bare id says nothing
    _tool("getPatientId", "Look up a patient's id by name", "name"),  # 5
    _tool("getPatientHistory", "Medical history of a patient", "patient_id"),  # 6
    _tool("openChatSession", "Open a chat session", "token"),  # 7: needs a token itself
    _tool("sendChatMessage", "Send a message in a chat session", "chat_session", "text"),  # 8
    _tool("getAccountBalance", "The balance of a bank account", "account_number"),  # 9
]
NAMES = [t.name for t in CATALOG]


def _names(rows: list[tuple[int, int | None]]) -> list[tuple[str, str | None]]:
    return [(NAMES[r], None if by is None else NAMES[by]) for r, by in rows]


def _all(_: int) -> bool:
    return True


def test_a_consumers_producer_follows_it_and_the_list_keeps_its_length() -> None:
    pre = Prerequisites(CATALOG)
    got = _names(pre.expand([0, 3, 4], _all, 3))
    assert got == [("DeleteAccount", None), ("GetUserToken", "DeleteAccount"), ("getWeather", None)]


def test_only_handles_with_a_named_owner_and_one_producer_are_followed() -> None:
    pre = Prerequisites(CATALOG)
    assert pre.producers_of(2, _all) == [1]  # RefreshToken's token: GetUserToken, not itself
    assert pre.producers_of(4, _all) == []  # bare "id"
    assert pre.producers_of(3, _all) == []  # "city" is not a handle
    assert pre.producers_of(6, _all) == [5]  # patient_id <- getPatientId
    assert pre.producers_of(1, _all) == []


def test_a_producer_lower_in_the_list_moves_up_and_one_above_stays() -> None:
    pre = Prerequisites(CATALOG)
    assert _names(pre.expand([6, 3, 5], _all, 3)) == [
        ("getPatientHistory", None),
        ("getPatientId", "getPatientHistory"),
        ("getWeather", None),
    ]
    assert _names(pre.expand([1, 0], _all, 2)) == [("GetUserToken", None), ("DeleteAccount", None)]


def test_prerequisites_chain() -> None:
    pre = Prerequisites(CATALOG)
    assert _names(pre.expand([8, 3], _all, 4)) == [
        ("sendChatMessage", None),
        ("openChatSession", "sendChatMessage"),
        ("GetUserToken", "openChatSession"),
        ("getWeather", None),
    ]


def test_two_possible_producers_are_not_guessed_but_one_visible_is_followed() -> None:
    catalog = [
        *CATALOG,
        _tool("IssueAdminToken", "A token for an administrator", "username", tenants=frozenset({"acme"})),
    ]
    pre = Prerequisites(catalog)
    assert pre.producers_of(0, _all) == []  # GetUserToken or IssueAdminToken: unknown
    public = lambda row: catalog[row].tenants is None  # noqa: E731
    assert pre.producers_of(0, public) == [1]


def test_a_rest_resources_id_comes_from_its_search_endpoint() -> None:
    catalog = [
        _tool("GET /person/{person_id}/movie_credits", "Movies a person played in or made"),  # 0
        _tool("GET /search/person", "Search for people by name", "query"),  # 1
        _tool("GET /movie/{movie_id}/credits", "Cast and crew of a movie"),  # 2
        _tool("GET /search/movie", "Search for movies by title", "query"),  # 3
        _tool("getExoplanetInfo", "Facts about an exoplanet", "exoplanet_id"),  # 4: not a REST path
        _tool("searchExoplanets", "Find exoplanets by name or star", "name"),  # 5
        _tool("getPatientHistory", "Medical history of a patient", "patient_id"),  # 6
        _tool("getPatientId", "Look up a patient's id by name", "name"),  # 7
        _tool("searchPatients", "Search patients by ward", "ward"),  # 8
        _tool("DELETE /account", "Close an account for good", "account_token"),  # 9
        _tool("searchAccount", "Search accounts by owner", "owner"),  # 10
        _tool("GET /review/{review_id}", "One review"),  # 11
        _tool("GET /tv/{tv_id}", "A TV show", "language"),  # 12
        _tool("searchTv", "Search TV shows by title", "query"),  # 13
    ]
    pre = Prerequisites(catalog)
    assert pre.producers_of(0, _all) == [1]  # a path template is a parameter; /search/person its producer
    assert pre.producers_of(2, _all) == [3]
    assert pre.producers_of(4, _all) == []  # a function-style name: search tools are not followed
    assert pre.producers_of(6, _all) == [7]  # a name that ends with the handle's words comes first
    assert pre.producers_of(9, _all) == []  # a token is handed out by a login, not found by a search
    assert pre.producers_of(11, _all) == []  # no search endpoint for reviews
    assert pre.producers_of(12, _all) == [13]
    assert pre.producers_of(1, _all) == pre.producers_of(3, _all) == []


def test_two_search_endpoints_for_one_resource_are_not_guessed() -> None:
    catalog = [
        _tool("GET /shelters/{shelter_id}", "A shelter's address"),
        _tool("GET /find/shelter", "Shelters near a place", "location"),
        _tool("GET /search/shelters", "Shelters by name", "name"),
    ]
    assert Prerequisites(catalog).producers_of(0, _all) == []


def test_a_catalog_without_handles_is_left_alone() -> None:
    pre = Prerequisites([CATALOG[3], CATALOG[4]])
    assert len(pre) == 0
    assert pre.expand([1, 0], _all, 1) == [(1, None)]


async def test_search_returns_the_login_tool_after_the_tool_that_needs_it() -> None:
    index = await ToolIndex.build(CATALOG, HashingEmbedder())
    plain = await index.search("please close my account", k=2, options=SearchOptions(prerequisites=False))
    hits = await index.search("please close my account", k=2)
    assert [h.name for h in plain] == ["DeleteAccount", "getAccountBalance"]
    assert [(h.name, h.needed_by) for h in hits] == [
        ("DeleteAccount", None),
        ("GetUserToken", "DeleteAccount"),
    ]
    assert hits[1].score == hits[0].score == plain[0].score


async def test_a_producer_private_to_another_tenant_is_never_returned() -> None:
    catalog = [
        _tool("DeleteAccount", "Close an account for good", "token"),
        _tool("GetUserToken", "Log in", "username", tenants=frozenset({"acme"})),
        _tool("getAccountBalance", "The balance of a bank account", "account_number"),
    ]
    index = await ToolIndex.build(catalog, HashingEmbedder())
    assert [h.name for h in await index.search("close my account", k=2, tenant="globex")] == [
        "DeleteAccount",
        "getAccountBalance",
    ]
    acme = await index.search("close my account", k=2, tenant="acme")
    assert [(h.name, h.needed_by) for h in acme] == [
        ("DeleteAccount", None),
        ("GetUserToken", "DeleteAccount"),
    ]


async def test_eval_baselines_rank_by_their_scores_alone() -> None:
    queries = [LabelledQuery("1", "please close my account", ("DeleteAccount", "GetUserToken"))]
    catalog = [*CATALOG[:1], *CATALOG[2:], CATALOG[1]]  # the login tool last: it ties at 0 in BM25
    auto, _ = await evaluate_catalog(catalog, queries, HashingEmbedder(), method="auto")
    bm25, _ = await evaluate_catalog(catalog, queries, HashingEmbedder(), method="bm25")
    assert auto["sufficiency@5"] == 1.0
    assert bm25["recall@1"] == 0.5 and bm25["sufficiency@5"] == 0.0


async def test_search_tools_tells_the_agent_which_tool_needs_the_prerequisite(tmp_path: Path) -> None:
    async with ToolKB(SqliteCatalogStore(tmp_path / "tools.sqlite"), HashingEmbedder()) as kb:
        await kb.upsert(CATALOG)
        result = await run_search_tools(kb, '{"query": "please close my account", "k": 2}', tenant=None)
    tools = result["tools"]
    assert [t["function"]["name"] for t in tools] == ["DeleteAccount", "GetUserToken"]
    assert "needed_by" not in tools[0] and tools[1]["needed_by"] == "DeleteAccount"
