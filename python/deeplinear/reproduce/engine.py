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

from .. import batch, core, factorization, spectral, theory, training
from .._progress import is_terminal

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


def _batch_key(spec: RunSpec) -> tuple[Any, ...] | None:
    """What runs of one batch must share, or None for a run that goes alone."""
    if spec.keep_layers:
        return None
    phi = np.asarray(spec.phi)
    return (
        phi.shape,
        phi.dtype.str,
        spec.depth,
        spec.method,
        spec.max_steps,
        spec.record_every,
        spec.diagnostics,
        spec.gamma is None,
        spec.psi is None,
        spec.kappa is None,
    )


class BatchMismatchError(RuntimeError):
    """A batched run differs from the same run alone (``Engine._check_batch``)."""


def _difference(alone: RunResult, batched: RunResult) -> str:
    """How ``batched`` differs from ``alone`` (bit for bit), or "" when it does not."""
    for name in ("status", "steps"):
        if getattr(alone, name) != getattr(batched, name):
            return f"{name} {getattr(batched, name)!r} batched, {getattr(alone, name)!r} alone"
    if set(alone.diagnostics or {}) != set(batched.diagnostics or {}):
        return "its diagnostics differ"
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "losses": (alone.losses, batched.losses),
        "loss steps": (alone.loss_steps, batched.loss_steps),
        "layers": (alone.layers, batched.layers),
    }
    for key, value in (alone.diagnostics or {}).items():
        arrays[f"diagnostic {key}"] = (value, batched.diagnostics[key])  # type: ignore[index]
    for name, (a, b) in arrays.items():
        if np.shape(a) != np.shape(b) or not np.array_equal(a, b, equal_nan=True):
            return f"its {name} differ"
    return ""


def bar(items: Iterable[Any], progress: bool, desc: str) -> list[Any] | Any:
    """``items`` with a tqdm bar on stderr when ``progress`` is on and stderr is a terminal (off
    a terminal the report writes one line per claim instead, see ``reproduce.run``)."""
    items = list(items)
    if not progress or not is_terminal():
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, leave=False, file=sys.stderr)


def _check_interrupted(results: Sequence[RunResult]) -> list[RunResult]:
    """Ctrl-C stops a training call with status "interrupted": an experiment cut short is no
    evidence, so the reproduction stops too (KeyboardInterrupt), never judging a claim on it."""
    if any(result.status == "interrupted" for result in results):
        raise KeyboardInterrupt
    return list(results)


def _each(
    specs: Sequence[Any], run_one: Callable[[Any], RunResult], progress: bool, desc: str
) -> list[RunResult]:
    """``run_one`` on every spec in turn; a spec that raises gives a failed result."""
    results = []
    for spec in bar(specs, progress, desc):
        try:
            result = run_one(spec)
        except Exception as error:  # reported as the run's failure
            result = RunResult.failed(error)
        results.append(_check_interrupted([result])[0])
    return results


