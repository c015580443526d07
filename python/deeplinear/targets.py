"""Seeded generators of target matrices Φ, each with the property the paper's analysis needs.

Every generator returns a new C-contiguous (d, d) float64 array. ``seed`` is None (fresh
entropy), a non-negative int, or a ``numpy.random.Generator`` (used, and advanced, in place), so
the same seed always gives the same Φ. Random orthogonal matrices are Haar-distributed, and the
symmetric families are exactly symmetric (Φ == Φᵀ bit for bit). Bad arguments raise TypeError
(wrong type) or ValueError (out of range, or so large that Φ would overflow float64) with a
message that names the argument; a returned Φ is always finite.

``FAMILIES`` maps each family's name to its generator, for the CLI and sweeps.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from ._validation import check_int, check_nonnegative, check_positive, check_real

__all__ = [
    "FAMILIES",
    "RESOLUTION",
    "gamma_positive",
    "near_identity",
    "negative_eigenvalue",
    "partial_reflection",
    "rotation",
    "spd",
]

Seed = int | np.random.Generator | None


def _rng(seed: Seed) -> np.random.Generator:
    """``np.random.default_rng(seed)``, once ``seed`` is known to be a kind we accept."""
    if seed is not None and not isinstance(seed, np.random.Generator):
        if not isinstance(seed, numbers.Integral):
            raise TypeError(
                f"seed must be None, an int or a numpy.random.Generator, got {type(seed).__name__}"
            )
        seed = check_int(seed, "seed", 0, maximum=None)
    return np.random.default_rng(seed)


def _haar_orthogonal(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random (dim, dim) orthogonal matrix.

    Q from the QR of a standard Gaussian matrix, with each column multiplied by the sign of R's
    diagonal entry: without that fix, Q depends on LAPACK's sign convention and is not Haar.
    """
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _symmetric_from_spectrum(eigenvalues: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """U diag(eigenvalues) Uᵀ with U Haar-random, symmetrized so that it equals its transpose
    (infinite entries where that overflows: see ``_finite``)."""
    basis = _haar_orthogonal(eigenvalues.size, rng)
    with np.errstate(over="ignore", invalid="ignore"):
        product = (basis * eigenvalues) @ basis.T
        return np.ascontiguousarray(0.5 * (product + product.T))


RESOLUTION = 400.0 * float(np.finfo(np.float64).eps)
"""A part of Φ smaller than ``RESOLUTION · d`` times its largest is lost to the rounding of
Φ's construction (products and sums of d terms, a Haar basis orthogonal to rounding): the
generators refuse parameters that ask for one, since the property they promise (a smallest
eigenvalue, a margin, a skew part) would not hold in float64. At the limit the rounding is
about 1/400 of that part."""


def _resolved(small: float, large: float, d: int) -> bool:
    """Whether a part of size ``small`` survives beside one of size ``large`` in Φ (d × d)."""
    return small >= RESOLUTION * d * large


def _finite(phi: np.ndarray, **scales: float) -> np.ndarray:
    """Φ, or ValueError naming the parameters that set its scale when it overflowed float64."""
    if not np.isfinite(phi).all():
        named = " and ".join(f"{name} = {value:g}" for name, value in scales.items())
        raise ValueError(f"{named} is too large: Φ overflows float64")
    return phi


def spd(d: int, cond: float, seed: Seed = None) -> np.ndarray:
    """A symmetric positive definite Φ with condition number ``cond`` (Sec. 3, Theorem 2).

    Φ = Q diag(λ) Qᵀ with Q Haar-random orthogonal and λ_k = cond^{(k−1)/(d−1) − 1/2},
    k = 1..d: eigenvalues log-spaced from cond^{−1/2} to cond^{1/2} inclusive, so their
    geometric mean is 1 (det Φ = 1) and λ_max/λ_min = cond.

    Raises TypeError if d is not an integer or cond not a real number; ValueError if d < 1,
    cond is not finite or < 1, d = 1 with cond ≠ 1 (a 1×1 matrix has condition number 1), or
    cond > 1/(d·RESOLUTION) (about 1.1e13/d), where rounding would swamp λ_min (from about
    1/ε, Φ is not even positive definite).
    """
    d = check_int(d, "d", 1)
    cond = check_real(cond, "cond")
    if cond < 1:
        raise ValueError(f"cond must be >= 1, got {cond}")
    if d == 1 and cond != 1:
        raise ValueError(
            f"cond must be 1 when d = 1 (a 1×1 matrix has condition number 1), got {cond}"
        )
    if not _resolved(1.0, 1.0, d):  # (d beyond 1/RESOLUTION ≈ 1.1e13: no cond is resolved)
        raise ValueError(f"d = {d} is too large: rounding would swamp any spectrum in float64")
    if not _resolved(1.0, cond, d):
        raise ValueError(
            f"cond = {cond:g} is too large for float64 at d = {d}: rounding would swamp the "
            f"smallest eigenvalue (cond must be <= {1.0 / (RESOLUTION * d):.3g})"
        )
    exponents = np.linspace(-0.5, 0.5, d) if d > 1 else np.zeros(1)
    return _symmetric_from_spectrum(cond**exponents, _rng(seed))


def near_identity(d: int, excess_loss: float, seed: Seed = None) -> np.ndarray:
    """Φ = I + E near the identity, with identity excess loss ``excess_loss`` (Theorem 1).

    E is a standard Gaussian d×d matrix rescaled to ‖E‖_F = √(2·excess_loss), so that the loss
    of the identity initialization, ℓ(I) = ½‖I − Φ‖_F², equals ``excess_loss``. Φ is generally
    asymmetric; ``excess_loss = 0`` gives Φ = I.

    Raises TypeError if d is not an integer or excess_loss not a real number; ValueError if
    d < 1, excess_loss is not finite or < 0, or 0 < excess_loss with ‖E‖_F below
    d·RESOLUTION (E would be lost to rounding beside I).
    """
    d = check_int(d, "d", 1)
    excess_loss = check_nonnegative(excess_loss, "excess_loss")
    if excess_loss > 0 and not _resolved(np.sqrt(2.0) * np.sqrt(excess_loss), 1.0, d):
        raise ValueError(
            f"excess_loss = {excess_loss:g} is too small for float64 at d = {d}: I + E would "
            f"round E away (excess_loss must be 0 or >= {0.5 * (RESOLUTION * d) ** 2:.3g})"
        )
    direction = _rng(seed).standard_normal((d, d))
    size = np.sqrt(2.0 * excess_loss)
    if not np.isfinite(size):  # 2·excess_loss overflows; its root does not
        size = np.sqrt(2.0) * np.sqrt(excess_loss)
    direction *= size / np.linalg.norm(direction)
    return np.ascontiguousarray(np.eye(d) + direction)


def rotation(d: int, angle: float, seed: Seed = None) -> np.ndarray:
    """A rotation by ``angle`` radians in ⌊d/2⌋ random orthogonal planes (Sec. 5).

    Φ = Q B Qᵀ with Q Haar-random orthogonal and B block-diagonal: ⌊d/2⌋ blocks
    [[cos θ, −sin θ], [sin θ, cos θ]] with θ = ``angle``, and a 1 last when d is odd. Φ is
    orthogonal with det Φ = 1 and eigenvalues e^{±iθ} (plus 1 for odd d). Its positivity margin
    λ_min((Φ + Φᵀ)/2) is cos θ (min(cos θ, 1) = cos θ for odd d), so an acute rotation
    (|θ| < π/2) is γ-positive for every γ < cos θ.

    Raises TypeError if d is not an integer or angle not a real number; ValueError if d < 2 or
    angle is not finite.
    """
    d = check_int(d, "d", 2)
    angle = check_real(angle, "angle")
    cos, sin = np.cos(angle), np.sin(angle)
    blocks = np.eye(d)
    for k in range(0, d - 1, 2):
        blocks[k : k + 2, k : k + 2] = [[cos, -sin], [sin, cos]]
    basis = _haar_orthogonal(d, _rng(seed))
    return np.ascontiguousarray(basis @ blocks @ basis.T)


def partial_reflection(d: int, a: float, b: float, seed: Seed = None) -> np.ndarray:
    """A partial reflection x ↦ a·x + b·refl(x) (Sec. 5).

    Φ = a·I + b·H with H = I − 2vvᵀ the reflection through the hyperplane orthogonal to a
    random unit vector v. Φ is symmetric with eigenvalues a + b (d − 1 times, on v's orthogonal
    complement) and a − b (on v), so its positivity margin is a − |b| (a − b when d = 1). With
    0 ≤ |b| < a it is γ-positive for every γ < a − |b|.

    Raises TypeError if d is not an integer or a, b not real numbers; ValueError if d < 1, a or
    b is not finite, a ≤ 0, or |b| ≥ a.
    """
    d = check_int(d, "d", 1)
    a = check_positive(a, "a")
    b = check_real(b, "b")
    if abs(b) >= a:
        raise ValueError(f"b must satisfy |b| < a = {a}, got {b}")
    normal = _rng(seed).standard_normal(d)
    normal /= np.linalg.norm(normal)
    reflection = np.eye(d) - 2.0 * np.outer(normal, normal)
    with np.errstate(over="ignore"):
        return _finite(np.ascontiguousarray(a * np.eye(d) + b * reflection), a=a, b=b)


def gamma_positive(d: int, gamma: float, seed: Seed = None) -> np.ndarray:
    """A random asymmetric γ-positive Φ = S + K with positivity margin exactly 2γ (Theorem 3).

    S = Q diag(s) Qᵀ with Q Haar-random orthogonal and s uniform in [2γ, 2γ + 1], its smallest
    entry then set to exactly 2γ; K is a random skew-symmetric matrix with ‖K‖_F = 1 (K = 0
    when d = 1). The symmetric part of Φ is S, so λ_min((Φ + Φᵀ)/2) = 2γ > γ: uᵀΦu ≥ 2γ for
    every unit u. For d ≥ 2, Φ − Φᵀ = 2K, so ‖Φ − Φᵀ‖_F = 2.

    Raises TypeError if d is not an integer or gamma not a real number; ValueError if d < 1,
    gamma is not finite or ≤ 0, or so small or large that rounding would swamp the margin 2γ
    beside the entries (γ below about d·RESOLUTION) or the skew part beside 2γ + 1 (γ above
    about 1/(2·d·RESOLUTION)).
    """
    d = check_int(d, "d", 1)
    gamma = check_positive(gamma, "gamma")
    if not np.isfinite(2.0 * gamma + 1.0):
        raise ValueError(f"gamma = {gamma:g} is too large: 2γ + 1 overflows float64")
    if not _resolved(2.0 * gamma, 2.0 * gamma + 2.0, d):
        raise ValueError(
            f"gamma = {gamma:g} is too small for float64 at d = {d}: rounding would swamp the "
            "margin 2γ"
        )
    if d > 1 and not _resolved(1.0, 2.0 * gamma + 1.0, d):
        raise ValueError(
            f"gamma = {gamma:g} is too large for float64 at d = {d}: rounding would swamp the "
            "skew part"
        )
    rng = _rng(seed)
    spectrum = rng.uniform(2.0 * gamma, 2.0 * gamma + 1.0, d)
    spectrum[np.argmin(spectrum)] = 2.0 * gamma
    symmetric = _symmetric_from_spectrum(spectrum, rng)
    gaussian = rng.standard_normal((d, d))
    skew = gaussian - gaussian.T
    if d > 1:
        skew /= np.linalg.norm(skew)
    with np.errstate(over="ignore"):
        return _finite(np.ascontiguousarray(symmetric + skew), gamma=gamma)


def negative_eigenvalue(d: int, lam: float, count: int = 1, seed: Seed = None) -> np.ndarray:
    """A symmetric Φ with ``count`` eigenvalues −lam and the rest 1 (Sec. 6, Theorems 4–5).

    Φ = U diag(−lam, …, −lam, 1, …, 1) Uᵀ (−lam ``count`` times) with U Haar-random orthogonal.
    From the identity, penalty GD (L even) and step-and-project (L even or ψ ≤ 1) keep the loss
    ℓ ≥ lam²/2 forever; ℓ(I) = ½(1 + lam)²·count. det Φ = (−lam)^count, so ``count = 2`` gives
    a well-conditioned Φ with positive determinant that identity initialization still cannot learn.

    Raises TypeError if d or count is not an integer or lam not a real number; ValueError if
    d < 1, lam is not finite or ≤ 0, count is outside 1..d, or lam and 1 so far apart that
    rounding would swamp the smaller (min(lam, 1) < d·RESOLUTION·max(lam, 1); with d = count
    there is no eigenvalue 1).
    """
    d = check_int(d, "d", 1)
    lam = check_positive(lam, "lam")
    count = check_int(count, "count", 1)
    if count > d:
        raise ValueError(f"count must be <= d = {d}, got {count}")
    if count < d and np.isfinite(lam) and not _resolved(min(lam, 1.0), max(lam, 1.0), d):
        raise ValueError(
            f"lam = {lam:g} is too {'small' if lam < 1 else 'large'} for float64 at d = {d}: "
            "rounding would swamp the eigenvalues of the smaller size"
        )
    spectrum = np.ones(d)
    spectrum[:count] = -lam
    return _finite(_symmetric_from_spectrum(spectrum, _rng(seed)), lam=lam)


FAMILIES: dict[str, Callable[..., np.ndarray]] = {
    "spd": spd,
    "near_identity": near_identity,
    "rotation": rotation,
    "partial_reflection": partial_reflection,
    "gamma_positive": gamma_positive,
    "negative_eigenvalue": negative_eigenvalue,
}
