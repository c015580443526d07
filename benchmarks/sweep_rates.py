"""Runs per second of ``dl.sweep`` with and without a store, and the store's size.

Each round runs, one after another, the sweep without a store, with a fresh store, resuming
from that store (every row cached) and — when git can show it — the sweep of deeplinear 0.1
(commit 18c84a1: one config per task, one JSON file per finished run) with a fresh store, so
that a noisy spell on a shared machine falls on all of them alike. Prints the median and the
range over the rounds, and the ratios the goals name. ``--scale N`` then runs one sweep of N
configs into a store and reports its rate, the store's size and files, and the time to resume.

    taskset -c 0 python benchmarks/sweep_rates.py                # one core, 5,000 configs
    taskset -c 0 python benchmarks/sweep_rates.py --scale 1000000
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import deeplinear as dl

BEFORE = "18c84a1"  # the last commit with one JSON file per run


def configs(count: int, first_seed: int = 0) -> list[dict[str, Any]]:
    """The goals' sweep: d = 4, L = 4, 100 steps, one SPD target per seed."""
    return dl.grid(
        target="spd",
        target_params={"d": 4, "cond": 2.0, "seed": list(range(first_seed, first_seed + count))},
        depth=4,
        lr=0.05,
        max_steps=100,
        record_every=100,
    )


def sweep_before() -> Any:
    """``sweep`` of deeplinear 0.1 (loaded from git into the package), or None without git."""
    root = Path(__file__).resolve().parent.parent
    try:
        source = subprocess.run(
            ["git", "-C", str(root), "show", f"{BEFORE}:python/deeplinear/sweep.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("deeplinear._sweep_before", loader=None)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    module.__package__ = "deeplinear"
    exec(compile(source, f"{BEFORE}:sweep.py", "exec"), module.__dict__)
    return module.sweep


def size_of(folder: Path) -> tuple[int, int]:
    """(bytes, files) of a store."""
    files = [path for path in folder.iterdir() if path.is_file()]
    return sum(path.stat().st_size for path in files), len(files)


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def check(table: Any, expected: Any) -> None:
    """Every run finished, with the final losses of the reference table."""
    assert (table["status"] == "max_steps").all(), table["status"].value_counts()
    assert (table["final_loss"].to_numpy() == expected["final_loss"].to_numpy()).all()


def rates(count: int, rounds: int, folder: Path) -> dict[str, list[float]]:
    sweeps = configs(count)
    before = sweep_before()
    reference = dl.sweep(sweeps, progress=False, batch=False)
    measured: dict[str, list[float]] = {"no store": [], "store": [], "resume": []}
    if before is not None:
        measured["store of 0.1"] = []
    for index in range(rounds):
        seconds, table = timed(dl.sweep, sweeps, progress=False)
        check(table, reference)
        measured["no store"].append(count / seconds)
        store = folder / f"store-{index}"
        seconds, table = timed(dl.sweep, sweeps, store=store, progress=False)
        check(table, reference)
        measured["store"].append(count / seconds)
        seconds, table = timed(dl.sweep, sweeps, store=store, progress=False)
        assert table["cached"].all()
        measured["resume"].append(count / seconds)
        if before is not None:
            old = folder / f"old-{index}"
            seconds, table = timed(before, sweeps, store=old, progress=False)
            check(table, reference)
            measured["store of 0.1"].append(count / seconds)
            shutil.rmtree(old)
        if index == 0:
            measured["bytes per run"] = [size_of(store)[0] / count]
        shutil.rmtree(store)
    return measured


def scale(count: int, folder: Path) -> None:
    store = folder / "scale"
    sweeps = configs(count)
    seconds, table = timed(dl.sweep, sweeps, store=store, progress=True)
    assert (table["status"] == "max_steps").all()
    size, files = size_of(store)
    again, table = timed(dl.sweep, sweeps, store=store, progress=False)
    assert table["cached"].all()
    print(
        f"\n{count:,} configs: {count / seconds:,.0f} runs/s ({seconds:,.1f} s) with a store of "
        f"{size / 2**20:,.1f} MiB in {files} files ({size / count:.0f} bytes per run); "
        f"resumed (every row cached) in {again:,.1f} s ({count / again:,.0f} runs/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, default=5000, help="configs per sweep (5000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every sweep (5)")
    parser.add_argument("--scale", type=int, default=0, help="then one sweep of this many")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.rounds:
            measured = rates(args.configs, args.rounds, Path(folder))
            print(f"dl.sweep, {args.configs:,} configs d = 4, L = 4, 100 steps; runs/s:\n")
            print("| sweep | median | range |\n| --- | --- | --- |")
            for name, values in measured.items():
                if name != "bytes per run":
                    median = statistics.median(values)
                    print(f"| {name} | {median:,.0f} | {min(values):,.0f}–{max(values):,.0f} |")
            store, bare = (
                statistics.median(measured["store"]),
                statistics.median(measured["no store"]),
            )
            print(f"\nstore / no store: {store / bare:.2f} (median rates)")
            if "store of 0.1" in measured:
                old = statistics.median(measured["store of 0.1"])
                print(f"store / store of 0.1: {store / old:.2f}")
            print(f"store: {measured['bytes per run'][0]:.0f} bytes per run")
        if args.scale:
            scale(args.scale, Path(folder))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
