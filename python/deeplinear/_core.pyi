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
_History = tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64] | None]

has_openmp: bool
diagnostic_names: tuple[str, ...]
method_names: tuple[str, ...]
status_names: tuple[str, ...]

# isa / backend (here and below): "auto", or a kernel forced for tests (see kernel_for)
def product(layers: NDArray[_F], *, isa: str = "auto", backend: str = "auto") -> NDArray[_F]: ...
def loss(
    layers: NDArray[_F], phi: NDArray[_F], *, isa: str = "auto", backend: str = "auto"
) -> float: ...
def gradient(
    layers: NDArray[_F], phi: NDArray[_F], *, isa: str = "auto", backend: str = "auto"
) -> NDArray[_F]: ...
def hvp(layers: NDArray[_F], phi: NDArray[_F], direction: NDArray[_F]) -> NDArray[_F]: ...
def hessian(layers: NDArray[_F], phi: NDArray[_F]) -> NDArray[_F]: ...
def positivity_margin(a: NDArray[_F]) -> float: ...
def project_positive(a: NDArray[_F], gamma: float) -> NDArray[_F]: ...
def project_identity_ball(a: NDArray[_F], psi: float) -> NDArray[_F]: ...
def polar(a: NDArray[_F]) -> tuple[NDArray[_F], NDArray[_F]]: ...
def balanced_factorization(a: NDArray[_F], depth: int, as_stepped: bool = False) -> NDArray[_F]: ...
def diagnostics(layers: NDArray[_F], phi: NDArray[_F]) -> NDArray[np.float64]: ...

# The state of a training run (trainer.hpp): the layers it steps in place, its step count and
# recorded history, kept consistent by every call. One class per dtype.
class _Session:
    @property
    def steps(self) -> int: ...
    @property
    def recorded_current(self) -> bool: ...
    @property
    def history_size(self) -> int: ...
    def run(self, max_steps: int, tol: float, record_final: bool) -> tuple[_Status, int, float]: ...
    def cancel(self) -> None: ...
    def set_lr(self, lr: float) -> None: ...
    def set_record_every(self, record_every: int) -> None: ...
    def record_current(self) -> float: ...
    def loss(self) -> float: ...
    def check(self) -> None: ...
    def history(self, start: int = 0) -> _History: ...
    def restore(
        self,
        steps: int,
        recorded_current: bool,
        losses: NDArray[np.float64],
        loss_steps: NDArray[np.int64],
        diagnostics: NDArray[np.float64] | None = None,
    ) -> None: ...
    def product(self) -> NDArray[np.float64] | NDArray[np.float32] | None: ...
    def resume(self, psi: NDArray[_F]) -> bool: ...

class Session_float64(_Session): ...
class Session_float32(_Session): ...

# B independent runs (batch.hpp); run() returns (status codes of status_names, steps, losses).
class _BatchSession:
    @property
    def steps(self) -> NDArray[np.int64]: ...
    @property
    def recorded_current(self) -> NDArray[np.bool_]: ...
    @property
    def history_sizes(self) -> NDArray[np.int64]: ...
    @property
    def uses_lanes(self) -> bool: ...
    def run(
        self, max_steps: NDArray[np.int64], tol: NDArray[np.float64], record_final: bool
    ) -> tuple[NDArray[np.int8], NDArray[np.int64], NDArray[np.float64]]: ...
    def cancel(self) -> None: ...
    def set_lr(self, lr: NDArray[np.float64]) -> None: ...
    def set_record_every(self, record_every: int) -> None: ...
    def history(self, b: int, start: int = 0) -> _History: ...
    def record_current(self, b: int) -> float: ...
    def loss(self) -> NDArray[np.float64]: ...
    def network_loss(self, b: int) -> float: ...
    def check(self) -> None: ...
    def restore(
        self,
        b: int,
        steps: int,
        recorded_current: bool,
        losses: NDArray[np.float64],
        loss_steps: NDArray[np.int64],
        diagnostics: NDArray[np.float64] | None = None,
    ) -> None: ...
    def product(self, b: int) -> NDArray[np.float64] | NDArray[np.float32] | None: ...
    def resume(self, b: int, psi: NDArray[_F]) -> bool: ...

