"""Ctrl-C during `deeplinear reproduce`: the reproduction stops (exit status 130) and writes no
report, rather than judging claims on runs that were cut short."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deeplinear import reproduce
from deeplinear.reproduce.engine import Engine, RunResult, RunSpec


class _Interrupted(Engine):
    """Every training run comes back as Ctrl-C leaves it: status "interrupted"."""

    def train_one(self, spec: RunSpec) -> RunResult:
        layers = np.broadcast_to(np.eye(spec.phi.shape[0]), (spec.depth, *spec.phi.shape))
        return RunResult(
            status="interrupted",
            steps=1,
            losses=np.array([1.0, 0.5]),
            loss_steps=np.array([0, 1]),
            layers=layers.copy(),
            final_loss=0.5,
        )


def test_an_interrupted_run_stops_the_reproduction(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        reproduce.run(tmp_path / "report", quick=True, progress=False, engine=_Interrupted())
    assert not (tmp_path / "report" / "report.md").exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize(
    ("signum", "status", "said"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_ctrl_c_exits_130_without_a_report(tmp_path: Path, signum, status: int, said: str) -> None:
    # (SIGTERM alike, 143: it killed the command and left its workers and figures' folder)
    out = tmp_path / "report"
    process = subprocess.Popen(
        [sys.executable, "-m", "deeplinear", "reproduce", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Off a terminal the run prints a line per finished claim: wait for the first (imports done,
    # the run under way; the other seven claims take many seconds more), then Ctrl-C. A fixed
    # sleep could land in the imports on a loaded machine.
    assert process.stderr is not None
    seen = []
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        if not line or line.startswith("claim 1/8"):
            break
    assert seen[-1].startswith("claim 1/8"), "".join(seen)
    process.send_signal(signum)
    started = time.perf_counter()
    try:
        _, rest = process.communicate(timeout=30)
    finally:
        process.kill()
    stderr = "".join(seen) + rest
    assert process.returncode == status, stderr
    assert time.perf_counter() - started < 5.0
    assert said in stderr
    assert not (out / "report.md").exists()
    # nothing of the workers' either (the full run's claims run in one process per core)
    assert not out.exists() or list(out.iterdir()) == []


def _a_previous_report(out: Path) -> dict[str, bytes]:
    out.mkdir()
    files = {
        "report.md": b"# the previous report",
        "results.json": b'{"figures": ["old.png"]}',
        "old.png": b"a figure",
        "notes.txt": b"mine",
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    return files


def test_ctrl_c_while_figures_are_drawn_leaves_no_figure(tmp_path: Path, monkeypatch) -> None:
    # the figures were saved straight into the folder, and Ctrl-C among them left some there
    from deeplinear.reproduce import figures

    real = figures.make_figures

    def interrupted(claims, out):
        real(claims, out)  # (every figure drawn)
        raise KeyboardInterrupt

    monkeypatch.setattr(figures, "make_figures", interrupted)
    monkeypatch.setattr(reproduce, "CLAIMS", reproduce.CLAIMS[:1])
    out = tmp_path / "report"
    with pytest.raises(KeyboardInterrupt):
        reproduce.run(out, quick=True, progress=False)
    assert list(out.iterdir()) == []


def test_an_interrupted_forced_run_keeps_the_previous_report(tmp_path: Path) -> None:
    # --force removed the previous report before its first claim
    out = tmp_path / "report"
    files = _a_previous_report(out)
    with pytest.raises(KeyboardInterrupt):
        reproduce.run(out, quick=True, progress=False, force=True, engine=_Interrupted())
    assert {path.name: path.read_bytes() for path in out.iterdir()} == files


def test_a_killed_runs_staging_folder_neither_blocks_nor_stays(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(reproduce, "CLAIMS", reproduce.CLAIMS[:1])
    out = tmp_path / "report"
    (out / ".report-killed").mkdir(parents=True)  # as a SIGKILLed run leaves it
    (out / ".report-killed" / "report.md").write_text("half")
    reproduce.run(out, quick=True, progress=False)
    assert sorted(path.name for path in out.iterdir() if path.name.startswith(".")) == []
    assert (out / "report.md").exists()


def test_the_versions_name_matplotlib_whenever_figures_were_drawn() -> None:
    # workers draw the figures: the process that writes the report need not have imported it
    from deeplinear.reproduce.report import versions

    assert "matplotlib" in versions(figures=True)
    assert "matplotlib" not in versions(figures=False)


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_while_the_report_moves_into_place_waits_until_it_is_whole(
    tmp_path: Path, monkeypatch
) -> None:
    # landing between the removal of a previous report and the last move, it left neither whole
    out = tmp_path / "report"
    _a_previous_report(out)
    real = os.replace
    sent = []

    def replace(source, target):
        if not sent and Path(target).parent == out:  # the first move into place
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # held until every file is in place
        real(source, target)

    monkeypatch.setattr(reproduce, "CLAIMS", reproduce.CLAIMS[:1])
    monkeypatch.setattr(reproduce.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        reproduce.run(out, quick=True, progress=False, force=True)
    names = {path.name for path in out.iterdir()}
    assert sent and {"report.md", "results.json", "notes.txt"} <= names and "old.png" not in names
    assert "the previous report" not in (out / "report.md").read_text()
