"""The ``deeplinear`` command line (also ``python -m deeplinear``).

- ``deeplinear reproduce``: checks every claim of the paper numerically and writes a report.
- ``deeplinear train``: one training run on a target family or a .npy Φ; prints a loss table and
  writes the result as .npz.
- ``deeplinear sweep grid.toml --store DIR [--scheduler tcp://host:port]``: a grid of runs.
- ``deeplinear demo``: gradient descent from the identity on a random SPD target.

``main(argv) -> int`` returns the exit status (see ``main``). Every error is one line
(``deeplinear train: error: ...``), never a traceback.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shlex
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

__all__ = ["main"]


class _UsageError(Exception):
    """An argument problem: printed as one line, exit status 2."""


class _ArgumentError(_UsageError):
    """An error found by argparse itself, with the (sub)command it belongs to."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing the usage and exiting, so that ``main`` can
    print one line and return 2 (subcommand parsers inherit the class)."""

    def error(self, message: str) -> NoReturn:
        raise _ArgumentError(self.prog, message)


def _one_line(error: BaseException | str) -> str:
    return " ".join(str(error).split())


# -- argument types ---------------------------------------------------------------------------
_INT64_MAX = 2**63 - 1


def _nonempty(text: str) -> str:
    """A name or a path: an empty one (``--out ""``) is refused, not read as a default."""
    if not text:
        raise argparse.ArgumentTypeError("expected a non-empty value")
    return text


def _positive_int(text: str) -> int:
    """An integer in [1, 2**63 - 1] (the compiled core counts steps and sizes in 64 bits)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    if value > _INT64_MAX:
        raise argparse.ArgumentTypeError(f"expected an integer <= 2**63 - 1, got {value}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _parse_param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. angle=1.0), got {text!r}")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"the value of {name.strip()} is not a number: {value!r}"
        ) from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"the value of {name.strip()} must be finite: {value!r}")
    return name.strip(), number


