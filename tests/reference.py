"""Independent numpy references for the tests: the paper's formulas written literally.

Nothing here calls deeplinear; tests compare the compiled core against these.
"""

from __future__ import annotations

import numpy as np


def chain(layers, dim: int) -> np.ndarray:
    """Θ_j ⋯ Θ_i for the layers Θ_i, …, Θ_j given in network order (identity when empty)."""
    result = np.eye(dim)
    for layer in layers:
        result = layer @ result
    return result


def loss(layers: np.ndarray, phi: np.ndarray) -> float:
    """ℓ = ½‖Θ_{1:L} − Φ‖_F²."""
    residual = chain(layers, phi.shape[0]) - phi
    return 0.5 * float(np.sum(residual * residual))


def gradient(layers: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Lemma 1 written literally: G_i = Θ_{i+1:L}ᵀ (Θ_{1:L} − Φ) Θ_{1:i−1}ᵀ (no sweeps)."""
    dim = phi.shape[0]
    residual = chain(layers, dim) - phi
    return np.stack(
        [
            chain(layers[i + 1 :], dim).T @ residual @ chain(layers[:i], dim).T
            for i in range(len(layers))
        ]
    )
