"""Many independent networks trained by one call: ``train_batch`` and ``BatchTrainer``.

B networks — targets ``phis`` of shape (B, d, d), one method and depth, each with its own step
size, method parameters, initialization, stop rule, status, step count and recorded history —
are stepped by one compiled call with the GIL released; ``threads`` shares the networks among
cores. Network b's run is the run of ``train(phis[b], depth, method, ...)`` with its own
options, bit for bit: the same arithmetic, whichever thread or call steps it.

Use it for studies over many small networks (phase diagrams over η, L, κ and seeds, the
reproduction's grids, populations of learners in a simulation), where one call per network
would spend more time in Python than in arithmetic.
"""

from __future__ import annotations

import numbers
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._atomic import atomic_write
from ._methods import PARAMETER_NAMES, SPECS, resolve
from ._progress import Progress
from ._validation import (
    as_float_array,
    check_depth,
    check_int,
    check_nonnegative,
    check_step_size,
    refuse_masked_entries,
)
from .training import (
    RunSettings,
    TrainResult,
    _Live,
    _stops,
    given_options,
    warn_interrupted,
)

__all__ = ["BatchResult", "BatchTrainer", "train_batch"]

BatchCallback = Callable[[np.ndarray, np.ndarray, np.ndarray], Any]
STATUS_NAMES: tuple[str, ...] = tuple(_core.status_names)
BATCH_FORMAT = "deeplinear-batch-checkpoint-1"


def _per_network(
    value: Any, name: str, count: int, check: Callable[[object, str], float]
) -> np.ndarray:
    """A scalar or one value per network, each passing ``check``; returns (count,) float64."""
    refuse_masked_entries(value, name)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if len(_shape_of(value, name)) == 0:
        return np.full(count, check(value, name), dtype=np.float64)
    values = _one_per_network(value, name, count)
    return np.array(
        [check(v.item() if hasattr(v, "item") else v, f"{name}[{b}]") for b, v in enumerate(values)]
    )


def _optional_per_network(value: Any, name: str, count: int) -> list[Any]:
    """None, a scalar, or one value per network → a list of count entries (values unchecked)."""
    refuse_masked_entries(value, name)
    if value is None or len(_shape_of(value, name)) == 0:
        return [value.item() if isinstance(value, np.ndarray) else value] * count
    values = _one_per_network(value, name, count)
    return [v.item() if isinstance(v, np.generic) else v for v in values]  # (object arrays: as is)


def _one_per_network(value: Any, name: str, count: int) -> Any:
    """A sequence of ``count`` values: a list's or tuple's own items (np.asarray would have made
    True 1.0 before they are checked), else the array of ``value``."""
    values = value if isinstance(value, (list, tuple)) else np.asarray(value)
    shape = _shape_of(values, name)
    if shape != (count,):
        raise ValueError(
            f"{name} must be a number or one value per network (B = {count}), got shape {shape}"
        )
    return values


def _shape_of(values: Any, name: str) -> tuple[int, ...]:
    """np.shape, with a ValueError naming the argument for a ragged sequence."""
    try:
        return np.shape(values)
    except ValueError:
        raise ValueError(
            f"{name} must be a number or one value per network, got a ragged sequence"
        ) from None


