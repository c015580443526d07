"""The comparison scripts of benchmarks/ still run (tiny sizes, so that this stays fast): a table
row per size, and every implementation's final loss in agreement with the exact dynamics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
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


def test_compare_flags_an_implementation_that_steps_wrong(tmp_path: Path) -> None:
    # The agreement check can fail: numpy's workers step with η·1.001 (a hook for this test).
    out = tmp_path / "table.md"
    run(
        "compare.py",
        *("--sizes", "4x2,17x3", "--repeats", "1", "--seconds", "0.01"),
        *("--only", "deeplinear,numpy", "--out", str(out)),
        env={**os.environ, "DEEPLINEAR_BENCH_FAULT": "numpy"},
    )
    flagged = [line for line in out.read_text().splitlines() if "!=" in line]
    assert any(line.startswith("numpy d=4 L=2: loss after 10 steps") for line in flagged)
    assert any(line.startswith("numpy d=17 L=3: loss after 10 steps") for line in flagged)
    assert not any(line.startswith("deeplinear") for line in flagged)


def test_batch_compare_runs_and_every_network_agrees_with_numpy() -> None:
    printed = run("batch_compare.py", "--rounds", "1", "--sizes", "5x3x2x20,9x4x3x30")
    assert any(line.startswith("| 5, 3, 2, 20 |") for line in printed.splitlines())
    assert any(line.startswith("| 9, 4, 3, 30 |") for line in printed.splitlines())


def test_batch_compare_flags_a_network_that_trained_wrong() -> None:
    # The last network's target is off by 1e-3 in the batch's worker (a hook for this test):
    # the mean of the losses would barely move; the per-network check names it.
    command = [sys.executable, str(BENCHMARKS / "batch_compare.py")]
    completed = subprocess.run(
        [*command, "--rounds", "1", "--sizes", "5x3x2x20"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "DEEPLINEAR_BENCH_FAULT": "deeplinear"},
    )
    assert completed.returncode != 0
    assert "deeplinear disagrees with numpy on network 4" in completed.stderr


def test_matmul_ceiling_runs() -> None:
    printed = run("matmul_ceiling.py", "--sizes", "8x2", "--rounds", "1", "--seconds", "0.001")
    row = next(line for line in printed.splitlines() if line.startswith("| 8, 2 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert len(cells) == 8  # … and a Trainer's step: its GFLOP/s and its ratio to the cycling rate
    step, ratio, cycling = float(cells[6]), float(cells[7]), float(cells[2])
    assert step > 0 and abs(ratio - step / cycling) <= 0.1 * ratio  # (cells rounded)


def test_sweep_rates_runs_and_reports_every_sweep() -> None:
    printed = run("sweep_rates.py", "--configs", "40", "--rounds", "1", "--scale", "30")
    for row in ("| no store |", "| store |", "| resume |"):
        assert row in printed
    assert "store / no store:" in printed and "bytes per run" in printed
    assert "30 configs:" in printed and "resumed (every row cached)" in printed


def clean_kernel() -> str:
    """The OpenBLAS kernel numpy picks on this CPU with no OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE."""
    handicaps = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {k: v for k, v in os.environ.items() if k not in handicaps}
    code = (
        "import numpy, threadpoolctl; "
        "print(next(i['architecture'] for i in threadpoolctl.threadpool_info() "
        "if 'architecture' in i))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()


def test_the_benchmarks_run_the_blas_unhandicapped() -> None:
    # An environment that pins OpenBLAS to an old kernel (as this project's machine does) must
    # not reach the benchmark processes: they report the kernel a clean process picks.
    env = {**os.environ, "OPENBLAS_CORETYPE": "Prescott"}
    expected = clean_kernel()
    printed = run(
        "compare.py",
        *("--sizes", "4x2", "--repeats", "1", "--seconds", "0.01", "--only", "deeplinear"),
        env=env,
    )
    assert f"OpenBLAS kernel {expected})" in printed
    assert "removed from the benchmark processes' environment: OPENBLAS_CORETYPE" in printed
    assert "FMA limit" in printed
    printed = run(
        "matmul_ceiling.py", *("--sizes", "8x2", "--rounds", "1", "--seconds", "0.001"), env=env
    )
    assert f"OpenBLAS kernel {expected}" in printed


def test_the_pytest_benchmarks_run_the_blas_unhandicapped() -> None:
    # The same for `pytest benchmarks/`, whose conftest removes the variables in its own process
    # before a BLAS is loaded; the header names every BLAS's kernel (numpy's and the
    # scipy-openblas32 that deeplinear links). Without the removal both would run "Katmai".
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", str(BENCHMARKS / "test_bench_train.py"), "--collect-only"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "OPENBLAS_CORETYPE": "Prescott"},
        cwd=BENCHMARKS.parent,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    header = next(
        line for line in completed.stdout.splitlines() if line.startswith("BLAS kernels:")
    )
    kernels = header.removeprefix("BLAS kernels: ").split("; ")
    assert len(kernels) == 2, header
    assert all(kernel.endswith(" " + clean_kernel()) for kernel in kernels), header
    assert "warning" not in completed.stdout


def test_the_small_step_and_project_benchmark_checks_against_numpy() -> None:
    # Its agreement check passes, and fails when the trainer projects onto a ball 0.1 % too
    # large (DEEPLINEAR_BENCH_FAULT, a hook for this test)
    command = [sys.executable, "-m", "pytest", str(BENCHMARKS / "test_bench_train.py"), "-q"]
    command += ["-k", "small_step_and_project", "--benchmark-disable", "-p", "no:cacheprovider"]
    outcomes = {}
    for fault in ("", "step_and_project"):
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            env={**os.environ, "DEEPLINEAR_BENCH_FAULT": fault},
            cwd=BENCHMARKS.parent,
        )
        outcomes[fault] = completed.stdout.strip().splitlines()[-1]
    assert "6 passed" in outcomes[""], outcomes
    assert "6 failed" in outcomes["step_and_project"], outcomes


def test_portable_vs_native_runs_both_builds_in_turn() -> None:
    # the same interpreter as both builds: the table's ratio is then about 1, and its row is there
    printed = run(
        "portable_vs_native.py",
        *("--native", sys.executable, "--portable", sys.executable),
        *("--sizes", "4x2", "--rounds", "2", "--seconds", "0.01"),
    )
    row = next(line for line in printed.splitlines() if line.startswith("| 4, 2 |"))
    ratio = float(row.split("|")[4])
    assert 0.2 < ratio < 5.0
    assert "native kernels: d=4:" in printed and "portable kernels: d=4:" in printed
