"""Trainer checkpoints (.npz): written atomically, read back only after every field has been
checked on its own and against the others.

A checkpoint holds plain arrays (never pickled objects): ``format``, ``layers``, ``phi``,
``method``, ``lr``, ``gamma``, ``psi``, ``kappa``, ``record_every``, ``threads``, ``steps``,
``recorded_current``, ``record_diagnostics``, ``status``, ``losses``, ``loss_steps`` and, when
recorded, ``diagnostics`` (9 × records) and, for power projection, ``has_product`` and, when
true, ``product`` (Ψ, whose balanced factors the layers are; the flag makes a ``product`` lost
from a damaged archive an error, not a resume from the layers). Checkpoints written before the
flag existed load as before.

``read`` raises ValueError — never another type — for a file that is missing, unreadable, not
an .npz archive, corrupt or truncated, of another format, or whose fields are missing, of the
wrong kind, out of range or inconsistent: negative, fractional or overflowing step counts,
histories whose arrays differ in length or run backwards or past ``steps``, NaN losses, an
unknown status or method, options the method does not accept, or a product whose balanced
factors are not the layers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import _core
from ._atomic import atomic_write
from ._methods import PARAMETER_NAMES, SPECS, resolve
from ._validation import INT64_MAX

__all__ = [
    "FORMAT",
    "STATUSES",
    "Checkpoint",
    "check_product",
    "checked_history",
    "flag",
    "integer",
    "load_archive",
    "read",
    "write",
]

FORMAT = "deeplinear-checkpoint-1"
STATUSES = ("converged", "max_steps", "diverged", "interrupted", "stopped")


@dataclass
class Checkpoint:
    """The validated fields of a checkpoint."""

    layers: np.ndarray
    phi: np.ndarray
    method: str
    lr: float
    options: dict[str, float]
    record_every: int
    threads: int
    steps: int
    recorded_current: bool
    record_diagnostics: bool
    status: str
    losses: np.ndarray
    loss_steps: np.ndarray
    diagnostics: np.ndarray | None
    product: np.ndarray | None


def write(path: Path, **fields: Any) -> None:
    """Write a checkpoint atomically (a temporary file in the same folder, then a rename)."""
    options = fields.pop("options")
    diagnostics = fields.pop("diagnostics")
    product = fields.pop("product")
    extra: dict[str, np.ndarray] = {}
    if diagnostics is not None:
        extra["diagnostics"] = np.ascontiguousarray(diagnostics.T)
    if product is not None:
        extra["product"] = product
    if fields["method"] == "power_projection":
        extra["has_product"] = np.array(product is not None)
    arrays: dict[str, Any] = {"format": np.array(FORMAT)}
    arrays.update((name, np.asarray(value)) for name, value in fields.items())
    arrays.update((name, np.array(float(options[name]))) for name in PARAMETER_NAMES)
    arrays.update(extra)
    with atomic_write(path) as stream:
        np.savez(stream, **arrays)


def _fail(message: str) -> ValueError:
    return ValueError(message)


def _scalar(data: dict[str, np.ndarray], name: str) -> np.ndarray:
    value = data.get(name)
    if value is None:
        raise _fail(f"the field {name!r} is missing")
    if value.shape != ():
        raise _fail(f"{name} must be a single value, got shape {value.shape}")
    return value


def integer(data: dict[str, np.ndarray], name: str, minimum: int) -> int:
    value = _scalar(data, name)
    if value.dtype.kind not in "iu":
        raise _fail(f"{name} must be an integer, got dtype {value.dtype}")
    number = int(value)
    if not minimum <= number <= INT64_MAX:
        raise _fail(f"{name} must be in [{minimum}, 2**63 - 1], got {number}")
    return number


def _real(data: dict[str, np.ndarray], name: str) -> float:
    value = _scalar(data, name)
    if value.dtype.kind not in "iuf":
        raise _fail(f"{name} must be a real number, got dtype {value.dtype}")
    number = float(value)
    if not np.isfinite(number):
        raise _fail(f"{name} must be finite, got {number}")
    return number


def flag(data: dict[str, np.ndarray], name: str) -> bool:
    value = _scalar(data, name)
    if value.dtype.kind != "b":
        raise _fail(f"{name} must be a boolean, got dtype {value.dtype}")
    return bool(value)


def _text(data: dict[str, np.ndarray], name: str, choices: tuple[str, ...]) -> str:
    value = _scalar(data, name)
    if value.dtype.kind != "U":
        raise _fail(f"{name} must be text, got dtype {value.dtype}")
    text = str(value)
    if text not in choices:
        raise _fail(f"{name} must be one of {', '.join(map(repr, choices))}, got {text!r}")
    return text


def _float_array(data: dict[str, np.ndarray], name: str, ndim: int) -> np.ndarray:
    value = data.get(name)
    if value is None:
        raise _fail(f"the field {name!r} is missing")
    if value.dtype not in (np.float64, np.float32):
        raise _fail(f"{name} must be float64 or float32, got dtype {value.dtype}")
    if value.ndim != ndim:
        raise _fail(f"{name} must have {ndim} dimensions, got shape {value.shape}")
    return value


def _entries_recorded(stream: Any) -> int | None:
    """The number of members that the zip archive's end record states (None if it has none).

    Python's zipfile stops reading the central directory where its recorded size ends, so that
    one damaged length field in it can hide the members that follow without an error."""
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - 22 - 0xFFFF))  # the end record (22 bytes) and at most a comment
    tail = stream.read()
    stream.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    return int.from_bytes(tail[at + 10 : at + 12], "little")


def _load_raw(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive; ValueError for anything that is not a readable .npz."""
    try:
        with open(path, "rb") as stream:
            recorded = _entries_recorded(stream)
            saved = np.load(stream, allow_pickle=False)
            if not isinstance(saved, np.lib.npyio.NpzFile):
                raise _fail("it holds a single array, not a checkpoint archive (.npz)")
            with saved:
                found = len(saved.zip.infolist()) if saved.zip is not None else len(saved.files)
                if recorded is not None and recorded != 0xFFFF and recorded != found:
                    raise _fail(f"its directory lists {found} members, its end record {recorded}")
                return {name: saved[name] for name in saved.files}
    except ValueError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # zipfile, OS, EOF, NotImplemented (zip features) …: all unreadable
        raise _fail(f"{type(exc).__name__}: {exc}") from None


