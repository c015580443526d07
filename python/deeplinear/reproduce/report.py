"""Writing the reproduction report: report.md, results.json and the figures."""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from .claims import Claim

__all__ = ["json_safe", "write_report"]


def json_safe(value: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays converted, NaN and ±inf as null."""
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
    return value


def _atomic_write(path: Path, text: str) -> None:
    with atomic_write(path, "w") as stream:
        stream.write(text)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(
    claims: list[Claim], out: Path, *, quick: bool, seed: int, seconds: float, command: str
) -> list[str]:
    """Write report.md, results.json and figures; return the figure file names."""
    import deeplinear

    from .figures import make_figures

    figures, figure_note = make_figures(claims, out)
    passed = sum(claim.passed for claim in claims)
    lines = [
        "# deeplinear reproduction of Bartlett, Helmbold & Long (ICML 2018)",
        "",
        f"**{passed} of {len(claims)} claims PASS**"
        + (" (quick run)" if quick else "")
        + f" — seed {seed}, {seconds:.1f} s.",
        "",
        "| # | claim | paper | observed | criterion | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for index, claim in enumerate(claims, 1):
        lines.append(
            f"| {index} | {_cell(claim.title)} | {_cell(claim.section)} | {_cell(claim.observed)} "
            f"| {_cell(claim.criterion)} | **{'PASS' if claim.passed else 'FAIL'}** |"
        )
    lines.append("")
    for index, claim in enumerate(claims, 1):
        lines += [
            f"## {index}. {claim.title} ({claim.section}) — {'PASS' if claim.passed else 'FAIL'}",
            "",
            f"*The paper:* {claim.statement}",
            "",
            f"*Setup:* {claim.setup}",
            "",
            f"*Observed:* {claim.observed}",
            "",
            f"*Criterion:* {claim.criterion}",
            "",
        ]
        for name in figures:
            if name.startswith(claim.key):
                lines += [f"![{claim.key}]({name})", ""]
    lines += [
        "## Figures",
        "",
        figure_note,
        "",
        "## How this report was made",
        "",
        f"- command: `{command or 'deeplinear reproduce'}`",
        f"- seed: {seed}; quick: {quick}; run time: {seconds:.1f} s",
        f"- deeplinear {deeplinear.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()} on {platform.machine()}",
        "",
    ]
    _atomic_write(out / "report.md", "\n".join(lines))
    results = {
        "passed": passed == len(claims),
        "seed": seed,
        "quick": quick,
        "seconds": seconds,
        "command": command,
        "versions": {"deeplinear": deeplinear.__version__, "numpy": np.__version__},
        "figures": figures,
        "claims": [
            {
                "key": claim.key,
                "title": claim.title,
                "section": claim.section,
                "statement": claim.statement,
                "setup": claim.setup,
                "observed": claim.observed,
                "criterion": claim.criterion,
                "passed": claim.passed,
                "numbers": claim.numbers,
            }
            for claim in claims
        ],
    }
    _atomic_write(out / "results.json", json.dumps(json_safe(results), indent=1, allow_nan=False))
    return figures