class BatchSession_float64(_BatchSession): ...
class BatchSession_float32(_BatchSession): ...

def session(
    layers: NDArray[_F],
    phi: NDArray[_F],
    method: str,
    lr: float,
    gamma: float = 0.0,
    psi: float = 0.0,
    kappa: float = 0.0,
    record_every: int = 1,
    threads: int = 1,
    diagnostics: bool = False,
    isa: str = "auto",
    backend: str = "auto",
    split: Literal["timed", "always", "never"] = "timed",
) -> _Session:
    """A training run on `layers` (stepped in place) towards `phi` (both kept alive by it)."""

def spectral_session(
    a: NDArray[_F], mu: NDArray[_F], depth: int, lr: float, record_every: int = 1
) -> _Session:
    """The exact spectral dynamics (Lemmas 5–6) of the layer eigenvalues `a` (stepped in place)."""

def batch_session(
    layers: NDArray[_F],
    phis: NDArray[_F],
    method: str,
    lr: NDArray[np.float64],
    gamma: NDArray[np.float64],
    psi: NDArray[np.float64],
    kappa: NDArray[np.float64],
    record_every: int = 1,
    threads: int = 1,
    diagnostics: bool = False,
    isa: str = "auto",
    backend: str = "auto",
    split: Literal["timed", "always", "never"] = "timed",
    lanes: Literal["auto", "always", "never"] = "auto",
    identity_scales: NDArray[np.float64] | None = None,
) -> _BatchSession:
    """B independent training runs on `layers` (B, L, d, d), stepped in place, towards `phis`;
    with identity_scales, network b's layers are first set to identity_scales[b]·I."""

# The training loop's square products, for tests against numpy (cpp/include/deeplinear/gemm.hpp).
def gemm(
    a: NDArray[_F],
    b: NDArray[_F],
    trans_a: bool = False,
    trans_b: bool = False,
    with_transpose: bool = False,
    *,
    threads: int = 1,
    isa: str = "auto",
    backend: str = "auto",
    split: Literal["timed", "always", "never"] = "timed",
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
    *,
    threads: int = 1,
    isa: str = "auto",
    backend: str = "auto",
    split: Literal["timed", "always", "never"] = "timed",
) -> NDArray[_F]:
    """c − scale·op(a)·op(b) as a new matrix: computed in place into a copy of c
    (``in_place``) or read from c while the result is written. ``c`` itself is never modified."""

def gemm_backend(n: int, threads: int = 1, dtype: str = "float64") -> str:
    """The back end of the training loop's n×n products."""

def lane_width(single: bool = False, isa: str = "auto", dim: int = 16) -> int:
    """Networks per lane group of a batch of dim × dim networks on this machine's kernels
    (1: none)."""

def lanes_by_default(
    dim: int, single: bool = False, isa: str = "auto", vector_core: str = "auto"
) -> bool:
    """Whether a batch of gd or penalty networks of dim × dim runs in lane groups unless told
    otherwise, on a CPU whose 512-bit operations run 'whole' or in two 'halves' ('auto': this
    one's)."""

def kernel_for(
    d: int, dtype: str = "float64", threads: int = 1, method: str = "gd"
) -> dict[str, str | int | bool]:
    """The kernels a run of this size, dtype, thread count and method uses."""

def build_info() -> dict[str, str]:
    """The compiler, flags, instruction sets, vector core (how the CPU runs 512-bit operations:
    'whole' or 'halves'), OpenMP and BLAS of this build."""

def available_cores() -> int:
    """The cores this process may run on."""

def forked_after_threads() -> bool:
    """Whether this process was forked from one that had run deeplinear with threads > 1."""

def split_decisions(
    n: int, seconds_alone: float, seconds_split: float, products: int
) -> list[bool]:
    """The timed thread split's choices for given timings (tests)."""
