"""The tool record the knowledge base stores, and its validation.

A tool is an OpenAI function schema (name, description, JSON-schema ``parameters``, optional
``strict``) plus ``tags`` and tenant visibility (``tenants=None``: every tenant sees it).
``parse_tool`` accepts the flat catalog form ``{"name", "description", "parameters", "strict",
"tags", "tenants"}`` (also with ``"type": "function"`` beside, as the Responses API writes
function tools) or Chat Completions' ``{"type": "function", "function": {...}}`` and raises
:class:`ToolValidationError` naming the tool and the field when the definition is wrong.
A description holds at most :data:`MAX_DESCRIPTION_CHARS` characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidRequestError

# Catalog names may be richer than OpenAI function names (``dmis-lab/biobert-v1.1``, even
# ``requestFirst Aid Assistance`` in Seal-Tools): no control characters, no surrounding blanks.
_NAME = re.compile(r"^(?=\S)[^\x00-\x1f]{1,256}(?<=\S)$")
_FLAT_KEYS = {"name", "description", "parameters", "strict", "tags", "tenants"}
# Generous: the public catalogs' longest description is ~1,100 characters. Every search result
# and every chat request the tool is added to carries the description.
MAX_DESCRIPTION_CHARS = 16_384
_SHAPES = (
    'must be an object: {"type": "function", "function": {"name": ..., "description": ..., '
    '"parameters": {...}}}, or name, description and parameters beside "type": "function"'
)


class ToolValidationError(InvalidRequestError):
    """A tool definition is invalid; the message names the tool and the field."""

    code = "invalid_tool"

    def __init__(self, tool: str, field_path: str, problem: str) -> None:
        super().__init__(f"tool {tool!r}: {field_path}: {problem}", param=field_path)
        self.tool = tool
        self.field_path = field_path
        self.problem = problem

    def located(self, entry: str, raw: object) -> ToolValidationError:
        """The same problem with ``field_path`` inside a request's list entry ``entry`` (e.g.
        ``tools[3]``) whose definition is ``raw``: ``tools[3].function.parameters.type`` for
        Chat Completions' wrapped form, ``tools[3].parameters.type`` for the flat form, and
        ``tools[3]`` when the entry itself is wrong."""
        head = self.field_path.split(".", 1)[0].split("[", 1)[0]
        if head == "(tool)":
            return ToolValidationError(self.tool, entry, self.problem)
        fn = raw.get("function") if isinstance(raw, Mapping) else None
        # a field of the function object (or missing from it), unless it sits beside it (tags)
        in_fn = isinstance(fn, Mapping) and isinstance(raw, Mapping) and (head in fn or head not in raw)
        path = f"{entry}.function.{self.field_path}" if in_fn else f"{entry}.{self.field_path}"
        return ToolValidationError(self.tool, path, self.problem)


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: Mapping[str, Any] | None = None
    tags: tuple[str, ...] = ()
    tenants: frozenset[str] | None = None  # None: visible to every tenant
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. the MCP server it came from
    strict: bool | None = None  # OpenAI's structured-outputs flag; None: not given, not sent

    def visible_to(self, tenant: str | None) -> bool:
        return self.tenants is None or (tenant is not None and tenant in self.tenants)

    def openai_schema(self) -> dict[str, Any]:
        """The tool as an entry of a chat request's ``tools`` list."""
        fn: dict[str, Any] = {"name": self.name, "description": self.description}
        fn["parameters"] = dict(self.parameters) if self.parameters else {"type": "object", "properties": {}}
        if self.strict is not None:
            fn["strict"] = self.strict
        return {"type": "function", "function": fn}

    def to_json(self) -> dict[str, Any]:
        """The flat catalog form; ``parse_tool(tool.to_json()) == tool``."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "tags": list(self.tags),
        }
        if self.strict is not None:  # absent when not given: stored JSON of older tools is unchanged
            out["strict"] = self.strict
        if self.tenants is not None:
            out["tenants"] = sorted(self.tenants)
        return out

    def fingerprint(self) -> str:
        """Canonical JSON of everything that shapes the tool's document (for change detection)."""
        return json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False)


