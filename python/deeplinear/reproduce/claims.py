"""One numerical experiment per claim of the paper, each judged by a criterion stated up front.

Every claim function takes a ``numpy.random.Generator`` (all targets are drawn from it),
``quick`` (a smaller experiment, for CI) and ``progress`` (show tqdm bars on stderr) and returns
a ``Claim``: what the paper states, how it was tested, what was observed, the PASS/FAIL criterion
and verdict, the numbers behind it and the data for its figure. Criteria are the math — bounds
and invariants, with stated float64 tolerances — never agreement with stored numbers.

The checks that decide a verdict are small functions of their own (``plateau_runs``,
``power_projection_run``, ``lemma2_ratios``, ``factorization_errors`` …), so that tests can feed
them inputs that must fail.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import core, factorization, spectral, targets, theory, training

__all__ = [
    "CLAIMS",
    "Claim",
    "factorization_errors",
    "growth_verdicts",
    "lemma2_ratios",
    "lemma3_ratio",
    "lemma7",
    "lemmas23",
    "lemmas56",
    "plateau_runs",
    "power_projection_run",
    "section6",
    "symmetric_run_deviations",
    "theorem1",
    "theorem1_run",
    "theorem2",
    "theorem3",
    "theorems45",
]

EPS = float(np.finfo(float).eps)


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


# -- helpers ----------------------------------------------------------------------------------
def _bar(items: Iterable[Any], progress: bool, desc: str) -> Iterable[Any]:
    """``items`` with a tqdm bar on stderr when ``progress`` is on."""
    items = list(items)
    if not progress:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, leave=False, file=sys.stderr)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def _diagnostics(result: training.TrainResult) -> dict[str, np.ndarray]:
    """The diagnostics of a run made with diagnostics=True."""
    assert result.diagnostics is not None
    return result.diagnostics


def _fit_line(x: ArrayLike, y: ArrayLike) -> tuple[float, float, float]:
    """Least-squares line y ≈ slope·x + intercept; returns (slope, intercept, R²)."""
    x_arr, y_arr = np.asarray(x, float), np.asarray(y, float)
    slope, intercept = np.polyfit(x_arr, y_arr, 1)
    residual = y_arr - (slope * x_arr + intercept)
    total = float(np.sum((y_arr - y_arr.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else 1.0
    return float(slope), float(intercept), r2


def _thin(steps: np.ndarray, *curves: np.ndarray, points: int = 400) -> list[list[float]]:
    """Every k-th point of aligned curves (k so that about ``points`` remain), the last kept."""
    stride = max(1, len(steps) // points)
    index = np.unique(np.r_[np.arange(0, len(steps), stride), len(steps) - 1])
    return [np.asarray(c)[index].tolist() for c in (steps, *curves)]


def _principal_root(phi: np.ndarray, depth: int) -> np.ndarray:
    """Φ^{1/L} for symmetric positive definite Φ."""
    eigenvalues, basis = np.linalg.eigh(phi)
    return (basis * eigenvalues ** (1.0 / depth)) @ basis.T


def _spectral_norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(a, 2))


# -- 1. Theorem 1 -----------------------------------------------------------------------------
def theorem1_run(phi: np.ndarray, depth: int, c: float, steps: int) -> dict[str, Any]:
    """One run of GD from I at Theorem 1's step size, checked against the theorem (Sec. 3).

    Hypotheses (for the chosen c ≥ 1): L ≥ (4/3) ln c, ℓ(I) ≤ ln(c)²/(8c¹⁰), and
    η = 1/(3Ld⁵ max{c⁴, ‖Φ‖₂²}). Conclusions, checked at every recorded step t:
    ℓ(t) ≤ exp(−2tηL/c⁴) ℓ(0) and R(t) = max_{s≤t} maxᵢ ‖Θ_i(s) − I‖₂ ≤ ln(c)/L.

    Float64 GD stalls once a step ηG_i falls below rounding of Θ_i, near ℓ ≈ ½d(ε_mach/η)², so
    the loss bound is checked up to ten times that floor. ``passed`` is False when the hypotheses
    fail (the theorem then says nothing) or a conclusion is violated.
    """
    conditions = theory.theorem1_conditions(phi, depth, c)
    dim = phi.shape[0]
    record_every = max(1, steps // 20_000)
    result = training.train(
        phi,
        depth,
        lr=conditions.lr,
        max_steps=steps,
        record_every=record_every,
        diagnostics=True,
    )
    bound = np.asarray(
        theory.theorem1_loss_bound(result.losses[0], result.loss_steps, conditions.lr, depth, c)
    )
    radius = np.maximum.accumulate(_diagnostics(result)["radius"])
    floor = 10 * dim * (EPS / conditions.lr) ** 2
    ratios = result.losses[1:] / (bound[1:] + floor)
    loss_ratio, loss_ratio_step = float(ratios.max()), int(result.loss_steps[1 + ratios.argmax()])
    # the measured linear rate −d ln ℓ/dt against the guaranteed 2ηL/c⁴
    above = result.losses > 1e3 * floor
    slope, _, _ = _fit_line(result.loss_steps[above], np.log(result.losses[above]))
    passed = (
        conditions.holds
        and bool(np.all(result.losses <= bound * (1 + 1e-9) + floor))
        and float(radius.max()) <= conditions.radius_bound
    )
    return {
        "c": c,
        "d": dim,
        "depth": depth,
        "loss0": float(result.losses[0]),
        "loss_threshold": conditions.loss_threshold,
        "hypotheses_hold": conditions.holds,
        "lr": conditions.lr,
        "steps": result.steps,
        "record_every": record_every,
        "final_loss": result.final_loss,
        "final_bound": float(bound[-1]),
        "max_loss_over_bound": loss_ratio,
        "max_loss_over_bound_step": loss_ratio_step,
        "guaranteed_rate": conditions.rate,
        "observed_rate": -slope,
        "max_radius": float(radius.max()),
        "radius_bound": conditions.radius_bound,
        "rounding_floor": floor,
        "passed": bool(passed),
        "_curve": _thin(result.loss_steps, result.losses, bound, radius),
    }


def theorem1(rng: np.random.Generator, quick: bool, progress: bool) -> Claim:
    """Theorem 1 (Sec. 3): targets near I are learned by GD from I at a linear rate.

    Checks ℓ(t) ≤ exp(−2tηL/c⁴) ℓ(0) and R(t) ≤ ln(c)/L at η = 1/(3Ld⁵ max{c⁴, ‖Φ‖₂²}) on
    targets with ℓ(I) = ½·ln(c)²/(8c¹⁰), then the same linear convergence at a practical step.
    """
    if quick:
        grid = list(itertools.product((1.1, 1.2), (2, 3), (2, 8)))
        excesses: tuple[float, ...] = (0.05, 0.2)
        max_steps = 20_000
    else:
        grid = 2 * list(itertools.product((1.05, 1.1, 1.2, 1.5), (2, 3, 4), (2, 4, 8)))
        excesses, max_steps = (0.05, 0.2, 0.5), 300_000
    runs = []
    for c, dim, depth in _bar(grid, progress, "Theorem 1"):
        threshold = math.log(c) ** 2 / (8 * c**10)
        phi = targets.near_identity(dim, 0.5 * threshold, seed=_seed(rng))
        rate = 2 * theory.theorem1_lr(phi, depth, c) * depth / c**4
        # enough steps for the bound to fall by e^-8, within the budget
        runs.append(theorem1_run(phi, depth, c, min(max_steps, math.ceil(8 / rate))))
    # The theorem's constants are tiny; the same linear rate shows at a practical step size
    # on targets much farther from I.
    practical: list[dict[str, Any]] = []
    for excess in excesses:
        phi = targets.near_identity(8, excess, seed=_seed(rng))
        lr = theory.theorem2_lr(phi, 8)
        result = training.train(
            phi, 8, lr=lr, max_steps=20_000, tol=1e-12, record_every=1, diagnostics=True
        )
        slope, _, r2 = _fit_line(result.loss_steps, np.log(result.losses))
        practical.append(
            {
                "excess_loss": excess,
                "lr": lr,
                "steps": result.steps,
                "status": result.status,
                "log_loss_slope": slope,
                "log_loss_r2": r2,
                "max_radius": float(_diagnostics(result)["radius"].max()),
                "_curve": _thin(result.loss_steps, result.losses),
            }
        )
    practical_ok = all(run["status"] == "converged" for run in practical)
    passed = all(run["passed"] for run in runs) and practical_ok
    worst_run = max(runs, key=lambda run: run["max_loss_over_bound"])
    worst = worst_run["max_loss_over_bound"]
    speedup = [run["observed_rate"] / run["guaranteed_rate"] for run in runs]
    radius_use = max(run["max_radius"] / run["radius_bound"] for run in runs)
    hypotheses = sum(run["hypotheses_hold"] for run in runs)
    shown = max(runs, key=lambda run: run["steps"])
    return Claim(
        name="theorem1",
        title="Targets near the identity are learned at a linear rate",
        section="Sec. 3, Theorem 1",
        statement="If ℓ(I) ≤ ln(c)²/(8c¹⁰), L ≥ (4/3) ln c and η ≤ 1/(3Ld⁵ max{c⁴, ‖Φ‖₂²}), "
        "then ℓ(t) ≤ exp(−2tηL/c⁴) ℓ(0) and R(t) = max_{s≤t,i} ‖Θ_i − I‖₂ ≤ ln(c)/L.",
        setup=f"{len(runs)} runs of GD from I: c ∈ {sorted({g[0] for g in grid})}, d ∈ "
        f"{sorted({g[1] for g in grid})}, L ∈ {sorted({g[2] for g in grid})}, a random target "
        "with ℓ(I) = half the threshold each, η at the bound, until the bound fell by e⁻⁸ "
        f"(≤ {max_steps} steps); then d = L = 8, ℓ(I) ∈ {list(excesses)} at η = 1/(L(1+‖Φ‖₂²)).",
        observed=f"hypotheses hold in {hypotheses}/{len(runs)} runs; max over t > 0 of "
        f"ℓ(t)/(bound + rounding floor) = {worst:.5f} (at t = {worst_run['max_loss_over_bound_step']}); "
        f"measured rate −d ln ℓ/dt = {min(speedup):.2f}–{max(speedup):.2f} × the guaranteed "
        f"2ηL/c⁴; max R(t)/(ln(c)/L) = {radius_use:.3f}; "
        "practical runs reached 1e-12 in "
        f"{', '.join(str(r['steps']) for r in practical)} steps, log ℓ linear in t "
        f"(R² ≥ {min(r['log_loss_r2'] for r in practical):.3f}).",
        criterion="hypotheses hold; ℓ(t) ≤ exp(−2tηL/c⁴)ℓ(0) + 10d(ε_mach/η)² and R(t) ≤ ln(c)/L "
        "at every recorded step of every run; the practical runs converge to 1e-12.",
        passed=passed,
        notes="The guaranteed rate 2ηL/c⁴ is within a small factor of the measured one (the "
        "proof loses only c⁴ and the (1 − R)^{2L} of Lemma 2), and R(t) stays a fraction of "
        "ln(c)/L: the layers never leave the small ball around I that the proof needs. The theorem's step size is tiny (∝ 1/d⁵); at a practical step size "
        "targets 100× farther from I converge linearly too, in tens of steps.",
        numbers={
            "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
            "practical": [{k: v for k, v in r.items() if not k.startswith("_")} for r in practical],
        },
        figure={
            "run": {k: shown[k] for k in ("c", "d", "depth", "radius_bound", "_curve")},
            "practical": [
                {"excess_loss": r["excess_loss"], "_curve": r["_curve"]} for r in practical
            ],
        },
    )


# -- 2. Theorem 2 -----------------------------------------------------------------------------
def _steps_to(phi: np.ndarray, depth: int, eps: float, max_steps: int) -> int:
    """Steps of GD from I at η = 1/(L(1+‖Φ‖₂²)) until ℓ ≤ eps, by the exact dynamics of
    Lemmas 5–6 (``spectral_gd``); -1 if not within ``max_steps``."""
    lr = theory.theorem2_lr(phi, depth)
    result = spectral.spectral_gd(
        phi, depth, lr=lr, max_steps=max_steps, tol=eps, record_every=max_steps
    )
    return result.steps if result.status == "converged" else -1


def growth_verdicts(sweeps: dict[str, tuple[list[float], list[int]]]) -> dict[str, Any]:
    """Fit the growth of steps-to-ε and judge it against Theorem 2's bound (Sec. 4).

    ``sweeps`` maps "depth", "cond", "eps" and "dim" to (parameter values, steps). At
    η = 1/(L(1+‖Φ‖₂²)) the bound (1/(ηLγ²))·ln(dL ln Γ/(γε)) has ηL fixed, so it grows with L
    only through ln L, and for ``targets.spd`` (γ = κ^{−1/2}, ‖Φ‖₂ = κ^{1/2}) it is
    (1+κ)κ·log: polynomial of degree 2 in κ. d and 1/ε enter together, as ln(d/ε).

    Verdicts: log-log slope in L ≤ 1; log-log slope in κ ≤ 2.5; steps affine in ln(1/ε)
    (slope > 0, R² ≥ 0.99); slope of steps in ln d ≤ the slope in ln(1/ε).
    """
    fits: dict[str, Any] = {}
    # an unconverged run (-1) fails the verdict below; clip it so that the fits stay defined
    depth_x, depth_y = sweeps["depth"][0], np.maximum(sweeps["depth"][1], 1)
    cond_x, cond_y = sweeps["cond"][0], np.maximum(sweeps["cond"][1], 1)
    eps_x, eps_y = sweeps["eps"]
    dim_x, dim_y = sweeps["dim"]
    fits["depth_slope"], _, fits["depth_r2"] = _fit_line(np.log(depth_x), np.log(depth_y))
    fits["cond_slope"], _, fits["cond_r2"] = _fit_line(np.log(cond_x), np.log(cond_y))
    fits["eps_slope"], _, fits["eps_r2"] = _fit_line(np.log(1 / np.asarray(eps_x)), eps_y)
    fits["dim_slope"], _, fits["dim_r2"] = _fit_line(np.log(dim_x), dim_y)
    fits["all_converged"] = all(s > 0 for _, ys in sweeps.values() for s in ys)
    fits["depth_ok"] = fits["depth_slope"] <= 1.0
    fits["cond_ok"] = fits["cond_slope"] <= 2.5
    fits["eps_ok"] = fits["eps_slope"] > 0 and fits["eps_r2"] >= 0.99
    fits["dim_ok"] = fits["dim_slope"] <= fits["eps_slope"]
    fits["passed"] = bool(
        fits["all_converged"]
        and fits["depth_ok"]
        and fits["cond_ok"]
        and fits["eps_ok"]
        and fits["dim_ok"]
    )
    return fits


def theorem2(rng: np.random.Generator, quick: bool, progress: bool) -> Claim:
    """Theorem 2 (Sec. 4): GD from I learns symmetric positive definite Φ; steps-to-ε grow
    polynomially in L and κ and logarithmically in 1/ε and d (``growth_verdicts``), and the
    layers tend to Φ^{1/L}. Sweeps use the exact spectral dynamics; dense runs check them."""
    eps, limit = 1e-10, 10**8
    base_dim, base_cond, base_depth = 8, 4.0, 8
    if quick:
        depths = [1, 2, 4, 8, 16, 32, 64]
        conds = [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
        dims = [2, 8, 32, 128, 512]
        dense_cases = [(6, 4.0, 2), (6, 4.0, 8)]
    else:
        depths = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        conds = [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0]
        dims = [2, 8, 32, 128, 512, 2048]
        dense_cases = [(6, 4.0, 2), (6, 4.0, 8), (16, 16.0, 16), (32, 4.0, 4)]
    epsilons = [10.0**-k for k in range(2, 16, 2)]
    seed = _seed(rng)

    def spd(dim: int, cond: float) -> np.ndarray:
        return targets.spd(dim, cond, seed=seed)

    # (sweep, d, κ, L, ε) of each run; the other parameters stay at their base values
    jobs = (
        [("depth", base_dim, base_cond, L, eps) for L in depths]
        + [("cond", base_dim, k, base_depth, eps) for k in conds]
        + [("eps", base_dim, base_cond, base_depth, e) for e in epsilons]
        + [("dim", d, base_cond, base_depth, eps) for d in dims]
    )
    steps: dict[str, list[int]] = {"depth": [], "cond": [], "eps": [], "dim": []}
    for sweep, dim, cond, depth, target_eps in _bar(jobs, progress, "Theorem 2"):
        steps[sweep].append(_steps_to(spd(dim, cond), depth, target_eps, limit))
    sweeps: dict[str, tuple[list[float], list[int]]] = {
        "depth": ([float(L) for L in depths], steps["depth"]),
        "cond": (conds, steps["cond"]),
        "eps": (epsilons, steps["eps"]),
        "dim": ([float(d) for d in dims], steps["dim"]),
    }
    fits = growth_verdicts(sweeps)
    # Theorem 2's bound with constant 1, for the κ sweep: measured/bound should stay bounded.
    bound_ratio = [
        s
        / theory.theorem2_steps(
            spd(base_dim, k),
            base_depth,
            theory.theorem2_lr(spd(base_dim, k), base_depth),
            k**-0.5,
            eps,
        )
        for k, s in zip(conds, steps["cond"])
    ]
    dense = []
    for dim, cond, depth in _bar(dense_cases, progress, "Theorem 2 (dense)"):
        phi = spd(dim, cond)
        lr = theory.theorem2_lr(phi, depth)
        exact = _steps_to(phi, depth, eps, limit)
        to_eps = training.train(
            phi, depth, lr=lr, max_steps=10 * exact + 10, tol=eps, record_every=10**9
        )
        to_limit = training.train(
            phi, depth, lr=lr, max_steps=40 * exact + 100, tol=1e-20, record_every=10**9
        )
        root = _principal_root(phi, depth)
        dense.append(
            {
                "d": dim,
                "cond": cond,
                "depth": depth,
                "exact_steps": exact,
                "dense_steps": to_eps.steps,
                "final_loss": to_limit.final_loss,
                "root_distance": float(max(_spectral_norm(t - root) for t in to_limit.layers)),
            }
        )
    dense_ok = all(
        abs(r["dense_steps"] - r["exact_steps"]) <= max(1, 1e-3 * r["exact_steps"])
        and r["root_distance"] <= 1e-8
        for r in dense
    )
    passed = fits["passed"] and dense_ok
    return Claim(
        name="theorem2",
        title="SPD targets are learned; steps grow polynomially in L, κ and logarithmically in 1/ε, d",
        section="Sec. 4, Theorem 2",
        statement="For symmetric Φ with λ_min(Φ) ≥ γ (0 < γ < 1), L ≥ c₃ ln(‖Φ‖₂/γ) and "
        "η ≤ 1/(L(1+‖Φ‖₂²)), GD from I reaches ℓ ≤ ε in poly(L, ‖Φ‖₂/γ, 1/η)·log(d/ε) "
        "steps (the proof: O((1/(ηLγ²))·ln(dL ln Γ/(γε)))); the layers tend to Φ^{1/L}.",
        setup=f"targets.spd (eigenvalues log-spaced in [κ^(−1/2), κ^(1/2)]), η = 1/(L(1+‖Φ‖₂²)); "
        f"steps to ε by the exact dynamics (Lemmas 5–6) for L ∈ {depths} (κ = 4), κ ∈ "
        f"{[int(k) for k in conds]} (L = 8), ε ∈ 1e-2…1e-14 and d ∈ {dims} (d = 8, κ = 4, L = 8, "
        f"ε = 1e-10 unless varied); dense GD for (d, κ, L) ∈ {dense_cases}.",
        observed=f"all {sum(len(v) for v in steps.values())} runs converged: "
        f"{fits['all_converged']}; log-log slope vs L = {fits['depth_slope']:.2f}, vs κ = "
        f"{fits['cond_slope']:.2f}; steps per unit ln(1/ε) = {fits['eps_slope']:.1f} "
        f"(R² = {fits['eps_r2']:.4f}); steps per unit ln d = {fits['dim_slope']:.1f}; "
        f"steps/bound(c=1) over κ ∈ [{min(bound_ratio):.2f}, {max(bound_ratio):.2f}]; dense "
        f"steps = exact ± {max(abs(r['dense_steps'] - r['exact_steps']) for r in dense)}, "
        f"max‖Θ_i − Φ^(1/L)‖₂ = {max(r['root_distance'] for r in dense):.1e}.",
        criterion="every run converges; log-log slope in L ≤ 1 (the bound depends on L only "
        "through ln L at this η) and in κ ≤ 2.5 (the bound is (1+κ)κ·log); steps affine in "
        "ln(1/ε) (R² ≥ 0.99); slope in ln d ≤ slope in ln(1/ε) (they enter as ln(d/ε)); dense "
        "steps = exact ± max(1, 0.1%), dense layers within 1e-8 of Φ^(1/L).",
        passed=passed,
        notes="The steps depend on Φ only through its eigenvalues (Lemma 6), so one random "
        "basis serves every sweep. The κ exponent approaches the bound's 2 from below as κ "
        "grows; depth costs almost nothing at η = 1/(L(1+‖Φ‖₂²)) (the steps saturate); d only "
        "adds its logarithm, with a smaller coefficient than ln(1/ε). The bound with "
        "constant 1 tracks the measured steps within a small constant factor across κ.",
        numbers={
            "eps": eps,
            "depths": depths,
            "steps_vs_depth": steps["depth"],
            "conds": conds,
            "steps_vs_cond": steps["cond"],
            "bound_ratio_vs_cond": bound_ratio,
            "epsilons": epsilons,
            "steps_vs_eps": steps["eps"],
            "dims": dims,
            "steps_vs_dim": steps["dim"],
            "fits": fits,
            "dense": dense,
        },
        figure={
            "sweeps": {k: [x, y] for k, (x, y) in sweeps.items()},
            "fits": fits,
        },
    )


# -- 3. Lemmas 5–6 ----------------------------------------------------------------------------
def symmetric_run_deviations(
    phi: np.ndarray, depth: int, steps: int, records: int = 60, init: np.ndarray | None = None
) -> dict[str, Any]:
    """Dense GD from I on Φ against Lemmas 5–6 (Sec. 4), at ``records`` recorded steps.

    With Φ = U diag(μ) Uᵀ, Lemma 5 says all layers stay equal, symmetric and commute with Φ;
    Lemma 6 that each layer is U diag(a) Uᵀ with a_k ← a_k − η a_k^{L−1}(a_k^L − μ_k), a_k(0) = 1.
    Returns the largest deviations (relative to 1 + max|Θ|), the recursion against
    ``spectral_gd`` and the dense losses, and whether each a_k moved monotonically.
    ``init`` replaces the identity initialization of the dense run (the lemmas then no longer
    apply, and the check fails).
    """
    lr = theory.theorem2_lr(phi, depth)
    mu, basis = np.linalg.eigh(0.5 * (phi + phi.T))
    record_every = max(1, steps // records)
    worst = {"equal": 0.0, "symmetric": 0.0, "commute": 0.0, "eigenvalues": 0.0}
    trajectory: list[tuple[int, np.ndarray]] = []

    def check(step: int, layers: np.ndarray, loss: float) -> None:
        scale = 1.0 + float(np.abs(layers).max())
        worst["equal"] = max(worst["equal"], float(np.abs(layers - layers[0]).max()) / scale)
        worst["symmetric"] = max(
            worst["symmetric"], float(np.abs(layers - layers.transpose(0, 2, 1)).max()) / scale
        )
        worst["commute"] = max(
            worst["commute"], float(np.abs(layers[0] @ phi - phi @ layers[0]).max()) / scale
        )
        trajectory.append((step, np.diag(basis.T @ layers[0] @ basis).copy()))

    dense = training.train(
        phi, depth, lr=lr, max_steps=steps, init=init, record_every=record_every, callback=check
    )
    a = np.ones_like(mu)
    recursion = [a.copy()]
    for _ in range(steps):
        a = a - lr * a ** (depth - 1) * (a**depth - mu)
        recursion.append(a.copy())
    history = np.array(recursion)
    for step, eigenvalues in trajectory:
        worst["eigenvalues"] = max(
            worst["eigenvalues"], float(np.abs(eigenvalues - history[step]).max())
        )
    exact = spectral.spectral_gd(phi, depth, lr=lr, max_steps=steps, record_every=record_every)
    spectral_gap = float(np.abs(exact.extras["a"] - history[-1]).max())
    # relative, except once ℓ has fallen 12 orders below ℓ(0), where only rounding is left
    loss_gap = float(
        np.max(np.abs(dense.losses - exact.losses) / (exact.losses + 1e-12 * exact.losses[0]))
    )
    moves = np.diff(history, axis=0)
    monotone = all(
        bool(np.all(moves[:, k] <= 1e-15) or np.all(moves[:, k] >= -1e-15)) for k in range(mu.size)
    )
    passed = max(worst.values()) <= 1e-9 and spectral_gap <= 1e-12 and loss_gap <= 1e-9 and monotone
    return {
        "d": phi.shape[0],
        "depth": depth,
        "steps": steps,
        "lr": lr,
        "deviations": worst,
        "spectral_vs_recursion": spectral_gap,
        "dense_vs_spectral_loss": loss_gap,
        "monotone": monotone,
        "final_root_gap": float(np.abs(history[-1] - np.abs(mu) ** (1.0 / depth)).max()),
        "passed": bool(passed),
        "_trajectory": {
            "steps": [s for s, _ in trajectory],
            "eigenvalues": [e.tolist() for _, e in trajectory],
            "limits": (np.abs(mu) ** (1.0 / depth)).tolist(),
        },
    }


def lemmas56(rng: np.random.Generator, quick: bool, progress: bool) -> Claim:
    """Lemmas 5–6 (Sec. 4): for symmetric Φ = U diag(μ) Uᵀ, GD from I keeps every layer equal to
    U diag(a) Uᵀ with a_k ← a_k − η a_k^{L−1}(a_k^L − μ_k); dense and spectral runs agree."""
    cases = [
        ("SPD, κ = 20", 6, 6, 20.0),
        ("partial reflection a = 1, b = 0.6", 5, 3, None),
    ]
    if not quick:
        cases += [("SPD, κ = 100", 8, 12, 100.0), ("SPD, κ = 4", 4, 2, 4.0)]
    steps = 600 if quick else 3000
    runs = []
    for label, dim, depth, cond in _bar(cases, progress, "Lemmas 5–6"):
        phi = (
            targets.spd(dim, cond, seed=_seed(rng))
            if cond is not None
            else targets.partial_reflection(dim, 1.0, 0.6, seed=_seed(rng))
        )
        run = symmetric_run_deviations(phi, depth, steps)
        run["target"] = label
        runs.append(run)
    worst = {key: max(r["deviations"][key] for r in runs) for key in runs[0]["deviations"]}
    described = "; ".join(f"{r['target']}, d = {r['d']}, L = {r['depth']}" for r in runs)
    passed = all(r["passed"] for r in runs)
    return Claim(
        name="lemmas56",
        title="Symmetric targets: equal symmetric layers, scalar eigenvalue recursions",
        section="Sec. 4, Lemmas 5–6",
        statement="For symmetric Φ = U diag(μ) Uᵀ, the layers of GD from I stay equal, "
        "symmetric and commuting with Φ (Lemma 5), and each is U diag(a) Uᵀ with "
        "a_k ← a_k − η a_k^{L−1}(a_k^L − μ_k), a_k(0) = 1 (Lemma 6).",
        setup=f"{len(runs)} targets ({described}), "
        f"{steps} dense GD steps at η = 1/(L(1+‖Φ‖₂²)), checked at every 1/60 of the run; "
        "the recursion in numpy; spectral_gd on the same Φ.",
        observed=f"max relative deviation: layers unequal {worst['equal']:.1e}, asymmetric "
        f"{worst['symmetric']:.1e}, not commuting with Φ {worst['commute']:.1e}; layer "
        f"eigenvalues vs recursion {worst['eigenvalues']:.1e}; spectral_gd vs recursion "
        f"{max(r['spectral_vs_recursion'] for r in runs):.1e}; dense vs spectral loss "
        f"{max(r['dense_vs_spectral_loss'] for r in runs):.1e} (relative); every a_k monotone: "
        f"{all(r['monotone'] for r in runs)}.",
        criterion="all deviations ≤ 1e-9; spectral_gd equals the recursion to 1e-12; dense and "
        "spectral losses agree to 1e-9 relative (to ℓ(t) + 1e-12·ℓ(0)); each a_k(t) monotone in t (PAPER.md: μ_k > 0 "
        "moves a_k monotonically from 1 to μ_k^{1/L}).",
        passed=passed,
        notes="GD on a symmetric target is exactly d independent scalar recursions, which is "
        "what makes spectral_gd (O(d) per step) a faithful stand-in for the dense O(Ld³) step "
        "in the sweeps of Theorem 2.",
        numbers={"runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]},
        figure=runs[0]["_trajectory"] | {"depth": runs[0]["depth"], "target": runs[0]["target"]},
    )


# -- 4. Theorem 3 -----------------------------------------------------------------------------
def power_projection_run(
    phi: np.ndarray, depth: int, gamma: float, *, max_steps: int, rate_steps: int
) -> dict[str, Any]:
    """Power projection (Algorithm 2, Sec. 5) on Φ, checked against Theorem 3 and its lemmas.

    Run A at η = 0.5/(L(1+‖Φ‖₂²)) to ℓ ≤ 1e-13, diagnostics at every step: the product stays
    in H_γ (margin ≥ γ, Lemma 8), the layers stay balanced (Θ_{i+1}ᵀΘ_{i+1} = Θ_iΘ_iᵀ, Lemma 7)
    and σ_min(Θ_i) ≥ γ^{1/L} (Lemma 13). Run B at Theorem 3's η = 1/(3Ld⁵‖Φ‖_F²) for
    ``rate_steps`` steps: where the proof's step-size condition
    η ≤ 1/(3Ld⁵ max{U^{2L}, ‖Φ‖₂²}) (U = largest layer norm seen) holds, every step contracts
    as in the proof's (8): ℓ(t+1) ≤ (1 − ηLγ²) ℓ(t). Plain GD from I runs beside A.
    ``passed``: A converges and keeps its invariants (tolerances 1e-9) and B contracts.
    """
    norm2 = _spectral_norm(phi)
    lr = 0.5 / (depth * (1.0 + norm2**2))
    result = training.train(
        phi,
        depth,
        "power_projection",
        gamma=gamma,
        lr=lr,
        max_steps=max_steps,
        tol=1e-13,
        diagnostics=True,
    )
    diag = _diagnostics(result)
    layer_scale = 1.0 + norm2 ** (2.0 / depth)
    plain = training.train(phi, depth, lr=lr, max_steps=max_steps, tol=1e-13, record_every=1)
    slow_lr = theory.theorem3_lr(phi, depth, c=3.0)
    slow = training.train(
        phi,
        depth,
        "power_projection",
        gamma=gamma,
        lr=slow_lr,
        max_steps=rate_steps,
        diagnostics=True,
    )
    u_max = max(float(_diagnostics(slow)["max_singular"].max()), norm2 ** (1.0 / depth))
    condition = slow_lr <= 1.0 / (
        3 * depth * phi.shape[0] ** 5 * max(u_max ** (2 * depth), norm2**2)
    )
    contraction = 1.0 - slow_lr * depth * gamma**2
    ratios = slow.losses[1:] / slow.losses[:-1]
    run: dict[str, Any] = {
        "gamma": gamma,
        "margin_of_phi": core.positivity_margin(phi),
        "depth": depth,
        "lr": lr,
        "status": result.status,
        "steps": result.steps,
        "final_loss": result.final_loss,
        "min_margin_minus_gamma": float(diag["margin"].min() - gamma),
        "min_singular_over_floor": float(diag["min_singular"].min() / gamma ** (1.0 / depth)),
        "max_balancedness": float(diag["balancedness"].max() / layer_scale),
        "practical_max_ratio_over_contraction": float(
            np.max(result.losses[1:] / result.losses[:-1]) / (1 - lr * depth * gamma**2)
        ),
        "theorem3_lr": slow_lr,
        "theorem3_condition_holds": bool(condition),
        "theorem3_contraction": contraction,
        "theorem3_max_ratio": float(ratios.max()),
        "gd_status": plain.status,
        "gd_steps": plain.steps,
        "gd_final_loss": plain.final_loss,
    }
    run["invariants_ok"] = bool(
        run["min_margin_minus_gamma"] >= -1e-9
        and run["min_singular_over_floor"] >= 1 - 1e-9
        and run["max_balancedness"] <= 1e-9
    )
    run["contraction_ok"] = bool(condition and np.all(ratios <= contraction * (1 + 1e-12)))
    run["passed"] = bool(
        result.status == "converged" and run["invariants_ok"] and run["contraction_ok"]
    )
    run["_curve"] = {
        "steps": result.loss_steps.tolist(),
        "power_projection": result.losses.tolist(),
        "gd_steps": plain.loss_steps.tolist(),
        "gd": plain.losses.tolist(),
        "margin": diag["margin"].tolist(),
        "balancedness": diag["balancedness"].tolist(),
        "min_singular": diag["min_singular"].tolist(),
        "gamma": gamma,
        "depth": depth,
    }
    return run


def theorem3(rng: np.random.Generator, quick: bool, progress: bool) -> Claim:
    """Theorem 3 (Sec. 5): power projection learns every γ-positive Φ (uᵀΦu > γ), symmetric or
    not, keeping Θ_{1:L} ∈ H_γ, balanced layers and σ_min(Θ_i) ≥ γ^{1/L}; ℓ contracts by
    (1 − ηLγ²) per step at the theorem's step size (``power_projection_run``)."""
    dim = 6
    cases = [
        ("rotation by 0.5 rad", targets.rotation(dim, 0.5, seed=_seed(rng))),
        ("rotation by 1.2 rad", targets.rotation(dim, 1.2, seed=_seed(rng))),
        ("rotation by 1.5 rad", targets.rotation(dim, 1.5, seed=_seed(rng))),
        (
            "partial reflection a = 1, b = 0.7",
            targets.partial_reflection(dim, 1.0, 0.7, seed=_seed(rng)),
        ),
        ("random γ-positive", targets.gamma_positive(dim, 0.3, seed=_seed(rng))),
    ]
    if not quick:
        cases += [
            ("2 × rotation by 1.0 rad", 2.0 * targets.rotation(dim, 1.0, seed=_seed(rng))),
            (
                "partial reflection a = 1, b = −0.9",
                targets.partial_reflection(dim, 1.0, -0.9, seed=_seed(rng)),
            ),
            ("random γ-positive (γ = 0.05)", targets.gamma_positive(dim, 0.05, seed=_seed(rng))),
            ("random γ-positive (γ = 1)", targets.gamma_positive(dim, 1.0, seed=_seed(rng))),
            ("random γ-positive, d = 3", targets.gamma_positive(3, 0.3, seed=_seed(rng))),
            ("random γ-positive, d = 10", targets.gamma_positive(10, 0.3, seed=_seed(rng))),
        ]
    depths = (4,) if quick else (2, 4, 8)
    jobs = [(name, phi, depth) for name, phi in cases for depth in depths]
    runs, curves = [], {}
    for name, phi, depth in _bar(jobs, progress, "Theorem 3"):
        run = power_projection_run(
            phi,
            depth,
            0.5 * core.positivity_margin(phi),
            max_steps=20_000,
            rate_steps=300 if quick else 2000,
        )
        run["target"] = name
        runs.append(run)
        if depth == depths[0]:
            curves[name] = run["_curve"]
    passed = all(r["passed"] for r in runs)
    gd_converged = sum(r["gd_status"] == "converged" for r in runs)
    return Claim(
        name="theorem3",
        title="Power projection learns γ-positive (asymmetric) targets with its invariants intact",
        section="Sec. 5, Theorem 3 (Algorithm 2; Lemmas 7, 8, 13)",
        statement="For any Φ with uᵀΦu > γ for all unit u, power projection reaches ℓ ≤ ε in "
        "poly(d, ‖Φ‖_F, 1/γ)·log(1/ε) steps: ℓ(t+1) ≤ (1 − ηLγ²)ℓ(t) (proof, (8)); Θ_{1:L} stays "
        "in H_γ, the layers stay balanced, σ_min(Θ_i) ≥ γ^{1/L}.",
        setup=f"d = {dim} unless stated, L ∈ {list(depths)}, targets: "
        f"{', '.join(n for n, _ in cases)}; "
        "γ = half the target's margin; (A) η = 0.5/(L(1+‖Φ‖₂²)) until ℓ ≤ 1e-13, diagnostics "
        f"at every step, plain GD from I beside it; (B) η = 1/(3Ld⁵‖Φ‖_F²) for "
        f"{300 if quick else 2000} steps.",
        observed=f"(A) {sum(r['status'] == 'converged' for r in runs)}/{len(runs)} converged, in "
        f"{min(r['steps'] for r in runs)}–{max(r['steps'] for r in runs)} steps; min over steps of "
        f"margin − γ = {min(r['min_margin_minus_gamma'] for r in runs):.1e}, of "
        f"σ_min/γ^(1/L) = {min(r['min_singular_over_floor'] for r in runs):.6f}; max imbalance "
        f"{max(r['max_balancedness'] for r in runs):.1e} (relative). (B) step condition held in "
        f"{sum(r['theorem3_condition_holds'] for r in runs)}/{len(runs)}; max ℓ(t+1)/ℓ(t) − "
        f"(1 − ηLγ²) = {max(r['theorem3_max_ratio'] - r['theorem3_contraction'] for r in runs):.1e}. "
        f"Plain GD from I converged on {gd_converged}/{len(runs)}, in "
        f"{min(r['gd_steps'] for r in runs)}–{max(r['gd_steps'] for r in runs)} steps.",
        criterion="(A) ℓ ≤ 1e-13 within 20000 steps with margin ≥ γ − 1e-9, σ_min(Θ_i) ≥ "
        "γ^{1/L}(1 − 1e-9) and imbalance ≤ 1e-9·(1 + ‖Φ‖₂^{2/L}) at every step; (B) the proof's "
        "step condition holds and ℓ(t+1) ≤ (1 − ηLγ²)ℓ(t)(1 + 1e-12) at every step.",
        passed=passed,
        notes="The invariants hold to rounding at every step: the margin sits exactly at γ "
        "while the projection is active and σ_min(Θ_i) equals γ^{1/L} at the start. Plain GD "
        "from I also learns every one of these targets, usually in fewer steps: the theorem's "
        "point is that power projection comes with a proof for all γ-positive targets, "
        "asymmetric ones included, not that GD fails on them. At the theorem's step size the "
        "per-step contraction (1 − ηLγ²) holds but is close to 1 (η ∝ 1/d⁵).",
        numbers={"runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]},
        figure={"curves": curves},
    )


# -- 5. Theorems 4–5 and 6. Section 6 -----------------------------------------------------------
FAILURE_METHODS: list[tuple[str, str, int, dict[str, float]]] = [
    ("GD, L = 2", "gd", 2, {}),
    ("GD, L = 4", "gd", 4, {}),
    ("GD, L = 3 (odd)", "gd", 3, {}),
    ("penalty κ = 0.1, L = 2", "penalty", 2, {"kappa": 0.1}),
    ("penalty κ = 1, L = 4", "penalty", 4, {"kappa": 1.0}),
    ("step-and-project ψ = 2, L = 2", "step_and_project", 2, {"psi": 2.0}),
    ("step-and-project ψ = 0.5, L = 4, γ = 0.5", "step_and_project", 4, {"psi": 0.5, "gamma": 0.5}),
    ("step-and-project ψ = 1, L = 3", "step_and_project", 3, {"psi": 1.0}),
]
"""(label, method, L, options): each inside a theorem's hypotheses — penalty GD with L even
(Theorem 4; GD is κ = 0), step-and-project with L even or ψ ≤ 1 (Theorem 5) — except plain GD
with odd L, which Sec. 6 says fails too (a_k tends to 0 and never crosses it)."""


def plateau_runs(
    phi: np.ndarray,
    floor: float,
    steps: int,
    *,
    methods: Sequence[tuple[str, str, int, dict[str, float]]] = FAILURE_METHODS,
    lr_factors: Sequence[float] = (0.5,),
    progress: bool = False,
    desc: str = "plateaus",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run each method from (a multiple of) I on Φ and check ℓ(t) ≥ ``floor`` at every step.

    Theorems 4–5 (Sec. 6): for symmetric Φ with eigenvalue −λ, every recorded loss must stay
    ≥ λ²/2 (pass floor = Σ over negative eigenvalues of μ²/2). The step size is
    f/(L(1 + λ_max(|Φ|)²)) for each f in ``lr_factors`` (the theorems allow any step size).
    A run passes when min_t ℓ(t) ≥ floor − 1e-12. Returns (runs, loss curves).
    """
    scale = float(np.abs(np.linalg.eigvalsh(0.5 * (phi + phi.T))).max())
    jobs = [(m, f) for m in methods for f in lr_factors]
    runs, curves = [], {}
    for (label, method, depth, options), factor in _bar(jobs, progress, desc):
        lr = factor / (depth * (1.0 + scale**2))
        result = training.train(
            phi, depth, method, lr=lr, max_steps=steps, record_every=1, **options
        )
        minimum = float(result.losses.min())
        runs.append(
            {
                "method": label,
                "lr": lr,
                "status": result.status,
                "min_loss": minimum,
                "final_loss": result.final_loss,
                "floor": floor,
                "passed": bool(minimum >= floor - 1e-12),
            }
        )
        if factor == lr_factors[0]:
            curves[label] = _thin(result.loss_steps, result.losses)
    return runs, curves


def _negative_floor(mu: np.ndarray) -> float:
    """Σ over negative eigenvalues μ_k of μ_k²/2: the loss floor of Theorems 4–5."""
    return float(np.sum(mu[mu < 0] ** 2) / 2)


def _failure_experiment(
    phi: np.ndarray, steps: int, lr_factors: Sequence[float], progress: bool, desc: str
) -> dict[str, Any]:
    """The plateau checks for one symmetric Φ with negative eigenvalues (Theorems 4–5).

    Every method is equivariant under Θ_i ↦ UᵀΘ_iU (the gradient, the penalty and both
    projections commute with an orthogonal change of basis, and the initializations are
    multiples of I), so its run on Φ = U diag(μ) Uᵀ is, in exact arithmetic, the run on
    diag(μ) conjugated by U. The criterion uses diag(μ), where float64 keeps the symmetry of
    Lemma 5 exactly, and ``spectral_gd`` on Φ itself (the exact reduction of GD). Dense runs on
    Φ itself are reported apart: there rounding breaks the symmetry.
    """
    mu, _ = np.linalg.eigh(phi)
    floor = _negative_floor(mu)
    exact_runs, curves = plateau_runs(
        np.diag(mu), floor, steps, lr_factors=lr_factors, progress=progress, desc=desc
    )
    spectral_runs = []
    for depth in (2, 3, 4):
        result = spectral.spectral_gd(
            phi, depth, lr=0.5 * theory.theorem2_lr(phi, depth), max_steps=steps, record_every=1
        )
        minimum = float(result.losses.min())
        spectral_runs.append(
            {
                "method": f"spectral_gd, L = {depth}",
                "min_loss": minimum,
                "floor": floor,
                "passed": bool(minimum >= floor - 1e-12),
            }
        )
    rotated_runs, rotated_curves = plateau_runs(
        phi, floor, steps, progress=progress, desc=desc + " (random basis)"
    )
    escapes = {}
    for run, (label, _, _, _) in zip(rotated_runs, FAILURE_METHODS):
        steps_, losses = rotated_curves[label]
        below = np.flatnonzero(np.asarray(losses) < floor - 1e-9)
        escapes[label] = int(steps_[below[0]]) if below.size else None
        run["escaped_at"] = escapes[label]
    return {
        "mu": mu.tolist(),
        "floor": floor,
        "exact_runs": exact_runs,
        "spectral_runs": spectral_runs,
        "random_basis_runs": rotated_runs,
        "escapes": escapes,
        "passed": all(r["passed"] for r in exact_runs + spectral_runs),
        "_curves": curves,
        "_rotated_curves": rotated_curves,
    }


def _escape_text(experiments: list[dict[str, Any]]) -> str:
    escaped = [
        (label, step)
        for e in experiments
        for label, step in e["escapes"].items()
        if step is not None
    ]
    total = sum(len(e["escapes"]) for e in experiments)
    if not escaped:
        return f"dense float64 runs on the randomly rotated Φ stayed on the plateau ({total} runs)."
    first = min(step for _, step in escaped)
    return (
        f"dense float64 runs on the randomly rotated Φ left the plateau in {len(escaped)}/{total} "
        f"runs (earliest at step {first}; e.g. {escaped[0][0]})."
    )


def _strip(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if not k.startswith("_")}


def theorems45(rng: np.random.Generator, quick: bool, progress: bool) -> Claim:
    """Theorems 4–5 (Sec. 6): for symmetric Φ with an eigenvalue −λ < 0, GD and penalty GD with
    L even and step-and-project with L even or ψ ≤ 1 keep ℓ(t) ≥ λ²/2 at every step t, from
    the identity (``plateau_runs``)."""
    dims = (4,) if quick else (4, 8)
    lams = (0.5, 2.0) if quick else (0.25, 0.5, 1.0, 2.0, 4.0)
    steps = 2000 if quick else 20_000
    lr_factors = (0.5,) if quick else (0.5, 1.0)
    experiments = []
    for dim, lam in itertools.product(dims, lams):
        phi = targets.negative_eigenvalue(dim, lam, count=1, seed=_seed(rng))
        experiment = _failure_experiment(phi, steps, lr_factors, progress, f"Theorems 4–5 λ={lam}")
        experiment.update(d=dim, lam=lam)
        experiments.append(experiment)
    passed = all(e["passed"] for e in experiments)
    exact = [r for e in experiments for r in e["exact_runs"] + e["spectral_runs"]]
    margin = min(r["min_loss"] - r["floor"] for r in exact)
    return Claim(
        name="theorems45",
        title="A negative eigenvalue −λ keeps the loss ≥ λ²/2 for GD, penalty GD and step-and-project",
        section="Sec. 6, Theorems 4–5",
        statement="If Φ is symmetric with an eigenvalue −λ < 0, then from the identity penalty GD "
        "on ℓ + (κ/2)Σ‖I − Θ_i‖_F² with L even (Theorem 4; plain GD is κ = 0) and ψ-step-and-"
        "project with L even or ψ ≤ 1 (Theorem 5) keep ℓ(t) ≥ λ²/2 for all t; plain GD with "
        "odd L fails too.",
        setup=f"Φ = targets.negative_eigenvalue(d, λ) (random eigenbasis U, eigenvalues −λ, 1, …) "
        f"for d ∈ {list(dims)}, λ ∈ {list(lams)}; {steps} steps of each of: "
        f"{'; '.join(m[0] for m in FAILURE_METHODS)}, at η = f/(L(1+λ_max²)), f ∈ "
        f"{list(lr_factors)}, run in Φ's eigenbasis (equivariance); spectral_gd on Φ for "
        "L ∈ {2, 3, 4}; the same dense runs on Φ itself as a side experiment.",
        observed=f"{len(exact)} exact runs: min over runs and steps of ℓ(t) − λ²/2 = "
        f"{margin:.2e} (every run ends on the plateau). Side experiment: "
        + _escape_text(experiments),
        criterion="ℓ(t) ≥ λ²/2 − 1e-12 at every step of every exact run (dense runs in the "
        "eigenbasis and spectral_gd on Φ).",
        passed=passed,
        notes="In exact arithmetic the layers stay commuting normal with Φ (Lemma 5) and the "
        "layer eigenvalue belonging to −λ can only reach 0, so Θ_{1:L} never gets a negative "
        "eigenvalue. In float64 with a random eigenbasis that symmetry is only approximate: "
        "rounding errors of size 1e-16 seed an asymmetric direction that grows exponentially "
        "near the saddle a_k = 0, and dense GD leaves the plateau after a few hundred steps. "
        "The theorems are exact statements about a measure-zero set of initializations; the "
        "paper itself remarks that convergence is only very slow for initializations close "
        "to I — here 'close' is 1e-16 and 'slow' is a few hundred steps.",
        numbers={"experiments": [_strip(e) for e in experiments]},
        figure={
            "panels": [
                {
                    "lam": e["lam"],
                    "d": e["d"],
                    "floor": e["floor"],
                    "curves": e["_curves"],
                    "rotated": {"GD, L = 2": e["_rotated_curves"]["GD, L = 2"]},
                }
                for e in experiments
                if e["d"] == dims[0]
            ]
        },
    )


def _near_identity_representation(phi: np.ndarray, depth: int) -> np.ndarray:
    """Layers close to I whose product is Φ = U diag(−λ₁, −λ₂, μ₃, …) Uᵀ (λ₁ ≈ λ₂ > 0, μ_k > 0).

    In Φ's eigenbasis −λ I₂ = λ R(π) on the plane of the two negative eigenvectors, so
    Θ_i = U (s R(π/L) ⊕ diag(μ_k^{1/L})) Uᵀ with s = (λ₁λ₂)^{1/(2L)} multiplies to Φ and has
    ‖Θ_i − I‖₂ ≤ max(|s − 1| + 2s sin(π/(2L)), max_k |μ_k^{1/L} − 1|) (Hardt & Ma's
    representation for det Φ > 0, made explicit for this Φ).
    """
    mu, basis = np.linalg.eigh(phi)
    angle = math.pi / depth
    scale = math.sqrt(abs(mu[0] * mu[1])) ** (1.0 / depth)
    block = np.diag(np.r_[np.zeros(2), mu[2:] ** (1.0 / depth)])
    block[:2, :2] = scale * np.array(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    layer = basis @ block @ basis.T
    return np.repeat(layer[np.newaxis], depth, axis=0)


def section6(rng: np.random.Generator, quick: bool, progress: bool) -> Claim:
    """Section 6: Φ = diag(−λ, −λ, 1, …, 1) (in a random basis) has det Φ = λ² > 0 and
    condition number max(λ, 1/λ), so it is a product of near-identity layers (Hardt & Ma), yet
    every method of Theorems 4–5 from the identity keeps ℓ(t) ≥ λ² (λ²/2 per negative
    eigenvalue), while ℓ(I) = (1 + λ)²."""
    dims = (4,) if quick else (4, 8)
    lams = (1.0,) if quick else (0.5, 1.0, 2.0)
    steps = 2000 if quick else 20_000
    experiments = []
    for dim, lam in itertools.product(dims, lams):
        phi = targets.negative_eigenvalue(dim, lam, count=2, seed=_seed(rng))
        mu = np.linalg.eigvalsh(phi)
        experiment = _failure_experiment(phi, steps, (0.5,), progress, f"Section 6 λ={lam}")
        representation = {}
        for depth in (8, 32):
            layers = _near_identity_representation(phi, depth)
            representation[str(depth)] = {
                "product_error": float(np.linalg.norm(core.product(layers) - phi)),
                "max_distance_from_identity": float(
                    max(_spectral_norm(t - np.eye(dim)) for t in layers)
                ),
                "loss": core.loss(layers, phi),
            }
        experiment.update(
            d=dim,
            lam=lam,
            det=float(np.linalg.det(phi)),
            cond=float(np.abs(mu).max() / np.abs(mu).min()),
            identity_loss=theory.identity_excess_loss(phi),
            representation=representation,
        )
        experiment["properties_ok"] = bool(
            experiment["det"] > 0
            and abs(experiment["cond"] - max(lam, 1 / lam)) <= 1e-9 * max(lam, 1 / lam)
            and abs(experiment["identity_loss"] - (1 + lam) ** 2) <= 1e-9 * (1 + lam) ** 2
            and all(r["product_error"] <= 1e-12 * (1 + lam) * dim for r in representation.values())
        )
        experiments.append(experiment)
    passed = all(e["passed"] and e["properties_ok"] for e in experiments)
    exact = [r for e in experiments for r in e["exact_runs"] + e["spectral_runs"]]
    margin = min(r["min_loss"] - r["floor"] for r in exact)
    rep = experiments[-1]["representation"]

    def listed(key: str) -> str:
        return ", ".join(f"{e[key]:.3g}" for e in experiments)

    return Claim(
        name="section6",
        title="A positive-determinant, well-conditioned target that identity-initialized GD cannot learn",
        section="Sec. 6 (after Theorem 5)",
        statement="Φ = diag(−λ, −λ, 1, …, 1) has det Φ > 0 and a good condition number, so Hardt & "
        "Ma's result represents it by near-identity layers, yet GD (and the regularized methods "
        "of Theorems 4–5) from I cannot learn it: ℓ(t) ≥ λ², while ℓ(I) = (1 + λ)² is a constant.",
        setup=f"Φ = targets.negative_eigenvalue(d, λ, count=2) for d ∈ {list(dims)}, λ ∈ "
        f"{list(lams)}; the {len(FAILURE_METHODS)} methods of claim 5 for {steps} steps in Φ's "
        "eigenbasis, spectral_gd on Φ, dense runs on Φ itself as a side experiment; an "
        "explicit near-identity factorization with L ∈ {8, 32} (rotation by π/L in the "
        "negative plane).",
        observed=f"det Φ = {listed('det')}; condition number {listed('cond')}; "
        f"ℓ(I) = {listed('identity_loss')}; min over {len(exact)} "
        f"exact runs and steps of ℓ(t) − λ² = {margin:.2e}; the explicit factorization has "
        f"‖Θ_{{1:L}} − Φ‖_F = {max(r['product_error'] for e in experiments for r in e['representation'].values()):.1e} "
        f"with max‖Θ_i − I‖₂ = {rep['8']['max_distance_from_identity']:.3f} (L = 8), "
        f"{rep['32']['max_distance_from_identity']:.3f} (L = 32). Side experiment: "
        + _escape_text(experiments),
        criterion="det Φ > 0, condition number = max(λ, 1/λ), ℓ(I) = (1+λ)² (to 1e-9); the explicit "
        "near-identity layers multiply to Φ (error ≤ 1e-12·(1+λ)d); ℓ(t) ≥ λ² − 1e-12 at every "
        "step of every exact run.",
        passed=passed,
        notes="A good solution exists arbitrarily close to the identity (‖Θ_i − I‖₂ ≈ π/L), "
        "but gradient descent from the identity cannot rotate the negative plane: the layers "
        "stay symmetric and the two eigenvalues −λ are never matched. The float64 escape of "
        "claim 5 happens here too.",
        numbers={"experiments": [_strip(e) for e in experiments]},
        figure={
            "lam": experiments[0]["lam"],
            "floor": experiments[0]["floor"],
            "curves": experiments[0]["_curves"],
            "rotated": experiments[0]["_rotated_curves"],
        },
    )


# -- 7. Lemmas 2–3 ----------------------------------------------------------------------------
def lemma2_ratios(diagnostics: dict[str, np.ndarray], depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Lemma 2's ratios at states with ℓ > 0 (Sec. 3.2), from ``theory.diagnostics`` values.

    With 1 − a = min(minᵢ σ_min(Θ_i), 1) (the lemma's a ∈ [0, 1)):
    stated = ‖∇ℓ‖² / (4ℓL(1 − a)^{2L}) — the paper's statement, which needs ≥ 1;
    corrected = ‖∇ℓ‖² / (2ℓL σ^{2(L−1)}), σ = minᵢ σ_min(Θ_i) — the bound that holds (each
    G_i is E = Θ_{1:L} − Φ between products of L − 1 layers, ‖E‖_F² = 2ℓ); it implies
    stated ≥ ½.
    """
    loss = np.asarray(diagnostics["loss"], float)
    grad2 = np.asarray(diagnostics["grad_norm"], float) ** 2
    sigma = np.asarray(diagnostics["min_singular"], float)
    keep = (loss > 1e-200) & (sigma > 0)
    loss, grad2, sigma = loss[keep], grad2[keep], sigma[keep]
    stated = grad2 / (4 * loss * depth * np.minimum(sigma, 1.0) ** (2 * depth))
    corrected = grad2 / (2 * loss * depth * sigma ** (2 * (depth - 1)))
    return stated, corrected


def lemma3_ratio(layers: np.ndarray, phi: np.ndarray) -> float | None:
    """‖∇²ℓ‖_F / (3Ld⁵(1+z)^{2L}) with z = max(maxᵢ‖Θ_i‖₂ − 1, 0) (Lemma 3, Sec. 3.2), from the
    dense Hessian; None where the lemma's other hypothesis ‖Φ‖₂ ≤ (1+z)^L fails."""
    depth, dim = layers.shape[0], layers.shape[1]
    z = max(0.0, max(_spectral_norm(t) for t in layers) - 1.0)
    if _spectral_norm(phi) > (1 + z) ** depth:
        return None
    hessian = core.hessian(layers, phi)
    return float(np.linalg.norm(hessian) / theory.lemma3_hessian_bound(depth, dim, z))


def lemmas23(rng: np.random.Generator, quick: bool, progress: bool) -> Claim:
    """Lemmas 2–3 (Sec. 3.2) along GD trajectories and at random states: the gradient lower
    bound (in its corrected form ‖∇ℓ‖² ≥ 2ℓL(1−a)^{2(L−1)}, ``lemma2_ratios``) and the Hessian
    upper bound ‖∇²ℓ‖_F ≤ 3Ld⁵(1+z)^{2L} (``lemma3_ratio``)."""
    stated_all, corrected_all = [], []
    dims = (5,) if quick else (3, 5)
    depths2 = (1, 3, 8) if quick else (1, 2, 3, 8)
    excesses = (0.02, 0.2, 1.0)
    shown: dict[str, Any] = {}
    jobs = list(itertools.product(excesses, dims, depths2))
    for excess, dim, depth in _bar(jobs, progress, "Lemma 2"):
        phi = targets.near_identity(dim, excess, seed=_seed(rng))
        result = training.train(
            phi,
            depth,
            lr=0.5 * theory.theorem2_lr(phi, depth),
            max_steps=500,
            record_every=5,
            diagnostics=True,
        )
        stated, corrected = lemma2_ratios(_diagnostics(result), depth)
        stated_all.append(stated)
        corrected_all.append(corrected)
        if excess == 1.0 and depth == 3 and not shown:
            shown = {
                "steps": result.loss_steps[: stated.size].tolist(),
                "stated": stated.tolist(),
                "corrected": corrected.tolist(),
                "depth": depth,
                "d": dim,
            }
    # random states around I, any depth
    for _ in range(300 if quick else 20_000):
        dim, depth = int(rng.integers(1, 6)), int(rng.integers(1, 9))
        layers = (
            np.eye(dim) + rng.uniform(0, 0.6) * rng.standard_normal((depth, dim, dim)) / dim**0.5
        )
        phi = rng.standard_normal((dim, dim))
        values = theory.diagnostics(layers, phi)
        stated, corrected = lemma2_ratios({k: np.array([v]) for k, v in values.items()}, depth)
        stated_all.append(stated)
        corrected_all.append(corrected)
    # the counterexample: L = 1, Θ = I, Φ = 0
    counter = theory.diagnostics(np.eye(3)[np.newaxis], np.zeros((3, 3)))
    counter_stated, _ = lemma2_ratios({k: np.array([v]) for k, v in counter.items()}, 1)
    stated_arr, corrected_arr = np.concatenate(stated_all), np.concatenate(corrected_all)
    # Lemma 3 on dense Hessians
    hessian_ratios, skipped = [], 0
    lemma3_dims = (2, 4) if quick else (2, 3, 4)
    lemma3_depths = (2, 4) if quick else (1, 2, 3, 4)
    jobs3 = list(
        itertools.product(lemma3_dims, lemma3_depths, ("near I", "SPD, ‖Φ‖₂ = 0.9", "γ-positive"))
    )
    for dim, depth, family in _bar(jobs3, progress, "Lemma 3"):
        if family == "near I":
            phi = targets.near_identity(dim, 0.3, seed=_seed(rng))
        elif family == "γ-positive":
            phi = targets.gamma_positive(dim, 0.3, seed=_seed(rng))
        else:
            phi = targets.spd(dim, 3.0, seed=_seed(rng))
            phi *= 0.9 / _spectral_norm(phi)
        states: list[np.ndarray] = []

        def keep(step: int, layers: np.ndarray, loss: float, states: list = states) -> None:
            states.append(layers.copy())

        training.train(
            phi,
            depth,
            lr=0.5 * theory.theorem2_lr(phi, depth),
            max_steps=200,
            record_every=50,
            callback=keep,
        )
        for layers in states:
            ratio = lemma3_ratio(layers, phi)
            if ratio is None:
                skipped += 1
            else:
                hessian_ratios.append(ratio)
    stated_min = float(stated_arr.min())
    corrected_min = float(corrected_arr.min())
    passed = (
        corrected_min >= 1 - 1e-9
        and stated_min >= 0.5 - 1e-9
        and len(hessian_ratios) >= 10
        and max(hessian_ratios) <= 1.0
    )
    return Claim(
        name="lemmas23",
        title="Gradient and Hessian bounds hold along trajectories (Lemma 2 with a corrected constant)",
        section="Sec. 3.2, Lemmas 2–3",
        statement="Lemma 2: if σ_min(Θ_i) ≥ 1 − a for all i, then ‖∇ℓ‖² ≥ 4ℓL(1 − a)^{2L}. "
        "Lemma 3: if ‖Θ_i‖₂ ≤ 1 + z for all i and ‖Φ‖₂ ≤ (1 + z)^L, then ‖∇²ℓ‖_F ≤ 3Ld⁵(1 + z)^{2L}.",
        setup=f"Lemma 2 at {stated_arr.size} states: GD runs from I (ℓ(I) ∈ {list(excesses)}, "
        f"d ∈ {list(dims)}, L ∈ {list(depths2)}, 500 steps, every 5th state) and random states "
        "I + noise (d ≤ 5, L ≤ 8) with random Φ, 1 − a = min(minᵢσ_min(Θ_i), 1); the state "
        "L = 1, Θ = I, Φ = 0. Lemma 3: dense Hessians (dl.hessian) at steps 0, 50, …, 200 of GD "
        f"runs, d ∈ {list(lemma3_dims)}, L ∈ {list(lemma3_depths)}, Φ near I, SPD with ‖Φ‖₂ = 0.9 "
        "or γ-positive; z = max(maxᵢ‖Θ_i‖₂ − 1, 0).",
        observed=f"min ‖∇ℓ‖²/(4ℓL(1−a)^{{2L}}) = {stated_min:.4f} (the paper's form, which needs "
        f"≥ 1; below 1 at {np.mean(stated_arr < 1):.0%} of the states; exactly "
        f"{float(counter_stated[0]):.3f} at L = 1, Θ = I, Φ = 0); min ‖∇ℓ‖²/(2ℓLσ^{{2(L−1)}}) = "
        f"{corrected_min:.4f}. Lemma 3's hypothesis held at {len(hessian_ratios)} states "
        f"(failed at {skipped}); max ‖∇²ℓ‖_F / bound = {max(hessian_ratios):.2e}.",
        criterion="the corrected bound ‖∇ℓ‖² ≥ 2ℓLσ_min^{2(L−1)} at every state (ratio ≥ 1 − 1e-9), "
        "hence the paper's ratio ≥ ½ − 1e-9; Lemma 3's ratio ≤ 1 at every state where its "
        "hypotheses hold (at least 10 such states). The paper's constant 4 is reported, not required.",
        passed=bool(passed),
        notes="Lemma 2 as printed is false for the paper's own ℓ = ½‖Θ_{1:L} − Φ‖_F² by a factor "
        "2 (it is Hardt & Ma's bound for the loss without the ½): at L = 1, Θ = I, Φ = 0, "
        "‖∇ℓ‖² = d while 4ℓL = 2d; more generally at the initialization Θ_i = I itself every G_i equals E, so the ratio is exactly ½ for every Φ ≠ I and every L. What holds is ‖∇ℓ‖² ≥ 2ℓL(1−a)^{2(L−1)}, which gives the paper's "
        "form with 2 for 4; the convergence proofs only change constants (Sec. 5's (8) already "
        "uses the halved form ηLB^{2L}). Lemma 3's bound holds with a large margin (the d⁵ "
        "factor is far from tight at small d).",
        numbers={
            "stated_ratio_min": stated_min,
            "stated_ratio_fraction_below_1": float(np.mean(stated_arr < 1)),
            "counterexample_stated_ratio": float(counter_stated[0]),
            "corrected_ratio_min": corrected_min,
            "lemma2_states": int(stated_arr.size),
            "lemma3_states_checked": len(hessian_ratios),
            "lemma3_states_skipped": skipped,
            "lemma3_max_ratio": max(hessian_ratios),
            "lemma3_ratios": hessian_ratios,
        },
        figure=shown,
    )


# -- 8. Lemma 7 -------------------------------------------------------------------------------
def factorization_errors(a: np.ndarray, layers: np.ndarray) -> dict[str, float]:
    """How far ``layers`` are from a balanced factorization of A (Definition 3, Lemma 7, Sec. 5).

    ``product``: ‖Θ_L⋯Θ_1 − A‖_F / ‖A‖_F; ``singular_values``: max over layers and k of
    |σ_k(Θ_i)/σ_k(A)^{1/L} − 1|; ``balancedness``: maxᵢ ‖Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ‖_F / σ_1(A)^{2/L}.
    """
    depth = layers.shape[0]
    expected = np.linalg.svd(a, compute_uv=False) ** (1.0 / depth)
    errors = {
        "product": float(np.linalg.norm(core.product(layers) - a) / np.linalg.norm(a)),
        "singular_values": max(
            float(np.abs(np.linalg.svd(t, compute_uv=False) / expected - 1).max()) for t in layers
        ),
        "balancedness": 0.0,
    }
    for lower, upper in itertools.pairwise(layers):
        errors["balancedness"] = max(
            errors["balancedness"],
            float(np.linalg.norm(upper.T @ upper - lower @ lower.T)) / expected[0] ** 2,
        )
    return errors


def lemma7(rng: np.random.Generator, quick: bool, progress: bool) -> Claim:
    """Lemma 7 (Sec. 5, Definition 3): the balanced factorization A = A_1⋯A_L of a γ-positive A
    has σ_k(A_i) = σ_k(A)^{1/L} for every factor, multiplies to A and is balanced
    (``factorization_errors``)."""
    count = 300 if quick else 10_000
    worst = {"product": 0.0, "singular_values": 0.0, "balancedness": 0.0}
    kinds = {"γ-positive": 0, "scaled acute rotation": 0, "partial reflection": 0}
    for _ in _bar(range(count), progress, "Lemma 7"):
        dim, depth = int(rng.integers(1, 11)), int(rng.integers(1, 17))
        kind = str(rng.choice(list(kinds))) if dim >= 2 else "γ-positive"
        if kind == "γ-positive":
            a = targets.gamma_positive(dim, float(rng.uniform(0.01, 2.0)), seed=_seed(rng))
        elif kind == "scaled acute rotation":
            a = float(rng.uniform(0.2, 5.0)) * targets.rotation(
                dim, float(rng.uniform(0, 0.99 * math.pi / 2)), seed=_seed(rng)
            )
        else:
            a = targets.partial_reflection(
                dim, 1.0, float(rng.uniform(-0.98, 0.98)), seed=_seed(rng)
            )
        kinds[kind] += 1
        errors = factorization_errors(a, factorization.balanced_factorization(a, depth))
        for key, value in errors.items():
            worst[key] = max(worst[key], value)
    mix = ", ".join(f"{v} {k}" for k, v in kinds.items())
    passed = (
        worst["product"] <= 1e-10
        and worst["singular_values"] <= 1e-9
        and worst["balancedness"] <= 1e-9
    )
    return Claim(
        name="lemma7",
        title="Balanced factors have singular values σ(A)^{1/L} and multiply to A",
        section="Sec. 5, Definition 3 and Lemma 7",
        statement="The balanced factorization A_1⋯A_L = A (A_i = R^{1/L}P_i, P_i = R^{(L−i)/L}P^{1/L}"
        "R^{−(L−i)/L}) has σ_k(A_i) = σ_k(A)^{1/L} for every factor i.",
        setup=f"{count} random γ-positive A ({mix}; "
        "d ∈ 1..10, L ∈ 1..16, γ ∈ [0.01, 2], rotation angles in [0, 0.99·π/2)).",
        observed=f"max relative product error {worst['product']:.1e}; max relative singular-value "
        f"error {worst['singular_values']:.1e}; max relative imbalance {worst['balancedness']:.1e}.",
        criterion="product error ≤ 1e-10, singular values within 1e-9 (relative), imbalance "
        "‖Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ‖_F ≤ 1e-9·σ_1(A)^{2/L}, for every matrix.",
        passed=bool(passed),
        notes="Balanced layers all have the same singular values, which is what gives power "
        "projection its floor σ_min(Θ_i) ≥ γ^{1/L} (Lemma 13).",
        numbers={"count": count, "kinds": kinds, "worst": worst},
    )


CLAIMS: list[Callable[[np.random.Generator, bool, bool], Claim]] = [
    theorem1,
    theorem2,
    lemmas56,
    theorem3,
    theorems45,
    section6,
    lemmas23,
    lemma7,
]
"""The claim functions in report order."""
