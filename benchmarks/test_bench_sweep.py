"""Timings of ``dl.sweep`` over 5,000 configs (d = 4, L = 4, 100 steps): without a store, with a
fresh store, resuming from a full store, and unbatched (one ``dl.train`` per config).

Run with ``taskset -c 0 pytest benchmarks/test_bench_sweep.py --benchmark-only`` and compare the
group's rows within one run (runs per second = 5,000 / time). ``benchmarks/sweep_rates.py``
interleaves the same sweeps round by round, with the store of deeplinear 0.1, and reports the
ratios the goals name. Each benchmark also checks its rows against unbatched ``dl.train``.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

import deeplinear as dl

sys.path.insert(0, str(Path(__file__).parent))
from sweep_rates import check, configs

CONFIGS = configs(5000)


@pytest.fixture(scope="module")
def reference():
    return dl.sweep(CONFIGS, progress=False, batch=False)


def test_sweep_without_a_store(benchmark, reference) -> None:
    benchmark.group = "sweep 5,000 configs d=4 L=4 100 steps"
    table = benchmark.pedantic(dl.sweep, (CONFIGS,), {"progress": False}, rounds=3)
    check(table, reference)


def test_sweep_with_a_fresh_store(benchmark, reference, tmp_path: Path) -> None:
    benchmark.group = "sweep 5,000 configs d=4 L=4 100 steps"
    stores = (tmp_path / f"store-{index}" for index in itertools.count())

    def fresh() -> tuple[tuple, dict]:
        return (CONFIGS,), {"store": next(stores), "progress": False}

    table = benchmark.pedantic(dl.sweep, setup=fresh, rounds=3)
    check(table, reference)


def test_sweep_resuming_from_a_full_store(benchmark, reference, tmp_path: Path) -> None:
    benchmark.group = "sweep 5,000 configs d=4 L=4 100 steps"
    dl.sweep(CONFIGS, store=tmp_path, progress=False)
    table = benchmark.pedantic(
        dl.sweep, (CONFIGS,), {"store": tmp_path, "progress": False}, rounds=3
    )
    assert table["cached"].all()
    check(table, reference)


def test_sweep_unbatched(benchmark, reference) -> None:
    benchmark.group = "sweep 5,000 configs d=4 L=4 100 steps"
    table = benchmark.pedantic(dl.sweep, (CONFIGS,), {"progress": False, "batch": False}, rounds=3)
    check(table, reference)
