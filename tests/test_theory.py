"""The paper's bounds against closed forms, their thresholds, and the lemmas holding numerically.

Everything is checked with plain numpy written here (gradient of Lemma 1, finite-difference
Hessian, gradient descent), independently of the compiled core.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplinear as dl
from deeplinear import theory
from reference import gradient, loss


def hessian(layers: np.ndarray, phi: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central differences of the gradient: the (L d²) × (L d²) Hessian."""
    size = layers.size
    columns = []
    for k in range(size):
        delta = np.zeros(layers.shape)
        delta.flat[k] = step
        columns.append(
            (gradient(layers + delta, phi) - gradient(layers - delta, phi)).ravel() / (2 * step)
        )
    return np.stack(columns, axis=1)


def near_identity_layers(rng: np.random.Generator, depth: int, dim: int, scale: float):
    return np.eye(dim) + scale * rng.standard_normal((depth, dim, dim))


# --- closed forms -----------------------------------------------------------------------------


def test_closed_forms_for_phi_twice_identity() -> None:
    d, depth = 3, 5
    phi = 2.0 * np.eye(d)  # ‖Φ‖₂ = 2, ‖Φ‖_F² = 4d, ℓ(I) = ½‖−I‖_F² = d/2
    assert theory.identity_excess_loss(phi) == pytest.approx(d / 2)
    # max{c⁴, ‖Φ‖₂²}: ‖Φ‖₂² = 4 wins for c = 1.2 (c⁴ ≈ 2.07), c⁴ = 16 wins for c = 2
    assert theory.theorem1_lr(phi, depth, 1.2) == pytest.approx(1 / (3 * depth * d**5 * 4))
    assert theory.theorem1_lr(phi, depth, 2.0) == pytest.approx(1 / (3 * depth * d**5 * 16))
    assert theory.theorem2_lr(phi, depth) == pytest.approx(1 / (depth * 5))
    assert theory.theorem3_lr(phi, depth) == pytest.approx(1 / (depth * d**5 * 4 * d))
    assert theory.theorem3_lr(phi, depth, c=2.0) == pytest.approx(1 / (2 * depth * d**5 * 4 * d))
    assert theory.theorem3_rate(phi, 0.5) == pytest.approx(1 - 0.25 / (d**5 * 4 * d))
    assert theory.theorem3_rate(phi, 0.5, c=3.0) == pytest.approx(1 - 0.25 / (3 * d**5 * 4 * d))
    # Γ = 2: (1/(ηLγ²)) ln(d L ln(Γ/γ) / (γ ε))
    lr, gamma, eps = 0.01, 0.5, 1e-4
    expected = math.log(d * depth * math.log(2 / gamma) / (gamma * eps)) / (lr * depth * gamma**2)
    assert theory.theorem2_steps(phi, depth, lr, gamma, eps) == pytest.approx(expected)
    assert theory.lemma2_lower_bound(2.0, depth, 0.1) == pytest.approx(4 * 2 * depth * 0.9**10)
    assert theory.lemma2_corrected_lower_bound(2.0, depth, 0.1) == pytest.approx(
        2 * 2 * depth * 0.9**8
    )
    assert theory.lemma3_hessian_bound(depth, d, 0.1) == pytest.approx(3 * depth * d**5 * 1.1**10)


def test_closed_forms_use_the_spectral_and_frobenius_norms_of_asymmetric_phi() -> None:
    phi = np.array([[1.0, 2.0], [0.0, 1.0]])  # ‖Φ‖₂² = 3 + 2√2, ‖Φ‖_F² = 6
    spectral_sq = 3 + 2 * math.sqrt(2)
    assert theory.theorem1_lr(phi, 2, 1.0) == pytest.approx(1 / (3 * 2 * 32 * spectral_sq))
    assert theory.theorem2_lr(phi, 3) == pytest.approx(1 / (3 * (1 + spectral_sq)))
    assert theory.theorem3_lr(phi, 3) == pytest.approx(1 / (3 * 32 * 6))
    assert theory.identity_excess_loss(phi) == pytest.approx(2.0)


