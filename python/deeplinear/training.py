"""Training deep linear networks by the methods the paper analyses: ``train`` and ``Trainer``.

Every method runs many steps inside one C++ call (the GIL released, Ctrl-C polled about every
50 ms); Python only works between calls, when a callback or the progress report asks for it.
The compiled core keeps the step count and the recorded history together with the layers, so
that whatever stops a call — the end of its steps, divergence, Ctrl-C, an exception — leaves
layers, ``steps`` and the history consistent with each other.

Methods (``Θ_i`` are the layers, ``G_i`` the gradients of Lemma 1, all layers move at once):

- ``"gd"`` (Sec. 3.1, Algorithm 1): Θ_i ← Θ_i − η G_i from Θ_i = I.
- ``"power_projection"`` (Sec. 5, Algorithm 2): a gradient step, then the product is projected
  onto H_γ = {A : uᵀAu ≥ γ} and the layers are replaced by its balanced factorization; from
  Θ_i = γ^{1/L} I.
- ``"step_and_project"`` (Sec. 6): a gradient step, then each layer is projected onto
  {A : ‖A − I‖₂ ≤ ψ}; from Θ_i = γ^{1/L} I (γ = 1 unless given).
- ``"penalty"`` (Sec. 6): gradient descent on ℓ + (κ/2) Σ_i ‖I − Θ_i‖_F²,
  Θ_i ← Θ_i − η (G_i + κ (Θ_i − I)); from Θ_i = I. The recorded loss is ℓ itself.
"""

from __future__ import annotations

import copy
import inspect
import numbers
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypedDict

import numpy as np
from numpy.typing import ArrayLike

from . import _checkpoint, _core
from ._methods import METHODS, PARAMETER_NAMES, resolve
from ._progress import Progress
from ._validation import (
    INT64_MAX,
    as_float_array,
    as_layers,
    as_square,
    check_depth,
    check_int,
    check_nonnegative,
    check_step_size,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["METHODS", "TrainOptions", "TrainResult", "Trainer", "train"]

Callback = Callable[[int, np.ndarray, float], Any]


class TrainOptions(TypedDict, total=False):
    """The keyword arguments that ``train``, ``Trainer`` and a sweep's configs share (``lr`` is
    required); their defaults are ``OPTION_DEFAULTS`` and their meaning is in ``train``'s
    docstring."""

    lr: float
    init: ArrayLike | float | None
    gamma: float | None
    psi: float | None
    kappa: float | None
    record_every: int
    callback: Callback | None
    progress: bool
    threads: int
    diagnostics: bool


OPTION_DEFAULTS: dict[str, Any] = {
    "lr": inspect.Parameter.empty,
    "init": None,
    "gamma": None,
    "psi": None,
    "kappa": None,
    "record_every": 1,
    "callback": None,
    "progress": False,
    "threads": 1,
    "diagnostics": False,
}
"""Each training option's default (``lr`` has none: it must be given)."""


@dataclass(repr=False)
class TrainResult:
    """The outcome of a training run.

    Attributes:
        layers: (L, d, d) final layers (``layers[i-1]`` = Θ_i).
        losses: the loss ℓ at step 0, every ``record_every`` steps, and at the last step.
        loss_steps: the step number of each entry of ``losses``.
        steps: the number of steps taken.
        status: ``"converged"`` (ℓ ≤ tol), ``"max_steps"``, ``"diverged"`` (ℓ or the layers
            stopped being finite, or ℓ > 1e100; ``layers`` is the last finite state),
            ``"interrupted"`` (Ctrl-C; the last completed step) or ``"stopped"`` (the
            callback returned True).
        final_loss: ℓ at the final state.
        method: the training method.
        diagnostics: with ``diagnostics=True``, a dict of arrays aligned with ``losses``:
            ``loss``, ``radius`` (maxᵢ‖Θ_i − I‖₂), ``min_singular`` / ``max_singular``
            (min/max over layers of σ_min/σ_max), ``grad_norm`` (‖∇ℓ‖), ``lemma2_ratio``
            (‖∇ℓ‖²/(4ℓL(1 − a)^{2L}) with 1 − a = min(σ_min, 1), Lemma 2 as the paper states it,
            which can fall to ½:
            the stated constant is off by 2 for ℓ = ½‖·‖²), ``lemma2_corrected_ratio``
            (‖∇ℓ‖²/(2ℓLσ_min^{2(L−1)}), provably ≥ 1), ``margin`` (of Θ_{1:L}) and
            ``balancedness`` (maxᵢ‖Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ‖_F); else None.
        extras: method-specific results (``spectral_gd``: the eigenbasis and eigenvalues).
    """

    layers: np.ndarray
    losses: np.ndarray
    loss_steps: np.ndarray
    steps: int
    status: str
    final_loss: float
    method: str = "gd"
    diagnostics: dict[str, np.ndarray] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        depth, dim = self.layers.shape[0], self.layers.shape[1]
        return (
            f"TrainResult(method={self.method!r}, status={self.status!r}, steps={self.steps}, "
            f"final_loss={self.final_loss:.6g}, depth={depth}, d={dim})"
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{name}</th><td>{value}</td></tr>"
            for name, value in (
                ("method", self.method),
                ("status", self.status),
                ("steps", self.steps),
                ("final loss", f"{self.final_loss:.6g}"),
                (
                    "layers",
                    f"{self.layers.shape[0]} × ({self.layers.shape[1]}×{self.layers.shape[2]})",
                ),
                ("recorded losses", len(self.losses)),
            )
        )
        return f"<table><caption>TrainResult</caption>{rows}</table>"


def given_options(caller: str, options: dict[str, Any]) -> dict[str, Any]:
    """Every training option, the given ones over ``OPTION_DEFAULTS``; TypeError for a keyword
    that is not an option or a missing ``lr`` (``caller`` names the function in the message)."""
    for name in options:
        if name not in OPTION_DEFAULTS:
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}")
    given = {**OPTION_DEFAULTS, **options}
    if given["lr"] is inspect.Parameter.empty:
        raise TypeError(f"{caller}() missing the required keyword argument 'lr' (the step size η)")
    return given


