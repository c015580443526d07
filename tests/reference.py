"""Independent numpy references for the tests: the paper's formulas written literally.

The formulas call nothing of deeplinear; tests compare the compiled core against them.
``run_session`` alone is not a reference: it runs the compiled core's session, for tests that
compare the core with itself (thread counts, kernels) next to a numpy reference.
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


def run_session(
    phi: np.ndarray, depth: int, method: str, steps: int, **options
) -> tuple[np.ndarray, np.ndarray]:
    """(layers, losses) of `steps` steps from the identity in one call of the compiled core's
    session; options go to it (lr, the method's parameters, threads, split, isa, backend)."""
    from deeplinear import _core

    layers = np.stack([np.eye(phi.shape[0], dtype=phi.dtype)] * depth)
    session = _core.session(layers, phi, method, **options)
    _, taken, _ = session.run(steps, 0.0, True)
    assert taken == steps
    return layers, session.history(0)[0]


def scipy_balanced_factors(a: np.ndarray, depth: int) -> np.ndarray:
    """Def. 3 with Θ_j = R^{j/L} P^{1/L} R^{−(j−1)/L}, so that Θ_L ⋯ Θ_1 = A = R P (A = R P is
    scipy's polar decomposition)."""
    import scipy.linalg

    r, p = scipy.linalg.polar(a)
    eigenvalues, vectors = np.linalg.eigh(p)
    root = (vectors * eigenvalues ** (1 / depth)) @ vectors.T

    # R is normal: its complex Schur form is diagonal, R^s = Z diag(λ^s) Z* (principal powers).
    schur, basis = scipy.linalg.schur(r, output="complex")
    eigenvalues_r = np.diag(schur)

    def rotation_power(s: float) -> np.ndarray:
        return np.real((basis * eigenvalues_r**s) @ basis.conj().T)

    return np.stack(
        [
            rotation_power(j / depth) @ root @ rotation_power(-(j - 1) / depth)
            for j in range(1, depth + 1)
        ]
    )
