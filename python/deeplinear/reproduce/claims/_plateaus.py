"""What claims 5 and 6 share: the methods of Theorems 4–5, their exact scalar recursions and
limits, the checks of a run against them, and the float64 side experiment.

For symmetric Φ = U diag(μ) Uᵀ every method here is equivariant under Θ_i ↦ UᵀΘ_iU (the
gradient, the penalty and both projections commute with an orthogonal change of basis, and
every start is a multiple of I), so its run on Φ is, in exact arithmetic, the run on diag(μ)
conjugated by U. On diag(μ) the layers stay diagonal, and each diagonal entry a_k follows a
scalar recursion (all layers equal):

- GD (penalty with κ = 0):   a ← a − η a^{L−1}(a^L − μ_k),                 a(0) = 1;
- penalty:                   a ← a − η (a^{L−1}(a^L − μ_k) + κ (a − 1)),   a(0) = 1;
- step-and-project:          a ← clip(a − η a^{L−1}(a^L − μ_k), 1 − ψ, 1 + ψ),  a(0) = γ^{1/L};

with ℓ = ½ Σ_k (a_k^L − μ_k)². The claims run the methods on diag(μ), where float64 keeps the
diagonal structure exactly, and judge each run against its recursion computed here in numpy.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.optimize

from ..engine import RunResult, RunSpec, SpectralSpec
from . import _checks
from ._common import (
    STEP_TOLERANCE,
    Context,
    at_rounding,
    dense_step_errors,
    lower_bound_text,
    thin,
    within_text,
    worst,
)

__all__ = [
    "FAILURE_METHODS",
    "STEP_CHECK_STEPS",
    "STEP_TOLERANCE",
    "Method",
    "escape_text",
    "plateau_check",
    "recursion_limit",
    "recursion_losses",
    "run_failure_experiments",
    "step_check_text",
]

LIMIT_TOLERANCE = 1e-3
"""A run ends within this fraction of its way (ℓ(0) − ℓ_∞) from the limit ℓ_∞ of its recursion."""

TRAJECTORY_TOLERANCE = 1e-9
"""The run's ℓ(t) equals its recursion's to this, relative to ℓ(0), at every step."""


@dataclass(frozen=True)
class Method:
    """One method of Theorems 4–5: its label, ``train``'s method name, L and its options."""

    label: str
    method: str
    depth: int
    options: dict[str, float] = field(default_factory=dict)

    def spec(
        self, phi: np.ndarray, lr: float, steps: int, diagnostics: bool, record_every: int = 1
    ) -> RunSpec:
        """The run of this method on Φ."""
        return RunSpec(
            phi,
            self.depth,
            self.method,
            lr=lr,
            max_steps=steps,
            record_every=record_every,
            gamma=self.options.get("gamma"),
            psi=self.options.get("psi"),
            kappa=self.options.get("kappa"),
            diagnostics=diagnostics,
        )

    @property
    def start(self) -> float:
        """The layers' initial scale: γ^{1/L} for step-and-project, else 1."""
        if self.method == "step_and_project":
            return self.options.get("gamma", 1.0) ** (1.0 / self.depth)
        return 1.0


FAILURE_METHODS = [
    Method("GD, L = 2", "gd", 2),
    Method("GD, L = 4", "gd", 4),
    Method("GD, L = 3 (odd)", "gd", 3),
    Method("penalty κ = 0.1, L = 2", "penalty", 2, {"kappa": 0.1}),
    Method("penalty κ = 1, L = 4", "penalty", 4, {"kappa": 1.0}),
    Method("step-and-project ψ = 2, L = 2", "step_and_project", 2, {"psi": 2.0}),
    Method(
        "step-and-project ψ = 0.5, L = 4, γ = 0.5",
        "step_and_project",
        4,
        {"psi": 0.5, "gamma": 0.5},
    ),
    Method("step-and-project ψ = 1, L = 3", "step_and_project", 3, {"psi": 1.0}),
]
"""Each inside a theorem's hypotheses — penalty GD with L even (Theorem 4; GD is κ = 0),
step-and-project with L even or ψ ≤ 1 (Theorem 5) — except plain GD with odd L, which Sec. 6
says fails too (a_k tends to 0 and never crosses it)."""


def _step(a: np.ndarray, mu: np.ndarray, method: Method, lr: float) -> np.ndarray:
    depth = method.depth
    moved = a - lr * a ** (depth - 1) * (a**depth - mu)
    if method.method == "penalty":
        moved -= lr * method.options["kappa"] * (a - 1)
    if method.method == "step_and_project":
        psi = method.options["psi"]
        moved = np.clip(moved, 1 - psi, 1 + psi)
    return moved


