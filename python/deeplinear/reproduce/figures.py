"""Figures of the reproduction report (matplotlib is the optional "plot" extra).

``make_figures`` draws one PNG per claim where a picture says more than the table: loss curves
against Theorem 1's bound, steps-to-ε with the fitted slopes (Theorem 2), the layer eigenvalues
a_k(t) against μ_k^{1/L} (Lemma 6), power projection's loss, margin and balancedness
(Theorem 3), the failure plateaus against λ²/2 (Theorems 4–5, Sec. 6) and Lemma 2's ratios.
matplotlib is imported lazily, with the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .claims import Claim

__all__ = ["make_figures"]

TINY = 1e-300  # log-scale axes cannot show 0


def _positive(values: Any, floor: float = TINY) -> np.ndarray:
    return np.maximum(np.asarray(values, float), floor)


def make_figures(claims: list[Claim], out: Path) -> tuple[list[str], str]:
    """Draw the figures of these claims into ``out``; return (file names, a note for the report).

    Without matplotlib nothing is drawn and the note says that the figures were skipped.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return (
            [],
            "Figures were skipped: matplotlib is not installed "
            "(`pip install 'deeplinear[plot]'` adds it).",
        )
    by_name = {claim.name: claim for claim in claims}
    names: list[str] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        names.append(name)

    with plt.rc_context({"font.size": 9, "axes.titlesize": 10, "legend.fontsize": 7}):
        if "theorem1" in by_name:
            save(_theorem1(plt, by_name["theorem1"].figure), "theorem1_loss.png")
        if "theorem2" in by_name:
            save(_theorem2(plt, by_name["theorem2"].figure), "theorem2_steps.png")
        if "lemmas56" in by_name:
            save(_lemmas56(plt, by_name["lemmas56"].figure), "lemmas56_eigenvalues.png")
        if "theorem3" in by_name:
            save(_theorem3(plt, by_name["theorem3"].figure), "theorem3_power_projection.png")
        if "theorems45" in by_name:
            save(_theorems45(plt, by_name["theorems45"].figure), "theorems45_plateaus.png")
        if "section6" in by_name:
            save(_section6(plt, by_name["section6"].figure), "section6_plateau.png")
        if "lemmas23" in by_name and by_name["lemmas23"].figure:
            save(_lemmas23(plt, by_name["lemmas23"].figure), "lemmas23_ratios.png")
    return names, f"{len(names)} figures: " + ", ".join(names) + "."


def _theorem1(plt: Any, data: dict[str, Any]) -> Any:
    run = data["run"]
    steps, losses, bound, radius = run["_curve"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].semilogy(steps, _positive(losses), label="GD from I: ℓ(t)")
    axes[0].semilogy(steps, _positive(bound), "--", label="Theorem 1: exp(−2tηL/c⁴)·ℓ(0)")
    axes[0].set(
        xlabel="step t",
        ylabel="loss",
        title=f"Theorem 1's own step size: c = {run['c']}, d = {run['d']}, L = {run['depth']}",
    )
    axes[0].legend()
    axes[1].plot(steps, radius, label="R(t) = max_{s≤t,i} ‖Θ_i − I‖₂")
    axes[1].axhline(run["radius_bound"], color="k", ls="--", label="ln(c)/L")
    axes[1].set(xlabel="step t", ylabel="R(t)", title="the layers stay near I")
    axes[1].set_ylim(bottom=0)
    axes[1].legend()
    for practical in data["practical"]:
        steps, losses = practical["_curve"]
        axes[2].semilogy(steps, _positive(losses), label=f"ℓ(I) = {practical['excess_loss']}")
    axes[2].set(xlabel="step t", ylabel="loss", title="practical step 1/(L(1+‖Φ‖₂²)), d = L = 8")
    axes[2].legend()
    return fig


def _theorem2(plt: Any, data: dict[str, Any]) -> Any:
    sweeps, fits = data["sweeps"], data["fits"]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    panels = [
        ("depth", "depth L", "log-log slope", True),
        ("cond", "condition number κ", "log-log slope", True),
        ("eps", "target loss ε", "steps per unit ln(1/ε)", False),
        ("dim", "dimension d", "steps per unit ln d", False),
    ]
    for ax, (key, label, slope_name, loglog) in zip(axes, panels):
        x, y = (np.asarray(v, float) for v in sweeps[key])
        slope = fits[f"{key}_slope"]
        ax.plot(x, y, "o-", label="steps to ε (exact dynamics)")
        if loglog:
            intercept = np.mean(np.log(y) - slope * np.log(x))
            ax.plot(x, np.exp(intercept) * x**slope, ":", label=f"fit: {slope_name} {slope:.2f}")
            ax.set_yscale("log")
        else:
            t = np.log(1 / x) if key == "eps" else np.log(x)
            intercept = np.mean(y - slope * t)
            ax.plot(x, intercept + slope * t, ":", label=f"fit: {slope_name} {slope:.1f}")
        ax.set_xscale("log")
        ax.set(xlabel=label, ylabel="steps", title=f"Theorem 2: steps vs {label.split()[-1]}")
        ax.legend()
    axes[2].invert_xaxis()
    return fig


