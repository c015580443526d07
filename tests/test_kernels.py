"""The kernels of every instruction set this machine runs (cpp/kernels/), each forced in turn
through the per-call hooks of _core (isa=, backend=): their arithmetic contract checked against
exact rational arithmetic, their products against numpy, and all of them (generic, AVX2, AVX-512;
small, packed, fixed-size; one thread or two) against each other bit for bit, for products and
for whole training runs. Also: which kernel the default build picks on this CPU."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import _core
from reference import gradient as ref_gradient
from reference import run_session

ISAS = [isa for isa in ("generic", "avx2", "avx512") if isa in _core.build_info()["cpu"].split()]
ISAS = [isa for isa in ISAS if isa in _core.build_info()["kernels"].split()]
DTYPES = [np.float64, np.float32]


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


# -- which kernel runs ------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs /proc/cpuinfo (Linux)")
def test_the_default_build_picks_the_widest_instruction_set_of_this_cpu() -> None:
    flags = cpu_flags()
    info = _core.build_info()
    compiled = info["kernels"].split()
    if {
        "avx512f",
        "avx512vl",
        "avx512bw",
        "avx512dq",
        "avx2",
        "fma",
    } <= flags and "avx512" in compiled:
        expected = "avx512"
    elif {"avx2", "fma"} <= flags and "avx2" in compiled:
        expected = "avx2"
    else:
        expected = "generic"
    assert info["best"] == expected
    assert _core.kernel_for(4)["isa"] == expected
    assert _core.kernel_for(64)["isa"] == expected
    # every x86-64 build compiles all three, whatever its flags: a wheel runs them too
    import platform

    if platform.machine() in ("x86_64", "AMD64"):
        assert compiled == ["generic", "avx2", "avx512"]


def cpu_field(name: str) -> str | None:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.split(":", 1)[0].strip() == name:
            return line.split(":", 1)[1].strip()
    return None


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs /proc/cpuinfo (Linux)")
def test_the_vector_core_is_read_off_the_cpu() -> None:
    # AMD's family 25 (19h) with AVX-512 is Zen 4, which runs 512-bit operations in two halves;
    # every other CPU counts as whole (the kernel table for the lane groups differs between them).
    zen4 = (
        cpu_field("vendor_id") == "AuthenticAMD"
        and cpu_field("cpu family") == "25"
        and "avx512f" in cpu_flags()
    )
    assert _core.build_info()["vector_core"] == ("halves" if zen4 else "whole")
    with pytest.raises(ValueError, match="vector_core"):
        _core.lanes_by_default(4, vector_core="quarters")


def test_the_back_end_follows_the_size_and_the_method() -> None:
    assert _core.kernel_for(12)["backend"] == "fixed"
    assert _core.kernel_for(12, method="penalty")["backend"] == "fixed"
    assert _core.kernel_for(12, method="step_and_project")["backend"] == "small"
    assert _core.kernel_for(13)["backend"] == "small"
    assert _core.kernel_for(2000)["backend"] == "blas"
    assert _core.kernel_for(2000)["isa"] == "blas"


def test_an_unavailable_or_unknown_kernel_is_a_value_error() -> None:
    a = np.eye(3)
    with pytest.raises(ValueError, match="instruction set"):
        _core.gemm(a, a, isa="sse9")
    with pytest.raises(ValueError, match="back end"):
        _core.gemm(a, a, backend="cuda")
    missing = [isa for isa in ("avx2", "avx512") if isa not in ISAS]
    for isa in missing:
        with pytest.raises(ValueError, match="not available"):
            _core.gemm(a, a, isa=isa)


# -- the arithmetic contract against exact arithmetic ------------------------------------------


def rounded(x: Fraction, dtype) -> float:
    """x rounded to the nearest `dtype` (ties to even), from its exact value."""
    near = dtype(float(x))  # within one ulp of x (float32: float(x) is rounded once already)
    candidates = [np.nextafter(near, dtype(-np.inf)), near, np.nextafter(near, dtype(np.inf))]
    best = min(
        candidates,
        key=lambda c: (
            abs(Fraction(float(c)) - x),
            int(np.abs(c).view(np.uint64 if dtype == np.float64 else np.uint32)) & 1,
        ),
    )
    return best


def chain(a_row: np.ndarray, b_column: np.ndarray, dtype) -> float:
    """p = a_0·b_0, then p = fma(a_k, b_k, p) for k = 1, …, n − 1, each step rounded once."""
    p = rounded(Fraction(float(a_row[0])) * Fraction(float(b_column[0])), dtype)
    for x, y in zip(a_row[1:], b_column[1:]):
        p = rounded(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(p)), dtype)
    return p


def contract_norm(x: np.ndarray, dtype) -> float:
    """Σ x² in lanes (8 for float64, 16 for float32), folded pairwise: the contract's order."""
    lanes = 8 if dtype == np.float64 else 16
    sums = [dtype(0)] * lanes
    for i, value in enumerate(x.ravel()):
        v = Fraction(float(value))
        sums[i % lanes] = rounded(v * v + Fraction(float(sums[i % lanes])), dtype)
    while lanes > 1:
        lanes //= 2
        sums = [
            rounded(Fraction(float(sums[k])) + Fraction(float(sums[k + lanes])), dtype)
            for k in range(lanes)
        ]
    return sums[0]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("n", "backend"), [(5, "small"), (13, "small"), (19, "small"), (83, "packed"), (197, "packed")]
)
def test_every_product_element_is_the_contracts_fma_chain(
    isa: str, dtype, n: int, backend: str
) -> None:
    rng = np.random.default_rng(n)
    a, b, c = rng.standard_normal((3, n, n)).astype(dtype)
    scale = dtype(0.37)
    product, _ = _core.gemm(a, b, True, True, isa=isa, backend=backend)
    updated = _core.gemm_subtract(a, b, c, float(scale), isa=isa, backend=backend)
    picks = [(i, j) for i in range(n) for j in range(n)] if n < 10 else rng.integers(0, n, (25, 2))
    for i, j in picks:
        expected = chain(a[:, i], b[j, :], dtype)  # op(a) = aᵀ, op(b) = bᵀ
        assert product[i, j] == expected, (i, j)
        p = chain(a[i, :], b[:, j], dtype)
        fused = rounded(
            -Fraction(float(scale)) * Fraction(float(p)) + Fraction(float(c[i, j])), dtype
        )
        assert updated[i, j] == fused, (i, j)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [1, 3, 5, 11])
