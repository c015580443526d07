"""dl.product, dl.loss, dl.gradient, dl.hvp and dl.hessian against the mathematics of Sec. 2 and
Lemma 1: plain-numpy references written here, finite differences, closed forms and invariants.

Conventions: layers[i-1] = Θ_i, Θ_{1:L} = Θ_L ⋯ Θ_1 (later layers on the left),
ℓ = ½‖Θ_{1:L} − Φ‖_F², and the Hessian is flattened layer by layer, each layer by vec() (column
stacking): entry (r, c) of layer l (0-based) has flat index l·d² + c·d + r.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplinear as dl
from reference import chain
from reference import gradient as ref_gradient
from reference import loss as ref_loss

# -- independent references ------------------------------------------------------------------


def vec(layers: np.ndarray) -> np.ndarray:
    """The paper's flattening: layer by layer, each layer by column stacking."""
    return np.concatenate([layer.T.ravel() for layer in layers])


def flat_index(layer: int, row: int, col: int, dim: int) -> int:
    """Index of Θ_{layer+1}[row, col] in vec order (columns stacked)."""
    return layer * dim * dim + col * dim + row


def coordinate(k: int, dim: int) -> tuple[int, int, int]:
    """Inverse of flat_index: (layer, row, col) of flat index k."""
    layer, within = divmod(k, dim * dim)
    col, row = divmod(within, dim)
    return layer, row, col


def problem(seed: int, depth: int, dim: int, scale: float = 0.4):
    rng = np.random.default_rng(seed)
    layers = np.eye(dim) + scale * rng.standard_normal((depth, dim, dim))
    phi = rng.standard_normal((dim, dim))
    return rng, layers, phi


def rounding_scale(layers: np.ndarray) -> float:
    """An upper bound on the size of any entry of any partial product (for absolute tolerances)."""
    return float(np.prod([max(1.0, np.linalg.norm(layer)) for layer in layers]))


SHAPES = st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 6))


# -- product and loss ------------------------------------------------------------------------


@settings(max_examples=50)
@given(SHAPES, st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.0]), st.booleans())
def test_product_and_loss_match_a_numpy_loop(shape, scale: float, around_identity: bool) -> None:
    seed, depth, dim = shape
    rng = np.random.default_rng(seed)
    layers = scale * rng.standard_normal((depth, dim, dim))
    if around_identity:
        layers += np.eye(dim)
    phi = rng.standard_normal((dim, dim))
    expected = chain(layers, dim)
    tolerance = 1e-13 * depth * dim * rounding_scale(layers)
    got = dl.product(layers)
    assert got.shape == (dim, dim) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=tolerance)
    value = dl.loss(layers, phi)
    assert isinstance(value, float)
    assert value == pytest.approx(ref_loss(layers, phi), rel=1e-11, abs=tolerance**2 + tolerance)


def test_product_puts_later_layers_on_the_left() -> None:
    shear = np.array([[1.0, 2.0], [0.0, 1.0]])  # Θ_1
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])  # Θ_2
    scale = np.diag([3.0, 5.0])  # Θ_3
    # Θ_3 Θ_2 Θ_1 = diag(3, 5) · [[0, 1], [1, 2]] = [[0, 3], [5, 10]]
    np.testing.assert_array_equal(
        dl.product(np.stack([shear, swap, scale])), [[0.0, 3.0], [5.0, 10.0]]
    )
    # and the reverse order differs, so the test distinguishes the two conventions
    assert not np.array_equal(dl.product(np.stack([scale, swap, shear])), [[0, 3], [5, 10]])


def test_single_layer_product_is_the_layer_and_a_fresh_array() -> None:
    _, layers, phi = problem(1, 1, 4)
    original = layers.copy()
    out = dl.product(layers)
    np.testing.assert_array_equal(out, layers[0])
    out[...] = 0.0  # the result must not be a view of the input
    np.testing.assert_array_equal(layers, original)
    assert dl.loss(layers, phi) == pytest.approx(0.5 * np.sum((layers[0] - phi) ** 2), rel=1e-14)