def test_results_are_python_floats_and_float32_input_is_computed_in_float64() -> None:
    phi = np.diag([1.0, 1.0 + 1e-7])
    exact = theory.identity_excess_loss(phi)
    assert type(exact) is float
    assert theory.identity_excess_loss(phi.astype(np.float32)) == pytest.approx(exact, rel=1e-3)
    assert type(theory.theorem2_lr(phi.astype(np.float32), 2)) is float
    assert type(theory.theorem1_lr([[1, 0], [0, 1]], 2, 1.5)) is float  # nested lists, ints


def test_theorem3_rate_is_one_minus_lr_depth_gamma_squared() -> None:
    rng = np.random.default_rng(0)
    phi = 2 * np.eye(4) + 0.3 * rng.standard_normal((4, 4))
    gamma, depth = 0.5, 6
    for c in (1.0, 17.5, 27.0):
        lr = theory.theorem3_lr(phi, depth, c)
        assert theory.theorem3_rate(phi, gamma, c) == pytest.approx(1 - lr * depth * gamma**2)
        assert 0 < theory.theorem3_rate(phi, gamma, c) < 1


# --- monotonicity -----------------------------------------------------------------------------


@given(
    st.integers(1, 6),
    st.integers(1, 30),
    st.floats(0.1, 10.0),
    st.floats(1.0, 3.0),
)
@settings(deadline=None, max_examples=30)
def test_step_sizes_shrink_with_depth_and_dimension(
    dim: int, depth: int, scale: float, c: float
) -> None:
    # Φ = s·I_d keeps ‖Φ‖₂ = s fixed as d grows; ‖Φ‖_F² = s² d grows with it.
    small, large = scale * np.eye(dim), scale * np.eye(dim + 1)
    for lr in (
        lambda phi, depth: theory.theorem1_lr(phi, depth, c),
        theory.theorem2_lr,
        theory.theorem3_lr,
    ):
        assert lr(small, depth + 1) < lr(small, depth)
        if lr is not theory.theorem2_lr:  # Theorem 2's η depends on d only through ‖Φ‖₂
            assert lr(large, depth) < lr(small, depth)
    assert theory.theorem2_lr(large, depth) == theory.theorem2_lr(small, depth)
    assert theory.lemma3_hessian_bound(depth + 1, dim, 0.1) > theory.lemma3_hessian_bound(
        depth, dim, 0.1
    )


def test_theorem2_steps_grow_as_eps_gamma_and_lr_shrink() -> None:
    phi = np.diag([0.5, 1.0, 3.0])
    base = theory.theorem2_steps(phi, 4, 0.05, 0.4, 1e-3)
    assert base > 0
    assert theory.theorem2_steps(phi, 4, 0.05, 0.4, 1e-9) > base
    assert theory.theorem2_steps(phi, 4, 0.05, 0.2, 1e-3) > base
    assert theory.theorem2_steps(phi, 4, 0.025, 0.4, 1e-3) == pytest.approx(2 * base)
    assert theory.theorem2_steps(phi, 4, 0.05, 0.4, 1e30) == 0.0  # logarithm ≤ 0


def test_theorem2_steps_is_finite_when_the_papers_ln_gamma_vanishes() -> None:
    # ‖Φ‖₂ ≤ 1 gives Γ = 1 and ln Γ = 0; the bound uses ln(Γ/γ) = ln(1/γ) instead.
    phi = np.diag([0.5, 0.8])
    steps = theory.theorem2_steps(phi, 3, 0.1, 0.5, 1e-6)
    expected = math.log(2 * 3 * math.log(2.0) / (0.5 * 1e-6)) / (0.1 * 3 * 0.25)
    assert steps == pytest.approx(expected)


