"""A portable build (DEEPLINEAR_NATIVE=OFF, what a wheel is) against a native one.

Usage:  python benchmarks/portable_vs_native.py --native PYTHON --portable PYTHON
                                                [--sizes 4x8,64x16] [--rounds 5] [--seconds 0.3]

Each PYTHON is an interpreter whose ``import deeplinear`` gets one of the two builds, e.g. the
project's venv (native, the default ``pip install .``) and a venv with the wheel of
``CMAKE_ARGS="-DDEEPLINEAR_NATIVE=OFF" pip wheel --no-deps .`` installed. For every size, each
round runs ``dl.train`` (full-batch GD from the identity, float64, one thread, the worker of
compare.py) once in a process of each build, in alternating order, with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE removed from the environment. The table gives the medians of steps/s, their
ratio and the range of the per-round ratios, and the kernel each build used.

Agreement, in every round: each process's results pass compare.py's checks (compare.check_run:
the loss after CHECK_STEPS steps towards the SPD target against the exact dynamics to 1e-8, the
timed run's final loss to 1e-6, and the layers and loss after CHECK_STEPS steps towards the
non-symmetric target against compare.py's own Lemma 1 reference to 1e-8), and the two builds'
results of one round agree with each other to BUILDS_RTOL = 1e-10: the loss after CHECK_STEPS
steps towards either target relative to itself, the non-symmetric run's layers relative to how far
they moved from I. Both builds compile the same kernels, which give the same bits (one fma
contract, cpp/kernels/kernel_abi.hpp); only the code around them may round differently (with
-march=native a compiler may contract a·b + c into an fma), which after 10 steps is ~1e-13 of
these quantities, while a step with η off by 1e-9 moves them by ~1e-9. A disagreement marks the
row, and the script exits with status 1 once the table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from compare import check_run, references

WORKER = Path(__file__).with_name("compare_worker.py")
BUILDS_RTOL = 1e-10
SIZES = [(4, 8), (8, 32), (16, 16), (32, 64), (64, 16), (128, 32), (256, 8), (512, 4)]
HANDICAPS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def measure(python: str, dim: int, depth: int, seconds: float, check_file: Path) -> dict:
    """The worker's report, with the layers of its non-symmetric check run as "layers"."""
    env = {name: value for name, value in os.environ.items() if name not in HANDICAPS}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    args = [python, str(WORKER), "deeplinear", str(dim), str(depth), str(seconds), "1"]
    # run outside the checkout, so that a source tree on the path cannot shadow the build
    completed = subprocess.run(
        [*args, str(check_file)], capture_output=True, text=True, env=env, cwd=Path.home()
    )
    if completed.returncode != 0:
        raise SystemExit(f"{python}: the worker failed:\n{completed.stderr}")
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    report["layers"] = np.load(check_file)
    check_file.unlink()
    return report


def builds_disagree(native: dict, portable: dict) -> list[str]:
    """How one round's two reports differ beyond BUILDS_RTOL (see the module's docstring)."""
    found = []
    for key in ("check_loss", "asym_loss"):
        if not np.isclose(portable[key], native[key], rtol=BUILDS_RTOL, atol=0.0):
            found.append(f"{key} {portable[key]:.16e} (portable) != {native[key]:.16e} (native)")
    moved = float(np.abs(native["layers"] - np.eye(native["layers"].shape[-1])).max())
    error = float(np.abs(portable["layers"] - native["layers"]).max())
    if not error <= BUILDS_RTOL * moved:
        found.append(f"check layers differ by {error:.3e} (moved {moved:.3e})")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--native", required=True, help="python of the native build")
    parser.add_argument("--portable", required=True, help="python of the portable build")
    parser.add_argument("--sizes", default=None, help="comma-separated dxL, e.g. 4x8,64x16")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.3)
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be >= 1 and --seconds > 0")
    sizes = (
        [tuple(int(part) for part in item.split("x")) for item in args.sizes.split(",")]
        if args.sizes
        else SIZES
    )
    builds = {"native": args.native, "portable": args.portable}
    print("| d, L | native steps/s | portable steps/s | portable / native | per-round range |")
    print("| --- | --- | --- | --- | --- |")
    kernels: dict[str, set[str]] = {name: set() for name in builds}
    problems: list[str] = []
    scratch = tempfile.TemporaryDirectory(prefix="portable-vs-native-")
    check_file = Path(scratch.name) / "layers.npy"
    for dim, depth in sizes:
        rates: dict[str, list[float]] = {name: [] for name in builds}
        reference = references(dim, depth)
        wrong = False
        for round_ in range(args.rounds):
            order = list(builds) if round_ % 2 == 0 else list(builds)[::-1]
            reports = {}
            for name in order:
                report = measure(builds[name], dim, depth, args.seconds, check_file)
                reports[name] = report
                rates[name].append(report["steps"] / report["seconds"])
                kernel = report.get("kernel", {})
                kernels[name].add(f"d={dim}: {kernel.get('backend')} {kernel.get('isa')}")
                for problem in check_run(report, report["layers"], reference, dim, depth):
                    problems.append(f"{name} round {round_}: {problem}")
                    wrong = True
            for problem in builds_disagree(reports["native"], reports["portable"]):
                problems.append(f"d={dim} L={depth} round {round_}: the builds disagree: {problem}")
                wrong = True
        native, portable = (statistics.median(rates[name]) for name in builds)
        ratios = sorted(p / n for n, p in zip(rates["native"], rates["portable"]))
        ratio = "disagrees" if wrong else f"{portable / native:.3f}"
        print(
            f"| {dim}, {depth} | {native:,.1f} | {portable:,.1f} | {ratio} | "
            f"{ratios[0]:.3f}–{ratios[-1]:.3f} |",
            flush=True,
        )
    scratch.cleanup()
    print()
    for name, seen in kernels.items():
        print(f"{name} kernels: {', '.join(sorted(seen))}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"portable_vs_native.py: {len(problems)} disagreement(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
