"""Polar decomposition and the balanced factorization (Definition 3, Lemma 7; Sec. 5)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._validation import as_square, check_depth

__all__ = ["balanced_factorization", "polar"]


def polar(a: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The polar decomposition A = R P: R orthogonal, P symmetric positive semidefinite.

    From one SVD A = U Σ Vᵀ: R = U Vᵀ and P = V Σ Vᵀ = (AᵀA)^{1/2}. For singular A, R is not
    unique (any valid one is returned). dtype float32 is kept.
    """
    return _core.polar(as_square(a, "a"))


def balanced_factorization(a: ArrayLike, depth: int) -> np.ndarray:
    """The balanced factorization of A into ``depth`` layers (Definition 3), shape (L, d, d).

    With A = R P (polar), principal roots R^{1/L} (rotation angles θ ∈ (−π, π) divided by L, from
    the real Schur form of R) and M = P^{1/L} (from the eigendecomposition of P), Definition 3's
    factors are A_i = R^{1/L} P_i with P_i = R^{(L−i)/L} M R^{−(L−i)/L}, and A_1 ⋯ A_L = A. The
    network multiplies as Θ_L ⋯ Θ_1, so layer Θ_j = A_{L−j+1} = R^{j/L} M R^{−(j−1)/L} and
    ``dl.product(layers)`` = A. Every layer has singular values σ_k(A)^{1/L} (Lemma 7), and the
    layers are balanced: Θ_{j+1}ᵀΘ_{j+1} = Θ_jΘ_jᵀ.

    With depth 1 the one layer is A itself, for any A. For depth ≥ 2, raises ValueError when A
    has no real principal root (R with an eigenvalue −1) or is singular to working precision
    (σ_min ≤ d·ε·σ_max): R, and with it the factors, would then be set by the SVD's rounding.
    Every γ-positive A (γ > 0) has real principal roots (Lemma 10).
    """
    depth = check_depth(depth)
    matrix = as_square(a, "a")
    if depth == 1:
        return matrix[np.newaxis].copy()
    return _core.balanced_factorization(matrix, depth)
