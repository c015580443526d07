"""The paper's step sizes and bounds (Theorems 1–3, Lemmas 2–3) and per-state diagnostics.

Norms: ‖·‖₂ is the spectral norm, ‖·‖_F the Frobenius norm. ``phi`` is the (d, d) target Φ and
``depth`` the number of layers L. Bounds whose constants the paper leaves unspecified ("an
absolute constant") are given with the constant 1 and say so: they are shapes to compare
growth rates against, not guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._validation import as_layers, as_square, check_depth, check_nonnegative, check_positive

__all__ = [
    "Theorem1Conditions",
    "diagnostics",
    "identity_excess_loss",
    "lemma2_corrected_lower_bound",
    "lemma2_lower_bound",
    "lemma3_hessian_bound",
    "theorem1_conditions",
    "theorem1_loss_bound",
    "theorem1_lr",
    "theorem2_lr",
    "theorem2_steps",
    "theorem3_lr",
    "theorem3_rate",
]


def _spectral_norm(phi: np.ndarray) -> float:
    return float(np.linalg.norm(phi, 2))


def _check_c(c: object) -> float:
    c = check_positive(c, "c")
    if c < 1:
        raise ValueError(f"c must be >= 1, got {c}")
    return c


def identity_excess_loss(phi: ArrayLike) -> float:
    """ℓ(I) = ½‖I − Φ‖_F²: the loss of the identity initialization (Sec. 3)."""
    phi = as_square(phi, "phi")
    return 0.5 * float(np.sum((np.eye(phi.shape[0]) - phi) ** 2))


def theorem1_lr(phi: ArrayLike, depth: int, c: float) -> float:
    """Theorem 1's step size η = 1 / (3 L d⁵ max{c⁴, ‖Φ‖₂²}) for a chosen c ≥ 1."""
    phi = as_square(phi, "phi")
    depth = check_depth(depth)
    c = _check_c(c)
    dim = phi.shape[0]
    return 1.0 / (3.0 * depth * dim**5 * max(c**4, _spectral_norm(phi) ** 2))


@dataclass(frozen=True)
class Theorem1Conditions:
    """Theorem 1's hypotheses for a chosen c ≥ 1 and what it then guarantees.

    Hypotheses: L ≥ (4/3) ln c and ℓ(I) ≤ ln(c)² / (8 c¹⁰). Then, with η = ``lr``,
    ℓ(t) ≤ exp(−``rate``·t) ℓ(0) with rate = 2ηL/c⁴, and R(t) = max_{s≤t,i} ‖Θ_i − I‖₂ ≤
    ``radius_bound`` = ln(c)/L.
    """

    c: float
    depth: int
    depth_threshold: float
    loss0: float
    loss_threshold: float
    lr: float
    rate: float
    radius_bound: float

    @property
    def depth_ok(self) -> bool:
        return self.depth >= self.depth_threshold

    @property
    def loss_ok(self) -> bool:
        return self.loss0 <= self.loss_threshold

    @property
    def holds(self) -> bool:
        return self.depth_ok and self.loss_ok


def theorem1_conditions(phi: ArrayLike, depth: int, c: float) -> Theorem1Conditions:
    """Check Theorem 1's hypotheses for Φ, L and c ≥ 1 (Sec. 3.2, constants from its proof)."""
    phi = as_square(phi, "phi")
    depth = check_depth(depth)
    c = _check_c(c)
    lr = theorem1_lr(phi, depth, c)
    return Theorem1Conditions(
        c=c,
        depth=depth,
        depth_threshold=float((4.0 / 3.0) * np.log(c)),
        loss0=identity_excess_loss(phi),
        loss_threshold=float(np.log(c) ** 2 / (8.0 * c**10)),
        lr=lr,
        rate=2.0 * lr * depth / c**4,
        radius_bound=float(np.log(c) / depth),
    )


def theorem1_loss_bound(
    loss0: float, steps: ArrayLike, lr: float, depth: int, c: float
) -> np.ndarray | float:
    """Theorem 1's guarantee ℓ(t) ≤ exp(−2tηL/c⁴) ℓ(0), vectorised over ``steps``."""
    loss0 = check_nonnegative(loss0, "loss0")
    lr = check_positive(lr, "lr")
    depth = check_depth(depth)
    c = _check_c(c)
    t = np.asarray(steps, dtype=float)
    if np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError("steps must be finite and >= 0")
    bound = np.exp(-2.0 * t * lr * depth / c**4) * loss0
    return float(bound) if bound.ndim == 0 else bound


def theorem2_lr(phi: ArrayLike, depth: int) -> float:
    """Theorem 2's step size η = 1 / (L (1 + ‖Φ‖₂²)) (Sec. 4)."""
    phi = as_square(phi, "phi")
    depth = check_depth(depth)
    return 1.0 / (depth * (1.0 + _spectral_norm(phi) ** 2))


def theorem2_steps(phi: ArrayLike, depth: int, lr: float, gamma: float, eps: float) -> float:
    """The shape of Theorem 2's iteration bound (proof of Theorem 2, Sec. 4.1), constant 1:

        (1 / (η L γ²)) · ln(d L ln(Γ/γ) / (γ ε)),   Γ = max{1, ‖Φ‖₂}.

    The proof's initial gap between the layers' eigenvalues and their limits is
    c₄ ln(Γ/γ)/L, which we use inside the logarithm (it stays positive for 0 < γ < 1 where
    the paper's ln Γ vanishes at Γ = 1). Returns at least 0.
    """
    phi = as_square(phi, "phi")
    depth = check_depth(depth)
    lr = check_positive(lr, "lr")
    gamma = check_positive(gamma, "gamma")
    eps = check_positive(eps, "eps")
    big_gamma = max(1.0, _spectral_norm(phi))
    inner = phi.shape[0] * depth * np.log(big_gamma / gamma) / (gamma * eps)
    if inner <= 1.0:
        return 0.0
    return float(np.log(inner) / (lr * depth * gamma**2))


