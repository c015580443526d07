"""Figures of the reproduction report (matplotlib is the optional "plot" extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .claims import Claim

__all__ = ["make_figures"]


def make_figures(claims: list[Claim], out: Path) -> tuple[list[str], str]:
    """Draw the figures that exist for these claims; return (file names, a note for the report)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return (
            [],
            "Figures were skipped: matplotlib is not installed (`pip install deeplinear[plot]`).",
        )
    by_key = {claim.key: claim for claim in claims}
    names: list[str] = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        names.append(name)

    if "theorem1" in by_key and by_key["theorem1"].figure.get("runs"):
        run = by_key["theorem1"].figure["runs"][0]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.semilogy(run["loss_steps"], run["losses"], label="GD from I: ℓ(t)")
        ax.semilogy(run["loss_steps"], run["bound"], "--", label="Theorem 1: exp(−2tηL/c⁴)ℓ(0)")
        ax.set(xlabel="step t", ylabel="loss", title="Theorem 1: linear convergence near I")
        ax.legend()
        save(fig, "theorem1_loss.png")

    if "theorem2" in by_key:
        data = by_key["theorem2"].figure
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, key, label in (
            (axes[0], "depth", "depth L"),
            (axes[1], "cond", "condition number κ"),
        ):
            x = np.array(data[f"{key}s"], float)
            y = np.array(data[f"steps_vs_{key}"], float)
            slope = data[f"{key}_slope"]
            ax.loglog(x, y, "o-", label="steps to ε = 1e-10")
            ax.loglog(x, y[0] * (x / x[0]) ** slope, ":", label=f"fitted slope {slope:.2f}")
            ax.set(xlabel=label, ylabel="steps", title=f"Theorem 2: steps vs {label}")
            ax.legend()
        save(fig, "theorem2_steps.png")

    if "lemmas56" in by_key:
        data = by_key["lemmas56"].figure
        fig, ax = plt.subplots(figsize=(6, 4))
        values = np.array(data["eigenvalues"])
        for k in range(values.shape[1]):
            line = ax.plot(data["steps"], values[:, k])[0]
            ax.axhline(data["limits"][k], color=line.get_color(), ls=":", lw=1)
        ax.set(
            xlabel="step t",
            ylabel="a_k(t)",
            title="Lemma 6: layer eigenvalues → μ_k^{1/L} (dotted)",
        )
        save(fig, "lemmas56_eigenvalues.png")

    if "theorem3" in by_key:
        curves = by_key["theorem3"].figure["curves"]
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        for name, curve in curves.items():
            line = axes[0].semilogy(
                curve["steps"], np.maximum(curve["power_projection"], 1e-300), label=name
            )[0]
            axes[0].semilogy(
                curve["steps"], np.maximum(curve["gd"], 1e-300), ":", color=line.get_color()
            )
            axes[1].plot(
                curve["steps"], np.array(curve["margin"]) - curve["gamma"], color=line.get_color()
            )
            axes[2].semilogy(
                curve["steps"], np.maximum(curve["balancedness"], 1e-18), color=line.get_color()
            )
        axes[0].set(
            xlabel="step", ylabel="loss", title="power projection (solid) vs GD from I (dotted)"
        )
        axes[0].legend(fontsize=7)
        axes[1].set(xlabel="step", ylabel="margin − γ", title="product margin stays ≥ γ")
        axes[2].set(xlabel="step", ylabel="max‖Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ‖_F", title="balancedness")
        save(fig, "theorem3_power_projection.png")

    if "theorems45" in by_key:
        data = by_key["theorems45"].figure
        lams = data["lams"]
        fig, axes = plt.subplots(1, len(lams), figsize=(5 * len(lams), 4), squeeze=False)
        for ax, lam in zip(axes[0], lams):
            for name, curve in data["curves"][str(lam)].items():
                ax.semilogy(curve["steps"], curve["losses"], label=name)
            ax.axhline(lam**2 / 2, color="k", ls="--", label="λ²/2")
            ax.set(xlabel="step", ylabel="loss ℓ(t)", title=f"Theorems 4–5: λ = {lam}")
        axes[0][0].legend(fontsize=7)
        save(fig, "theorems45_plateaus.png")

    return names, f"{len(names)} figures: " + ", ".join(names) + "."
