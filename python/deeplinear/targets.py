"""Seeded generators of target matrices Φ, each with the property the paper's analysis needs.

Every generator returns a C-contiguous (d, d) float64 array and takes ``seed`` (None, an int or
a ``numpy.random.Generator``). Random orthogonal matrices are Haar-distributed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._validation import check_int, check_nonnegative, check_positive, check_real

__all__ = [
    "FAMILIES",
    "gamma_positive",
    "near_identity",
    "negative_eigenvalue",
    "partial_reflection",
    "rotation",
    "spd",
]

Seed = int | np.random.Generator | None


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _haar_orthogonal(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal matrix: QR of a Gaussian matrix with R's diagonal made positive."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _conjugate(basis: np.ndarray, diagonal_or_matrix: np.ndarray) -> np.ndarray:
    middle = diagonal_or_matrix
    if middle.ndim == 1:
        return np.ascontiguousarray((basis * middle) @ basis.T)
    return np.ascontiguousarray(basis @ middle @ basis.T)


def spd(d: int, cond: float, seed: Seed = None) -> np.ndarray:
    """A symmetric positive definite Φ with condition number exactly ``cond`` (Theorem 2).

    Φ = Q diag(λ) Qᵀ with Q Haar-random and the eigenvalues log-spaced from cond^{−1/2} to
    cond^{1/2} (geometric mean 1, λ_max/λ_min = cond). For d = 1, ``cond`` must be 1.
    """
    d = check_int(d, "d", 1)
    cond = check_real(cond, "cond")
    if cond < 1:
        raise ValueError(f"cond must be >= 1, got {cond}")
    if d == 1 and cond != 1:
        raise ValueError(
            f"cond must be 1 for d = 1 (a 1×1 matrix has condition number 1), got {cond}"
        )
    eigenvalues = np.logspace(-0.5, 0.5, d, base=cond) if d > 1 else np.ones(1)
    return _conjugate(_haar_orthogonal(d, _rng(seed)), eigenvalues)


def near_identity(d: int, excess_loss: float, seed: Seed = None) -> np.ndarray:
    """Φ = I + E with a random Gaussian direction E scaled so that ℓ(I) = ½‖Φ − I‖_F² equals
    ``excess_loss`` exactly (Theorem 1: targets whose identity excess loss is small).
    Generally asymmetric."""
    d = check_int(d, "d", 1)
    excess_loss = check_nonnegative(excess_loss, "excess_loss")
    direction = _rng(seed).standard_normal((d, d))
    direction *= np.sqrt(2.0 * excess_loss) / np.linalg.norm(direction)
    return np.ascontiguousarray(np.eye(d) + direction)


def rotation(d: int, angle: float, seed: Seed = None) -> np.ndarray:
    """An orthogonal Φ = Q B Qᵀ rotating by ``angle`` radians in ⌊d/2⌋ random orthogonal planes
    (B block-diagonal with 2×2 rotations; a 1 for odd d). Eigenvalues e^{±i·angle}; positivity
    margin cos(angle) (min(cos angle, 1) for odd d), so an acute rotation (|angle| < π/2) is
    γ-positive for every γ < cos(angle) (Sec. 5). Requires d ≥ 2."""
    d = check_int(d, "d", 2)
    angle = check_real(angle, "angle")
    block = np.eye(d)
    c, s = np.cos(angle), np.sin(angle)
    for k in range(0, d - 1, 2):
        block[k : k + 2, k : k + 2] = [[c, -s], [s, c]]
    return _conjugate(_haar_orthogonal(d, _rng(seed)), block)


def partial_reflection(d: int, a: float, b: float, seed: Seed = None) -> np.ndarray:
    """Φ = a·I + b·H, H = I − 2vvᵀ a reflection through a random hyperplane: x ↦ a·x + b·refl(x)
    (Sec. 5). Eigenvalues a + b (d − 1 times) and a − b, so the margin is a − |b| for d ≥ 2 (a − b
    for d = 1). Requires 0 ≤ |b| < a, so Φ is γ-positive for γ < a − |b|."""
    d = check_int(d, "d", 1)
    a = check_real(a, "a")
    b = check_real(b, "b")
    if not abs(b) < a:
        raise ValueError(f"a and b must satisfy 0 <= |b| < a, got a={a}, b={b}")
    v = _rng(seed).standard_normal(d)
    v /= np.linalg.norm(v)
    return np.ascontiguousarray(a * np.eye(d) + b * (np.eye(d) - 2.0 * np.outer(v, v)))


def gamma_positive(d: int, gamma: float, seed: Seed = None) -> np.ndarray:
    """A random asymmetric Φ = S + K with positivity margin exactly 2γ (so γ-positive; Theorem 3).

    S = Q diag(s) Qᵀ with s uniform in [2γ, 2γ + 1] and its smallest entry set to 2γ; K a random
    skew-symmetric matrix with ‖K‖_F = 1 (zero for d = 1)."""
    d = check_int(d, "d", 1)
    gamma = check_positive(gamma, "gamma")
    rng = _rng(seed)
    spectrum = 2.0 * gamma + rng.uniform(0.0, 1.0, d)
    spectrum[np.argmin(spectrum)] = 2.0 * gamma
    symmetric = _conjugate(_haar_orthogonal(d, rng), spectrum)
    skew = rng.standard_normal((d, d))
    skew = skew - skew.T
    if d > 1:
        skew /= np.linalg.norm(skew)
    return np.ascontiguousarray(symmetric + skew)


def negative_eigenvalue(d: int, lam: float, count: int = 1, seed: Seed = None) -> np.ndarray:
    """A symmetric Φ = U diag(−lam (``count`` times), 1, …, 1) Uᵀ with U Haar-random.

    Theorems 4–5: from the identity, gradient descent, penalty GD and step-and-project keep
    ℓ ≥ lam²/2 per negative eigenvalue forever. ``count = 2`` gives det Φ > 0 (Sec. 6)."""
    d = check_int(d, "d", 1)
    lam = check_positive(lam, "lam")
    count = check_int(count, "count", 1)
    if count > d:
        raise ValueError(f"count must be <= d = {d}, got {count}")
    spectrum = np.ones(d)
    spectrum[:count] = -lam
    return _conjugate(_haar_orthogonal(d, _rng(seed)), spectrum)


FAMILIES: dict[str, Callable[..., np.ndarray]] = {
    "spd": spd,
    "near_identity": near_identity,
    "rotation": rotation,
    "partial_reflection": partial_reflection,
    "gamma_positive": gamma_positive,
    "negative_eigenvalue": negative_eigenvalue,
}
