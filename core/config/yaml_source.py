"""YAML with positions: load a document and remember where every value came from.

PyYAML silently keeps the last of two equal keys; here a duplicate key is an error. Every node's
start mark is kept by its path in the document, so a validation error on
``policies[1].constraints.max_cost`` can be reported as ``file:23:9``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """Plain Python data plus the position of every mapping value and sequence item."""

    source: str  # a path or "<string>"
    data: Any
    positions: dict[Loc, Position]

    def position_of(self, loc: Loc) -> Position:
        """The position of ``loc`` or of its nearest ancestor that has one."""
        probe = tuple(loc)
        while probe:
            pos = self.positions.get(probe)
            if pos is not None:
                return pos
            probe = probe[:-1]
        return self.positions.get((), Position(1, 1))

    def problem(self, loc: Loc, message: str) -> str:
        pos = self.position_of(loc)
        where = format_loc(loc) or "<document>"
        return f"{self.source}:{pos.line}:{pos.column}: {where}: {message}"


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _pos(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.positions: dict[Loc, Position] = {}
        self.problems: list[str] = []
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.positions[loc] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            first_seen: dict[Any, Position] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.problems.append(self._at(key_node, loc, "YAML merge keys (<<) are not supported"))
                    continue
                key = self._constructor.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)):
                    self.problems.append(self._at(key_node, loc, "mapping keys must be scalars"))
                    continue
                if key in first_seen:
                    prev = first_seen[key]
                    self.problems.append(
                        self._at(key_node, (*loc, str(key)),
                                 f"duplicate key {key!r} (first defined at line {prev.line})")
                    )
                    continue
                first_seen[key] = _pos(key_node)
                out[key] = self.build(value_node, (*loc, str(key)))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return self._constructor.construct_object(node, deep=True)

    def _at(self, node: yaml.Node, loc: Loc, message: str) -> str:
        pos = _pos(node)
        return f"{self.source}:{pos.line}:{pos.column}: {format_loc(loc) or '<document>'}: {message}"


def parse_yaml(text: str, source: str = "<string>") -> YamlDocument:
    """Parse one YAML document. Raises ConfigError (with file:line:col) on syntax errors and
    duplicate keys. An empty document is an empty mapping."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ConfigError([f"{source}:{line}:{col}: <document>: {exc.problem or exc}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}:1:1: <document>: {exc}"]) from exc
    if node is None:
        return YamlDocument(source, {}, {(): Position(1, 1)})
    builder = _Builder(source)
    try:
        data = builder.build(node, ())
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}:1:1: <document>: {exc}"]) from exc
    if builder.problems:
        raise ConfigError(builder.problems)
    return YamlDocument(source, data, builder.positions)


def load_yaml_file(path: str | Path) -> YamlDocument:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{p}:1:1: <document>: cannot read file: {exc.strerror}"]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{p}:1:1: <document>: file is not valid UTF-8"]) from exc
    return parse_yaml(text, str(p))
