"""``deeplinear reproduce``: every claim of the paper checked numerically, with a report.

``run(out, quick=False, seed=0, force=False, progress=True)`` runs each experiment of
``claims.CLAIMS`` and writes ``report.md`` (a table with one row per claim, then a paragraph per
claim), ``results.json`` (every number behind the table) and PNG figures (when matplotlib is
installed) into ``out``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .claims import CLAIMS, Claim
from .report import write_report

__all__ = ["CLAIMS", "Claim", "ReportExistsError", "Reproduction", "run"]


class ReportExistsError(FileExistsError):
    """The output folder already holds a report and ``force`` was not given."""


@dataclass
class Reproduction:
    claims: list[Claim]
    out: Path
    seconds: float
    figures: list[str]

    @property
    def passed(self) -> bool:
        return all(claim.passed for claim in self.claims)


def run(
    out: str | Path = "deeplinear-report",
    *,
    quick: bool = False,
    seed: int = 0,
    force: bool = False,
    progress: bool = True,
    command: str = "",
) -> Reproduction:
    """Run every claim's experiment and write the report into ``out``.

    Raises ReportExistsError when ``out`` exists and is not empty, unless ``force``.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise ReportExistsError(f"{out} already exists; pass --force to overwrite it")
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    claims = []
    for experiment in CLAIMS:
        claims.append(experiment(np.random.default_rng(rng.integers(2**63)), quick, progress))
    seconds = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    figures = write_report(claims, out, quick=quick, seed=seed, seconds=seconds, command=command)
    return Reproduction(claims=claims, out=out, seconds=seconds, figures=figures)