def load_archive(path: Path) -> dict[str, np.ndarray]:
    """Every array of the .npz archive at ``path``; ValueError for anything unreadable."""
    try:
        return _load_raw(path)
    except ValueError as exc:
        raise ValueError(f"cannot read checkpoint {os.fspath(path)!r}: {exc}") from None


def read(path: Path) -> Checkpoint:
    """Read and check a checkpoint; ValueError naming the file and the problem."""
    data = load_archive(path)
    try:
        fmt = data.get("format")
        if fmt is None or fmt.shape != () or fmt.dtype.kind != "U" or str(fmt) != FORMAT:
            shown = "missing" if fmt is None else repr(str(fmt) if fmt.shape == () else fmt.shape)
            raise ValueError(f"{os.fspath(path)!r} is not a {FORMAT} checkpoint (format {shown})")
        return _check(data)
    except ValueError as exc:
        if str(exc).startswith(repr(os.fspath(path))):
            raise
        raise ValueError(
            f"checkpoint {os.fspath(path)!r} is incomplete or invalid: {exc}"
        ) from None


def _check(data: dict[str, np.ndarray]) -> Checkpoint:
    layers = _float_array(data, "layers", 3)
    phi = _float_array(data, "phi", 2)
    if layers.dtype != phi.dtype:
        raise _fail(f"layers ({layers.dtype}) and phi ({phi.dtype}) must have one dtype")
    depth, dim = layers.shape[0], layers.shape[1]
    if depth < 1 or dim < 1 or layers.shape[2] != dim or phi.shape != (dim, dim):
        raise _fail(f"layers {layers.shape} and phi {phi.shape} must be (L, d, d) and (d, d)")
    for name, array in (("layers", layers), ("phi", phi)):
        if not np.isfinite(array).all():
            raise _fail(f"{name} must contain only finite values")
    method = _text(data, "method", tuple(SPECS))
    lr = _real(data, "lr")
    if lr <= 0:
        raise _fail(f"lr must be > 0, got {lr}")
    spec = SPECS[method]
    given = {p.name: _real(data, p.name) for p in spec.parameters}
    resolve(method, depth, given, phi.dtype)  # the method's own checks
    record_every = integer(data, "record_every", 1)
    threads = min(integer(data, "threads", 1), 1 << 16)
    steps = integer(data, "steps", 0)
    recorded_current = flag(data, "recorded_current")
    record_diagnostics = flag(data, "record_diagnostics")
    status = _text(data, "status", STATUSES)

    losses = data.get("losses")
    loss_steps = data.get("loss_steps")
    if losses is None or loss_steps is None:
        raise _fail("the fields 'losses' and 'loss_steps' are required")
    losses, loss_steps = checked_history(losses, loss_steps, steps, recorded_current, status)

    diagnostics = None
    if record_diagnostics:
        table = data.get("diagnostics")
        count = len(_core.diagnostic_names)
        if table is None or table.ndim != 2 or table.shape != (count, len(losses)):
            raise _fail(f"diagnostics must have shape ({count}, {len(losses)})")
        if table.dtype.kind != "f":
            raise _fail("diagnostics must be real numbers")
        diagnostics = np.ascontiguousarray(table.T, dtype=np.float64)

    product = data.get("product")
    if "has_product" in data and flag(data, "has_product") != (product is not None):
        raise _fail("the field 'product' is missing" if product is None else "has_product is false")
    if product is not None:
        if method != "power_projection":
            raise _fail("only a power_projection checkpoint holds a product")
        if product.dtype != phi.dtype or product.shape != (dim, dim):
            raise _fail(f"product must be a ({dim}, {dim}) {phi.dtype} matrix")
        if not np.isfinite(product).all():
            raise _fail("product must contain only finite values")
        product = np.ascontiguousarray(product)
    options = {p.name: given[p.name] for p in spec.parameters}
    return Checkpoint(
        layers=np.ascontiguousarray(layers),
        phi=np.ascontiguousarray(phi),
        method=method,
        lr=lr,
        options=options,
        record_every=record_every,
        threads=threads,
        steps=steps,
        recorded_current=recorded_current,
        record_diagnostics=record_diagnostics,
        status=status,
        losses=losses,
        loss_steps=loss_steps,
        diagnostics=diagnostics,
        product=product,
    )


