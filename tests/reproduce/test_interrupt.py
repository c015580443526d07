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
def test_ctrl_c_exits_130_without_a_report(tmp_path: Path) -> None:
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
    process.send_signal(signal.SIGINT)
    started = time.perf_counter()
    try:
        _, rest = process.communicate(timeout=30)
    finally:
        process.kill()
    stderr = "".join(seen) + rest
    assert process.returncode == 130, stderr
    assert time.perf_counter() - started < 5.0
    assert "interrupted" in stderr
    assert not (out / "report.md").exists()
    # nothing of the workers' either (the full run's claims run in one process per core)
    assert not out.exists() or list(out.iterdir()) == []
