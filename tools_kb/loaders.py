"""Read tool definitions from files: JSON Lines (one tool per line), YAML or JSON documents
(a list of tools, or ``{"tools": [...]}``), and whole folders of them (config/tools/).

Every error names the file and line (JSONL) or the tool's position, then the tool and field:
``config/tools/crm.yaml: tools[3]: tool 'getLead': parameters.type: must be 'object'``.
Nothing is returned for a file with any invalid tool (all-or-nothing per file).

:func:`load_tools_repairing` is for measuring someone else's catalog (``switchboard tools
eval``): instead of rejecting the file, it drops what is invalid in a tool (an unknown field, a
malformed parameter schema or part of it, malformed tags) and says so, skipping only records that
cannot be a tool (invalid JSON, no valid name, a name already seen).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core.config.yaml_source import parse_yaml
from core.errors import ConfigError
from tools_kb.tool import Tool, ToolValidationError, flat_definition, parse_tool

SUFFIXES = (".jsonl", ".json", ".yaml", ".yml")


def load_tools_file(path: Path | str) -> list[Tool]:
    """All tools in one file. Raises ConfigError listing every invalid tool (file + position)."""
    path = Path(path)
    problems: list[str] = []
    tools: list[Tool] = []
    for where, raw in _records(path, problems):
        try:
            tools.append(parse_tool(raw, where=where))
        except ToolValidationError as exc:
            problems.append(f"{_at(path, where)}: {exc.message}")
    seen: set[str] = set()
    for tool in tools:
        if tool.name in seen:
            problems.append(f"{path}: tool {tool.name!r}: name: defined twice in this file")
        seen.add(tool.name)
    if problems:
        raise ConfigError(problems)
    return tools


def load_tools_repairing(path: Path | str) -> tuple[list[Tool], list[str]]:
    """All tools in one file that can be tools, and a message per repair or skip (file +
    position, tool, field, what was done). Raises ConfigError only when the file cannot be read
    or parsed as a whole."""
    path = Path(path)
    problems: list[str] = []
    notes: list[str] = []
    tools: list[Tool] = []
    seen: set[str] = set()
    for where, raw in _records(path, problems):
        at = _at(path, where)
        body = flat_definition(raw) if isinstance(raw, Mapping) else raw
        for _ in range(16):  # each pass repairs one field
            try:
                tool = parse_tool(body, where=where)
            except ToolValidationError as exc:
                repaired = _without(body, exc.field_path)
                if repaired is None:
                    notes.append(f"{at}: {exc.message}: skipped")
                    break
                notes.append(f"{at}: {exc.message}: dropped")
                body = repaired
                continue
            if tool.name in seen:
                notes.append(f"{at}: tool {tool.name!r}: name: defined twice: skipped")
            else:
                seen.add(tool.name)
                tools.append(tool)
            break
    if not tools:  # unreadable, not a list of tools, or nothing in it can be a tool
        raise ConfigError(problems + notes or [f"{path}: no tools"])
    return tools, problems + notes  # invalid JSON lines (JSONL) are skipped records too


def _at(path: Path, where: str) -> str:
    """``file:line:col`` (YAML positions) or ``file: line N`` / ``file: tools[i]``."""
    return f"{path}:{'' if where[:1].isdigit() else ' '}{where}"


def _without(body: Any, field: str) -> dict[str, Any] | None:
    """``body`` without the invalid ``field`` (as ToolValidationError names it), or None when
    the record cannot be a tool (not an object, no valid name)."""
    top = field.split(".")[0].split("[")[0]
    if not isinstance(body, Mapping) or top in {"name", "(tool)", "function"}:
        return None
    out = dict(body)
    params = out.get("parameters")
    if field == "parameters.required" and isinstance(params, Mapping):
        props = params.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = params.get("required")
        kept = (
            [r for r in required if isinstance(r, str) and r in props] if isinstance(required, list) else []
        )
        out["parameters"] = {**params, "required": kept}
    elif field.startswith("parameters.properties.") and isinstance(params, Mapping):
        name = field[len("parameters.properties.") :].removesuffix(".description")
        props = dict(params.get("properties") or {})
        schema = props.get(name)
        if field.endswith(".description") and isinstance(schema, Mapping):
            props[name] = {k: v for k, v in schema.items() if k != "description"}
        else:
            props[name] = {}
        out["parameters"] = {**params, "properties": props}
    elif top == "parameters":
        out["parameters"] = None
    elif top == "description":
        out["description"] = ""
    else:  # tags, tenants, an unknown field
        out.pop(top, None)
    return out


def load_tools_dir(folder: Path | str) -> list[Tool]:
    """Every tool file in ``folder`` (sorted by name, not recursive). A name defined in two
    files is an error."""
    folder = Path(folder)
    tools: list[Tool] = []
    problems: list[str] = []
    origin: dict[str, Path] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file()):
        try:
            loaded = load_tools_file(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        for tool in loaded:
            if tool.name in origin:
                problems.append(f"{path}: tool {tool.name!r}: name: already defined in {origin[tool.name]}")
                continue
            origin[tool.name] = path
            tools.append(tool)
    if problems:
        raise ConfigError(problems)
    return tools


def _records(path: Path, problems: list[str]) -> Iterable[tuple[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return
    if path.suffix == ".jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield f"line {lineno}", json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{lineno}:{exc.colno}: invalid JSON: {exc.msg}")
        return
    positions: dict[int, str] = {}
    if path.suffix == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}")
            return
    else:
        try:
            ydoc = parse_yaml(text, str(path))  # positions + duplicate keys are errors
        except ConfigError as exc:
            problems.extend(exc.problems)
            return
        doc = ydoc.data
        prefix: tuple[str | int, ...] = ("tools",) if isinstance(doc, dict) else ()
        if isinstance(doc, dict | list):
            items_probe = doc.get("tools") if isinstance(doc, dict) else doc
            for i in range(len(items_probe) if isinstance(items_probe, list) else 0):
                pos = ydoc.position_of((*prefix, i))
                positions[i] = f"{pos.line}:{pos.column}: "
    items = doc.get("tools") if isinstance(doc, dict) else doc
    if items is None:
        return
    if not isinstance(items, list):
        problems.append(f"{path}: expected a list of tools or {{tools: [...]}}")
        return
    for i, raw in enumerate(items):
        yield f"{positions.get(i, '')}tools[{i}]", raw
