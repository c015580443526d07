"""The paper's bounds: closed forms, thresholds, and the (corrected) lemmas holding numerically."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplinear as dl
from deeplinear import theory


def numpy_gradient(layers: np.ndarray, phi: np.ndarray) -> np.ndarray:
    depth, dim, _ = layers.shape

    def chain(parts: np.ndarray) -> np.ndarray:  # Θ_{i:j} = Θ_j ⋯ Θ_i
        return np.linalg.multi_dot([np.eye(dim), *parts[::-1], np.eye(dim)])

    residual = chain(layers) - phi
    grads = [chain(layers[i + 1 :]).T @ residual @ chain(layers[:i]).T for i in range(depth)]
    return np.stack(grads)


def test_step_sizes_closed_forms() -> None:
    d, depth = 3, 5
    phi = 2.0 * np.eye(d)  # ‖Φ‖₂ = 2, ‖Φ‖_F = 2√d
    assert theory.theorem1_lr(phi, depth, c=1.0) == pytest.approx(1 / (3 * depth * d**5 * 4))
    assert theory.theorem1_lr(phi, depth, c=2.0) == pytest.approx(1 / (3 * depth * d**5 * 16))
    assert theory.theorem2_lr(phi, depth) == pytest.approx(1 / (depth * 5))
    assert theory.theorem3_lr(phi, depth, c=2.0) == pytest.approx(1 / (2 * depth * d**5 * 4 * d))
    assert theory.theorem3_rate(phi, 0.5) == pytest.approx(1 - 0.25 / (d**5 * 4 * d))
    assert theory.identity_excess_loss(phi) == pytest.approx(0.5 * d)
    assert theory.lemma3_hessian_bound(depth, d, 0.1) == pytest.approx(3 * depth * d**5 * 1.1**10)


def test_step_sizes_shrink_with_depth_and_dimension() -> None:
    phi = dl.targets.spd(4, 3.0, seed=0)
    assert theory.theorem2_lr(phi, 8) < theory.theorem2_lr(phi, 4)
    assert theory.theorem1_lr(phi, 8, 1.5) < theory.theorem1_lr(phi, 4, 1.5)
    assert theory.theorem1_lr(np.eye(5), 4, 1.5) < theory.theorem1_lr(np.eye(4), 4, 1.5)


def test_theorem1_conditions_flip_at_their_thresholds() -> None:
    c = 1.3
    threshold = np.log(c) ** 2 / (8 * c**10)
    below = dl.targets.near_identity(3, 0.99 * threshold, seed=1)
    above = dl.targets.near_identity(3, 1.01 * threshold, seed=1)
    assert theory.theorem1_conditions(below, 2, c).loss_ok
    assert not theory.theorem1_conditions(above, 2, c).loss_ok
    big_c = np.exp(3.0)  # depth threshold (4/3)·3 = 4
    assert theory.theorem1_conditions(np.eye(2), 4, big_c).depth_ok
    assert not theory.theorem1_conditions(np.eye(2), 3, big_c).depth_ok
    conditions = theory.theorem1_conditions(below, 2, c)
    assert conditions.holds
    assert conditions.rate == pytest.approx(2 * conditions.lr * 2 / c**4)
    assert conditions.radius_bound == pytest.approx(np.log(c) / 2)


def test_theorem1_bound_holds_along_gradient_descent() -> None:
    c = 1.2
    phi = dl.targets.near_identity(2, 0.5 * np.log(c) ** 2 / (8 * c**10), seed=3)
    depth = 2
    conditions = theory.theorem1_conditions(phi, depth, c)
    assert conditions.holds
    result = dl.train(
        phi, depth, lr=conditions.lr, max_steps=2000, record_every=100, diagnostics=True
    )
    bound = theory.theorem1_loss_bound(result.losses[0], result.loss_steps, conditions.lr, depth, c)
    assert np.all(result.losses <= bound * (1 + 1e-9))
    assert result.diagnostics["radius"].max() <= conditions.radius_bound


def test_theorem2_steps_shape() -> None:
    phi = dl.targets.spd(4, 4.0, seed=0)
    lr = theory.theorem2_lr(phi, 4)
    loose = theory.theorem2_steps(phi, 4, lr, 0.4, 1e-3)
    tight = theory.theorem2_steps(phi, 4, lr, 0.4, 1e-9)
    assert 0 < loose < tight
    assert theory.theorem2_steps(phi, 4, lr, 0.2, 1e-3) > loose  # smaller γ, more steps


def test_paper_lemma2_statement_fails_by_a_factor_two() -> None:
    # L = 1, Θ = I, Φ = 0: ℓ = d/2 and ‖∇ℓ‖² = ‖I‖_F² = d, while 4ℓL(1 − 0)^{2L} = 2d.
    d = 3
    grad_sq = float(np.sum(dl.gradient(np.eye(d)[None], np.zeros((d, d))) ** 2))
    assert grad_sq == pytest.approx(d)
    assert grad_sq < theory.lemma2_lower_bound(d / 2, 1, 0.0)
    assert grad_sq >= theory.lemma2_corrected_lower_bound(d / 2, 1, 0.0) * (1 - 1e-12)


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 5), st.integers(1, 4), st.floats(0.0, 0.3), st.integers(0, 10**6))
def test_corrected_lemma2_holds_near_identity(depth: int, d: int, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    layers = np.eye(d) + scale * rng.standard_normal((depth, d, d))
    phi = rng.standard_normal((d, d))
    sigma_min = min(np.linalg.svd(layer, compute_uv=False)[-1] for layer in layers)
    if sigma_min <= 1e-3:
        return
    a = 1.0 - sigma_min
    loss = 0.5 * np.sum((np.linalg.multi_dot([np.eye(d), *layers[::-1]]) - phi) ** 2)
    grad_sq = float(np.sum(numpy_gradient(layers, phi) ** 2))
    assert grad_sq >= theory.lemma2_corrected_lower_bound(loss, depth, max(a, 0.0)) * (1 - 1e-9)


@pytest.mark.parametrize(("depth", "d"), [(2, 2), (3, 2), (2, 3)])
def test_lemma3_bounds_a_finite_difference_hessian(depth: int, d: int) -> None:
    rng = np.random.default_rng(depth + d)
    layers = np.eye(d) + 0.2 * rng.standard_normal((depth, d, d))
    z = max(np.linalg.norm(layer, 2) for layer in layers) - 1
    phi = rng.standard_normal((d, d))
    phi *= min(1.0, (1 + z) ** depth / np.linalg.norm(phi, 2))  # hypothesis ‖Φ‖₂ ≤ (1 + z)^L
    n, eps = depth * d * d, 1e-6
    hessian = np.zeros((n, n))
    for k in range(n):
        step = np.zeros(n)
        step[k] = eps
        delta = step.reshape(depth, d, d)
        hessian[:, k] = (
            numpy_gradient(layers + delta, phi) - numpy_gradient(layers - delta, phi)
        ).ravel() / (2 * eps)
    assert np.linalg.norm(hessian) <= theory.lemma3_hessian_bound(depth, d, max(z, 0.0))


def test_diagnostics_wrapper_names_every_value() -> None:
    values = theory.diagnostics(np.stack([np.eye(2)] * 3), 2 * np.eye(2))
    assert values["loss"] == pytest.approx(1.0)  # ½‖I − 2I‖_F² with d = 2
    assert values["radius"] == 0.0 and values["margin"] == 1.0 and values["balancedness"] == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: theory.theorem1_lr(np.eye(2), 0, 1.5), "depth"),
        (lambda: theory.theorem1_lr(np.eye(2), 2, 0.5), "c"),
        (lambda: theory.theorem1_lr(np.ones((2, 3)), 2, 1.5), "phi"),
        (lambda: theory.theorem2_lr(np.full((2, 2), np.nan), 2), "phi"),
        (lambda: theory.theorem2_steps(np.eye(2), 2, 0.1, 0.0, 1e-3), "gamma"),
        (lambda: theory.theorem2_steps(np.eye(2), 2, 0.1, 0.5, -1.0), "eps"),
        (lambda: theory.lemma2_lower_bound(1.0, 2, 1.0), "a"),
        (lambda: theory.lemma2_corrected_lower_bound(-1.0, 2, 0.1), "loss"),
        (lambda: theory.lemma3_hessian_bound(2, 0, 0.1), "d"),
        (lambda: theory.lemma3_hessian_bound(2, 2, -0.1), "z"),
        (lambda: theory.theorem1_loss_bound(1.0, [-1], 0.1, 2, 1.5), "steps"),
        (lambda: theory.diagnostics(np.eye(2)[None], np.eye(3)), "phi"),
    ],
)
def test_bad_arguments_name_the_argument(call, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()