def _lemmas56(plt: Any, data: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    values = np.asarray(data["eigenvalues"])
    for k in range(values.shape[1]):
        line = ax.plot(data["steps"], values[:, k], lw=1.5)[0]
        ax.axhline(data["limits"][k], color=line.get_color(), ls=":", lw=1)
    ax.set(
        xlabel="step t",
        ylabel="layer eigenvalue a_k(t)",
        title=f"Lemma 6: a_k(t) → μ_k^(1/L) (dotted); {data['target']}, L = {data['depth']}",
    )
    return fig


def _theorem3(plt: Any, data: dict[str, Any]) -> Any:
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    axes[0].set_prop_cycle(color=plt.get_cmap("tab20").colors)  # room for many targets
    for name, curve in data["curves"].items():
        line = axes[0].semilogy(curve["steps"], _positive(curve["power_projection"]), label=name)[0]
        color = line.get_color()
        axes[0].semilogy(curve["gd_steps"], _positive(curve["gd"]), ":", color=color)
        axes[1].plot(curve["steps"], np.asarray(curve["margin"]) - curve["gamma"], color=color)
        axes[2].semilogy(curve["steps"], _positive(curve["balancedness"], 1e-18), color=color)
    axes[0].set(xlabel="step", ylabel="loss", title="power projection (solid), GD from I (dotted)")
    axes[0].legend()
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set(xlabel="step", ylabel="margin − γ", title="Lemma 8: λ_min(sym Θ_{1:L}) ≥ γ")
    axes[2].set(
        xlabel="step",
        ylabel="max_i ‖Θ_{i+1}^T Θ_{i+1} − Θ_i Θ_i^T‖_F",
        title="Lemma 7: the layers stay balanced (rounding)",
    )
    return fig


def _plateau_axes(ax: Any, curves: dict[str, Any], floor: float, label: str) -> None:
    for name, (steps, losses) in curves.items():
        ax.semilogy(steps, _positive(losses), label=name, lw=1.2)
    ax.axhline(floor, color="k", ls="--", label=label)
    ax.set(xlabel="step", ylabel="loss ℓ(t)")


def _theorems45(plt: Any, data: dict[str, Any]) -> Any:
    panels = data["panels"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        _plateau_axes(ax, panel["curves"], panel["floor"], "λ²/2")
        for name, (steps, losses) in panel["rotated"].items():
            label = f"{name}, random basis (float64)"
            ax.semilogy(steps, _positive(losses), "k:", lw=1, label=label)
        ax.set_ylim(panel["floor"] / 4, None)
        ax.set_title(f"Theorems 4–5: λ = {panel['lam']}, d = {panel['d']}")
    axes[0][0].legend()
    return fig


def _section6(plt: Any, data: dict[str, Any]) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    _plateau_axes(axes[0], data["curves"], data["floor"], "λ²")
    axes[0].set_ylim(data["floor"] / 4, None)
    axes[0].set_title(f"Sec. 6: diag(−λ, −λ, 1, …), λ = {data['lam']}, exact symmetric runs")
    axes[0].legend()
    _plateau_axes(axes[1], data["rotated"], data["floor"], "λ²")
    axes[1].set_title("the same runs on the randomly rotated Φ (float64)")
    return fig


def _lemmas23(plt: Any, data: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(data["steps"], data["stated"], label="‖∇ℓ‖² / (4ℓL(1−a)^{2L})  (Lemma 2 as stated)")
    ax.plot(data["steps"], data["corrected"], label="‖∇ℓ‖² / (2ℓL(1−a)^{2(L−1)})  (corrected)")
    ax.axhline(1, color="k", ls="--", lw=1, label="1: the bound")
    ax.axhline(0.5, color="gray", ls=":", lw=1)
    ax.set(
        xlabel="step",
        ylabel="ratio",
        title=f"Lemma 2 along GD from I (d = {data['d']}, L = {data['depth']})",
    )
    ax.legend()
    return fig