@pytest.mark.parametrize("depth", [1, 3, 10])
@pytest.mark.parametrize("spectrum", [(0.3, 1.0, 2.0), (0.9, 1.1), (1.5, 4.0, 9.0)])
def test_theorem2_steps_exceeds_the_steps_of_the_scalar_recursion(depth, spectrum) -> None:
    # Lemma 6: for symmetric Φ = U diag(μ) Uᵀ gradient descent from I is d scalar recursions
    # a ← a − η a^{L−1}(a^L − μ). The O-constant is 1, so this is a sanity check on the
    # shape in these cases, not a guarantee.
    mu = np.array(spectrum)
    phi = np.diag(mu)
    gamma, eps = 0.99 * min(mu.min(), 1.0), 1e-8
    lr = theory.theorem2_lr(phi, depth)
    bound = theory.theorem2_steps(phi, depth, lr, gamma, eps)
    values, steps = np.ones_like(mu), 0
    while 0.5 * np.sum((values**depth - mu) ** 2) > eps:
        values = values - lr * values ** (depth - 1) * (values**depth - mu)
        steps += 1
        assert steps <= bound


# --- Theorem 1 --------------------------------------------------------------------------------


def test_theorem1_loss_condition_flips_at_its_threshold() -> None:
    c = 1.3
    threshold = math.log(c) ** 2 / (8 * c**10)
    for factor, expected in ((1 - 1e-9, True), (1 + 1e-9, False)):
        phi = np.eye(3)
        phi[0, 1] = math.sqrt(2 * factor * threshold)  # ℓ(I) = ½ Φ₀₁² = factor · threshold
        conditions = theory.theorem1_conditions(phi, 2, c)
        assert conditions.loss_threshold == pytest.approx(threshold)
        assert conditions.loss0 == pytest.approx(factor * threshold)
        assert conditions.loss_ok is expected
        assert conditions.holds is expected  # L = 2 ≥ (4/3) ln 1.3 ≈ 0.35


def test_theorem1_depth_condition_flips_at_its_threshold() -> None:
    for factor, expected in ((1 - 1e-9, True), (1 + 1e-9, False)):
        c = math.exp(0.75 * 4 * factor)  # (4/3) ln c = 4 · factor
        conditions = theory.theorem1_conditions(np.eye(2), 4, c)
        assert conditions.depth_threshold == pytest.approx(4 * factor)
        assert conditions.depth_ok is expected
        assert conditions.loss_ok  # Φ = I: ℓ(I) = 0
        assert conditions.holds is expected


def test_theorem1_conditions_report_step_size_rate_and_radius() -> None:
    phi, depth, c = np.eye(2) + 0.001 * np.array([[1.0, -2.0], [0.5, 1.0]]), 3, 1.25
    conditions = theory.theorem1_conditions(phi, depth, c)
    lr = theory.theorem1_lr(phi, depth, c)
    assert conditions.lr == lr
    assert conditions.rate == pytest.approx(2 * lr * depth / c**4)
    assert conditions.radius_bound == pytest.approx(math.log(c) / depth)
    assert conditions.depth_threshold == pytest.approx(4 / 3 * math.log(c))
    assert conditions.loss0 == pytest.approx(theory.identity_excess_loss(phi))
    assert conditions.holds and "holds=True" in repr(conditions)
    with pytest.raises(AttributeError):
        conditions.holds = False  # type: ignore[misc]
    # c = 1: both thresholds are 0; only Φ = I satisfies the loss condition
    assert theory.theorem1_conditions(np.eye(2), 1, 1.0).holds
    assert not theory.theorem1_conditions(phi, 1, 1.0).holds


def test_theorem1_loss_bound_is_vectorised() -> None:
    lr, depth, c, loss0 = 0.01, 4, 1.1, 0.3
    steps = np.array([[0, 1], [10, 100]])
    bound = theory.theorem1_loss_bound(loss0, steps, lr, depth, c)
    assert isinstance(bound, np.ndarray) and bound.shape == (2, 2)
    np.testing.assert_allclose(bound, loss0 * np.exp(-2 * steps * lr * depth / c**4))
    scalar = theory.theorem1_loss_bound(loss0, 10, lr, depth, c)
    assert type(scalar) is float and scalar == pytest.approx(bound[1, 0])
    assert theory.theorem1_loss_bound(loss0, 0, lr, depth, c) == loss0
    assert np.shape(theory.theorem1_loss_bound(loss0, [], lr, depth, c)) == (0,)


