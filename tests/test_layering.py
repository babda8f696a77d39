"""knowledge/ is the domain: it imports nothing from bot/, actions/, Rasa or Telegram."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

FORBIDDEN = ("bot", "actions", "rasa", "rasa_sdk", "telegram")
KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(KNOWLEDGE.rglob("*.py")), ids=lambda p: str(p.relative_to(KNOWLEDGE)))
def test_knowledge_module_imports_no_delivery_code(path: Path) -> None:
    bad = sorted(m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN)
    assert not bad, f"{path.name} imports {bad}"


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom rasa_sdk import Action\n")
    assert "rasa_sdk" in imported_modules(sample)
