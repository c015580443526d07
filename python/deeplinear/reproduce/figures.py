"""Figures of the reproduction report: the shared plotting helpers and ``make_figures``.

Each claim draws its own figure (the ``draw`` function in its module under ``claims/``); this
module holds what they share — one style, legends placed beside the panels instead of over the
curves, log-scale clipping — and writes the PNG files. matplotlib (the optional "plot" extra)
is imported lazily, with the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:
    from .claims import Claim

__all__ = ["STYLE", "draw_figures", "figure_note", "legend_below", "make_figures", "positive"]

TINY = 1e-300  # log-scale axes cannot show 0

STYLE = {
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
"""One style for every figure: drawn at 100 dpi and at most 10 inches wide, so that the text is
read at its size where the report is shown at normal size."""

DPI = 100


def positive(values: Any, floor: float = TINY) -> np.ndarray:
    """Values clipped below at ``floor``, for a logarithmic axis."""
    return np.maximum(np.asarray(values, float), floor)


def legend_below(fig: Any, axes: Any, columns: int = 2) -> None:
    """One legend for the whole figure, below its panels, so that it never covers a curve.

    Entries with the same label are shown once. Linear x axes get at most six ticks, so that
    step numbers up to 10⁵ never run into each other.
    """
    from matplotlib.ticker import MaxNLocator

    handles: dict[str, Any] = {}
    for ax in np.ravel(axes):
        if ax.get_xscale() == "linear":
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if not label.startswith("_"):
                handles.setdefault(label, handle)
    if handles:
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="lower center",
            ncol=columns,
            frameon=False,
            bbox_to_anchor=(0.5, 0.0),
        )
        rows = -(-len(handles) // columns)
        fig.tight_layout(rect=(0, min(0.45, 0.06 + 0.055 * rows), 1, 1))
    else:
        fig.tight_layout()


def draw_figures(claims: list[Claim], out: Path) -> tuple[list[str], list[str]] | None:
    """Draw the figures of these claims into ``out``: (file names, problems), or None without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from .claims import BY_NAME

    names: list[str] = []
    problems: list[str] = []
    with plt.rc_context(cast(Any, STYLE)):
        for claim in claims:
            experiment = BY_NAME.get(claim.name)
            if experiment is None or experiment.draw is None or not claim.figure:
                continue
            try:
                drawn = experiment.draw(plt, claim.figure)
            except Exception as error:
                problems.append(
                    f"claim {claim.name}'s figure failed ({type(error).__name__}: {error})"
                )
                plt.close("all")
                continue
            for name, fig in drawn:
                fig.savefig(out / name, dpi=DPI)
                plt.close(fig)
                names.append(name)
    return names, problems


def figure_note(drawn: tuple[list[str], list[str]] | None) -> str:
    """The report's sentence about the figures that ``draw_figures`` drew (or skipped)."""
    if drawn is None:
        return (
            "Figures were skipped: matplotlib is not installed "
            "(`pip install 'deeplinear[plot]'` adds it)."
        )
    names, problems = drawn
    note = f"{len(names)} figures: " + ", ".join(names) + "."
    return note + (" " + "; ".join(problems) + "." if problems else "")


def make_figures(claims: list[Claim], out: Path) -> tuple[list[str], str]:
    """Draw the figures of these claims into ``out``; return (file names, a note for the report).

    Without matplotlib nothing is drawn and the note says that the figures were skipped.
    """
    drawn = draw_figures(claims, out)
    return ([] if drawn is None else drawn[0]), figure_note(drawn)
