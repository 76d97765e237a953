from __future__ import annotations

from typing import Any

import pytest

from tools_kb.tool import Tool, ToolValidationError, parse_tool

BAD: list[tuple[str, Any, str]] = [
    ("not-an-object", ["x"], "(tool)"),
    ("missing-name", {"description": "d"}, "name"),
    ("blank-name", {"name": "  ", "description": "d"}, "name"),
    ("description-not-string", {"name": "t", "description": 3}, "description"),
    ("parameters-not-object", {"name": "t", "parameters": "x"}, "parameters"),
    ("parameters-type", {"name": "t", "parameters": {"type": "array"}}, "parameters.type"),
    (
        "property-not-object",
        {"name": "t", "parameters": {"type": "object", "properties": {"a": 1}}},
        "parameters.properties.a",
    ),
    (
        "required-unknown",
        {"name": "t", "parameters": {"type": "object", "properties": {}, "required": ["a"]}},
        "parameters.required",
    ),
    ("tags-not-list", {"name": "t", "tags": "x"}, "tags"),
    ("tenant-not-string", {"name": "t", "tenants": [1]}, "tenants[0]"),
    ("unknown-field", {"name": "t", "colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("raw", "field"), [(b[1], b[2]) for b in BAD], ids=[b[0] for b in BAD])
def test_invalid_definition_names_the_field(raw: Any, field: str) -> None:
    with pytest.raises(ToolValidationError) as info:
        parse_tool(raw)
    assert info.value.field_path == field
    assert field in info.value.message


def test_error_names_the_tool() -> None:
    with pytest.raises(ToolValidationError, match="tool 'getX'"):
        parse_tool({"name": "getX", "parameters": {"type": "string"}})


def test_openai_function_form_is_accepted() -> None:
    tool = parse_tool(
        {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}
    )
    assert tool == Tool("f", "d", {"type": "object"})


def test_round_trip_through_json() -> None:
    tool = Tool("f", "d", {"type": "object", "properties": {}}, ("a",), frozenset({"t1"}))
    assert parse_tool(tool.to_json()) == tool


def test_nested_tag_lists_are_flattened() -> None:
    assert parse_tool({"name": "t", "tags": ["a", ["b", "c"], ""]}).tags == ("a", "b", "c")


def test_openai_schema_has_parameters_even_when_none() -> None:
    schema = Tool("f", "d").openai_schema()
    assert schema["function"]["parameters"] == {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    ("tenants", "tenant", "visible"),
    [
        (None, None, True),
        (None, "a", True),
        (frozenset({"a"}), "a", True),
        (frozenset({"a"}), "b", False),
        (frozenset({"a"}), None, False),
    ],
    ids=["public-anon", "public-tenant", "own", "other", "private-anon"],
)
def test_visibility(tenants: frozenset[str] | None, tenant: str | None, visible: bool) -> None:
    assert Tool("t", "", tenants=tenants).visible_to(tenant) is visible