def recursion_losses(mu: np.ndarray, method: Method, lr: float, steps: int) -> np.ndarray:
    """ℓ(0), …, ℓ(steps) of the method's scalar recursion on μ (module docstring), in numpy."""
    a = np.full_like(mu, method.start)
    if method.method == "step_and_project":
        a = np.clip(a, 1 - method.options["psi"], 1 + method.options["psi"])
    losses = np.empty(steps + 1)
    for step in range(steps + 1):
        losses[step] = 0.5 * float(np.sum((a**method.depth - mu) ** 2))
        if step < steps:
            a = _step(a, mu, method, lr)
    return losses


def recursion_losses_many(
    cases: list[tuple[np.ndarray, Method, float, int]],
) -> list[np.ndarray]:
    """``recursion_losses`` of every (μ, method, η, steps) case at once: the recursions of all
    cases advance together as one array (cases × eigenvalues), so that a claim's hundreds of
    runs cost one loop over time instead of one each. Each case's losses are those of
    ``recursion_losses`` to rounding (the same formulas, elementwise)."""
    if not cases:
        return []
    count, width = len(cases), max(len(mu) for mu, _, _, _ in cases)
    # Rows shorter than the widest are padded with μ = 1 and a = 1: a fixed point of every
    # method's recursion (residual 0, no pull, inside every ball) that adds 0 to the loss.
    mu = np.ones((count, width))
    depth = np.ones((count, 1))
    lr = np.zeros((count, 1))
    kappa = np.zeros((count, 1))
    low = np.full((count, 1), -np.inf)
    high = np.full((count, 1), np.inf)
    a = np.ones((count, width))
    for row, (values, method, rate, _) in enumerate(cases):
        mu[row, : len(values)] = values
        depth[row] = method.depth
        lr[row] = rate
        kappa[row] = method.options.get("kappa", 0.0) if method.method == "penalty" else 0.0
        a[row, : len(values)] = method.start
        if method.method == "step_and_project":
            low[row], high[row] = 1 - method.options["psi"], 1 + method.options["psi"]
    a = np.clip(a, low, high)
    steps = max(case[3] for case in cases)
    losses = np.empty((count, steps + 1))
    for step in range(steps + 1):
        power = a ** (depth - 1)
        residual = power * a - mu
        losses[:, step] = 0.5 * np.sum(residual**2, axis=1)
        if step < steps:
            moved = a - lr * power * residual - lr * kappa * (a - 1)
            a = np.clip(moved, low, high)
    return [losses[row, : case[3] + 1] for row, case in enumerate(cases)]


def _penalty_fixed_point(mu: float, depth: int, kappa: float) -> float:
    """The zero of f(a) = a^{L−1}(a^L − μ) + κ(a − 1) that the recursion reaches from a = 1:
    f(1) = 1 − μ, so a moves down to the largest zero below 1 when μ < 1, up to the smallest
    zero above 1 when μ > 1."""

    def force(a: Any) -> Any:  # a float, or an array of them elementwise
        return a ** (depth - 1) * (a**depth - mu) + kappa * (a - 1)

    if mu == 1.0:
        return 1.0
    if mu < 1.0:
        grid = np.linspace(1.0, 0.0, 10_001)
    else:
        grid = np.linspace(1.0, 1.0 + mu ** (1.0 / depth), 10_001)
    values = force(grid)
    change = int(np.flatnonzero(np.sign(values[1:]) != np.sign(values[0]))[0])
    low, high = sorted((grid[change], grid[change + 1]))
    return float(scipy.optimize.brentq(force, low, high, xtol=1e-15))


def recursion_limit(mu: np.ndarray, method: Method) -> float:
    """ℓ_∞ = lim ℓ(t) of the method's scalar recursion from its start (small η).

    GD: a_k → μ_k^{1/L} for μ_k > 0 and → 0 for μ_k < 0 (L ≥ 2: a_k^{L−1} stops it at 0).
    Step-and-project: the same, clipped to [1 − ψ, 1 + ψ]. Penalty: the fixed point of
    ``_penalty_fixed_point`` for each μ_k.
    """
    depth = method.depth
    free = np.where(mu > 0, np.abs(mu) ** (1.0 / depth), 0.0)
    if method.method == "penalty":
        free = np.array(
            [_penalty_fixed_point(float(m), depth, method.options["kappa"]) for m in mu]
        )
    if method.method == "step_and_project":
        free = np.clip(free, 1 - method.options["psi"], 1 + method.options["psi"])
    return 0.5 * float(np.sum((free**depth - mu) ** 2))


