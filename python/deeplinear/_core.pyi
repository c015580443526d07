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

def product(layers: NDArray[Float]) -> NDArray[Float]: ...
def loss(layers: NDArray[Float], phi: NDArray[Float]) -> float: ...
def gradient(layers: NDArray[Float], phi: NDArray[Float]) -> NDArray[Float]: ...
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
