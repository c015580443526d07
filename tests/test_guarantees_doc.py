"""docs/guarantees.md names, for each guarantee, the tests that check it: they must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_test_named_by_the_guarantees_exists() -> None:
    text = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    named = re.findall(r"`([\w/]+\.py)::(\w+)`", text)
    assert len(named) >= 20
    missing = [
        f"{file}::{name}"
        for file, name in named
        if not (ROOT / "tests" / file).exists() or name not in _tests_in(ROOT / "tests" / file)
    ]
    assert missing == []


def test_every_guarantee_names_a_test() -> None:
    text = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.startswith("**")]
    assert paragraphs
    untested = [p.split("**")[1] for p in paragraphs if "::" not in p]
    assert untested == []
