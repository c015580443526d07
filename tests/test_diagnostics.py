"""Per-state diagnostics (train(..., diagnostics=True)) against independent numpy references."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import _core


def numpy_diagnostics(layers: np.ndarray, phi: np.ndarray) -> dict[str, float]:
    depth, dim, _ = layers.shape
    prefixes = [np.eye(dim)]
    for layer in layers:
        prefixes.append(layer @ prefixes[-1])
    suffixes = [np.eye(dim)] * (depth + 1)  # suffixes[i] = Θ_{i+1:L}
    for i in range(depth - 1, -1, -1):
        suffixes[i] = suffixes[i + 1] @ layers[i]
    residual = prefixes[-1] - phi
    loss = 0.5 * np.sum(residual**2)
    grads = [suffixes[i + 1].T @ residual @ prefixes[i].T for i in range(depth)]
    grad_sq = sum(np.sum(g**2) for g in grads)
    sigmas = [np.linalg.svd(layer, compute_uv=False) for layer in layers]
    smin = min(s[-1] for s in sigmas)
    product = prefixes[-1]
    return {
        "loss": loss,
        "radius": max(np.linalg.norm(layer - np.eye(dim), 2) for layer in layers),
        "min_singular": smin,
        "max_singular": max(s[0] for s in sigmas),
        "grad_norm": np.sqrt(grad_sq),
        "lemma2_ratio": grad_sq / (4 * loss * depth * min(smin, 1.0) ** (2 * depth)),
        "lemma2_corrected_ratio": grad_sq / (2 * loss * depth * smin ** (2 * depth - 2)),
        "margin": np.linalg.eigvalsh(0.5 * (product + product.T))[0],
        "balancedness": max(
            [0.0]
            + [
                np.linalg.norm(layers[i + 1].T @ layers[i + 1] - layers[i] @ layers[i].T)
                for i in range(depth - 1)
            ]
        ),
    }


@pytest.mark.parametrize(("depth", "dim"), [(1, 3), (2, 4), (5, 3)])
def test_diagnostics_match_numpy(depth: int, dim: int) -> None:
    rng = np.random.default_rng(depth * 10 + dim)
    layers = np.eye(dim) + 0.3 * rng.standard_normal((depth, dim, dim))
    phi = rng.standard_normal((dim, dim))
    got = dict(zip(_core.diagnostic_names, _core.diagnostics(layers, phi)))
    for name, value in numpy_diagnostics(layers, phi).items():
        assert got[name] == pytest.approx(value, rel=1e-10, abs=1e-12), name


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", [1, 2, 3, 6, 9, 16, 17])
def test_singular_values_of_singular_and_extreme_layers_match_numpy(dim: int, dtype) -> None:
    # The layers' singular values (one-sided Jacobi up to 16 rows, values only): a singular
    # layer, one with a condition number of 10¹², one with a cluster at √ε, and layers of scale
    # 10^±150 (whose squared column norms would over- or underflow unscaled), near the largest
    # float and subnormal (beyond 2^±512 the two-sided Jacobi takes them: one-sided Jacobi's
    # scaling would overflow), to rounding of the largest
    rng = np.random.default_rng(dim)
    eps = float(np.finfo(dtype).eps)
    scales = (1.0, 1e150, 1e-150, 5e307, 1e-300, 1e-310)  # the last subnormal
    for scale in scales if dtype == np.float64 else (1.0, 1e15, 1e-15, 1e37, 1e-35, 1e-40):
        u, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        v, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        sigma = [
            np.resize([1.0, 0.5, 0.0, 0.0], dim),
            np.geomspace(1.0, 1e-12, dim),
            rng.uniform(0.5, 2.0, dim),
            # a cluster at √ε: columns there need rotating to ε·σ_max, not merely to ε·‖A‖²
            np.r_[1.0, np.sqrt(eps) * rng.uniform(1.0, 2.0, dim - 1)],
        ]
        for s in sigma:  # one layer each: the diagnostics report the extremes over layers
            layer = ((u * s) @ v.T * scale).astype(dtype)
            got = dict(
                zip(_core.diagnostic_names, _core.diagnostics(layer[None], np.zeros_like(layer)))
            )
            singular = np.linalg.svd(layer.astype(np.float64), compute_uv=False)
            assert got["max_singular"] == pytest.approx(singular[0], rel=10 * dim * eps)
            floor = 10 * float(np.finfo(dtype).smallest_subnormal)
            assert got["min_singular"] == pytest.approx(
                singular[-1], rel=0, abs=max(10 * dim * eps * singular[0], floor)
            )


@pytest.mark.parametrize(("scale", "depth"), [(2.0, 1), (1.5, 3), (1.0, 2), (0.7, 2)])
def test_stated_lemma2_ratio_is_at_least_one_half(scale: float, depth: int) -> None:
    # Lemma 2 has 1 − a ≤ 1: for layers larger than the identity the stated bound uses 1, and the
    # corrected bound ‖∇ℓ‖² ≥ 2ℓLσ^{2(L−1)} then gives the stated ratio ≥ ½ (= ½ at Θ = I, L = 1).
    dim = 3
    layers = np.stack([scale * np.eye(dim)] * depth)
    got = dict(zip(_core.diagnostic_names, _core.diagnostics(layers, np.zeros((dim, dim)))))
    # Θ_i = sI, Φ = 0: G_i = s^{2L−1} I, ‖∇ℓ‖² = L d s^{2(2L−1)}, ℓ = d s^{2L} / 2
    grad_sq, loss = depth * dim * scale ** (4 * depth - 2), dim * scale ** (2 * depth) / 2
    expected = grad_sq / (4 * loss * depth * min(scale, 1.0) ** (2 * depth))
    assert got["lemma2_ratio"] == pytest.approx(expected, rel=1e-12)
    assert got["lemma2_ratio"] >= 0.5 - 1e-12
    assert got["lemma2_corrected_ratio"] == pytest.approx(1.0, rel=1e-12)


def test_recorded_diagnostics_align_with_losses() -> None:
    rng = np.random.default_rng(1)
    phi = np.eye(3) + 0.2 * rng.standard_normal((3, 3))
    seen = []
    result = dl.train(
        phi,
        3,
        lr=0.05,
        max_steps=47,
        record_every=10,
        diagnostics=True,
        callback=lambda step, layers, loss: seen.append(numpy_diagnostics(layers.copy(), phi)),
    )
    assert result.diagnostics is not None
    np.testing.assert_allclose(result.diagnostics["loss"], result.losses, rtol=1e-9)
    assert len(seen) == len(result.losses)
    for k, reference in enumerate(seen):
        for name, value in reference.items():
            assert result.diagnostics[name][k] == pytest.approx(value, rel=1e-9, abs=1e-12)


def test_paper_lemma2_constant_is_off_by_two_but_corrected_bound_holds() -> None:
    # L = 1, Θ = I, Φ = 0: ‖∇ℓ‖² = d while the paper's stated bound 4ℓL(1 − a)^{2L} = 2d.
    values = dict(zip(_core.diagnostic_names, _core.diagnostics(np.eye(3)[None], np.zeros((3, 3)))))
    assert values["lemma2_ratio"] == pytest.approx(0.5)
    assert values["lemma2_corrected_ratio"] == pytest.approx(1.0)


def test_corrected_lemma2_bound_holds_along_a_trajectory() -> None:
    rng = np.random.default_rng(2)
    phi = np.eye(4) + 0.3 * rng.standard_normal((4, 4))
    result = dl.train(phi, 6, lr=0.02, max_steps=300, record_every=5, diagnostics=True)
    ratios = result.diagnostics["lemma2_corrected_ratio"]
    assert np.all(ratios[np.isfinite(ratios)] >= 1 - 1e-12)


def test_power_projection_keeps_balanced_layers_and_margin() -> None:
    angle = 0.8
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    gamma = 0.5
    result = dl.train(
        1.2 * rotation, 4, "power_projection", gamma=gamma, lr=0.05, max_steps=200, diagnostics=True
    )
    diagnostics = result.diagnostics
    assert np.all(diagnostics["margin"] >= gamma - 1e-10)
    assert np.all(diagnostics["min_singular"] >= gamma ** (1 / 4) * (1 - 1e-10))
    assert np.all(diagnostics["balancedness"] <= 1e-10)


def test_a_diagnostic_that_overflows_is_nan_not_the_other_layers_value() -> None:
    # Θ_2ᵀΘ_2 − Θ_1Θ_1ᵀ of two layers 1e200·I is inf − inf: NaN in numpy, and so here (a max
    # that dropped the NaN reported 0, perfectly balanced); the finite values stay exact
    dim = 3
    layers = np.stack([1e200 * np.eye(dim)] * 2)
    with np.errstate(over="ignore", invalid="ignore"):
        gap = np.linalg.norm(layers[1].T @ layers[1] - layers[0] @ layers[0].T)
    assert np.isnan(gap)
    got = dict(zip(_core.diagnostic_names, _core.diagnostics(layers, np.zeros((dim, dim)))))
    assert np.isnan(got["balancedness"])
    assert got["max_singular"] == got["min_singular"] == 1e200
    assert got["radius"] == pytest.approx(1e200, rel=1e-15)
    assert got["loss"] == np.inf
