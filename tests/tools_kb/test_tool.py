from __future__ import annotations

from typing import Any

import pytest

from tools_kb.tool import MAX_DESCRIPTION_CHARS, Tool, ToolValidationError, parse_tool

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
    ("tenants-empty", {"name": "t", "tenants": []}, "tenants"),
    ("tenants-all-blank", {"name": "t", "tenants": ["", "  "]}, "tenants"),
    ("strict-not-boolean", {"name": "t", "strict": "yes"}, "strict"),
    ("description-too-long", {"name": "t", "description": "x" * (MAX_DESCRIPTION_CHARS + 1)}, "description"),
    ("function-not-object", {"type": "function", "function": "t"}, "function"),
    ("not-a-function-tool", {"type": "web_search", "name": "t"}, "type"),
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


def test_empty_tenants_say_how_to_make_a_tool_public() -> None:
    with pytest.raises(ToolValidationError) as info:
        parse_tool({"name": "hidden", "tenants": [" "]})
    assert info.value.message == (
        "tool 'hidden': tenants: must name at least one tenant; leave it out for a public tool"
    )


def test_description_at_the_limit_is_accepted() -> None:
    assert len(parse_tool({"name": "t", "description": "x" * MAX_DESCRIPTION_CHARS}).description) == (
        MAX_DESCRIPTION_CHARS
    )


def test_function_not_object_says_which_shapes_are_expected() -> None:
    with pytest.raises(ToolValidationError, match='"type": "function", "function": {"name"'):
        parse_tool({"type": "function", "function": ["resp_style"]})


PARAMS = {"type": "object", "properties": {"q": {"type": "string"}}}
FORMS: list[tuple[str, dict[str, Any]]] = [
    ("flat", {"name": "f", "description": "d", "parameters": PARAMS, "strict": True}),
    (
        "chat-completions",
        {
            "type": "function",
            "function": {"name": "f", "description": "d", "parameters": PARAMS, "strict": True},
        },
    ),
    (
        "responses",
        {"type": "function", "name": "f", "description": "d", "parameters": PARAMS, "strict": True},
    ),
]


@pytest.mark.parametrize("raw", [f[1] for f in FORMS], ids=[f[0] for f in FORMS])
def test_every_form_gives_the_same_tool_with_strict(raw: dict[str, Any]) -> None:
    assert parse_tool(raw) == Tool("f", "d", PARAMS, strict=True)


def test_strict_goes_into_the_openai_schema_and_survives_json() -> None:
    tool = Tool("f", "d", PARAMS, strict=True)
    assert tool.openai_schema()["function"]["strict"] is True
    assert parse_tool(tool.to_json()) == tool


def test_strict_left_out_stays_out() -> None:
    tool = parse_tool({"name": "f"})
    assert tool.strict is None
    assert "strict" not in tool.to_json() and "strict" not in tool.openai_schema()["function"]


LOCATED: list[tuple[str, Any, str]] = [
    (
        "chat-completions",
        {"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}},
        "tools[2].function.parameters.type",
    ),
    ("flat", {"name": "f", "parameters": {"type": "array"}}, "tools[2].parameters.type"),
    (
        "responses",
        {"type": "function", "name": "f", "parameters": {"type": "array"}},
        "tools[2].parameters.type",
    ),
    (
        "name-missing-in-function",
        {"type": "function", "function": {"description": "d"}},
        "tools[2].function.name",
    ),
    (
        "tenants-beside-function",
        {"type": "function", "function": {"name": "f"}, "tenants": []},
        "tools[2].tenants",
    ),
    ("entry-not-object", "f", "tools[2]"),
]


@pytest.mark.parametrize(("raw", "param"), [(c[1], c[2]) for c in LOCATED], ids=[c[0] for c in LOCATED])
def test_located_error_names_the_field_in_the_request(raw: Any, param: str) -> None:
    with pytest.raises(ToolValidationError) as info:
        parse_tool(raw, where="tools[2]")
    located = info.value.located("tools[2]", raw)
    assert located.param == param and located.field_path == param
    assert located.message.endswith(f"{param}: {info.value.problem}")
