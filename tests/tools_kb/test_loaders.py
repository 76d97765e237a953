from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from tools_kb.loaders import load_tools_dir, load_tools_file, load_tools_repairing
from tools_kb.tool import MAX_DESCRIPTION_CHARS


def test_yaml_file_with_tools_key(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text("tools:\n  - name: getLead\n    description: Fetch a CRM lead\n    tags: [crm]\n")
    assert [t.name for t in load_tools_file(path)] == ["getLead"]


def test_yaml_error_names_file_line_tool_and_field(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text(
        "tools:\n  - name: ok\n    description: fine\n  - name: getLead\n    parameters:\n      type: array\n"
    )
    with pytest.raises(ConfigError) as info:
        load_tools_file(path)
    assert info.value.problems == [
        f"{path}:4:5: tools[1]: tool 'getLead': parameters.type: must be 'object', got 'array'"
    ]


def test_yaml_flow_text_cut_at_a_comma_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "tools:\n  - name: get_weather\n    parameters:\n      type: object\n      properties:\n"
        "        city: {type: string, description: City name, e.g. Paris}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_tools_file(path)
    assert (
        "tool 'get_weather': parameters.properties.city: key 'e.g. Paris' has no value"
        in info.value.problems[0]
    )
    path.write_text(path.read_text().replace("City name, e.g. Paris", '"City name, e.g. Paris"'))
    assert load_tools_file(path)[0].parameters["properties"]["city"]["description"] == "City name, e.g. Paris"


def test_yaml_duplicate_keys_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("tools:\n  - name: a\n    name: b\n")
    with pytest.raises(ConfigError, match="duplicate"):
        load_tools_file(path)


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"name": "a"}\n{"name": "b", "tags": 3}\nnot json\n')
    with pytest.raises(ConfigError) as info:
        load_tools_file(path)
    assert info.value.problems[0] == f"{path}: line 2: tool 'b': tags: must be a list of strings"
    assert info.value.problems[1].startswith(f"{path}:3:1: invalid JSON")


def test_folder_rejects_a_name_defined_in_two_files(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"name": "x"}\n')
    (tmp_path / "b.yaml").write_text("- name: x\n")
    with pytest.raises(ConfigError, match="already defined"):
        load_tools_dir(tmp_path)


def test_shipped_config_tools_load() -> None:
    folder = Path(__file__).resolve().parents[2] / "config" / "tools"
    assert len(load_tools_dir(folder)) >= 5


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_repairing_loader_keeps_every_tool_it_can_and_says_what_it_dropped(tmp_path: Path) -> None:
    good = {"name": "a", "description": "first", "parameters": None, "tags": []}
    path = _jsonl(
        tmp_path / "c.jsonl",
        [
            good,
            {"name": "b", "description": "extra field", "category": "x", "api_call": "y"},
            {
                "name": "c",
                "description": "required names a missing property",
                "parameters": {
                    "type": "object",
                    "properties": {"q": {"type": "string"}},
                    "required": ["q", "z"],
                },
            },
            {
                "name": "d",
                "description": "parameter description is a number",
                "parameters": {"type": "object", "properties": {"q": {"description": 3}}},
            },
            {"name": "e", "description": "tags are a string", "tags": "travel"},
            {"type": "function", "function": {"name": "f", "description": "OpenAI form", "parameters": []}},
            {"name": "a", "description": "duplicate"},
            {"description": "no name"},
            '{"name": "g", broken',
        ],
    )
    with pytest.raises(ConfigError):
        load_tools_file(path)  # the strict loader rejects the file
    tools, notes = load_tools_repairing(path)
    by_name = {t.name: t for t in tools}
    assert list(by_name) == ["a", "b", "c", "d", "e", "f"]
    assert by_name["a"].description == "first"  # the first definition wins
    assert by_name["c"].parameters is not None and by_name["c"].parameters["required"] == ["q"]
    assert by_name["d"].parameters is not None and by_name["d"].parameters["properties"]["q"] == {}
    assert by_name["e"].tags == () and by_name["f"].parameters is None
    joined = "\n".join(notes)
    for expected in (
        "c.jsonl: line 2: tool 'b': api_call, category: unknown field: dropped",  # one note per problem
        "tool 'c': parameters.required: names unknown properties ['z']: dropped",
        "tool 'd': parameters.properties.q.description: must be a string: dropped",
        "c.jsonl: line 7: tool 'a': name: defined twice: skipped",
        "c.jsonl: line 8: tool 'line 8': name: must be a non-empty string",
        "c.jsonl:9:15: invalid JSON",
    ):
        assert expected in joined


def test_repairing_loader_still_rejects_what_is_not_a_catalog(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_tools_repairing(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_tools_repairing(_jsonl(tmp_path / "bad.jsonl", ["not json", "{"]))


def test_repairing_loader_keeps_a_tool_with_many_invalid_parts_in_one_note_per_problem(
    tmp_path: Path,
) -> None:
    toolbench_row = {"name": "weather_for_api", "description": "Current weather"}
    toolbench_row |= {f"field_{i:02d}": "x" for i in range(24)}  # RapidAPI rows carry ~20 extras
    props = {f"p{i}": {"type": "string", "description": {"en": "x"}} for i in range(24)}
    form = {"name": "big_form", "parameters": {"type": "object", "properties": props}}
    path = _jsonl(tmp_path / "c.jsonl", [toolbench_row, form])
    tools, notes = load_tools_repairing(path)
    assert [t.name for t in tools] == ["weather_for_api", "big_form"]
    assert tools[1].parameters is not None
    assert tools[1].parameters["properties"]["p23"] == {"type": "string"}
    fields = ", ".join(f"field_{i:02d}" for i in range(24))
    descriptions = ", ".join(f"parameters.properties.p{i}.description" for i in range(24))
    assert notes == [
        f"{path}: line 1: tool 'weather_for_api': {fields}: unknown field: dropped",
        f"{path}: line 2: tool 'big_form': {descriptions}: must be a string: dropped",
    ]


def test_repairing_loader_repairs_a_property_whose_name_holds_a_dot(tmp_path: Path) -> None:
    props = {"q": {"type": "string"}, "sort.description": "string", "page": {"description": 1}}
    path = _jsonl(
        tmp_path / "c.jsonl",
        [{"name": "search_items", "parameters": {"type": "object", "properties": props}}],
    )
    tools, notes = load_tools_repairing(path)
    assert tools[0].parameters is not None
    assert tools[0].parameters["properties"] == {"q": {"type": "string"}, "sort.description": {}, "page": {}}
    assert notes == [
        f"{path}: line 1: tool 'search_items': parameters.properties.sort.description: must be an object: dropped",
        f"{path}: line 1: tool 'search_items': parameters.properties.page.description: must be a string: dropped",
    ]


def test_repairing_loader_keeps_the_head_of_a_description_that_is_too_long(tmp_path: Path) -> None:
    long = "Forecast. " * 2000  # 20,000 characters
    path = _jsonl(tmp_path / "c.jsonl", [{"name": "weather", "description": long}])
    tools, notes = load_tools_repairing(path)
    assert tools[0].description == long[:MAX_DESCRIPTION_CHARS]
    assert notes == [
        f"{path}: line 1: tool 'weather': description: must be at most {MAX_DESCRIPTION_CHARS} "
        "characters, got 20000: cut to its first characters"
    ]
    with pytest.raises(ConfigError, match="description: must be at most"):
        load_tools_file(path)  # a catalog file for the gateway is rejected, not cut


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.jsonl", '{"name": "first"}\n{"name": "second"}\n'),
        ("c.json", '[{"name": "first"}, {"name": "second"}]'),
        ("c.yaml", "- name: first\n- name: second\n"),
    ],
    ids=["jsonl", "json", "yaml"],
)
def test_a_byte_order_mark_is_dropped(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert [t.name for t in load_tools_file(path)] == ["first", "second"]
    assert [t.name for t in load_tools_repairing(path)[0]] == ["first", "second"]


def test_jsonl_lines_end_at_newline_only(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    # U+2028, U+2029 and U+0085 are valid raw inside a JSON string; the file has CRLF endings
    first = json.dumps({"name": "a", "description": "one\u2028two\u2029three\x85four"}, ensure_ascii=False)
    path.write_text(f"{first}\r\n\r\n" + '{"name": "b", "tags": 3}\r\n', encoding="utf-8", newline="")
    with pytest.raises(ConfigError) as info:
        load_tools_file(path)
    assert info.value.problems == [f"{path}: line 3: tool 'b': tags: must be a list of strings"]
    tools, _ = load_tools_repairing(path)
    assert tools[0].description == "one\u2028two\u2029three\x85four"


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"name": "a"}\n{"name": "caf\xe9"}\n')
    for load in (load_tools_file, load_tools_repairing):
        with pytest.raises(ConfigError) as info:
            load(path)
        assert info.value.problems == [f"{path}:2: not UTF-8 text: invalid continuation byte (byte 0xe9)"]


def test_json_nested_too_deeply_is_invalid_json_of_its_line(tmp_path: Path) -> None:
    deep = '{"name": "deep", "parameters": {"type": "object", "properties": {"a": ' + "[" * 5000
    path = _jsonl(tmp_path / "c.jsonl", [{"name": "ok"}, deep + "]" * 5000 + "}}}"])
    tools, notes = load_tools_repairing(path)
    assert [t.name for t in tools] == ["ok"]
    assert notes == [f"{path}:2: invalid JSON: nested too deeply"]
    whole = tmp_path / "c.json"
    whole.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match="c.json: invalid JSON: nested too deeply"):
        load_tools_file(whole)


def test_ndjson_is_json_lines(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "c.ndjson", [{"name": "a", "description": "first"}, {"name": "b"}])
    assert [t.name for t in load_tools_file(path)] == ["a", "b"]
    assert [t.name for t in load_tools_dir(tmp_path)] == ["a", "b"]
