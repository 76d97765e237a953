from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from tools_kb.loaders import load_tools_dir, load_tools_file, load_tools_repairing


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
        "c.jsonl: line 2: tool 'b': api_call: unknown field: dropped",
        "c.jsonl: line 2: tool 'b': category: unknown field: dropped",
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
