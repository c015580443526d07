"""What every claim shares: the ``Claim`` record, the experiment wrapper and small helpers."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..engine import Engine, RunResult, bar
from . import _checks

EPS = float(np.finfo(float).eps)

ROUNDING = 1e-13
"""Deviations below this are rounding (some 450 ε): the report gives them as "< 1e-13", a bound
that holds whatever BLAS or compiler produced them, not as a build-dependent value."""


@dataclass
class Claim:
    """The outcome of one claim's experiment: one row of the report and one paragraph.

    ``name`` is a short identifier (it prefixes the claim's figure files); ``title`` the claim in
    words; ``section`` where the paper states it; ``statement`` the paper's statement; ``setup``
    the experiment; ``observed`` what the run measured; ``criterion`` the PASS rule; ``notes``
    what the result means beyond the verdict; ``numbers`` every number behind the row (written to
    results.json); ``figure`` the data of its figure; ``seconds`` its run time.
    """

    name: str
    title: str
    section: str
    statement: str
    setup: str
    observed: str
    criterion: str
    passed: bool
    notes: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    figure: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Verdict:
    """What a claim's experiment returns: the parts of its ``Claim`` that the run decides."""

    setup: str
    observed: str
    criterion: str
    passed: bool
    notes: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    figure: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """One claim's run: its random generator, the size, the progress flag and the engine."""

    rng: np.random.Generator
    quick: bool
    progress: bool
    engine: Engine

    def seed(self) -> int:
        """A fresh seed for a target generator, drawn from this claim's stream."""
        return int(self.rng.integers(2**31))

    def bar(self, items: Iterable[Any], desc: str) -> Any:
        """``items`` with a progress bar when progress is on."""
        return bar(items, self.progress, desc)


Draw = Callable[[Any, dict[str, Any]], list[tuple[str, Any]]]
"""A claim's figure: draw(pyplot, claim.figure) → [(file name, matplotlib figure), …]."""


@dataclass(frozen=True)
class Experiment:
    """A claim of the paper and the experiment that checks it; calling it runs the experiment.

    ``experiment(rng, quick, progress, engine=None)`` returns the ``Claim``. Whatever goes wrong
    inside — an exception from the engine or from the checks — makes the claim FAIL with the
    message in its observations, never a traceback.
    """

    name: str
    title: str
    section: str
    statement: str
    run: Callable[[Context], Verdict]
    draw: Draw | None = None

    @property
    def __name__(self) -> str:  # the claim functions of earlier versions were named so
        return self.name

    def __call__(
        self,
        rng: np.random.Generator,
        quick: bool = False,
        progress: bool = False,
        engine: Engine | None = None,
    ) -> Claim:
        context = Context(rng, quick, progress, engine or Engine())
        try:
            verdict = self.run(context)
        except Exception as error:
            verdict = Verdict(
                setup="(the experiment did not finish)",
                observed=f"the experiment stopped with {type(error).__name__}: {error}",
                criterion="the experiment runs to its end (no exception, no diverging run)",
                passed=False,
                numbers={"error": f"{type(error).__name__}: {error}"},
            )
        return Claim(
            name=self.name,
            title=self.title,
            section=self.section,
            statement=self.statement,
            setup=verdict.setup,
            observed=verdict.observed,
            criterion=verdict.criterion,
            passed=bool(verdict.passed),
            notes=verdict.notes,
            numbers=verdict.numbers,
            figure=verdict.figure,
        )


# -- helpers -----------------------------------------------------------------------------------
def unfinished(results: Sequence[RunResult], labels: Sequence[str]) -> list[str]:
    """'label: what happened' for every run that diverged, raised or stopped abnormally."""
    return [
        f"{label}: {result.describe()}"
        for result, label in zip(results, labels)
        if not result.finished
    ]


def unfinished_text(failures: Sequence[str]) -> str:
    """A sentence naming the runs that did not finish (empty when all did)."""
    if not failures:
        return ""
    shown = "; ".join(failures[:3]) + ("; …" if len(failures) > 3 else "")
    return f"{len(failures)} run(s) did not finish normally ({shown}). "


def at_rounding(value: float) -> str:
    """|value| as a bound when it is rounding ("< 1e-13"), else the value itself."""
    if math.isfinite(value) and abs(value) < ROUNDING:
        return f"< {ROUNDING:.0e}"
    return f"{value:.1e}"


def upper_bound_text(value: float) -> str:
    """A maximum that should be ≤ 0: "≤ 1e-13" when it is within rounding of 0."""
    if math.isfinite(value) and value <= ROUNDING:
        return f"≤ {ROUNDING:.0e}" if value > -ROUNDING else f"= {value:.3g}"
    return f"= {value:.2e}"


def tolerance(value: float) -> str:
    """A tolerance as written in a criterion: 1e-9, not 1e-09."""
    return f"{value:.0e}".replace("e-0", "e-")


def lower_bound_text(value: float) -> str:
    """A minimum that should be ≥ 0: "≥ −1e-13" when it is within rounding of 0."""
    if math.isfinite(value) and value >= -ROUNDING:
        return f"≥ −{ROUNDING:.0e}" if value < ROUNDING else f"= {value:.3g}"
    return f"= {value:.2e}"


def fit_line(x: ArrayLike, y: ArrayLike) -> tuple[float, float, float]:
    """Least-squares line y ≈ slope·x + intercept; returns (slope, intercept, R²)."""
    x_arr, y_arr = np.asarray(x, float), np.asarray(y, float)
    slope, intercept = np.polyfit(x_arr, y_arr, 1)
    residual = y_arr - (slope * x_arr + intercept)
    total = float(np.sum((y_arr - y_arr.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else 1.0
    return float(slope), float(intercept), r2


def thin(steps: ArrayLike, *curves: ArrayLike, points: int = 400) -> list[list[float]]:
    """Every k-th point of aligned curves (k so that about ``points`` remain), the last kept."""
    steps = np.asarray(steps)
    if steps.size == 0:
        return [[] for _ in range(1 + len(curves))]
    stride = max(1, len(steps) // points)
    index = np.unique(np.r_[np.arange(0, len(steps), stride), len(steps) - 1])
    return [np.asarray(c)[index].tolist() for c in (steps, *curves)]


def spectral_norm(a: np.ndarray) -> float:
    """‖A‖₂."""
    return float(np.linalg.norm(a, 2))


def principal_root(phi: np.ndarray, depth: int) -> np.ndarray:
    """Φ^{1/L} for symmetric positive definite Φ."""
    eigenvalues, basis = np.linalg.eigh(phi)
    return (basis * eigenvalues ** (1.0 / depth)) @ basis.T


def public(record: Any) -> Any:
    """A record without its private (underscored) entries at any depth, for results.json."""
    if isinstance(record, dict):
        return {k: public(v) for k, v in record.items() if not str(k).startswith("_")}
    if isinstance(record, list):
        return [public(item) for item in record]
    return record


STEP_TOLERANCE = 1e-9
"""A run's steps or diagnostics recomputed in numpy against the run's own, relative: rounding
is about 1e-16 there, a wrong step 1e-5 or more (a gradient with its sides swapped moved the
layers of claim 1's kept run by 4e-3)."""


def step_errors(expected: np.ndarray, after: np.ndarray) -> float:
    """The largest difference of recomputed states from a run's (stacks (steps, L, d, d)),
    relative to 1 + max|Θ| of each state; NaN when there is no step (never a vacuous pass)."""
    errors = np.abs(expected - after).max(axis=(1, 2, 3)) / (
        1.0 + np.abs(after).max(axis=(1, 2, 3))
    )
    return worst(errors, math.nan)


def within_text(error: float) -> str:
    """'within 1e-9', or the deviation where it is larger (or NaN: nothing was compared); the
    value itself below the tolerance depends on the build's rounding, the report does not."""
    if error <= STEP_TOLERANCE:
        return f"within {tolerance(STEP_TOLERANCE)}"
    return f"off by {error:.1e}"


def dense_step_errors(
    states: np.ndarray | None,
    phi: np.ndarray,
    method: str,
    lr: float,
    kappa: float | None = None,
    psi: float | None = None,
) -> dict[str, Any]:
    """Every kept step of a GD, penalty or step-and-project run recomputed in numpy
    (``_checks.dense_step``): the largest difference from the run's layers at t + 1, relative
    to 1 + max|Θ|. Fewer than two states give NaN (nothing was checked)."""
    if states is None or len(states) < 2:
        return {"steps": 0, "max_error": math.nan}
    before, after = states[:-1], states[1:]
    expected = _checks.dense_step(before, phi, method, lr, kappa, psi)
    return {"steps": len(states) - 1, "max_error": step_errors(expected, after)}


def diagnostics_errors(result: RunResult, phi: np.ndarray) -> dict[str, Any]:
    """A run's recorded diagnostics (ℓ, radius, σ_min, σ_max, ‖∇ℓ‖, margin, balancedness)
    against ``_checks.diagnostics`` of its kept states, each relative to 1e-12 + |value|, and
    its final ℓ against the loss of its final layers: two-sided, so a diagnostic that reports
    too little fails as one that reports too much. NaN when nothing could be compared."""
    table, states = result.diagnostics or {}, result.states
    if states is None or not len(states) or not table:
        return {"states": 0, "max_error": math.nan, "worst": None}
    errors: dict[str, float] = {}
    for index, layers in enumerate(states):
        for name, value in _checks.diagnostics(layers, phi).items():
            error = abs(float(table[name][index]) - value) / (1e-12 + abs(value))
            errors[name] = max(errors.get(name, 0.0), error)
    final = _checks.loss(result.layers, phi)
    errors["final_loss"] = abs(result.final_loss - final) / (1e-300 + abs(final))
    name = max(errors, key=lambda key: errors[key])
    return {"states": len(states), "max_error": worst(errors.values(), math.nan), "worst": name}


def worst(values: Iterable[float], default: float = 0.0) -> float:
    """The largest value, NaN if any is NaN (so that a NaN fails every ≤ criterion)."""
    array = np.asarray(list(values), float)
    return float(np.max(array)) if array.size else default


def least(values: Iterable[float], default: float = math.inf) -> float:
    """The smallest value, NaN if any is NaN (so that a NaN fails every ≥ criterion)."""
    array = np.asarray(list(values), float)
    return float(np.min(array)) if array.size else default


def listing(values: Iterable[Any]) -> str:
    """'a, b and c'."""
    items = [str(value) for value in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