def checked_history(
    losses: np.ndarray, loss_steps: np.ndarray, steps: int, recorded_current: bool, status: str
) -> tuple[np.ndarray, np.ndarray]:
    """A run's recorded history, checked against its step count, record flag and status;
    returns (losses as float64, loss_steps as int64)."""
    if losses.ndim != 1 or loss_steps.ndim != 1 or losses.shape != loss_steps.shape:
        raise _fail(
            f"losses {losses.shape} and loss_steps {loss_steps.shape} must be 1-D of one length"
        )
    if losses.dtype.kind != "f" or loss_steps.dtype.kind not in "iu":
        raise _fail("losses must be real numbers and loss_steps integers")
    losses = np.ascontiguousarray(losses, dtype=np.float64)
    loss_steps = np.ascontiguousarray(loss_steps, dtype=np.int64)
    # Only a run that diverged at its very first state records a non-finite loss, as its last.
    finite = np.isfinite(losses)
    if not finite.all() and not (status == "diverged" and finite[:-1].all()):
        raise _fail("losses must be finite (only a diverged run's last loss may not be)")
    if len(loss_steps):
        # non-decreasing: a state edited between calls is recorded again at the same step
        if loss_steps[0] < 0 or np.any(np.diff(loss_steps) < 0):
            raise _fail("loss_steps must be >= 0 and increasing")
        if loss_steps[-1] > steps:
            raise _fail(f"loss_steps run past steps = {steps}")
    if recorded_current and not (len(loss_steps) and loss_steps[-1] == steps):
        raise _fail("recorded_current is set but the last recorded step is not the current one")
    return losses, loss_steps


def check_product(product: np.ndarray, layers: np.ndarray, path: object) -> None:
    """ValueError unless the balanced factors of ``product`` (Def. 3) are ``layers`` (to 1e-8
    relative): a product that does not belong to the layers would change the trajectory. The
    factors as power projection takes them from a stepped product, also where it is singular to
    working precision (which the run factors and steps like any other)."""
    try:
        factors = _core.balanced_factorization(product, layers.shape[0], as_stepped=True)
    except ValueError as exc:
        raise _fail(f"product has no balanced factorization: {exc}") from None
    scale = max(1.0, float(np.abs(layers).max()))
    error = float(np.abs(factors - layers).max()) / scale
    if not error <= 1e-8:
        raise _fail(
            f"product is not the product whose balanced factors the layers are "
            f"(max difference {error:.2e})"
        )
