"""Training deep linear networks by the methods the paper analyses: ``train`` and ``Trainer``.

Every method runs many steps inside one C++ call (the GIL released, Ctrl-C polled about every
50 ms); Python only works between calls, when a callback or the progress bar asks for it.

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

import hashlib
import numbers
import os
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._atomic import atomic_write
from ._validation import (
    as_layers,
    as_square,
    check_depth,
    check_int,
    check_nonnegative,
    check_positive,
)

__all__ = ["METHODS", "TrainResult", "Trainer", "train"]

METHODS = ("gd", "power_projection", "step_and_project", "penalty")
CHECKPOINT_FORMAT = "deeplinear-checkpoint-1"
_MAX_RECORDS_PER_CALL = 1 << 20
_METHOD_PARAMETERS = {
    "gd": (),
    "power_projection": ("gamma",),
    "step_and_project": ("psi", "gamma"),
    "penalty": ("kappa",),
}

Callback = Callable[[int, np.ndarray, float], Any]


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


def _method_options(
    method: object,
    depth: int,
    gamma: object,
    psi: object,
    kappa: object,
) -> tuple[str, dict[str, float], float]:
    """Validate the method's own parameters; return (method, options for _core, init scale)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    given = {"gamma": gamma, "psi": psi, "kappa": kappa}
    uses = _METHOD_PARAMETERS[method]
    for name, value in given.items():
        if value is not None and name not in uses:
            raise ValueError(f"{name} is not a parameter of method={method!r}")
    options = {"gamma": 0.0, "psi": 0.0, "kappa": 0.0}
    scale = 1.0
    if method == "power_projection":
        if gamma is None:
            raise ValueError("method='power_projection' needs gamma > 0 (the H_γ margin)")
        options["gamma"] = check_positive(gamma, "gamma")
        scale = options["gamma"] ** (1.0 / depth)
    elif method == "step_and_project":
        if psi is None:
            raise ValueError("method='step_and_project' needs psi > 0 (the radius around I)")
        options["psi"] = check_positive(psi, "psi")
        scale = check_nonnegative(1.0 if gamma is None else gamma, "gamma") ** (1.0 / depth)
    elif method == "penalty":
        if kappa is None:
            raise ValueError("method='penalty' needs kappa >= 0 (the weight of Σ‖I − Θ_i‖²/2)")
        options["kappa"] = check_nonnegative(kappa, "kappa")
    return method, options, scale


def _initial_layers(init: object, depth: int, phi: np.ndarray, scale: float) -> np.ndarray:
    """init None: scale·I; a real number s: s·I; else an (L, d, d) array, copied."""
    dim = phi.shape[0]
    if init is None or isinstance(init, numbers.Real):
        if init is not None:
            scale = float(init)
            if isinstance(init, (bool, np.bool_)) or not np.isfinite(scale):
                raise ValueError(
                    f"init must be a finite number or an (L, d, d) array, got {init!r}"
                )
        layers = np.zeros((depth, dim, dim), dtype=phi.dtype)
        layers[:, np.arange(dim), np.arange(dim)] = scale
        return layers
    layers = as_layers(init, "init", phi.dtype).copy()
    if layers.shape != (depth, dim, dim):
        raise ValueError(
            f"init must have shape (depth, d, d) = {(depth, dim, dim)}, got {layers.shape}"
        )
    return layers


