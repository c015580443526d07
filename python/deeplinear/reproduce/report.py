"""Writing the reproduction report: report.md, results.json and the figures."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from .claims import Claim

__all__ = ["json_safe", "markdown_table", "versions", "write_report"]


def json_safe(value: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays converted, NaN and ±inf as None (null)."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def versions(figures: bool | None = None) -> dict[str, str]:
    """Versions of deeplinear, Python and the libraries the report used: matplotlib where
    ``figures`` were drawn (None: where this process imported it; figures drawn by worker
    processes are not)."""
    import scipy
    import tqdm

    import deeplinear

    found = {
        "deeplinear": deeplinear.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "tqdm": tqdm.__version__,
    }
    if figures or (figures is None and "matplotlib" in sys.modules):
        found["matplotlib"] = importlib.metadata.version("matplotlib")
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _verdict(claim: Claim) -> str:
    return "PASS" if claim.passed else "FAIL"


def markdown_table(claims: list[Claim]) -> str:
    """The claims table: one row per claim — the claim, the paper's section and statement, the
    setup, what was observed, the criterion and PASS/FAIL."""
    lines = [
        "| # | claim | paper | setup | observed | criterion | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for index, claim in enumerate(claims, 1):
        cells = [
            str(index),
            claim.title,
            f"**{claim.section}.** {claim.statement}",
            claim.setup,
            claim.observed,
            claim.criterion,
            f"**{_verdict(claim)}**",
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def _write_text(path: Path, text: str) -> None:
    """Write atomically, with the permissions an ordinary open() would give (umask applied)."""
    with atomic_write(path, "w") as stream:
        stream.write(text)
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)


def write_report(
    claims: list[Claim],
    out: Path,
    *,
    quick: bool,
    seed: int,
    seconds: float,
    command: str,
    drawn: tuple[list[str], str] | None = None,
) -> list[str]:
    """Write report.md, results.json and the figures into ``out``; return the figure names.

    ``drawn``: (names, note) of figures already in ``out`` (then none are drawn here)."""
    from .figures import make_figures

    figures, figure_note = drawn if drawn is not None else make_figures(claims, out)
    found = versions(figures=bool(figures))
    passed = sum(claim.passed for claim in claims)
    command = command or "deeplinear reproduce"
    lines = [
        "# Reproduction of Bartlett, Helmbold & Long (ICML 2018) by deeplinear",
        "",
        "*Gradient descent with identity initialization efficiently learns positive definite "
        "linear transformations by deep residual networks.* Each row is one claim of the paper, "
        "checked by a numerical experiment run just now; the verdict follows the criterion in "
        "the row (bounds and invariants of the paper with stated float64 tolerances).",
        "",
        f"**{passed} of {len(claims)} claims PASS**"
        + (" (quick run)" if quick else "")
        + f" — `{command}`, seed {seed}, {seconds:.1f} s.",
        "",
        markdown_table(claims),
        "",
    ]
    for index, claim in enumerate(claims, 1):
        lines += [
            f"## {index}. {claim.title} — {_verdict(claim)}",
            "",
            f"**{claim.section}.** {claim.statement}",
            "",
            f"*Setup.* {claim.setup}",
            "",
            f"*Observed.* {claim.observed}",
            "",
            f"*Criterion.* {claim.criterion} → **{_verdict(claim)}**.",
            "",
        ]
        if claim.notes:
            lines += [f"*What it means.* {claim.notes}", ""]
        for name in figures:
            if name.startswith(claim.name + "_"):
                lines += [f"![{claim.title}]({name})", ""]
        lines += [f"<sub>{claim.seconds:.2f} s</sub>", ""]
    lines += [
        "## Figures",
        "",
        figure_note,
        "",
        "## How this report was made",
        "",
        f"- command: `{command}`",
        f"- seed: {seed}; quick: {'yes' if quick else 'no'}; run time: {seconds:.1f} s "
        "(" + ", ".join(f"{claim.name} {claim.seconds:.1f} s" for claim in claims) + ")",
        "- versions: " + ", ".join(f"{name} {version}" for name, version in found.items()),
        f"- machine: {platform.platform()}, {os.cpu_count()} CPUs",
        "",
    ]
    _write_text(out / "report.md", "\n".join(lines))
    results = {
        "passed": passed == len(claims),
        "claims_passed": passed,
        "claims_total": len(claims),
        "seed": seed,
        "quick": quick,
        "seconds": seconds,
        "command": command,
        "versions": found,
        "figures": figures,
        "figure_note": figure_note,
        "claims": [
            {
                "name": claim.name,
                "title": claim.title,
                "section": claim.section,
                "statement": claim.statement,
                "setup": claim.setup,
                "observed": claim.observed,
                "criterion": claim.criterion,
                "passed": claim.passed,
                "notes": claim.notes,
                "seconds": claim.seconds,
                "numbers": claim.numbers,
            }
            for claim in claims
        ],
    }
    _write_text(
        out / "results.json",
        json.dumps(json_safe(results), indent=1, ensure_ascii=False, allow_nan=False) + "\n",
    )
    return figures