@dataclass(frozen=True)
class RunSettings:
    """The options of a run that are not about the method: validated once."""

    record_every: int
    callback: Callable[..., Any] | None
    progress: bool
    threads: int
    diagnostics: bool

    @classmethod
    def check(cls, given: dict[str, Any]) -> RunSettings:
        callback = given["callback"]
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        return cls(
            record_every=check_int(given["record_every"], "record_every", 1),
            callback=callback,
            progress=bool(given["progress"]),
            threads=_check_threads(given["threads"]),
            diagnostics=bool(given["diagnostics"]),
        )


def _initial_layers(init: object, depth: int, phi: np.ndarray, scale: float) -> np.ndarray:
    """init None: scale·I; a real number s: s·I; else an (L, d, d) array, copied."""
    dim = phi.shape[0]
    if init is None or isinstance(init, numbers.Real):
        if init is not None:
            try:
                scale = float(init)
            except OverflowError:  # an int beyond float64 (10**400)
                raise ValueError(
                    "init must be finite, got an integer beyond float64's range"
                ) from None
            if isinstance(init, (bool, np.bool_)) or not np.isfinite(scale):
                raise ValueError(
                    f"init must be a finite number or an (L, d, d) array, got {init!r}"
                )
            if abs(scale) > float(np.finfo(phi.dtype).max):
                raise ValueError(f"init = {scale:g} is beyond the range of {phi.dtype}")
        layers = np.zeros((depth, dim, dim), dtype=phi.dtype)
        layers[:, np.arange(dim), np.arange(dim)] = scale
        return layers
    layers = as_layers(init, "init", phi.dtype).copy()
    if layers.shape != (depth, dim, dim):
        raise ValueError(
            f"init must have shape (depth, d, d) = {(depth, dim, dim)}, got {layers.shape}"
        )
    return layers


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _check_threads(threads: object) -> int:
    """A thread count >= 1, capped at the cores available (more only oversubscribe them)."""
    return min(check_int(threads, "threads", 1), available_cores())


