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
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

WORKER = Path(__file__).with_name("compare_worker.py")
SIZES = [(4, 8), (8, 32), (16, 16), (32, 64), (64, 16), (128, 32), (256, 8), (512, 4)]
HANDICAPS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def measure(python: str, dim: int, depth: int, seconds: float) -> dict:
    env = {name: value for name, value in os.environ.items() if name not in HANDICAPS}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    args = [python, str(WORKER), "deeplinear", str(dim), str(depth), str(seconds), "1"]
    # run outside the checkout, so that a source tree on the path cannot shadow the build
    completed = subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=Path.home(), check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
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
    for dim, depth in sizes:
        rates: dict[str, list[float]] = {name: [] for name in builds}
        for round_ in range(args.rounds):
            order = list(builds) if round_ % 2 == 0 else list(builds)[::-1]
            for name in order:
                report = measure(builds[name], dim, depth, args.seconds)
                rates[name].append(report["steps"] / report["seconds"])
                kernel = report.get("kernel", {})
                kernels[name].add(f"d={dim}: {kernel.get('backend')} {kernel.get('isa')}")
        native, portable = (statistics.median(rates[name]) for name in builds)
        ratios = sorted(p / n for n, p in zip(rates["native"], rates["portable"]))
        print(
            f"| {dim}, {depth} | {native:,.1f} | {portable:,.1f} | {portable / native:.3f} | "
            f"{ratios[0]:.3f}–{ratios[-1]:.3f} |",
            flush=True,
        )
    print()
    for name, seen in kernels.items():
        print(f"{name} kernels: {', '.join(sorted(seen))}")


if __name__ == "__main__":
    main()