def test_theorem1_guarantees_hold_along_gradient_descent() -> None:
    rng = np.random.default_rng(3)
    dim, depth, c = 2, 3, 1.2
    direction = rng.standard_normal((dim, dim))
    threshold = math.log(c) ** 2 / (8 * c**10)
    phi = np.eye(dim) + direction * math.sqrt(threshold) / np.linalg.norm(direction)
    conditions = theory.theorem1_conditions(phi, depth, c)  # ℓ(I) = threshold / 2
    assert conditions.holds
    layers = np.stack([np.eye(dim)] * depth)
    losses, radius = [loss(layers, phi)], 0.0
    for _ in range(400):
        layers = layers - conditions.lr * gradient(layers, phi)
        losses.append(loss(layers, phi))
        radius = max([radius] + [float(np.linalg.norm(layer - np.eye(dim), 2)) for layer in layers])
    bound = theory.theorem1_loss_bound(losses[0], np.arange(len(losses)), conditions.lr, depth, c)
    assert np.all(np.array(losses) <= bound * (1 + 1e-12))
    assert losses[-1] < 0.5 * losses[0]  # the run is long enough to be a real test
    assert radius <= conditions.radius_bound


# --- Lemma 2 ----------------------------------------------------------------------------------


def test_lemma2_as_stated_fails_for_the_half_squared_loss_by_a_factor_two() -> None:
    # L = 1, Θ = I, Φ = 0: ℓ = d/2 and ‖∇ℓ‖² = ‖I‖_F² = d, while 4ℓL(1 − 0)^{2L} = 2d.
    d = 3
    layers, phi = np.eye(d)[None], np.zeros((d, d))
    grad_sq = float(np.sum(gradient(layers, phi) ** 2))
    assert grad_sq == pytest.approx(d)
    assert grad_sq == pytest.approx(theory.lemma2_lower_bound(loss(layers, phi), 1, 0.0) / 2)
    # the corrected bound is tight here
    assert grad_sq == pytest.approx(theory.lemma2_corrected_lower_bound(loss(layers, phi), 1, 0.0))


