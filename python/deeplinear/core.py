"""The loss, its derivatives and the projections of the paper, computed by the C++ core.

Conventions: ``layers`` is an (L, d, d) array with ``layers[i-1]`` = Θ_i, and
the network computes f(x) = Θ_L ⋯ Θ_1 x. Θ_{i:j} = Θ_j ⋯ Θ_i (later layers on the left).
Inputs are converted once (integer, non-contiguous and read-only arrays are accepted and never
modified); float32 in gives float32 out when every array argument is float32, else float64.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._validation import (
    as_layers,
    as_square,
    check_positive,
    check_representable,
    result_dtype,
)

__all__ = [
    "gradient",
    "hessian",
    "hvp",
    "loss",
    "positivity_margin",
    "product",
    "project_identity_ball",
    "project_positive",
]


_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _layers_and_phi(layers: ArrayLike, phi: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    # The short path of a simulator's tick: arrays the core can read as they are (one float
    # dtype, C-contiguous, matching shapes) go straight through; the core checks finiteness.
    if (
        type(layers) is np.ndarray
        and type(phi) is np.ndarray
        and layers.dtype is phi.dtype
        and layers.dtype in _FLOATS
        and layers.ndim == 3
        and phi.ndim == 2
        and layers.flags.c_contiguous
        and phi.flags.c_contiguous
    ):
        depth, dim, cols = layers.shape
        if depth and dim and dim == cols and phi.shape == (dim, dim):
            return layers, phi
    dtype = result_dtype(layers, phi)
    layers_array = as_layers(layers, "layers", dtype)
    phi_array = as_square(phi, "phi", dtype)
    if phi_array.shape[0] != layers_array.shape[1]:
        raise ValueError(
            f"phi must have shape (d, d) = {layers_array.shape[1:]} to match layers, "
            f"got {phi_array.shape}"
        )
    return layers_array, phi_array


def product(layers: ArrayLike) -> np.ndarray:
    """The end-to-end map Θ_{1:L} = Θ_L Θ_{L−1} ⋯ Θ_1 (Sec. 2), shape (d, d)."""
    return _core.product(as_layers(layers, "layers"))


def loss(layers: ArrayLike, phi: ArrayLike) -> float:
    """The population loss ℓ(Θ) = ½‖Θ_{1:L} − Φ‖_F² for isotropic inputs (Sec. 2)."""
    return float(_core.loss(*_layers_and_phi(layers, phi)))


def gradient(layers: ArrayLike, phi: ArrayLike) -> np.ndarray:
    """All layer gradients of ℓ (Lemma 1), shape (L, d, d):

    G_i = ∂ℓ/∂Θ_i = Θ_{i+1:L}ᵀ (Θ_{1:L} − Φ) Θ_{1:i−1}ᵀ,

    by one forward sweep of prefix products Θ_{1:i} and one backward sweep B ← Θ_iᵀ B from
    B = Θ_{1:L} − Φ (backpropagation): about 3L matrix products.
    """
    return _core.gradient(*_layers_and_phi(layers, phi))


def hvp(layers: ArrayLike, phi: ArrayLike, direction: ArrayLike) -> np.ndarray:
    """The Hessian of ℓ applied to ``direction`` Δ = (Δ_1, …, Δ_L), shape (L, d, d).

    Its inner product with Δ is the quadratic form of Lemma 1/Lemma 3,
    ‖DΘ_{1:L}[Δ]‖_F² + ⟨Θ_{1:L} − Φ, D²Θ_{1:L}[Δ, Δ]⟩. Computed by forward-mode
    differentiation of the gradient sweep (about 6L matrix products).
    """
    dtype = result_dtype(layers, phi, direction)
    layers_array, phi_array = _layers_and_phi(
        as_layers(layers, "layers", dtype), as_square(phi, "phi", dtype)
    )
    direction_array = as_layers(direction, "direction", dtype)
    if direction_array.shape != layers_array.shape:
        raise ValueError(
            f"direction must have the shape of layers {layers_array.shape}, "
            f"got {direction_array.shape}"
        )
    return _core.hvp(layers_array, phi_array, direction_array)


def hessian(layers: ArrayLike, phi: ArrayLike) -> np.ndarray:
    """The dense (L·d²) × (L·d²) Hessian of ℓ (Lemma 3 bounds its norm).

    Flattened as in the paper: layer by layer, each layer by vec() (column stacking), i.e. the
    coordinate vector of layers is ``np.concatenate([t.T.ravel() for t in layers])``. Costs
    L·d² Hessian-vector products: meant for small networks.
    """
    return _core.hessian(*_layers_and_phi(layers, phi))


def positivity_margin(a: ArrayLike) -> float:
    """λ_min((A + Aᵀ)/2): A is γ-positive (Def. 1, uᵀAu > γ for all unit u) iff this exceeds γ.

    Any finite A: one whose entries reach a quarter of its dtype's largest number (where A + Aᵀ
    would overflow) is scaled by a power of two first (exactly), and the margin scaled back (±inf
    where it is beyond float64's range, e.g. −√2·a for [[a, a], [a, −a]] with a = 1.7e308).
    """
    matrix = as_square(a, "a")
    largest = float(np.abs(matrix).max())
    if largest < np.finfo(matrix.dtype).max / 4:
        return float(_core.positivity_margin(matrix))
    exponent = math.frexp(largest)[1]  # largest < 2**exponent: the scaled entries are below 1
    scaled = np.ldexp(matrix, -exponent).astype(matrix.dtype)
    margin = float(_core.positivity_margin(scaled))
    try:
        return math.ldexp(margin, exponent)
    except OverflowError:
        return math.copysign(math.inf, margin)


def project_positive(a: ArrayLike, gamma: float) -> np.ndarray:
    """The Frobenius-norm projection of A onto H_γ = {A : uᵀAu ≥ γ for all unit u} (Sec. 5).

    With A = S + K (S symmetric, K skew) and S = V Λ Vᵀ, the projection is K + V max(Λ, γ) Vᵀ:
    the skew part is kept and the eigenvalues of the symmetric part are clipped below at γ.
    A matrix already in H_γ is returned unchanged. ``gamma`` must be > 0, and neither 0 nor
    infinite in A's dtype (float32: 1e-46 or 1e39 are refused).
    """
    matrix = as_square(a, "a")
    gamma = check_representable(check_positive(gamma, "gamma"), "gamma", matrix.dtype)
    return _core.project_positive(matrix, gamma)


def project_identity_ball(a: ArrayLike, psi: float) -> np.ndarray:
    """The Frobenius-norm projection of A onto {A : ‖A − I‖₂ ≤ ψ} (Sec. 6, step-and-project).

    With A − I = U Σ Vᵀ the projection is I + U min(Σ, ψ) Vᵀ (singular values clipped at ψ).
    ``psi`` must be > 0, and neither 0 nor infinite in A's dtype.
    """
    matrix = as_square(a, "a")
    psi = check_representable(check_positive(psi, "psi"), "psi", matrix.dtype)
    return _core.project_identity_ball(matrix, psi)
