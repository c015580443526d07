"""Each claim's check functions, fed inputs that must fail (and the inputs that must pass)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import deeplinear as dl
from deeplinear.reproduce.claims import (
    _checks,
    _common,
    _plateaus,
    lemma7,
    lemmas23,
    lemmas56,
    section6,
    theorem1,
    theorem2,
    theorem3,
)
from deeplinear.reproduce.engine import Engine, RunSpec, SpectralSpec

ENGINE = Engine()


def _train(spec: RunSpec):
    (result,) = ENGINE.train([spec])
    assert result.finished, result.describe()
    return result


# -- claim 1 -----------------------------------------------------------------------------------
def test_theorem1_check_fails_outside_its_hypotheses() -> None:
    def check(phi: np.ndarray) -> dict:
        lr = dl.theory.theorem1_lr(phi, 2, 1.2)
        result = _train(RunSpec(phi, 2, lr=lr, max_steps=500, diagnostics=True))
        return theorem1.theorem1_check(result, phi, 2, 1.2)

    assert check(dl.targets.near_identity(2, 1e-4, seed=0))["passed"]
    far = check(dl.targets.near_identity(2, 0.5, seed=0))  # ℓ(I) far above ln(c)²/(8c¹⁰)
    assert not far["hypotheses_hold"] and not far["passed"]


@pytest.mark.parametrize("factor", [0.0, 0.5, 2.0, -1.0])
def test_theorem1_bracket_rejects_a_trainer_that_is_off(factor: float) -> None:
    phi = dl.targets.near_identity(2, 1e-4, seed=0)
    lr = dl.theory.theorem1_lr(phi, 2, 1.2)
    spec = RunSpec(phi, 2, lr=lr, max_steps=300, diagnostics=True)
    assert theorem1.contraction_bracket(_train(spec), lr, 2, 0.0)["passed"]
    # a run with step factor·η judged as a run with step η
    off = _train(dataclasses.replace(spec, lr=max(abs(factor), 1e-300) * lr))
    if factor < 0:  # ascent: the same run, its losses reversed
        off.losses = off.losses[::-1].copy()
    if factor == 0:
        off.losses = np.full_like(off.losses, off.losses[0])
    assert not theorem1.contraction_bracket(off, lr, 2, 0.0)["passed"]


# -- claim 2 -----------------------------------------------------------------------------------
def test_theorem2_verdicts_reject_growth_the_math_excludes() -> None:
    depths, conds = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0], [2.0, 4.0, 8.0, 16.0]
    epsilons, dims = [1e-2, 1e-4, 1e-6], [2.0, 8.0, 32.0]
    exponent = 2 - 1 / 8
    polynomial = {
        "depth": (depths, [50, 90, 120, 140, 150, 155]),
        "cond": (conds, [40, 150, 500, round(500 * 2 ** (exponent - 0.05))]),
        "eps": (epsilons, [10, 40, 70]),
        "dim": (dims, [60, 62, 64]),
    }
    # the bound's shape: ln(c·L) at a fixed ηL, κ(1 + κ) in κ
    bounds = {
        "depth": [100 * np.log(50 * L) for L in depths],
        "cond": [20 * k * (1 + k) for k in conds],
    }
    slope = 30 / np.log(100)

    def verdict(sweeps: dict, bounds: dict = bounds) -> bool:
        fits = theorem2.growth_verdicts(sweeps, depth=8, eps_slope_predicted=slope, bounds=bounds)
        return fits["passed"]

    assert verdict(polynomial)
    assert not verdict(dict(polynomial, cond=(conds, [10, 100, 10_000, 100_000_000])))
    assert not verdict(dict(polynomial, cond=(conds, [40, 80, 160, 320])))  # exponent 1 < 2 − 1/L
    assert not verdict(dict(polynomial, dim=(dims, [60, 240, 960])))
    assert not verdict(dict(polynomial, depth=(depths, [50, 90, -1, 140, 150, 155])))
    assert not verdict(dict(polynomial, eps=(epsilons, [10, 40, 100])))  # slope ≠ prediction
    # steps growing like a power of L (here L^0.99, or √L) are not O(ln L)
    assert not verdict(dict(polynomial, depth=(depths, [round(50 * L**0.99) for L in depths])))
    assert not verdict(dict(polynomial, depth=(depths, [round(50 * L**0.5) for L in depths])))
    # steps outgrowing the bound in κ (against a bound of slope 1.5, say)
    assert not verdict(polynomial, dict(bounds, cond=[20 * k**1.5 for k in conds]))


def test_the_linearized_recursion_predicts_the_slope_in_log_one_over_eps() -> None:
    phi = dl.targets.spd(5, 6.0, seed=2)
    lr = dl.theory.theorem2_lr(phi, 3)
    steps = [theorem2.recursion_steps(phi, 3, lr, eps, 10**6) for eps in (1e-12, 1e-14)]
    measured = (steps[1] - steps[0]) / np.log(100)
    assert measured == pytest.approx(theorem2.asymptotic_steps_per_log(phi, 3, lr), rel=0.02)


# -- claim 3 -----------------------------------------------------------------------------------
def test_lemmas56_check_fails_away_from_the_identity_initialization() -> None:
    phi = dl.targets.spd(4, 5.0, seed=1)
    lr = dl.theory.theorem2_lr(phi, 3)
    spec = RunSpec(phi, 3, lr=lr, max_steps=200, record_every=10, keep_layers=True)
    (exact,) = ENGINE.spectral([SpectralSpec(phi, 3, lr=lr, max_steps=200, record_every=10)])
    assert lemmas56.lemma56_check(phi, 3, lr, _train(spec), exact)["passed"]
    init = np.eye(4) + 0.1 * np.random.default_rng(1).standard_normal((3, 4, 4))
    moved = lemmas56.lemma56_check(phi, 3, lr, _train(dataclasses.replace(spec, init=init)), exact)
    assert not moved["passed"] and moved["deviations"]["equal"] > 1e-3


# -- claim 4 -----------------------------------------------------------------------------------
def test_algorithm2_step_check_catches_a_wrong_projection() -> None:
    phi = dl.targets.rotation(4, 1.5, seed=2)
    gamma = theorem3.GAMMA_FRACTION * dl.positivity_margin(phi)
    lr = 0.5 / (3 * (1 + np.linalg.norm(phi, 2) ** 2))
    spec = RunSpec(phi, 3, "power_projection", lr=lr, max_steps=60, gamma=gamma, keep_layers=True)
    states = _train(spec).states
    good = theorem3.algorithm2_step_errors(states, phi, lr, gamma)
    assert good["max_error"] < 1e-12 and good["active"] > 0
    # the same layers judged with γ/2: the projected steps no longer match
    assert theorem3.algorithm2_step_errors(states, phi, lr, gamma / 2)["max_error"] > 1e-6
    # a run that kept one state has no step to check: that must not pass (it gave 0)
    assert not theorem3.algorithm2_step_errors(states[:1], phi, lr, gamma)["max_error"] <= 1e-8


def test_the_dense_step_and_diagnostics_checks_catch_what_they_check() -> None:
    # Claims 1, 5 and 6: the numpy recomputation of GD, penalty and step-and-project steps and
    # of the diagnostics, on a run from a non-symmetric start; each fails on a wrong input.
    phi = dl.targets.near_identity(4, 0.3, seed=3)
    start = _plateaus.step_check_start(3, 4)
    for method, options in (
        ("gd", {}),
        ("penalty", {"kappa": 0.5}),
        ("step_and_project", {"psi": 0.1}),
    ):
        spec = RunSpec(phi, 3, method, lr=0.05, max_steps=8, init=start, keep_layers=True,
                       diagnostics=True, **options)  # fmt: skip
        result = _train(spec)
        kappa, psi = options.get("kappa"), options.get("psi")
        errors = _common.dense_step_errors(result.states, phi, method, 0.05, kappa, psi)
        assert errors["steps"] == 8 and errors["max_error"] < 1e-13
        assert (
            _common.dense_step_errors(result.states, phi, method, 0.051, kappa, psi)["max_error"]
            > 1e-6
        )
        assert _common.diagnostics_errors(result, phi)["max_error"] < 1e-9
    # the diagnostics of another run, and states reversed layer by layer
    other = _train(dataclasses.replace(spec, max_steps=8, init=start * 1.01))
    result.diagnostics = other.diagnostics
    assert _common.diagnostics_errors(result, phi)["max_error"] > 1e-6
    reversed_states = result.states[:, ::-1]
    assert (
        _common.dense_step_errors(reversed_states, phi, method, 0.05, kappa, psi)["max_error"]
        > 1e-6
    )
    # nothing kept: NaN, never a pass
    assert (
        not _common.dense_step_errors(result.states[:1], phi, method, 0.05, kappa, psi)["max_error"]
        <= 1
    )


def test_theorem3_invariants_flag_a_product_below_gamma() -> None:
    phi = dl.targets.rotation(4, 1.0, seed=2)
    lr = 0.5 / (3 * (1 + np.linalg.norm(phi, 2) ** 2))
    result = _train(RunSpec(phi, 3, lr=lr, max_steps=50, diagnostics=True))  # plain GD from I
    invariants = theorem3.invariant_check(result, phi, 3, 2.0)  # γ = 2 > margin of I
    assert invariants["min_margin_minus_gamma"] < -0.5


def test_theorem3_contraction_uses_the_corrected_exponent() -> None:
    phi = theorem3.COUNTEREXAMPLE
    lr = dl.theory.theorem3_lr(phi, 2, c=3.0)
    result = _train(
        RunSpec(phi, 2, "power_projection", lr=lr, max_steps=20, gamma=5.0, diagnostics=True)
    )
    check = theorem3.contraction_check(result, phi, 2, 5.0, lr)
    assert check["condition_7_holds"] and check["corrected_holds"] and not check["paper_holds"]


# -- claims 5 and 6 ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", _plateaus.FAILURE_METHODS, ids=lambda m: m.label)
def test_plateau_recursion_is_the_run_in_the_eigenbasis(method: _plateaus.Method) -> None:
    mu = np.array([-2.0, 1.0, 1.0])
    lr = 0.5 / (method.depth * 5)
    spec = RunSpec(
        np.diag(mu),
        method.depth,
        method=method.method,
        lr=lr,
        max_steps=800,
        diagnostics=True,
        **method.options,
    )
    record = _plateaus.plateau_check(_train(spec), mu, method, lr, 2.0)
    assert record["passed"], record
    assert record["limit"] >= 2.0 - 1e-12  # the theorems: no limit below λ²/2


def test_plateau_check_fails_a_run_that_does_not_move_or_ends_elsewhere() -> None:
    mu = np.array([-0.5, 1.0, 1.0])
    method = _plateaus.FAILURE_METHODS[0]
    spec = RunSpec(np.diag(mu), 2, lr=0.1, max_steps=400, diagnostics=True)
    assert _plateaus.plateau_check(_train(spec), mu, method, 0.1, 0.125)["passed"]
    frozen = _train(dataclasses.replace(spec, lr=1e-12))
    assert not _plateaus.plateau_check(frozen, mu, method, 0.1, 0.125)["passed"]
    # without the negative eigenvalue the run goes below the floor
    positive = np.array([0.5, 1.0, 1.0])
    escaped = _train(dataclasses.replace(spec, phi=np.diag(positive)))
    assert not _plateaus.plateau_check(escaped, mu, method, 0.1, 0.125)["passed"]


def test_penalty_limit_is_a_fixed_point_of_its_recursion() -> None:
    for mu, depth, kappa in ((-2.0, 4, 1.0), (-0.5, 2, 0.1), (3.0, 2, 0.5), (0.3, 3, 2.0)):
        a = _plateaus._penalty_fixed_point(mu, depth, kappa)
        assert a ** (depth - 1) * (a**depth - mu) + kappa * (a - 1) == pytest.approx(0, abs=1e-12)
        method = _plateaus.Method("penalty", "penalty", depth, {"kappa": kappa})
        losses = _plateaus.recursion_losses(np.array([mu]), method, 0.01, 20_000)
        assert losses[-1] == pytest.approx(_plateaus.recursion_limit(np.array([mu]), method))


def test_section6_target_has_an_exact_near_identity_factorization() -> None:
    phi = dl.targets.negative_eigenvalue(5, 2.0, count=2, seed=4)
    layers = section6.near_identity_representation(phi, 16)
    assert np.allclose(dl.product(layers), phi, atol=1e-12)
    assert max(np.linalg.norm(t - np.eye(5), 2) for t in layers) < 0.3


# -- claim 7 -----------------------------------------------------------------------------------
def test_lemma2_ratios_catch_the_stated_constant_and_are_attained_at_the_identity() -> None:
    layers, phi = np.eye(3)[np.newaxis], np.zeros((3, 3))
    stated, corrected, mirror = lemmas23.lemma2_ratios(dl.gradient(layers, phi), layers, phi)
    assert stated == pytest.approx(0.5) and corrected == pytest.approx(1.0)
    phi = dl.targets.gamma_positive(3, 0.3, seed=1)
    layers = np.stack([np.eye(3)] * 4)
    _, corrected, mirror = lemmas23.lemma2_ratios(dl.gradient(layers, phi), layers, phi)
    assert corrected == pytest.approx(1.0, abs=1e-12) and mirror == pytest.approx(1.0, abs=1e-12)
    _, doubled, _ = lemmas23.lemma2_ratios(2 * dl.gradient(layers, phi), layers, phi)
    assert doubled == pytest.approx(4.0)


def test_hessian_norms_agree_three_ways() -> None:
    rng = np.random.default_rng(0)
    layers = np.eye(3) + 0.2 * rng.standard_normal((2, 3, 3))
    phi = rng.standard_normal((3, 3))
    norms = lemmas23.hessian_norms(ENGINE, layers, phi, rng, lanczos=True)
    assert norms["dense_vs_differences"] < 1e-8
    assert norms["lanczos_spectral"] == pytest.approx(norms["dense_spectral"], rel=1e-9)
    gradient_error, quadratic_error = lemmas23.loss_differences(ENGINE, layers, phi, rng)
    assert gradient_error < 1e-6 and quadratic_error < 1e-4


# -- claim 8 -----------------------------------------------------------------------------------
def test_factorization_errors_pin_definition3() -> None:
    a = dl.targets.gamma_positive(4, 0.3, seed=5)
    balanced = lemma7.factorization_errors(a, dl.balanced_factorization(a, 3))
    assert max(balanced.values()) < 1e-10
    lopsided = lemma7.factorization_errors(a, np.stack([a, np.eye(4), np.eye(4)]))
    assert lopsided["product"] < 1e-12 and lopsided["singular_values"] > 0.1
    # balanced, the right product and singular values — but not Definition 3
    left, singular, right_t = np.linalg.svd(a)
    root = singular ** (1 / 3)
    svd = np.stack([(left * root) @ right_t] + [(left * root) @ left.T] * 2)
    other = lemma7.factorization_errors(a, svd)
    assert max(other["product"], other["singular_values"], other["balancedness"]) < 1e-12
    assert other["definition3"] > 0.1
    reversed_order = lemma7.factorization_errors(a, dl.balanced_factorization(a, 3)[::-1])
    assert reversed_order["definition3"] > 0.01


def test_definition3_by_numpy_is_deeplinear_s() -> None:
    for seed in range(5):
        a = 2.0 * dl.targets.rotation(5, 1.4, seed=seed) @ dl.targets.spd(5, 3.0, seed=seed)
        a = a if dl.positivity_margin(a) > 0 else dl.targets.gamma_positive(5, 0.2, seed=seed)
        for depth in (1, 2, 5):
            expected = _checks.definition3(a, depth)
            assert np.allclose(dl.balanced_factorization(a, depth), expected, atol=1e-12)


def test_the_recursions_of_many_runs_at_once_equal_each_alone() -> None:
    from deeplinear.reproduce.claims import _plateaus

    rng = np.random.default_rng(3)
    cases = []
    for method in _plateaus.FAILURE_METHODS:
        mu = np.sort(rng.normal(size=int(rng.integers(2, 6))))
        mu[0] = -1.5
        cases.append((mu, method, 0.5 / (method.depth * 4.0), int(rng.integers(10, 400))))
    for losses, case in zip(_plateaus.recursion_losses_many(cases), cases):
        alone = _plateaus.recursion_losses(*case)
        assert losses.shape == alone.shape
        np.testing.assert_allclose(losses, alone, rtol=1e-14, atol=1e-300)