def test_the_loss_sums_in_the_contracts_order(isa: str, dtype, dim: int) -> None:
    rng = np.random.default_rng(dim)
    layers = rng.standard_normal((1, dim, dim)).astype(dtype)
    phi = rng.standard_normal((dim, dim)).astype(dtype)
    residual = layers[0] - phi  # exactly rounded, as the kernels form it
    expected = float(dtype(0.5) * contract_norm(residual, dtype))
    assert _core.loss(layers, phi, isa=isa) == expected


# -- every kernel against numpy ----------------------------------------------------------------


SIZES = [1, 2, 3, 7, 8, 9, 13, 16, 17, 24, 31, 33, 47, 64, 80, 81, 100, 131, 192]


def tolerance(a: np.ndarray, b: np.ndarray) -> float:
    eps = np.finfo(a.dtype).eps
    return 4 * a.shape[0] * eps * float(np.abs(a).max() * np.abs(b).max() * a.shape[0])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", ["small", "packed"])
def test_each_kernel_matches_numpy(isa: str, dtype, backend: str) -> None:
    rng = np.random.default_rng(1)
    for n in SIZES:
        a, b, c = rng.standard_normal((3, n, n)).astype(dtype)
        for trans_a in (False, True):
            for trans_b in (False, True):
                left, right = (a.T if trans_a else a), (b.T if trans_b else b)
                expected = left.astype(np.float64) @ right.astype(np.float64)
                got, _ = _core.gemm(a, b, trans_a, trans_b, isa=isa, backend=backend)
                np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance(a, b))
                out = _core.gemm_subtract(a, b, c, 0.5, trans_a, trans_b, isa=isa, backend=backend)
                atol = 0.5 * tolerance(a, b) + 4 * float(np.finfo(dtype).eps * np.abs(c).max())
                np.testing.assert_allclose(out, c - 0.5 * expected, rtol=0, atol=atol)


# -- all kernels against each other, bit for bit -----------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 4, 9, 16, 23, 40, 64, 71, 81, 130])
def test_every_kernel_gives_the_same_bits(dtype, n: int) -> None:
    rng = np.random.default_rng(n)
    a, b, c = rng.standard_normal((3, n, n)).astype(dtype)
    reference = None
    for isa in ISAS:
        for backend in ("small", "packed"):
            for threads in (1, 2):
                options = {"isa": isa, "backend": backend, "threads": threads, "split": "always"}
                got = [
                    *(
                        _core.gemm(a, b, ta, tb, **options)[0]
                        for ta in (False, True)
                        for tb in (False, True)
                    ),
                    *_core.gemm(a, b, False, False, True, **options),
                    _core.gemm_subtract(a, b, c, 0.25, False, True, **options),
                    _core.gemm_subtract(a, b, c, 0.25, True, False, True, **options),
                ]
                if reference is None:
                    reference = got
                for mine, theirs in zip(got, reference):
                    np.testing.assert_array_equal(
                        mine, theirs, err_msg=f"{isa} {backend} {threads}"
                    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [200, 397])