class Engine:
    """The computations of the claims, by deeplinear's public API.

    Subclasses override pieces. ``train`` and ``spectral`` take a batch of independent runs
    and return their results in order; a run that raises gives a ``RunResult`` with status
    ``"error"`` instead of an exception, so that a claim can FAIL with the message.
    """

    name = "deeplinear"
    threads = 0  # see __init__ (a subclass with an __init__ of its own keeps the default)

    def __init__(self, threads: int = 0) -> None:
        """``threads`` for the batches of ``train`` (0: every core the process may use). A
        batch's results do not depend on it (``train_batch`` gives the same bits on any number
        of threads); ``deeplinear reproduce`` gives each of its worker processes its share of
        the cores, so that two workers do not each start a thread per core."""
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ValueError(f"threads must be a non-negative integer, got {threads!r}")
        self.threads = threads

    # -- batches of runs ---------------------------------------------------------------------
    def train(
        self, specs: Sequence[RunSpec], *, progress: bool = False, desc: str = "runs"
    ) -> list[RunResult]:
        """Run every spec (independent runs); results in the order of ``specs``.

        Specs that can share one compiled call (same shape, method, dtype, depth, step budget,
        record grid and diagnostics, no states kept) run as batches by ``train_batch``, whose
        network b is ``train`` on spec b bit for bit; the others one by one."""
        results: list[RunResult | None] = [None] * len(specs)
        groups: dict[tuple[Any, ...], list[int]] = {}
        # An engine that replaces train_one (a test's faulty trainer) runs every spec through it.
        batching = type(self).train_one is Engine.train_one
        for index, spec in enumerate(specs):
            key = _batch_key(spec) if batching else None
            if key is not None:
                groups.setdefault(key, []).append(index)
        for indices in groups.values():
            if len(indices) < 2:
                continue
            grouped = [specs[i] for i in indices]
            try:
                batch = _check_interrupted(self.train_batch(grouped))
            except Exception:  # e.g. one spec's options are invalid: run them one by one
                continue
            self._check_batch(grouped, batch)
            for index, result in zip(indices, batch):
                results[index] = result
        alone = [i for i, result in enumerate(results) if result is None]
        for index, result in zip(
            alone, _each([specs[i] for i in alone], self.train_one, progress, desc)
        ):
            results[index] = result
        return _check_interrupted([r for r in results if r is not None])

    def _check_batch(self, specs: Sequence[RunSpec], batch: Sequence[RunResult]) -> None:
        """Networks 0, n//2 and n − 1 of a batch (n ≥ 2; other SIMD lanes and groups) run
        again alone: ``train_batch`` promises each network what ``train`` gives it, bit for bit.

        The claims recompute the runs that keep their states, which run alone; this makes the
        batched runs, judged by the claims through invariants and bounds, answer for themselves
        too. BatchMismatchError (the claim FAILs with it) when one differs or is missing."""
        if len(batch) != len(specs):
            raise BatchMismatchError(f"a batch of {len(specs)} runs gave {len(batch)} results")
        for k in sorted({0, len(specs) // 2, len(specs) - 1}):
            alone, batched = self.train_one(specs[k]), batch[k]
            difference = _difference(alone, batched)
            if difference:
                raise BatchMismatchError(
                    f"run {k} of a batch of {len(specs)} (d = {specs[k].phi.shape[0]}, "
                    f"L = {specs[k].depth}, {specs[k].method}) is not the same run alone: "
                    f"{difference}"
                )

    def train_batch(self, specs: Sequence[RunSpec]) -> list[RunResult]:
        """Specs of one batch key (``_batch_key``) by ``deeplinear.train_batch``."""
        first = specs[0]

        def per_network(name: str) -> Any:
            values = [getattr(spec, name) for spec in specs]
            return None if all(v is None for v in values) else values

        inits: list[Any] = [spec.init for spec in specs]
        init: Any = None
        if any(i is None for i in inits) and not all(i is None for i in inits):
            return [self.train_one(spec) for spec in specs]  # the method's own start and others
        if inits[0] is not None:
            shape = (first.depth, *first.phi.shape)
            init = np.stack(
                [
                    np.broadcast_to(i * np.eye(shape[1]), shape) if np.ndim(i) == 0 else i
                    for i in inits
                ]
            )
        result = batch.train_batch(
            np.stack([spec.phi for spec in specs]),
            first.depth,
            first.method,
            lr=[spec.lr for spec in specs],
            max_steps=first.max_steps,
            tol=[spec.tol for spec in specs],
            init=init,
            record_every=first.record_every,
            diagnostics=first.diagnostics,
            threads=self.threads or training.available_cores(),
            gamma=per_network("gamma"),
            psi=per_network("psi"),
            kappa=per_network("kappa"),
        )
        return [RunResult.of(run, diagnostics=run.diagnostics) for run in result]

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
        return _check_interrupted(_each(specs, self.spectral_one, progress, desc))

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
