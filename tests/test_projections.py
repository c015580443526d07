"""Projections onto H_γ and onto the ψ-ball around I: membership, idempotence, the variational
inequality that characterizes a Frobenius projection onto a convex set, and numpy references."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deeplinear as dl

problems = st.tuples(st.integers(0, 2**31), st.integers(1, 7), st.floats(1e-3, 1e3))


def random_in_h_gamma(rng: np.random.Generator, dim: int, gamma: float, scale: float) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    symmetric = (q * (gamma + scale * rng.exponential(size=dim))) @ q.T
    skew = scale * rng.standard_normal((dim, dim))
    return symmetric + (skew - skew.T) / 2


def random_in_ball(rng: np.random.Generator, dim: int, psi: float) -> np.ndarray:
    u, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    v, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    return np.eye(dim) + (u * rng.uniform(0, psi, dim)) @ v.T


def numpy_project_positive(a: np.ndarray, gamma: float) -> np.ndarray:
    eigenvalues, vectors = np.linalg.eigh((a + a.T) / 2)
    return (a - a.T) / 2 + (vectors * np.maximum(eigenvalues, gamma)) @ vectors.T


def numpy_project_identity_ball(a: np.ndarray, psi: float) -> np.ndarray:
    """I + U min(Σ, ψ) Vᵀ with A − I = UΣVᵀ, by numpy's SVD in float64."""
    eye = np.eye(len(a))
    with np.errstate(over="ignore"):  # σ_max may overflow to inf (then clipped to ψ)
        u, sigma, vt = np.linalg.svd(np.asarray(a, np.float64) - eye)
    return eye + (u * np.minimum(sigma, psi)) @ vt


@given(problems, st.floats(1e-3, 5.0))
def test_positivity_margin_is_the_smallest_quadratic_form(problem, scale_gamma: float) -> None:
    seed, dim, scale = problem
    rng = np.random.default_rng(seed)
    a = scale * rng.standard_normal((dim, dim))
    margin = dl.positivity_margin(a)
    assert margin == pytest.approx(np.linalg.eigvalsh((a + a.T) / 2)[0], rel=1e-9, abs=1e-9 * scale)
    units = rng.standard_normal((100, dim))
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    assert np.einsum("ij,jk,ik->i", units, a, units).min() >= margin - 1e-9 * scale


@given(problems, st.floats(1e-3, 5.0))
def test_project_positive_is_the_frobenius_projection(problem, gamma: float) -> None:
    seed, dim, scale = problem
    rng = np.random.default_rng(seed)
    a = scale * rng.standard_normal((dim, dim))
    projected = dl.project_positive(a, gamma)
    tolerance = 1e-10 * (scale + gamma)
    assert dl.positivity_margin(projected) >= gamma - tolerance
    np.testing.assert_allclose(projected - projected.T, a - a.T, atol=tolerance)  # skew part kept
    np.testing.assert_allclose(projected, numpy_project_positive(a, gamma), atol=tolerance)
    np.testing.assert_allclose(dl.project_positive(projected, gamma), projected, atol=tolerance)
    for _ in range(20):
        other = random_in_h_gamma(rng, dim, gamma, scale)
        assert np.sum((a - projected) * (other - projected)) <= tolerance * (scale + gamma) * dim


@given(problems, st.floats(1e-3, 5.0))
def test_project_positive_leaves_members_unchanged(problem, gamma: float) -> None:
    seed, dim, scale = problem
    member = random_in_h_gamma(np.random.default_rng(seed), dim, gamma, scale)
    np.testing.assert_array_equal(dl.project_positive(member, gamma), member)


@given(problems, st.floats(1e-3, 3.0))
def test_project_identity_ball_is_the_frobenius_projection(problem, psi: float) -> None:
    seed, dim, scale = problem
    rng = np.random.default_rng(seed)
    a = np.eye(dim) + scale * rng.standard_normal((dim, dim))
    projected = dl.project_identity_ball(a, psi)
    tolerance = 1e-10 * (scale + psi + 1)
    assert np.linalg.norm(projected - np.eye(dim), 2) <= psi + tolerance
    np.testing.assert_allclose(projected, numpy_project_identity_ball(a, psi), atol=tolerance)
    np.testing.assert_allclose(dl.project_identity_ball(projected, psi), projected, atol=tolerance)
    for _ in range(20):
        other = random_in_ball(rng, dim, psi)
        assert np.sum((a - projected) * (other - projected)) <= tolerance * (scale + psi + 1) * dim


