"""Each target generator's guaranteed property, checked with independent numpy linear algebra."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplinear import targets

dims = st.integers(min_value=2, max_value=9)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def margin(phi: np.ndarray) -> float:
    return float(np.linalg.eigvalsh(0.5 * (phi + phi.T))[0])


@settings(deadline=None, max_examples=30)
@given(dims, st.floats(1.0, 1e3), seeds)
def test_spd_has_the_requested_condition_number(d: int, cond: float, seed: int) -> None:
    phi = targets.spd(d, cond, seed=seed)
    assert phi.shape == (d, d) and phi.flags.c_contiguous
    np.testing.assert_allclose(phi, phi.T, atol=1e-12 * cond)
    eigenvalues = np.linalg.eigvalsh(phi)
    assert eigenvalues[0] > 0
    assert eigenvalues[-1] / eigenvalues[0] == pytest.approx(cond, rel=1e-9)
    assert np.prod(eigenvalues) ** (1 / d) == pytest.approx(1.0, rel=1e-9)  # geometric mean 1


@settings(deadline=None, max_examples=30)
@given(st.integers(1, 9), st.floats(0.0, 10.0), seeds)
def test_near_identity_has_the_requested_excess_loss(d: int, excess: float, seed: int) -> None:
    phi = targets.near_identity(d, excess, seed=seed)
    assert 0.5 * np.sum((phi - np.eye(d)) ** 2) == pytest.approx(excess, rel=1e-12, abs=1e-15)


@settings(deadline=None, max_examples=30)
@given(dims, st.floats(-3.0, 3.0), seeds)
def test_rotation_is_orthogonal_with_the_requested_angle(d: int, angle: float, seed: int) -> None:
    phi = targets.rotation(d, angle, seed=seed)
    np.testing.assert_allclose(phi @ phi.T, np.eye(d), atol=1e-12)
    assert np.linalg.det(phi) == pytest.approx(1.0)
    angles = np.sort(np.abs(np.angle(np.linalg.eigvals(phi))))
    expected = np.sort([abs(angle)] * (2 * (d // 2)) + [0.0] * (d % 2))
    np.testing.assert_allclose(angles, expected, atol=1e-7)
    expected_margin = np.cos(angle) if d % 2 == 0 else min(np.cos(angle), 1.0)
    assert margin(phi) == pytest.approx(expected_margin, abs=1e-10)


@settings(deadline=None, max_examples=30)
@given(st.integers(1, 9), st.floats(0.1, 5.0), st.floats(-0.99, 0.99), seeds)
def test_partial_reflection_spectrum(d: int, a: float, ratio: float, seed: int) -> None:
    b = ratio * a
    phi = targets.partial_reflection(d, a, b, seed=seed)
    expected = np.sort([a + b] * (d - 1) + [a - b])
    np.testing.assert_allclose(np.linalg.eigvalsh(phi), expected, atol=1e-10 * a)
    assert margin(phi) == pytest.approx(a - abs(b) if d > 1 else a - b, abs=1e-10 * a)


@settings(deadline=None, max_examples=30)
@given(dims, st.floats(1e-3, 5.0), seeds)
def test_gamma_positive_is_asymmetric_with_margin_2gamma(d: int, gamma: float, seed: int) -> None:
    phi = targets.gamma_positive(d, gamma, seed=seed)
    assert margin(phi) == pytest.approx(2 * gamma, rel=1e-9, abs=1e-12)
    assert np.linalg.norm(phi - phi.T) == pytest.approx(2.0)  # skew part K with ‖K‖_F = 1
    unit = np.random.default_rng(seed).standard_normal((200, d))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    assert np.all(np.einsum("ij,jk,ik->i", unit, phi, unit) >= gamma)


@settings(deadline=None, max_examples=30)
@given(dims, st.floats(0.01, 10.0), st.data(), seeds)
def test_negative_eigenvalue_spectrum(d: int, lam: float, data: st.DataObject, seed: int) -> None:
    count = data.draw(st.integers(1, d))
    phi = targets.negative_eigenvalue(d, lam, count=count, seed=seed)
    np.testing.assert_allclose(phi, phi.T, atol=1e-12 * max(1, lam))
    expected = np.sort([-lam] * count + [1.0] * (d - count))
    np.testing.assert_allclose(np.linalg.eigvalsh(phi), expected, atol=1e-10 * max(1, lam))
    if count == 2:
        assert np.linalg.det(phi) > 0


@pytest.mark.parametrize("name", sorted(targets.FAMILIES))
def test_seeds_reproduce_and_differ(name: str) -> None:
    params = {
        "spd": {"cond": 3.0},
        "near_identity": {"excess_loss": 0.2},
        "rotation": {"angle": 0.5},
        "partial_reflection": {"a": 1.0, "b": 0.3},
        "gamma_positive": {"gamma": 0.2},
        "negative_eigenvalue": {"lam": 1.5},
    }[name]
    make = targets.FAMILIES[name]
    np.testing.assert_array_equal(make(4, **params, seed=7), make(4, **params, seed=7))
    assert not np.allclose(make(4, **params, seed=7), make(4, **params, seed=8))
    generator = np.random.default_rng(3)
    assert make(4, **params, seed=generator).shape == (4, 4)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: targets.spd(0, 2.0), "d"),
        (lambda: targets.spd(3.5, 2.0), "d"),
        (lambda: targets.spd(3, 0.5), "cond"),
        (lambda: targets.spd(1, 2.0), "cond"),
        (lambda: targets.spd(3, float("nan")), "cond"),
        (lambda: targets.near_identity(3, -1.0), "excess_loss"),
        (lambda: targets.rotation(1, 0.3), "d"),
        (lambda: targets.rotation(3, float("inf")), "angle"),
        (lambda: targets.partial_reflection(3, 1.0, 1.0), "a and b"),
        (lambda: targets.partial_reflection(3, -1.0, 0.0), "a and b"),
        (lambda: targets.gamma_positive(3, 0.0), "gamma"),
        (lambda: targets.negative_eigenvalue(3, 0.0), "lam"),
        (lambda: targets.negative_eigenvalue(3, 1.0, count=4), "count"),
        (lambda: targets.negative_eigenvalue(3, 1.0, count=0), "count"),
        (lambda: targets.rotation(3, "0.3"), "angle"),
    ],
)
def test_bad_arguments_name_the_argument(call, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()