@given(
    st.integers(1, 5),
    st.integers(1, 4),
    st.floats(0.0, 0.3),
    st.integers(0, 2**32 - 1),
)
@settings(deadline=None, max_examples=60)
def test_lemma2_holds_near_identity(depth: int, dim: int, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    layers = near_identity_layers(rng, depth, dim, scale)
    phi = rng.standard_normal((dim, dim))
    sigma_min = min(np.linalg.svd(layer, compute_uv=False)[-1] for layer in layers)
    if sigma_min < 1e-3:  # a must stay below 1
        return
    a = max(1.0 - sigma_min, 0.0)  # σ_min(Θ_i) ≥ 1 − a, 0 ≤ a < 1
    value = loss(layers, phi)
    grad_sq = float(np.sum(gradient(layers, phi) ** 2))
    assert grad_sq >= theory.lemma2_corrected_lower_bound(value, depth, a) * (1 - 1e-9)
    # The statement as printed holds for the loss ‖Θ_{1:L} − Φ‖_F² = 2ℓ of Sec. 5.3, whose
    # gradient is 2∇ℓ.
    assert 4 * grad_sq >= theory.lemma2_lower_bound(2 * value, depth, a) * (1 - 1e-9)


# --- Lemma 3 ----------------------------------------------------------------------------------


def test_finite_difference_hessian_matches_its_closed_form_at_identity() -> None:
    # L = 1: ℓ = ½‖Θ − Φ‖_F², so ∇²ℓ = I_{d²} and ‖∇²ℓ‖_F = d.
    d = 3
    computed = hessian(np.eye(d)[None], np.zeros((d, d)))
    np.testing.assert_allclose(computed, np.eye(d * d), atol=1e-6)


@pytest.mark.parametrize(("depth", "dim", "scale"), [(2, 2, 0.2), (3, 2, 0.3), (2, 3, 0.5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lemma3_bounds_a_finite_difference_hessian(
    depth: int, dim: int, scale: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    layers = near_identity_layers(rng, depth, dim, scale)
    z = max([0.0] + [float(np.linalg.norm(layer, 2)) - 1.0 for layer in layers])  # ‖Θ_i‖₂ ≤ 1 + z
    phi = rng.standard_normal((dim, dim))
    phi *= min(1.0, (1 + z) ** depth / float(np.linalg.norm(phi, 2)))  # ‖Φ‖₂ ≤ (1 + z)^L
    computed = hessian(layers, phi)
    np.testing.assert_allclose(computed, computed.T, atol=1e-5)
    assert np.linalg.norm(computed) <= theory.lemma3_hessian_bound(depth, dim, z)


# --- diagnostics wrapper (needs the compiled core) --------------------------------------------


def test_diagnostics_wrapper_names_every_value() -> None:
    pytest.importorskip("deeplinear._core")
    values = theory.diagnostics(np.stack([np.eye(2)] * 3), 2 * np.eye(2))
    assert values["loss"] == pytest.approx(1.0)  # ½‖I − 2I‖_F² with d = 2
    assert values["radius"] == 0.0 and values["margin"] == 1.0 and values["balancedness"] == 0.0
    with pytest.raises(ValueError, match="phi"):
        theory.diagnostics(np.eye(2)[None], np.eye(3))


# --- bad input --------------------------------------------------------------------------------

EYE = np.eye(2)


@pytest.mark.parametrize(
    ("call", "name", "error"),
    [
        (lambda: theory.theorem1_lr(EYE, 0, 1.5), "depth", ValueError),
        (lambda: theory.theorem1_lr(EYE, 2.0, 1.5), "depth", TypeError),  # type: ignore[arg-type]
        (lambda: theory.theorem1_lr(EYE, True, 1.5), "depth", TypeError),
        (lambda: theory.theorem1_lr(EYE, 2, 0.5), "c", ValueError),
        (lambda: theory.theorem1_lr(EYE, 2, np.nan), "c", ValueError),
        (lambda: theory.theorem1_lr(EYE, 2, "2"), "c", TypeError),  # type: ignore[arg-type]
        (lambda: theory.theorem1_lr(np.ones((2, 3)), 2, 1.5), "phi", ValueError),
        (lambda: theory.theorem1_lr(np.ones((0, 0)), 2, 1.5), "phi", ValueError),
        (lambda: theory.theorem1_lr(np.ones(4), 2, 1.5), "phi", ValueError),
        (lambda: theory.theorem1_lr(EYE + 0j, 2, 1.5), "phi", TypeError),
        (lambda: theory.theorem1_conditions(EYE, -1, 1.5), "depth", ValueError),
        (lambda: theory.theorem1_conditions(EYE, 2, 0.9), "c", ValueError),
        (lambda: theory.theorem1_conditions(np.full((2, 2), np.nan), 2, 1.5), "phi", ValueError),
        (lambda: theory.theorem1_loss_bound(-1.0, 1, 0.1, 2, 1.5), "loss0", ValueError),
        (lambda: theory.theorem1_loss_bound(1.0, [-1], 0.1, 2, 1.5), "steps", ValueError),
        (lambda: theory.theorem1_loss_bound(1.0, [np.nan], 0.1, 2, 1.5), "steps", ValueError),
        (lambda: theory.theorem1_loss_bound(1.0, 1, 0.0, 2, 1.5), "lr", ValueError),
        (lambda: theory.theorem1_loss_bound(1.0, 1, 0.1, 0, 1.5), "depth", ValueError),
        (lambda: theory.theorem1_loss_bound(1.0, 1, 0.1, 2, 0.5), "c", ValueError),
        (lambda: theory.theorem2_lr(np.full((2, 2), np.nan), 2), "phi", ValueError),
        (lambda: theory.theorem2_lr(EYE, 0), "depth", ValueError),
        (lambda: theory.theorem2_steps(EYE, 2, 0.1, 0.0, 1e-3), "gamma", ValueError),
        (lambda: theory.theorem2_steps(EYE, 2, 0.1, 1.0, 1e-3), "gamma", ValueError),
        (lambda: theory.theorem2_steps(EYE, 2, 0.1, 0.5, -1.0), "eps", ValueError),
        (lambda: theory.theorem2_steps(EYE, 2, np.inf, 0.5, 1e-3), "lr", ValueError),
        (lambda: theory.theorem2_steps(EYE, 0, 0.1, 0.5, 1e-3), "depth", ValueError),
        (lambda: theory.theorem3_lr(EYE, 0), "depth", ValueError),
        (lambda: theory.theorem3_lr(EYE, 2, c=0.5), "c", ValueError),
        (lambda: theory.theorem3_lr(np.zeros((2, 2)), 2), "phi", ValueError),
        (lambda: theory.theorem3_rate(EYE, 0.0), "gamma", ValueError),
        (lambda: theory.theorem3_rate(EYE, 0.5, c=0.0), "c", ValueError),
        (lambda: theory.theorem3_rate(np.zeros((2, 2)), 0.5), "phi", ValueError),
        (lambda: theory.lemma2_lower_bound(1.0, 2, 1.0), "a", ValueError),
        (lambda: theory.lemma2_lower_bound(1.0, 2, -0.1), "a", ValueError),
        (lambda: theory.lemma2_lower_bound(-1.0, 2, 0.1), "loss", ValueError),
        (lambda: theory.lemma2_lower_bound(1.0, 0, 0.1), "depth", ValueError),
        (lambda: theory.lemma2_corrected_lower_bound(1.0, 2, 1.5), "a", ValueError),
        (lambda: theory.lemma2_corrected_lower_bound(np.nan, 2, 0.1), "loss", ValueError),
        (lambda: theory.lemma3_hessian_bound(0, 2, 0.1), "depth", ValueError),
        (lambda: theory.lemma3_hessian_bound(2, 0, 0.1), "d", ValueError),
        (lambda: theory.lemma3_hessian_bound(2, 2.0, 0.1), "d", TypeError),  # type: ignore[arg-type]
        (lambda: theory.lemma3_hessian_bound(2, 2, -0.1), "z", ValueError),
        (lambda: theory.lemma3_hessian_bound(2, 2, np.nan), "z", ValueError),
        (lambda: theory.identity_excess_loss(np.ones((3, 2))), "phi", ValueError),
        (lambda: theory.identity_excess_loss([[np.inf]]), "phi", ValueError),
    ],
)
def test_bad_arguments_raise_naming_the_argument(call, name: str, error: type) -> None:
    with pytest.raises(error, match=rf"^{name} "):
        call()


def _log10(value: float) -> float:
    return -math.inf if value == 0 else math.log10(value)


# (call, log10 of the exact value by logarithms, independently of the float64 formula)
_EXTREMES = [
    (lambda: theory.theorem1_lr(np.eye(3), 2, 1e100), -(math.log10(6) + 5 * math.log10(3) + 400)),
    (lambda: theory.theorem1_conditions(np.eye(3), 2, 1e100).rate, None),
    (lambda: theory.theorem1_conditions(np.eye(3), 2, 1e100).loss_threshold, None),
    (lambda: theory.theorem1_loss_bound(1.0, 10, 0.1, 2, 1e100), 0.0),  # no decay: ℓ(0)
    (lambda: theory.theorem1_loss_bound(1.0, 1e308, 1e10, 2, 1.0), -math.inf),
    (lambda: theory.theorem1_loss_bound(1.0, [0, 5], 1e300, 2**62, 1e80)[0], 0.0),
    (lambda: theory.theorem2_lr(1e200 * np.eye(3), 2), -(math.log10(2) + 400)),
    (lambda: theory.theorem2_steps(np.eye(3), 2, 1e-300, 1e-200, 1e-300), math.inf),
    (lambda: theory.theorem3_lr(1e200 * np.eye(3), 2), -(math.log10(6) + 5 * math.log10(3) + 400)),
    (lambda: theory.theorem3_lr(1e-200 * np.eye(3), 2), -(math.log10(6) + 5 * math.log10(3) - 400)),
    (lambda: theory.theorem3_lr(np.eye(3), 2, 1e308), -(308 + math.log10(6) + 5 * math.log10(3))),
    (lambda: 1.0 - theory.theorem3_rate(1e-200 * np.eye(3), 1.0), 400 - math.log10(3**6)),
    (lambda: 1.0 - theory.theorem3_rate(np.eye(3), 1e200), 400 - math.log10(3**6)),
    (lambda: theory.identity_excess_loss(1e200 * np.eye(3)), 400 + math.log10(1.5)),
    (lambda: theory.lemma2_lower_bound(1e308, 2**62, 0.5), -math.inf),
    (lambda: theory.lemma2_corrected_lower_bound(1e308, 2**62, 0.5), -math.inf),
    (lambda: theory.lemma3_hessian_bound(1000, 4, 1.0), 2000 * math.log10(2) + math.log10(3e3)),
]


@pytest.mark.parametrize(("call", "exact"), _EXTREMES)
def test_arguments_past_float64s_range_give_the_limit_without_raising(call, exact) -> None:
    with np.errstate(all="raise"):  # and not one floating-point warning on the way
        value = float(call())
    assert not math.isnan(value)
    if exact is None:
        return
    limit = _log10(value)
    if -307 < exact < 308:  # representable: the value itself
        assert limit == pytest.approx(exact, abs=1e-9)
    else:  # the float64 limit (0 or inf), or the last subnormals before it
        assert (exact > 0 and value == math.inf) or (exact < 0 and 0 <= value < 1e-300)


@pytest.mark.parametrize("depth", [2, 4])
def test_theorem3_corrected_rate_holds_where_the_papers_fails(depth: int) -> None:
    # the counterexample to the proof's (8) for γ > 1: power projection at Theorem 3's η (c = 3)
    phi = np.array([[6.0, 1.0], [-1.0, 6.0]])
    gamma, c = 5.0, 3.0
    lr = theory.theorem3_lr(phi, depth, c)
    corrected = theory.theorem3_corrected_rate(phi, gamma, depth, c)
    assert corrected == pytest.approx(1 - lr * depth * gamma ** (2 - 2 / depth), rel=1e-14)
    result = dl.train(phi, depth, "power_projection", gamma=gamma, lr=lr, max_steps=20)
    ratios = result.losses[1:] / result.losses[:-1]
    assert ratios.max() <= corrected * (1 + 1e-12)
    assert ratios.max() > theory.theorem3_rate(phi, gamma, c)  # the paper's factor fails here
    # for γ ≤ 1 the corrected factor implies the paper's
    assert theory.theorem3_corrected_rate(phi, 0.5, depth, c) <= theory.theorem3_rate(phi, 0.5, c)


def test_intermediate_overflow_and_underflow_do_not_change_a_result_in_range() -> None:
    # each true value is an ordinary float; the formulas evaluated left to right gave inf, 1.0
    # (an exponent from a rate that underflowed) or 0
    import mpmath

    with mpmath.workdps(30):
        cases = [
            (
                theory.lemma2_lower_bound(1e308, 10, 0.999),
                4 * 10 * mpmath.mpf(1e308) * mpmath.mpf("0.001") ** 20,
            ),
            (
                theory.lemma2_corrected_lower_bound(1e308, 10, 0.999),
                2 * 10 * mpmath.mpf(1e308) * mpmath.mpf("0.001") ** 18,
            ),
            (
                theory.lemma2_lower_bound(1e308, 60, 0.999),
                4 * 60 * mpmath.mpf(1e308) * mpmath.mpf("0.001") ** 120,
            ),
            (theory.theorem1_loss_bound(1.0, 1e200, 1e200, 1, 1e100), mpmath.exp(-2)),
            (
                theory.identity_excess_loss(np.diag([1.3e154, 1.3e154])),
                (mpmath.mpf(1.3e154) - 1) ** 2,
            ),
        ]
        for value, true in cases:
            assert value == pytest.approx(float(true), rel=1e-12)
    # and a result beyond float64 is its limit, not an error (entries from 2^1023 on)
    assert theory.identity_excess_loss(np.diag([1.7e308, 1.0])) == math.inf
