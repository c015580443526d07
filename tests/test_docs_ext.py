"""docs/_ext/deeplinear_docs.py, the documentation's own Sphinx helpers: the notation's sub- and
superscripts, the escaping of |x| in docstrings, and the command list read from --help."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs" / "_ext"))
import deeplinear_docs as ext


def _render(text: str) -> str | None:
    pieces = ext.script_nodes(text)
    if pieces is None:
        return None
    marks = {"subscript": "_[{}]", "superscript": "^[{}]"}
    return "".join(marks.get(p.tagname, "{}").format(p.astext()) for p in pieces)


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("Θ_{1:L} − Φ", "Θ_[1:L] − Φ"),
        ("‖·‖_F²", "‖·‖_[F]²"),
        ("σ_min(Θ_i)", "σ_[min](Θ_[i])"),
        ("a_k^{L−1}", "a_[k]^[L−1]"),
        ("(1 − a)^{2L} and a^L", "(1 − a)^[2L] and a^[L]"),
        ("ηG_i", "ηG_[i]"),
        ("H_γ", "H_[γ]"),
    ],
)
def test_the_notation_gets_real_scripts(text: str, rendered: str) -> None:
    assert _render(text) == rendered


@pytest.mark.parametrize("text", ["record_every", "max_steps", "x_0y", "test_gemm.py", "2^10"])
def test_identifiers_stay_as_they_are(text: str) -> None:
    assert _render(text) is None


def test_absolute_values_are_escaped_outside_literals() -> None:
    lines = ["0 ≤ |b| < a and ``x|y``", "Example::", "", "    a | b", "after |c|"]
    ext.escape_bars(lines)
    assert lines == ["0 ≤ \\|b\\| < a and ``x|y``", "Example::", "", "    a | b", "after \\|c\\|"]


def test_the_commands_are_read_from_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    from deeplinear.cli import main

    commands = ext.cli_commands()
    assert {"reproduce", "train", "sweep", "demo"} <= set(commands)
    for command in commands:  # each is a real command with its own help
        assert main([command, "--help"]) == 0
        assert capsys.readouterr().out.startswith(f"usage: deeplinear {command}")