def _stops(answer: object) -> bool:
    """Whether a callback's return value asks to stop: True or numpy's True."""
    return answer is True or (isinstance(answer, np.bool_) and bool(answer))


def warn_interrupted(steps: int, stacklevel: int = 4) -> None:
    """Say that a run stopped at Ctrl-C: the interrupt is never swallowed silently."""
    warnings.warn(
        f"training interrupted (Ctrl-C or cancel()) after {steps} steps; "
        "the result holds the state of the last completed step",
        RuntimeWarning,
        stacklevel=stacklevel,
    )


class _Cadence:
    """How many steps the next compiled call takes: all that are left, unless a callback must see
    every record (calls end on the record grid) or a progress report must move (calls start
    at one step and double while a call takes under 50 ms)."""

    def __init__(self, callback: bool, progress: bool) -> None:
        self.callback = callback
        self.limit = 1 if progress else None

    def next(self, steps: int, remaining: int, record_every: int) -> int:
        """record_every as it is now: a callback may have changed it."""
        size = remaining if self.limit is None else min(remaining, self.limit)
        if self.callback:
            size = min(size, record_every - steps % record_every)
        return size

    def took(self, seconds: float) -> None:
        if self.limit is not None and seconds < 0.05:
            self.limit *= 2


def _restored(kind: Any, checkpoint: bytes, callback: Any, progress: bool) -> Any:
    """A Trainer or BatchTrainer (``kind``) from a checkpoint's bytes (copies and pickles)."""
    with tempfile.TemporaryDirectory(prefix="deeplinear-copy-") as folder:
        path = Path(folder) / "state.npz"
        path.write_bytes(checkpoint)
        return kind.load(path, callback=callback, progress=progress)


