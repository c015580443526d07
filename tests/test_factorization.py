"""Polar decomposition and Definition 3's balanced factorization, with scipy as the oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

import deeplinear as dl


def numpy_product(layers: np.ndarray) -> np.ndarray:
    result = np.eye(layers.shape[1])
    for layer in layers:
        result = layer @ result
    return result


def check_balanced_factors(a: np.ndarray, layers: np.ndarray) -> None:
    depth = len(layers)
    scale = np.linalg.norm(a)
    np.testing.assert_allclose(numpy_product(layers), a, atol=1e-10 * scale)
    np.testing.assert_allclose(dl.product(layers), a, atol=1e-10 * scale)
    expected = np.linalg.svd(a, compute_uv=False) ** (1 / depth)
    for layer in layers:  # Lemma 7
        np.testing.assert_allclose(np.linalg.svd(layer, compute_uv=False), expected, rtol=1e-9)
    for lower, upper in itertools.pairwise(layers):  # balancedness
        np.testing.assert_allclose(upper.T @ upper, lower @ lower.T, atol=1e-10 * expected[0] ** 2)


@given(st.integers(0, 2**31), st.integers(1, 7), st.integers(1, 8), st.floats(0.05, 3.0))
def test_balanced_factorization_of_gamma_positive_matrices(
    seed: int, dim: int, depth: int, gamma: float
) -> None:
    a = dl.targets.gamma_positive(dim, gamma, seed=seed)
    check_balanced_factors(a, dl.balanced_factorization(a, depth))


@pytest.mark.parametrize("dim", [2, 3, 5, 6])
@pytest.mark.parametrize("depth", [1, 2, 5])
def test_rotation_layers_rotate_by_the_angle_over_depth(dim: int, depth: int) -> None:
    angle = 1.2
    a = dl.targets.rotation(dim, angle, seed=dim)
    layers = dl.balanced_factorization(a, depth)
    check_balanced_factors(a, layers)
    for layer in layers:
        np.testing.assert_allclose(layer @ layer.T, np.eye(dim), atol=1e-12)
        angles = np.sort(np.abs(np.angle(np.linalg.eigvals(layer))))
        expected = np.sort([angle / depth] * (2 * (dim // 2)) + [0.0] * (dim % 2))
        np.testing.assert_allclose(angles, expected, atol=1e-8)


def test_depth_one_and_identity() -> None:
    a = dl.targets.gamma_positive(4, 0.3, seed=1)
    np.testing.assert_array_equal(dl.balanced_factorization(a, 1)[0], a)
    # One layer is A itself for any A, also one whose R has an eigenvalue −1 or that is
    # singular (these were refused as having no real root).
    for any_a in (np.diag([-1.0, 2.0]), -np.eye(3, dtype=np.float32), np.diag([1.0, 0.0])):
        layers = dl.balanced_factorization(any_a, 1)
        assert layers.shape == (1, *any_a.shape) and layers.dtype == any_a.dtype
        np.testing.assert_array_equal(layers[0], any_a)
    identities = np.stack([np.eye(4)] * 6)
    np.testing.assert_allclose(dl.balanced_factorization(np.eye(4), 6), identities, atol=1e-14)


@pytest.mark.parametrize("depth", [2, 3, 7])
def test_spd_layers_are_the_principal_root(depth: int) -> None:
    a = dl.targets.spd(5, 20.0, seed=depth)
    root = scipy.linalg.fractional_matrix_power(a, 1 / depth)
    assert np.abs(np.imag(root)).max() < 1e-10
    for layer in dl.balanced_factorization(a, depth):
        np.testing.assert_allclose(layer, np.real(root), atol=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_orthogonal_root_matches_scipy(seed: int) -> None:
    depth = 4
    a = dl.targets.gamma_positive(4, 0.2, seed=seed)
    orthogonal, _ = scipy.linalg.polar(a, side="right")
    root = scipy.linalg.fractional_matrix_power(orthogonal, 1 / depth)
    assert np.abs(np.imag(root)).max() < 1e-8
    layers = dl.balanced_factorization(a, depth)
    # Θ_1 = R^{1/L} M with M = P^{1/L} symmetric PSD: the polar factor of Θ_1 is R^{1/L}.
    layer_orthogonal, _ = scipy.linalg.polar(layers[0], side="right")
    np.testing.assert_allclose(layer_orthogonal, np.real(root), atol=1e-9)


@given(st.integers(0, 2**31), st.integers(1, 7), st.floats(1e-2, 1e2))
def test_polar_matches_scipy(seed: int, dim: int, scale: float) -> None:
    a = scale * np.random.default_rng(seed).standard_normal((dim, dim))
    if np.linalg.cond(a) > 1e8:
        return
    orthogonal, positive = dl.polar(a)
    np.testing.assert_allclose(orthogonal @ positive, a, atol=1e-10 * scale * dim)
    np.testing.assert_allclose(orthogonal.T @ orthogonal, np.eye(dim), atol=1e-10)
    np.testing.assert_allclose(positive, positive.T, atol=1e-10 * scale)
    assert np.linalg.eigvalsh(positive)[0] >= -1e-10 * scale
    expected_orthogonal, expected_positive = scipy.linalg.polar(a, side="right")
    np.testing.assert_allclose(orthogonal, expected_orthogonal, atol=1e-7)
    np.testing.assert_allclose(positive, expected_positive, atol=1e-7 * scale)


@pytest.mark.parametrize(
    ("a", "match"),
    [
        (np.diag([-1.0, 1.0, 1.0]), "eigenvalue -1"),
        (np.eye(3) - 2 * np.outer([1, 1, 0], [1, 1, 0]) / 2, "eigenvalue -1"),  # a reflection
        (-np.eye(2), "eigenvalue -1"),  # rotation by π
        (np.array([[1.0, 2.0], [2.0, 4.0]]), "singular"),
        (np.zeros((3, 3)), "singular"),
    ],
)
def test_matrices_without_a_real_principal_root(a: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        dl.balanced_factorization(a, 3)


def test_float32_is_kept() -> None:
    a = dl.targets.gamma_positive(3, 0.5, seed=0).astype(np.float32)
    layers = dl.balanced_factorization(a, 3)
    assert layers.dtype == np.float32
    np.testing.assert_allclose(dl.product(layers), a, atol=1e-5)
