"""Real data as a population-loss problem (Sec. 2.1): whitening and the least-squares target Φ.

With inputs x ∈ ℝ^d and outputs y ∈ ℝ^d (rows of X and Y), Σ = E xxᵀ and the whitened inputs
x̃ = W x with W = Σ^{−1/2} have E x̃x̃ᵀ = I. Then for any network Θ,

    ½ E‖Θ_{1:L} x̃ − y‖² = ½‖Θ_{1:L} − Φ‖_F² + ½ E‖Φ x̃ − y‖²,   Φ = E y x̃ᵀ,

so training on the population loss ℓ(Θ) = ½‖Θ_{1:L} − Φ‖_F² minimizes the data loss, and ℓ is
exactly its excess over the least-squares fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._validation import as_float_array, as_layers

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
        x = as_float_array(x, "x", np.dtype(np.float64))
        return (x - self.x_mean) @ self.whitening.T

    def predict(self, layers: ArrayLike, x: ArrayLike) -> np.ndarray:
        """The network's predictions Θ_{1:L} W (x − x_mean) + y_mean for rows of x."""
        return self.whiten(x) @ _product(layers).T + self.y_mean

    def loss(self, layers: ArrayLike, x: ArrayLike, y: ArrayLike) -> float:
        """½ mean over rows of ‖prediction − y‖² on the original data."""
        y = as_float_array(y, "y", np.dtype(np.float64))
        return 0.5 * float(np.mean(np.sum((self.predict(layers, x) - y) ** 2, axis=1)))

    def excess_loss(self, layers: ArrayLike) -> float:
        """½‖Θ_{1:L} − Φ‖_F²: the data loss minus ``residual_loss`` (on the data it was fit to)."""
        return 0.5 * float(np.sum((_product(layers) - self.phi) ** 2))

    def to_original(self, layers: ArrayLike) -> np.ndarray:
        """The linear map of the trained network in the original coordinates, Θ_{1:L} W."""
        return _product(layers) @ self.whitening


def _product(layers: ArrayLike) -> np.ndarray:
    from .core import product

    return product(as_layers(layers, "layers", np.dtype(np.float64)))


def least_squares_target(X: ArrayLike, Y: ArrayLike, *, center: bool = True) -> LeastSquaresTarget:
    """Whitening and least-squares target of data (X, Y) with n rows and d columns each.

    ``center=True`` (default) subtracts the means first, so the network models the centered
    relation (deep linear networks have no bias). The network is square, so X and Y must have
    the same number of columns; pad the smaller with zero columns to use it otherwise.
    Raises ValueError if Σ = E xxᵀ is singular (a constant or collinear input column).
    """
    x = as_float_array(X, "X", np.dtype(np.float64))
    y = as_float_array(Y, "Y", np.dtype(np.float64))
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"X and Y must be 2-D (n, d), got shapes {x.shape} and {y.shape}")
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
    covariance = x.T @ x / n
    eigenvalues, basis = np.linalg.eigh(covariance)
    if eigenvalues[0] <= 1e-12 * max(eigenvalues[-1], np.finfo(float).tiny):
        raise ValueError("X has (numerically) collinear or constant columns: E xxᵀ is singular")
    whitening = (basis / np.sqrt(eigenvalues)) @ basis.T
    whitened = x @ whitening.T
    phi = y.T @ whitened / n
    residual = 0.5 * float(np.mean(np.sum((whitened @ phi.T - y) ** 2, axis=1)))
    return LeastSquaresTarget(whitening, np.ascontiguousarray(phi), residual, x_mean, y_mean)