class _Live:
    """What a Trainer and a BatchTrainer share: the live layers (stepped in place by the compiled
    session), a guard against use from two threads, and cancellation."""

    _layers: np.ndarray
    _session: Any
    _record_every: int
    _lock: threading.RLock
    _in_callback: bool
    _threads: int
    _record_diagnostics: bool
    _kind = "Trainer"

    @property
    def threads(self) -> int:
        """Threads of the compiled calls, as given at construction (capped at the cores
        available); fixed for the trainer's life."""
        return self._threads

    @property
    def record_diagnostics(self) -> bool:
        """Whether the diagnostics are recorded with each loss; fixed for the trainer's life."""
        return self._record_diagnostics

    @property
    def layers(self) -> np.ndarray:
        """The live layers; readable and writable between steps (the compiled loop checks that
        they are finite and notices the change)."""
        return self._layers

    @layers.setter
    def layers(self, value: ArrayLike) -> None:
        with self._using():
            new = as_float_array(value, "layers", self._layers.dtype)
            if new.shape != self._layers.shape:
                raise ValueError(f"layers must have shape {self._layers.shape}, got {new.shape}")
            self._layers[...] = new

    # -- copies: through a checkpoint, so that a copy continues exactly as save/load would ----
    def __copy__(self) -> Any:
        """An independent trainer in this one's state, which continues bit for bit as this one
        would (what ``save`` and ``load`` give), with the same callback and progress setting:
        ``copy.copy`` and ``copy.deepcopy`` branch a run (also inside a callback). ValueError
        where ``save`` refuses (layers edited into non-finite values)."""
        return _restored(type(self), self._checkpoint_bytes(), self.callback, self.progress)  # type: ignore[attr-defined]

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        """As ``__copy__``, with the callback deep-copied too (so that an object holding the
        trainer and its callback's object is copied whole, as deepcopy copies)."""
        copied = _restored(type(self), self._checkpoint_bytes(), None, self.progress)  # type: ignore[attr-defined]
        memo[id(self)] = copied
        copied.callback = copy.deepcopy(self.callback, memo)  # type: ignore[attr-defined]
        return copied

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickling: the checkpoint, the callback (which must itself pickle) and the progress
        setting; unpickled, the trainer continues bit for bit as this one would."""
        return (_restored, (type(self), self._checkpoint_bytes(), self.callback, self.progress))  # type: ignore[attr-defined]

    def _check_budget(self, count: int, name: str) -> None:
        """ValueError naming ``name`` when ``count`` more steps would take a step count past
        2**63 − 1 (checked before a call, which callbacks and progress reports cut in chunks)."""
        steps = np.asarray(self.steps)  # type: ignore[attr-defined]
        most = int(steps.max()) if steps.size else 0
        if count > INT64_MAX - most:
            raise ValueError(f"{name} = {count} would take the step count past 2**63 - 1 ({most})")

    def _checkpoint_bytes(self) -> bytes:
        with tempfile.TemporaryDirectory(prefix="deeplinear-copy-") as folder:
            path = Path(folder) / "state.npz"
            self.save(path)  # type: ignore[attr-defined]
            return path.read_bytes()

    def cancel(self) -> None:
        """Stop the running ``step``/``run`` as Ctrl-C would, from any thread: it returns at its
        next check (about every 50 ms) with status ``"interrupted"``. Called between calls, it
        stops the next call before its first step; the call that it stops uses it up."""
        self._session.cancel()

    @property
    def record_every(self) -> int:
        """Record ℓ every this many steps; may be changed between steps (the history so far
        stays)."""
        return self._record_every

    @record_every.setter
    def record_every(self, value: int) -> None:
        record_every = check_int(value, "record_every", 1)
        with self._using():
            self._session.set_record_every(record_every)
            self._record_every = record_every

    def _busy(self) -> NoReturn:
        raise RuntimeError(
            f"this {self._kind} is in use by another thread (a {self._kind} is not thread-safe: "
            "use it from one thread at a time)"
        )

    @contextmanager
    def _using(self) -> Iterator[None]:
        """Hold the run for this thread (re-entrant: a callback may read or save it)."""
        if not self._lock.acquire(blocking=False):
            self._busy()
        try:
            yield
        finally:
            self._lock.release()

    def _check_not_in_callback(self) -> None:
        if self._in_callback:
            raise RuntimeError(f"a {self._kind} cannot be stepped from its own callback")


class Trainer(_Live):
    """A steppable training run, for embedding in a simulator.

    ``Trainer(phi, depth, method="gd", *, lr, **options)`` takes the arguments of ``train``
    (except ``max_steps`` and ``tol``, which are ``run``'s) and holds the layers: ``step(n)``
    takes n steps, ``run(max_steps, tol)`` runs to a stop. ``layers`` is the live (L, d, d) array:
    it may be read and written between steps (the compiled loop checks that it is finite and
    notices the change).

    A Trainer is used by one thread at a time: a call from a second thread while one is running
    raises RuntimeError rather than corrupting the run (reading ``steps`` and ``status`` is
    always allowed). A callback may read the trainer, ``save`` it or edit its layers, but not
    step it.
    """

    def __init__(
        self,
        phi: ArrayLike,
        depth: int,
        method: str = "gd",
        **options: Unpack[TrainOptions],
    ) -> None:
        given = given_options("Trainer", dict(options))
        self._phi = as_square(phi, "phi").copy()
        self._phi.flags.writeable = False
        self.depth = check_depth(depth)
        self.method, self._options, scale = resolve(
            method, self.depth, {name: given[name] for name in PARAMETER_NAMES}, self._phi.dtype
        )
        self._lr = check_step_size(given["lr"], "lr", self._phi.dtype)
        settings = RunSettings.check(given)
        self._record_every = settings.record_every
        self.callback: Callback | None = settings.callback
        self.progress = settings.progress
        self._threads = settings.threads
        self._record_diagnostics = settings.diagnostics
        self._layers = _initial_layers(given["init"], self.depth, self._phi, scale)
        self._session = _core.session(
            self._layers,
            self._phi,
            self.method,
            self._lr,
            gamma=self._options["gamma"],
            psi=self._options["psi"],
            kappa=self._options["kappa"],
            record_every=self._record_every,
            threads=self._threads,
            diagnostics=self._record_diagnostics,
        )
        self.status = "max_steps"
        self._lock = threading.RLock()
        self._in_callback = False
        self._edited = False  # (by the last callback: see _record_edit)

    # -- state ---------------------------------------------------------------------------
    @property
    def phi(self) -> np.ndarray:
        """The target Φ (read-only copy)."""
        return self._phi

    @property
    def lr(self) -> float:
        """The step size η; may be changed between steps (e.g. a schedule)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        lr = check_step_size(value, "lr", self._phi.dtype)
        with self._using():
            self._session.set_lr(lr)
            self._lr = lr

    @property
    def loss(self) -> float:
        """ℓ at the current layers."""
        with self._using():
            return float(self._session.loss())

    @property
    def steps(self) -> int:
        """Steps taken so far."""
        return int(self._session.steps)

    @property
    def losses(self) -> np.ndarray:
        """Every loss recorded so far (see ``loss_steps``)."""
        with self._using():
            return self._session.history(0)[0]

    @property
    def loss_steps(self) -> np.ndarray:
        """The step numbers of ``losses``."""
        with self._using():
            return self._session.history(0)[1]

    @property
    def diagnostics(self) -> dict[str, np.ndarray] | None:
        """Every diagnostics row recorded so far (``diagnostics=True``), aligned with ``losses``."""
        if not self.record_diagnostics:
            return None
        with self._using():
            table = self._session.history(0)[2]
        return dict(zip(_core.diagnostic_names, table.T.copy()))

    def __repr__(self) -> str:
        try:
            loss = f"{self.loss:.6g}"
        except ValueError:  # NaN written into the live layers: a repr never raises
            loss = "nan"
        except RuntimeError:  # running in another thread
            loss = "?"
        return (
            f"Trainer(method={self.method!r}, depth={self.depth}, d={self._phi.shape[0]}, "
            f"lr={self.lr:g}, steps={self.steps}, loss={loss}, status={self.status!r})"
        )

    # -- checkpoints ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a checkpoint (.npz): layers, Φ, the method and its options, lr, record_every,
        threads, the step count and the recorded history. The write is atomic (a temporary file
        in the same folder, then a rename), so a crash never leaves a half-written checkpoint.
        A trainer loaded from it continues bit for bit as this one would. ValueError for layers
        that are not finite (edited in place), which no trainer could continue from."""
        with self._using():
            if not np.isfinite(self._layers).all():
                raise ValueError(
                    "layers must contain only finite values (found NaN or inf): not saved"
                )
            # Layers edited in place since the last call: noted now, as the next call would note
            # them (it records the edited state first), so that the loaded trainer does the same;
            # inside a callback, recorded now, as this trainer will once the callback returns.
            self._session.check()
            if self._in_callback:
                self._record_edit()
            losses, loss_steps, diagnostics = self._session.history(0)
            _checkpoint.write(
                Path(path),
                layers=self._layers,
                phi=self._phi,
                method=self.method,
                lr=self.lr,
                options=self._options,
                record_every=self.record_every,
                threads=self._threads,
                steps=self.steps,
                recorded_current=bool(self._session.recorded_current),
                record_diagnostics=self._record_diagnostics,
                status=self.status,
                losses=losses,
                loss_steps=loss_steps,
                diagnostics=diagnostics,
                product=self._session.product() if self.method == "power_projection" else None,
            )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        callback: Callback | None = None,
        progress: bool = False,
    ) -> Trainer:
        """A trainer from a checkpoint written by ``save`` (callbacks are not saved: pass one).

        Raises ValueError for a file that is missing, unreadable, corrupt, truncated, not a
        deeplinear checkpoint of this format, or whose fields are invalid or inconsistent with
        each other (see the checks in ``deeplinear._checkpoint``)."""
        saved = _checkpoint.read(Path(path))
        try:
            trainer = cls(
                saved.phi,
                saved.layers.shape[0],
                saved.method,
                lr=saved.lr,
                init=saved.layers,
                record_every=saved.record_every,
                callback=callback,
                progress=progress,
                threads=saved.threads,
                diagnostics=saved.record_diagnostics,
                **saved.options,
            )
            trainer._session.restore(
                saved.steps,
                saved.recorded_current,
                saved.losses,
                saved.loss_steps,
                saved.diagnostics,
            )
            trainer.status = saved.status
            if saved.product is not None:
                _checkpoint.check_product(saved.product, trainer._layers, path)
                if not trainer._session.resume(saved.product):
                    raise ValueError("product has no balanced factorization")
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"checkpoint {os.fspath(path)!r} is incomplete or invalid: {exc}"
            ) from None
        return trainer

    # -- stepping ------------------------------------------------------------------------
    def step(self, n: int = 1) -> float:
        """Take ``n`` steps (fewer if the run diverges or is interrupted); return ℓ after them.

        Consecutive calls record losses exactly as one long run would (every ``record_every``
        steps), so ``step(a); step(b); run(c)`` gives the history of ``run(a + b + c)``.
        """
        if type(n) is not int or not 0 <= n <= INT64_MAX:
            n = check_int(n, "n", 0)
        # The short path of a simulator's tick: the lock taken by hand (a context manager costs
        # more than the step), one compiled call, no bookkeeping in Python.
        lock = self._lock
        if not lock.acquire(False):
            self._busy()
        try:
            self._check_not_in_callback()
            if self.callback is None:
                try:
                    status, _, loss = self._session.run(n, 0.0, False)
                except KeyboardInterrupt:
                    status = "interrupted"
                except ValueError:  # (the compiled check names max_steps)
                    self._check_budget(n, "n")
                    raise
                self.status = status
                if status == "interrupted":
                    return self._interrupted()
                return loss
            self._check_budget(n, "n")
            self._drive(n, 0.0, show_progress=False, record_final=False)
            return float(self._session.loss())
        finally:
            lock.release()

    def run(self, max_steps: int = 10_000, tol: float = 0.0) -> TrainResult:
        """Step until ℓ ≤ ``tol``, ``max_steps`` more steps, divergence or an interrupt."""
        return self._run(max_steps, tol, copy_layers=True)

    def _run(self, max_steps: int, tol: float, copy_layers: bool) -> TrainResult:
        """run(); the result holds the live layers themselves unless ``copy_layers`` (train()
        drops its Trainer, so it hands them over instead of copying L·d² numbers)."""
        max_steps = check_int(max_steps, "max_steps", 0)
        tol = check_nonnegative(tol, "tol")
        with self._using():
            self._check_not_in_callback()
            self._check_budget(max_steps, "max_steps")
            first = int(self._session.history_size)
            self._drive(max_steps, tol, show_progress=self.progress, record_final=True)
            losses, loss_steps, table = self._session.history(first)
            diagnostics = None
            if table is not None:
                diagnostics = dict(zip(_core.diagnostic_names, table.T.copy()))
            return TrainResult(
                layers=self._layers.copy() if copy_layers else self._layers,
                losses=losses,
                loss_steps=loss_steps,
                steps=self.steps,
                status=self.status,
                final_loss=float(losses[-1]) if len(losses) else float(self._session.loss()),
                method=self.method,
                diagnostics=diagnostics,
            )

    def _interrupted(self) -> float:
        """After Ctrl-C: the current state recorded (if it is not yet: also where a callback
        edited it), a warning; returns ℓ."""
        loss = self._record_current()
        warn_interrupted(self.steps, stacklevel=5)
        return loss

    def _record_current(self) -> float:
        """The current state recorded, unless it is already (an edit made since the last
        compiled call, e.g. by a callback, is noted first); returns its ℓ."""
        self._session.check()
        if not self._session.recorded_current:
            return float(self._session.record_current())
        return float(self._session.history(self._session.history_size - 1)[0][0])

    def _drive(
        self, max_steps: int, tol: float, *, show_progress: bool, record_final: bool
    ) -> None:
        """Up to max_steps steps in as few compiled calls as the callback and the progress
        report allow; sets ``status``. Records ℓ every record_every steps, and the final state
        when ``record_final`` or when the run ended early (converged, diverged, interrupted)."""
        self.status = "max_steps"
        try:
            self._steps(max_steps, tol, show_progress=show_progress, record_final=record_final)
        except KeyboardInterrupt:
            self.status = "interrupted"
        if self.status == "interrupted":
            self._interrupted()
        elif self.callback is not None and (record_final or self.status != "max_steps"):
            # a callback that edited the final state (then stopped the run, or at the last record):
            # that state is recorded again, as the next call would, so that the result describes it
            self._record_current()

    def _steps(
        self, max_steps: int, tol: float, *, show_progress: bool, record_final: bool
    ) -> None:
        """_drive's steps and callbacks (which set ``status`` where they stop the run)."""
        session = self._session
        target = session.steps + max_steps
        cadence = _Cadence(self.callback is not None, show_progress)
        with Progress(max_steps, desc="training", unit="step", enabled=show_progress) as report:
            if self.callback is not None and self._record_due_start():
                return
            while True:
                remaining = target - session.steps
                size = cadence.next(session.steps, remaining, self.record_every)
                first = int(session.history_size)
                started = time.perf_counter()
                status, taken, loss = session.run(size, tol, record_final and size == remaining)
                cadence.took(time.perf_counter() - started)
                report.update(int(taken), loss=float(loss))
                finished = status != "max_steps" or session.steps >= target
                if finished:  # (before the callback, which may save the trainer)
                    self.status = status
                if self.callback is not None and self._call_back(first, status):
                    return
                if finished and not self._resumes(status, target):
                    return

    def _resumes(self, status: str, target: int) -> bool:
        """Whether a run that converged or diverged goes on: the callback edited the state it
        stopped at (its status described the layers it had), and steps are left."""
        if not (self._edited and status in ("converged", "diverged")):
            return False
        if self._session.steps >= target:
            return False
        self.status = "max_steps"
        return True

    def _record_edit(self) -> None:
        """A state the callback edited, recorded again now (not called back: the callback made
        it), rather than by the next compiled call, whose records are called back after it
        steps, with the layers of a later step; notes the edit (``_edited``)."""
        session = self._session
        session.check()
        if not session.recorded_current:
            self._edited = True
            if session.steps % self.record_every == 0:
                session.record_current()

    def _record_due_start(self) -> bool:
        """With a callback, a start on the record grid that is not yet recorded (also one edited
        between calls) is recorded and called back before any step, so that the callback sees its
        layers; True to stop."""
        session = self._session
        session.check()  # (an edit made between calls: its state is not recorded yet)
        if session.steps % self.record_every != 0 or session.recorded_current:
            return False
        first = int(session.history_size)
        if not np.isfinite(session.record_current()):  # a start whose product overflows
            self.status = "diverged"  # (as the first compiled call would find, before any step)
        return self._call_back(first, self.status) or self.status == "diverged"

    def _call_back(self, first: int, status: str) -> bool:
        """Call the callback for each record from index ``first`` on; True when the run must
        stop (the callback returned True, or wrote non-finite values into the layers: the state
        before the callback is restored and the run ends as diverged)."""
        self._edited = False
        losses, loss_steps, _ = self._session.history(first)
        if not len(losses):
            return False
        backup = self._layers.copy()
        stop = False
        self._in_callback = True
        try:
            for step, value in zip(loss_steps.tolist(), losses.tolist()):
                stop = _stops(self.callback(step, self._layers, value)) or stop  # type: ignore[misc]
        finally:  # also when the callback raised (Ctrl-C in it): never left non-finite
            self._in_callback = False
            broken = not np.isfinite(self._layers).all()
            if broken:
                self._layers[...] = backup
        if broken:
            self.status = "diverged"
            return True
        if stop:
            self.status = "stopped" if status == "max_steps" else status
            return True
        self._record_edit()
        return False


def _with_options_signature(function: Callable[..., Any], leading: list[inspect.Parameter]) -> None:
    """Give ``function`` the explicit signature of its ``**options`` (for help() and the docs)."""
    options = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in OPTION_DEFAULTS.items()
    ]
    returns = inspect.signature(function).return_annotation
    function.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        leading + options, return_annotation=returns
    )


