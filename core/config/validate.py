"""Validate a positioned YAML document into a frozen pydantic model, compiler-style errors."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from core.config.models import LocatedError
from core.config.yaml_source import YamlDocument, load_yaml_file, parse_yaml
from core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def validate_document(doc: YamlDocument, model: type[M]) -> M:
    """Raises ConfigError whose problems read ``path:line:col: dotted.path: message``."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            raw_loc = tuple(err["loc"])
            msg = err["msg"]
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, LocatedError):
                # a model validator's cross-field error: point at the offending item
                raw_loc += cause.loc
                msg = str(cause)
            loc = _document_loc(doc.data, raw_loc)
            problems.append(doc.problem(loc, msg))
        raise ConfigError(problems) from exc


def _document_loc(data: object, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop the parts pydantic adds that are not in the document (a discriminated union's tag,
    validator names), keeping the path as the user wrote it."""
    out: list[str | int] = []
    node = data
    parts = list(loc)
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(node, dict) and isinstance(part, str):
            if part in node:
                out.append(part)
                node = node[part]
            elif i + 1 < len(parts) and isinstance(parts[i + 1], str) and parts[i + 1] in node:
                pass  # a union tag in loc: skip it
            else:
                out.append(part)  # a missing field: report it at its parent
                node = None
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif node is None or not isinstance(part, str) or i + 1 >= len(parts):
            out.append(part)
            node = None
        i += 1
    return tuple(out)


def load_model_file(path: str | Path, model: type[M]) -> M:
    return validate_document(load_yaml_file(path), model)


def load_model_text(text: str, model: type[M], source: str = "<string>") -> M:
    return validate_document(parse_yaml(text, source), model)