@given(problems, st.floats(1e-3, 3.0))
def test_project_identity_ball_leaves_members_unchanged(problem, psi: float) -> None:
    seed, dim, _ = problem
    member = random_in_ball(np.random.default_rng(seed), dim, psi * 0.999)
    np.testing.assert_array_equal(dl.project_identity_ball(member, psi), member)


def test_float32_is_kept() -> None:
    a = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    assert dl.project_positive(a, 0.5).dtype == np.float32
    assert dl.project_identity_ball(a, 0.5).dtype == np.float32
    np.testing.assert_allclose(
        dl.project_positive(a, 0.5), numpy_project_positive(a.astype(float), 0.5), atol=1e-5
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", [16, 17, 40, 129])
def test_projection_onto_h_gamma_of_larger_matrices_against_numpy(dim: int, dtype) -> None:
    # The projection onto H_γ against numpy's eigh in float64 at sizes the hypothesis tests above
    # (d ≤ 7) do not reach, in the branch that subtracts the clipped part and in the one that
    # forms K + V max(Λ, γ) Vᵀ, and members left as they are.
    rng = np.random.default_rng(dim)
    eps = float(np.finfo(dtype).eps)
    for scale, gamma in ((1.0, 0.5), (1.0, 3.0), (1e3, 0.05), (1e-3, 1e-4)):
        a = (np.eye(dim) + scale * rng.standard_normal((dim, dim))).astype(dtype)
        exact = a.astype(np.float64)
        reference = numpy_project_positive(exact, gamma)
        size = np.abs(reference).max() + scale
        assert abs(dl.positivity_margin(a) - np.linalg.eigvalsh((exact + exact.T) / 2)[0]) <= (
            20 * dim * eps * size
        )
        projected = dl.project_positive(a, gamma)
        assert projected.dtype == dtype
        np.testing.assert_allclose(projected, reference, rtol=0, atol=20 * dim * eps * size)
        member = random_in_h_gamma(rng, dim, gamma, scale).astype(dtype)
        np.testing.assert_array_equal(dl.project_positive(member, gamma), member)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_positivity_margin_of_matrices_near_the_largest_float(dtype, sign: float) -> None:
    largest = float(np.finfo(dtype).max)
    assert dl.positivity_margin((sign * 0.95 * largest * np.eye(3)).astype(dtype)) == pytest.approx(
        sign * 0.95 * largest, rel=1e-6
    )
    a = np.array([[0.9, -0.9], [0.9, 1e-3]]) * largest  # A + Aᵀ overflows; (A + Aᵀ)/2 does not
    margin = dl.positivity_margin(a.astype(dtype))
    assert margin == pytest.approx(np.linalg.eigvalsh(np.diag(np.diag(a)))[0], rel=1e-6)
    rng = np.random.default_rng(0)
    b = rng.standard_normal((5, 5))
    scale = 2.0 ** (np.finfo(dtype).maxexp - 2)  # an exact power of two: the same margin, scaled
    assert dl.positivity_margin((b * scale).astype(dtype)) == pytest.approx(
        dl.positivity_margin(b.astype(dtype)) * scale, rel=1e-5
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", [17, 40, 96])
def test_project_identity_ball_with_clustered_singular_values(dim: int, dtype) -> None:
    # Above 16 rows the SVD is LAPACK's (or Jacobi without it): A − I with singular values in a
    # few tight clusters, some repeated exactly, some inside the ball and some outside
    rng = np.random.default_rng(dim)
    u, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    v, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    sigma = np.resize([0.3, 0.3, 0.3 + 1e-7, 0.9, 2.0, 2.0, 2.0 * (1 + 1e-6)], dim)
    a = (np.eye(dim) + (u * sigma) @ v.T).astype(dtype)
    psi = 0.5
    projected = dl.project_identity_ball(a, psi)
    assert projected.dtype == dtype
    scale = 1e-9 if dtype == np.float64 else 1e-4
    expected = numpy_project_identity_ball(a, psi)
    np.testing.assert_allclose(projected, expected, atol=scale * 10)
    assert np.linalg.norm(projected.astype(np.float64) - np.eye(dim), 2) <= psi * (1 + scale)


def spectrum_of(kind: str, dim: int, psi: float) -> np.ndarray:
    """Singular values of A − I that are hard for an SVD, largest first."""
    if kind == "zeros":  # rank 2: exact zero singular values (a singular A − I)
        return np.array([1.9 * psi, 1.2 * psi] + [0.0] * (dim - 2))[:dim]
    if kind == "rounding":  # zeros to rounding, as a step of singular layers leaves them
        return np.array([1.9 * psi, 0.5 * psi] + [1e-17 * psi] * (dim - 2))[:dim]
    if kind == "edge":  # clustered around ψ: just outside, exactly on it and just inside
        return np.resize([psi * (1 + 1e-9), psi * (1 + 1e-9), psi, psi * (1 - 1e-9)], dim)
    if kind == "spread":  # a condition number of 10¹⁶
        return np.geomspace(1.9 * psi, 1.9e-16 * psi, dim)
    raise ValueError(kind)


@pytest.mark.parametrize(
    "kind", ["zeros", "rounding", "edge", "spread", "diagonal zeros", "diagonal spread"]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", [2, 3, 5, 8, 11, 16])
def test_project_identity_ball_at_small_sizes_on_hard_spectra(dim: int, dtype, kind: str) -> None:
    # Up to 16 rows the projection's SVD is one-sided Jacobi (rotations of A − I's columns, with
    # a stopping rule of its own that leaves columns at rounding level unorthogonalized): singular,
    # clustered and ill-conditioned A − I, at the scale of ψ, at 10¹⁰⁰ (where the squared column
    # norms would overflow unscaled) and at 10³⁰⁰ (beyond 2^512, where the two-sided Jacobi takes
    # over), against numpy's SVD of the same A − I
    rng = np.random.default_rng(dim)
    u, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    v, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    if kind.startswith("diagonal"):  # taken as it is (W = A − I, V = I), signs and zeros kept
        u, v = np.eye(dim), np.diag(rng.choice([-1.0, 1.0], dim))
        kind = kind.removeprefix("diagonal ")
    eps = float(np.finfo(dtype).eps)
    for scale in (1.0, 1e100, 1e300) if dtype == np.float64 else (1.0, 1e15, 1e35):
        psi = 0.5 * scale
        a = (np.eye(dim) + (u * spectrum_of(kind, dim, psi)) @ v.T).astype(dtype)
        expected = numpy_project_identity_ball(a, psi)
        projected = dl.project_identity_ball(a, psi)
        assert projected.dtype == dtype
        tolerance = 20 * dim * eps * max(scale, 1.0)
        np.testing.assert_allclose(projected, expected, rtol=0, atol=tolerance)
        radius = np.linalg.norm(projected.astype(np.float64) - np.eye(dim), 2)
        assert radius <= psi + tolerance


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", [2, 4, 8, 16])
def test_a_projection_from_far_outside_lands_in_the_ball(dim: int, dtype) -> None:
    # ‖A − I‖ from 10² to 10¹² ψ, and A − I with one column 10⁶ times the others (σ_2… ≪ σ_1):
    # the clipped directions are rescaled to ψ, so the SVD must give them orthogonal to ε·ψ, not
    # merely to ε·‖A‖. One-sided Jacobi stopping at ε·‖A‖ left the ball by up to 10⁴ ε·ψ; Eigen's
    # two-sided Jacobi stayed in it but was 10⁶ ε from LAPACK's SVD on the graded columns.
    rng = np.random.default_rng(dim)
    eps = float(np.finfo(dtype).eps)
    eye = np.eye(dim)
    for ratio in (1e2, 1e4, 1e6, 1e8, 1e12):
        for graded in (False, True):
            m = rng.standard_normal((dim, dim))
            if graded:
                m[:, 0] *= 1e6
            a = (eye + ratio * m / np.abs(m).max()).astype(dtype)
            projected = dl.project_identity_ball(a, 1.0).astype(np.float64)
            assert np.linalg.norm(projected - eye, 2) <= 1 + 2 * dim * eps
            expected = numpy_project_identity_ball(a, 1.0)
            np.testing.assert_allclose(projected, expected, rtol=0, atol=10 * dim * eps)


@pytest.mark.parametrize(
    ("entries", "psi", "expected"),
    [
        # columns 10¹⁵⁵ apart: a graded pair whose ζ² overflowed was never rotated (1.31·ψ)
        ([[1e154, 0.1], [0.0, 0.1]], 0.01, [[0.01, 0.0], [0.0, 0.01]]),
        # a column of 10⁻²⁰⁰ beside one of 1: its squared norm underflowed, σ = 0, kept unclipped
        ([[0.0, 1e-200], [1.0, 0.0]], 1e-300, [[0.0, 1e-300], [1e-300, 0.0]]),
        # ψ/σ = 10⁻³⁰⁰/10¹⁵⁰ underflows: ψ·(w/σ), not w·(ψ/σ)
        ([[0.0, 1e150], [1.0, 0.0]], 1e-300, [[0.0, 1e-300], [1e-300, 0.0]]),
    ],
)
def test_project_identity_ball_of_graded_matrices_and_extreme_psi(entries, psi, expected) -> None:
    # Found by a red team on the one-sided Jacobi (d ≤ 16): each was wrong there, right with
    # Eigen's two-sided Jacobi; A − I = entries, the projection I + expected
    a = np.eye(2) + np.array(entries)
    projected = dl.project_identity_ball(a, psi) - np.eye(2)
    np.testing.assert_allclose(projected, np.array(expected), rtol=1e-12, atol=0)
    assert np.linalg.norm(projected, 2) <= psi * (1 + 1e-12)


@pytest.mark.parametrize("dim", [3, 8, 16])
def test_project_identity_ball_near_the_largest_float(dim: int) -> None:
    # A − I with an entry of 1.5·10³⁰⁸ (σ_max beyond the largest float; numpy's SVD, with its
    # σ_max of inf, still projects it): at small d the two-sided Jacobi takes it, as one-sided
    # Jacobi's scaling cannot
    rng = np.random.default_rng(dim)
    m = rng.standard_normal((dim, dim))
    a = np.eye(dim) + 1.5e308 * (m / np.abs(m).max())
    expected = numpy_project_identity_ball(a, 1.0)
    np.testing.assert_allclose(dl.project_identity_ball(a, 1.0), expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_matrix_well_inside_the_ball_is_returned_unchanged(dtype) -> None:
    # ‖A − I‖_F below ψ (so ‖A − I‖₂ too): the projection returns A itself, at every size
    for dim in (3, 17, 40):
        rng = np.random.default_rng(dim)
        delta = rng.standard_normal((dim, dim))
        a = (np.eye(dim) + 0.99 * delta / np.linalg.norm(delta)).astype(dtype)
        np.testing.assert_array_equal(dl.project_identity_ball(a, 1.0), a)
        # just outside by the spectral norm: it moves, onto the sphere ‖A − I‖₂ = ψ
        psi = 0.98 * float(np.linalg.norm(a.astype(np.float64) - np.eye(dim), 2))
        moved = dl.project_identity_ball(a, psi)
        assert not np.array_equal(moved, a)
        assert np.linalg.norm(moved.astype(np.float64) - np.eye(dim), 2) == pytest.approx(
            psi, rel=1e-4 if dtype == np.float32 else 1e-9
        )


def test_step_and_project_at_d_40_in_float32_runs_to_its_end() -> None:
    # This run crashed the process (a segmentation fault in Eigen 3.4's BDCSVD, whose deflation
    # indexed out of bounds on the clustered singular values of Θ − I): run it in a child
    # process, so that a crash fails this test instead of ending the suite
    code = """
import numpy as np, deeplinear as dl
phi = dl.targets.negative_eigenvalue(40, 2.0, seed=40).astype(np.float32)
result = dl.train(phi, 4, "step_and_project", psi=0.5, lr=0.02, max_steps=1500)
radius = max(np.linalg.norm(layer.astype(np.float64) - np.eye(40), 2) for layer in result.layers)
print(result.status, result.steps, radius, result.losses[0], result.final_loss)
"""
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    status, steps, radius, first, last = completed.stdout.split()
    assert (status, int(steps)) == ("max_steps", 1500)
    assert float(radius) <= 0.5 * (1 + 1e-5)
    assert float(last) < float(first)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", [4, 40])
def test_projections_of_matrices_far_outside_keep_the_precision_of_the_result(dim, dtype) -> None:
    # A correction far larger than the result must not leave only its rounding error: the result
    # is accurate relative to itself (ψ, γ), not to ‖A‖
    eps = float(np.finfo(dtype).eps)
    eye = np.eye(dim, dtype=dtype)
    for scale in (1e6, 1e20):
        for psi in (0.5, 1e-3):
            projected = dl.project_identity_ball(dtype(scale) * eye, psi)
            np.testing.assert_allclose(projected, (1 + psi) * eye, rtol=0, atol=50 * eps)
        projected = dl.project_positive(dtype(-scale) * eye, 0.05)
        np.testing.assert_allclose(projected, 0.05 * eye, rtol=0, atol=0.05 * 50 * eps)
    rng = np.random.default_rng(dim)
    big = (eye + 1e8 * rng.standard_normal((dim, dim))).astype(dtype)
    radius = np.linalg.norm(dl.project_identity_ball(big, 0.1).astype(np.float64) - np.eye(dim), 2)
    assert radius <= 0.1 * (1 + 100 * dim * eps)
    skew = rng.standard_normal((dim, dim))
    a = (-1e10 * np.eye(dim) + (skew - skew.T)).astype(dtype)
    projected = dl.project_positive(a, 0.05).astype(np.float64)
    assert dl.positivity_margin(projected) >= 0.05 * (1 - 100 * dim * eps)
    np.testing.assert_allclose(projected - projected.T, (a - a.T).astype(np.float64), atol=1e-3)


def test_step_and_project_keeps_its_ball_when_a_step_lands_far_outside() -> None:
    # float32, a target of norm 10⁹ and η = 0.2: each step lands ~10⁸ away from I, and the
    # projection must still return layers inside the ψ-ball (not ψ + ε·10⁸)
    phi = (dl.targets.spd(64, 1e6, seed=46) * 1e3).astype(np.float32)
    result = dl.train(phi, 2, "step_and_project", psi=0.1, lr=0.2, max_steps=180)
    eps = float(np.finfo(np.float32).eps)
    for layer in result.layers:
        radius = np.linalg.norm(layer.astype(np.float64) - np.eye(64), 2)
        assert radius <= 0.1 * (1 + 100 * 64 * eps)


@pytest.mark.parametrize(
    ("dim", "dtype", "scale", "lr"), [(5, np.float32, 1e3, 1e37), (65, np.float64, 1e10, 1e300)]
)
def test_step_and_project_diverges_when_a_step_overflows(
    dim: int, dtype, scale: float, lr: float
) -> None:
    # A gradient step that overflows to inf has no projection: the run ends diverged with the
    # last finite state (here the start), the same after any other run. The SVD of a non-finite
    # matrix once returned what an earlier one had left (Eigen's Jacobi writes nothing then), and
    # the run went on from that: "max_steps" with layers off the ψ-ball, different each time.
    rng = np.random.default_rng(dim)
    phi = (scale * rng.standard_normal((dim, dim))).astype(dtype)
    options = {"psi": 0.5, "max_steps": 3}
    for factor in (1e-7, 2e-7, 3e-7):  # finite steps, whose SVDs leave values behind
        dl.train(phi, 3, "step_and_project", lr=factor * lr, threads=2, **options)
        result = dl.train(phi, 3, "step_and_project", lr=lr, **options)
        assert result.status == "diverged"
        assert result.steps == 0
        np.testing.assert_array_equal(result.layers, np.stack([np.eye(dim, dtype=dtype)] * 3))
        batch = dl.train_batch(phi[None], 3, "step_and_project", lr=lr, threads=2, **options)
        assert batch.status[0] == "diverged"
        np.testing.assert_array_equal(batch.layers[0], result.layers)


@pytest.mark.parametrize(
    ("name", "value"), [("gamma", 1e39), ("gamma", 1e-50), ("psi", 1e39), ("psi", 1e-50)]
)
def test_a_float32_projection_refuses_a_parameter_that_float32_cannot_hold(
    name: str, value: float
) -> None:
    # γ = 1e39 gave inf and NaN entries, γ = 1e-50 a margin of 0 (outside H_γ)
    a = np.eye(3, dtype=np.float32)
    project = dl.project_positive if name == "gamma" else dl.project_identity_ball
    with pytest.raises(ValueError, match=f"{name} = .* in float32"):
        project(a, value)
