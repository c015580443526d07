"""The comparison scripts of benchmarks/ still run (tiny sizes, so that this stays fast): a table
row per size, and every implementation's final loss in agreement with the exact dynamics. Every
agreement check is also shown failing, on a fault injected for the test (DEEPLINEAR_BENCH_FAULT
or a fake interpreter), with a nonzero exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def launch(
    script: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )


def run(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    completed = launch(script, *args, env=env)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def with_fault(fault: str) -> dict[str, str]:
    return {**os.environ, "DEEPLINEAR_BENCH_FAULT": fault}


TINY_COMPARE = ("--sizes", "4x2,17x3", "--repeats", "1", "--seconds", "0.01")


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
    assert "disagrees" not in table
    assert "peak GFLOP/s" in table


def test_compare_flags_an_implementation_that_steps_wrong(tmp_path: Path) -> None:
    # The agreement check can fail: numpy's workers step with η·1.001 (a hook for this test).
    # The table is still printed and written, the rows' ratios read "disagrees" (numpy is the
    # only peer), and the exit status is 1.
    out = tmp_path / "table.md"
    completed = launch(
        "compare.py",
        *TINY_COMPARE,
        *("--only", "deeplinear,numpy", "--out", str(out)),
        env=with_fault("numpy"),
    )
    assert completed.returncode == 1, completed.stderr
    assert "disagreement(s)" in completed.stderr
    table = out.read_text()
    assert table in completed.stdout + "\n"
    flagged = [line for line in table.splitlines() if "!=" in line]
    assert any(line.startswith("numpy d=4 L=2: loss after 10 steps") for line in flagged)
    assert any(line.startswith("numpy d=17 L=3: loss after 10 steps") for line in flagged)
    assert any("numpy d=17 L=3: layers after 10 steps towards the non-symmetric" in line
               for line in flagged)  # fmt: skip
    assert not any(line.startswith("deeplinear") for line in flagged)
    rows = [line for line in table.splitlines() if line.startswith(("| 4, 2 |", "| 17, 3 |"))]
    assert len(rows) == 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[2].endswith("(disagrees)") and cells[3] == "disagrees", row


@pytest.mark.parametrize("kind", ["transpose", "reverse", "shift"])
def test_compare_flags_a_wrong_gradient_that_the_spd_target_hides(kind: str) -> None:
    # numpy's step drops Lemma 1's transposes, takes the product in reverse order or gives
    # layer i layer i+1's gradient: towards the SPD target from the identity each agrees with
    # the exact dynamics to rounding (no "!= exact" line); towards the non-symmetric target
    # the layers are not those of compare.py's Lemma 1 reference.
    completed = launch(
        "compare.py", *TINY_COMPARE, "--only", "deeplinear,numpy", env=with_fault(f"numpy:{kind}")
    )
    assert completed.returncode == 1, completed.stderr
    flagged = [line for line in completed.stdout.splitlines() if "!=" in line]
    for where in ("d=4 L=2", "d=17 L=3"):
        assert (
            f"numpy {where}: layers after 10 steps towards the non-symmetric target"
            in "\n".join(flagged)
        )
    assert not any("!= exact" in line for line in flagged), flagged
    assert not any(line.startswith("deeplinear") for line in flagged)


def test_compare_checks_every_repeat_and_fails_on_a_failed_worker() -> None:
    # The fault only in the second round's numpy process (the first agrees): still flagged.
    completed = launch(
        "compare.py",
        *("--sizes", "4x2", "--repeats", "2", "--seconds", "0.01", "--only", "deeplinear,numpy"),
        env=with_fault("numpy@1"),
    )
    assert completed.returncode == 1, completed.stderr
    assert "numpy d=4 L=2: loss after 10 steps" in completed.stdout
    # A worker that fails (here: an unknown fault) is an error, not a skipped implementation.
    completed = launch(
        "compare.py",
        *("--sizes", "4x2", "--repeats", "1", "--seconds", "0.01", "--only", "deeplinear,numpy"),
        env=with_fault("numpy:no-such-fault"),
    )
    assert completed.returncode == 1, completed.stderr
    assert "numpy failed: DEEPLINEAR_BENCH_FAULT=numpy:no-such-fault" in completed.stdout


def test_compare_worker_reports_a_blas_without_an_architecture(monkeypatch) -> None:
    # threadpoolctl gives MKL no "architecture": it is reported, not dropped.
    import threadpoolctl

    sys.path.insert(0, str(BENCHMARKS))
    try:
        import compare_worker
    finally:
        sys.path.remove(str(BENCHMARKS))
    entries = [
        {"user_api": "blas", "internal_api": "mkl", "prefix": "libmkl_rt", "version": "2024.0"},
        {"user_api": "blas", "internal_api": "openblas", "prefix": "libopenblas",
         "version": "0.3.27", "architecture": "Haswell"},
        {"user_api": "openmp", "internal_api": "openmp", "prefix": "libgomp", "version": None},
    ]  # fmt: skip
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: entries)
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # (its MKL is listed apart)
    assert compare_worker.blas_kernels() == [
        "libmkl_rt (mkl 2024.0, architecture unknown)",
        "libopenblas 0.3.27 Haswell",
    ]


def test_batch_compare_runs_and_every_network_agrees_with_numpy() -> None:
    printed = run("batch_compare.py", "--rounds", "1", "--sizes", "5x3x2x20,9x4x3x30")
    assert any(line.startswith("| 5, 3, 2, 20 |") for line in printed.splitlines())
    assert any(line.startswith("| 9, 4, 3, 30 |") for line in printed.splitlines())


def test_batch_compare_flags_a_network_that_trained_wrong() -> None:
    # The last network's target is off by 1e-3 in the batch's worker (a hook for this test):
    # the mean of the losses would barely move; the per-network check names it.
    completed = launch(
        "batch_compare.py", "--rounds", "1", "--sizes", "5x3x2x20", env=with_fault("deeplinear")
    )
    assert completed.returncode != 0
    assert "deeplinear disagrees with numpy on network 4" in completed.stderr


def test_batch_compare_flags_a_wrong_step_size_at_a_converged_size() -> None:
    # At 1024 × 4 × 8 × 1000 every final loss is rounding (~1e-28), and a run with 2η ends there
    # too: the final losses alone agree (no "final loss" line). The check run of 10 steps
    # towards non-symmetric targets shows it.
    completed = launch(
        "batch_compare.py",
        *("--rounds", "1", "--sizes", "1024x4x8x1000", "--only", "deeplinear"),
        env=with_fault("deeplinear:lr"),
    )
    assert completed.returncode == 1, completed.stderr
    assert "deeplinear disagrees with numpy on network 0: after 10 steps" in completed.stderr
    assert "final loss" not in completed.stderr
    row = next(line for line in completed.stdout.splitlines() if line.startswith("| 1024, 4"))
    assert "(disagrees)" in row and "| disagrees |" in row


def test_batch_compare_fails_when_every_implementation_fails() -> None:
    # Every requested process fails: no losses to compare is an error, not an all-nan table
    # with exit status 0.
    completed = launch(
        "batch_compare.py",
        *("--rounds", "1", "--sizes", "5x3x2x20", "--only", "deeplinear"),
        env=with_fault("deeplinear:fail"),
    )
    assert completed.returncode == 1, completed.stdout
    assert "deeplinear failed at (5, 3, 2, 20): deeplinear: an injected failure" in (
        completed.stderr
    )


def test_batch_compare_prints_gflops() -> None:
    printed = run("batch_compare.py", "--rounds", "1", "--sizes", "5x3x2x20", "--only",
                  "deeplinear,loop_of_train")  # fmt: skip
    lines = printed.splitlines()
    header = lines.index(
        "| B, d, L, steps | deeplinear | loop_of_train | 2× the loop | 4× the loop |"
    )
    rates = next(line for line in lines if line.startswith("| 5, 3, 2, 20 |"))
    gflops = lines[header + 2]
    loop = float(rates.split("|")[3].strip().removesuffix("M")) * 1e6
    cells = [float(cell) for cell in gflops.strip("|").split("|")[1:]]
    flops = 3 * (2 - 1) * 2 * 3**3  # per network-step
    assert abs(cells[1] - loop * flops / 1e9) <= 0.06 + 1e-3 * cells[1]
    assert abs(cells[3] - 4 * loop * flops / 1e9) <= 0.2 + 1e-3 * cells[3]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
@pytest.mark.parametrize("form", [["--threads=2"], ["--threads", "2"]])
def test_matmul_ceiling_runs_the_blas_on_the_threads_asked_for(form: list[str]) -> None:
    # The thread count reaches the BLAS, which reads it when numpy loads, in either form.
    printed = run(
        "matmul_ceiling.py", *("--sizes", "8x2", "--rounds", "1", "--seconds", "0.001"), *form
    )
    assert "threads=2," in printed and "BLAS threads 2\n" in printed
    assert "warning" not in printed


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


def test_the_power_projection_benchmark_checks_against_numpy() -> None:
    # Its agreement check passes, and fails when deeplinear's power projection steps with an η
    # 0.1 % too large (DEEPLINEAR_BENCH_FAULT, a hook for this test); gd is unaffected.
    command = [sys.executable, "-m", "pytest", str(BENCHMARKS / "test_bench_train.py"), "-q"]
    command += ["-k", "power_projection_against_gd and 64", "--benchmark-disable"]
    command += ["-p", "no:cacheprovider"]
    outcomes = {}
    for fault in ("", "power_projection"):
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            env=with_fault(fault),
            cwd=BENCHMARKS.parent,
        )
        outcomes[fault] = completed.stdout.strip().splitlines()[-1]
    assert "2 passed" in outcomes[""] and "failed" not in outcomes[""], outcomes
    assert "1 failed, 1 passed" in outcomes["power_projection"], outcomes


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


def test_portable_vs_native_flags_a_build_that_steps_wrong(tmp_path: Path) -> None:
    # A "portable build" whose dl.train steps with η·1.001: the row's ratio reads "disagrees",
    # the script names the disagreement and exits with status 1.
    patch = (
        "import runpy, sys; import deeplinear as dl; real = dl.train; "
        "dl.train = lambda *a, **k: real(*a, **{**k, 'lr': k['lr'] * 1.001}); "
        "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    portable = tmp_path / "python"
    portable.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "{patch}" "$@"\n')
    portable.chmod(0o755)
    completed = launch(
        "portable_vs_native.py",
        *("--native", sys.executable, "--portable", str(portable)),
        *("--sizes", "4x2", "--rounds", "1", "--seconds", "0.01"),
    )
    assert completed.returncode == 1, completed.stderr
    row = next(line for line in completed.stdout.splitlines() if line.startswith("| 4, 2 |"))
    assert row.split("|")[4].strip() == "disagrees"
    assert "the builds disagree: check_loss" in completed.stderr
    assert "portable round 0: d=4 L=2: loss after 10 steps" in completed.stderr
    assert "native round" not in completed.stderr


def test_batch_probe_runs_every_mode() -> None:
    # The script behind figures of docs/performance.md (tiny sizes: only that it runs).
    printed = run("batch_probe.py", "lanes", "--sizes", "16x8x4", "--steps", "3", "--rounds", "1")
    assert "| 16, 8, 4 |" in printed
    printed = run(
        "batch_probe.py", "calls", "--size", "8x4x2", "--steps", "0,3", "--threads", "1",
        "--rounds", "1",
    )  # fmt: skip
    assert "| 0 |" in printed and "| 3 |" in printed
    printed = run(
        "batch_probe.py", "layers", "--size", "16x4", "--depths", "2,4", "--steps", "3",
        "--rounds", "1",
    )  # fmt: skip
    assert "per layer:" in printed and "besides the layers:" in printed


@pytest.mark.parametrize("threads", ["1", "2"])
def test_call_overhead_runs(threads: str) -> None:
    # The script behind a figure of docs/performance.md (tiny sizes: only that it runs and prints
    # its columns; the times, rounded to 0.1 ms, can be 0 here).
    printed = run(
        "call_overhead.py", "--sizes", "8x3", "--steps", "3", "--rounds", "1", "--threads", threads
    )
    row = next(line for line in printed.splitlines() if line.startswith("| 8, 3 |"))
    cells = [float(cell) for cell in row.strip("|").split("|")[1:]]
    assert len(cells) == (4 if threads == "1" else 6)
    assert all(cell >= 0 for cell in cells) and cells[-1] > 0  # (ms, rounded)
