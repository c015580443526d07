"""The findings that README.md, docs/reproduce.md and the report state, each checked here by a
computation of its own (deeplinear, and plain numpy where a statement is about other code)."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import cli

PHI_8 = np.array([[6.0, 1.0], [-1.0, 6.0]])


@pytest.mark.parametrize(
    ("depth", "ratio", "paper"), [(2, 0.99859, 0.99648), (4, 0.99685, 0.99648)]
)
def test_eq8_is_false_for_gamma_above_one(depth: int, ratio: float, paper: float) -> None:
    """Φ = [[6, 1], [−1, 6]], γ = 5, η = 1/(3Ld⁵‖Φ‖_F²): the step condition (7) holds, and
    ℓ(t+1)/ℓ(t) exceeds (8)'s 1 − ηLγ²; the corrected 1 − ηLγ^{2−2/L} holds."""
    lr = 1 / (3 * depth * 2**5 * np.sum(PHI_8**2))
    result = dl.train(
        PHI_8, depth, "power_projection", gamma=5.0, lr=lr, max_steps=20, diagnostics=True
    )
    largest = max(result.diagnostics["max_singular"].max(), np.linalg.norm(PHI_8, 2) ** (1 / depth))
    assert lr <= 1 / (3 * depth * 2**5 * max(largest ** (2 * depth), np.linalg.norm(PHI_8, 2) ** 2))
    ratios = result.losses[1:] / result.losses[:-1]
    assert ratios[0] == pytest.approx(ratio, abs=1e-5)
    assert 1 - lr * depth * 25 == pytest.approx(paper, abs=1e-5)
    assert np.all(ratios > 1 - lr * depth * 25)
    assert np.all(ratios <= 1 - lr * depth * 5 ** (2 - 2 / depth))


def _escape_step(phi: np.ndarray, depth: int, steps: int, floor: float) -> int | None:
    result = dl.train(phi, depth, lr=0.5 / (depth * 5.0), max_steps=steps)
    below = np.flatnonzero(result.losses < floor - 1e-9)
    return int(result.loss_steps[below[0]]) if below.size else None


def test_float64_gd_leaves_the_plateau_for_l_3_too() -> None:
    """λ = 2, L = 3, Φ in a random basis: dense GD leaves λ²/2 near step 1000 and ends at 0.5
    with the product's eigenvalues (−2, 0, 1, 1)."""
    for seed in range(3):
        phi = dl.targets.negative_eigenvalue(4, 2.0, seed=seed)
        step = _escape_step(phi, 3, 3000, 2.0)
        assert step is not None and 700 <= step <= 1500
    result = dl.train(phi, 3, lr=0.02, max_steps=5000)
    eigenvalues = np.sort(np.linalg.eigvals(dl.product(result.layers)).real)
    assert result.final_loss == pytest.approx(0.5, abs=1e-4)
    assert np.allclose(eigenvalues, [-2, 0, 1, 1], atol=1e-2)


def test_whether_l_2_escapes_depends_on_rounding() -> None:
    """L = 2: a loop that keeps Θ₂ = Θ₁ᵀ exactly (GD on Θ₁ with Θ₂ set to Θ₁ᵀ, the same
    iteration in exact arithmetic) never leaves λ²/2, since Θ₁ᵀΘ₁ is positive semidefinite;
    the two-layer loop started 1e-15 away from that symmetry leaves it within a few hundred
    steps. Which of the two a float64 implementation does depends on its rounding."""
    phi = dl.targets.negative_eigenvalue(4, 2.0, seed=0)
    lr = 0.5 / (2 * 5.0)
    first = np.eye(4)
    for _ in range(3000):
        first = first - lr * (first @ (first.T @ first - phi))  # G₁ = Θ₂ᵀE with Θ₂ = Θ₁ᵀ
        assert 0.5 * np.sum((first.T @ first - phi) ** 2) >= 2.0 - 1e-12
    first, second = np.eye(4), np.eye(4) + 1e-15 * np.random.default_rng(0).standard_normal((4, 4))
    losses = []
    for _ in range(1000):
        residual = second @ first - phi
        first, second = first - lr * (second.T @ residual), second - lr * (residual @ first.T)
        losses.append(0.5 * np.sum((second @ first - phi) ** 2))
    assert min(losses) < 1e-6


def test_in_the_eigenbasis_the_layers_stay_diagonal() -> None:
    phi = np.diag([-2.0, 1.0, 1.0, 1.0])
    for depth in (2, 3, 4):
        result = dl.train(phi, depth, lr=0.5 / (depth * 5.0), max_steps=5000)
        off = result.layers - np.einsum("lii->li", result.layers)[:, :, None] * np.eye(4)
        assert np.abs(off).max() == 0
        assert np.abs(result.layers - result.layers[0]).max() < 1e-12
        assert result.final_loss >= 2.0 - 1e-12


@pytest.mark.parametrize("depth", [2, 8])
def test_theorem2_exponent_in_kappa_tends_to_two_minus_one_over_l(depth: int) -> None:
    conds = [64.0, 128.0, 256.0]
    steps = []
    for cond in conds:
        phi = dl.targets.spd(8, cond, seed=5)
        lr = dl.theory.theorem2_lr(phi, depth)
        steps.append(
            dl.spectral_gd(phi, depth, lr=lr, max_steps=10**8, tol=1e-10, record_every=10**8).steps
        )
    slopes = np.diff(np.log(steps)) / np.diff(np.log(conds))
    assert np.all(slopes < 2 - 1 / depth) and np.all(slopes > 2 - 1 / depth - 0.15)
    assert slopes[1] > slopes[0] - 0.005  # no trend away from the exponent


def test_the_cli_uses_the_constant_that_theorem3s_proof_needs() -> None:
    phi = dl.targets.rotation(3, 1.0, seed=0)
    lr, source = cli._default_lr(phi, 2, "power_projection", 0.25)
    assert lr == pytest.approx(dl.theory.theorem3_lr(phi, 2, c=3 * (1 + np.sqrt(2)) ** 2))
    assert "17.5" in source


def test_a_plain_numpy_loop_leaves_the_plateau_for_l_3_too() -> None:
    """The L = 3 escape is not deeplinear's: three layers stepped by Lemma 1 in numpy."""
    phi = dl.targets.negative_eigenvalue(4, 2.0, seed=0)
    layers = [np.eye(4) for _ in range(3)]
    lr, escaped = 0.5 / (3 * 5.0), None
    for step in range(1500):
        prefixes = [np.eye(4)]
        for layer in layers:
            prefixes.append(layer @ prefixes[-1])
        residual = prefixes[-1] - phi
        if escaped is None and 0.5 * np.sum(residual**2) < 2.0 - 1e-9:
            escaped = step
        backward, gradients = residual, [None] * 3
        for i in (2, 1, 0):
            gradients[i] = backward @ prefixes[i].T
            backward = layers[i].T @ backward
        layers = [layer - lr * gradient for layer, gradient in zip(layers, gradients)]
    assert escaped is not None and 700 <= escaped <= 1500
