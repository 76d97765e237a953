"""``switchboard tools``: the eval contract (real ONNX embedder) and the catalog commands."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from gateway.cli import main

DATA = Path(__file__).parent / "data"


def _onnx(models_dir: Path, tmp_path: Path) -> list[str]:
    """The options that make a command embed with the prepared ONNX model and a scratch cache."""
    return [
        "--models-dir",
        str(models_dir),
        "--embedder",
        "onnx",
        "--vector-cache",
        str(tmp_path / "v.sqlite"),
    ]


@pytest.mark.slow
def test_eval_prints_exactly_the_contract_keys(
    prepared_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "tools",
            "eval",
            "--catalog",
            str(DATA / "catalog.jsonl"),
            "--queries",
            str(DATA / "queries.jsonl"),
            "--k",
            "5",
            "--json",
            *_onnx(prepared_models_dir, tmp_path),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == [
        "n",
        "recall@1",
        "recall@5",
        "recall@10",
        "ndcg@5",
        "ndcg@10",
        "sufficiency@5",
        "sufficiency@10",
    ]
    assert out["n"] == 4
    assert out["recall@5"] >= 0.75  # four easy queries on a 12-tool catalog


@pytest.mark.slow
def test_search_says_how_the_catalog_is_searched(
    prepared_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = str(DATA / "catalog.jsonl")
    code = main(
        ["tools", "search", "send an email", "--catalog", catalog, *_onnx(prepared_models_dir, tmp_path)]
    )
    assert code == 0
    head, first = capsys.readouterr().out.splitlines()[:2]
    assert head.startswith("12 tools, fusion ") and head.endswith(", decomposition all")
    assert "sendEmail" in first


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"id": 1, "query": "send an email"}', "queries.jsonl:2: gold: must be a non-empty list"),
        ('{"id": 1, "query": "send an email", "gold": []}', "queries.jsonl:2: gold: must be a non-empty"),
        ('{"id": 1, "query": "", "gold": ["sendEmail"]}', "queries.jsonl:2: query: must be a non-empty"),
        ('{"id": 1, "query": "send an email", "gold": [3]}', "queries.jsonl:2: gold: must be"),
        ('{"id": 1, "query": "send an email"', "queries.jsonl:2:35: invalid JSON"),
        ('["send an email"]', "queries.jsonl:2: expected an object"),
    ],
)
def test_eval_rejects_a_bad_query_line_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, says: str
) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"id": 0, "query": "email Bob", "gold": ["sendEmail"]}\n' + line + "\n")
    code = main(["tools", "eval", "--catalog", str(DATA / "catalog.jsonl"), "--queries", str(queries)])
    assert code == 1
    assert says in capsys.readouterr().err


def test_eval_reports_a_missing_query_file_and_an_unknown_method(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = str(DATA / "catalog.jsonl")
    missing = str(tmp_path / "nope.jsonl")
    assert main(["tools", "eval", "--catalog", catalog, "--queries", missing]) == 1
    assert f"{missing}: cannot read" in capsys.readouterr().err
    queries = str(DATA / "queries.jsonl")
    assert main(["tools", "eval", "--catalog", catalog, "--queries", queries, "--method", "best"]) == 1
    assert "unknown method 'best'" in capsys.readouterr().err


def _eval_fixture_catalog(models_dir: Path, tmp_path: Path, queries: str) -> int:
    """``tools eval --json`` of the fixture catalog against ``queries`` (JSON Lines text)."""
    path = tmp_path / "q.jsonl"
    path.write_text(queries)
    args = ["tools", "eval", "--catalog", str(DATA / "catalog.jsonl"), "--queries", str(path), "--json"]
    args += ["--models-dir", str(models_dir), "--embedder", "onnx"]
    return main([*args, "--vector-cache", str(tmp_path / "v.sqlite")])


@pytest.mark.slow
def test_eval_warns_when_gold_tools_are_not_in_the_catalog(
    prepared_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = (
        '{"id": 1, "query": "send an email to Bob", "gold": ["sendEmail"]}\n'
        '{"id": 2, "query": "book me a taxi", "gold": ["bookTaxi", "sendEmail"]}\n'
    )
    assert _eval_fixture_catalog(prepared_models_dir, tmp_path, queries) == 0
    captured = capsys.readouterr()
    assert "1 of 2 queries name gold tools that are not in" in captured.err
    assert "'bookTaxi'" in captured.err
    out = json.loads(captured.out)
    assert out["n"] == 2 and out["sufficiency@10"] <= 0.5  # the unknown tool counts as a miss


@pytest.mark.slow
def test_eval_measures_a_catalog_with_invalid_parts_and_strict_rejects_it(
    prepared_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [json.loads(line) for line in (DATA / "catalog.jsonl").read_text().splitlines() if line.strip()]
    rows[0]["category"] = "weather"  # an unknown field
    rows[1]["parameters"] = {"type": "object", "properties": {}, "required": ["amount"]}
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    base = ["tools", "eval", "--catalog", str(catalog), "--queries", str(DATA / "queries.jsonl"), "--json"]
    assert main([*base, "--strict"]) == 1
    assert "category: unknown field" in capsys.readouterr().err
    args = [*base, "--models-dir", str(prepared_models_dir), "--embedder", "onnx"]
    assert main([*args, "--vector-cache", str(tmp_path / "v.sqlite")]) == 0
    captured = capsys.readouterr()
    assert (
        f"warning: {catalog}: line 1: tool 'getWeatherForecast': category: unknown field: dropped"
        in captured.err
    )
    assert "parameters.required: names unknown properties ['amount']: dropped" in captured.err
    assert "2 invalid parts dropped or records skipped" in captured.err
    out = json.loads(captured.out)
    assert out["n"] == 4 and out["recall@5"] >= 0.75  # both tools kept and found


def test_add_list_remove_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    assert main(["tools", "add", str(DATA / "catalog.jsonl"), "--db", db]) == 0
    assert main(["tools", "remove", "sendEmail", "--db", db]) == 0
    capsys.readouterr()
    assert main(["tools", "list", "--json", "--db", db]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["version"] == 2
    assert "sendEmail" not in {t["name"] for t in listed["tools"]}


def test_add_rejects_an_invalid_file_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "ok"}\n{"name": "broken", "parameters": {"type": "string"}}\n')
    db = str(tmp_path / "c.sqlite")
    assert main(["tools", "add", str(bad), "--db", db]) == 1
    assert "tool 'broken': parameters.type" in capsys.readouterr().err
    assert main(["tools", "list", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out) == {"version": 0, "tools": []}


def test_add_with_a_tenant_keeps_every_other_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "t.jsonl"
    source.write_text(json.dumps({"type": "function", "function": {"name": "pay", "strict": True}}) + "\n")
    db = str(tmp_path / "c.sqlite")
    assert main(["tools", "add", str(source), "--tenant", "acme", "--db", db]) == 0
    capsys.readouterr()
    assert main(["tools", "list", "--json", "--db", db]) == 0
    (tool,) = json.loads(capsys.readouterr().out)["tools"]
    assert tool["tenants"] == ["acme"] and tool["strict"] is True


def test_remove_unknown_tool_fails(tmp_path: Path) -> None:
    assert main(["tools", "remove", "nope", "--db", str(tmp_path / "c.sqlite")]) == 1


def test_empty_cache_option_means_no_cache() -> None:
    from gateway.cli.tools_cmd import _optional_path

    assert _optional_path(Path("")) is None  # argparse type=Path makes '' into '.'
    assert _optional_path("") is None
    assert _optional_path(None) is None
    assert _optional_path("var/x.sqlite") == Path("var/x.sqlite")


def test_eval_rejects_a_query_file_without_queries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text("\n")
    assert main(["tools", "eval", "--catalog", str(DATA / "catalog.jsonl"), "--queries", str(queries)]) == 1
    assert f"{queries}: no queries" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["weighted:5", "weighted:-1", "weighted:nan", "weighted:abc"])
def test_eval_rejects_a_weighted_method_outside_0_to_1(
    capsys: pytest.CaptureFixture[str], method: str
) -> None:
    args = ["--catalog", str(DATA / "catalog.jsonl"), "--queries", str(DATA / "queries.jsonl")]
    assert main(["tools", "eval", *args, "--method", method]) == 1
    assert "--method: method weighted:W needs a dense share W from 0 to 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["eval", "--catalog", "c.jsonl", "--queries", "q.jsonl", "--k", "0"],
            "argument --k: must be at least 1",
        ),
        (
            ["eval", "--catalog", "c.jsonl", "--queries", "q.jsonl", "--build-threads", "0"],
            "--build-threads: must",
        ),
        (["search", "email", "--k", "0"], "argument --k: must be at least 1, got 0"),
        (["search", "email", "--k", "-3"], "argument --k: must be at least 1, got -3"),
        (["search", ""], "argument query: must not be empty or blank"),
        (["search", "  "], "argument query: must not be empty or blank"),
        (["add", str(DATA / "catalog.jsonl"), "--tenant", " "], "argument --tenant: must name a tenant"),
    ],
    ids=[
        "eval-k",
        "eval-build-threads",
        "search-k-0",
        "search-k-negative",
        "search-empty",
        "search-blank",
        "add-blank-tenant",
    ],
)
def test_bad_arguments_are_rejected_before_anything_runs(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["tools", *argv])
    assert info.value.code == 2
    assert says in capsys.readouterr().err


def _unusable_store(kind: str, tmp_path: Path) -> tuple[list[str], str]:
    """Store options that cannot work, and how the error names the store."""
    if kind == "redis-not-listening":
        with socket.socket() as s:  # a free port: nothing listens there
            s.bind(("127.0.0.1", 0))
            url = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
        return ["--redis-url", url], f"redis {url}"
    if kind == "db-under-a-file":
        (tmp_path / "file").write_text("")
        db = tmp_path / "file" / "c.sqlite"
    elif kind == "db-is-a-folder":
        db = tmp_path
    else:  # a file that is not SQLite
        db = tmp_path / "notes.sqlite"
        db.write_text("not a database\n" * 100)
    return ["--db", str(db)], f"sqlite {db}"


@pytest.mark.parametrize(
    "store", ["redis-not-listening", "db-under-a-file", "db-is-a-folder", "db-not-sqlite"]
)
@pytest.mark.parametrize(
    "command",
    [["list"], ["add", str(DATA / "catalog.jsonl")], ["remove", "sendEmail"], ["search", "send an email"]],
    ids=["list", "add", "remove", "search"],
)
def test_an_unusable_store_is_one_error_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], store: str, command: list[str]
) -> None:
    options, label = _unusable_store(store, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert main(["tools", *command, *options]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"switchboard: error: tool catalog ({label}): ")
    assert {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before  # nothing overwritten


def test_remove_counts_a_name_given_twice_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    assert main(["tools", "add", str(DATA / "catalog.jsonl"), "--db", db]) == 0
    capsys.readouterr()
    assert main(["tools", "remove", "sendEmail", "sendEmail", "--db", db]) == 0
    assert capsys.readouterr().out == "removed 1; catalog version 2\n"


def test_add_reads_a_file_with_a_byte_order_mark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (DATA / "catalog.jsonl").read_bytes())
    db = str(tmp_path / "c.sqlite")
    assert main(["tools", "add", str(path), "--db", db]) == 0
    capsys.readouterr()
    assert main(["tools", "list", "--json", "--db", db]) == 0
    stored = {t["name"] for t in json.loads(capsys.readouterr().out)["tools"]}
    assert stored == {json.loads(line)["name"] for line in (DATA / "catalog.jsonl").read_text().splitlines()}


@pytest.mark.slow
def test_eval_measures_tools_that_have_tenants_as_public(
    prepared_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = '{"id": 1, "query": "run the payroll for Acme employees", "gold": ["acme_internal_payroll"]}\n'
    assert _eval_fixture_catalog(prepared_models_dir, tmp_path, queries) == 0
    captured = capsys.readouterr()
    assert (
        f"warning: {DATA / 'catalog.jsonl'}: 2 tools have tenants; the eval measures the whole catalog, "
        "so they are evaluated as public"
    ) in captured.err
    assert json.loads(captured.out)["recall@1"] == 1.0