def train(
    phi: ArrayLike,
    depth: int,
    method: str = "gd",
    *,
    max_steps: int = 10_000,
    tol: float = 0.0,
    **options: Unpack[TrainOptions],
) -> TrainResult:
    """Train a deep linear network Θ_L ⋯ Θ_1 towards Φ by one of the paper's methods.

    The loss is ℓ(Θ) = ½‖Θ_{1:L} − Φ‖_F² (isotropic inputs, Sec. 2).

    Args:
        phi: the (d, d) target Φ (float64, or float32 to train in float32).
        depth: the number of layers L ≥ 1.
        method: ``"gd"``, ``"power_projection"`` (needs ``gamma``), ``"step_and_project"``
            (needs ``psi``; ``gamma`` sets the initial scale, default 1) or ``"penalty"``
            (needs ``kappa``); see the module docstring for the update rules.
        max_steps: the most steps to take.
        tol: stop once ℓ ≤ tol (status ``"converged"``).
        lr: the step size η > 0 (required).
        init: None for the method's own start (I, or γ^{1/L}·I for power projection and
            step-and-project), a number s for s·I, or an (L, d, d) array (copied). The start is
            not projected: step-and-project's ‖Θ_i − I‖₂ ≤ ψ holds for every state after a step
            (a start outside the ball, e.g. γ^{1/L} far from 1, is projected by the first step;
            a run that meets ``tol`` at step 0 returns it as it is).
        gamma, psi, kappa: the method's parameters (γ > 0, ψ > 0, κ ≥ 0).
        record_every: record ℓ every this many steps (and at steps 0 and the last).
        callback: ``callback(step, layers, loss)`` at every recorded step; returning True stops
            the run (status ``"stopped"``). ``layers`` is the live array.
        progress: report progress on stderr (default False): a bar on a terminal, a plain line
            every 10 s when stderr is a file or a pipe.
        threads: threads for the matrix products (default 1; capped at the cores available).
        diagnostics: also record, at every recorded step, the per-state diagnostics of
            ``TrainResult.diagnostics`` (computed in C++; costs about 2L SVDs per record).

    Returns:
        A ``TrainResult``. Ctrl-C returns the state of the last completed step with status
        ``"interrupted"`` and a RuntimeWarning.

    Raises:
        ValueError, TypeError: for invalid arguments, naming the argument.
    """
    given_options("train", dict(options))
    trainer = Trainer(phi, depth, method, **options)
    return trainer._run(max_steps, tol, copy_layers=False)


_POSITIONAL = [
    inspect.Parameter("phi", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    inspect.Parameter("depth", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    inspect.Parameter("method", inspect.Parameter.POSITIONAL_OR_KEYWORD, default="gd"),
]
_with_options_signature(
    train,
    [
        *_POSITIONAL,
        inspect.Parameter("max_steps", inspect.Parameter.KEYWORD_ONLY, default=10_000),
        inspect.Parameter("tol", inspect.Parameter.KEYWORD_ONLY, default=0.0),
    ],
)
_with_options_signature(
    Trainer.__init__,
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *_POSITIONAL],
)