@dataclass(repr=False)
class BatchResult:
    """The outcome of training a batch of B networks.

    Attributes:
        layers: (B, L, d, d) final layers.
        losses: (B, n) recorded losses: ``losses[b, j]`` is network b's loss at step
            ``loss_steps[j]``, NaN where network b recorded nothing at that step (it had stopped,
            or the step is another network's off-grid final step).
        loss_steps: (n,) the steps at which any network recorded its loss.
        steps: (B,) steps taken by each network.
        status: (B,) each network's status (as ``TrainResult.status``).
        final_loss: (B,) each network's loss at its final state.
        method: the training method.
        diagnostics: with ``diagnostics=True``, a dict of (B, n) arrays aligned with ``losses``.

    ``result[b]`` is network b's ``TrainResult``, exactly what ``train`` would have returned for
    it alone; ``len(result)`` is B.
    """

    layers: np.ndarray
    losses: np.ndarray
    loss_steps: np.ndarray
    steps: np.ndarray
    status: np.ndarray
    final_loss: np.ndarray
    method: str
    diagnostics: dict[str, np.ndarray] | None
    _histories: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]

    def __len__(self) -> int:
        return int(self.layers.shape[0])

    def __getitem__(self, b: int) -> TrainResult:
        b = check_int(b if b >= 0 else b + len(self), "b", 0, len(self) - 1)
        losses, loss_steps, table = self._histories[b]
        diagnostics = None
        if table is not None:
            diagnostics = dict(zip(_core.diagnostic_names, table.T.copy()))
        return TrainResult(
            layers=self.layers[b],
            losses=losses,
            loss_steps=loss_steps,
            steps=int(self.steps[b]),
            status=str(self.status[b]),
            final_loss=float(self.final_loss[b]),
            method=self.method,
            diagnostics=diagnostics,
        )

    def __iter__(self) -> Iterator[TrainResult]:
        return (self[b] for b in range(len(self)))

    def __repr__(self) -> str:
        kinds, counts = np.unique(self.status, return_counts=True)
        tally = ", ".join(f"{count} {kind}" for kind, count in zip(kinds, counts))
        depth, dim = self.layers.shape[1], self.layers.shape[2]
        return (
            f"BatchResult(method={self.method!r}, B={len(self)}, depth={depth}, d={dim}, {tally}, "
            f"steps {int(self.steps.min())}–{int(self.steps.max())}, "
            f"final_loss {np.nanmin(self.final_loss):.3g}–{np.nanmax(self.final_loss):.3g})"
        )


