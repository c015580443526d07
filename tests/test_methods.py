"""The paper's other training methods (Sec. 5–6) against numpy reference loops, and the claims of
Theorems 2–5 on small instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg

import deeplinear as dl


def numpy_gradient(layers: np.ndarray, phi: np.ndarray) -> np.ndarray:
    dim = phi.shape[0]
    prefixes = [np.eye(dim)]
    for layer in layers:
        prefixes.append(layer @ prefixes[-1])
    residual = prefixes[-1] - phi
    grads, suffix = np.empty_like(layers), np.eye(dim)
    for i in range(len(layers) - 1, -1, -1):
        grads[i] = suffix.T @ residual @ prefixes[i].T
        suffix = suffix @ layers[i]
    return grads


def numpy_loss(layers: np.ndarray, phi: np.ndarray) -> float:
    product = np.eye(phi.shape[0])
    for layer in layers:
        product = layer @ product
    return 0.5 * float(np.sum((product - phi) ** 2))


def ball_projection(a: np.ndarray, psi: float) -> np.ndarray:
    u, sigma, vt = np.linalg.svd(a - np.eye(len(a)))
    return np.eye(len(a)) + (u * np.minimum(sigma, psi)) @ vt


@pytest.fixture
def asymmetric() -> np.ndarray:
    return dl.targets.near_identity(4, 0.4, seed=5)


def test_penalty_matches_the_numpy_loop(asymmetric: np.ndarray) -> None:
    depth, lr, kappa, steps = 3, 0.05, 0.3, 100
    layers = np.stack([np.eye(4)] * depth)
    losses = [numpy_loss(layers, asymmetric)]
    for _ in range(steps):
        layers = layers - lr * (numpy_gradient(layers, asymmetric) + kappa * (layers - np.eye(4)))
        losses.append(numpy_loss(layers, asymmetric))
    result = dl.train(asymmetric, depth, "penalty", kappa=kappa, lr=lr, max_steps=steps)
    np.testing.assert_allclose(result.layers, layers, atol=1e-10)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-10)


@pytest.mark.parametrize("dim", [40, 200])
@pytest.mark.parametrize("depth", [1, 2])
def test_penalty_of_one_or_two_layers_matches_the_numpy_loop(dim: int, depth: int) -> None:
    # The first layer's update when no matrix of the sweep is spent yet: its gradient in place,
    # then the decayed rows one at a time (on the small and on the packed kernel).
    phi = dl.targets.near_identity(dim, 0.4, seed=dim)
    lr, kappa, steps = 0.05, 0.3, 20
    layers = np.stack([np.eye(dim)] * depth)
    for _ in range(steps):
        layers = layers - lr * (numpy_gradient(layers, phi) + kappa * (layers - np.eye(dim)))
    result = dl.train(phi, depth, "penalty", kappa=kappa, lr=lr, max_steps=steps)
    np.testing.assert_allclose(result.layers, layers, atol=1e-12)


def test_step_and_project_matches_the_numpy_loop(asymmetric: np.ndarray) -> None:
    depth, lr, psi, gamma, steps = 4, 0.1, 0.05, 0.8, 100
    layers = np.stack([gamma ** (1 / depth) * np.eye(4)] * depth)
    losses = [numpy_loss(layers, asymmetric)]
    for _ in range(steps):
        stepped = layers - lr * numpy_gradient(layers, asymmetric)
        layers = np.stack([ball_projection(layer, psi) for layer in stepped])
        losses.append(numpy_loss(layers, asymmetric))
    result = dl.train(
        asymmetric, depth, "step_and_project", psi=psi, gamma=gamma, lr=lr, max_steps=steps
    )
    np.testing.assert_allclose(result.layers, layers, atol=1e-10)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-10)
    assert max(np.linalg.norm(layer - np.eye(4), 2) for layer in result.layers) <= psi + 1e-12


@pytest.mark.parametrize("dim", [40, 100])
@pytest.mark.parametrize(
    ("psi", "lr"),
    [
        (0.05, 0.1),  # a few directions clipped at a time: A − U (Σ − ψ) Vᵀ on them
        (0.004, 0.5),  # steps far outside the ball: I + U min(Σ, ψ) Vᵀ in full
    ],
)
def test_step_and_project_matches_the_numpy_loop_with_lapack(
    dim: int, psi: float, lr: float
) -> None:
    # Above 16 rows the projection runs on LAPACK's SVD in memory that the gradient sweep lends
    # (and its product on the training's kernels): the same numpy loop must agree, at every
    # step of the run and for an asymmetric target (a transposed matrix shows).
    phi = dl.targets.near_identity(dim, 0.4, seed=dim)
    depth, steps = 3, 12
    layers = np.stack([np.eye(dim)] * depth)
    for _ in range(steps):
        stepped = layers - lr * numpy_gradient(layers, phi)
        layers = np.stack([ball_projection(layer, psi) for layer in stepped])
    result = dl.train(phi, depth, "step_and_project", psi=psi, lr=lr, max_steps=steps)
    np.testing.assert_allclose(result.layers, layers, atol=1e-11)
    radius = max(np.linalg.norm(layer - np.eye(dim), 2) for layer in result.layers)
    assert abs(radius - psi) <= 1e-12


def test_one_power_projection_step() -> None:
    phi = 1.5 * dl.targets.rotation(4, 1.4, seed=0)  # margin 1.5·cos(1.4) ≈ 0.25
    depth, gamma, lr = 3, 0.6, 0.3
    init = dl.balanced_factorization(dl.targets.gamma_positive(4, 0.3, seed=1), depth)
    stepped = init - lr * numpy_gradient(init, phi)
    product = stepped[2] @ stepped[1] @ stepped[0]
    eigenvalues, vectors = np.linalg.eigh((product + product.T) / 2)
    projected = (product - product.T) / 2 + (vectors * np.maximum(eigenvalues, gamma)) @ vectors.T
    assert eigenvalues[0] < gamma  # the projection is active in this example
    result = dl.train(phi, depth, "power_projection", gamma=gamma, lr=lr, max_steps=1, init=init)
    np.testing.assert_allclose(dl.product(result.layers), projected, atol=1e-12)
    expected = dl.balanced_factorization(projected, depth)
    np.testing.assert_allclose(result.layers, expected, atol=1e-12)


NEGATIVE_CASES = [
    ("gd", 2, {}),
    ("gd", 3, {}),
    ("penalty", 2, {"kappa": 0.1}),
    ("penalty", 4, {"kappa": 1.0}),
    ("step_and_project", 2, {"psi": 2.0}),
    ("step_and_project", 4, {"psi": 0.5}),
    ("step_and_project", 3, {"psi": 1.0}),
    ("step_and_project", 5, {"psi": 0.7, "gamma": 0.5}),
]


def diagonal_target(dim: int, lam: float, count: int = 1) -> np.ndarray:
    # In Φ's eigenbasis the dynamics of Lemmas 5–6 are exact in floating point too: every
    # matrix stays diagonal, so no rounding error can break the symmetry between the layers.
    return np.diag([-lam] * count + [1.0] * (dim - count))


@pytest.mark.parametrize("lam", [0.5, 2.0])
@pytest.mark.parametrize(("method", "depth", "options"), NEGATIVE_CASES)
def test_theorems_4_5_loss_never_drops_below_lambda_squared_over_two(
    method: str, depth: int, options: dict, lam: float
) -> None:
    lr = 0.5 / (depth * (1 + lam**2))
    result = dl.train(diagonal_target(4, lam), depth, method, lr=lr, max_steps=2000, **options)
    assert result.status == "max_steps"
    assert np.all(result.losses >= lam**2 / 2 - 1e-12)


@pytest.mark.parametrize(("method", "depth", "options"), NEGATIVE_CASES)
def test_theorems_4_5_in_a_random_eigenbasis_while_the_layers_stay_symmetric(
    method: str, depth: int, options: dict
) -> None:
    lam = 1.0
    phi = dl.targets.negative_eigenvalue(4, lam, seed=depth)
    lr = 0.5 / (depth * (1 + lam**2))
    result = dl.train(phi, depth, method, lr=lr, max_steps=150, **options)
    assert np.all(result.losses >= lam**2 / 2 - 1e-12)


def test_two_layer_gd_keeps_the_second_layer_the_transpose_of_the_first_bit_for_bit() -> None:
    # Theorem 4's plateau relies on Lemma 5's invariant Θ_1 = Θ_2, which rounding breaks in a
    # random eigenbasis (Θ_1 does not stay exactly symmetric). For L = 2 a weaker invariant
    # survives in floating point: if Θ_2 = Θ_1ᵀ, the residual E = Θ_1ᵀΘ_1 − Φ is exactly
    # symmetric, and the gradients G_2 = E Θ_1ᵀ and G_1 = Θ_1 E are the same sums of the same
    # products in the same order (the kernels' arithmetic contract, cpp/kernels/kernel_abi.hpp),
    # so G_2 = G_1ᵀ bit for bit and Θ_2 = Θ_1ᵀ at every step. Then Θ_{1:2} = Θ_1ᵀΘ_1 is positive
    # semidefinite: the run never leaves the plateau ℓ ≥ λ²/2 (to the rounding of ℓ itself).
    # (Kernels that summed the two products in different orders broke the relation, and that
    # run escaped through the saddle after ~300 steps.)
    lam, depth = 2.0, 2
    phi = dl.targets.negative_eigenvalue(4, lam, seed=22)
    lr = 0.5 / (depth * (1 + lam**2))
    asymmetry = []

    def check(step: int, layers: np.ndarray, loss: float) -> None:
        np.testing.assert_array_equal(layers[1], layers[0].T)
        asymmetry.append(np.abs(layers[0] - layers[0].T).max())

    result = dl.train(phi, depth, lr=lr, max_steps=3000, record_every=20, callback=check)
    assert np.all(result.losses >= lam**2 / 2 - 1e-12)
    assert result.final_loss == pytest.approx(lam**2 / 2, rel=1e-12)
    assert max(asymmetry) > 0  # Lemma 5's Θ_1 = Θ_2 itself does not hold bit for bit here
    exact = dl.spectral_gd(phi, depth, lr=lr, max_steps=600)
    assert exact.losses.min() >= lam**2 / 2 - 1e-12


@pytest.mark.parametrize(("method", "depth", "options"), NEGATIVE_CASES[:4])
def test_positive_determinant_target_is_not_learned(method: str, depth: int, options: dict) -> None:
    lam = 1.0
    phi = diagonal_target(4, lam, count=2)
    assert np.linalg.det(phi) > 0
    result = dl.train(phi, depth, method, lr=0.1, max_steps=2000, **options)
    assert np.all(result.losses >= lam**2 - 1e-12)


@pytest.mark.parametrize(
    "phi",
    [
        1.5 * dl.targets.rotation(4, 1.0, seed=0),
        dl.targets.partial_reflection(4, 1.0, 0.6, seed=1),
        dl.targets.gamma_positive(4, 0.3, seed=2),
    ],
    ids=["rotation", "partial_reflection", "gamma_positive"],
)
def test_theorem3_power_projection_converges_with_its_invariants(phi: np.ndarray) -> None:
    depth = 4
    gamma = 0.5 * dl.positivity_margin(phi)
    lr = 0.5 / (depth * (1 + np.linalg.norm(phi, 2) ** 2))

    def invariants(step: int, layers: np.ndarray, loss: float) -> None:
        assert dl.positivity_margin(dl.product(layers)) >= gamma - 1e-9
        for layer in layers:
            assert np.linalg.svd(layer, compute_uv=False)[-1] >= gamma ** (1 / depth) * (1 - 1e-9)
        for lower, upper in itertools.pairwise(layers):
            np.testing.assert_allclose(upper.T @ upper, lower @ lower.T, atol=1e-9)

    result = dl.train(
        phi,
        depth,
        "power_projection",
        gamma=gamma,
        lr=lr,
        max_steps=5000,
        tol=1e-13,
        callback=invariants,
    )
    assert result.status == "converged" and result.final_loss <= 1e-12


def test_theorem2_layers_converge_to_the_principal_root() -> None:
    phi = dl.targets.spd(4, 4.0, seed=0)
    depth = 5
    lr = dl.theory.theorem2_lr(phi, depth)
    result = dl.train(phi, depth, lr=lr, max_steps=20000, tol=1e-24)
    root = np.real(scipy.linalg.fractional_matrix_power(phi, 1 / depth))
    for layer in result.layers:
        np.testing.assert_allclose(layer, root, atol=1e-8)
    exact = dl.spectral_gd(phi, depth, lr=lr, max_steps=result.steps)
    np.testing.assert_allclose(exact.layers, result.layers, atol=1e-9)


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("penalty", {"kappa": 0.1}),
        ("step_and_project", {"psi": 0.5}),
        ("power_projection", {"gamma": 0.3}),
    ],
)
def test_float32_runs_stay_float32(method: str, options: dict) -> None:
    phi = dl.targets.gamma_positive(3, 0.4, seed=0)
    single = dl.train(phi.astype(np.float32), 3, method, lr=0.05, max_steps=50, **options)
    double = dl.train(phi, 3, method, lr=0.05, max_steps=50, **options)
    assert single.layers.dtype == np.float32
    np.testing.assert_allclose(single.losses, double.losses, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize(
    ("dtype", "dim", "steps"), [(np.float64, 256, 6), (np.float32, 256, 6), (np.float64, 512, 2)]
)
def test_power_projection_on_two_threads_gives_the_bits_of_one(dtype, dim: int, steps: int) -> None:
    # The SVD and the Schur form run on one LAPACK thread whatever the call's count (LAPACK's
    # results depend on it: at d = 256 two threads moved the layers by 5e-15), and Eigen's own
    # products in the factorizer on one thread (Eigen's blocks depend on its thread count: at
    # d = 512 two threads moved the layers by 4e-15); our products on two give the bits of one.
    phi = (1.5 * dl.targets.rotation(dim, 1.0, seed=dim)).astype(dtype)
    runs = [
        dl.train(phi, 4, "power_projection", gamma=0.3, lr=0.05, max_steps=steps, threads=threads)
        for threads in (1, 2)
    ]
    np.testing.assert_array_equal(runs[1].layers, runs[0].layers)
    np.testing.assert_array_equal(runs[1].losses, runs[0].losses)
