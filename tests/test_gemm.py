"""The training loop's square products (cpp/include/deeplinear/gemm.hpp) against numpy on the
back end that each size gets by default (the small kernel: row tails of 1..7, columns past the
last whole vector; the packed kernel: partial row blocks and panels; the BLAS), and whole steps
on either side of each switch. tests/test_kernels.py forces every kernel in turn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplinear as dl
from deeplinear import _core
from reference import gradient as ref_gradient

# around the vector widths (4, 8 and 16), the row blocks (6, 8) and the sizes of the kernels;
# 130 and 131 leave partial row blocks and panels
SIZES = [1, 2, 3, 5, 7, 8, 9, 12, 13, 16, 17, 23, 24, 31, 32, 33, 48, 63, 64, 79, 80]
SIZES += [81, 96, 130, 131, 192, 193, 385]


def tolerance(a: np.ndarray, b: np.ndarray) -> float:
    eps = np.finfo(a.dtype).eps
    return 4 * a.shape[0] * eps * float(np.abs(a).max() * np.abs(b).max() * a.shape[0])


DTYPES = st.sampled_from([np.float64, np.float32])
OPERANDS = (st.sampled_from(SIZES), DTYPES, st.booleans(), st.booleans())  # n, dtype, trans_a/b
SEEDS = st.integers(0, 2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(*OPERANDS, SEEDS)
def test_products_match_numpy(n: int, dtype, trans_a: bool, trans_b: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c, _ = _core.gemm(a, b, trans_a, trans_b, False)
    left, right = (a.T if trans_a else a), (b.T if trans_b else b)
    expected = left.astype(np.float64) @ right.astype(np.float64)
    assert c.dtype == dtype
    np.testing.assert_allclose(c, expected, rtol=0, atol=tolerance(a, b))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])  # 4×4 register transposes, scalar tails
def test_the_transposed_copy_is_exactly_the_transpose(n: int, trans_a: bool, dtype) -> None:
    rng = np.random.default_rng(n)
    a, b = rng.standard_normal((2, n, n)).astype(dtype)
    c, c_t = _core.gemm(a, b, trans_a, False, True)
    np.testing.assert_allclose(c, (a.T if trans_a else a) @ b, rtol=0, atol=tolerance(a, b))
    assert np.array_equal(c_t, c.T)


@settings(max_examples=60, deadline=None)
@given(*OPERANDS, st.booleans(), st.sampled_from([0.0, 0.3, -2.0]), SEEDS)
def test_subtracting_products_match_numpy(
    n: int, dtype, trans_a: bool, trans_b: bool, in_place: bool, scale: float, seed: int
) -> None:
    # c − scale·op(a)·op(b), read from c while a new matrix is written (the training loop's
    # update of the next layer from the current one) or in place; scale 0 leaves c as it was
    rng = np.random.default_rng(seed)
    a, b, c = rng.standard_normal((3, n, n)).astype(dtype)
    kept = c.copy()
    out = _core.gemm_subtract(a, b, c, scale, trans_a, trans_b, in_place)
    assert np.array_equal(c, kept)
    assert out.dtype == dtype
    left, right = (a.T if trans_a else a), (b.T if trans_b else b)
    expected = c.astype(np.float64) - scale * (left.astype(np.float64) @ right.astype(np.float64))
    atol = abs(scale) * tolerance(a, b) + 4 * float(np.finfo(dtype).eps * np.abs(expected).max())
    np.testing.assert_allclose(out, expected, rtol=0, atol=atol)
    if scale == 0.0:
        assert np.array_equal(out, c)


def test_back_ends_follow_the_size() -> None:
    # small, then (float64) packed, then the BLAS as n grows, never back (the switch sizes are in
    # cpp/kernels/tuning.hpp); scipy-openblas32 is a dependency: an installed deeplinear has a BLAS
    order = ["small", "packed", "blas"]
    for dtype in ("float64", "float32"):
        backends = [_core.gemm_backend(n, dtype=dtype) for n in range(1, 1200)]
        assert backends[0] == "small" and backends[-1] == "blas"
        assert [order.index(b) for b in backends] == sorted(order.index(b) for b in backends)
    assert "packed" in {_core.gemm_backend(n) for n in range(1, 1200)}


@pytest.mark.parametrize("dim", [13, 17, 33, 80, 81, 130, 193, 400])
@pytest.mark.parametrize("threads", [1, 2])
def test_gd_steps_match_a_numpy_loop_on_both_sides_of_the_switch(dim: int, threads: int) -> None:
    rng = np.random.default_rng(dim)
    depth, lr, steps = 3, 0.05, 4
    phi = np.eye(dim) + 0.3 * rng.standard_normal((dim, dim)) / np.sqrt(dim)
    layers = np.stack([np.eye(dim)] * depth)
    for _ in range(steps):
        layers = layers - lr * ref_gradient(layers, phi)
    result = dl.train(phi, depth, lr=lr, max_steps=steps, tol=0.0, threads=threads)
    assert result.steps == steps
    np.testing.assert_allclose(result.layers, layers, rtol=0, atol=1e-12)
    gradient = dl.gradient(result.layers, phi)
    np.testing.assert_allclose(gradient, ref_gradient(layers, phi), rtol=0, atol=1e-12)
