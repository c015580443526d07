"""Algorithm 2 (power projection) over many steps against an independent numpy/scipy loop.

The core keeps the layers in factored form between steps (the projected product's SVD; the
layers are formed only when observed, cpp/include/deeplinear/power_projection.hpp), so these
tests run many steps in one call and compare with the algorithm as the paper states it: a
gradient step on every layer, the chained product, the projection onto H_γ and the balanced
factorization from scipy's polar decomposition and fractional matrix powers."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl
from reference import scipy_balanced_factors
from test_methods import numpy_gradient


def numpy_power_projection(
    phi: np.ndarray, layers: np.ndarray, gamma: float, lr: float, steps: int
) -> tuple[np.ndarray, list[float]]:
    losses = []
    for _ in range(steps):
        stepped = layers - lr * numpy_gradient(layers, phi)
        product = np.eye(len(phi))
        for layer in stepped:
            product = layer @ product
        eigenvalues, vectors = np.linalg.eigh((product + product.T) / 2)
        projected = (product - product.T) / 2 + (
            vectors * np.maximum(eigenvalues, gamma)
        ) @ vectors.T
        losses.append(0.5 * float(np.sum((projected - phi) ** 2)))
        layers = scipy_balanced_factors(projected, len(layers))
    return layers, losses


def start(dim: int, depth: int, gamma: float) -> np.ndarray:
    return np.stack([gamma ** (1 / depth) * np.eye(dim)] * depth)


@pytest.mark.parametrize(
    ("dim", "depth"),
    [(4, 1), (4, 2), (5, 3), (5, 4), (6, 7), (3, 16), (90, 3)],  # d = 90: the BLAS products
)
def test_many_steps_in_one_call_follow_algorithm_2(dim: int, depth: int) -> None:
    phi = 1.5 * dl.targets.rotation(dim, 1.4, seed=0)  # margin ≈ 0.25 < γ: the projection acts
    gamma, lr, steps = 0.6, 0.3 / depth, 25 if dim < 50 else 8
    expected, losses = numpy_power_projection(phi, start(dim, depth, gamma), gamma, lr, steps)
    result = dl.train(phi, depth, "power_projection", gamma=gamma, lr=lr, max_steps=steps)
    np.testing.assert_allclose(result.layers, expected, atol=1e-12)
    np.testing.assert_allclose(result.losses[1:], losses, rtol=1e-11)


def test_float32_follows_algorithm_2() -> None:
    phi = dl.targets.gamma_positive(5, 0.3, seed=4)
    gamma, lr, steps, depth = 0.2, 0.1, 20, 4
    expected, _ = numpy_power_projection(phi, start(5, depth, gamma), gamma, lr, steps)
    result = dl.train(
        phi.astype(np.float32), depth, "power_projection", gamma=gamma, lr=lr, max_steps=steps
    )
    assert result.layers.dtype == np.float32
    np.testing.assert_allclose(result.layers, expected, atol=2e-5)


def test_from_unbalanced_layers_the_first_step_is_the_gradient_step_of_those_layers() -> None:
    phi = dl.targets.gamma_positive(4, 0.3, seed=1)
    gamma, lr, depth = 0.3, 0.1, 3
    rng = np.random.default_rng(0)
    init = np.eye(4) + 0.1 * rng.standard_normal((depth, 4, 4))
    expected, _ = numpy_power_projection(phi, init, gamma, lr, 6)
    result = dl.train(phi, depth, "power_projection", gamma=gamma, lr=lr, max_steps=6, init=init)
    np.testing.assert_allclose(result.layers, expected, atol=1e-12)


def test_a_run_split_over_calls_takes_exactly_the_steps_of_one_call() -> None:
    phi = 1.5 * dl.targets.rotation(6, 1.2, seed=3)
    options = {"gamma": 0.5, "lr": 0.05, "max_steps": 200, "record_every": 7}
    whole = dl.train(phi, 5, "power_projection", **options)
    # A callback cuts the run into one core call per record_every steps.
    split = dl.train(phi, 5, "power_projection", callback=lambda *_: None, **options)
    np.testing.assert_array_equal(split.layers, whole.layers)
    np.testing.assert_array_equal(split.losses, whole.losses)


def test_layers_changed_between_steps_are_stepped_as_they_are() -> None:
    phi = dl.targets.gamma_positive(4, 0.3, seed=2)
    gamma, lr, depth = 0.3, 0.1, 3
    trainer = dl.Trainer(phi, depth, "power_projection", gamma=gamma, lr=lr)
    trainer.step(10)
    trainer.layers[1] += 0.05 * np.eye(4)  # in place: no longer the factors of the kept product
    changed = trainer.layers.copy()
    trainer.step(4)
    expected, _ = numpy_power_projection(phi, changed, gamma, lr, 4)
    np.testing.assert_allclose(trainer.layers, expected, atol=1e-12)


def test_gamma_within_rounding_of_zero_checks_the_roots_every_step() -> None:
    # γ below 100·d·ε·‖Ψ‖: the stepper checks R's Schur form each step; the run is unchanged.
    phi = dl.targets.spd(4, 3.0, seed=0)
    gamma, lr, depth = 1e-15, 0.05, 3
    init = start(4, depth, 0.5)
    expected, _ = numpy_power_projection(phi, init, gamma, lr, 15)
    result = dl.train(phi, depth, "power_projection", gamma=gamma, lr=lr, max_steps=15, init=init)
    np.testing.assert_allclose(result.layers, expected, atol=1e-12)


@pytest.mark.parametrize(
    ("dtype", "dim", "gamma"), [(np.float32, 17, 1e-6), (np.float64, 3, 1e-17)]
)
def test_a_product_singular_to_working_precision_is_still_stepped(
    dtype, dim: int, gamma: float
) -> None:
    # Φ = diag(1, …, 1, 0) is not γ-positive: the projected product is pressed against the edge of
    # H_γ, its σ_min ≈ γ, below d·ε·σ_max. Its balanced factors still exist (R = UVᵀ has real
    # roots: Re λ(R) ≥ γ/σ_max), so the run goes on towards diag(1, …, 1, γ). It stopped here as
    # "diverged" with a finite, falling loss.
    phi = np.eye(dim, dtype=dtype)
    phi[-1, -1] = 0
    depth, lr, steps = 2, 0.1, 300
    result = dl.train(phi, depth, "power_projection", gamma=gamma, lr=lr, max_steps=steps)
    assert result.status == "max_steps" and result.steps == steps
    eps = np.finfo(dtype).eps
    product = dl.product(result.layers).astype(np.float64)
    margin = np.linalg.eigvalsh((product + product.T) / 2)[0]
    assert margin >= gamma - 10 * dim * eps  # in H_γ to working precision
    # Balanced: every layer has the singular values of the product, to the power 1/L (Lemma 7).
    sigma = np.linalg.svd(product, compute_uv=False) ** (1 / depth)
    for layer in result.layers.astype(np.float64):
        np.testing.assert_allclose(np.linalg.svd(layer, compute_uv=False), sigma, atol=100 * eps)
    # The float64 run against Algorithm 2 in numpy (only the products: R is arbitrary on a
    # direction with σ ≈ 10⁻¹⁷, the factors there are not).
    if dtype == np.float64:
        expected, losses = numpy_power_projection(phi, start(dim, depth, gamma), gamma, lr, steps)
        np.testing.assert_allclose(product, dl.product(expected), atol=1e-12)
        np.testing.assert_allclose(result.losses[1:], losses, rtol=1e-9, atol=1e-15)
    assert result.final_loss < 1e-6
    batch = dl.train_batch(
        phi[np.newaxis], depth, "power_projection", gamma=gamma, lr=lr, max_steps=steps
    )
    assert batch.status[0] == "max_steps"
    np.testing.assert_array_equal(batch.layers[0], result.layers)


def test_divergence_keeps_the_last_finite_state() -> None:
    phi = 3 * dl.targets.gamma_positive(4, 0.3, seed=1)
    trainer = dl.Trainer(phi, 3, "power_projection", gamma=0.2, lr=0.01)
    trainer.step(5)
    before = trainer.layers.copy()
    trainer.lr = 1e200  # the next step overflows
    trainer.step(3)
    assert trainer.status == "diverged" and trainer.steps == 5
    np.testing.assert_array_equal(trainer.layers, before)
    assert np.isfinite(trainer.loss)


def test_a_checkpoint_without_the_product_still_resumes(tmp_path) -> None:
    phi = dl.targets.gamma_positive(4, 0.4, seed=3)
    straight = dl.Trainer(phi, 3, "power_projection", gamma=0.3, lr=0.05)
    straight.run(max_steps=60)
    first = dl.Trainer(phi, 3, "power_projection", gamma=0.3, lr=0.05)
    first.step(30)
    first.save(tmp_path / "run.npz")
    with np.load(tmp_path / "run.npz") as saved:
        data = {name: saved[name] for name in saved.files if name not in ("product", "has_product")}
    assert "product" not in data
    np.savez(tmp_path / "old.npz", **data)  # as written before the product (and its flag) was saved
    resumed = dl.Trainer.load(tmp_path / "old.npz")
    resumed.run(max_steps=30)
    np.testing.assert_allclose(resumed.layers, straight.layers, atol=1e-13)


def test_a_run_that_blows_up_ends_diverged_instead_of_raising() -> None:
    # An SPD target of condition 10⁶ with η far too large: the product's negative eigenvalues
    # grow past 10²⁰ within a few steps. Its projection onto H_γ must stay accurate relative to
    # γ (a subtraction of the whole correction lost it, the projected product then had no real
    # roots and the run raised RuntimeError); the run ends "diverged" with its last finite state.
    result = dl.train(
        dl.targets.spd(40, 1e6, seed=662), 3, "power_projection", gamma=1.0, lr=0.005, max_steps=5
    )
    assert result.status == "diverged"
    assert np.isfinite(result.layers).all() and np.isfinite(result.final_loss)