def plateau_check(
    result: RunResult,
    mu: np.ndarray,
    method: Method,
    lr: float,
    floor: float,
    recursion: np.ndarray | None = None,
) -> dict[str, Any]:
    """One run on diag(μ) (losses and diagnostics at every step) against Theorems 4–5.

    Requires: the run finished; ℓ(t) equals the scalar recursion's at every step (to
    ``TRAJECTORY_TOLERANCE``·ℓ(0)); ℓ(T) within ``LIMIT_TOLERANCE``·(ℓ(0) − ℓ_∞) of the
    recursion's limit ℓ_∞ (so the run moved); ℓ(t) ≥ floor − 1e-12 at every step (the
    theorems); the method's invariant at every step: the product never gets a negative
    eigenvalue (margin ≥ −1e-12: the mechanism of the theorems), GD never increases ℓ, and
    step-and-project keeps maxᵢ‖Θ_i − I‖₂ ≤ ψ(1 + 1e-12).
    """
    record: dict[str, Any] = {
        "method": method.label,
        "lr": lr,
        "floor": floor,
        "status": result.status,
    }
    limit = recursion_limit(mu, method)
    record["limit"] = limit
    if not result.finished or result.diagnostics is None:
        return record | {"passed": False}
    losses = result.losses
    if recursion is None or len(recursion) <= result.steps:
        recursion = recursion_losses(mu, method, lr, result.steps)
    expected = recursion[result.loss_steps]
    start = float(losses[0])
    way = max(start - limit, 1e-300)
    invariant = bool(np.min(result.diagnostics["margin"]) >= -1e-12)
    if method.method == "gd":
        invariant &= bool(np.all(np.diff(losses) <= 1e-12 * start))
    if method.method == "step_and_project":
        invariant &= bool(
            np.max(result.diagnostics["radius"]) <= method.options["psi"] * (1 + 1e-12)
        )
    record |= {
        "final_loss": result.final_loss,
        "min_loss_minus_floor": float(np.min(losses) - floor),
        "trajectory_error": float(np.max(np.abs(losses - expected)) / start),
        "distance_to_limit": float(abs(result.final_loss - limit) / way),
        "moved": float((start - result.final_loss) / way),
        "invariant_holds": invariant,
        "max_radius": float(np.max(result.diagnostics["radius"])),
        "min_margin": float(np.min(result.diagnostics["margin"])),
    }
    record["passed"] = bool(
        record["trajectory_error"] <= TRAJECTORY_TOLERANCE
        and record["distance_to_limit"] <= LIMIT_TOLERANCE
        and record["min_loss_minus_floor"] >= -1e-12
        and invariant
    )
    return record


