"""dl.data.least_squares_target against numpy's least squares, and on the Linnerud data set."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl


def synthetic(seed: int = 0, n: int = 200, d: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + rng.standard_normal(d)
    y = x @ rng.standard_normal((d, d)).T + 0.3 * rng.standard_normal((n, d)) + 2.0
    return x, y


def test_whitening_and_phi_match_numpy_least_squares() -> None:
    x, y = synthetic()
    target = dl.data.least_squares_target(x, y)
    white = target.whiten(x)
    np.testing.assert_allclose(white.T @ white / len(x), np.eye(3), atol=1e-12)
    xc, yc = x - x.mean(0), y - y.mean(0)
    coefficients, *_ = np.linalg.lstsq(xc, yc, rcond=None)  # yc ≈ xc @ coefficients
    np.testing.assert_allclose(target.phi @ target.whitening, coefficients.T, atol=1e-10)
    residual = 0.5 * np.mean(np.sum((xc @ coefficients - yc) ** 2, axis=1))
    assert target.residual_loss == pytest.approx(residual, rel=1e-10)


def test_data_loss_is_the_population_loss_plus_the_residual() -> None:
    x, y = synthetic(1)
    target = dl.data.least_squares_target(x, y)
    rng = np.random.default_rng(2)
    for _ in range(3):
        layers = np.eye(3) + 0.2 * rng.standard_normal((4, 3, 3))
        assert target.loss(layers, x, y) == pytest.approx(
            dl.loss(layers, target.phi) + target.residual_loss, rel=1e-10
        )
        assert target.excess_loss(layers) == pytest.approx(dl.loss(layers, target.phi))


def test_uncentered_fit_and_errors() -> None:
    x, y = synthetic(3)
    target = dl.data.least_squares_target(x, y, center=False)
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    np.testing.assert_allclose(target.to_original(target.phi[None]), coefficients.T, atol=1e-9)
    with pytest.raises(ValueError, match="columns"):
        dl.data.least_squares_target(x, y[:, :2])
    with pytest.raises(ValueError, match="rows"):
        dl.data.least_squares_target(x, y[:-1])
    with pytest.raises(ValueError, match="singular"):
        dl.data.least_squares_target(np.c_[x[:, :2], x[:, 0]], y)
    with pytest.raises(ValueError, match="X"):
        dl.data.least_squares_target(np.full_like(x, np.nan), y)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x, y: dl.data.least_squares_target(x[:, :0], y[:, :0]), ValueError, "one column"),
        (lambda x, y: dl.data.least_squares_target(x, y, center="no"), TypeError, "center"),
        (lambda x, y: dl.data.least_squares_target(x, y, center=None), TypeError, "center"),
        (lambda x, y: dl.data.least_squares_target(1e200 * x, y), ValueError, "X is too large"),
        (lambda x, y: dl.data.least_squares_target(x, 1e300 * y), ValueError, "Y is too large"),
    ],
)
def test_bad_data_raise_value_or_type_errors_naming_the_argument(call, error, match) -> None:
    x, y = synthetic(3)
    with np.errstate(all="raise"), pytest.raises(error, match=match):  # no warning first
        call(x, y)


def test_the_fitted_problem_checks_the_shapes_of_what_it_is_given() -> None:
    x, y = synthetic(3)
    target = dl.data.least_squares_target(x, y)
    layers = np.stack([np.eye(3)] * 2)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 3\)"):
        target.whiten(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"y must have shape \(n, 3\)"):
        target.loss(layers, x, y[:, :2])
    with pytest.raises(ValueError, match="x and y must have the same shape"):
        target.loss(layers, x, y[0])  # one row of y is not broadcast over every row of x
    for method in (target.predict, lambda layers, _: target.excess_loss(layers)):
        with pytest.raises(ValueError, match=r"layers must have shape \(L, 3, 3\)"):
            method(np.stack([np.eye(2)] * 2), x)
    assert target.whiten(x[0]).shape == (3,)  # one row is fine
    assert target.loss(layers, x, y) == pytest.approx(
        0.5 * np.mean(np.sum((target.predict(layers, x) - y) ** 2, axis=1))
    )


def test_linnerud_trains_to_the_least_squares_fit() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    linnerud = datasets.load_linnerud()
    x, y = linnerud.data, linnerud.target  # 20 athletes: 3 exercises → 3 body measurements
    target = dl.data.least_squares_target(x, y)
    result = dl.train(
        target.phi, 4, lr=0.5 * dl.theory.theorem2_lr(target.phi, 4), max_steps=20_000, tol=1e-20
    )
    xc, yc = x - x.mean(0), y - y.mean(0)
    coefficients, *_ = np.linalg.lstsq(xc, yc, rcond=None)
    best = 0.5 * np.mean(np.sum((xc @ coefficients - yc) ** 2, axis=1))
    # Φ is asymmetric with real eigenvalues −5.1 and −0.76 — Theorems 4–5 (symmetric Φ) do not
    # apply, and GD from I still reaches the least-squares fit.
    assert np.linalg.norm(target.phi - target.phi.T) > 1
    assert target.loss(result.layers, x, y) == pytest.approx(best, rel=1e-8)
    assert target.loss(result.layers, x, y) >= best * (1 - 1e-12)


@pytest.mark.parametrize("scale", [1e-160, 1e-100, 1.0, 1e100])
def test_the_target_does_not_depend_on_the_scale_of_x(scale: float) -> None:
    # Σ of X itself fell into subnormals at X ~ 1e-159 (Φ off by 9e-7) and below 1e-160 was
    # called singular: it is computed for X over a power of two
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3))
    y = x @ rng.standard_normal((3, 3)).T + 0.1 * rng.standard_normal((200, 3))
    reference = dl.data.least_squares_target(x, y)
    target = dl.data.least_squares_target(x * scale, y)
    np.testing.assert_allclose(target.phi, reference.phi, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(target.whitening * scale, reference.whitening, rtol=1e-12)
