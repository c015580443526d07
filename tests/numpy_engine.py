"""An independent numpy implementation of what the claims of ``deeplinear reproduce`` check,
and deliberately faulty variants of it, for the mutation test (tests/reproduce/test_mutations.py).

``NumpyEngine`` replaces every piece of ``deeplinear.reproduce.engine.Engine`` that a fault
can touch — the four training methods, the gradient, Hessian-vector products and the dense
Hessian, the projections, the polar decomposition and the balanced factorization, the
diagnostics — by the paper's formulas written in numpy, without calling the compiled core. Only
``spectral`` (the exact dynamics, used for claim 2's sweeps of up to millions of steps) stays
deeplinear's: the claims check it against Lemma 6's recursion themselves, and no fault here
concerns it.

Each fault is a small subclass overriding one piece; ``FAULTS`` lists them with the claims
that must FAIL under each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import scipy.linalg

from deeplinear.reproduce.engine import Engine, RunResult, RunSpec

DIAGNOSTIC_NAMES = (
    "loss",
    "radius",
    "min_singular",
    "max_singular",
    "grad_norm",
    "lemma2_ratio",
    "lemma2_corrected_ratio",
    "margin",
    "balancedness",
)


def _prefixes(layers: np.ndarray) -> list[np.ndarray]:
    """Θ_{1:0} = I, Θ_{1:1}, …, Θ_{1:L}."""
    prefixes = [np.eye(layers.shape[1])]
    for layer in layers:
        prefixes.append(layer @ prefixes[-1])
    return prefixes


class NumpyEngine(Engine):
    """The claims' computations in numpy (the paper's formulas, no compiled code)."""

    name = "numpy"

    # -- the pieces that faults replace --------------------------------------------------------
    def product(self, layers: np.ndarray) -> np.ndarray:
        return _prefixes(layers)[-1]

    def loss(self, layers: np.ndarray, phi: np.ndarray) -> float:
        residual = self.product(layers) - phi
        return 0.5 * float(np.sum(residual * residual))

    def gradient(self, layers: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """Lemma 1 by backpropagation: prefix products, then B ← Θ_iᵀB from B = Θ_{1:L} − Φ."""
        prefixes = _prefixes(layers)
        backward = prefixes[-1] - phi
        gradients = np.empty_like(layers)
        for i in range(len(layers) - 1, -1, -1):
            gradients[i] = backward @ prefixes[i].T
            backward = layers[i].T @ backward
        return gradients

    def training_gradient(self, layers: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """The gradient that the trainers step along (faults may change it for training only)."""
        return self.gradient(layers, phi)

    def hvp(self, layers: np.ndarray, phi: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """The directional derivative of Lemma 1's gradients along Δ (product rule)."""
        depth, dim = layers.shape[0], layers.shape[1]
        eye = np.eye(dim)

        def chain(lo: int, hi: int, replace: int | None = None) -> np.ndarray:
            """Θ_hi ⋯ Θ_lo (1-based, inclusive), with layer ``replace`` swapped for Δ."""
            result = eye
            for index in range(lo, hi + 1):
                factor = direction[index - 1] if index == replace else layers[index - 1]
                result = factor @ result
            return result

        residual = chain(1, depth) - phi
        d_residual = sum(chain(1, depth, j) for j in range(1, depth + 1))
        out = np.empty_like(layers)
        for i in range(1, depth + 1):
            after, before = chain(i + 1, depth), chain(1, i - 1)
            d_after = sum((chain(i + 1, depth, j) for j in range(i + 1, depth + 1)), 0 * eye)
            d_before = sum((chain(1, i - 1, j) for j in range(1, i)), 0 * eye)
            out[i - 1] = (
                d_after.T @ residual @ before.T
                + after.T @ d_residual @ before.T
                + after.T @ residual @ d_before.T
            )
        return out

    def hessian(self, layers: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """Column by column from ``hvp``, in the paper's flattening (layer by layer, vec())."""
        depth, dim = layers.shape[0], layers.shape[1]
        size = depth * dim * dim
        columns = []
        for index in range(size):
            layer, position = divmod(index, dim * dim)
            column, row = divmod(position, dim)
            direction = np.zeros_like(layers)
            direction[layer, row, column] = 1.0
            columns.append(np.concatenate([t.T.ravel() for t in self.hvp(layers, phi, direction)]))
        return np.array(columns).T

    def positivity_margin(self, a: np.ndarray) -> float:
        return float(np.linalg.eigvalsh((a + a.T) / 2)[0])

    def project_positive(self, a: np.ndarray, gamma: float) -> np.ndarray:
        """Keep the skew part, clip the symmetric part's eigenvalues from below at γ."""
        eigenvalues, basis = np.linalg.eigh((a + a.T) / 2)
        return (a - a.T) / 2 + (basis * np.maximum(eigenvalues, gamma)) @ basis.T

    def project_identity_ball(self, a: np.ndarray, psi: float) -> np.ndarray:
        """I + U min(Σ, ψ) Vᵀ with A − I = UΣVᵀ (for one matrix or a stack of them)."""
        eye = np.eye(a.shape[-1])
        left, singular, right_t = np.linalg.svd(a - eye)
        return eye + (left * np.minimum(singular, psi)[..., np.newaxis, :]) @ right_t

    def polar(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        left, singular, right_t = np.linalg.svd(a)
        return left @ right_t, (right_t.T * singular) @ right_t

    def rotation_powers(self, rotation: np.ndarray, exponents: Sequence[float]) -> list:
        """R^s for each s, for orthogonal R, from its real Schur form R = Z T Zᵀ (T made of
        2 × 2 rotation blocks and 1 × 1 blocks +1): each block's angle times s."""
        form, basis = scipy.linalg.schur(rotation, output="real")
        dim = len(form)
        blocks, k = [], 0
        while k < dim:
            if k + 1 < dim and abs(form[k + 1, k]) > 1e-14:
                blocks.append((k, float(np.arctan2(form[k + 1, k], form[k, k]))))
                k += 2
            else:
                if form[k, k] < 0:
                    raise ValueError("the rotation has an eigenvalue −1: no real principal root")
                k += 1
        powers = []
        for exponent in exponents:
            powered = np.eye(dim)
            for start, angle in blocks:
                cos, sin = np.cos(exponent * angle), np.sin(exponent * angle)
                powered[start : start + 2, start : start + 2] = [[cos, -sin], [sin, cos]]
            powers.append(basis @ powered @ basis.T)
        return powers

    def balanced_factorization(self, a: np.ndarray, depth: int) -> np.ndarray:
        """Θ_j = R^{j/L} P^{1/L} R^{−(j−1)/L} (Definition 3 in network order)."""
        rotation, positive = self.polar(a)
        eigenvalues, basis = np.linalg.eigh(positive)
        root = (basis * np.maximum(eigenvalues, 0) ** (1.0 / depth)) @ basis.T
        powers = self.rotation_powers(rotation, [j / depth for j in range(-depth, depth + 1)])

        def power(j: int) -> np.ndarray:
            return powers[j + depth]

        return np.stack([power(j) @ root @ power(-(j - 1)) for j in range(1, depth + 1)])

    def diagnostics(self, layers: np.ndarray, phi: np.ndarray) -> dict[str, float]:
        depth, dim = layers.shape[0], layers.shape[1]
        product = self.product(layers)
        loss = 0.5 * float(np.sum((product - phi) ** 2))
        singular = np.linalg.svd(layers, compute_uv=False)
        low, high = float(singular.min()), float(singular.max())
        grad2 = float(np.sum(self.gradient(layers, phi) ** 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            stated = np.float64(grad2) / (4 * loss * depth * min(low, 1.0) ** (2 * depth))
            corrected = np.float64(grad2) / (2 * loss * depth * np.float64(low) ** (2 * depth - 2))
        transposed = layers.transpose(0, 2, 1)
        balancedness = 0.0
        if depth > 1:
            gaps = transposed[1:] @ layers[1:] - layers[:-1] @ transposed[:-1]
            balancedness = float(np.sqrt(np.sum(gaps**2, axis=(1, 2))).max())
        values = (
            loss,
            float(np.linalg.svd(layers - np.eye(dim), compute_uv=False).max()),
            low,
            high,
            grad2**0.5,
            float(stated),
            float(corrected),
            float(np.linalg.eigvalsh((product + product.T) / 2)[0]),
            balancedness,
        )
        return dict(zip(DIAGNOSTIC_NAMES, values))

    # -- the four training methods -------------------------------------------------------------
    def penalty_term(self, layers: np.ndarray, kappa: float) -> np.ndarray:
        """The gradient of (κ/2)Σ‖I − Θ_i‖_F²: κ(Θ_i − I)."""
        return kappa * (layers - np.eye(layers.shape[1]))

    def step(self, layers: np.ndarray, phi: np.ndarray, spec: RunSpec) -> np.ndarray:
        """One step of the spec's method (Sec. 3.1, 5, 6)."""
        stepped = layers - spec.lr * self.training_gradient(layers, phi)
        if spec.method == "penalty":
            stepped -= spec.lr * self.penalty_term(layers, spec.kappa or 0.0)
        elif spec.method == "step_and_project":
            stepped = self.project_identity_ball(stepped, spec.psi)  # each layer
        elif spec.method == "power_projection":
            projected = self.project_positive(self.product(stepped), spec.gamma)
            stepped = self.balanced_factorization(projected, len(layers))
        return stepped

    def _start(self, spec: RunSpec) -> np.ndarray:
        dim = spec.phi.shape[0]
        if isinstance(spec.init, np.ndarray):
            return np.array(spec.init, dtype=float)
        scale = 1.0
        if spec.init is not None:
            scale = float(spec.init)
        elif spec.method == "power_projection":
            scale = spec.gamma ** (1.0 / spec.depth)
        elif spec.method == "step_and_project":
            scale = (1.0 if spec.gamma is None else spec.gamma) ** (1.0 / spec.depth)
        return np.repeat((scale * np.eye(dim))[np.newaxis], spec.depth, axis=0)

    def train_one(self, spec: RunSpec) -> RunResult:
        """``deeplinear.train``'s loop: record at step 0, every ``record_every`` steps and at
        the end; stop at ℓ ≤ tol, after ``max_steps``, or when ℓ stops being finite or exceeds
        1e100 (keeping the last finite state)."""
        phi = np.asarray(spec.phi, dtype=float)
        layers = self._start(spec)
        losses, steps, states, table = [], [], [], []

        def record(step: int, loss: float) -> None:
            losses.append(loss)
            steps.append(step)
            if spec.keep_layers:
                states.append(layers.copy())
            if spec.diagnostics:
                values = self.diagnostics(layers, phi)
                table.append([values[name] for name in DIAGNOSTIC_NAMES])

        status, step = "max_steps", 0
        loss = self.loss(layers, phi)
        record(0, loss)
        if loss <= spec.tol:
            status = "converged"
        with np.errstate(all="ignore"):
            while status == "max_steps" and step < spec.max_steps:
                candidate = self.step(layers, phi, spec)
                candidate_loss = (
                    self.loss(candidate, phi) if np.isfinite(candidate).all() else np.nan
                )
                if not np.isfinite(candidate_loss):
                    status = "diverged"
                    break
                layers, loss, step = candidate, candidate_loss, step + 1
                if loss > 1e100:
                    status = "diverged"
                elif loss <= spec.tol:
                    status = "converged"
                if step % spec.record_every == 0 or status != "max_steps" or step == spec.max_steps:
                    record(step, loss)
        if steps[-1] != step:
            record(step, loss)
        diagnostics = None
        if spec.diagnostics:
            columns = np.array(table).T
            diagnostics = {name: columns[k] for k, name in enumerate(DIAGNOSTIC_NAMES)}
        return RunResult(
            status=status,
            steps=step,
            losses=np.array(losses),
            loss_steps=np.array(steps, dtype=np.int64),
            layers=layers,
            final_loss=loss,
            diagnostics=diagnostics,
            states=np.array(states) if spec.keep_layers else None,
        )


# -- the faults --------------------------------------------------------------------------------
class Frozen(NumpyEngine):
    """The trainer never moves the layers."""

    def step(self, layers, phi, spec):
        return layers.copy()


class Ascent(NumpyEngine):
    """Gradient ascent: the trainers step along +G."""

    def training_gradient(self, layers, phi):
        return -self.gradient(layers, phi)


class ScaledTrainingGradient(NumpyEngine):
    """The trainers step along c·G; the gradient itself is right."""

    factor = 1.0

    def training_gradient(self, layers, phi):
        return self.factor * self.gradient(layers, phi)


class HalfTrainingGradient(ScaledTrainingGradient):
    factor = 0.5


class DoubleTrainingGradient(ScaledTrainingGradient):
    factor = 2.0


class ScaledGradient(NumpyEngine):
    """The gradient is c·G everywhere (training, ``gradient``, diagnostics, and the Hessian
    with it: the derivatives of c·ℓ, as if the ½ of ℓ were missing for c = 2)."""

    factor = 1.0

    def gradient(self, layers, phi):
        return self.factor * super().gradient(layers, phi)

    def hvp(self, layers, phi, direction):
        return self.factor * super().hvp(layers, phi, direction)


class HalfGradient(ScaledGradient):
    factor = 0.5


class DoubleGradient(ScaledGradient):
    factor = 2.0


class NoPositiveProjection(NumpyEngine):
    """Power projection without its projection onto H_γ."""

    def project_positive(self, a, gamma):
        return a.copy()


class HalfGammaProjection(NumpyEngine):
    """Clips the symmetric part at γ/2 instead of γ."""

    def project_positive(self, a, gamma):
        return super().project_positive(a, gamma / 2)


class ZeroProjection(NumpyEngine):
    """Projects onto H_0 instead of H_γ."""

    def project_positive(self, a, gamma):
        eigenvalues, basis = np.linalg.eigh((a + a.T) / 2)
        return (a - a.T) / 2 + (basis * np.maximum(eigenvalues, 0.0)) @ basis.T


class SkewDropped(NumpyEngine):
    """The projection onto H_γ forgets the skew part."""

    def project_positive(self, a, gamma):
        eigenvalues, basis = np.linalg.eigh((a + a.T) / 2)
        return (basis * np.maximum(eigenvalues, gamma)) @ basis.T


class NoBallProjection(NumpyEngine):
    """Step-and-project without its projection onto ‖Θ_i − I‖₂ ≤ ψ."""

    def project_identity_ball(self, a, psi):
        return a.copy()


class WrongSignPenalty(NumpyEngine):
    """Penalty GD pushing away from I: the penalty's gradient with the wrong sign."""

    def penalty_term(self, layers, kappa):
        return -super().penalty_term(layers, kappa)


class EqualRootFactors(NumpyEngine):
    """Every layer the principal root Ψ^{1/L}: the right product, not Definition 3."""

    def balanced_factorization(self, a, depth):
        eigenvalues, vectors = np.linalg.eig(a)
        root = np.real((vectors * eigenvalues ** (1.0 / depth)) @ np.linalg.inv(vectors))
        return np.repeat(root[np.newaxis], depth, axis=0)


class SvdBalancedFactors(NumpyEngine):
    """A = UΣVᵀ split as Θ_1 = UΣ^{1/L}Vᵀ, Θ_j = UΣ^{1/L}Uᵀ: balanced, the right product and
    singular values, but not Definition 3."""

    def balanced_factorization(self, a, depth):
        left, singular, right_t = np.linalg.svd(a)
        root = singular ** (1.0 / depth)
        first = (left * root) @ right_t
        rest = (left * root) @ left.T
        return np.stack([first] + [rest] * (depth - 1))


class ReversedFactors(NumpyEngine):
    """Definition 3's factors in the reverse order (Θ_j = A_j instead of A_{L−j+1})."""

    def balanced_factorization(self, a, depth):
        return super().balanced_factorization(a, depth)[::-1].copy()


class HessianTimesTen(NumpyEngine):
    """The Hessian (dense and Hessian-vector products) ten times too large."""

    def hvp(self, layers, phi, direction):
        return 10.0 * super().hvp(layers, phi, direction)


class EntrywiseBall(NumpyEngine):
    """Step-and-project clips each entry of Θ_i − I to [−ψ, ψ] (not its singular values)."""

    def project_identity_ball(self, a, psi):
        eye = np.eye(a.shape[-1])
        return eye + np.clip(a - eye, -psi, psi)


class SigmaOfABall(NumpyEngine):
    """Step-and-project clips the singular values of Θ_i into [1 − ψ, 1 + ψ] (those of Θ_i,
    not of Θ_i − I: the same on multiples of I)."""

    def project_identity_ball(self, a, psi):
        left, singular, right_t = np.linalg.svd(a)
        return (left * np.clip(singular, 1 - psi, 1 + psi)[..., None, :]) @ right_t


class SwappedGradientSides(NumpyEngine):
    """GD, penalty and step-and-project step along Θ_{1:i−1}ᵀ E Θ_{i+1:L}ᵀ: Lemma 1's factors
    on the wrong sides (the same where everything commutes)."""

    def step(self, layers, phi, spec):
        if spec.method == "power_projection":
            return super().step(layers, phi, spec)
        self._swapped = True
        try:
            return super().step(layers, phi, spec)
        finally:
            self._swapped = False

    def training_gradient(self, layers, phi):
        if not getattr(self, "_swapped", False):
            return super().training_gradient(layers, phi)
        prefixes = _prefixes(layers)
        residual = prefixes[-1] - phi
        gradients = np.empty_like(layers)
        for i in range(len(layers)):
            after = _prefixes(layers[i + 1 :])[-1]
            gradients[i] = prefixes[i].T @ residual @ after.T
        return gradients


class ReversedTrainer(NumpyEngine):
    """GD, penalty and step-and-project multiply Θ_1 ⋯ Θ_L (the first layer on the left): the
    right run of the layers taken in the reverse order."""

    def train_one(self, spec):
        if spec.method == "power_projection":
            return super().train_one(spec)
        start = self._start(spec)[::-1].copy()
        result = super().train_one(dataclasses.replace(spec, init=start))
        result.layers = result.layers[::-1].copy()
        if result.states is not None:
            result.states = result.states[:, ::-1].copy()
        return result


class ZeroRadius(NumpyEngine):
    """The diagnostics report R = maxᵢ‖Θ_i − I‖₂ as 0."""

    def diagnostics(self, layers, phi):
        return {**super().diagnostics(layers, phi), "radius": 0.0}


class ZeroBalancedness(NumpyEngine):
    """The diagnostics report the layers as balanced (0)."""

    def diagnostics(self, layers, phi):
        return {**super().diagnostics(layers, phi), "balancedness": 0.0}


class FirstLayerSingularValues(NumpyEngine):
    """The diagnostics' σ_min and σ_max are those of the first layer only."""

    def diagnostics(self, layers, phi):
        singular = np.linalg.svd(layers[0], compute_uv=False)
        values = super().diagnostics(layers, phi)
        return {
            **values,
            "min_singular": float(singular.min()),
            "max_singular": float(singular.max()),
        }


class DoubledLoss(NumpyEngine):
    """The loss without its ½: 2ℓ reported, recorded and compared with tol."""

    def loss(self, layers, phi):
        return 2.0 * super().loss(layers, phi)


TRAINING = ("theorem1", "theorem2", "lemmas56", "theorem3", "theorems45", "section6")

FAULTS: dict[str, tuple[type[NumpyEngine], Sequence[str]]] = {
    "frozen trainer": (Frozen, TRAINING),
    "gradient ascent": (Ascent, TRAINING),
    "gradient ×0.5 in training": (HalfTrainingGradient, TRAINING),
    "gradient ×2 in training": (DoubleTrainingGradient, TRAINING),
    "gradient ×0.5 everywhere": (HalfGradient, (*TRAINING, "lemmas23")),
    "gradient ×2 everywhere": (DoubleGradient, (*TRAINING, "lemmas23")),
    "no projection onto H_γ": (NoPositiveProjection, ("theorem3",)),
    "projection clipped at γ/2": (HalfGammaProjection, ("theorem3",)),
    "projection onto H_0": (ZeroProjection, ("theorem3",)),
    "skew part dropped": (SkewDropped, ("theorem3",)),
    "no ψ-projection": (NoBallProjection, ("theorems45", "section6")),
    "wrong-sign penalty": (WrongSignPenalty, ("theorems45", "section6")),
    "equal Ψ^{1/L} factors": (EqualRootFactors, ("theorem3", "lemma7")),
    "SVD-balanced factors": (SvdBalancedFactors, ("theorem3", "lemma7")),
    "reversed layer order": (ReversedFactors, ("theorem3", "lemma7")),
    "Hessian ×10": (HessianTimesTen, ("lemmas23",)),
    "entrywise ψ-clip": (EntrywiseBall, ("theorems45", "section6")),
    "ψ-clip of σ(Θ_i)": (SigmaOfABall, ("theorems45", "section6")),
    "gradient sides swapped": (SwappedGradientSides, ("theorem1", "theorems45", "section6")),
    "trainer multiplies Θ_1 ⋯ Θ_L": (ReversedTrainer, ("theorem1", "theorems45", "section6")),
    "radius reported as 0": (ZeroRadius, ("theorem1",)),
    "balancedness reported as 0": (ZeroBalancedness, ("theorem1",)),
    "σ of the first layer only": (FirstLayerSingularValues, ("theorem1",)),
    "loss without its ½": (
        DoubledLoss,
        ("theorem1", "theorem2", "lemmas56", "theorems45", "section6"),
    ),
}
"""Each fault: the engine that has it and the claims that must FAIL under it."""