class Trainer:
    """A steppable training run, for embedding in a simulator.

    ``Trainer(phi, depth, method="gd", *, lr, init=None, gamma=None, psi=None, kappa=None,
    record_every=1, callback=None, progress=False, threads=1, diagnostics=False)`` holds the
    layers and steps them with ``step(n)`` or ``run(max_steps, tol)``. ``layers`` is the live
    (L, d, d) array: it may be read and written between steps. See ``train`` for the parameters.
    """

    def __init__(
        self,
        phi: ArrayLike,
        depth: int,
        method: str = "gd",
        *,
        lr: float,
        init: ArrayLike | float | None = None,
        gamma: float | None = None,
        psi: float | None = None,
        kappa: float | None = None,
        record_every: int = 1,
        callback: Callback | None = None,
        progress: bool = False,
        threads: int = 1,
        diagnostics: bool = False,
    ) -> None:
        self._phi = as_square(phi, "phi").copy()
        self._phi.flags.writeable = False
        self.depth = check_depth(depth)
        self.method, self._options, scale = _method_options(method, self.depth, gamma, psi, kappa)
        self.lr = check_positive(lr, "lr")
        self.record_every = check_int(record_every, "record_every", 1)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        self.callback = callback
        self.progress = bool(progress)
        self.threads = check_int(threads, "threads", 1, maximum=2**31 - 1)
        self.record_diagnostics = bool(diagnostics)
        self._layers = _initial_layers(init, self.depth, self._phi, scale)
        # power_projection: the projected product Ψ whose balanced factors the layers are, and
        # the digest of the layers it belongs to. The core then continues from Ψ (no Schur form
        # or layers per step, see cpp/include/deeplinear/power_projection.hpp) exactly as one
        # long call would; any change to the layers changes the digest and drops Ψ.
        self._product: np.ndarray | None = None
        self._product_digest: bytes | None = None
        self._steps = 0
        self._recorded_current = False  # whether ℓ at the current step is already recorded
        self.status = "max_steps"
        self._history_losses: list[np.ndarray] = []
        self._history_steps: list[np.ndarray] = []
        self._history_diagnostics: list[np.ndarray] = []

    # -- state ---------------------------------------------------------------------------
    @property
    def phi(self) -> np.ndarray:
        """The target Φ (read-only copy)."""
        return self._phi

    @property
    def layers(self) -> np.ndarray:
        """The live (L, d, d) layers; writable between steps."""
        return self._layers

    @layers.setter
    def layers(self, value: ArrayLike) -> None:
        new = as_layers(value, "layers", self._phi.dtype)
        if new.shape != self._layers.shape:
            raise ValueError(f"layers must have shape {self._layers.shape}, got {new.shape}")
        self._layers[...] = new
        self._recorded_current = False

    @property
    def loss(self) -> float:
        """ℓ at the current layers."""
        return float(_core.loss(self._checked_layers(), self._phi))

    @property
    def steps(self) -> int:
        """Steps taken so far."""
        return self._steps

    @property
    def losses(self) -> np.ndarray:
        """Every loss recorded so far (see ``loss_steps``)."""
        return np.concatenate(self._history_losses) if self._history_losses else np.empty(0)

    @property
    def loss_steps(self) -> np.ndarray:
        """The step numbers of ``losses``."""
        if not self._history_steps:
            return np.empty(0, dtype=np.int64)
        return np.concatenate(self._history_steps)

    def __repr__(self) -> str:
        # Not self.loss: a repr must not raise when a user wrote NaN into the live layers.
        loss = float(_core.loss(self._layers, self._phi))
        return (
            f"Trainer(method={self.method!r}, depth={self.depth}, d={self._phi.shape[0]}, "
            f"lr={self.lr:g}, steps={self._steps}, loss={loss:.6g}, status={self.status!r})"
        )

    # -- checkpoints ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a checkpoint (.npz): layers, Φ, the method and its options, lr, record_every,
        threads, the step count and the recorded history. The write is atomic (a temporary file
        in the same folder, then a rename), so a crash never leaves a half-written checkpoint.
        A trainer loaded from it continues bit for bit as this one would."""
        path = Path(path)
        history: dict[str, Any] = {
            "losses": self.losses,
            "loss_steps": self.loss_steps,
        }
        table = self.diagnostics
        if table is not None:
            history["diagnostics"] = np.stack([table[name] for name in _core.diagnostic_names])
        if self._product is not None and self._product_valid(self._layers):
            history["product"] = self._product  # power_projection: continue exactly (see __init__)
        with atomic_write(path) as stream:
            np.savez(
                stream,
                format=np.array(CHECKPOINT_FORMAT),
                layers=self._layers,
                phi=self._phi,
                method=np.array(self.method),
                lr=np.array(self.lr),
                gamma=np.array(self._options["gamma"]),
                psi=np.array(self._options["psi"]),
                kappa=np.array(self._options["kappa"]),
                record_every=np.array(self.record_every),
                threads=np.array(self.threads),
                steps=np.array(self._steps),
                recorded_current=np.array(self._recorded_current),
                record_diagnostics=np.array(self.record_diagnostics),
                status=np.array(self.status),
                **history,
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

        Raises ValueError for a file that is missing, corrupt, truncated or not a deeplinear
        checkpoint of this format."""
        try:
            with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as saved:
                data = {name: saved[name] for name in saved.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"cannot read checkpoint {os.fspath(path)!r}: {exc}") from None
        if str(data.get("format", "")) != CHECKPOINT_FORMAT:
            raise ValueError(
                f"{os.fspath(path)!r} is not a {CHECKPOINT_FORMAT} checkpoint "
                f"(format {str(data.get('format', 'missing'))!r})"
            )
        try:
            method = str(data["method"])
            options = {
                name: float(data[name]) or None
                for name in ("gamma", "psi", "kappa")
                if name in _METHOD_PARAMETERS[method]
            }
            if method == "penalty":
                options["kappa"] = float(data["kappa"])
            trainer = cls(
                data["phi"],
                int(data["layers"].shape[0]),
                method,
                lr=float(data["lr"]),
                init=data["layers"],
                record_every=int(data["record_every"]),
                callback=callback,
                progress=progress,
                threads=int(data["threads"]),
                diagnostics=bool(data["record_diagnostics"]),
                **options,
            )
            trainer._steps = int(data["steps"])
            trainer._recorded_current = bool(data["recorded_current"])
            trainer.status = str(data["status"])
            if len(data["losses"]):
                trainer._history_losses = [data["losses"].astype(np.float64)]
                trainer._history_steps = [data["loss_steps"].astype(np.int64)]
                if trainer.record_diagnostics:
                    trainer._history_diagnostics = [np.ascontiguousarray(data["diagnostics"].T)]
            if "product" in data and method == "power_projection":
                product = np.array(data["product"], dtype=trainer._phi.dtype, order="C")
                if product.shape != trainer._phi.shape or not np.isfinite(product).all():
                    raise ValueError("product must be a finite (d, d) matrix")
                trainer._product = product
                trainer._product_digest = _digest(trainer._layers)
        except (KeyError, ValueError, TypeError) as exc:
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
        n = check_int(n, "n", 0)
        self._drive(n, tol=0.0, show_progress=False, record_last=False)
        return self.loss

    def run(self, max_steps: int = 10_000, tol: float = 0.0) -> TrainResult:
        """Step until ℓ ≤ ``tol``, ``max_steps`` more steps, divergence or an interrupt."""
        return self._run(max_steps, tol, copy_layers=True)

    def _run(self, max_steps: int, tol: float, copy_layers: bool) -> TrainResult:
        """run(); the result holds the live layers themselves unless ``copy_layers`` (train()
        drops its Trainer, so it hands them over instead of copying L·d² numbers)."""
        max_steps = check_int(max_steps, "max_steps", 0)
        tol = check_nonnegative(tol, "tol")
        first = len(self._history_losses)
        self._drive(max_steps, tol, show_progress=self.progress, record_last=True)
        losses = np.concatenate(self._history_losses[first:] or [np.empty(0)])
        loss_steps = np.concatenate(self._history_steps[first:] or [np.empty(0, dtype=np.int64)])
        diagnostics = None
        if self.record_diagnostics:
            table = np.concatenate(
                self._history_diagnostics[first:] or [np.empty((0, len(_core.diagnostic_names)))]
            )
            diagnostics = dict(zip(_core.diagnostic_names, table.T.copy()))
        return TrainResult(
            layers=self._layers.copy() if copy_layers else self._layers,
            losses=losses,
            loss_steps=loss_steps,
            steps=self._steps,
            status=self.status,
            final_loss=float(losses[-1]) if len(losses) else self.loss,
            method=self.method,
            diagnostics=diagnostics,
        )

    def _checked_layers(self) -> np.ndarray:
        layers = self._layers
        if not (layers.flags.c_contiguous and layers.flags.writeable):
            raise ValueError("Trainer.layers was replaced by an incompatible array")
        if not np.isfinite(layers).all():
            raise ValueError("layers must contain only finite values (found NaN or inf)")
        return layers

    def _product_arguments(self, layers: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """For power_projection: the product buffer, and whether it holds Ψ of ``layers``."""
        if self.method != "power_projection":
            return None, False
        resume = self._product_valid(layers)
        if self._product is None:
            self._product = np.empty_like(self._phi)
        self._product_digest = None  # set again once the call returns
        return self._product, resume

    def _product_valid(self, layers: np.ndarray) -> bool:
        return self._product_digest is not None and self._product_digest == _digest(layers)

    def _record(self, losses: np.ndarray, loss_steps: np.ndarray, diagnostics: Any) -> None:
        if len(losses):
            self._history_losses.append(losses)
            self._history_steps.append(loss_steps)
            if self.record_diagnostics:
                self._history_diagnostics.append(diagnostics)

    def _record_current(self) -> float:
        """Record ℓ (and the diagnostics) of the current state; return ℓ."""
        if self.record_diagnostics:
            table = _core.diagnostics(self._layers, self._phi)[np.newaxis, :]
            loss = float(table[0, 0])
        else:
            table = None
            loss = float(_core.loss(self._layers, self._phi))
        self._record(np.array([loss]), np.array([self._steps], dtype=np.int64), table)
        self._recorded_current = True
        return loss

    def _drive(self, max_steps: int, tol: float, show_progress: bool, record_last: bool) -> None:
        """Run up to max_steps steps in as few C++ calls as the callback and progress bar allow.

        Records ℓ every record_every steps, and at the end when ``record_last`` or when the run
        ended early (converged, diverged, interrupted)."""
        layers = self._checked_layers()
        target = self._steps + max_steps
        bar = _progress_bar(max_steps) if show_progress else None
        chunk = max_steps if bar is None else 1
        self.status = "max_steps"
        try:
            due = self._steps % self.record_every == 0
            if self.callback is not None and due and not self._recorded_current:
                loss = self._record_current()
                if _stops(self.callback(self._steps, layers, loss)):
                    self.status = "stopped"
                    return
            while True:
                remaining = target - self._steps
                # Bounded chunks: the loss buffers of one C++ call never outgrow memory.
                size = min(remaining, chunk, self.record_every * _MAX_RECORDS_PER_CALL)
                if self.callback is not None:
                    size = min(size, self.record_every - self._steps % self.record_every)
                started = time.perf_counter()
                product, resume = self._product_arguments(layers)
                status, taken, losses, loss_steps, diagnostics = _core.run(
                    layers,
                    self._phi,
                    self.method,
                    self.lr,
                    max_steps=size,
                    tol=tol,
                    record_every=self.record_every,
                    first_step=self._steps,
                    record_first=not self._recorded_current,
                    threads=self.threads,
                    diagnostics=self.record_diagnostics,
                    **self._options,
                    product=product,
                    resume_product=resume,
                )
                if product is not None and (taken > 0 or resume):
                    self._product_digest = _digest(layers)
                self._steps += taken
                finished = status != "max_steps" or self._steps >= target
                # A chunk boundary (or the end of step()) is not the end of a run: drop its
                # off-grid final record.
                if (
                    (not finished or (status == "max_steps" and not record_last))
                    and len(loss_steps)
                    and loss_steps[-1] == self._steps
                    and self._steps % self.record_every != 0
                ):
                    losses, loss_steps = losses[:-1], loss_steps[:-1]
                    diagnostics = None if diagnostics is None else diagnostics[:-1]
                self._record(losses, loss_steps, diagnostics)
                if len(loss_steps):
                    self._recorded_current = bool(loss_steps[-1] == self._steps)
                elif taken:
                    self._recorded_current = False
                if bar is not None:
                    bar.update(taken)
                    if len(losses):
                        bar.set_postfix(loss=f"{losses[-1]:.3e}", refresh=False)
                    if time.perf_counter() - started < 0.05:
                        chunk *= 2
                if self.callback is not None and len(losses):
                    stop = False
                    for step, value in zip(loss_steps.tolist(), losses.tolist()):
                        stop = _stops(self.callback(step, layers, value)) or stop
                    if stop:
                        self.status = "stopped" if status == "max_steps" else status
                        return
                if finished:
                    self.status = status
                    break
        except KeyboardInterrupt:
            self.status = "interrupted"
        finally:
            if bar is not None:
                bar.close()
        if self.status == "interrupted":
            if not self._recorded_current:
                self._record_current()
            warn_interrupted(self._steps)

    @property
    def diagnostics(self) -> dict[str, np.ndarray] | None:
        """Every diagnostics row recorded so far (``diagnostics=True``), aligned with ``losses``."""
        if not self.record_diagnostics:
            return None
        table = np.concatenate(
            self._history_diagnostics or [np.empty((0, len(_core.diagnostic_names)))]
        )
        return dict(zip(_core.diagnostic_names, table.T.copy()))


def _digest(layers: np.ndarray) -> bytes:
    """A fingerprint of the layers' bytes (C-contiguous)."""
    return hashlib.blake2b(layers.data, digest_size=16).digest()


def _stops(answer: object) -> bool:
    """Whether a callback's return value asks to stop: True or numpy's True."""
    return answer is True or (isinstance(answer, np.bool_) and bool(answer))


def warn_interrupted(steps: int) -> None:
    """Say that a run stopped at Ctrl-C: the interrupt is never swallowed silently."""
    warnings.warn(
        f"training interrupted (KeyboardInterrupt) after {steps} steps; "
        "the result holds the state of the last completed step",
        RuntimeWarning,
        stacklevel=4,
    )


def _progress_bar(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", dynamic_ncols=True, leave=False)


def train(
    phi: ArrayLike,
    depth: int,
    method: str = "gd",
    *,
    lr: float,
    max_steps: int = 10_000,
    tol: float = 0.0,
    init: ArrayLike | float | None = None,
    gamma: float | None = None,
    psi: float | None = None,
    kappa: float | None = None,
    record_every: int = 1,
    callback: Callback | None = None,
    progress: bool = False,
    threads: int = 1,
    diagnostics: bool = False,
) -> TrainResult:
    """Train a deep linear network Θ_L ⋯ Θ_1 towards Φ by one of the paper's methods.

    The loss is ℓ(Θ) = ½‖Θ_{1:L} − Φ‖_F² (isotropic inputs, Sec. 2).

    Args:
        phi: the (d, d) target Φ (float64, or float32 to train in float32).
        depth: the number of layers L ≥ 1.
        method: ``"gd"``, ``"power_projection"`` (needs ``gamma``), ``"step_and_project"``
            (needs ``psi``; ``gamma`` sets the initial scale, default 1) or ``"penalty"``
            (needs ``kappa``); see the module docstring for the update rules.
        lr: the step size η > 0.
        max_steps: the most steps to take.
        tol: stop once ℓ ≤ tol (status ``"converged"``).
        init: None for the method's own start (I, or γ^{1/L}·I for power projection and
            step-and-project), a number s for s·I, or an (L, d, d) array (copied).
        gamma, psi, kappa: the method's parameters (γ > 0, ψ > 0, κ ≥ 0).
        record_every: record ℓ every this many steps (and at steps 0 and the last).
        callback: ``callback(step, layers, loss)`` at every recorded step; returning True stops
            the run (status ``"stopped"``). ``layers`` is the live array.
        progress: show a tqdm progress bar with the current loss.
        threads: threads for the matrix products (OpenMP), default 1.
        diagnostics: also record, at every recorded step, the per-state diagnostics of
            ``TrainResult.diagnostics`` (computed in C++; costs about 2L SVDs per record).

    Returns:
        A ``TrainResult``. Ctrl-C returns the state of the last completed step with status
        ``"interrupted"`` and a RuntimeWarning.

    Raises:
        ValueError, TypeError: for invalid arguments, naming the argument.
    """
    trainer = Trainer(
        phi,
        depth,
        method,
        lr=lr,
        init=init,
        gamma=gamma,
        psi=psi,
        kappa=kappa,
        record_every=record_every,
        callback=callback,
        progress=progress,
        threads=threads,
        diagnostics=diagnostics,
    )
    return trainer._run(max_steps, tol, copy_layers=False)
