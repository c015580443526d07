"""``deeplinear reproduce``: every claim of the paper checked numerically, with a report.

``run(out, quick=False, seed=0, force=False, progress=True)`` runs each experiment of
``claims.CLAIMS`` (Theorems 1–5, Lemmas 2–3, 5–7 and Section 6 of Bartlett, Helmbold & Long,
ICML 2018) and writes into the folder ``out``:

- ``report.md``: a table with one row per claim (the claim, the paper's statement and section,
  the setup, what was observed, and PASS/FAIL by the criterion stated in the row), then one
  paragraph per claim, then the command line, seed, versions and run time;
- ``results.json``: every number behind the table (plain JSON: NaN and ±inf as null);
- PNG figures, when matplotlib is installed (else the report says they were skipped).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._progress import Progress
from .claims import CLAIMS, Claim
from .engine import Engine
from .report import write_report

__all__ = ["CLAIMS", "Claim", "ReportExistsError", "Reproduction", "run"]


class ReportExistsError(FileExistsError):
    """The output folder already holds something and ``force`` was not given."""


@dataclass
class Reproduction:
    """What ``run`` did: the claims (in report order), the folder, the run time in seconds and
    the figure files written."""

    claims: list[Claim]
    out: Path
    seconds: float
    figures: list[str]

    @property
    def passed(self) -> bool:
        """True when every claim passed."""
        return all(claim.passed for claim in self.claims)


def _prepare(out: Path, force: bool) -> None:
    """Create ``out``, refusing to reuse a non-empty one unless ``force``.

    With ``force``, the files of a previous report there (report.md, results.json and the
    figures that results.json lists) are removed first, so that no stale figure survives;
    nothing else in the folder is touched.
    """
    if out.exists() and not out.is_dir():
        raise ReportExistsError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ReportExistsError(f"{out} already exists; pass --force to overwrite it")
        previous = out / "results.json"
        names = ["report.md", "results.json"]
        try:
            names += [
                name
                for name in json.loads(previous.read_text(encoding="utf-8")).get("figures", [])
                if isinstance(name, str) and Path(name).name == name and name.endswith(".png")
            ]
        except (OSError, ValueError, AttributeError):
            pass
        for name in names:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def run(
    out: str | Path = "deeplinear-report",
    *,
    quick: bool = False,
    seed: int = 0,
    force: bool = False,
    progress: bool = True,
    command: str = "",
    engine: Engine | None = None,
) -> Reproduction:
    """Run every claim's experiment and write the report into ``out``.

    Each claim gets its own generator, spawned in order from ``numpy.random.SeedSequence(seed)``
    (``seed`` ≥ 0), so a seed reproduces the whole report and each claim's numbers do not depend
    on the others. ``quick`` runs smaller experiments (seconds instead
    of minutes); ``progress`` reports on stderr (a bar on a terminal, one line per claim with
    the time elapsed in a file or a pipe); ``command`` is recorded in the report;
    ``engine`` computes what the claims check (default: deeplinear itself, see ``engine``).

    Raises ReportExistsError when ``out`` is a file, or a non-empty folder and not ``force``
    (checked before any experiment runs); OSError when the folder cannot be created.
    """
    out = Path(out)
    _prepare(out, force)
    generators = [
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(len(CLAIMS))
    ]
    started = time.perf_counter()
    claims = []
    with Progress(
        len(CLAIMS), desc="reproduce", unit="claims", enabled=progress, leave=True
    ) as report:
        for index, (experiment, rng) in enumerate(zip(CLAIMS, generators), 1):
            claim_started = time.perf_counter()
            claim = experiment(rng, quick, progress, engine)
            claim.seconds = time.perf_counter() - claim_started
            claims.append(claim)
            report.write(
                f"claim {index}/{len(CLAIMS)} {'PASS' if claim.passed else 'FAIL'}: "
                f"{claim.title} ({claim.seconds:.1f} s)"
            )
            report.update(1)
    seconds = time.perf_counter() - started
    figures = write_report(claims, out, quick=quick, seed=seed, seconds=seconds, command=command)
    return Reproduction(claims=claims, out=out, seconds=seconds, figures=figures)