@contextmanager
def _quiet_interrupts() -> Iterator[None]:
    """Training's "interrupted" warning silenced: the command reports an interrupt itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "training interrupted", RuntimeWarning)
        yield


def _stop_if_interrupted(result: Any, kept: str = "") -> None:
    """KeyboardInterrupt (exit status 130) when a training call stopped at Ctrl-C."""
    if result.status == "interrupted":
        raise KeyboardInterrupt(f"after {result.steps} steps{kept}")


# -- demo -------------------------------------------------------------------------------------
def _demo(args: argparse.Namespace) -> int:
    import deeplinear as dl

    cond = args.cond if args.cond is not None else (4.0 if args.d > 1 else 1.0)
    try:
        phi = dl.targets.spd(args.d, cond, seed=args.seed)
    except (TypeError, ValueError) as exc:
        raise _UsageError(_one_line(exc)) from None
    lr = dl.theory.theorem2_lr(phi, args.depth)
    print(
        f"Gradient descent from the identity (Sec. 3.1) on a random SPD target: "
        f"d={args.d}, L={args.depth}, condition number {cond:g}, seed {args.seed}"
    )
    print(f"step size η = 1/(L(1 + ‖Φ‖₂²)) = {lr:.4g} (Theorem 2)\n")
    record_every = max(1, args.steps // 10)
    started = time.perf_counter()
    with _quiet_interrupts():
        result = dl.train(
            phi, args.depth, lr=lr, max_steps=args.steps, tol=args.tol, record_every=record_every
        )
    seconds = time.perf_counter() - started
    _stop_if_interrupted(result)
    print(f"{'step':>8}  {'loss':>12}")
    for step, value in zip(result.loss_steps, result.losses):
        print(f"{step:>8d}  {value:>12.4e}")
    eigenvalues, basis = np.linalg.eigh(phi)
    root = (basis * eigenvalues ** (1.0 / args.depth)) @ basis.T
    distance = max(float(np.linalg.norm(layer - root, 2)) for layer in result.layers)
    print(
        f"\nstatus {result.status} after {result.steps} steps in {seconds:.3f} s "
        f"({result.steps / max(seconds, 1e-9):,.0f} steps/s)"
    )
    print(f"max_i ‖Θ_i − Φ^(1/L)‖₂ = {distance:.3e}  (every layer tends to the principal root)")
    with _quiet_interrupts():
        exact = dl.spectral_gd(
            phi, args.depth, lr=lr, max_steps=result.steps, record_every=result.steps or 1
        )
    _stop_if_interrupted(exact)
    print(
        f"exact spectral dynamics (Lemmas 5–6) agree: |Δ final loss| = "
        f"{abs(exact.final_loss - result.final_loss):.1e}"
    )
    return 0


# -- reproduce --------------------------------------------------------------------------------
class _Terminated(BaseException):
    """SIGTERM during ``reproduce`` (a BaseException: no claim's error handling catches it), so
    that the run stops its workers and removes its staging folder as at Ctrl-C."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


def _reproduce(args: argparse.Namespace) -> int:
    from . import reproduce
    from .training import available_cores

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return _reproduce_run(args, reproduce, available_cores)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _reproduce_run(args: argparse.Namespace, reproduce: Any, available_cores: Any) -> int:
    try:
        result = reproduce.run(
            args.out,
            quick=args.quick,
            seed=args.seed,
            force=args.force,
            progress=args.progress,
            command=shlex.join(["deeplinear", *args.argv]),
            workers=args.workers or (1 if args.quick else available_cores()),
        )
    except reproduce.ReportExistsError as exc:
        raise _UsageError(_one_line(exc)) from None
    except reproduce.OutputFolderError as exc:  # before any claim ran; later: status 1
        raise _UsageError(f"cannot write the report to {args.out}: {_one_line(exc)}") from None
    for index, claim in enumerate(result.claims, 1):
        verdict = "PASS" if claim.passed else "FAIL"
        print(f"{index}. {verdict}  {claim.section}: {claim.title}")
    passed = sum(claim.passed for claim in result.claims)
    print(
        f"\n{passed}/{len(result.claims)} claims pass in {result.seconds:.1f} s; "
        f"report: {result.out / 'report.md'}"
    )
    return 0 if result.passed else 1


# -- train ------------------------------------------------------------------------------------
def _method_options() -> dict[str, tuple[str, ...]]:
    """Each method's own options (from the one method table)."""
    from ._methods import SPECS

    return {name: tuple(p.name for p in spec.parameters) for name, spec in SPECS.items()}


def _methods_help() -> str:
    from ._methods import SPECS

    parts = []
    for name, spec in SPECS.items():
        needs = [f"--{p.name}" for p in spec.parameters if p.required]
        parts.append(
            f"{name}: {spec.summary} ({spec.section}"
            + (f", needs {', '.join(needs)})" if needs else ")")
        )
    return "; ".join(parts) + ". Default gd"


def _family_parameters(function: Any) -> list[str]:
    """The parameters of a target family other than d and seed."""
    return [name for name in inspect.signature(function).parameters if name not in ("d", "seed")]


def _families_help() -> str:
    from . import targets

    return ", ".join(
        f"{name}({', '.join(_family_parameters(function))})"
        for name, function in targets.FAMILIES.items()
    )


def _load_phi(path: str) -> np.ndarray:
    try:
        phi = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise _UsageError(f"cannot read --phi {path}: {_one_line(exc)}") from None
    if not isinstance(phi, np.ndarray):
        if hasattr(phi, "close"):
            phi.close()
        raise _UsageError(f"--phi {path} must be a .npy file holding one array, not an archive")
    if phi.ndim != 2 or phi.shape[0] != phi.shape[1] or phi.shape[0] == 0:
        raise _UsageError(f"--phi {path} must hold a square (d, d) matrix, got shape {phi.shape}")
    if not np.issubdtype(phi.dtype, np.number) or np.iscomplexobj(phi):
        raise _UsageError(f"--phi {path} must hold real numbers, got dtype {phi.dtype}")
    if not np.all(np.isfinite(phi)):
        raise _UsageError(f"--phi {path} holds NaN or infinite values")
    return np.asarray(phi, dtype=np.float64)


def _target(args: argparse.Namespace) -> tuple[np.ndarray, str, dict[str, Any]]:
    """Φ from --phi or --target/--param; returns (Φ, a description, what to record)."""
    from . import targets

    if args.phi is not None:
        if args.target is not None or args.param:
            raise _UsageError("give either --phi FILE or --target NAME [--param ...], not both")
        phi = _load_phi(args.phi)
        if args.d is not None and args.d != phi.shape[0]:
            raise _UsageError(f"--d {args.d} does not match --phi {args.phi}, which is {phi.shape}")
        return phi, f"Φ from {args.phi} (d={phi.shape[0]})", {"target": f"file:{args.phi}"}
    family = "spd" if args.target is None else args.target
    if family not in targets.FAMILIES:
        raise _UsageError(
            f"unknown target family {family!r}; choose one of {', '.join(targets.FAMILIES)}"
        )
    function = targets.FAMILIES[family]
    accepted = _family_parameters(function)
    params: dict[str, Any] = dict(args.param)
    for name in params:
        if name not in accepted:
            raise _UsageError(
                f"{family} has no parameter {name!r}; its parameters are {', '.join(accepted)} "
                "(set the dimension with --d and the seed with --seed)"
            )
    if family == "spd":  # a 1×1 matrix has condition number 1
        params.setdefault("cond", 1.0 if args.d == 1 else 4.0)
    if "count" in params:
        if params["count"] != int(params["count"]):
            raise _UsageError(f"count must be an integer, got {params['count']:g}")
        params["count"] = int(params["count"])
    missing = [
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if name in accepted and parameter.default is inspect.Parameter.empty and name not in params
    ]
    if missing:
        raise _UsageError(
            f"target {family} needs {', '.join(f'--param {name}=VALUE' for name in missing)}"
        )
    dim = 4 if args.d is None else args.d
    try:
        phi = function(dim, **params, seed=args.seed)
    except (TypeError, ValueError) as exc:
        raise _UsageError(f"bad --param for target {family}: {_one_line(exc)}") from None
    described = ", ".join(f"{k}={v:g}" for k, v in params.items())
    return (
        phi,
        f"target {family}({described}), d={dim}, seed {args.seed}",
        {"target": family, "target_params": json.dumps(params), "seed": args.seed},
    )


def _theorem1_c(phi: np.ndarray, depth: int) -> float | None:
    """The smallest c ≥ 1 for which Theorem 1's hypotheses hold for Φ and L, or None.

    ℓ(I) ≤ ln(c)²/(8c¹⁰) can only hold for ln c ∈ [0, 1/5], where the right side increases;
    L ≥ (4/3) ln c holds there for every L ≥ 1.
    """
    from . import theory

    excess = theory.identity_excess_loss(phi)

    def threshold(log_c: float) -> float:
        return log_c**2 / (8 * math.exp(10 * log_c))

    if excess > threshold(0.2):
        return None
    low, high = 0.0, 0.2
    for _ in range(100):
        middle = 0.5 * (low + high)
        low, high = (low, middle) if threshold(middle) >= excess else (middle, high)
    c = math.exp(high)
    return c if theory.theorem1_conditions(phi, depth, c).holds else None


def _default_lr(phi: np.ndarray, depth: int, method: str, gamma: float | None) -> tuple[float, str]:
    """A step size from the paper's theorems where one applies: (η, where it comes from)."""
    from . import core, theory

    symmetric = bool(np.allclose(phi, phi.T, rtol=0, atol=1e-12 * max(1.0, np.abs(phi).max())))
    if method == "gd":
        if symmetric and np.linalg.eigvalsh(0.5 * (phi + phi.T)).min() > 0:
            return (
                theory.theorem2_lr(phi, depth),
                "Theorem 2's η = 1/(L(1+‖Φ‖₂²)) for symmetric positive definite Φ",
            )
        c = _theorem1_c(phi, depth)
        if c is not None:
            return (
                theory.theorem1_lr(phi, depth, c),
                f"Theorem 1's η = 1/(3Ld⁵·max{{c⁴, ‖Φ‖₂²}}) with c = {c:.4g}, for Φ near I",
            )
    if method == "power_projection" and gamma is not None and core.positivity_margin(phi) > gamma:
        # The smallest c for which the proof's step condition (7) holds before the run starts
        # (the layer norms stay below (1 + √2)^{1/L}‖Φ‖_F^{1/L}); the same c as the report's.
        c = 3 * (1 + np.sqrt(2)) ** 2
        return (
            theory.theorem3_lr(phi, depth, c=c),
            f"Theorem 3's η = 1/(cLd⁵‖Φ‖_F²) with c = 3(1+√2)² ≈ {c:.1f}, the constant that "
            "its proof needs, for γ-positive Φ",
        )
    common = 0.5 * theory.theorem2_lr(phi, depth)
    raise _UsageError(
        f"--lr is required for --method {method} on this target: the paper gives a step size "
        "only for gd on symmetric positive definite Φ (Theorem 2) or Φ near I (Theorem 1) and "
        "for power_projection on γ-positive Φ (Theorem 3); "
        f"0.5/(L(1+‖Φ‖₂²)) = {common:.3g} is a common choice"
    )


def _check_method_options(args: argparse.Namespace, phi: np.ndarray) -> None:
    from . import core

    table = _method_options()
    uses = table[args.method]
    for name in ("gamma", "psi", "kappa"):
        if getattr(args, name) is not None and name not in uses:
            users = [m for m, options in table.items() if name in options]
            raise _UsageError(
                f"--{name} is not an option of --method {args.method} "
                f"(it belongs to {' and '.join(users)})"
            )
    if args.method == "power_projection" and args.gamma is None:
        margin = core.positivity_margin(phi)
        hint = (
            f"e.g. --gamma {margin / 2:.3g}, half of Φ's margin λ_min((Φ+Φᵀ)/2) = {margin:.3g}"
            if margin > 0
            else f"this Φ has margin λ_min((Φ+Φᵀ)/2) = {margin:.3g} ≤ 0, so power projection "
            "cannot learn it"
        )
        raise _UsageError(
            f"--method power_projection needs --gamma, the margin γ > 0 of H_γ ({hint})"
        )
    if args.method == "step_and_project" and args.psi is None:
        raise _UsageError(
            "--method step_and_project needs --psi, the radius ψ > 0 of the ball ‖Θ_i − I‖₂ ≤ ψ"
        )
    if args.method == "penalty" and args.kappa is None:
        raise _UsageError(
            "--method penalty needs --kappa, the weight κ ≥ 0 of the penalty (κ/2)Σ‖I − Θ_i‖_F²"
        )


def _output_path(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise _UsageError(
            f"--out {text} is a folder; give a file name such as {path / 'result.npz'}"
        )
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    if path.is_dir():
        raise _UsageError(f"--out {text} is a folder; give a file name such as result.npz")
    if not path.parent.is_dir():
        raise _UsageError(f"--out {text}: the folder {path.parent} does not exist")
    return path


def _train(args: argparse.Namespace) -> int:
    import deeplinear as dl

    from ._atomic import atomic_write

    phi, source, recorded = _target(args)
    _check_method_options(args, phi)
    out = None if args.out is None else _output_path(args.out)
    if args.lr is not None:
        lr, lr_source = args.lr, "--lr"
    else:
        lr, lr_source = _default_lr(phi, args.depth, args.method, args.gamma)
    record_every = args.record_every or max(1, args.steps // 20)
    options = {name: getattr(args, name) for name in _method_options()[args.method]}
    options = {name: value for name, value in options.items() if value is not None}
    try:
        with _quiet_interrupts():
            result = dl.train(
                phi,
                args.depth,
                args.method,
                lr=lr,
                max_steps=args.steps,
                tol=args.tol,
                record_every=record_every,
                **options,
            )
    except (TypeError, ValueError) as exc:
        raise _UsageError(_one_line(exc)) from None
    if out is not None:  # before the table: a reader that stops reading loses nothing
        with atomic_write(out, "wb") as stream:
            np.savez(
                stream,
                layers=result.layers,
                losses=result.losses,
                loss_steps=result.loss_steps,
                phi=phi,
                status=result.status,
                steps=result.steps,
                final_loss=result.final_loss,
                method=args.method,
                depth=args.depth,
                lr=lr,
                tol=args.tol,
                record_every=record_every,
                **options,
                **recorded,
            )
    print(f"{args.method} on {source}, L={args.depth}")
    print(f"step size η = {lr:.4g} ({lr_source})")
    if options:
        print("options: " + ", ".join(f"{k}={v:g}" for k, v in options.items()))
    print(f"\n{'step':>10}  {'loss':>12}")
    for step, value in zip(result.loss_steps, result.losses):
        print(f"{step:>10d}  {value:>12.4e}")
    print(
        f"\nstatus {result.status} after {result.steps} steps; final loss {result.final_loss:.4e}"
    )
    if result.status == "diverged":
        print("the loss blew up: try a smaller --lr")
    elif (
        result.status == "max_steps"
        and args.lr is None
        and result.final_loss > 0.1 * result.losses[0]
    ):
        print("the theorem's step size is conservative: a larger --lr may converge much faster")
    if out is not None:
        print(f"wrote {out}")
    _stop_if_interrupted(result, f"; {out} holds the state after them" if out else "")
    return 0


# -- sweep ------------------------------------------------------------------------------------
def _sweep(args: argparse.Namespace) -> int:
    from .sweep import run_sweep_file

    try:
        table = run_sweep_file(
            args.grid,
            args.store,
            scheduler=args.scheduler,
            progress=args.progress,
            retry_errors=args.retry_errors,
        )
    except (OSError, ValueError, TypeError) as exc:
        raise _UsageError(_one_line(exc)) from None
    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    columns = list(dict.fromkeys(name for row in rows for name in row if name != "error"))
    print("  ".join(f"{name:>14}" for name in columns))
    for row in rows:
        cells = []
        for name in columns:
            value = row.get(name)
            cells.append(f"{value:>14.4e}" if isinstance(value, float) else f"{value!s:>14}")
        print("  ".join(cells) + (f"  {row['error']}" if isinstance(row.get("error"), str) else ""))
    errors = sum(1 for row in rows if isinstance(row.get("error"), str))
    print(
        f"{len(rows)} runs, {errors} errors" + (f"; stored in {args.store}" if args.store else "")
    )
    return 1 if errors else 0


# -- the parser -------------------------------------------------------------------------------
_TRAIN_EXAMPLES = """\
examples:
  deeplinear train --target spd --param cond=10 --d 6 --depth 8
  deeplinear train --target rotation --param angle=1.0 --d 6 --method power_projection \\
      --gamma 0.25 --lr 0.02 --out rotation.npz
  deeplinear train --target negative_eigenvalue --param lam=1 --method penalty --kappa 0.1 \\
      --lr 0.05
  deeplinear train --phi my_phi.npy --lr 0.01 --steps 5000 --tol 1e-12

The saved .npz holds layers (L, d, d) with layers[i-1] = Θ_i, losses, loss_steps, phi, status,
steps, final_loss, method, depth, lr, tol, record_every and the options used; load it with
numpy.load(path).
"""


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="deeplinear",
        description="Gradient descent on deep linear residual networks Θ_L⋯Θ_1 "
        "(Bartlett, Helmbold & Long, ICML 2018). Start with 'deeplinear reproduce --quick'.",
    )
    parser.add_argument("--version", action="version", version=f"deeplinear {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    reproduce = commands.add_parser(
        "reproduce",
        help="check every claim of the paper numerically and write a report",
        description="Run one numerical experiment per claim of Bartlett, Helmbold & Long (ICML "
        "2018) — Theorems 1–5, Lemmas 2–3 and 5–7 and Section 6 — and write report.md (a PASS/"
        "FAIL table with the criterion of each claim), results.json (every number) and PNG "
        "figures (with matplotlib) into a folder. Exit status 0 when every claim passes, 1 when "
        "one fails, 2 for a usage error.",
    )
    reproduce.add_argument(
        "--out",
        default="deeplinear-report",
        type=_nonempty,
        metavar="DIR",
        help="the report folder (default ./deeplinear-report); an existing one is never "
        "overwritten without --force",
    )
    reproduce.add_argument(
        "--quick",
        action="store_true",
        help="smaller experiments: a few seconds, against about 15 for the full run",
    )
    reproduce.add_argument(
        "--seed", type=_nonnegative_int, default=0, help="random seed of all targets (default 0)"
    )
    reproduce.add_argument(
        "--force", action="store_true", help="replace the report in an existing --out folder"
    )
    reproduce.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="processes that run the claims side by side (default: one per core this process "
        "may use; 1 with --quick, whose claims take less time than starting a process); the "
        "report is the same for every N",
    )
    reproduce.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress report (by default: bars on a terminal, one line per claim with the "
        "elapsed time when stderr is a file or a pipe)",
    )
    reproduce.set_defaults(handler=_reproduce)

    train = commands.add_parser(
        "train",
        help="one training run; prints a loss table and can save the result as .npz",
        description="Train the layers Θ_1..Θ_L of f(x) = Θ_L⋯Θ_1 x towards a target matrix Φ, "
        "minimizing ℓ = ½‖Θ_L⋯Θ_1 − Φ‖_F², and print the loss as it goes. Φ is either "
        "generated (--target FAMILY with --param NAME=VALUE, --d, --seed) or read from a .npy "
        "file (--phi). Families and their parameters: " + _families_help() + ".",
        epilog=_TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = train.add_argument_group("the target Φ")
    target.add_argument(
        "--target",
        type=_nonempty,
        metavar="FAMILY",
        help="a target family (default spd), see above",
    )
    target.add_argument(
        "--param",
        action="append",
        type=_parse_param,
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of the family, e.g. cond=4, angle=1.0, lam=0.5 (repeat for several)",
    )
    target.add_argument(
        "--phi", type=_nonempty, metavar="FILE", help="a .npy file holding a square matrix Φ"
    )
    target.add_argument(
        "--d", type=_positive_int, help="dimension of a generated target (default 4)"
    )
    target.add_argument(
        "--seed", type=_nonnegative_int, default=0, help="seed of a generated target (default 0)"
    )
    method = train.add_argument_group("the training method")
    method.add_argument(
        "--method",
        default="gd",
        choices=list(_method_options()),
        help=_methods_help(),
    )
    method.add_argument(
        "--depth", type=_positive_int, default=8, help="number of layers L (default 8)"
    )
    method.add_argument(
        "--lr",
        type=_positive_float,
        help="step size η; default: the paper's step size where a theorem gives one (gd on "
        "symmetric positive definite Φ: Theorem 2's 1/(L(1+‖Φ‖₂²)); on near-identity Φ: "
        "Theorem 1's; power_projection on γ-positive Φ: Theorem 3's 1/(cLd⁵‖Φ‖_F²) with "
        "c = 3(1+√2)² ≈ 17.5), otherwise required. The theorems describe exact arithmetic; a "
        "float64 run can depart from them (dense GD on a symmetric Φ with a negative "
        "eigenvalue can leave the λ²/2 plateau of Theorems 4–5: claim 5 of 'deeplinear "
        "reproduce')",
    )
    method.add_argument(
        "--gamma",
        type=_positive_float,
        help="power_projection: keep uᵀΘ_{1:L}u ≥ γ (start at γ^(1/L)·I); step_and_project: "
        "start at γ^(1/L)·I (default 1)",
    )
    method.add_argument(
        "--psi", type=_positive_float, help="step_and_project: the radius ψ of the ball"
    )
    method.add_argument(
        "--kappa", type=_nonnegative_float, help="penalty: the weight κ of the penalty"
    )
    run = train.add_argument_group("the run")
    run.add_argument(
        "--steps", type=_positive_int, default=10_000, help="maximum steps (default 10000)"
    )
    run.add_argument(
        "--tol",
        type=_nonnegative_float,
        default=0.0,
        help="stop once the loss is at most this (default 0: run all steps)",
    )
    run.add_argument(
        "--record-every",
        type=_positive_int,
        metavar="N",
        help="print/record the loss every N steps (default: steps/20)",
    )
    run.add_argument(
        "--out", type=_nonempty, metavar="FILE", help="save the result to this .npz file"
    )
    train.set_defaults(handler=_train)

    sweep = commands.add_parser(
        "sweep",
        help="run a grid of training runs from a TOML file, on this machine or a Dask cluster",
        description="Run every combination of the [grid] lists of a TOML file (with the [fixed] "
        "values) through deeplinear.sweep; finished runs go to --store and are skipped when the "
        "sweep is run again. See deeplinear.sweep.run_sweep_file for the file format. Exit "
        "status 0 when every run finished, 1 when a run ended in an error, 2 for a usage error, "
        "130 on Ctrl-C (finished runs are stored).",
    )
    sweep.add_argument("grid", type=_nonempty, help="the TOML file describing the sweep")
    sweep.add_argument("--store", type=_nonempty, help="folder for finished runs (resumable)")
    sweep.add_argument(
        "--scheduler", type=_nonempty, help="a Dask scheduler address, e.g. tcp://host:8786"
    )
    sweep.add_argument(
        "--retry-errors",
        action="store_true",
        help="run again the configs whose stored result is an error (invalid configs are "
        "stored as errors; out-of-memory and other transient errors always run again)",
    )
    sweep.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress report (a bar on a terminal, a line every 10 s in a log)",
    )
    sweep.set_defaults(handler=_sweep)

    demo = commands.add_parser(
        "demo",
        help="train on a random SPD target from the identity and print a loss table",
        description="Train Θ_L⋯Θ_1 towards a random symmetric positive definite Φ by gradient "
        "descent from the identity (Sec. 3.1, Theorem 2) and print the loss every 10% of the run.",
    )
    demo.add_argument("--d", type=_positive_int, default=8, help="dimension d (default 8)")
    demo.add_argument(
        "--depth", type=_positive_int, default=8, help="number of layers L (default 8)"
    )
    demo.add_argument(
        "--cond",
        type=_positive_float,
        default=None,
        help="condition number of Φ, ≥ 1 (default 4; 1 when d = 1)",
    )
    demo.add_argument(
        "--steps", type=_positive_int, default=3000, help="maximum steps (default 3000)"
    )
    demo.add_argument(
        "--tol", type=_nonnegative_float, default=1e-20, help="stop at this loss (default 1e-20)"
    )
    demo.add_argument(
        "--seed", type=_nonnegative_int, default=0, help="random seed of the target (default 0)"
    )
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deeplinear`` command; returns the exit status: 0 success; 1 a claim
    failed (``reproduce``), a run ended in an error (``sweep``), or the command failed (out of
    memory, a file it could not write, an unexpected error); 2 a usage error; 130 interrupted
    (Ctrl-C); 141 its output's reader went away (``… | head``; every file it writes is
    written before it prints); 143 terminated (SIGTERM, ``reproduce``: its workers and staging
    folder removed first). Every error is one line on stderr, never a traceback."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # name the subcommand they were given to
            prog = f"deeplinear {args.command}" if args.command else "deeplinear"
            raise _ArgumentError(prog, f"unrecognized arguments: {' '.join(unknown)}")
    except _ArgumentError as exc:
        print(f"{exc.prog}: error: {_one_line(exc)} (see '{exc.prog} --help')", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    if args.command is None:
        parser.print_help()
        return 0
    args.argv = argv
    try:
        return int(args.handler(args))
    except _UsageError as exc:
        print(f"deeplinear {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        detail = f": {_one_line(exc)}" if str(exc) else ""
        print(f"deeplinear {args.command}: interrupted{detail}", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"deeplinear {args.command}: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # the reader went away (… | head): files were written before
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error
        except OSError:
            pass
        return 141  # 128 + SIGPIPE, as a command killed by it
    except MemoryError as exc:
        detail = f" ({_one_line(exc)})" if str(exc) else ""
        print(f"deeplinear {args.command}: error: not enough memory{detail}", file=sys.stderr)
        return 1
    except Exception as exc:  # never a traceback; the type says where to look
        print(
            f"deeplinear {args.command}: error: {type(exc).__name__}: {_one_line(exc)}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
