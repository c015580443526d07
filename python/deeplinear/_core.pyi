"""Type stubs of the compiled core (private: use the deeplinear package).

Every array argument must be C-contiguous of exactly float64 or float32, one dtype per call (the
Python layer converts and validates before calling); results keep that dtype unless stated.
Checked against the compiled module by ``python -m mypy.stubtest deeplinear._core``.
"""

from typing import Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

# float64 in, float64 out; float32 in, float32 out (pybind11 registers one overload per dtype).
_F = TypeVar("_F", np.float64, np.float32)
_Status = Literal["converged", "max_steps", "diverged", "interrupted"]
_RunResult = tuple[_Status, int, NDArray[np.float64], NDArray[np.int64], NDArray[np.float64] | None]

has_openmp: bool
diagnostic_names: tuple[str, ...]

def product(layers: NDArray[_F]) -> NDArray[_F]: ...
def loss(layers: NDArray[_F], phi: NDArray[_F]) -> float: ...
def gradient(layers: NDArray[_F], phi: NDArray[_F]) -> NDArray[_F]: ...
def hvp(layers: NDArray[_F], phi: NDArray[_F], direction: NDArray[_F]) -> NDArray[_F]: ...
def hessian(layers: NDArray[_F], phi: NDArray[_F]) -> NDArray[_F]: ...
def positivity_margin(a: NDArray[_F]) -> float: ...
def project_positive(a: NDArray[_F], gamma: float) -> NDArray[_F]: ...
def project_identity_ball(a: NDArray[_F], psi: float) -> NDArray[_F]: ...
def polar(a: NDArray[_F]) -> tuple[NDArray[_F], NDArray[_F]]: ...
def balanced_factorization(a: NDArray[_F], depth: int) -> NDArray[_F]: ...
def diagnostics(layers: NDArray[_F], phi: NDArray[_F]) -> NDArray[np.float64]: ...
def run(
    layers: NDArray[_F],
    phi: NDArray[_F],
    method: str,
    lr: float,
    gamma: float = 0.0,
    psi: float = 0.0,
    kappa: float = 0.0,
    *,
    max_steps: int,
    tol: float = 0.0,
    record_every: int = 1,
    first_step: int = 0,
    record_first: bool = True,
    threads: int = 1,
    diagnostics: bool = False,
    product: NDArray[_F] | None = None,
    resume_product: bool = False,
) -> _RunResult: ...
def spectral_run(
    a: NDArray[_F],
    mu: NDArray[_F],
    depth: int,
    lr: float,
    *,
    max_steps: int,
    tol: float = 0.0,
    record_every: int = 1,
    first_step: int = 0,
    record_first: bool = True,
) -> _RunResult: ...

# The training loop's square products, exposed for tests. op(x) is x or xᵀ (trans_a, trans_b).
def gemm(
    a: NDArray[_F],
    b: NDArray[_F],
    trans_a: bool = False,
    trans_b: bool = False,
    with_transpose: bool = False,
) -> tuple[NDArray[_F], NDArray[_F]]:
    """op(a)·op(b) and, with ``with_transpose`` (needs ``trans_b=False``), its transpose; else
    the second array is uninitialized."""

def gemm_subtract(
    a: NDArray[_F],
    b: NDArray[_F],
    c: NDArray[_F],
    scale: float,
    trans_a: bool = False,
    trans_b: bool = False,
    in_place: bool = False,
) -> NDArray[_F]:
    """c − scale·op(a)·op(b) as a new matrix: computed in place into a copy of c
    (``in_place``) or read from c while the result is written. ``c`` itself is never modified."""

def gemm_backend(n: int) -> Literal["small", "medium", "blas", "eigen"]:
    """The back end of the training loop's float64 n×n products."""

def set_small_split(policy: Literal["timed", "always", "never"]) -> None:
    """Whether the small kernel with threads > 1 shares its row blocks (tests only)."""