def _assemble(
    histories: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(losses (B, n), loss_steps (n,), diagnostics (B, n, k) or None) of per-network histories."""
    if histories and all(len(h[1]) == len(histories[0][1]) for h in histories):
        # The usual case, every network recorded at the same steps: stacked, not placed one by one.
        grid = np.stack([h[1] for h in histories])
        if (grid == grid[0]).all():
            stacked = np.stack([h[0] for h in histories]).astype(np.float64, copy=False)
            tables = [h[2] for h in histories]
            if tables[0] is None:
                return stacked, grid[0].astype(np.int64), None
            if all(t is not None for t in tables):
                rows_stacked = np.stack(tables).astype(np.float64, copy=False)  # type: ignore[arg-type]
                return stacked, grid[0].astype(np.int64), rows_stacked
    steps = (
        np.unique(np.concatenate([h[1] for h in histories])) if histories else np.empty(0, np.int64)
    )
    losses = np.full((len(histories), len(steps)), np.nan)
    table = None
    if histories and histories[0][2] is not None:
        table = np.full((len(histories), len(steps), histories[0][2].shape[1]), np.nan)
    for b, (values, at, rows) in enumerate(histories):
        where = np.searchsorted(steps, at)
        losses[b, where] = values
        if table is not None and rows is not None:
            table[b, where] = rows
    return losses, steps.astype(np.int64), table


class BatchTrainer(_Live):
    """A steppable batch of B independent training runs (see ``train_batch`` for the arguments).

    ``step(n)`` takes n steps of every network, ``run(max_steps, tol)`` runs every network to its
    own stop; ``layers`` is the live (B, L, d, d) array (network b's layers are ``layers[b]``),
    readable and writable between steps; ``loss``, ``steps`` and ``status`` are per network.
    ``save``/``load`` checkpoint the whole batch; ``trainer[b]`` is not a Trainer, but
    ``result[b]`` of ``run`` is network b's ``TrainResult``.
    """

    _kind = "BatchTrainer"

    def __init__(
        self,
        phis: ArrayLike,
        depth: int,
        method: str = "gd",
        **options: Any,
    ) -> None:
        given = given_options("BatchTrainer", dict(options))
        self._phis = as_float_array(phis, "phis").copy()
        if (
            self._phis.ndim != 3
            or self._phis.shape[1] != self._phis.shape[2]
            or 0 in self._phis.shape
        ):
            raise ValueError(
                f"phis must have shape (B, d, d) with B >= 1 and d >= 1, got {self._phis.shape}"
            )
        self._phis.flags.writeable = False
        count, dim = self._phis.shape[0], self._phis.shape[1]
        self.depth = check_depth(depth)
        if not isinstance(method, str) or method not in SPECS:
            resolve(method, self.depth, {})  # raises the standard error
        self.method = method
        self._lr = self._step_sizes(given["lr"])
        columns = {
            name: _optional_per_network(given[name], name, count) for name in PARAMETER_NAMES
        }
        core: dict[str, np.ndarray] = {name: np.zeros(count) for name in PARAMETER_NAMES}
        scales = np.empty(count)
        # Parameters given once (not one per network) are checked once, for network 0.
        shared = all(len(set(map(id, columns[n]))) == 1 for n in PARAMETER_NAMES)
        for b in range(1 if shared else count):
            try:
                _, values, scales[b] = resolve(
                    method,
                    self.depth,
                    {n: columns[n][b] for n in PARAMETER_NAMES},
                    self._phis.dtype,
                )
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"network {b}: {exc}") from None
            for name in PARAMETER_NAMES:
                core[name][b] = values[name]
        if shared:  # one value each, given once: network 0's for all
            scales[:] = scales[0]
            for name in PARAMETER_NAMES:
                core[name][:] = core[name][0]
        self._options = core
        self._given = {name: columns[name] for name in PARAMETER_NAMES}
        settings = RunSettings.check(given)
        self._record_every = settings.record_every
        self.callback: BatchCallback | None = settings.callback
        self.progress = settings.progress
        self._threads = settings.threads
        self._record_diagnostics = settings.diagnostics
        self._layers, identity_scales = self._initial_layers(given["init"], scales, count, dim)
        self._session = _core.batch_session(
            self._layers,
            self._phis,
            self.method,
            self._lr,
            core["gamma"],
            core["psi"],
            core["kappa"],
            record_every=self._record_every,
            threads=self._threads,
            diagnostics=self._record_diagnostics,
            identity_scales=identity_scales,
        )
        self.status = np.full(count, "max_steps", dtype=object)
        self._lock = threading.RLock()
        self._in_callback = False

    def _initial_layers(
        self, init: Any, scales: np.ndarray, count: int, dim: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The (B, L, d, d) layers, and for multiples of the identity their scales: then the
        layers are left unwritten here, and each network's are written by the thread that builds
        its stepper (the first touch of a few megabytes, shared among the threads)."""
        dtype = self._phis.dtype
        shape = (count, self.depth, dim, dim)
        if init is None or np.ndim(init) == 0:
            if init is not None:
                if isinstance(init, (bool, np.bool_)) or not isinstance(init, numbers.Real):
                    raise ValueError(
                        f"init must be a finite number or an array of layers, got {init!r}"
                    )
                value = float(init)
                if not np.isfinite(value):
                    raise ValueError(
                        f"init must be a finite number or an array of layers, got {init!r}"
                    )
                scales = np.full(count, value)
            return np.empty(shape, dtype=dtype), np.asarray(scales, dtype=np.float64)
        array = as_float_array(init, "init", dtype)
        if array.shape == shape[1:]:
            # a copy even for one network (np.ascontiguousarray would return the read-only
            # broadcast view itself, which is already contiguous when B = 1)
            return np.array(np.broadcast_to(array, shape), order="C"), None
        if array.shape != shape:
            raise ValueError(
                f"init must be a number, an (L, d, d) array shared by all networks or a "
                f"(B, L, d, d) array {shape}, got shape {array.shape}"
            )
        return array.copy(), None

    # -- state ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._phis.shape[0])

    @property
    def phis(self) -> np.ndarray:
        """The targets (B, d, d) (read-only copy)."""
        return self._phis

    @property
    def loss(self) -> np.ndarray:
        """(B,) ℓ of each network's current layers."""
        with self._using():
            return self._session.loss()

    @property
    def steps(self) -> np.ndarray:
        """(B,) steps taken by each network so far."""
        return self._session.steps

    @property
    def lr(self) -> np.ndarray:
        """(B,) each network's step size; assign a number or one per network between steps."""
        return self._lr.copy()

    @lr.setter
    def lr(self, value: ArrayLike) -> None:
        lr = self._step_sizes(value)
        with self._using():
            self._session.set_lr(lr)
            self._lr = lr

    def history(self, b: int) -> TrainResult:
        """Network b's whole recorded history and current state, as a ``TrainResult``
        (``final_loss`` is ℓ of the current layers)."""
        b = check_int(b, "b", 0, len(self) - 1)
        with self._using():
            losses, loss_steps, table = self._session.history(b, 0)
        diagnostics = None if table is None else dict(zip(_core.diagnostic_names, table.T.copy()))
        return TrainResult(
            layers=self._layers[b].copy(),
            losses=losses,
            loss_steps=loss_steps,
            steps=int(self.steps[b]),
            status=str(self.status[b]),
            final_loss=self._network_loss(b),
            method=self.method,
            diagnostics=diagnostics,
        )

    def _step_sizes(self, value: ArrayLike) -> np.ndarray:
        """(B,) step sizes from a number or one per network, each > 0 in the batch's dtype."""
        dtype = self._phis.dtype
        return _per_network(value, "lr", len(self), lambda v, name: check_step_size(v, name, dtype))

    def _network_loss(self, b: int) -> float:
        """ℓ of network b's current layers (one network's forward sweep, not the batch's)."""
        with self._using():
            return float(self._session.network_loss(b))

    def __repr__(self) -> str:
        steps = self.steps
        return (
            f"BatchTrainer(method={self.method!r}, B={len(self)}, depth={self.depth}, "
            f"d={self._phis.shape[1]}, steps {int(steps.min())}–{int(steps.max())})"
        )

    # -- stepping ------------------------------------------------------------------------
    def step(self, n: int = 1) -> np.ndarray:
        """``n`` steps of every network (fewer where one diverges, or on Ctrl-C); returns (B,) ℓ."""
        n = check_int(n, "n", 0)
        with self._using():
            self._check_not_in_callback()
            self._check_budget(n, "n")
            self._drive(n, 0.0, show_progress=False, record_final=False)
            return self._session.loss()

    def run(self, max_steps: int = 10_000, tol: ArrayLike = 0.0) -> BatchResult:
        """Run every network until its ℓ ≤ ``tol`` (a number or one per network), ``max_steps``
        more steps, divergence or an interrupt."""
        return self._run(max_steps, tol, copy_layers=True)

    def _run(self, max_steps: int, tol: ArrayLike, copy_layers: bool) -> BatchResult:
        max_steps = check_int(max_steps, "max_steps", 0)
        tols = _per_network(tol, "tol", len(self), check_nonnegative)
        with self._using():
            self._check_not_in_callback()
            self._check_budget(max_steps, "max_steps")
            first = self._session.history_sizes.copy()
            self._drive(max_steps, tols, show_progress=self.progress, record_final=True)
            histories = [self._session.history(b, int(first[b])) for b in range(len(self))]
            losses, loss_steps, table = _assemble(histories)
            diagnostics = None
            if table is not None:
                diagnostics = {
                    name: table[:, :, k].copy() for k, name in enumerate(_core.diagnostic_names)
                }
            # as TrainResult: the last recorded loss, or (nothing recorded) the current state's
            current = self._session.loss() if any(not len(h[0]) for h in histories) else None
            final = np.array(
                [h[0][-1] if len(h[0]) else current[b] for b, h in enumerate(histories)]  # type: ignore[index]
            )
            return BatchResult(
                layers=self._layers.copy() if copy_layers else self._layers,
                losses=losses,
                loss_steps=loss_steps,
                steps=self.steps,
                status=np.array(self.status, dtype=str),
                final_loss=final,
                method=self.method,
                diagnostics=diagnostics,
                _histories=histories,
            )

    def _drive(
        self, max_steps: int, tol: ArrayLike, *, show_progress: bool, record_final: bool
    ) -> None:
        """Every network up to max_steps steps, in as few compiled calls as the callback and
        the progress report allow; sets ``status`` per network."""
        session = self._session
        count = len(self)
        tols = np.broadcast_to(np.asarray(tol, dtype=np.float64), (count,)).copy()
        status = np.full(count, "max_steps", dtype=object)
        self.status = status  # live: a callback that saves the batch saves the statuses so far
        done = np.zeros(count, dtype=bool)  # stopped for good in this call
        elapsed = 0
        limit = 1 if show_progress else None
        interrupted = False
        try:
            with Progress(
                max_steps, desc="training batch", unit="step", enabled=show_progress
            ) as report:
                while True:
                    size = max_steps - elapsed
                    if limit is not None:
                        size = min(size, limit)
                    if self.callback is not None:
                        size = min(size, self.record_every - elapsed % self.record_every)
                    budgets = np.where(done, 0, size).astype(np.int64)
                    started = time.perf_counter()
                    codes, _, losses = session.run(
                        budgets, tols, record_final and size == max_steps - elapsed
                    )
                    if limit is not None and time.perf_counter() - started < 0.05:
                        limit *= 2
                    elapsed += size
                    names = np.asarray(STATUS_NAMES, dtype=object)[codes]
                    stopped_now = (names != "max_steps") & ~done
                    status[stopped_now] = names[stopped_now]
                    done |= stopped_now
                    if (names == "interrupted").any():
                        interrupted = True
                        status[~done] = "interrupted"
                        break
                    report.update(size, loss=float(np.nanmedian(losses)) if count else 0.0)
                    finished = elapsed >= max_steps or done.all()
                    if (
                        self.callback is not None
                        and not finished
                        and self._call_back(losses, status, done)
                    ):
                        break
                    if finished:
                        break
        except KeyboardInterrupt:
            interrupted = True
            status[~done | (status == "interrupted")] = "interrupted"
        self.status = status
        if interrupted or self.callback is not None:
            # A network that ended early (stopped by the callback or Ctrl-C off the record grid,
            # or edited by the callback) gets its final state recorded, so that its losses and
            # final_loss describe the layers it ends with.
            session.check()  # notes edits made by the callback
            recorded = session.recorded_current
            for b in np.flatnonzero((status != "max_steps") & ~recorded):
                session.record_current(int(b))
        if interrupted:
            warn_interrupted(int(session.steps.max()), stacklevel=5)

    def _call_back(self, losses: np.ndarray, status: np.ndarray, done: np.ndarray) -> bool:
        """The callback at a chunk end; True to stop every network. A network whose layers it made
        non-finite gets its layers back and stops as diverged; one that had stopped in this call
        and that it edited resumes."""
        backup = self._layers.copy()
        self._in_callback = True
        try:
            answer = self.callback(self._session.steps, self._layers, losses)  # type: ignore[misc]
        finally:  # also when the callback raised (Ctrl-C in it): never left non-finite
            self._in_callback = False
            broken = ~np.isfinite(self._layers).reshape(len(self), -1).all(axis=1)
            self._layers[broken] = backup[broken]
        # A network that had converged or diverged earlier in this call and that the callback
        # edited (finitely) goes on under its stop rule: its status described the layers it had.
        edited = (self._layers != backup).reshape(len(self), -1).any(axis=1)
        resumed = edited & done & np.isin(status, ("converged", "diverged"))
        status[resumed] = "max_steps"
        done &= ~resumed
        if broken.any():
            status[broken] = "diverged"
            done |= broken
        if _stops(answer):
            status[~done] = "stopped"
            done[:] = True
            return True
        return bool(done.all())

    # -- checkpoints ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the whole batch to one .npz checkpoint, atomically; ``load`` resumes it exactly.
        ValueError (naming the network) for layers that are not finite."""
        with self._using():
            finite = np.isfinite(self._layers).reshape(len(self), -1).all(axis=1)
            if not finite.all():
                raise ValueError(
                    f"network {int(np.flatnonzero(~finite)[0])}: layers must contain only finite "
                    "values (found NaN or inf): not saved"
                )
            self._session.check()  # layers edited in place: noted, as Trainer.save does
            fields: dict[str, Any] = {
                "format": np.array(BATCH_FORMAT),
                "layers": self._layers,
                "phis": self._phis,
                "method": np.array(self.method),
                "lr": self._lr,
                "record_every": np.array(self.record_every),
                "threads": np.array(self.threads),
                "steps": self._session.steps,
                "recorded_current": self._session.recorded_current,
                "record_diagnostics": np.array(self.record_diagnostics),
                "status": np.array(self.status, dtype=str),
            }
            for name in PARAMETER_NAMES:
                fields[name] = self._options[name]
            sizes, losses, loss_steps, tables = [], [], [], []
            products, has_product = [], []
            for b in range(len(self)):
                values, at, table = self._session.history(b, 0)
                sizes.append(len(values))
                losses.append(values)
                loss_steps.append(at)
                if table is not None:
                    tables.append(table)
                if self.method == "power_projection":
                    product = self._session.product(b)
                    has_product.append(product is not None)
                    products.append(
                        product if product is not None else np.zeros_like(self._phis[b])
                    )
            fields["history_sizes"] = np.array(sizes, dtype=np.int64)
            fields["losses"] = np.concatenate(losses) if losses else np.empty(0)
            fields["loss_steps"] = (
                np.concatenate(loss_steps) if loss_steps else np.empty(0, np.int64)
            )
            if tables:
                fields["diagnostics"] = np.concatenate(tables)
            if products:
                fields["products"] = np.stack(products)
                fields["has_product"] = np.array(has_product)
            with atomic_write(Path(path)) as stream:
                np.savez(stream, **fields)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        callback: BatchCallback | None = None,
        progress: bool = False,
    ) -> BatchTrainer:
        """A batch from a checkpoint written by ``save``. ValueError for a file that is missing,
        corrupt, of another format or inconsistent."""
        from . import _checkpoint

        data = _checkpoint.load_archive(Path(path))
        try:
            if str(data.get("format", "")) != BATCH_FORMAT:
                raise ValueError(f"not a {BATCH_FORMAT} checkpoint")
            layers, phis = data["layers"], data["phis"]
            if layers.ndim != 4:
                raise ValueError(f"layers must be (B, L, d, d), got shape {layers.shape}")
            if layers.dtype not in (np.float32, np.float64) or phis.dtype != layers.dtype:
                raise ValueError(
                    f"layers ({layers.dtype}) and phis ({phis.dtype}) must have one dtype, "
                    "float32 or float64"
                )
            options = {name: data[name] for name in PARAMETER_NAMES}
            spec = SPECS[str(data["method"])] if str(data["method"]) in SPECS else None
            given = {
                name: (options[name] if spec is not None and spec.parameter(name) else None)
                for name in PARAMETER_NAMES
            }
            trainer = cls(
                phis,
                layers.shape[1],
                str(data["method"]),
                lr=data["lr"],
                init=layers,
                record_every=int(_checkpoint.integer(data, "record_every", 1)),
                threads=int(_checkpoint.integer(data, "threads", 1)),
                diagnostics=bool(_checkpoint.flag(data, "record_diagnostics")),
                callback=callback,
                progress=progress,
                **given,
            )
            count = len(trainer)
            sizes = np.asarray(data["history_sizes"])
            steps = np.asarray(data["steps"])
            recorded = np.asarray(data["recorded_current"])
            status = np.asarray(data["status"])
            if sizes.shape != (count,) or steps.shape != (count,) or recorded.shape != (count,):
                raise ValueError(
                    "history_sizes, steps and recorded_current need one entry per network"
                )
            if (
                sizes.dtype.kind not in "iu"
                or steps.dtype.kind not in "iu"
                or recorded.dtype.kind != "b"
            ):
                raise ValueError(
                    "history_sizes and steps must be integers, recorded_current booleans"
                )
            if status.shape != (count,) or not set(status.tolist()) <= set(_checkpoint.STATUSES):
                raise ValueError("status must hold one known status per network")
            ends = np.concatenate([[0], np.cumsum(sizes)])
            losses, loss_steps = np.asarray(data["losses"]), np.asarray(data["loss_steps"])
            if (sizes < 0).any() or ends[-1] != len(losses) or len(losses) != len(loss_steps):
                raise ValueError("the histories do not add up to the losses stored")
            table = data.get("diagnostics")
            for b in range(count):
                part = slice(int(ends[b]), int(ends[b + 1]))
                rows = None
                if trainer.record_diagnostics:
                    if table is None or table.shape != (len(losses), len(_core.diagnostic_names)):
                        raise ValueError("diagnostics do not match the losses")
                    rows = np.ascontiguousarray(table[part], dtype=np.float64)
                history = _checkpoint.checked_history(
                    losses[part], loss_steps[part], int(steps[b]), bool(recorded[b]), str(status[b])
                )
                trainer._session.restore(b, int(steps[b]), bool(recorded[b]), *history, rows)
            trainer.status = status.astype(object)
            # A power-projection batch always saves both (a network without a product has zeros
            # and False), so that a member lost from the archive cannot pass for none.
            if trainer.method == "power_projection" or "products" in data:
                products, has = data["products"], np.asarray(data["has_product"])
                if (
                    trainer.method != "power_projection"
                    or products.shape != trainer._phis.shape
                    or products.dtype != trainer._phis.dtype
                ):
                    raise ValueError("products do not match the batch")
                if has.shape != (count,) or has.dtype.kind != "b":
                    raise ValueError("has_product needs one boolean per network")
                for index in np.flatnonzero(has):
                    b = int(index)
                    product = np.ascontiguousarray(products[b], dtype=trainer._phis.dtype)
                    _checkpoint.check_product(product, trainer._layers[b], path)
                    if not trainer._session.resume(int(b), product):
                        raise ValueError(f"network {b}: product has no balanced factorization")
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(
                f"checkpoint {os.fspath(path)!r} is incomplete or invalid: {exc}"
            ) from None
        return trainer


def train_batch(
    phis: ArrayLike,
    depth: int,
    method: str = "gd",
    *,
    max_steps: int = 10_000,
    tol: ArrayLike = 0.0,
    **options: Any,
) -> BatchResult:
    """Train B independent networks towards ``phis`` (B, d, d) by one compiled call.

    Takes ``train``'s arguments, where ``lr``, ``tol``, ``gamma``, ``psi`` and ``kappa`` may be a
    number or one value per network, and ``init`` None, a number, an (L, d, d) array shared by
    every network or a (B, L, d, d) array. Each network has its own stop rule and status
    (converged, max_steps, diverged with its last finite state, interrupted, stopped).

    ``callback(steps, layers, losses)`` is called after every ``record_every`` steps of the call
    (and not after the last): ``steps`` (B,) the step counts, ``layers`` the live (B, L, d, d)
    array, ``losses`` (B,) each network's current loss; returning True stops every network
    (status ``"stopped"``). ``threads`` shares the networks among cores (capped at the cores
    available).

    Returns:
        A ``BatchResult``; ``result[b]`` equals ``train(phis[b], depth, method, ...)`` with
        network b's options, bit for bit. Ctrl-C stops every network at a completed step
        (status ``"interrupted"``) with a RuntimeWarning.
    """
    given_options("train_batch", dict(options))
    trainer = BatchTrainer(phis, depth, method, **options)
    return trainer._run(max_steps, tol, copy_layers=False)
