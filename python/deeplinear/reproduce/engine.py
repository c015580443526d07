"""The one seam between the claims and the computations they check.

Every number a claim judges comes from an ``Engine``: training runs (submitted as a batch of
``RunSpec`` and answered by a list of ``RunResult``), the exact spectral dynamics, and the
single-state functions of the core (loss, gradient, Hessian, projections, factorizations,
diagnostics). ``Engine`` itself computes them with deeplinear's public API. Two uses:

- tests replace pieces of it by deliberately faulty, independent implementations and check
  that the claims concerned FAIL (tests/reproduce/test_mutations.py);
- a batched trainer can take over ``train``: claims already submit their grids of runs at once.

The checks of a claim never use the engine to judge the engine: they use numpy formulas of
their own (closed forms, literal constructions, finite differences).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np

from .. import core, factorization, spectral, theory, training

__all__ = ["Engine", "RunResult", "RunSpec", "SpectralSpec"]

FINISHED = ("converged", "max_steps")
"""The statuses of a run that ended normally."""


@dataclass(frozen=True)
class RunSpec:
    """One training run: the arguments of ``deeplinear.train`` (the same order, the same
    keywords) plus what to keep.

    ``keep_layers`` keeps the layers at every recorded step (``RunResult.states``);
    ``diagnostics`` records ``theory.diagnostics`` at every recorded step.
    """

    phi: np.ndarray
    depth: int
    method: str = "gd"
    _: KW_ONLY
    lr: float
    max_steps: int
    tol: float = 0.0
    init: float | np.ndarray | None = None
    gamma: float | None = None
    psi: float | None = None
    kappa: float | None = None
    record_every: int = 1
    diagnostics: bool = False
    keep_layers: bool = False


@dataclass(frozen=True)
class SpectralSpec:
    """One run of the exact spectral dynamics of GD from I (``deeplinear.spectral_gd``)."""

    phi: np.ndarray
    depth: int
    _: KW_ONLY
    lr: float
    max_steps: int
    tol: float = 0.0
    record_every: int = 1


@dataclass
class RunResult:
    """What a run gave: the fields of ``TrainResult`` plus the kept states.

    ``status`` is the trainer's (``"converged"``, ``"max_steps"``, ``"diverged"`` …) or
    ``"error"`` when the run raised (``error`` holds the message); ``states`` is the
    (records, L, d, d) stack of layers at ``loss_steps`` when ``keep_layers`` was asked;
    ``extras`` holds what the exact dynamics add (``a``: the final layer eigenvalues).
    """

    status: str
    steps: int
    losses: np.ndarray
    loss_steps: np.ndarray
    layers: np.ndarray
    final_loss: float
    diagnostics: dict[str, np.ndarray] | None = None
    states: np.ndarray | None = None
    error: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """True when the run ended normally (converged or ran all its steps)."""
        return self.status in FINISHED

    def describe(self) -> str:
        """One line for a report: the status and, for an error, its message."""
        if self.status == "error":
            return f"raised {self.error}"
        return f"{self.status} after {self.steps} steps (final loss {self.final_loss:.3g})"

    @classmethod
    def of(cls, result: training.TrainResult, **more: Any) -> RunResult:
        """The fields of a ``TrainResult``, plus ``more``."""
        return cls(
            status=result.status,
            steps=result.steps,
            losses=result.losses,
            loss_steps=result.loss_steps,
            layers=result.layers,
            final_loss=result.final_loss,
            **more,
        )

    @classmethod
    def failed(cls, error: BaseException) -> RunResult:
        """The result of a run that raised ``error``."""
        empty = np.empty(0)
        return cls(
            status="error",
            steps=0,
            losses=empty,
            loss_steps=np.empty(0, dtype=np.int64),
            layers=np.empty((0, 0, 0)),
            final_loss=float("nan"),
            error=f"{type(error).__name__}: {error}",
        )


def bar(items: Iterable[Any], progress: bool, desc: str) -> list[Any] | Any:
    """``items`` with a tqdm bar on stderr when ``progress`` is on."""
    items = list(items)
    if not progress:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, leave=False, file=sys.stderr)


def _each(
    specs: Sequence[Any], run_one: Callable[[Any], RunResult], progress: bool, desc: str
) -> list[RunResult]:
    """``run_one`` on every spec in turn; a spec that raises gives a failed result."""
    results = []
    for spec in bar(specs, progress, desc):
        try:
            results.append(run_one(spec))
        except Exception as error:  # reported as the run's failure
            results.append(RunResult.failed(error))
    return results


class Engine:
    """The computations of the claims, by deeplinear's public API.

    Subclasses override pieces. ``train`` and ``spectral`` take a batch of independent runs
    and return their results in order; a run that raises gives a ``RunResult`` with status
    ``"error"`` instead of an exception, so that a claim can FAIL with the message.
    """

    name = "deeplinear"

    # -- batches of runs ---------------------------------------------------------------------
    def train(
        self, specs: Sequence[RunSpec], *, progress: bool = False, desc: str = "runs"
    ) -> list[RunResult]:
        """Run every spec (independent runs); results in the order of ``specs``."""
        return _each(specs, self.train_one, progress, desc)

    def train_one(self, spec: RunSpec) -> RunResult:
        """One run by ``deeplinear.train``."""
        states: list[np.ndarray] = []

        def keep(step: int, layers: np.ndarray, loss: float) -> None:
            states.append(layers.copy())

        result = training.train(
            spec.phi,
            spec.depth,
            spec.method,
            lr=spec.lr,
            max_steps=spec.max_steps,
            tol=spec.tol,
            init=spec.init,
            record_every=spec.record_every,
            diagnostics=spec.diagnostics,
            callback=keep if spec.keep_layers else None,
            gamma=spec.gamma,
            psi=spec.psi,
            kappa=spec.kappa,
        )
        return RunResult.of(
            result,
            diagnostics=result.diagnostics,
            states=np.array(states) if spec.keep_layers else None,
        )

    def spectral(
        self, specs: Sequence[SpectralSpec], *, progress: bool = False, desc: str = "exact runs"
    ) -> list[RunResult]:
        """Run the exact dynamics of every spec; results in the order of ``specs``."""
        return _each(specs, self.spectral_one, progress, desc)

    def spectral_one(self, spec: SpectralSpec) -> RunResult:
        """One run by ``deeplinear.spectral_gd``."""
        result = spectral.spectral_gd(
            spec.phi,
            spec.depth,
            lr=spec.lr,
            max_steps=spec.max_steps,
            tol=spec.tol,
            record_every=spec.record_every,
        )
        return RunResult.of(result, extras={"a": result.extras["a"]})

    # -- one state -----------------------------------------------------------------------------
    def product(self, layers: np.ndarray) -> np.ndarray:
        """Θ_{1:L} = Θ_L ⋯ Θ_1."""
        return core.product(layers)

    def loss(self, layers: np.ndarray, phi: np.ndarray) -> float:
        """ℓ = ½‖Θ_{1:L} − Φ‖_F²."""
        return core.loss(layers, phi)

    def gradient(self, layers: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """Lemma 1's gradients, (L, d, d)."""
        return core.gradient(layers, phi)

    def hvp(self, layers: np.ndarray, phi: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """The Hessian of ℓ applied to ``direction``, (L, d, d)."""
        return core.hvp(layers, phi, direction)

    def hessian(self, layers: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """The dense (L·d²)² Hessian in the paper's flattening (layer by layer, vec())."""
        return core.hessian(layers, phi)

    def positivity_margin(self, a: np.ndarray) -> float:
        """λ_min((A + Aᵀ)/2)."""
        return core.positivity_margin(a)

    def project_positive(self, a: np.ndarray, gamma: float) -> np.ndarray:
        """The Frobenius projection of A onto H_γ."""
        return core.project_positive(a, gamma)

    def project_identity_ball(self, a: np.ndarray, psi: float) -> np.ndarray:
        """The Frobenius projection of A onto {‖A − I‖₂ ≤ ψ}."""
        return core.project_identity_ball(a, psi)

    def polar(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A = R P."""
        return factorization.polar(a)

    def balanced_factorization(self, a: np.ndarray, depth: int) -> np.ndarray:
        """Definition 3's layers, ``layers[j-1]`` = Θ_j."""
        return factorization.balanced_factorization(a, depth)

    def diagnostics(self, layers: np.ndarray, phi: np.ndarray) -> dict[str, float]:
        """``theory.diagnostics`` of one state."""
        return theory.diagnostics(layers, phi)