def test_blocks_of_k_give_the_same_bits(dtype, n: int) -> None:
    # the packed kernel sums in blocks of kPackedDepth rows of op(b) (tuning.hpp) from n = 193 on,
    # storing and reloading the sums (in c, or apart from c when subtracting in place)
    rng = np.random.default_rng(n)
    a, b, c = rng.standard_normal((3, n, n)).astype(dtype)
    fast = [isa for isa in ISAS if isa != "generic"] or ISAS  # (the generic kernels are slow here)
    reference = None
    for isa in fast:
        for backend, threads in (("small", 1), ("packed", 1), ("packed", 2)):
            options = {"isa": isa, "backend": backend, "threads": threads, "split": "always"}
            got = [
                _core.gemm(a, b, False, True, **options)[0],
                _core.gemm(a, b, True, False, **options)[0],
                _core.gemm_subtract(a, b, c, 0.25, False, True, **options),
                _core.gemm_subtract(a, b, c, 0.25, True, False, True, **options),
            ]
            if reference is None:
                reference = got
            for mine, theirs in zip(got, reference):
                np.testing.assert_array_equal(mine, theirs, err_msg=f"{isa} {backend} {threads}")
    expected = a.astype(np.float64) @ b.T.astype(np.float64)
    np.testing.assert_allclose(reference[0], expected, rtol=0, atol=tolerance(a, b))


def run(phi: np.ndarray, depth: int, method: str, steps: int, **options) -> tuple:
    return run_session(phi, depth, method, steps, lr=0.05, **options)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [1, 3, 4, 8, 11, 12, 17, 66, 85, 200])
@pytest.mark.parametrize("method", ["gd", "penalty"])
def test_whole_runs_are_the_same_on_every_kernel(dtype, dim: int, method: str) -> None:
    # fixed-size steps (d ≤ 12), the small kernel and the packed kernel, on every instruction
    # set, on one thread or two: the same layers and losses, bit for bit
    rng = np.random.default_rng(dim)
    phi = (np.eye(dim) + 0.3 * rng.standard_normal((dim, dim)) / np.sqrt(dim)).astype(dtype)
    options = {"kappa": 0.1} if method == "penalty" else {}
    backends = ["fixed", "small", "packed"] if dim <= 12 else ["small", "packed"]
    reference = None
    for isa in ISAS:
        for backend in backends:
            # rows are shared from d = 64; at d = 200 the packed kernel sums blocks of k
            for threads in (1, 2) if dim >= 64 else (1,):
                got = run(
                    phi,
                    3,
                    method,
                    6,
                    isa=isa,
                    backend=backend,
                    threads=threads,
                    split="always",
                    **options,
                )
                if reference is None:
                    reference = got
                label = f"{isa} {backend} threads={threads}"
                np.testing.assert_array_equal(got[0], reference[0], err_msg=label)
                np.testing.assert_array_equal(got[1], reference[1], err_msg=label)
    assert reference is not None and reference[1][-1] < reference[1][0]


def test_fixed_size_runs_match_the_numpy_reference() -> None:
    # the whole-sweep kernels against an independent loop (tests/reference.py)
    from reference import gradient as ref_gradient

    rng = np.random.default_rng(3)
    for dim in range(1, 13):
        phi = np.eye(dim) + 0.3 * rng.standard_normal((dim, dim)) / np.sqrt(dim)
        layers = np.stack([np.eye(dim)] * 6)
        for _ in range(5):
            layers = layers - 0.05 * ref_gradient(layers, phi)
        default = dl.train(phi, 6, lr=0.05, max_steps=5).layers
        np.testing.assert_allclose(default, layers, rtol=0, atol=1e-13)
        for isa in ISAS:
            np.testing.assert_array_equal(
                run(phi, 6, "gd", 5, isa=isa, backend="fixed")[0], default
            )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [7, 200])
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6])
def test_the_gradient_sweep_matches_lemma_1_on_every_kernel(dtype, dim: int, depth: int) -> None:
    # every layer's gradient, the first one (formed by the kernel as Θ_2ᵀ·B_2) and the second
    # (against the first layer itself) included, with the back-propagated B_i in the places of
    # the spent prefix products: against the numpy reference, on every back end
    rng = np.random.default_rng(dim * 10 + depth)
    layers = (np.eye(dim) + 0.5 * rng.standard_normal((depth, dim, dim)) / np.sqrt(dim)).astype(
        dtype
    )
    phi = rng.standard_normal((dim, dim)).astype(dtype)
    expected = ref_gradient(layers.astype(np.float64), phi.astype(np.float64))
    scale = max(1.0, float(np.abs(expected).max()))
    eps = float(np.finfo(dtype).eps)
    for isa in ISAS:
        for backend in ("small", "packed", "blas"):
            got = _core.gradient(layers, phi, isa=isa, backend=backend)
            np.testing.assert_allclose(
                got,
                expected,
                rtol=0,
                atol=60 * depth * dim * eps * scale,
                err_msg=f"{isa} {backend}",
            )
            loss = _core.loss(layers, phi, isa=isa, backend=backend)
            assert loss == pytest.approx(
                dl.loss(layers.astype(np.float64), phi.astype(np.float64)),
                rel=1e-3 if dtype == np.float32 else 1e-10,
            )
