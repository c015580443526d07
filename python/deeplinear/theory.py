"""The paper's step sizes and bounds (Theorems 1–3, Lemmas 2–3) and per-state diagnostics.

Norms: ‖·‖₂ is the spectral norm, ‖·‖_F the Frobenius norm. ``phi`` is the (d, d) target Φ and
``depth`` the number of layers L; ℓ = ½‖Θ_{1:L} − Φ‖_F² (Sec. 2.1). Every function here is a
formula in plain numpy (float64, whatever the input dtype) and returns Python floats, except
``diagnostics``, which reads one state through the compiled core. Bounds whose constants the
paper leaves unspecified ("an absolute constant", O(·)) are given with the constant 1 and say
so: they are shapes to compare growth rates against, not guarantees.

Arguments are validated once, here: a wrong type raises TypeError and a wrong value ValueError,
each naming the argument. Valid arguments never raise: where a quantity passes float64's range
the result is its limit (a bound of ``inf``, a step size of 0.0), without a warning.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from ._validation import (
    as_float_array,
    as_layers,
    as_square,
    check_depth,
    check_int,
    check_nonnegative,
    check_positive,
    check_real,
    power_of_two_at,
)

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
    "theorem3_corrected_rate",
    "theorem3_lr",
    "theorem3_rate",
]

_FLOAT64 = np.dtype(np.float64)


def _phi(phi: ArrayLike) -> np.ndarray:
    return as_square(phi, "phi", _FLOAT64)


def _power(base: float, exponent: float) -> float:
    """base**exponent for base >= 0, inf where it overflows (Python floats raise there)."""
    try:
        return float(base) ** exponent
    except OverflowError:
        return math.inf


def _product(*factors: float, base: float = 1.0, exponent: float = 0.0) -> float:
    """factors[0]·factors[1]···base^exponent for factors, base >= 0, without an intermediate
    overflow or underflow: in order where that gives a normal float, else from the sum of the
    logarithms (inf or 0 only where the product itself leaves float64's range)."""
    if 0.0 in factors or (base == 0.0 and exponent > 0):
        return 0.0
    direct = math.prod(factors) * _power(base, exponent)
    if direct != direct or direct == math.inf or direct < sys.float_info.min:
        logarithm = math.fsum(math.log(f) for f in factors) + exponent * math.log(base)
        try:
            return math.exp(logarithm)
        except OverflowError:
            return math.inf
    return direct


def _spectral_norm(phi: np.ndarray) -> float:
    return float(np.linalg.norm(phi, 2))


def _nonzero_frobenius_norm(phi: np.ndarray) -> float:
    """‖Φ‖_F > 0, without the overflow or underflow of squaring entries near float64's ends."""
    largest = float(np.abs(phi).max())
    if largest == 0:
        raise ValueError("phi must be nonzero (Theorem 3 needs a γ-positive Φ, so ‖Φ‖_F > 0)")
    if 1e-150 < largest < 1e150:
        return float(np.linalg.norm(phi))
    return largest * float(np.linalg.norm(phi / largest))


def _check_c(c: object) -> float:
    c = check_real(c, "c")
    if c < 1:
        raise ValueError(f"c must be >= 1, got {c}")
    return c


def _check_a(a: object) -> float:
    a = check_nonnegative(a, "a")
    if a >= 1:
        raise ValueError(f"a must be < 1 (σ_min(Θ_i) ≥ 1 − a > 0), got {a}")
    return a


def identity_excess_loss(phi: ArrayLike) -> float:
    """ℓ(I) = ½‖I − Φ‖_F²: the loss of the identity initialization Θ_i = I (Sec. 3).

    Raises ValueError if ``phi`` is not a finite square matrix.
    """
    phi = _phi(phi)
    excess = np.eye(phi.shape[0]) - phi
    with np.errstate(over="ignore"):  # beyond float64: inf
        largest = float(np.abs(excess).max())
        if not 0.0 < largest < math.inf:
            return 0.5 * float(np.sum(excess**2))
        scale = power_of_two_at(largest)  # exact scaling
        # ½‖E‖² = ½‖E/s‖²·s·s, whose squares neither overflow nor underflow where ℓ(I) does not
        return _product(0.5 * float(np.sum((excess / scale) ** 2)), scale, scale)


def theorem1_lr(phi: ArrayLike, depth: int, c: float) -> float:
    """Theorem 1's step size η = 1 / (3 L d⁵ max{c⁴, ‖Φ‖₂²}) for a chosen c ≥ 1.

    The largest η the proof of Theorem 1 (Sec. 3.2) allows: it makes (3) hold while
    R(t) ≤ ln(c)/L. Raises ValueError if ``depth`` < 1 or ``c`` < 1.
    """
    phi = _phi(phi)
    depth = check_depth(depth)
    c = _check_c(c)
    dim = phi.shape[0]
    return 1.0 / (3.0 * depth * dim**5 * max(_power(c, 4), _power(_spectral_norm(phi), 2)))


@dataclass(frozen=True)
class Theorem1Conditions:
    """Theorem 1's hypotheses for a chosen c ≥ 1, and what the theorem then guarantees.

    Hypotheses (proof of Theorem 1, Sec. 3.2): ``depth`` L ≥ ``depth_threshold`` = (4/3) ln c
    (``depth_ok``) and ``loss0`` = ℓ(I) = ½‖I − Φ‖_F² ≤ ``loss_threshold`` = ln(c)² / (8 c¹⁰)
    (``loss_ok``); ``holds`` is both. Then, with η = ``lr`` = 1 / (3 L d⁵ max{c⁴, ‖Φ‖₂²}),
    ℓ(t) ≤ exp(−rate·t) ℓ(0) with ``rate`` = 2ηL/c⁴, and R(t) = max_{s≤t,i} ‖Θ_i − I‖₂ ≤
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
    depth_ok: bool = field(init=False)
    loss_ok: bool = field(init=False)
    holds: bool = field(init=False)

    def __post_init__(self) -> None:
        depth_ok = self.depth >= self.depth_threshold
        loss_ok = self.loss0 <= self.loss_threshold
        object.__setattr__(self, "depth_ok", depth_ok)
        object.__setattr__(self, "loss_ok", loss_ok)
        object.__setattr__(self, "holds", depth_ok and loss_ok)


def _theorem1_rate(lr: float, depth: int, c: float) -> float:
    """2ηL/c⁴ (NaN-free: inf/inf is divided in another order)."""
    rate = 2.0 * lr * depth / _power(c, 4)
    return rate if rate == rate else 2.0 * (lr / _power(c, 4)) * depth


def theorem1_conditions(phi: ArrayLike, depth: int, c: float) -> Theorem1Conditions:
    """Check Theorem 1's hypotheses for Φ, L and c ≥ 1 (constants from its proof, Sec. 3.2).

    L ≥ (4/3) ln c and ℓ(I) = ½‖I − Φ‖_F² ≤ ln(c)² / (8 c¹⁰); reported with the step size
    η = 1 / (3 L d⁵ max{c⁴, ‖Φ‖₂²}), the rate 2ηL/c⁴ and the radius bound ln(c)/L
    (see ``Theorem1Conditions``). The loss threshold is largest, e^{−2}/200 ≈ 6.8e-4, at
    c = e^{1/5}. Raises ValueError if ``depth`` < 1 or ``c`` < 1.
    """
    phi = _phi(phi)
    depth = check_depth(depth)
    c = _check_c(c)
    lr = theorem1_lr(phi, depth, c)
    log_c = float(np.log(c))
    return Theorem1Conditions(
        c=c,
        depth=depth,
        depth_threshold=4.0 * log_c / 3.0,
        loss0=identity_excess_loss(phi),
        loss_threshold=log_c**2 / (8.0 * _power(c, 10)),
        lr=lr,
        rate=_theorem1_rate(lr, depth, c),
        radius_bound=log_c / depth,
    )


def theorem1_loss_bound(
    loss0: float, steps: ArrayLike, lr: float, depth: int, c: float
) -> float | np.ndarray:
    """Theorem 1's guarantee ℓ(t) ≤ exp(−2tηL/c⁴) ℓ(0), vectorised over ``steps`` (t).

    Valid under ``theorem1_conditions`` with η ≤ ``theorem1_lr``. ``steps`` is an int
    (returns a float) or an array of step numbers (returns a float64 array of its shape).
    The factor 2 in the exponent comes from Lemma 2 as the paper states it; with the
    corrected Lemma 2 (``lemma2_corrected_lower_bound``) the same proof gives exp(−tηL/c⁴).
    Raises ValueError if ``loss0`` < 0, ``lr`` ≤ 0, ``depth`` < 1, ``c`` < 1, or a step is
    negative or not finite.
    """
    loss0 = check_nonnegative(loss0, "loss0")
    lr = check_positive(lr, "lr")
    depth = check_depth(depth)
    c = _check_c(c)
    t = as_float_array(steps, "steps", _FLOAT64)
    if np.any(t < 0):
        raise ValueError("steps must be >= 0")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        exponent = -2.0 * t * lr * depth / _power(c, 4)
        beyond = ~np.isfinite(exponent)  # t·η overflowed, or c⁴ (inf/inf): from logarithms
        if beyond.any():
            log_rate = math.log(2.0 * depth) + math.log(lr) - 4.0 * math.log(c)
            exponent = np.where(beyond, -np.exp(np.log(t) + log_rate), exponent)  # t = 0: −0
        bound = np.exp(exponent) * loss0
    # as_float_array returns at least 1-d; a scalar step number gives a scalar bound
    return float(bound[0]) if np.ndim(steps) == 0 else bound


def theorem2_lr(phi: ArrayLike, depth: int) -> float:
    """Theorem 2's step size η = 1 / (L (1 + ‖Φ‖₂²)) for symmetric positive definite Φ (Sec. 4).

    Raises ValueError if ``depth`` < 1 or ``phi`` is not a finite square matrix.
    """
    phi = _phi(phi)
    depth = check_depth(depth)
    return 1.0 / (depth * (1.0 + _power(_spectral_norm(phi), 2)))


def theorem2_steps(phi: ArrayLike, depth: int, lr: float, gamma: float, eps: float) -> float:
    """The shape of Theorem 2's iteration bound, with the O-constant taken as 1:

        (1 / (η L γ²)) · ln(d L ln(Γ/γ) / (γ ε)),   Γ = max{1, ‖Φ‖₂},   0 < γ < 1.

    The paper's statement (end of Sec. 4.1) has ln Γ where we write ln(Γ/γ): ln Γ vanishes
    for ‖Φ‖₂ ≤ 1 (then the logarithm is −∞), while the proof's starting gap is
    |1 − λ| ≤ c₄ ln(Γ/γ)/L, and ln(Γ/γ) ≥ ln Γ is positive for every 0 < γ < 1. This is a
    shape to compare growth against, not a guarantee. Returns 0.0 when the logarithm is ≤ 0.

    Theorem 2 assumes Φ symmetric with λ_min(Φ) ≥ γ and L ≥ c₃ ln(‖Φ‖₂/γ); this function
    does not check that. Raises ValueError if ``lr`` ≤ 0, ``eps`` ≤ 0, or ``gamma`` is not
    in (0, 1) (a Φ with λ_min ≥ 1 is γ-positive for every γ < 1: pass such a γ).
    """
    phi = _phi(phi)
    depth = check_depth(depth)
    lr = check_positive(lr, "lr")
    gamma = check_positive(gamma, "gamma")
    if gamma >= 1:
        raise ValueError(f"gamma must be < 1 (Theorem 2 assumes 0 < γ < 1), got {gamma}")
    eps = check_positive(eps, "eps")
    big_gamma = max(1.0, _spectral_norm(phi))
    scale = gamma * eps
    if scale == 0:  # underflowed: divide one factor at a time
        inner = phi.shape[0] * depth * float(np.log(big_gamma / gamma)) / gamma / eps
    else:
        inner = phi.shape[0] * depth * float(np.log(big_gamma / gamma)) / scale
    if inner <= 1.0:
        return 0.0
    rate = lr * depth * gamma**2
    if rate == 0:
        return float(np.log(inner)) / lr / depth / gamma / gamma
    return float(np.log(inner) / rate)


def theorem3_lr(phi: ArrayLike, depth: int, c: float = 1.0) -> float:
    """Theorem 3's step size η = 1 / (c L d⁵ ‖Φ‖_F²) for power projection (Sec. 5.3).

    The paper asks for "a large enough absolute constant c": its proof needs
    η ≤ 1 / (3 L d⁵ U^{2L}) (its (7)) with U^{2L} ≤ (1 + √2)² ‖Φ‖_F², so c ≥ 3(1 + √2)² ≈ 17.5
    is enough. Raises ValueError if ``depth`` < 1, ``c`` < 1 or Φ = 0.
    """
    phi = _phi(phi)
    depth = check_depth(depth)
    c = _check_c(c)
    norm = _nonzero_frobenius_norm(phi)
    scale = c * depth * phi.shape[0] ** 5 * _power(norm, 2)
    if 0 < scale < math.inf:
        return 1.0 / scale
    return 1.0 / c / depth / phi.shape[0] ** 5 / norm / norm  # past float64's range: its limit


def theorem3_rate(phi: ArrayLike, gamma: float, c: float = 1.0) -> float:
    """Theorem 3's per-step contraction factor 1 − γ² / (c d⁵ ‖Φ‖_F²) (Sec. 5.3).

    ℓ(t+1) ≤ (1 − ηLγ²) ℓ(t), which is this factor at η = ``theorem3_lr(phi, depth, c)``,
    for Φ with uᵀΦu > γ for all unit u (not checked here). Warning: the proof's (8) takes
    Lemma 2 as the paper states it, and is false for γ > 1 (Φ = [[6, 1], [−1, 6]], γ = 5, L = 2
    contracts by 0.99859 per step against this factor's 0.99648 at c = 3);
    ``theorem3_corrected_rate`` is the factor that holds. Raises ValueError if ``gamma`` ≤ 0,
    ``c`` < 1 or Φ = 0.
    """
    phi = _phi(phi)
    gamma = check_positive(gamma, "gamma")
    c = _check_c(c)
    norm = _nonzero_frobenius_norm(phi)
    scale = c * phi.shape[0] ** 5 * _power(norm, 2)
    if 0 < scale < math.inf:
        return 1.0 - _power(gamma, 2) / scale
    ratio = gamma / norm  # past float64's range: its limit
    return 1.0 - ratio * ratio / c / phi.shape[0] ** 5


def theorem3_corrected_rate(phi: ArrayLike, gamma: float, depth: int, c: float = 1.0) -> float:
    """Theorem 3's contraction factor from the corrected Lemma 2: 1 − γ^{2−2/L} / (c d⁵ ‖Φ‖_F²).

    One step with η ≤ 1/(3 L d⁵ max{U^{2L}, ‖Φ‖₂²}) (the proof's (7)) gives
    ℓ(t+1) ≤ ℓ(t) − (η/2)‖∇ℓ‖², and ``lemma2_corrected_lower_bound`` with σ_min(Θ_i) ≥ γ^{1/L}
    (Lemma 13) gives ‖∇ℓ‖² ≥ 2ℓLγ^{2−2/L}: ℓ(t+1) ≤ (1 − ηLγ^{2−2/L}) ℓ(t), this factor at
    η = ``theorem3_lr(phi, depth, c)``. It implies the paper's (1 − ηLγ²) for γ ≤ 1 only.
    Raises ValueError if ``gamma`` ≤ 0, ``depth`` < 1, ``c`` < 1 or Φ = 0.
    """
    phi = _phi(phi)
    gamma = check_positive(gamma, "gamma")
    depth = check_depth(depth)
    c = _check_c(c)
    norm = _nonzero_frobenius_norm(phi)
    # γ^{2−2/L} / ‖Φ‖_F² as (γ^{1−1/L} / ‖Φ‖_F)², from logarithms: neither power leaves
    # float64's range where the ratio does not
    ratio = math.exp((1.0 - 1.0 / depth) * math.log(gamma) - math.log(norm))
    return 1.0 - ratio * ratio / c / phi.shape[0] ** 5


def lemma2_lower_bound(loss: float, depth: int, a: float) -> float:
    """Lemma 2 (Hardt & Ma) as the paper states it: ‖∇ℓ‖² ≥ 4 ℓ L (1 − a)^{2L}.

    Hypothesis: σ_min(Θ_i) ≥ 1 − a for all layers, 0 ≤ a < 1. Warning: this holds for the
    loss ‖Θ_{1:L} − Φ‖_F² without the ½ (the form Sec. 5.3 uses), not for the paper's
    ℓ = ½‖Θ_{1:L} − Φ‖_F²: L = 1, Θ = I, Φ = 0 give ‖∇ℓ‖² = d < 2d = 4ℓL.
    ``lemma2_corrected_lower_bound`` is the bound that holds for ℓ. Raises ValueError if
    ``loss`` < 0, ``depth`` < 1 or ``a`` is not in [0, 1).
    """
    loss = check_nonnegative(loss, "loss")
    depth = check_depth(depth)
    a = _check_a(a)
    return _product(4.0 * depth, loss, base=1.0 - a, exponent=2 * depth)


def lemma2_corrected_lower_bound(loss: float, depth: int, a: float) -> float:
    """Lemma 2 for ℓ = ½‖Θ_{1:L} − Φ‖_F²: ‖∇ℓ‖² ≥ 2 ℓ L (1 − a)^{2(L−1)}.

    Hypothesis: σ_min(Θ_i) ≥ 1 − a for all layers, 0 ≤ a < 1. Each
    G_i = Θ_{i+1:L}ᵀ E Θ_{1:i−1}ᵀ puts E = Θ_{1:L} − Φ between products of L − 1 layers, so
    ‖G_i‖_F ≥ (1 − a)^{L−1} ‖E‖_F; summing over the L layers with ‖E‖_F² = 2ℓ gives the bound
    (tight at L = 1, Θ = I). Raises ValueError if ``loss`` < 0, ``depth`` < 1 or ``a`` is not
    in [0, 1).
    """
    loss = check_nonnegative(loss, "loss")
    depth = check_depth(depth)
    a = _check_a(a)
    return _product(2.0 * depth, loss, base=1.0 - a, exponent=2 * (depth - 1))


def lemma3_hessian_bound(depth: int, d: int, z: float) -> float:
    """Lemma 3: ‖∇²ℓ‖_F ≤ 3 L d⁵ (1 + z)^{2L}.

    Hypotheses: ‖Θ_i‖₂ ≤ 1 + z for all layers and ‖Φ‖₂ ≤ (1 + z)^L, z ≥ 0; ∇²ℓ is the
    (L d²) × (L d²) Hessian in any flattening. Raises ValueError if ``depth`` < 1, ``d`` < 1
    or ``z`` < 0, TypeError if ``d`` is not an integer.
    """
    depth = check_depth(depth)
    d = check_int(d, "d", 1)
    z = check_nonnegative(z, "z")
    return 3.0 * depth * _power(d, 5) * _power(1.0 + z, 2 * depth)


def diagnostics(layers: ArrayLike, phi: ArrayLike) -> dict[str, float]:
    """Diagnostics of one state (computed in C++, as recorded by ``train(..., diagnostics=True)``):

    ``loss`` ℓ; ``radius`` maxᵢ‖Θ_i − I‖₂ (Theorem 1's R before the max over time);
    ``min_singular`` / ``max_singular`` minᵢ σ_min(Θ_i) and maxᵢ σ_max(Θ_i) (1 − a of Lemma 2,
    1 + z of Lemma 3); ``grad_norm`` ‖∇ℓ‖; ``lemma2_ratio`` ‖∇ℓ‖² / (4ℓL(1 − a)^{2L}) with
    1 − a = min(σ_min, 1) (the paper's statement; ≥ ½, and ½ is attained);
    ``lemma2_corrected_ratio`` ‖∇ℓ‖² / (2ℓLσ_min^{2(L−1)}) (≥ 1 always); ``margin`` λ_min of
    the symmetric part of Θ_{1:L}; ``balancedness`` maxᵢ‖Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ‖_F.
    The ratios are NaN when ℓ = 0. Finite layers whose products overflow give inf or NaN
    where the arithmetic does (``balancedness`` of two layers 1e200·I is inf − inf: NaN), never
    the value of the other layers.
    """
    # Imported here so that the formulas above need numpy only.
    from . import _core

    layers_array = as_layers(layers, "layers", _FLOAT64)
    phi_array = as_square(phi, "phi", _FLOAT64)
    if phi_array.shape[0] != layers_array.shape[1]:
        raise ValueError(
            f"phi must have shape {layers_array.shape[1:]} to match layers, got {phi_array.shape}"
        )
    values = _core.diagnostics(layers_array, phi_array)
    return {name: float(value) for name, value in zip(_core.diagnostic_names, values)}
