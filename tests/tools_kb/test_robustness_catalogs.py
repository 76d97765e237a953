"""bench.tools_robustness: the derived catalogs keep queries answerable and tools valid."""

from __future__ import annotations

import json
from pathlib import Path

from bench.tools_robustness import derived_catalogs
from tools_kb.tool import parse_tool


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _catalog(prefix: str, n: int) -> list[dict[str, object]]:
    return [
        {
            "name": f"{prefix}Tool{i}",
            "description": f"Does task number {i} for the {prefix} domain with several extra words here",
            "parameters": {
                "type": "object",
                "properties": {"x": {"type": "string", "description": "an input"}},
            },
        }
        for i in range(n)
    ]


def _queries(prefix: str, n_tools: int, n: int, per: int = 1) -> list[dict[str, object]]:
    return [
        {
            "id": f"{prefix}{q}",
            "query": f"please do task {q}",
            "gold": [f"{prefix}Tool{(q + j) % n_tools}" for j in range(per)],
        }
        for q in range(n)
    ]


def _data(root: Path) -> Path:
    for folder, prefix, files in (
        ("seal_tools", "seal", {"queries_dev": 1}),
        ("toole", "toole", {"queries_single": 1, "queries_multi": 2}),
        ("api_bank", "bank", {"queries": 2}),
        ("apibench_hf", "hf", {"queries": 1}),
    ):
        _write(root / folder / "catalog.jsonl", _catalog(prefix, 150))
        for name, per in files.items():
            _write(root / folder / f"{name}.jsonl", _queries(prefix, 150, 400, per))
    return root


def test_derived_catalogs_are_valid_and_their_queries_answerable(tmp_path: Path) -> None:
    catalogs = derived_catalogs(_data(tmp_path))
    assert {"seal_opaque_names", "seal_no_parameters", "toole_short_descriptions", "merged"} <= set(catalogs)
    assert any(name.startswith("sub_toole_30_") for name in catalogs)
    for name, (tools, queries) in catalogs.items():
        names = {t["name"] for t in tools}
        assert len(names) == len(tools), name
        for i, tool in enumerate(tools):
            parse_tool(tool, where=f"{name}#{i}")  # raises on an invalid definition
        assert queries, name
        assert all(set(q["gold"]) <= names for q in queries), name


def test_opaque_names_carry_no_name_words_and_keep_the_gold_mapping(tmp_path: Path) -> None:
    tools, queries = derived_catalogs(_data(tmp_path))["seal_opaque_names"]
    assert all(str(t["name"]).startswith("tool_") for t in tools)
    first = queries[0]
    assert first["gold"] == ["tool_00000"]  # "please do task 0" -> sealTool0, the first tool


def test_variants_change_what_they_say(tmp_path: Path) -> None:
    catalogs = derived_catalogs(_data(tmp_path))
    assert all(t["parameters"] is None for t in catalogs["seal_no_parameters"][0])
    assert all(len(str(t["description"]).split()) <= 8 for t in catalogs["toole_short_descriptions"][0])
    sizes = {name: len(tools) for name, (tools, _) in catalogs.items() if name.startswith("sub_")}
    assert sizes and all(size == int(name.split("_")[2]) for name, size in sizes.items())
