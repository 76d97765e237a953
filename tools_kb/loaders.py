"""Read tool definitions from files: JSON Lines (``.jsonl`` / ``.ndjson``, one tool per line),
YAML or JSON documents (a list of tools, or ``{"tools": [...]}``), and whole folders of them
(config/tools/). Files are UTF-8 (a leading byte-order mark is dropped); JSON Lines are split at
``\n`` only, so a U+2028 inside a JSON string stays in its line.

Every error names the file and line (JSONL) or the tool's position, then the tool and field:
``config/tools/crm.yaml: tools[3]: tool 'getLead': parameters.type: must be 'object'``.
Nothing is returned for a file with any invalid tool (all-or-nothing per file).

:func:`load_tools_repairing` is for measuring someone else's catalog (``switchboard tools
eval``): instead of rejecting the file, it drops what is invalid in a tool (an unknown field, a
malformed parameter schema or part of it, malformed tags) and says so, skipping only records that
cannot be a tool (invalid JSON, no valid name, a name already seen). Every record is either kept or
named in a note.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from core.config.yaml_source import parse_yaml
from core.errors import ConfigError
from tools_kb.tool import MAX_DESCRIPTION_CHARS, Tool, ToolValidationError, flat_definition, parse_tool

JSONL_SUFFIXES = (".jsonl", ".ndjson")
SUFFIXES = (*JSONL_SUFFIXES, ".json", ".yaml", ".yml")


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
        tool, repairs, failure = _parse_repairing(raw, where)
        notes.extend(f"{at}: {repair}" for repair in repairs)
        if tool is None:
            notes.append(f"{at}: {failure}: skipped")
        elif tool.name in seen:
            notes.append(f"{at}: tool {tool.name!r}: name: defined twice: skipped")
        else:
            seen.add(tool.name)
            tools.append(tool)
    if not tools:  # unreadable, not a list of tools, or nothing in it can be a tool
        raise ConfigError(problems + notes or [f"{path}: no tools"])
    return tools, problems + notes  # invalid JSON lines (JSONL) are skipped records too


def _parse_repairing(raw: object, where: str) -> tuple[Tool | None, list[str], str]:
    """Parse ``raw``, dropping each invalid part it holds until it is a tool. Returns the tool
    (None when the record cannot be one), the repairs (``tool 'x': a, b: unknown field:
    dropped``: the fields repaired for one problem, in the order met) and why the record was skipped (``''``
    when it was not). Every repair removes part of the record, so this ends; a repair that
    changes nothing skips the record."""
    body = flat_definition(raw) if isinstance(raw, Mapping) else raw
    dropped: dict[tuple[str, str], list[str]] = {}  # (tool, problem) -> fields
    tool: Tool | None = None
    failure = ""
    while tool is None and not failure:
        try:
            tool = parse_tool(body, where=where)
        except ToolValidationError as exc:
            repaired = _without(body, exc.field_path)
            if repaired is None or repaired == body:
                failure = exc.message
            else:
                cut = isinstance(repaired.get("description"), str) and repaired["description"] != ""
                verb = "cut to its first characters" if exc.field_path == "description" and cut else "dropped"
                dropped.setdefault((exc.tool, f"{exc.problem}: {verb}"), []).append(exc.field_path)
                body = repaired
    repairs = [
        f"tool {name!r}: {', '.join(fields)}: {problem}" for (name, problem), fields in dropped.items()
    ]
    return tool, repairs, failure


def _at(path: Path, where: str) -> str:
    """``file:line:col`` (YAML positions) or ``file: line N`` / ``file: tools[i]``."""
    return f"{path}:{'' if where[:1].isdigit() else ' '}{where}"


_PROPERTIES = "parameters.properties."


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
    elif field.startswith(_PROPERTIES) and isinstance(params, Mapping):
        # The property's name may hold dots itself ("sort.description"): repair the part that
        # is actually invalid, else drop the parameters.
        props = dict(params.get("properties") or {})
        name = field[len(_PROPERTIES) :]
        owner = name.removesuffix(".description")
        schema = props.get(owner)
        if (
            owner != name
            and isinstance(schema, Mapping)
            and not isinstance(schema.get("description"), str | None)
        ):
            props[owner] = {k: v for k, v in schema.items() if k != "description"}
        elif name in props:
            props[name] = {}
        else:
            return {**out, "parameters": None}
        out["parameters"] = {**params, "properties": props}
    elif top == "parameters":
        out["parameters"] = None
    elif top == "description":
        text = out.get("description")
        # too long: keep its head (the note says it was cut); not a string: drop it
        out["description"] = text[:MAX_DESCRIPTION_CHARS] if isinstance(text, str) else ""
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


def read_text(path: Path | str) -> str:
    """The file's text: UTF-8, a leading byte-order mark dropped. Raises ValueError naming the
    file: ``FILE: cannot read: REASON`` or ``FILE:LINE: not UTF-8 text: REASON (byte 0xNN)``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{path}:{line}: not UTF-8 text: {exc.reason} (byte 0x{data[exc.start]:02x})"
        ) from exc


def jsonl_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for each non-blank line of JSON Lines ``text``. Lines end at ``\n``
    only (a ``\r`` before it is dropped): ``str.splitlines`` would also cut at U+2028, U+2029
    or U+0085, which JSON allows raw inside strings."""
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            yield lineno, line


def json_line(line: str, where: str) -> Any:
    """One JSON Lines record; ``where`` is ``file:line``. Raises ValueError
    ``file:line:col: invalid JSON: REASON``; nesting too deep for the parser is invalid JSON too."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise ValueError(f"{where}: invalid JSON: nested too deeply") from exc


def _records(path: Path, problems: list[str]) -> Iterable[tuple[str, Any]]:
    try:
        text = read_text(path)
    except ValueError as exc:
        problems.append(str(exc))
        return
    if path.suffix in JSONL_SUFFIXES:
        for lineno, line in jsonl_lines(text):
            try:
                record = json_line(line, f"{path}:{lineno}")
            except ValueError as exc:
                problems.append(str(exc))
                continue
            yield f"line {lineno}", record
        return
    positions: dict[int, str] = {}
    if path.suffix == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}")
            return
        except RecursionError:
            problems.append(f"{path}: invalid JSON: nested too deeply")
            return
    else:
        try:
            ydoc = parse_yaml(text, str(path))  # positions + duplicate keys are errors
        except ConfigError as exc:
            problems.extend(exc.problems)
            return
        except RecursionError:
            problems.append(f"{path}: invalid YAML: nested too deeply")
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
