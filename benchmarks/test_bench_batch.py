"""Timings of many small networks: dl.train_batch against the loop of dl.train a researcher
would write, and the per-call cost of the steppable API a simulator calls once per tick.

Run with ``pytest benchmarks/test_bench_batch.py --benchmark-only`` (not part of the default
test run). Compare the groups of one size within one run: only ratios measured together mean
anything on a shared machine. Each benchmark also checks that what it timed is right: network b
of a batch equals dl.train on it bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl

# (B, d, L, steps): the goals of the batch API are stated for these sizes.
BATCHES = [(1024, 4, 8, 1000), (256, 8, 32, 100), (256, 16, 16, 100)]


def _phis(count: int, dim: int) -> np.ndarray:
    return np.stack([dl.targets.spd(dim, 4.0, seed=seed) for seed in range(count)])


def _lr(phis: np.ndarray, depth: int) -> float:
    return min(dl.theory.theorem2_lr(phi, depth) for phi in phis)


def _loop(phis: np.ndarray, depth: int, lr: float, steps: int) -> list[dl.TrainResult]:
    return [dl.train(phi, depth, lr=lr, max_steps=steps, record_every=steps) for phi in phis]


def _ids(value: object) -> str:
    return str(value)


@pytest.mark.parametrize(("count", "dim", "depth", "steps"), BATCHES, ids=_ids)
@pytest.mark.parametrize("threads", [1, 2])
def test_train_batch(benchmark, count: int, dim: int, depth: int, steps: int, threads: int) -> None:
    phis = _phis(count, dim)
    lr = _lr(phis, depth)
    benchmark.group = f"batch B={count} d={dim} L={depth} ({steps} steps)"
    result = benchmark(
        dl.train_batch, phis, depth, lr=lr, max_steps=steps, record_every=steps, threads=threads
    )
    for b in (0, count - 1):
        alone = dl.train(phis[b], depth, lr=lr, max_steps=steps, record_every=steps)
        np.testing.assert_array_equal(result.layers[b], alone.layers)


@pytest.mark.parametrize(("count", "dim", "depth", "steps"), BATCHES, ids=_ids)
def test_loop_of_train(benchmark, count: int, dim: int, depth: int, steps: int) -> None:
    phis = _phis(count, dim)
    lr = _lr(phis, depth)
    benchmark.group = f"batch B={count} d={dim} L={depth} ({steps} steps)"
    results = benchmark(_loop, phis, depth, lr, steps)
    assert all(r.steps == steps for r in results)


def test_trainer_step_one(benchmark) -> None:
    # a simulator's tick: one step per call (goal: at most 2 µs per call at d = 4, L = 8)
    phi = dl.targets.spd(4, 4.0, seed=0)
    trainer = dl.Trainer(phi, 8, lr=dl.theory.theorem2_lr(phi, 8), record_every=10**9)
    benchmark.group = "per call d=4 L=8"
    benchmark(trainer.step, 1)
    replay = dl.train(phi, 8, lr=trainer.lr, max_steps=trainer.steps, record_every=10**9)
    np.testing.assert_array_equal(trainer.layers, replay.layers)


def test_gradient(benchmark) -> None:
    # goal: at most 3 µs per call at d = 4, L = 8
    phi = dl.targets.spd(4, 4.0, seed=0)
    layers = np.stack([np.eye(4) * 1.01] * 8)
    benchmark.group = "per call d=4 L=8"
    gradient = benchmark(dl.gradient, layers, phi)
    assert gradient.shape == (8, 4, 4)


def test_loss(benchmark) -> None:
    phi = dl.targets.spd(4, 4.0, seed=0)
    layers = np.stack([np.eye(4) * 1.01] * 8)
    benchmark.group = "per call d=4 L=8"
    assert benchmark(dl.loss, layers, phi) > 0