def flat_definition(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The flat form ``{"name", "description", "parameters", "tags", ...}`` of an OpenAI-style
    ``{"type": "function", "function": {...}}`` entry (``tags`` and ``tenants`` may sit beside
    ``function``), or of a flat entry marked ``"type": "function"`` (the Responses API's form),
    without that marker; any other mapping unchanged."""
    fn = raw.get("function")
    if isinstance(fn, Mapping):
        return {**fn, **{k: raw[k] for k in ("tags", "tenants") if k in raw}}
    if raw.get("type") == "function":
        return {k: v for k, v in raw.items() if k != "type"}
    return raw


def parse_tool(raw: object, *, where: str = "") -> Tool:
    """Validate one definition (any form of the module docstring). Raises ToolValidationError
    naming the tool (``where`` until the name is known) and the field: a ``type`` other than
    ``"function"``, a ``function`` that is not an object, an unknown field, a description longer
    than :data:`MAX_DESCRIPTION_CHARS`, a non-boolean ``strict``, an empty ``tenants`` list
    (after blanks are dropped), a malformed parameter schema, tag or tenant."""
    label = where or "?"
    if not isinstance(raw, Mapping):
        raise ToolValidationError(label, "(tool)", "must be an object")
    if "type" in raw and raw["type"] != "function":
        raise ToolValidationError(
            label, "type", f"must be 'function' (only function tools), got {raw['type']!r}"
        )
    if "function" in raw and not isinstance(raw["function"], Mapping):
        raise ToolValidationError(label, "function", _SHAPES)
    body = flat_definition(raw)
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ToolValidationError(
            label if not isinstance(name, str) else name or label,
            "name",
            "must be a non-empty string without control characters or surrounding blanks (at most 256)",
        )
    unknown = set(body) - _FLAT_KEYS
    if unknown:
        raise ToolValidationError(name, sorted(unknown)[0], "unknown field")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise ToolValidationError(name, "description", "must be a string")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise ToolValidationError(
            name, "description", f"must be at most {MAX_DESCRIPTION_CHARS} characters, got {len(description)}"
        )
    strict = body.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise ToolValidationError(name, "strict", "must be true or false")
    params = _check_parameters(name, body.get("parameters"))
    tags = _check_strings(name, "tags", body.get("tags") or [])
    tenants = _check_tenants(name, body.get("tenants"))
    return Tool(name, description, params, tuple(tags), tenants, strict=strict)


def _check_tenants(name: str, value: object) -> frozenset[str] | None:
    """None (public) when not given; else a non-empty set: an empty list would hide the tool from
    everyone."""
    if value is None:
        return None
    tenants = _check_strings(name, "tenants", value)
    if not tenants:
        raise ToolValidationError(
            name, "tenants", "must name at least one tenant; leave it out for a public tool"
        )
    return frozenset(tenants)


def _check_strings(name: str, field_name: str, value: object) -> list[str]:
    if not isinstance(value, list | tuple):
        raise ToolValidationError(name, field_name, "must be a list of strings")
    out: list[str] = []
    for i, item in enumerate(value):
        # One level of nesting is flattened (some catalogs group tags in sub-lists).
        items = item if isinstance(item, list) else [item]
        for sub in items:
            if not isinstance(sub, str):
                raise ToolValidationError(name, f"{field_name}[{i}]", "must be a string")
            if sub.strip():  # blank entries carry nothing; drop them
                out.append(sub.strip())
    return out


def _check_parameters(name: str, params: object) -> Mapping[str, Any] | None:
    if params is None:
        return None
    if not isinstance(params, Mapping):
        raise ToolValidationError(name, "parameters", "must be a JSON-schema object or null")
    kind = params.get("type", "object")
    if kind != "object":
        raise ToolValidationError(name, "parameters.type", f"must be 'object', got {kind!r}")
    props = params.get("properties", {})
    if not isinstance(props, Mapping):
        raise ToolValidationError(name, "parameters.properties", "must be an object")
    for pname, schema in props.items():
        if not isinstance(schema, Mapping):
            raise ToolValidationError(name, f"parameters.properties.{pname}", "must be an object")
        desc = schema.get("description")
        if desc is not None and not isinstance(desc, str):
            raise ToolValidationError(name, f"parameters.properties.{pname}.description", "must be a string")
        # YAML flow style cuts "{description: City name, e.g. Paris}" at the comma, leaving a
        # key "e.g. Paris" without a value; no JSON-schema keyword holds a blank.
        stray = next((k for k, v in schema.items() if v is None and any(c.isspace() for c in str(k))), None)
        if stray is not None:
            raise ToolValidationError(
                name,
                f"parameters.properties.{pname}",
                f"key {stray!r} has no value: text cut at a comma? (quote text that holds a comma in "
                "YAML flow style)",
            )
    required = params.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise ToolValidationError(name, "parameters.required", "must be a list of strings")
    missing = [r for r in required if r not in props]
    if missing:
        raise ToolValidationError(name, "parameters.required", f"names unknown properties {missing}")
    return params
