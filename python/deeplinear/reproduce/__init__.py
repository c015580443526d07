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
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Generator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import training
from .._progress import Progress
from .claims import CLAIMS, Claim
from .engine import Engine
from .figures import draw_figures, figure_note
from .report import write_report

__all__ = ["CLAIMS", "Claim", "OutputFolderError", "ReportExistsError", "Reproduction", "run"]

Drawn = tuple[list[str], list[str]] | None
"""A claim's figures from ``figures.draw_figures``: (file names, problems), or None (none drawn)."""


class ReportExistsError(FileExistsError):
    """The output folder already holds something and ``force`` was not given."""


class OutputFolderError(OSError):
    """The output folder cannot be made or read (before any experiment runs)."""


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


_STAGE_PREFIX = ".report-"
"""A run writes its report into a folder of its own inside ``out``, named so, and moves the
files into ``out`` only once the report is complete."""
_OLD_STAGE_PREFIXES = (_STAGE_PREFIX, ".figures-")  # (".figures-": the figures' folder before)


def _prepare(out: Path, force: bool) -> None:
    """Create ``out``, refusing to reuse a non-empty one unless ``force``.

    The staging folders of runs that were killed outright (SIGKILL) do not count, and are
    removed. Nothing of a previous report is touched here: see ``_publish``.
    """
    if out.exists() and not out.is_dir():
        raise ReportExistsError(f"{out} exists and is not a folder")
    if out.exists():
        entries = list(out.iterdir())
        stale = [e for e in entries if e.is_dir() and e.name.startswith(_OLD_STAGE_PREFIXES)]
        if len(entries) > len(stale) and not force:
            raise ReportExistsError(f"{out} already exists; pass --force to overwrite it")
        for entry in stale:
            shutil.rmtree(entry, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def _previous_report(out: Path) -> list[str]:
    """The files of a previous report in ``out``: report.md, results.json and the figures that
    results.json lists (so that no stale figure survives a new report)."""
    names = ["report.md", "results.json"]
    try:
        previous = json.loads((out / "results.json").read_text(encoding="utf-8"))
        names += [
            name
            for name in previous.get("figures", [])
            if isinstance(name, str) and Path(name).name == name and name.endswith(".png")
        ]
    except (OSError, ValueError, AttributeError):
        pass
    return names


def _publish(stage: Path, out: Path, figures: list[str]) -> None:
    """The complete report moves from ``stage`` into ``out``, replacing a previous report's
    files there: the figures, results.json, and report.md last. Ctrl-C and SIGTERM wait until
    it is done (in the main thread): landing halfway, they would leave neither report whole."""
    pending: list[int] = []
    previous = {}
    if threading.current_thread() is threading.main_thread():  # (handlers are the main thread's)
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda number, frame: pending.append(number))
    try:
        for name in _previous_report(out):
            (out / name).unlink(missing_ok=True)
        for name in [*figures, "results.json", "report.md"]:
            os.replace(stage / name, out / name)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:  # now, to the handler it was meant for
            signal.raise_signal(pending[0])


