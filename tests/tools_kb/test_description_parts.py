"""A many-part description gives its tool one dense row per part, max-pooled with the document's."""

from __future__ import annotations

import numpy as np

from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.documents import build_document
from tools_kb.evaluation import LabelledQuery, evaluate_catalog
from tools_kb.fusion import DENSE_ONLY
from tools_kb.index import ToolIndex
from tools_kb.tool import Tool

OMNI = Tool(
    "travelDeskTool",
    "Book hotel rooms and apartments in any city worldwide. Track parcels sent with major carriers; "
    "convert prices between all world currencies. Free.",
)
PLAIN = Tool("weatherNow", "Current weather conditions for a city.")
PART = "travel desk tool: Track parcels sent with major carriers"


def test_parts_are_sentences_and_semicolon_clauses_with_the_name_words() -> None:
    assert build_document(OMNI).segment_texts() == (
        "travel desk tool: Book hotel rooms and apartments in any city worldwide",
        PART,
        "travel desk tool: convert prices between all world currencies",
    )  # "Free." is a fragment, not a part


def test_a_description_of_one_part_gives_no_rows() -> None:
    assert build_document(PLAIN).segment_texts() == ()
    assert build_document(Tool("t", "Does one thing. Fast.")).segment_texts() == ()


async def test_a_tool_scores_its_best_row_and_segment_rows_can_be_turned_off() -> None:
    embedder = HashingEmbedder()
    with_parts = await ToolIndex.build([OMNI, PLAIN], embedder, fusion=DENSE_ONLY)
    without = await ToolIndex.build([OMNI, PLAIN], embedder, fusion=DENSE_ONLY, segment_rows=False)
    assert with_parts.extra_rows == 3 and without.extra_rows == 0
    [hit] = await with_parts.search(PART, 1)
    [plain_hit] = await without.search(PART, 1)
    assert hit.name == plain_hit.name == OMNI.name
    assert abs(hit.score - 1.0) < 1e-5  # the query is that part's own text
    assert plain_hit.score < hit.score - 0.1  # against the whole document only


async def test_rows_given_in_any_owner_order_pool_to_each_tools_maximum() -> None:
    embedder = HashingEmbedder()
    tools = [Tool(f"tool{i}", f"does task {i}") for i in range(4)]
    docs = [build_document(t) for t in tools]
    vectors = embedder.vectors([d.dense_text() for d in docs])
    texts = ["alpha beta", "gamma", "alpha", "beta gamma delta", "delta"]
    owner = np.asarray([2, 0, 2, 3, 0], dtype=np.int64)  # unsorted, tool 1 has none
    extra = embedder.vectors(texts)
    index = ToolIndex(tools, docs, vectors, embedder, DENSE_ONLY, extra_vectors=extra, extra_owner=owner)
    query = "alpha gamma delta"
    q = embedder.vectors([query])[0]
    expected = vectors @ q
    for row, tool in zip(extra @ q, owner, strict=True):
        expected[tool] = max(expected[tool], row)
    hits = {h.name: h.score for h in await index.search(query, 4)}
    assert set(hits) == {t.name for t in tools}
    assert all(abs(hits[t.name] - float(expected[i])) < 1e-6 for i, t in enumerate(tools))


async def test_eval_baselines_keep_one_plain_row_per_tool() -> None:
    queries = [LabelledQuery("1", "track my parcel", (OMNI.name,))]
    embedder = HashingEmbedder()
    _, auto = await evaluate_catalog([OMNI, PLAIN], queries, embedder, method="auto")
    _, dense = await evaluate_catalog([OMNI, PLAIN], queries, embedder, method="dense")
    assert auto.extra_rows == 3
    assert dense.extra_rows == 0