def run_failure_experiments(
    context: Context,
    phis: list[np.ndarray],
    steps: int,
    side_steps: int,
    lr_factors: tuple[float, ...],
    desc: str,
) -> list[dict[str, Any]]:
    """The plateau checks for symmetric Φs with negative eigenvalues (Theorems 4–5), as one
    batch of runs.

    For each Φ = U diag(μ) Uᵀ: every method of ``FAILURE_METHODS`` on diag(μ) at
    η = f/(L(1 + max|μ|²)) for each f in ``lr_factors``, judged by ``plateau_check``; the exact
    dynamics of GD (spectral_gd) on Φ itself for L ∈ {2, 3, 4}; and, as a side experiment, the
    same methods run densely on Φ itself (random eigenbasis) at the first f for ``side_steps``,
    where float64 rounding breaks the symmetry that the theorems rest on.
    """
    specs: list[RunSpec] = []
    spectral_specs: list[SpectralSpec] = []
    plans = []
    for phi in phis:
        mu = np.linalg.eigvalsh(phi)
        scale = float(np.abs(mu).max())
        exact = [
            (method, factor, factor / (method.depth * (1.0 + scale**2)))
            for method in FAILURE_METHODS
            for factor in lr_factors
        ]
        first = len(specs)
        # the exact runs' losses and invariants at every step in quick mode, every tenth (2,000
        # states a run) in the full one, whose diagnostics would cost most of its time otherwise
        every = 1 if context.quick else 10
        specs += [method.spec(np.diag(mu), lr, steps, True, every) for method, _, lr in exact]
        side = [
            (method, lr_factors[0] / (method.depth * (1.0 + scale**2)))
            for method in FAILURE_METHODS
        ]
        specs += [method.spec(phi, lr, side_steps, False) for method, lr in side]
        spectral_first = len(spectral_specs)
        spectral_specs += [
            SpectralSpec(phi, depth, lr=0.5 / (depth * (1.0 + scale**2)), max_steps=steps)
            for depth in (2, 3, 4)
        ]
        plans.append((phi, mu, exact, side, first, spectral_first))
    # Each dense method's steps recomputed in numpy from a start off the diagonal and off the
    # ψ-ball, on the first Φ: on diag(μ) from multiples of I every step commutes, and a
    # gradient with its sides swapped, layers multiplied in the reverse order or a projection
    # that clips entries or σ(A) instead of σ(A − I) would follow the recursions exactly.
    check_first = len(specs)
    check_scale = float(np.abs(np.linalg.eigvalsh(phis[0])).max())
    check_specs = [
        dataclasses.replace(
            method.spec(
                phis[0], 0.5 / (method.depth * (1.0 + check_scale**2)), STEP_CHECK_STEPS, False
            ),
            init=step_check_start(method.depth, len(phis[0])),
            keep_layers=True,
        )
        for method in STEP_CHECK_METHODS
    ]
    specs += check_specs
    results = context.engine.train(specs, progress=context.progress, desc=desc)
    step_checks = []
    for method, spec, result in zip(STEP_CHECK_METHODS, check_specs, results[check_first:]):
        errors = dense_step_errors(
            result.states, spec.phi, spec.method, spec.lr, spec.kappa, spec.psi
        )
        step_checks.append(
            {
                "method": method.label,
                "status": result.status,
                **errors,
                "passed": bool(result.finished and errors["max_error"] <= STEP_TOLERANCE),
            }
        )
    spectral_results = context.engine.spectral(spectral_specs)
    # every exact run's recursion in one pass (each plateau_check compares its run with it)
    recursions = iter(
        recursion_losses_many(
            [
                (mu, method, lr, results[first + index].steps)
                for _, mu, exact, _, first, _ in plans
                for index, (method, _, lr) in enumerate(exact)
            ]
        )
    )
    experiments = []
    for _, mu, exact, side, first, spectral_first in plans:
        floor = 0.5 * float(np.sum(mu[mu < 0] ** 2))
        exact_results = results[first : first + len(exact)]
        side_results = results[first + len(exact) : first + len(exact) + len(side)]
        exact_runs = [
            plateau_check(result, mu, method, lr, floor, next(recursions))
            for (method, _, lr), result in zip(exact, exact_results)
        ]
        for run, result in zip(exact_runs, exact_results):
            if result.finished and result.layers.size:
                layers = result.layers
                off = layers - np.einsum("lii->li", layers)[:, :, None] * np.eye(len(mu))
                run["final_off_diagonal"] = float(np.abs(off).max())
                run["final_layers_apart"] = float(np.abs(layers - layers[0]).max())
        spectral_runs = []
        for depth, result in zip((2, 3, 4), spectral_results[spectral_first : spectral_first + 3]):
            record: dict[str, Any] = {
                "method": f"exact dynamics (spectral_gd), L = {depth}",
                "status": result.status,
                "floor": floor,
            }
            if result.finished:
                record |= {
                    "min_loss_minus_floor": float(np.min(result.losses) - floor),
                    "final_loss": result.final_loss,
                    "distance_to_limit": float(
                        abs(result.final_loss - floor) / max(result.losses[0] - floor, 1e-300)
                    ),
                }
            record["passed"] = bool(
                result.finished
                and record.get("min_loss_minus_floor", -1.0) >= -1e-12
                and record["distance_to_limit"] <= LIMIT_TOLERANCE
            )
            spectral_runs.append(record)
        side_runs = []
        for (method, lr), result in zip(side, side_results):
            below = np.flatnonzero(result.losses < floor - 1e-9) if result.finished else np.empty(0)
            side_runs.append(
                {
                    "method": method.label,
                    "lr": lr,
                    "status": result.status,
                    "final_loss": result.final_loss,
                    "escaped_at": int(result.loss_steps[below[0]]) if below.size else None,
                    "final_product_eigenvalues": (
                        np.sort(np.linalg.eigvals(_checks.product(result.layers)).real).tolist()
                        if result.finished
                        else None
                    ),
                    "_curve": thin(result.loss_steps, result.losses),
                }
            )
        experiments.append(
            {
                "d": len(mu),
                "mu": mu.tolist(),
                "floor": floor,
                "exact_runs": exact_runs,
                "spectral_runs": spectral_runs,
                "random_basis_runs": side_runs,
                "unfinished": [
                    f"{method.label}: {result.describe()}"
                    for (method, _, _), result in zip(exact, exact_results)
                    if not result.finished
                ]
                + [
                    f"{run['method']}: {run['status']}"
                    for run in spectral_runs
                    if run["status"] not in ("converged", "max_steps")
                ]
                # (a dense run on the rotated Φ that did not finish would read as one that
                # stayed on the plateau)
                + [
                    f"{method.label} on the randomly rotated Φ: {result.describe()}"
                    for (method, _), result in zip(side, side_results)
                    if not result.finished
                ],
                "passed": all(r["passed"] for r in exact_runs + spectral_runs),
                "_curves": {
                    method.label: thin(result.loss_steps, result.losses)
                    for (method, factor, _), result in zip(exact, exact_results)
                    if factor == lr_factors[0] and result.finished
                },
                "_limits": {
                    method.label: run["limit"]
                    for run, (method, factor, _) in zip(exact_runs, exact)
                    if factor == lr_factors[0]
                },
            }
        )
    experiments[0]["step_checks"] = step_checks
    experiments[0]["passed"] = experiments[0]["passed"] and all(c["passed"] for c in step_checks)
    return experiments