def test_loss_closed_forms() -> None:
    # Θ_i = s·I: Θ_{1:L} = s^L I, so ℓ = ½‖s^L I − Φ‖².
    phi = np.array([[2.0, 1.0, 0.0], [0.0, -1.0, 3.0], [1.0, 0.0, 0.5]])
    layers = np.stack([1.5 * np.eye(3)] * 4)
    assert dl.loss(layers, phi) == pytest.approx(0.5 * np.sum((1.5**4 * np.eye(3) - phi) ** 2))
    assert dl.loss(np.stack([np.eye(3)] * 3), np.eye(3)) == 0.0
    # the loss at the exact factorisation of Φ is zero
    rng = np.random.default_rng(3)
    layers = np.eye(3) + 0.3 * rng.standard_normal((3, 3, 3))
    assert dl.loss(layers, chain(layers, 3)) == pytest.approx(0.0, abs=1e-28)


# -- gradient (Lemma 1) ----------------------------------------------------------------------


@settings(max_examples=50)
@given(SHAPES, st.sampled_from([0.1, 0.4, 1.0]))
def test_gradient_matches_the_lemma1_formula(shape, scale: float) -> None:
    seed, depth, dim = shape
    _, layers, phi = problem(seed, depth, dim, scale)
    expected = ref_gradient(layers, phi)
    got = dl.gradient(layers, phi)
    assert got.shape == layers.shape and got.dtype == np.float64
    tolerance = 1e-12 * depth * dim * rounding_scale(layers) ** 2 * (1 + np.abs(phi).max())
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=tolerance)


@settings(max_examples=25)
@given(SHAPES)
def test_gradient_matches_central_differences_of_the_loss(shape) -> None:
    seed, depth, dim = shape
    _, layers, phi = problem(seed, depth, dim, 0.3)
    eps = 1e-6
    numeric = np.empty_like(layers)
    for index in np.ndindex(*layers.shape):
        plus, minus = layers.copy(), layers.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (dl.loss(plus, phi) - dl.loss(minus, phi)) / (2 * eps)
    scale = 1.0 + np.abs(numeric).max()
    np.testing.assert_allclose(dl.gradient(layers, phi), numeric, rtol=0, atol=1e-7 * scale)


@pytest.mark.parametrize("dim", [1, 3, 5])
def test_single_layer_gradient_is_the_residual(dim: int) -> None:
    _, layers, phi = problem(dim, 1, dim)
    np.testing.assert_allclose(dl.gradient(layers, phi)[0], layers[0] - phi, rtol=0, atol=1e-15)


def test_gradient_vanishes_at_an_exact_factorisation() -> None:
    _, layers, _ = problem(11, 4, 3)
    phi = chain(layers, 3)
    np.testing.assert_allclose(dl.gradient(layers, phi), 0.0, atol=1e-13)


def test_gradient_closed_form_for_scaled_identities() -> None:
    # Θ_i = s I, Φ = diag(μ): G_i = s^{L−1} (s^L I − Φ) for every layer.
    depth, s, mu = 3, 1.2, np.array([0.5, 2.0, -1.0])
    layers = np.stack([s * np.eye(3)] * depth)
    expected = s ** (depth - 1) * (s**depth * np.eye(3) - np.diag(mu))
    for layer_gradient in dl.gradient(layers, np.diag(mu)):
        np.testing.assert_allclose(layer_gradient, expected, rtol=1e-14, atol=1e-14)


@settings(max_examples=30)
@given(SHAPES)
def test_gradient_invariants(shape) -> None:
    seed, depth, dim = shape
    _, layers, phi = problem(seed, depth, dim)
    grads = dl.gradient(layers, phi)
    residual = chain(layers, dim) - phi
    # Scaling one layer by (1 + t) scales the product by (1 + t): ⟨G_i, Θ_i⟩ = ⟨E, Θ_{1:L}⟩ ∀i.
    expected = float(np.sum(residual * chain(layers, dim)))
    inner = np.einsum("lij,lij->l", grads, layers)
    np.testing.assert_allclose(inner, expected, rtol=1e-9, atol=1e-10 * rounding_scale(layers) ** 2)
    # Balancedness is conserved by gradient flow: Θ_{i+1}ᵀ G_{i+1} = G_i Θ_iᵀ.
    for i in range(depth - 1):
        np.testing.assert_allclose(
            layers[i + 1].T @ grads[i + 1],
            grads[i] @ layers[i].T,
            rtol=1e-9,
            atol=1e-10 * rounding_scale(layers) ** 2,
        )


