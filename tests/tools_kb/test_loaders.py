from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from tools_kb.loaders import load_tools_dir, load_tools_file


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
