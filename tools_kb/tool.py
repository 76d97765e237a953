"""The tool record the knowledge base stores, and its validation.

A tool is an OpenAI function schema (name, description, JSON-schema ``parameters``) plus ``tags``
and tenant visibility (``tenants=None``: every tenant sees it). ``parse_tool`` accepts either the
flat catalog form ``{"name", "description", "parameters", "tags", "tenants"}`` or OpenAI's
``{"type": "function", "function": {...}}`` and raises :class:`ToolValidationError` naming the
tool and the field when the definition is wrong.
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
_FLAT_KEYS = {"name", "description", "parameters", "tags", "tenants"}


class ToolValidationError(InvalidRequestError):
    """A tool definition is invalid; the message names the tool and the field."""

    code = "invalid_tool"

    def __init__(self, tool: str, field_path: str, problem: str) -> None:
        super().__init__(f"tool {tool!r}: {field_path}: {problem}", param=field_path)
        self.tool = tool
        self.field_path = field_path


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: Mapping[str, Any] | None = None
    tags: tuple[str, ...] = ()
    tenants: frozenset[str] | None = None  # None: visible to every tenant
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. the MCP server it came from

    def visible_to(self, tenant: str | None) -> bool:
        return self.tenants is None or (tenant is not None and tenant in self.tenants)

    def openai_schema(self) -> dict[str, Any]:
        """The tool as an entry of a chat request's ``tools`` list."""
        fn: dict[str, Any] = {"name": self.name, "description": self.description}
        fn["parameters"] = dict(self.parameters) if self.parameters else {"type": "object", "properties": {}}
        return {"type": "function", "function": fn}

    def to_json(self) -> dict[str, Any]:
        """The flat catalog form; ``parse_tool(tool.to_json()) == tool``."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "tags": list(self.tags),
        }
        if self.tenants is not None:
            out["tenants"] = sorted(self.tenants)
        return out

    def fingerprint(self) -> str:
        """Canonical JSON of everything that shapes the tool's document (for change detection)."""
        return json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False)


def flat_definition(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The flat form ``{"name", "description", "parameters", "tags", ...}`` of an OpenAI-style
    ``{"type": "function", "function": {...}}`` entry (``tags`` and ``tenants`` may sit beside
    ``function``); any other mapping unchanged."""
    fn = raw.get("function")
    if isinstance(fn, Mapping):
        return {**fn, **{k: raw[k] for k in ("tags", "tenants") if k in raw}}
    return raw


def parse_tool(raw: object, *, where: str = "") -> Tool:
    """Validate one definition. Raises ToolValidationError naming the tool and field."""
    label = where or "?"
    if not isinstance(raw, Mapping):
        raise ToolValidationError(label, "(tool)", "must be an object")
    if (raw.get("type") == "function" or "function" in raw) and not isinstance(raw.get("function"), Mapping):
        raise ToolValidationError(label, "function", "must be an object")
    body = flat_definition(raw)
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ToolValidationError(
            label if not isinstance(name, str) else name or label,
            "name",
            "must be a non-empty string without control characters or surrounding blanks (at most 256)",
        )
    unknown = set(body) - _FLAT_KEYS - {"strict"}
    if unknown:
        raise ToolValidationError(name, sorted(unknown)[0], "unknown field")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise ToolValidationError(name, "description", "must be a string")
    params = _check_parameters(name, body.get("parameters"))
    tags = _check_strings(name, "tags", body.get("tags") or [])
    tenants_raw = body.get("tenants")
    tenants = None if tenants_raw is None else frozenset(_check_strings(name, "tenants", tenants_raw))
    return Tool(name, description, params, tuple(tags), tenants)


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
