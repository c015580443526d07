"""deeplinear: gradient descent on deep linear residual networks, at C++ speed.

A reference implementation of Bartlett, Helmbold & Long, "Gradient descent with identity
initialization efficiently learns positive definite linear transformations by deep residual
networks" (ICML 2018). ``layers`` is an (L, d, d) array with ``layers[i-1]`` = Θ_i; the network
computes Θ_L ⋯ Θ_1 x and the loss is ℓ(Θ) = ½‖Θ_{1:L} − Φ‖_F².
"""

from __future__ import annotations

# The compiled core links the OpenBLAS of the scipy-openblas32 wheel (prefixed symbols, separate
# from numpy's); importing the wheel loads it, whatever site directory it was installed into.
try:
    import scipy_openblas32  # noqa: F401
except ImportError:  # a build without it uses Eigen's GEMM throughout
    pass

# The compiled core first, so that a checkout that was never built, or a build for another
# Python, fails here with a message that says so and what to run.
try:
    from . import _core  # noqa: F401
except ImportError as error:
    from ._import_check import core_import_error

    raise core_import_error(error) from error

from . import data, targets, theory
from .batch import BatchResult, BatchTrainer, train_batch
from .core import (
    gradient,
    hessian,
    hvp,
    loss,
    positivity_margin,
    product,
    project_identity_ball,
    project_positive,
)
from .factorization import balanced_factorization, polar
from .interop import from_torch, to_torch
from .spectral import spectral_gd
from .sweep import grid, sweep
from .training import METHODS, Trainer, TrainResult, train

# The one place of the version: the build reads it from here (pyproject.toml, regex provider).
__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "BatchResult",
    "BatchTrainer",
    "TrainResult",
    "Trainer",
    "__version__",
    "balanced_factorization",
    "data",
    "from_torch",
    "gradient",
    "grid",
    "hessian",
    "hvp",
    "loss",
    "polar",
    "positivity_margin",
    "product",
    "project_identity_ball",
    "project_positive",
    "spectral_gd",
    "sweep",
    "targets",
    "theory",
    "to_torch",
    "train",
    "train_batch",
]