def run(
    out: str | Path = "deeplinear-report",
    *,
    quick: bool = False,
    seed: int = 0,
    force: bool = False,
    progress: bool = True,
    command: str = "",
    engine: Engine | None = None,
    workers: int = 1,
) -> Reproduction:
    """Run every claim's experiment and write the report into ``out``.

    Each claim gets its own generator, spawned in order from ``numpy.random.SeedSequence(seed)``
    (``seed`` ≥ 0), so a seed reproduces the whole report and each claim's numbers do not depend
    on the others. ``quick`` runs smaller experiments (about a second instead of about 15 on
    two cores); ``progress`` reports on stderr (a bar on a terminal, one line per claim with
    the time elapsed in a file or a pipe); ``command`` is recorded in the report;
    ``engine`` computes what the claims check (default: deeplinear itself, see ``engine``).

    ``workers`` > 1 processes run the claims side by side: each claim whole in one of them, with
    the same generator, so the report is the same as from one process; the claims are reported
    in their order. The workers are started by ``multiprocessing``'s "spawn" method, which
    imports the caller's main module again: call ``run`` with workers > 1 from a script only
    under ``if __name__ == "__main__":``. Only the default engine runs in workers. At Ctrl-C
    (or any error) the workers are stopped with the run. ``deeplinear reproduce`` uses one
    worker per core the process may use for the full run.

    The report (report.md, results.json, the figures) is written into a staging folder of
    its own in ``out`` and moves into ``out`` once complete, replacing a previous report's
    files (with ``force``): an interrupted or failed run leaves ``out`` as it found it (a folder
    that it had to create stays, empty).

    Raises ReportExistsError when ``out`` is a file, or a non-empty folder and not ``force``
    (checked before any experiment runs); OutputFolderError (an OSError) when the folder cannot
    be made or read; any other OSError comes from writing the report.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if engine is not None and workers > 1:
        raise ValueError("workers > 1 needs the default engine (a given one stays in this process)")
    out = Path(out)
    try:
        _prepare(out, force)
    except ReportExistsError:
        raise
    except OSError as exc:
        raise OutputFolderError(f"cannot make or read the folder {out}: {exc}") from exc
    generators = [
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(len(CLAIMS))
    ]
    started = time.perf_counter()
    claims = []
    # The report is written into a folder of this run's own inside `out` (with workers, each
    # draws its claims' figures there as it finishes them), whose files move into `out` once the
    # report is complete; it is removed whatever happens, so that an interrupted run leaves `out`
    # as it found it (a previous report there included).
    stage = Path(tempfile.mkdtemp(prefix=_STAGE_PREFIX, dir=out))
    folder = stage if workers > 1 else None
    drawn: list[Drawn] = []  # each claim's figures from a worker, in report order
    try:
        with Progress(
            len(CLAIMS), desc="reproduce", unit="claims", enabled=progress, leave=True
        ) as report:
            if folder is None:
                results: Generator[tuple[Claim, Drawn], None, None] = (
                    (_timed_claim(index, rng, quick, progress, engine), None)
                    for index, rng in enumerate(generators)
                )
            else:
                results = _claims_in_processes(generators, quick, min(workers, len(CLAIMS)), folder)
            try:
                for index, (claim, claim_figures) in enumerate(results, 1):
                    claims.append(claim)
                    drawn.append(claim_figures)
                    report.write(
                        f"claim {index}/{len(CLAIMS)} {'PASS' if claim.passed else 'FAIL'}: "
                        f"{claim.title} ({claim.seconds:.1f} s)"
                    )
                    report.update(1)
            finally:
                results.close()  # the workers stop with the run (Ctrl-C, an error)
        seconds = time.perf_counter() - started
        done = _gathered_figures(drawn) if folder is not None else None
        figures = write_report(
            claims, stage, quick=quick, seed=seed, seconds=seconds, command=command, drawn=done
        )
        _publish(stage, out, figures)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Reproduction(claims=claims, out=out, seconds=seconds, figures=figures)


def _gathered_figures(drawn: list[Drawn]) -> tuple[list[str], str]:
    """The workers' figures (in the staging folder already): (names, the report's note)."""
    if any(d is None for d in drawn):
        return [], figure_note(None)
    names = [name for d in drawn if d is not None for name in d[0]]
    problems = [problem for d in drawn if d is not None for problem in d[1]]
    return names, figure_note((names, problems))


def _claim_and_figures(
    index: int, rng: np.random.Generator, quick: bool, folder: Path, threads: int
) -> tuple[Claim, Drawn]:
    """A worker's task: claim ``index`` and its figures, drawn into ``folder``; its batches on
    ``threads`` threads (the worker's share of the cores)."""
    claim = _timed_claim(index, rng, quick, engine=Engine(threads))
    return claim, draw_figures([claim], folder)


def _timed_claim(
    index: int,
    rng: np.random.Generator,
    quick: bool,
    progress: bool = False,
    engine: Engine | None = None,
) -> Claim:
    """Claim ``index`` (report order) run on ``rng``, with its run time."""
    claim_started = time.perf_counter()
    claim = CLAIMS[index](rng, quick, progress, engine)
    claim.seconds = time.perf_counter() - claim_started
    return claim


# The full run's claims by name, in the order that balances two workers (measured one at a time
# in one process: theorems45 3.7 s, section6 2.5, theorem3 2.5, theorem1 0.7, lemma7 1.8,
# theorem2 1.0, lemmas23 0.5, lemmas56 0.1); theorem1 early, so that the first claim is reported
# after a few seconds.
_LONGEST_FIRST = ["theorems45", "section6", "theorem3", "theorem1", "lemma7", "theorem2"]


def _submission_rank(index: int) -> int:
    name = CLAIMS[index].name
    return _LONGEST_FIRST.index(name) if name in _LONGEST_FIRST else len(_LONGEST_FIRST) + index


def _worker_threads(workers: int) -> int:
    """The threads of each worker's batches: its share of the cores the process may use. (With
    a thread per core in every worker, `deeplinear reproduce --seed 0` took 15.4-16.2 s on a
    2-core Zen 4, against 13.7-14.6 s with one thread each: docs/reproduce.md.)"""
    return max(1, training.available_cores() // workers)


def _ignore_ctrl_c() -> None:
    """A worker's start: Ctrl-C at a terminal reaches every process of the group, and only the
    parent handles it (by stopping the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _claims_in_processes(
    generators: list[np.random.Generator],
    quick: bool,
    workers: int,
    folder: Path,
) -> Generator[tuple[Claim, Drawn], None, None]:
    """The claims and their figures (drawn into ``folder``), in report order, computed by
    ``workers`` fresh processes (spawned: nothing of this process's thread pools is inherited).
    On any exit before the last claim (Ctrl-C, an error, a worker that died: BrokenProcessPool)
    the workers are stopped at once."""
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_ctrl_c)
    finished = False
    try:
        # Submitted longest first (the order of _LONGEST_FIRST; any other claims after them), so
        # that the short ones fill in at the end; reported in report order.
        order = sorted(range(len(generators)), key=_submission_rank)
        threads = _worker_threads(workers)
        futures = {
            i: executor.submit(_claim_and_figures, i, generators[i], quick, folder, threads)
            for i in order
        }
        for index in range(len(generators)):
            yield futures[index].result()
        finished = True
    finally:
        if not finished:
            for process in list(getattr(executor, "_processes", {}).values()):
                process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)
