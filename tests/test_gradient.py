"""dl.product, dl.loss, dl.gradient (Lemma 1), dl.hvp and dl.hessian against finite differences
and independent numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deeplinear as dl


def chain(layers: np.ndarray, dim: int) -> np.ndarray:
    """Θ_{i:j} for the given slice of layers: later layers on the left."""
    result = np.eye(dim)
    for layer in layers:
        result = layer @ result
    return result


def numpy_loss(layers: np.ndarray, phi: np.ndarray) -> float:
    return 0.5 * float(np.sum((chain(layers, phi.shape[0]) - phi) ** 2))


def numpy_gradient(layers: np.ndarray, phi: np.ndarray) -> np.ndarray:
    dim = phi.shape[0]
    residual = chain(layers, dim) - phi
    return np.stack(
        [
            chain(layers[i + 1 :], dim).T @ residual @ chain(layers[:i], dim).T
            for i in range(len(layers))
        ]
    )


def vec(layers: np.ndarray) -> np.ndarray:
    """The paper's flattening: layer by layer, each by column stacking."""
    return np.concatenate([layer.T.ravel() for layer in layers])


def unvec(vector: np.ndarray, depth: int, dim: int) -> np.ndarray:
    return np.stack([block.reshape(dim, dim).T for block in np.split(vector, depth)])


def random_problem(seed: int, depth: int, dim: int, scale: float = 0.3):
    rng = np.random.default_rng(seed)
    layers = np.eye(dim) + scale * rng.standard_normal((depth, dim, dim))
    phi = rng.standard_normal((dim, dim))
    return rng, layers, phi


problems = st.tuples(st.integers(0, 2**31), st.integers(1, 6), st.integers(1, 6))


@given(problems, st.floats(0.0, 2.0))
def test_product_and_loss_match_numpy(problem, scale: float) -> None:
    seed, depth, dim = problem
    _, layers, phi = random_problem(seed, depth, dim, scale)
    np.testing.assert_allclose(dl.product(layers), chain(layers, dim), rtol=1e-12, atol=1e-12)
    assert dl.loss(layers, phi) == pytest.approx(numpy_loss(layers, phi), rel=1e-12, abs=1e-14)


def test_product_order_is_later_layers_on_the_left() -> None:
    first = np.array([[1.0, 1.0], [0.0, 1.0]])
    second = np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(dl.product(np.stack([first, second])), second @ first)


@given(problems)
def test_gradient_matches_the_lemma1_formula(problem) -> None:
    seed, depth, dim = problem
    _, layers, phi = random_problem(seed, depth, dim)
    np.testing.assert_allclose(
        dl.gradient(layers, phi), numpy_gradient(layers, phi), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize(("depth", "dim"), [(1, 3), (2, 2), (4, 3), (6, 2)])
def test_gradient_matches_central_differences(depth: int, dim: int) -> None:
    _, layers, phi = random_problem(depth * 7 + dim, depth, dim)
    eps = 1e-6
    numeric = np.zeros_like(layers)
    for index in np.ndindex(layers.shape):
        plus, minus = layers.copy(), layers.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (numpy_loss(plus, phi) - numpy_loss(minus, phi)) / (2 * eps)
    np.testing.assert_allclose(dl.gradient(layers, phi), numeric, atol=1e-7)


def test_single_layer_gradient_is_the_residual() -> None:
    _, layers, phi = random_problem(5, 1, 4)
    np.testing.assert_allclose(dl.gradient(layers, phi)[0], layers[0] - phi, atol=1e-15)


@given(problems)
def test_hvp_matches_differences_of_the_gradient(problem) -> None:
    seed, depth, dim = problem
    rng, layers, phi = random_problem(seed, depth, dim)
    direction = rng.standard_normal(layers.shape)
    eps = 1e-6
    numeric = (
        numpy_gradient(layers + eps * direction, phi)
        - numpy_gradient(layers - eps * direction, phi)
    ) / (2 * eps)
    np.testing.assert_allclose(dl.hvp(layers, phi, direction), numeric, atol=2e-6 * (1 + dim))


@pytest.mark.parametrize(("depth", "dim"), [(1, 2), (2, 2), (3, 2), (2, 3)])
def test_hessian_matches_finite_differences_in_vec_order(depth: int, dim: int) -> None:
    _, layers, phi = random_problem(depth * 11 + dim, depth, dim)
    n, eps = depth * dim * dim, 1e-6
    numeric = np.zeros((n, n))
    for k in range(n):
        unit = np.zeros(n)
        unit[k] = eps
        delta = unvec(unit, depth, dim)
        numeric[:, k] = vec(
            numpy_gradient(layers + delta, phi) - numpy_gradient(layers - delta, phi)
        ) / (2 * eps)
    hessian = dl.hessian(layers, phi)
    np.testing.assert_allclose(hessian, numeric, atol=1e-7)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-12)


