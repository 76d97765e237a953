"""tools_kb.evaluation: reading labelled queries, choosing the method, evaluating a catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tools_kb.fakes.embedder import HashingEmbedder
from tools_kb.evaluation import LabelledQuery, evaluate_catalog, method_fusion, public_tools, read_queries
from tools_kb.tool import Tool


def test_read_queries_drops_a_byte_order_mark_and_splits_at_newline_only(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    first = json.dumps({"id": "a", "query": "one\u2028two\x85three", "gold": "x"}, ensure_ascii=False)
    text = f"{first}\r\n\r\n" + json.dumps({"id": "b", "query": "four", "gold": ["y"]}) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert read_queries(path) == [
        LabelledQuery("a", "one\u2028two\x85three", ("x",)),
        LabelledQuery("b", "four", ("y",)),
    ]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "q.jsonl: no queries"),
        (b"\n  \n", "q.jsonl: no queries"),
        (b'{"query": "caf\xe9", "gold": ["x"]}\n', "q.jsonl:1: not UTF-8 text: invalid continuation byte"),
        (
            b'{"query": "a", "gold": ["x"]}\n{"query": ' + b"[" * 5000 + b"\n",
            "q.jsonl:2: invalid JSON: nested",
        ),
    ],
    ids=["empty", "blank", "latin-1", "nested-too-deeply"],
)
def test_read_queries_rejects_a_file_naming_it(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=says):
        read_queries(path)


@pytest.mark.parametrize("weight", ["5", "-1", "1.5", "nan", "inf", "abc", ""])
def test_weighted_method_needs_a_share_from_0_to_1(weight: str) -> None:
    with pytest.raises(ValueError, match=f"weighted:W needs a dense share W from 0 to 1, got '{weight}'"):
        method_fusion(f"weighted:{weight}")


@pytest.mark.parametrize("weight", ["0", "0.35", "1"])
def test_weighted_method_takes_its_share(weight: str) -> None:
    fusion = method_fusion(f"weighted:{weight}")
    assert fusion is not None and fusion.kind == "weighted" and fusion.weight == float(weight)


def test_public_tools_drops_tenant_lists_and_counts_them() -> None:
    tools = [
        Tool("payroll", "Run the payroll", tenants=frozenset({"acme"})),
        Tool("hidden", "Visible to nobody", tenants=frozenset()),
        Tool("weather", "The weather forecast", tags=("travel",)),
    ]
    public, private = public_tools(tools)
    assert private == 2
    assert [(t.name, t.tenants) for t in public] == [("payroll", None), ("hidden", None), ("weather", None)]
    assert public[2] == tools[2]


async def test_eval_measures_tools_that_have_tenants() -> None:
    catalog = [
        Tool("runPayroll", "Run the monthly payroll for employees", tenants=frozenset({"acme"})),
        Tool("getWeatherForecast", "The weather forecast for a city"),
        Tool("sendEmail", "Send an email message"),
    ]
    queries = [LabelledQuery("1", "run the payroll for my employees", ("runPayroll",))]
    metrics, _ = await evaluate_catalog(catalog, queries, HashingEmbedder(), method="bm25")
    assert metrics["recall@1"] == 1.0
