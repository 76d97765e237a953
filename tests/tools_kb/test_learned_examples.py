"""Learning from logs: examples are stored per tool (capped, deduplicated), survive a restart of
the embedded store, are shared through Redis, and lift their tool for the query they came from."""

from __future__ import annotations

from pathlib import Path

from core.store.factory import open_store
from core.store.protocol import Store
from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.catalog import SqliteCatalogStore
from tools_kb.fusion import DENSE_ONLY
from tools_kb.index import ToolIndex
from tools_kb.kb import ToolKB
from tools_kb.learned_examples import LearnedExamples
from tools_kb.tool import Tool


async def test_capped_deduplicated_and_persisted(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    async with open_store(None, state_path=state) as store:
        ex = LearnedExamples(store, max_per_tool=3)
        assert await ex.add("getWeather", "will it  rain in Lyon?")
        assert not await ex.add("getWeather", "Will it rain in Lyon?")  # same text, other case/spaces
        assert not await ex.add("getWeather", "   ")
        for q in ("forecast for Oslo", "is it sunny in Rome", "umbrella needed in Paris today"):
            assert await ex.add("getWeather", q)
        v = await ex.version()
        assert (await ex.load())["getWeather"] == (
            "forecast for Oslo",
            "is it sunny in Rome",
            "umbrella needed in Paris today",
        )
    async with open_store(None, state_path=state) as store:  # the embedded default after a restart
        ex = LearnedExamples(store, max_per_tool=3)
        assert len((await ex.load())["getWeather"]) == 3
        assert await ex.version() == v
        await ex.forget(["getWeather", "neverLearned"])
        assert await ex.load() == {}
        assert await ex.version() > v
        v = await ex.version()
        await ex.forget(["neverLearned"])  # nothing dropped: no rebuild asked for
        assert await ex.version() == v


async def test_replicas_share_examples_through_redis(clean_redis_url: str) -> None:
    async with open_store(clean_redis_url) as a, open_store(clean_redis_url) as b:
        assert await LearnedExamples(a).add("bookHotel", "a room in Kyoto for two nights")
        assert await LearnedExamples(b).load() == {"bookHotel": ("a room in Kyoto for two nights",)}
        assert await LearnedExamples(b).version() == 1


async def test_a_learned_example_lifts_its_tool(tmp_path: Path) -> None:
    tools = [Tool("getWeather", "Weather forecast for a city."), Tool("bookHotel", "Reserve a hotel room.")]
    query = "do I need an umbrella tomorrow"  # shares no word with either document
    async with open_store(None) as store:
        ex = LearnedExamples(store)
        await ex.add("getWeather", query)
        embedder = HashingEmbedder()
        plain = await ToolIndex.build(tools, embedder, fusion=DENSE_ONLY)
        learned = await ToolIndex.build(tools, embedder, fusion=DENSE_ONLY, extras=await ex.load())
        before = {h.name: h.score for h in await plain.search(query, 2)}
        after = await learned.search(query, 2)
        assert after[0].name == "getWeather"
        assert after[0].score > before.get("getWeather", 0.0)


def _kb(db: Path, ex: LearnedExamples) -> ToolKB:
    """A KB over the SQLite catalog ``db`` whose extras are ``ex``, rebuilt on every change."""
    return ToolKB(SqliteCatalogStore(db), HashingEmbedder(), extras=ex, extras_interval_s=0.0)


async def test_the_kb_indexes_learned_examples_on_refresh(tmp_path: Path) -> None:
    tools = [Tool("getWeather", "Weather forecast for a city."), Tool("bookHotel", "Reserve a hotel room.")]
    query = "do I need an umbrella tomorrow"
    async with open_store(None) as store:
        ex = LearnedExamples(store)
        async with _kb(tmp_path / "c.sqlite", ex) as kb:
            await kb.upsert(tools)
            fusion = kb.index.fusion
            assert not await kb.refresh()  # nothing changed
            await ex.add("getWeather", query)
            assert await kb.refresh()  # the examples' version moved: rebuilt
            assert kb.index.fusion == fusion  # only extras changed: the tuned fusion is kept
            hits = await kb.search(query, 1)
            assert hits[0].name == "getWeather"
            assert kb.index.extra_rows == 1


async def test_a_removed_tool_takes_its_examples_with_it(tmp_path: Path) -> None:
    """A new tool that reuses a removed tool's name starts without the old one's examples."""
    tools = [Tool("sendEmail", "Send an email message."), Tool("bookHotel", "Reserve a hotel room.")]
    query = "inform the yak syndicate"
    async with open_store(None) as store:
        ex = LearnedExamples(store)
        async with _kb(tmp_path / "c.sqlite", ex) as kb:
            await kb.upsert(tools)
            await ex.add("sendEmail", query)
            await ex.add("bookHotel", "a room near the yak farm")
            assert await kb.refresh()
            await kb.remove(["sendEmail"])
            assert await ex.load() == {"bookHotel": ("a room near the yak farm",)}
            await kb.upsert([Tool("sendEmail", "Compute the square root of a number.")])
            assert kb.index.extra_rows == 1  # bookHotel's example only


async def test_examples_of_tools_removed_while_no_replica_watched_are_forgotten(tmp_path: Path) -> None:
    """Examples of a tool the catalog does not hold (removed while no gateway ran) are
    forgotten at the next rebuild; an empty catalog (not seeded yet) forgets nothing."""
    db = tmp_path / "c.sqlite"
    async with open_store(None) as store:
        ex = LearnedExamples(store)
        await ex.add("sendEmail", "inform the yak syndicate")
        await ex.add("oldTool", "something nobody serves any more")
        async with _kb(db, ex):
            pass  # empty catalog: nothing is forgotten
        assert set(await ex.load()) == {"sendEmail", "oldTool"}
        await SqliteCatalogStore(db).upsert([Tool("sendEmail", "Send an email message.")])
        async with _kb(db, ex) as kb:
            assert set(await ex.load()) == {"sendEmail"}
            assert kb.index.extra_rows == 1


class _ReplicaLearnsDuringLoad(LearnedExamples):
    """This replica's view of the shared examples; once armed, another replica (a second
    LearnedExamples on the same store) learns an example right after this one's load read it."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.armed = False
        self._other = LearnedExamples(store)

    async def load(self) -> dict[str, tuple[str, ...]]:
        out = await super().load()
        if self.armed:
            self.armed = False
            await self._other.add("bookHotel", "a room near the yak farm for two nights")
        return out


async def test_an_example_learned_during_a_rebuild_is_indexed_by_the_next_one(tmp_path: Path) -> None:
    async with open_store(None) as store:
        ex = _ReplicaLearnsDuringLoad(store)
        async with _kb(tmp_path / "c.sqlite", ex) as kb:
            await kb.upsert(
                [Tool("sendEmail", "Send an email message."), Tool("bookHotel", "Reserve a hotel room.")]
            )
            await ex.add("sendEmail", "inform the yak syndicate")
            ex.armed = True
            assert await kb.refresh()  # indexes sendEmail's example; bookHotel's arrives meanwhile
            assert kb.index.extra_rows == 1
            assert await kb.refresh()  # the version it recorded predates bookHotel's example
            assert kb.index.extra_rows == 2
