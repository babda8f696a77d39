"""YAML loading that remembers where every value came from.

Validation reports problems as ``file:line: message``; PyYAML's plain ``safe_load`` forgets
positions, so we compose the node tree ourselves and record the line of every node under its
path (``("faults", 0, "cues", 1)``) while constructing ordinary Python values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge.db import PROJECT_ROOT

PathKey = tuple[Any, ...]

try:  # the C loader is much faster on large files; fall back to pure Python
    _Loader: type = yaml.CSafeLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader


def display_path(path: Path | str) -> str:
    """``path`` relative to the project root when it lies inside it, otherwise as given."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


@dataclass
class YamlProblem:
    """A syntax problem found while parsing (line is 1-based)."""

    line: int
    message: str


@dataclass
class LocatedDocument:
    """A parsed YAML document plus the 1-based line of every node, keyed by its path."""

    path: Path
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)
    # Lines of mapping keys (a missing-field error points at the mapping, a wrong value at the value).
    key_lines: dict[PathKey, int] = field(default_factory=dict)
    problems: list[YamlProblem] = field(default_factory=list)

    @property
    def display(self) -> str:
        return display_path(self.path)

    def line(self, key: PathKey) -> int:
        """Line of the node at ``key``, or of its nearest ancestor that has one."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)


def _construct(loader: Any, node: yaml.Node, key: PathKey, doc: LocatedDocument) -> Any:
    doc.lines[key] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            name = loader.construct_object(key_node, deep=True)
            try:
                hash(name)
            except TypeError:
                doc.problems.append(YamlProblem(key_node.start_mark.line + 1, "a mapping key must be a plain value"))
                continue
            if name in result:
                doc.problems.append(
                    YamlProblem(
                        key_node.start_mark.line + 1,
                        f"duplicate key '{name}' (first at line {doc.key_lines[key + (name,)]})",
                    )
                )
                continue
            doc.key_lines[key + (name,)] = key_node.start_mark.line + 1
            result[name] = _construct(loader, value_node, key + (name,), doc)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, key + (index,), doc) for index, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_located(path: Path) -> LocatedDocument:
    """Parse ``path``; syntax errors become :class:`YamlProblem` entries, never exceptions."""
    doc = LocatedDocument(path=path, data=None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        doc.problems.append(YamlProblem(1, f"cannot read file: {exc.__class__.__name__}: {exc}"))
        return doc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _construct(loader, node, (), doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        doc.problems.append(YamlProblem(line, f"YAML syntax error: {problem}"))
        doc.data = None
    except yaml.YAMLError as exc:
        doc.problems.append(YamlProblem(1, f"YAML error: {exc}".splitlines()[0]))
        doc.data = None
    finally:
        loader.dispose()
    return doc

