"""Real data as a population-loss problem (Sec. 2.1): whitening and the least-squares target Φ.

With inputs x ∈ ℝ^d and outputs y ∈ ℝ^d (rows of X and Y), Σ = E xxᵀ and the whitened inputs
x̃ = W x with W = Σ^{−1/2} have E x̃x̃ᵀ = I. Then for any network Θ,

    ½ E‖Θ_{1:L} x̃ − y‖² = ½‖Θ_{1:L} − Φ‖_F² + ½ E‖Φ x̃ − y‖²,   Φ = E y x̃ᵀ,

so training on the population loss ℓ(Θ) = ½‖Θ_{1:L} − Φ‖_F² minimizes the data loss, and ℓ is
exactly its excess over the least-squares fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._validation import as_float_array, as_layers, power_of_two_at

__all__ = ["LeastSquaresTarget", "least_squares_target"]


@dataclass(frozen=True)
class LeastSquaresTarget:
    """The whitening transform and least-squares target of a data set (Sec. 2.1).

    Attributes:
        whitening: W = Σ^{−1/2}, Σ = E xxᵀ of the (centered) inputs; x̃ = W x.
        phi: Φ = E y x̃ᵀ, the least-squares matrix in whitened coordinates.
        residual_loss: ½ E‖Φ x̃ − y‖², the loss of the least-squares fit itself.
        x_mean, y_mean: the means subtracted when ``center=True`` (zeros otherwise).
    """

    whitening: np.ndarray
    phi: np.ndarray
    residual_loss: float
    x_mean: np.ndarray
    y_mean: np.ndarray

    def whiten(self, x: ArrayLike) -> np.ndarray:
        """Rows x ↦ W(x − x_mean): inputs in the coordinates the network is trained in."""
        return (self._rows(x, "x") - self.x_mean) @ self.whitening.T

    def predict(self, layers: ArrayLike, x: ArrayLike) -> np.ndarray:
        """The network's predictions Θ_{1:L} W (x − x_mean) + y_mean for rows of x."""
        return self.whiten(x) @ self._product(layers).T + self.y_mean

    def loss(self, layers: ArrayLike, x: ArrayLike, y: ArrayLike) -> float:
        """½ mean over rows of ‖prediction − y‖² on the original data (x and y: (n, d))."""
        x_rows, y_rows = self._rows(x, "x"), self._rows(y, "y")
        if x_rows.shape != y_rows.shape:
            raise ValueError(
                f"x and y must have the same shape (n, d), got {x_rows.shape} and {y_rows.shape}"
            )
        return 0.5 * float(np.mean(np.sum((self.predict(layers, x_rows) - y_rows) ** 2, axis=1)))

    def excess_loss(self, layers: ArrayLike) -> float:
        """½‖Θ_{1:L} − Φ‖_F²: the data loss minus ``residual_loss`` (on the data it was fit to)."""
        return 0.5 * float(np.sum((self._product(layers) - self.phi) ** 2))

    def to_original(self, layers: ArrayLike) -> np.ndarray:
        """The linear map of the trained network in the original coordinates, Θ_{1:L} W."""
        return self._product(layers) @ self.whitening

    def _rows(self, value: ArrayLike, name: str) -> np.ndarray:
        """Rows of data in this problem's d columns: (n, d), or one row (d,)."""
        rows = as_float_array(value, name, np.dtype(np.float64))
        dim = self.phi.shape[0]
        if rows.ndim not in (1, 2) or rows.shape[-1] != dim:
            raise ValueError(f"{name} must have shape (n, {dim}) or ({dim},), got {rows.shape}")
        return rows

    def _product(self, layers: ArrayLike) -> np.ndarray:
        """Θ_{1:L} of layers of this problem's d."""
        from .core import product

        stack = as_layers(layers, "layers", np.dtype(np.float64))
        dim = self.phi.shape[0]
        if stack.shape[1] != dim:
            raise ValueError(f"layers must have shape (L, {dim}, {dim}), got {stack.shape}")
        return product(stack)


def least_squares_target(X: ArrayLike, Y: ArrayLike, *, center: bool = True) -> LeastSquaresTarget:
    """Whitening and least-squares target of data (X, Y) with n rows and d columns each.

    ``center=True`` (default) subtracts the means first, so the network models the centered
    relation (deep linear networks have no bias). The network is square, so X and Y must have
    the same number of columns (at least one); pad the smaller with zero columns to use it
    otherwise. Raises ValueError if Σ = E xxᵀ is singular (a constant or collinear input column)
    or if the data are so large that Σ or Φ overflows float64 (rescale them), TypeError if
    ``center`` is not a bool.
    """
    if not isinstance(center, (bool, np.bool_)):
        raise TypeError(f"center must be True or False, got {center!r}")
    x = as_float_array(X, "X", np.dtype(np.float64))
    y = as_float_array(Y, "Y", np.dtype(np.float64))
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"X and Y must be 2-D (n, d), got shapes {x.shape} and {y.shape}")
    if x.shape[1] == 0 or y.shape[1] == 0:
        raise ValueError(f"X and Y need at least one column, got shapes {x.shape} and {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and Y must have the same number of rows, got {x.shape[0]} and {y.shape[0]}"
        )
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of columns (the network is square), got "
            f"{x.shape[1]} and {y.shape[1]}; pad the smaller with zero columns"
        )
    if x.shape[0] <= x.shape[1]:
        raise ValueError(f"need more rows than columns to estimate E xxᵀ, got X of shape {x.shape}")
    x_mean = x.mean(axis=0) if center else np.zeros(x.shape[1])
    y_mean = y.mean(axis=0) if center else np.zeros(y.shape[1])
    x, y = x - x_mean, y - y_mean
    n = x.shape[0]
    # Σ of X/s, s the power of two at X's largest entry (exact): Φ does not depend on X's scale,
    # and Σ of X itself could fall into subnormals (X ~ 1e-160) or overflow
    largest = float(np.abs(x).max())
    scale = power_of_two_at(largest) if 0.0 < largest < math.inf else 1.0
    scaled = x / scale
    covariance = scaled.T @ scaled / n
    with np.errstate(over="ignore"):
        if not np.isfinite(covariance.max() * scale * scale):
            raise ValueError("X is too large: E xxᵀ overflows float64; rescale X")
    eigenvalues, basis = np.linalg.eigh(covariance)
    if eigenvalues[0] <= 1e-12 * max(eigenvalues[-1], np.finfo(float).tiny):
        raise ValueError("X has (numerically) collinear or constant columns: E xxᵀ is singular")
    scaled_whitening = (basis / np.sqrt(eigenvalues)) @ basis.T
    whitening = scaled_whitening / scale
    whitened = scaled @ scaled_whitening.T
    with np.errstate(over="ignore", invalid="ignore"):
        phi = y.T @ whitened / n
        residual = 0.5 * float(np.mean(np.sum((whitened @ phi.T - y) ** 2, axis=1)))
    if not (np.isfinite(phi).all() and np.isfinite(residual)):
        raise ValueError("Y is too large: Φ = E y x̃ᵀ or its residual overflows float64; rescale Y")
    return LeastSquaresTarget(whitening, np.ascontiguousarray(phi), residual, x_mean, y_mean)