# -- Hessian-vector products and the dense Hessian ------------------------------------------


@settings(max_examples=40)
@given(SHAPES)
def test_hvp_matches_central_differences_of_the_gradient(shape) -> None:
    seed, depth, dim = shape
    rng, layers, phi = problem(seed, depth, dim, 0.3)
    for _ in range(2):
        direction = rng.standard_normal(layers.shape)
        eps = 1e-5
        numeric = (
            dl.gradient(layers + eps * direction, phi) - dl.gradient(layers - eps * direction, phi)
        ) / (2 * eps)
        got = dl.hvp(layers, phi, direction)
        assert got.shape == layers.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, numeric, rtol=0, atol=1e-6 * (1 + np.abs(numeric).max()))


@settings(max_examples=25)
@given(SHAPES)
def test_hvp_is_linear_and_self_adjoint(shape) -> None:
    seed, depth, dim = shape
    rng, layers, phi = problem(seed, depth, dim)
    first, second = rng.standard_normal((2, *layers.shape))
    h_first, h_second = dl.hvp(layers, phi, first), dl.hvp(layers, phi, second)
    scale = 1 + np.abs(h_first).max() + np.abs(h_second).max()
    np.testing.assert_allclose(
        dl.hvp(layers, phi, 2.0 * first - 3.0 * second),
        2.0 * h_first - 3.0 * h_second,
        rtol=0,
        atol=1e-12 * scale,
    )
    assert np.sum(first * h_second) == pytest.approx(np.sum(second * h_first), rel=1e-10, abs=1e-12)


def quadratic_form(layers: np.ndarray, phi: np.ndarray, delta: np.ndarray) -> float:
    """‖DΘ_{1:L}[Δ]‖² + ⟨E, D²Θ_{1:L}[Δ, Δ]⟩ with
    DΘ_{1:L}[Δ] = Σ_i Θ_{i+1:L} Δ_i Θ_{1:i−1} and
    D²Θ_{1:L}[Δ, Δ] = 2 Σ_{i<j} Θ_{j+1:L} Δ_j Θ_{i+1:j−1} Δ_i Θ_{1:i−1}."""
    dim, depth = phi.shape[0], len(layers)
    residual = chain(layers, dim) - phi
    first = sum(
        chain(layers[i + 1 :], dim) @ delta[i] @ chain(layers[:i], dim) for i in range(depth)
    )
    second = np.zeros((dim, dim))
    for i in range(depth):
        for j in range(i + 1, depth):
            second += 2 * (
                chain(layers[j + 1 :], dim)
                @ delta[j]
                @ chain(layers[i + 1 : j], dim)
                @ delta[i]
                @ chain(layers[:i], dim)
            )
    return float(np.sum(first * first) + np.sum(residual * second))


def test_quadratic_form_for_two_layers_by_the_papers_formula() -> None:
    # L = 2: DΘ_{1:2}[Δ] = Δ_2Θ_1 + Θ_2Δ_1 and D²Θ_{1:2}[Δ, Δ] = 2Δ_2Δ_1.
    rng, layers, phi = problem(3, 2, 4)
    for _ in range(3):
        delta = rng.standard_normal(layers.shape)
        first = delta[1] @ layers[0] + layers[1] @ delta[0]
        second = 2 * delta[1] @ delta[0]
        residual = layers[1] @ layers[0] - phi
        expected = np.sum(first**2) + np.sum(residual * second)
        hessian = dl.hessian(layers, phi)
        assert vec(delta) @ hessian @ vec(delta) == pytest.approx(expected, rel=1e-10)
        assert np.sum(delta * dl.hvp(layers, phi, delta)) == pytest.approx(expected, rel=1e-10)