def figure_data(experiment: dict[str, Any]) -> dict[str, Any]:
    """What ``draw_plateaus`` needs from one experiment."""
    return {
        "lam": experiment["lam"],
        "floor": experiment["floor"],
        "curves": experiment["_curves"],
        "limits": experiment["_limits"],
        "rotated": {r["method"]: r["_curve"] for r in experiment["random_basis_runs"]},
    }


def exact_summary(experiments: list[dict[str, Any]]) -> dict[str, Any]:
    """The worst figures over the exact runs of these experiments."""
    exact = [r for e in experiments for r in e["exact_runs"] if "trajectory_error" in r]
    spectral = [r for e in experiments for r in e["spectral_runs"] if "final_loss" in r]
    every = [r for e in experiments for r in e["exact_runs"] + e["spectral_runs"]]
    return {
        "runs": len(every),
        "checked": len(exact) + len(spectral),
        "failed": [r["method"] for r in every if not r["passed"]],
        "min_margin_to_floor": min(
            (r["min_loss_minus_floor"] for r in exact + spectral), default=math.nan
        ),
        "max_trajectory_error": max((r["trajectory_error"] for r in exact), default=math.nan),
        "max_distance_to_limit": max(
            (r["distance_to_limit"] for r in exact + spectral), default=math.nan
        ),
        "min_moved": min((r["moved"] for r in exact), default=math.nan),
        "invariants": sum(r["invariant_holds"] for r in exact),
        "eigenbasis": sum(len(e["exact_runs"]) for e in experiments),
        "max_off_diagonal": max((r.get("final_off_diagonal", 0.0) for r in exact), default=0.0),
        "max_apart": max((r.get("final_layers_apart", 0.0) for r in exact), default=0.0),
        "above_floor": sorted(
            {
                (r["method"], round(r["limit"] - r["floor"], 4))
                for r in exact
                if r["limit"] - r["floor"] > 1e-6
            }
        ),
    }


STEP_CHECK_METHODS = [
    Method("GD, L = 3", "gd", 3),
    Method("penalty κ = 1, L = 4", "penalty", 4, {"kappa": 1.0}),
    Method("step-and-project ψ = 0.1, L = 3", "step_and_project", 3, {"psi": 0.1}),
]
"""The methods whose every step is recomputed in numpy (ψ = 0.1: every step projects)."""

STEP_CHECK_STEPS = 10


def step_check_start(depth: int, dim: int) -> np.ndarray:
    """The step checks' start: each layer I + 0.4·Q, Q a fixed random matrix of spectral norm 1
    (no symmetry, ‖Θ_i − I‖₂ = 0.4 > ψ)."""
    rng = np.random.default_rng(20180710)
    layers = []
    for _ in range(depth):
        q = rng.standard_normal((dim, dim))
        layers.append(np.eye(dim) + 0.4 * q / np.linalg.norm(q, 2))
    return np.array(layers)


