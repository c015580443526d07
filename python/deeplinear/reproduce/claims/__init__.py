"""One numerical experiment per claim of the paper, each judged by a criterion stated up front.

Each claim lives in its own module — its setup, its criterion, its computed text and its
figure — and is an ``Experiment``: ``experiment(rng, quick, progress, engine=None)`` returns a
``Claim`` (what the paper states, how it was tested, what was observed, the PASS/FAIL criterion
and verdict, the numbers behind it and the data for its figure). All targets are drawn from
``rng``; ``quick`` runs a smaller experiment (for CI); every computation that is checked goes
through ``engine`` (``deeplinear.reproduce.engine``), and the checks themselves are closed
forms, literal numpy constructions (``_checks``) and finite differences — never agreement with
stored numbers. An experiment that raises, or a run that diverges, makes its claim FAIL with
the message.

Modules, in report order: ``theorem1`` (Sec. 3), ``theorem2`` (Sec. 4), ``lemmas56``
(Sec. 4), ``theorem3`` (Sec. 5), ``theorems45`` and ``section6`` (Sec. 6, sharing
``_plateaus``), ``lemmas23`` (Sec. 3.2), ``lemma7`` (Sec. 5).
"""

from __future__ import annotations

from . import lemma7, lemmas23, lemmas56, section6, theorem1, theorem2, theorem3, theorems45
from ._common import Claim, Experiment

__all__ = ["BY_NAME", "CLAIMS", "Claim", "Experiment"]

CLAIMS: list[Experiment] = [
    theorem1.EXPERIMENT,
    theorem2.EXPERIMENT,
    lemmas56.EXPERIMENT,
    theorem3.EXPERIMENT,
    theorems45.EXPERIMENT,
    section6.EXPERIMENT,
    lemmas23.EXPERIMENT,
    lemma7.EXPERIMENT,
]
"""The claims in report order."""

BY_NAME: dict[str, Experiment] = {experiment.name: experiment for experiment in CLAIMS}