@settings(max_examples=25)
@given(SHAPES)
def test_quadratic_form_for_any_depth(shape) -> None:
    seed, depth, dim = shape
    rng, layers, phi = problem(seed, depth, dim)
    delta = rng.standard_normal(layers.shape)
    expected = quadratic_form(layers, phi, delta)
    got = float(np.sum(delta * dl.hvp(layers, phi, delta)))
    scale = rounding_scale(layers) ** 2 * (1 + np.sum(delta**2)) * (1 + np.abs(phi).max())
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-11 * scale)


def fd_hessian(layers: np.ndarray, phi: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Column k = vec of central differences of the gradient along coordinate k (vec order)."""
    depth, dim = layers.shape[0], layers.shape[1]
    n = depth * dim * dim
    numeric = np.empty((n, n))
    for k in range(n):
        layer, row, col = coordinate(k, dim)
        plus, minus = layers.copy(), layers.copy()
        plus[layer, row, col] += eps
        minus[layer, row, col] -= eps
        numeric[:, k] = vec(ref_gradient(plus, phi) - ref_gradient(minus, phi)) / (2 * eps)
    return numeric


@pytest.mark.parametrize(("depth", "dim"), [(1, 2), (2, 2), (2, 3), (3, 2), (3, 3), (4, 2)])
def test_hessian_matches_a_finite_difference_hessian_in_vec_order(depth: int, dim: int) -> None:
    rng, layers, phi = problem(100 * depth + dim, depth, dim)
    hessian = dl.hessian(layers, phi)
    n = depth * dim * dim
    assert hessian.shape == (n, n) and hessian.dtype == np.float64
    numeric = fd_hessian(layers, phi)
    np.testing.assert_allclose(hessian, numeric, rtol=0, atol=1e-7 * (1 + np.abs(numeric).max()))
    # cross-layer blocks are really there (not a block-diagonal approximation)
    if depth > 1:
        assert np.abs(hessian[: dim * dim, dim * dim : 2 * dim * dim]).max() > 1e-3
    np.testing.assert_allclose(hessian, hessian.T, rtol=0, atol=1e-12 * np.abs(hessian).max())
    for _ in range(3):
        delta = rng.standard_normal(layers.shape)
        np.testing.assert_allclose(
            hessian @ vec(delta),
            vec(dl.hvp(layers, phi, delta)),
            rtol=0,
            atol=1e-12 * (1 + np.abs(hessian).max()) * n,
        )


def second_difference(layers, phi, first, second, eps=1e-4) -> float:
    """∂²ℓ / ∂Θ[first] ∂Θ[second] from four evaluations of dl.loss (independent of gradient)."""
    values = {}
    for a in (1, -1):
        for b in (1, -1):
            moved = layers.copy()
            moved[first] += a * eps
            moved[second] += b * eps
            values[a, b] = dl.loss(moved, phi)
    return (values[1, 1] - values[1, -1] - values[-1, 1] + values[-1, -1]) / (4 * eps * eps)


def test_hessian_entries_named_by_layer_row_and_column() -> None:
    # Entries addressed by (layer, row, col) through the column-stacking index l·d² + c·d + r:
    # a row-stacking (or layer-reversed) flattening puts different numbers there.
    depth, dim = 3, 3
    _, layers, phi = problem(21, depth, dim, 0.6)
    hessian = dl.hessian(layers, phi)
    pairs = [
        ((0, 0, 1), (1, 2, 0)),
        ((0, 1, 0), (2, 0, 2)),
        ((1, 1, 2), (1, 0, 1)),
        ((2, 0, 1), (0, 2, 2)),
        ((0, 2, 0), (0, 2, 0)),
        ((1, 2, 1), (2, 1, 0)),
    ]
    discriminating = 0
    for first, second in pairs:
        numeric = second_difference(layers, phi, first, second)
        k, j = flat_index(*first, dim), flat_index(*second, dim)
        assert hessian[k, j] == pytest.approx(numeric, abs=1e-5)
        assert hessian[j, k] == pytest.approx(numeric, abs=1e-5)
        # the same entry under row stacking (index l·d² + r·d + c)
        k_rows = first[0] * dim * dim + first[1] * dim + first[2]
        j_rows = second[0] * dim * dim + second[1] * dim + second[2]
        discriminating += abs(hessian[k_rows, j_rows] - numeric) > 1e-2
    assert discriminating >= 4  # the chosen entries do tell the two flattenings apart


def test_single_layer_hessian_is_the_identity() -> None:
    # ℓ = ½‖Θ_1 − Φ‖² is a quadratic with identity Hessian, whatever Θ_1 and Φ.
    _, layers, phi = problem(4, 1, 3)
    np.testing.assert_allclose(dl.hessian(layers, phi), np.eye(9), rtol=0, atol=1e-15)


def test_two_layer_hessian_blocks_in_closed_form() -> None:
    # L = 2: ∂²ℓ/∂Θ_1² = (Θ_2ᵀΘ_2) ⊗ applied on the left: vec(Θ_2ᵀΘ_2 Δ_1) = (I ⊗ Θ_2ᵀΘ_2) vecΔ_1;
    # ∂²ℓ/∂Θ_2² : vec(Δ_2 Θ_1Θ_1ᵀ) = (Θ_1Θ_1ᵀ ⊗ I) vecΔ_2 (column-stacking Kronecker identities).
    dim = 3
    _, layers, phi = problem(8, 2, dim)
    hessian = dl.hessian(layers, phi)
    block = dim * dim
    first = np.kron(np.eye(dim), layers[1].T @ layers[1])
    second = np.kron(layers[0] @ layers[0].T, np.eye(dim))
    np.testing.assert_allclose(hessian[:block, :block], first, atol=1e-12)
    np.testing.assert_allclose(hessian[block:, block:], second, atol=1e-12)


# -- dtypes ----------------------------------------------------------------------------------

FUNCTIONS = {
    "product": lambda layers, phi, direction: dl.product(layers),
    "loss": lambda layers, phi, direction: dl.loss(layers, phi),
    "gradient": lambda layers, phi, direction: dl.gradient(layers, phi),
    "hvp": lambda layers, phi, direction: dl.hvp(layers, phi, direction),
    "hessian": lambda layers, phi, direction: dl.hessian(layers, phi),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float32_in_float32_out(name: str) -> None:
    rng, layers, phi = problem(8, 3, 4)
    direction = rng.standard_normal(layers.shape)
    call = FUNCTIONS[name]
    exact = np.asarray(call(layers, phi, direction))
    single = call(layers.astype(np.float32), phi.astype(np.float32), direction.astype(np.float32))
    if name == "loss":
        assert isinstance(single, float)
    else:
        assert single.dtype == np.float32
    # float32 accuracy: a few ulps (6e-8) times the conditioning of short products
    np.testing.assert_allclose(single, exact, rtol=1e-5, atol=1e-5 * np.abs(exact).max())
    assert not np.allclose(single, exact, rtol=1e-12, atol=0)  # it really ran in float32


ARGUMENTS = {
    "product": ["layers"],
    "loss": ["layers", "phi"],
    "gradient": ["layers", "phi"],
    "hvp": ["layers", "phi", "direction"],
    "hessian": ["layers", "phi"],
}
NAME_AND_ARGUMENT = [(name, argument) for name in FUNCTIONS for argument in ARGUMENTS[name]]


@pytest.mark.parametrize(
    ("name", "double"), [case for case in NAME_AND_ARGUMENT if case[0] != "product"]
)
def test_mixed_float32_and_float64_gives_float64(name: str, double: str) -> None:
    rng, layers, phi = problem(9, 3, 4)
    direction = rng.standard_normal(layers.shape)
    arrays = {"layers": layers, "phi": phi, "direction": direction}
    mixed = {
        key: value if key == double else value.astype(np.float32) for key, value in arrays.items()
    }
    got = FUNCTIONS[name](mixed["layers"], mixed["phi"], mixed["direction"])
    # the float32 arrays are promoted exactly, so the answer is the float64 answer on them
    promoted = {key: value.astype(np.float64) for key, value in mixed.items()}
    expected = FUNCTIONS[name](promoted["layers"], promoted["phi"], promoted["direction"])
    if name == "loss":
        assert got == expected
    else:
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)


# -- memory layouts, read-only and integer inputs --------------------------------------------


def layouts(array: np.ndarray):
    """Equal-valued versions of a C-contiguous array in other layouts (name, array)."""
    reversed_storage = np.ascontiguousarray(array[..., ::-1, :])
    yield "reversed rows view", reversed_storage[..., ::-1, :]
    transposed_storage = np.ascontiguousarray(np.swapaxes(array, -1, -2))
    yield "transposed view", np.swapaxes(transposed_storage, -1, -2)
    yield "fortran order", np.asfortranarray(array)
    padded = np.zeros((*array.shape[:-1], 2 * array.shape[-1]))
    padded[..., ::2] = array
    yield "strided view", padded[..., ::2]
    read_only = array.copy()
    read_only.flags.writeable = False
    yield "read-only", read_only


@pytest.mark.parametrize(("name", "argument"), NAME_AND_ARGUMENT)
def test_any_layout_gives_the_c_contiguous_answer_and_inputs_stay_untouched(
    name: str, argument: str
) -> None:
    rng, layers, phi = problem(10, 3, 4)
    direction = rng.standard_normal(layers.shape)
    arrays = {"layers": layers, "phi": phi, "direction": direction}
    expected = FUNCTIONS[name](layers, phi, direction)
    for label, variant in layouts(arrays[argument]):
        before = variant.copy()
        call_arrays = {**arrays, argument: variant}
        got = FUNCTIONS[name](call_arrays["layers"], call_arrays["phi"], call_arrays["direction"])
        np.testing.assert_array_equal(got, expected, err_msg=label)
        np.testing.assert_array_equal(variant, before, err_msg=label)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_integer_and_boolean_inputs_are_accepted(name: str, dtype) -> None:
    rng = np.random.default_rng(12)
    integer = {
        "layers": rng.integers(0, 2, size=(3, 4, 4)).astype(dtype),
        "phi": rng.integers(0, 2, size=(4, 4)).astype(dtype),
        "direction": rng.integers(0, 2, size=(3, 4, 4)).astype(dtype),
    }
    before = {key: value.copy() for key, value in integer.items()}
    got = FUNCTIONS[name](integer["layers"], integer["phi"], integer["direction"])
    as_float = {key: value.astype(np.float64) for key, value in integer.items()}
    expected = FUNCTIONS[name](as_float["layers"], as_float["phi"], as_float["direction"])
    if name != "loss":
        assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)
    # integer inputs are computed exactly here (small integers): check against numpy too
    if name == "product":
        np.testing.assert_array_equal(got, chain(as_float["layers"], 4))
    if name == "gradient":
        np.testing.assert_array_equal(got, ref_gradient(as_float["layers"], as_float["phi"]))
    for key in integer:
        np.testing.assert_array_equal(integer[key], before[key])
        assert integer[key].dtype == dtype


def test_nested_lists_are_accepted() -> None:
    layers = [[[1.0, 2.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]]
    phi = [[1.0, 0.0], [0.0, 1.0]]
    expected_product = np.array([[0.0, 1.0], [1.0, 2.0]])
    np.testing.assert_array_equal(dl.product(layers), expected_product)
    assert dl.loss(layers, phi) == 0.5 * np.sum((expected_product - np.eye(2)) ** 2)


@pytest.mark.parametrize("name", ["gradient", "hvp", "hessian"])
def test_results_are_fresh_arrays(name: str) -> None:
    rng, layers, phi = problem(13, 1, 3)
    direction = rng.standard_normal(layers.shape)
    saved = [layers.copy(), phi.copy(), direction.copy()]
    out = FUNCTIONS[name](layers, phi, direction)
    out[...] = np.nan
    for original, array in zip(saved, (layers, phi, direction)):
        np.testing.assert_array_equal(array, original)