def step_check_text(experiments: list[dict[str, Any]]) -> str:
    """The step checks in one sentence."""
    checks = [c for e in experiments for c in e.get("step_checks", [])]
    verdict = within_text(worst((c["max_error"] for c in checks), math.nan))
    steps = sum(c["steps"] for c in checks)
    return (
        f"Dense steps from a non-symmetric start recomputed in numpy: {steps} steps of "
        f"{len(checks)} methods, {verdict}."
    )


def escape_text(experiments: list[dict[str, Any]]) -> str:
    """What the dense float64 runs on the randomly rotated Φ did, in one sentence."""
    side = [
        r
        for e in experiments
        for r in e["random_basis_runs"]
        if r["status"] in ("converged", "max_steps")  # (the others are reported as unfinished)
    ]
    escaped = [r for r in side if r["escaped_at"] is not None]
    if not side:
        return "no dense float64 run on the randomly rotated Φ finished."
    if not escaped:
        return (
            f"dense float64 runs on the randomly rotated Φ stayed on the plateau ({len(side)} "
            "runs)."
        )
    by_method: dict[str, list[int]] = {}
    for run in escaped:
        by_method.setdefault(run["method"], []).append(run["escaped_at"])
    details = "; ".join(
        f"{label} at step {min(found)}" + ("" if len(found) == 1 else f"–{max(found)}")
        for label, found in by_method.items()
    )
    return (
        f"dense float64 runs on the randomly rotated Φ left the plateau in {len(escaped)}/"
        f"{len(side)} runs ({details})."
    )


def exact_text(summary: dict[str, Any], floor_name: str) -> str:
    """The observations on the exact runs, in words."""
    gaps: dict[str, list[float]] = {}
    for label, gap in summary["above_floor"]:
        gaps.setdefault(label, []).append(gap)
    above = "; ".join(
        f"{label} {min(found):.3g}" + (f"–{max(found):.3g}" if len(found) > 1 else "")
        for label, found in gaps.items()
    )
    off = summary["max_off_diagonal"]
    return (
        f"{summary['checked']}/{summary['runs']} exact runs finished; ℓ(t) equals the "
        f"scalar recursion's to {at_rounding(summary['max_trajectory_error'])}·ℓ(0) at every "
        "step; "
        f"every run ended within {summary['max_distance_to_limit']:.1e}·(ℓ(0) − ℓ_∞) of its "
        f"recursion's limit ℓ_∞; min over runs and steps of ℓ(t) − {floor_name} "
        + lower_bound_text(summary["min_margin_to_floor"])
        + f"; limits above {floor_name}: {above or 'none'} (the others are {floor_name}); "
        f"the method's invariant held in {summary['invariants']}/{summary['eigenbasis']} "
        "eigenbasis runs; at their end the layers are "
        + ("exactly diagonal" if off == 0 else f"diagonal to {off:.0e}")
        + f" and differ from one another by at most {summary['max_apart']:.0e}."
    )


def draw_plateaus(
    plt: Any, data: dict[str, Any], floor_name: str, name: str
) -> list[tuple[str, Any]]:
    """Two panels: the exact runs (Φ in its eigenbasis) as ℓ(t) − floor against their
    recursions' limits, and the same methods run densely on the randomly rotated Φ in float64
    against the floor."""
    from ..figures import legend_below, positive

    fig, axes = plt.subplots(1, 2, figsize=(10, 5.8))
    colors = plt.get_cmap("tab10").colors
    floor = data["floor"]
    for index, (label, (steps, losses)) in enumerate(data["curves"].items()):
        color = colors[index % len(colors)]
        axes[0].semilogy(
            steps, positive(np.asarray(losses) - floor, 1e-17), lw=2, color=color, label=label
        )
        limit = data["limits"].get(label, floor) - floor
        if limit > 1e-12:
            axes[0].axhline(limit, color=color, ls=":", lw=1.5)
        if label in data["rotated"]:
            rotated_steps, rotated = data["rotated"][label]
            axes[1].semilogy(rotated_steps, positive(rotated, 1e-17), lw=2, color=color)
    axes[0].set(
        xlabel="step t",
        ylabel=f"ℓ(t) − {floor_name}",
        title=f"exact: Φ in its eigenbasis, λ = {data['lam']}\n(dotted: each recursion's limit)",
    )
    axes[0].set_ylim(1e-8, None)
    axes[1].axhline(floor, color="k", ls="--", lw=1.5, label=f"the floor {floor_name}")
    axes[1].set(xlabel="step t", ylabel="ℓ(t)", title="float64: the same Φ in a random basis")
    axes[1].set_ylim(1e-6, None)
    legend_below(fig, axes, columns=3)
    return [(name, fig)]