def theorem3_lr(phi: ArrayLike, depth: int, c: float = 1.0) -> float:
    """Theorem 3's step size η = 1 / (c L d⁵ ‖Φ‖_F²) for power projection (Sec. 5.3)."""
    phi = as_square(phi, "phi")
    depth = check_depth(depth)
    c = _check_c(c)
    norm = float(np.linalg.norm(phi))
    if norm == 0:
        raise ValueError("phi must be nonzero")
    return 1.0 / (c * depth * phi.shape[0] ** 5 * norm**2)


def theorem3_rate(phi: ArrayLike, gamma: float, c: float = 1.0) -> float:
    """Theorem 3's per-step contraction ℓ(t+1) ≤ (1 − γ²/(c d⁵ ‖Φ‖_F²)) ℓ(t) at η = theorem3_lr."""
    phi = as_square(phi, "phi")
    gamma = check_positive(gamma, "gamma")
    c = _check_c(c)
    norm = float(np.linalg.norm(phi))
    if norm == 0:
        raise ValueError("phi must be nonzero")
    return 1.0 - gamma**2 / (c * phi.shape[0] ** 5 * norm**2)


def _check_a(a: object) -> float:
    a = check_nonnegative(a, "a")
    if a >= 1:
        raise ValueError(f"a must be < 1 (σ_min(Θ_i) ≥ 1 − a > 0), got {a}")
    return a


def lemma2_lower_bound(loss: float, depth: int, a: float) -> float:
    """Lemma 2 exactly as the paper states it: ‖∇ℓ‖² ≥ 4 ℓ L (1 − a)^{2L} when σ_min(Θ_i) ≥ 1 − a.

    Warning: with the paper's ℓ = ½‖Θ_{1:L} − Φ‖_F² this statement is off by a factor 2 (it is
    Hardt & Ma's bound for the loss without the ½): L = 1, Θ = I, Φ = 0 gives ‖∇ℓ‖² = d < 2d.
    ``lemma2_corrected_lower_bound`` is the bound that holds.
    """
    loss = check_nonnegative(loss, "loss")
    depth = check_depth(depth)
    a = _check_a(a)
    return 4.0 * loss * depth * (1.0 - a) ** (2 * depth)


def lemma2_corrected_lower_bound(loss: float, depth: int, a: float) -> float:
    """‖∇ℓ‖² ≥ 2 ℓ L (1 − a)^{2(L−1)} when σ_min(Θ_i) ≥ 1 − a for all i (Lemma 2, corrected).

    Each G_i = Θ_{i+1:L}ᵀ E Θ_{1:i−1}ᵀ is E = Θ_{1:L} − Φ between products of L − 1 layers, so
    ‖G_i‖_F ≥ (1 − a)^{L−1} ‖E‖_F; summing over the L layers with ‖E‖_F² = 2ℓ gives the bound.
    It implies the paper's form with 2 in place of 4 and (1 − a)^{2L} ≤ (1 − a)^{2(L−1)}.
    """
    loss = check_nonnegative(loss, "loss")
    depth = check_depth(depth)
    a = _check_a(a)
    return 2.0 * loss * depth * (1.0 - a) ** (2 * (depth - 1))


def lemma3_hessian_bound(depth: int, d: int, z: float) -> float:
    """Lemma 3: ‖∇²ℓ‖_F ≤ 3 L d⁵ (1 + z)^{2L} when ‖Θ_i‖₂ ≤ 1 + z and ‖Φ‖₂ ≤ (1 + z)^L."""
    depth = check_depth(depth)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    z = check_nonnegative(z, "z")
    return 3.0 * depth * float(d) ** 5 * (1.0 + z) ** (2 * depth)


def diagnostics(layers: ArrayLike, phi: ArrayLike) -> dict[str, float]:
    """Diagnostics of one state (computed in C++, as recorded by ``train(..., diagnostics=True)``):

    ``loss`` ℓ; ``radius`` maxᵢ‖Θ_i − I‖₂ (Theorem 1's R before the max over time);
    ``min_singular`` / ``max_singular`` minᵢ σ_min(Θ_i) and maxᵢ σ_max(Θ_i) (1 − a of Lemma 2,
    1 + z of Lemma 3); ``grad_norm`` ‖∇ℓ‖; ``lemma2_ratio`` ‖∇ℓ‖² / (4ℓLσ_min^{2L}) (the paper's
    statement, can be as low as ½); ``lemma2_corrected_ratio`` ‖∇ℓ‖² / (2ℓLσ_min^{2(L−1)})
    (≥ 1 always); ``margin`` λ_min of the symmetric part of Θ_{1:L}; ``balancedness``
    maxᵢ‖Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ‖_F. The ratios are NaN when ℓ = 0.
    """
    layers_array = as_layers(layers, "layers", np.dtype(np.float64))
    phi_array = as_square(phi, "phi", np.dtype(np.float64))
    if phi_array.shape[0] != layers_array.shape[1]:
        raise ValueError(
            f"phi must have shape {layers_array.shape[1:]} to match layers, got {phi_array.shape}"
        )
    values = _core.diagnostics(layers_array, phi_array)
    return {name: float(value) for name, value in zip(_core.diagnostic_names, values)}
