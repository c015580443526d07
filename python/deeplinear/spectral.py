"""The exact spectral dynamics of gradient descent from the identity (Lemmas 5–6).

For symmetric Φ = U diag(μ) Uᵀ, gradient descent from Θ_i = I keeps every layer equal to
U diag(a) Uᵀ, and each a_k follows the scalar recursion

    a_k ← a_k − η a_k^{L−1} (a_k^L − μ_k),   a_k(0) = 1,   ℓ = ½ Σ_k (a_k^L − μ_k)².

So one eigendecomposition and d scalar recursions (O(d) per step, in C++) replace the dense
O(L d³) step.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._validation import as_square, check_depth, check_int, check_nonnegative, check_step_size
from .training import TrainResult, warn_interrupted

__all__ = ["spectral_gd"]


def spectral_gd(
    phi: ArrayLike,
    depth: int,
    *,
    lr: float,
    max_steps: int,
    tol: float = 0.0,
    record_every: int = 1,
) -> TrainResult:
    """Gradient descent from the identity for symmetric Φ, by its exact reduction (Lemmas 5–6).

    Gives the same ``TrainResult`` as ``train(phi, depth, "gd", ...)`` up to rounding, with the
    layers rebuilt as U diag(a) Uᵀ (of Φ's symmetric part; the losses include ½‖K‖_F² of a skew
    part K that the symmetry tolerance below lets through). ``extras`` holds ``eigenvalues``
    (μ, ascending), ``basis`` (U) and ``a`` (the final layer eigenvalues a_k, in the order of
    μ).

    Ctrl-C stops it like ``train`` (status ``"interrupted"`` and a RuntimeWarning). Raises
    ValueError if Φ is not symmetric (to 1e-2·√ε_mach relative: 1.5e-10 in
    float64, 3.5e-6 in float32).
    """
    phi = as_square(phi, "phi")
    depth = check_depth(depth)
    lr = check_step_size(lr, "lr", phi.dtype)
    max_steps = check_int(max_steps, "max_steps", 0)
    tol = check_nonnegative(tol, "tol")
    record_every = check_int(record_every, "record_every", 1)
    asymmetry = float(np.linalg.norm(phi - phi.T))
    tolerance = 1e-2 * np.sqrt(np.finfo(phi.dtype).eps)  # 1.5e-10 for float64, 3.5e-6 float32
    if asymmetry > tolerance * max(1.0, float(np.linalg.norm(phi))):
        raise ValueError(
            f"phi must be symmetric for spectral_gd (‖Φ − Φᵀ‖_F = {asymmetry:.3g}); "
            "use train(phi, depth, 'gd', ...) for a general Φ"
        )
    # The skew part K = (Φ − Φᵀ)/2 that the tolerance lets through is orthogonal to every
    # symmetric product: ℓ = ℓ(symmetric part) + ½‖K‖_F², which the losses and the stop rule add.
    skew_loss = 0.5 * float(np.linalg.norm(0.5 * (phi - phi.T))) ** 2
    mu, basis = np.linalg.eigh(0.5 * (phi + phi.T))
    mu = np.ascontiguousarray(mu, dtype=phi.dtype)
    basis = basis.astype(phi.dtype, copy=False)
    a = np.ones_like(mu)
    # The same compiled bookkeeping as Trainer: records on the grid, the final state, Ctrl-C.
    session = _core.spectral_session(a, mu, depth, lr, record_every=record_every)
    try:
        status = str(session.run(max_steps, tol - skew_loss, True)[0])
    except KeyboardInterrupt:  # landed after the compiled call: its state is complete
        status = "interrupted"
    if status == "interrupted":
        if not session.recorded_current:
            session.record_current()
        warn_interrupted(int(session.steps), stacklevel=3)
    losses, loss_steps, _ = session.history(0)
    losses = losses + skew_loss
    steps = int(session.steps)
    layer = (basis * a) @ basis.T
    layers = np.ascontiguousarray(np.broadcast_to(layer, (depth, *layer.shape)))
    return TrainResult(
        layers=layers,
        losses=losses,
        loss_steps=loss_steps,
        steps=int(steps),
        status=str(status),
        final_loss=float(losses[-1]),
        method="gd",
        extras={"eigenvalues": mu, "basis": basis, "a": a},
    )
