"""Type stubs of the compiled core (private: use the deeplinear package).

Every array argument must be C-contiguous of exactly float64 or float32 (one dtype per call);
the Python layer converts and validates before calling.
"""

from typing import Literal

import numpy as np
from numpy.typing import NDArray

Float = np.float64 | np.float32
Status = Literal["converged", "max_steps", "diverged", "interrupted"]
RunResult = tuple[Status, int, NDArray[np.float64], NDArray[np.int64], NDArray[np.float64] | None]

has_openmp: bool
diagnostic_names: tuple[str, ...]

# isa / backend (here and below): "auto", or a kernel forced for tests (see kernel_for)
def product(
    layers: NDArray[Float], *, isa: str = "auto", backend: str = "auto"
) -> NDArray[Float]: ...
def loss(
    layers: NDArray[Float], phi: NDArray[Float], *, isa: str = "auto", backend: str = "auto"
) -> float: ...
def gradient(
    layers: NDArray[Float], phi: NDArray[Float], *, isa: str = "auto", backend: str = "auto"
) -> NDArray[Float]: ...
def hvp(
    layers: NDArray[Float], phi: NDArray[Float], direction: NDArray[Float]
) -> NDArray[Float]: ...
def hessian(layers: NDArray[Float], phi: NDArray[Float]) -> NDArray[Float]: ...
def positivity_margin(a: NDArray[Float]) -> float: ...
def project_positive(a: NDArray[Float], gamma: float) -> NDArray[Float]: ...
def project_identity_ball(a: NDArray[Float], psi: float) -> NDArray[Float]: ...
def polar(a: NDArray[Float]) -> tuple[NDArray[Float], NDArray[Float]]: ...
def balanced_factorization(a: NDArray[Float], depth: int) -> NDArray[Float]: ...
def diagnostics(layers: NDArray[Float], phi: NDArray[Float]) -> NDArray[np.float64]: ...
def run(
    layers: NDArray[Float],
    phi: NDArray[Float],
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
    product: NDArray[Float] | None = None,
    resume_product: bool = False,
    # also isa="auto", backend="auto", split="timed" (str, for tests; see kernel_for): left out of
    # this stub so that the method options passed as **dict[str, float] still type-check
) -> RunResult: ...
def spectral_run(
    a: NDArray[Float],
    mu: NDArray[Float],
    depth: int,
    lr: float,
    *,
    max_steps: int,
    tol: float = 0.0,
    record_every: int = 1,
    first_step: int = 0,
    record_first: bool = True,
) -> RunResult: ...

# The training loop's square products, for tests against numpy (cpp/include/deeplinear/gemm.hpp).
def gemm(
    a: NDArray[Float],
    b: NDArray[Float],
    trans_a: bool = False,
    trans_b: bool = False,
    with_transpose: bool = False,
    *,
    threads: int = 1,
    isa: str = "auto",
    backend: str = "auto",
    split: Literal["timed", "always", "never"] = "timed",
) -> tuple[NDArray[Float], NDArray[Float]]: ...
def gemm_subtract(
    a: NDArray[Float],
    b: NDArray[Float],
    c: NDArray[Float],
    scale: float,
    trans_a: bool = False,
    trans_b: bool = False,
    in_place: bool = False,
    *,
    threads: int = 1,
    isa: str = "auto",
    backend: str = "auto",
    split: Literal["timed", "always", "never"] = "timed",
) -> NDArray[Float]: ...
def gemm_backend(n: int, threads: int = 1, dtype: str = "float64") -> str: ...
def kernel_for(
    d: int, dtype: str = "float64", threads: int = 1, method: str = "gd"
) -> dict[str, str | int | bool]: ...
def build_info() -> dict[str, str]: ...
def available_cores() -> int: ...
def split_decisions(
    n: int, seconds_alone: float, seconds_split: float, products: int
) -> list[bool]: ...
