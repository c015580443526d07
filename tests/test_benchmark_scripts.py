"""The comparison scripts of benchmarks/ still run (tiny sizes, so that this stays fast): a table
row per size, and every implementation's final loss in agreement with the exact dynamics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run(script: str, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_compare_runs_and_the_implementations_agree(tmp_path: Path) -> None:
    out = tmp_path / "table.md"
    printed = run(
        "compare.py",
        *("--sizes", "4x2,17x3", "--repeats", "2", "--seconds", "0.01"),
        *("--only", "deeplinear,numpy", "--out", str(out)),
    )
    table = out.read_text()
    assert table in printed + "\n"
    rows = [line for line in table.splitlines() if line.startswith(("| 4, 2 |", "| 17, 3 |"))]
    assert len(rows) == 2
    assert "!=" not in table  # no final loss disagreed with spectral_gd
    assert "peak GFLOP/s" in table


def test_matmul_ceiling_runs() -> None:
    printed = run("matmul_ceiling.py", "--sizes", "8x2", "--rounds", "1", "--seconds", "0.001")
    assert any(line.startswith("| 8, 2 |") for line in printed.splitlines())


def test_sweep_rates_runs_and_reports_every_sweep() -> None:
    printed = run("sweep_rates.py", "--configs", "40", "--rounds", "1", "--scale", "30")
    for row in ("| no store |", "| store |", "| resume |"):
        assert row in printed
    assert "store / no store:" in printed and "bytes per run" in printed
    assert "30 configs:" in printed and "resumed (every row cached)" in printed
