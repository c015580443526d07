"""Validation at the boundary: every public function converts its inputs here, once.

Arrays come back C-contiguous, finite, of dtype float64 or float32 (float32 is kept only
where the caller asks for it). Integer, boolean, non-contiguous and read-only arrays are
valid input: they are converted (copied) here and the caller's array is never modified.
Errors name the argument and say what was expected, in the style of numpy/scipy.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import numpy as np

__all__ = [
    "as_float_array",
    "as_layers",
    "as_square",
    "check_depth",
    "check_int",
    "check_nonnegative",
    "check_positive",
    "check_real",
    "check_representable",
    "check_step_size",
    "result_dtype",
]


def result_dtype(*arrays: object) -> np.dtype:
    """float32 when every array given is float32 (of either byte order), else float64 (no
    silent downcast)."""
    if arrays and all(_is_float32(getattr(a, "dtype", None)) for a in arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _is_float32(dtype: object) -> bool:
    """A 4-byte float, native or byte-swapped ('>f4' on a little-endian machine)."""
    return isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize == 4


def power_of_two_at(value: float) -> float:
    """The power of two 2^e with 2^e ≤ value < 2^(e+1) (value > 0, finite): dividing by it is
    exact and brings value into [1, 2); it is finite however large value is (2^(e+1) may not
    be)."""
    return math.ldexp(1.0, math.frexp(value)[1] - 1)


def refuse_masked_entries(value: object, name: str) -> None:
    """A masked array with masked entries is refused: np.asarray would drop the mask and use
    the hidden values as given."""
    if type(value) is not np.ndarray and isinstance(value, np.ma.MaskedArray):
        if np.ma.is_masked(value):
            raise TypeError(
                f"{name} is a masked array with masked entries: fill them "
                "(np.ma.filled) or pass the unmasked data"
            )


def as_float_array(value: object, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    """Convert to a C-contiguous finite float array (float32 kept unless `dtype` says otherwise)."""
    if isinstance(value, np.ndarray):
        refuse_masked_entries(value, name)
        array = value
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a real array, got {type(value).__name__}") from exc
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {array.dtype}")
    if kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {array.dtype}")
    if kind == "f" and array.dtype.itemsize > 8:  # longdouble: its extra precision would be lost
        raise TypeError(
            f"{name} has dtype {array.dtype}, wider than float64, which deeplinear computes in at "
            "most: convert it (.astype(np.float64)) to accept the rounding"
        )
    if dtype is None:
        dtype = np.dtype(np.float32) if _is_float32(array.dtype) else np.dtype(np.float64)
    given = array
    if array.dtype == dtype:
        array = np.ascontiguousarray(array)
    else:
        with np.errstate(over="ignore"):  # a value past the new type's range: said below
            array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        if given is not array and np.isfinite(given).all():
            raise ValueError(
                f"{name} has values beyond the range of {dtype} "
                f"(its largest is {np.finfo(dtype).max:.4g})"
            )
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return array


def _given_shape(value: Any, array: np.ndarray) -> tuple[int, ...]:
    """The shape of what was given (as_float_array makes a 0-d array 1-d): for messages."""
    return () if np.ndim(value) == 0 else array.shape


def as_square(value: object, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    """A (d, d) matrix with d >= 1."""
    array = as_float_array(value, name, dtype)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] == 0:
        shape = _given_shape(value, array)
        raise ValueError(f"{name} must be a square (d, d) matrix with d >= 1, got shape {shape}")
    return array


def as_layers(value: object, name: str = "layers", dtype: np.dtype | None = None) -> np.ndarray:
    """An (L, d, d) stack of layers with L >= 1 and d >= 1; layers[i-1] is Θ_i."""
    array = as_float_array(value, name, dtype)
    if array.ndim != 3 or array.shape[1] != array.shape[2] or 0 in array.shape:
        raise ValueError(
            f"{name} must have shape (L, d, d) with L >= 1 and d >= 1 (layers[i-1] = Θ_i), "
            f"got shape {_given_shape(value, array)}"
        )
    return array


INT64_MAX = 2**63 - 1


def check_int(value: object, name: str, minimum: int, maximum: int | None = INT64_MAX) -> int:
    """An integer (bool excluded) in [minimum, maximum]; by default it must fit the C++ core's
    64-bit counters (maximum=None for numbers that stay in Python, such as seeds)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    result = operator.index(value)
    if result < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {result}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {result}")
    return result


def check_depth(depth: object) -> int:
    """The number of layers L >= 1."""
    return check_int(depth, "depth", 1)


def check_real(value: object, name: str) -> float:
    """A finite real number (bool excluded)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        result = float(value)
    except OverflowError:  # an int beyond float64 (10**400)
        raise ValueError(f"{name} must be finite, got an integer beyond float64's range") from None
    if not np.isfinite(result):
        raise ValueError(f"{name} must be finite, got {result}")
    return result


def check_positive(value: object, name: str) -> float:
    """A finite real number > 0 (step sizes, γ, ψ)."""
    result = check_real(value, name)
    if result <= 0:
        raise ValueError(f"{name} must be > 0, got {result}")
    return result


def check_step_size(value: object, name: str, dtype: np.dtype) -> float:
    """A step size > 0 that stays > 0 and finite in the run's dtype (in float32, 1e-50 would be 0
    and the run would silently not move; 1e39 would be inf)."""
    return check_representable(check_positive(value, name), name, dtype)


def check_representable(value: float, name: str, dtype: np.dtype) -> float:
    """``value`` unless, not 0, it becomes 0 or infinite in ``dtype``: a parameter that the run
    uses in its arithmetic (float32: γ = 1e-46 would be a margin of 0, κ = 1e39 infinite)."""
    if value == 0:
        return value
    with np.errstate(over="ignore"):
        rounded = dtype.type(value)
    if not (np.isfinite(rounded) and rounded != 0):
        raise ValueError(
            f"{name} = {value} is {rounded} in {dtype.name}: a nonzero {name} must stay nonzero "
            "and finite there"
        )
    return value


def check_nonnegative(value: object, name: str) -> float:
    """A finite real number >= 0 (tolerances, κ)."""
    result = check_real(value, name)
    if result < 0:
        raise ValueError(f"{name} must be >= 0, got {result}")
    return result
