"""The training methods of the paper, specified once: names, parameters, their checks, the
initial scale and the words that describe them. ``training`` validates with it, the command
line builds its options and help from it, and the compiled core's list of method names is
checked against it at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from ._validation import check_nonnegative, check_positive, check_representable

__all__ = ["METHODS", "SPECS", "MethodSpec", "Parameter", "resolve"]


@dataclass(frozen=True)
class Parameter:
    """A method's own parameter: its name, symbol, meaning, check and (when optional) default."""

    name: str
    symbol: str
    meaning: str
    check: Callable[[object, str], float]
    required: bool = True
    default: float | None = None
    # whether the steps compute with it in the run's dtype (a value that this rounds to 0 or to
    # infinity is refused), or only the initial scale, in float64
    in_steps: bool = True

    @property
    def bound(self) -> str:
        """The admissible range in words: "> 0" or ">= 0"."""
        return "> 0" if self.check is check_positive else ">= 0"


@dataclass(frozen=True)
class MethodSpec:
    """One training method: where the paper has it, its update, its parameters and its start."""

    name: str
    section: str
    summary: str
    update: str
    parameters: tuple[Parameter, ...]
    start: str
    # the initial scale s (the layers start at s·I) from the validated parameters and the depth
    initial_scale: Callable[[Mapping[str, float], int], float]

    def parameter(self, name: str) -> Parameter | None:
        """The parameter called ``name``, or None if the method has none such."""
        return next((p for p in self.parameters if p.name == name), None)


_GAMMA_MARGIN = Parameter("gamma", "γ", "the margin of H_γ = {A : uᵀAu ≥ γ}", check_positive)
_GAMMA_START = Parameter(
    "gamma",
    "γ",
    "sets the initial scale γ^{1/L}",
    check_nonnegative,
    required=False,
    default=1.0,
    in_steps=False,
)
_PSI = Parameter("psi", "ψ", "the radius of the ball {A : ‖A − I‖₂ ≤ ψ}", check_positive)
_KAPPA = Parameter(
    "kappa", "κ", "the weight of the penalty (κ/2) Σ_i ‖I − Θ_i‖_F²", check_nonnegative
)


def _identity(options: Mapping[str, float], depth: int) -> float:
    return 1.0


def _gamma_root(options: Mapping[str, float], depth: int) -> float:
    return options["gamma"] ** (1.0 / depth)


SPECS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            "gd",
            "Sec. 3.1, Algorithm 1",
            "gradient descent from the identity",
            "Θ_i ← Θ_i − η G_i",
            (),
            "Θ_i = I",
            _identity,
        ),
        MethodSpec(
            "power_projection",
            "Sec. 5, Algorithm 2",
            "a gradient step, the product projected onto H_γ and re-factored (balanced)",
            "Θ ← balanced factors of Π_{H_γ}(Θ'_L ⋯ Θ'_1), Θ'_i = Θ_i − η G_i",
            (_GAMMA_MARGIN,),
            "Θ_i = γ^{1/L} I",
            _gamma_root,
        ),
        MethodSpec(
            "step_and_project",
            "Sec. 6, Theorem 5",
            "a gradient step, then each layer projected onto the ball ‖Θ_i − I‖₂ ≤ ψ",
            "Θ_i ← Π_ψ(Θ_i − η G_i)",
            (_PSI, _GAMMA_START),
            "Θ_i = γ^{1/L} I (γ = 1 unless given)",
            _gamma_root,
        ),
        MethodSpec(
            "penalty",
            "Sec. 6, Theorem 4",
            "gradient descent on ℓ + (κ/2) Σ_i ‖I − Θ_i‖_F²",
            "Θ_i ← Θ_i − η (G_i + κ (Θ_i − I))",
            (_KAPPA,),
            "Θ_i = I",
            _identity,
        ),
    )
}

METHODS: tuple[str, ...] = tuple(SPECS)
"""The names of the training methods."""

if set(METHODS) != set(_core.method_names):  # pragma: no cover - a build out of step
    raise ImportError(
        f"deeplinear's compiled core knows the methods {sorted(_core.method_names)}, "
        f"the package {sorted(METHODS)}: reinstall deeplinear"
    )

PARAMETER_NAMES: tuple[str, ...] = ("gamma", "psi", "kappa")
"""Every method parameter that any method takes."""


def resolve(
    method: object, depth: int, given: Mapping[str, Any], dtype: np.dtype | None = None
) -> tuple[str, dict[str, float], float]:
    """Validate ``method`` and its parameters ``given`` (name → value or None).

    Returns (method name, every parameter of ``PARAMETER_NAMES`` as a float for the compiled
    core, 0 where unused, and the initial scale). Raises ValueError naming the argument for an
    unknown method, a parameter the method does not take, a missing required one or a value out
    of range (with ``dtype``, the run's: also one that becomes 0 or infinite there), and
    TypeError for a value that is not a real number.
    """
    if not isinstance(method, str) or method not in SPECS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    spec = SPECS[method]
    for name, value in given.items():
        if value is not None and spec.parameter(name) is None:
            raise ValueError(f"{name} is not a parameter of method={method!r}")
    values: dict[str, float] = {}
    for parameter in spec.parameters:
        value = given.get(parameter.name)
        if value is None:
            if parameter.required:
                raise ValueError(
                    f"method={method!r} needs {parameter.name} {parameter.bound} "
                    f"({parameter.meaning})"
                )
            value = parameter.default
        values[parameter.name] = parameter.check(value, parameter.name)
        if dtype is not None and parameter.in_steps:
            check_representable(values[parameter.name], parameter.name, dtype)
    core = {name: values.get(name, 0.0) for name in PARAMETER_NAMES}
    # The initial scale of step-and-project takes its γ; power projection's γ is also the margin.
    return method, core, spec.initial_scale(values, depth)