def test_hessian_entries_by_layer_row_and_column() -> None:
    # A row-stacking mistake would swap (r, c) within a layer: check named entries explicitly.
    depth, dim = 2, 3
    _, layers, phi = random_problem(21, depth, dim)
    hessian = dl.hessian(layers, phi)

    def index(layer: int, row: int, col: int) -> int:
        return layer * dim * dim + col * dim + row

    eps = 1e-6
    pairs = [((0, 0, 1), (1, 2, 0)), ((1, 1, 2), (1, 0, 1)), ((0, 2, 0), (0, 2, 0))]
    for (li, ri, ci), (lj, rj, cj) in pairs:
        plus, minus = layers.copy(), layers.copy()
        plus[lj, rj, cj] += eps
        minus[lj, rj, cj] -= eps
        numeric = (numpy_gradient(plus, phi) - numpy_gradient(minus, phi))[li, ri, ci] / (2 * eps)
        assert hessian[index(li, ri, ci), index(lj, rj, cj)] == pytest.approx(numeric, abs=1e-7)


def test_hessian_quadratic_form_for_two_layers() -> None:
    # L = 2: DΘ_{1:2}[Δ] = Δ_2Θ_1 + Θ_2Δ_1 and D²Θ_{1:2}[Δ, Δ] = 2Δ_2Δ_1.
    rng, layers, phi = random_problem(3, 2, 4)
    delta = rng.standard_normal(layers.shape)
    first = delta[1] @ layers[0] + layers[1] @ delta[0]
    second = 2 * delta[1] @ delta[0]
    residual = layers[1] @ layers[0] - phi
    expected = np.sum(first**2) + np.sum(residual * second)
    assert vec(delta) @ dl.hessian(layers, phi) @ vec(delta) == pytest.approx(expected, rel=1e-10)
    assert np.sum(delta * dl.hvp(layers, phi, delta)) == pytest.approx(expected, rel=1e-10)


FUNCTIONS = {
    "product": lambda layers, phi, direction: dl.product(layers),
    "loss": lambda layers, phi, direction: np.asarray(dl.loss(layers, phi)),
    "gradient": lambda layers, phi, direction: dl.gradient(layers, phi),
    "hvp": lambda layers, phi, direction: dl.hvp(layers, phi, direction),
    "hessian": lambda layers, phi, direction: dl.hessian(layers, phi),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float32_in_float32_out_to_float32_accuracy(name: str) -> None:
    rng, layers, phi = random_problem(8, 3, 4)
    direction = rng.standard_normal(layers.shape)
    call = FUNCTIONS[name]
    exact = call(layers, phi, direction)
    single = call(layers.astype(np.float32), phi.astype(np.float32), direction.astype(np.float32))
    if name != "loss":
        assert single.dtype == np.float32
    np.testing.assert_allclose(single, exact, rtol=2e-4, atol=2e-4 * np.abs(exact).max())
    if name not in ("loss", "product"):  # float32 layers with a float64 Φ promote
        assert call(layers.astype(np.float32), phi, direction).dtype == np.float64


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_non_contiguous_read_only_and_integer_inputs(name: str) -> None:
    rng = np.random.default_rng(9)
    storage = rng.integers(-2, 3, size=(3, 8, 8))
    layers = storage[:, ::2, 1::2]  # non-contiguous integer view, (3, 4, 4)
    phi = np.asfortranarray(rng.standard_normal((4, 4)))
    direction = rng.standard_normal((3, 4, 4)).transpose(0, 2, 1)
    for array in (storage, phi, direction):
        array.flags.writeable = False
    before = [storage.copy(), phi.copy(), direction.copy()]
    call = FUNCTIONS[name]
    got = call(layers, phi, direction)
    expected = call(
        np.ascontiguousarray(layers, dtype=float), np.ascontiguousarray(phi), direction.copy()
    )
    np.testing.assert_array_equal(got, expected)
    for original, copy in zip(before, [storage, phi, direction]):
        np.testing.assert_array_equal(original, copy)
