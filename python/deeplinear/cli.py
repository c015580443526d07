"""The ``deeplinear`` command line.

- ``deeplinear reproduce``: checks every claim of the paper numerically and writes a report.
- ``deeplinear train``: one training run on a target family or a .npy Φ; prints a loss table and
  writes the result as .npz.
- ``deeplinear sweep grid.toml --store DIR [--scheduler tcp://host:port]``: a grid of runs.
- ``deeplinear demo``: gradient descent from the identity on a random SPD target.

Argument errors are one-line messages (exit status 2), never tracebacks.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

__all__ = ["main"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _demo(args: argparse.Namespace) -> int:
    import deeplinear as dl

    phi = dl.targets.spd(args.d, args.cond, seed=args.seed)
    lr = dl.theory.theorem2_lr(phi, args.depth)
    print(
        f"Gradient descent from the identity (Sec. 3.1) on a random SPD target: "
        f"d={args.d}, L={args.depth}, condition number {args.cond:g}, seed {args.seed}"
    )
    print(f"step size η = 1/(L(1 + ‖Φ‖₂²)) = {lr:.4g} (Theorem 2)\n")
    record_every = max(1, args.steps // 10)
    started = time.perf_counter()
    result = dl.train(
        phi, args.depth, lr=lr, max_steps=args.steps, tol=args.tol, record_every=record_every
    )
    seconds = time.perf_counter() - started
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
    exact = dl.spectral_gd(
        phi, args.depth, lr=lr, max_steps=result.steps, record_every=result.steps or 1
    )
    print(
        f"exact spectral dynamics (Lemmas 5–6) agree: |Δ final loss| = "
        f"{abs(exact.final_loss - result.final_loss):.1e}"
    )
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from . import reproduce

    command = "deeplinear " + " ".join(args.argv)
    try:
        result = reproduce.run(
            args.out,
            quick=args.quick,
            seed=args.seed,
            force=args.force,
            progress=args.progress and sys.stderr.isatty(),
            command=command,
        )
    except reproduce.ReportExistsError as exc:
        raise _UsageError(str(exc)) from None
    width = max(len(claim.title) for claim in result.claims)
    for index, claim in enumerate(result.claims, 1):
        verdict = "PASS" if claim.passed else "FAIL"
        print(f"{index}. {claim.title:<{width}}  {claim.section:<40}  {verdict}")
    passed = sum(claim.passed for claim in result.claims)
    print(
        f"\n{passed}/{len(result.claims)} claims pass in {result.seconds:.1f} s; "
        f"report: {result.out / 'report.md'}"
    )
    return 0 if result.passed else 1


def _parse_param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"the value of {name.strip()} is not a number: {value!r}"
        ) from None


def _load_phi(path: str) -> np.ndarray:
    try:
        phi = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise _UsageError(f"cannot read --phi {path}: {exc}") from None
    if not isinstance(phi, np.ndarray) or phi.ndim != 2 or phi.shape[0] != phi.shape[1]:
        raise _UsageError(
            f"--phi {path} must hold a square (d, d) array, got shape {getattr(phi, 'shape', None)}"
        )
    return phi


def _train(args: argparse.Namespace) -> int:
    import deeplinear as dl

    if args.phi is not None:
        if args.target is not None or args.param:
            raise _UsageError("give either --phi FILE or --target NAME [--param ...], not both")
        phi = _load_phi(args.phi)
        source = f"Φ from {args.phi}"
    else:
        family = args.target or "spd"
        if family not in dl.targets.FAMILIES:
            raise _UsageError(
                f"unknown target family {family!r}; "
                f"choose from {', '.join(sorted(dl.targets.FAMILIES))}"
            )
        params = dict(args.param)
        if family == "spd":
            params.setdefault("cond", 4.0)
        for name in ("count",):
            if name in params:
                params[name] = int(params[name])
        try:
            phi = dl.targets.FAMILIES[family](args.d, **params, seed=args.seed)
        except TypeError as exc:
            raise _UsageError(f"bad --param for target {family!r}: {exc}") from None
        described = ", ".join(f"{k}={v:g}" for k, v in params.items())
        source = f"target {family}({described}), d={args.d}, seed {args.seed}"
    lr = args.lr if args.lr is not None else 0.5 * dl.theory.theorem2_lr(phi, args.depth)
    record_every = args.record_every or max(1, args.steps // 20)
    result = dl.train(
        phi,
        args.depth,
        args.method,
        lr=lr,
        max_steps=args.steps,
        tol=args.tol,
        gamma=args.gamma,
        psi=args.psi,
        kappa=args.kappa,
        record_every=record_every,
    )
    print(f"{args.method} on {source}: L={args.depth}, η={lr:.4g}")
    print(f"{'step':>10}  {'loss':>12}")
    for step, value in zip(result.loss_steps, result.losses):
        print(f"{step:>10d}  {value:>12.4e}")
    print(f"status {result.status} after {result.steps} steps; final loss {result.final_loss:.4e}")
    if args.out:
        options = {
            k: v
            for k, v in (("gamma", args.gamma), ("psi", args.psi), ("kappa", args.kappa))
            if v is not None
        }
        np.savez(
            args.out,
            layers=result.layers,
            losses=result.losses,
            loss_steps=result.loss_steps,
            phi=phi,
            status=result.status,
            steps=result.steps,
            method=args.method,
            lr=lr,
            depth=args.depth,
            **options,
        )
        print(f"wrote {args.out}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import run_sweep_file

    try:
        table = run_sweep_file(
            args.grid, args.store, scheduler=args.scheduler, progress=sys.stderr.isatty()
        )
    except (OSError, ValueError) as exc:
        raise _UsageError(str(exc)) from None
    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    columns = [name for name in rows[0] if name not in ("error",)] if rows else []
    print("  ".join(f"{name:>14}" for name in columns))
    for row in rows:
        cells = []
        for name in columns:
            value = row[name]
            cells.append(f"{value:>14.4e}" if isinstance(value, float) else f"{value!s:>14}")
        print("  ".join(cells) + (f"  {row['error']}" if row.get("error") else ""))
    errors = sum(1 for row in rows if row.get("error"))
    print(
        f"{len(rows)} runs, {errors} errors" + (f"; stored in {args.store}" if args.store else "")
    )
    return 0


class _UsageError(Exception):
    """An argument problem found after parsing: printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deeplinear",
        description="Gradient descent on deep linear residual networks "
        "(Bartlett, Helmbold & Long, ICML 2018).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train on a random SPD target from the identity and print a loss table",
        description="Train Θ_L⋯Θ_1 towards a random symmetric positive definite Φ by gradient "
        "descent from the identity (Sec. 3.1, Theorem 2) and print the loss every 10%% of the run.",
    )
    demo.add_argument("--d", type=_positive_int, default=8, help="dimension d (default 8)")
    demo.add_argument(
        "--depth", type=_positive_int, default=8, help="number of layers L (default 8)"
    )
    demo.add_argument(
        "--cond", type=_positive_float, default=4.0, help="condition number of Φ (default 4)"
    )
    demo.add_argument(
        "--steps", type=_positive_int, default=3000, help="maximum steps (default 3000)"
    )
    demo.add_argument(
        "--tol", type=_positive_float, default=1e-20, help="stop at this loss (default 1e-20)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed of the target (default 0)")
    demo.set_defaults(handler=_demo)

    reproduce = commands.add_parser(
        "reproduce",
        help="check every claim of the paper numerically and write a report",
        description="Run one numerical experiment per claim of Bartlett, Helmbold & Long (ICML "
        "2018) — Theorems 1–5, Lemmas 2–3, 5–7 and Section 6 — and write report.md, "
        "results.json and figures into a folder. Exit status 1 if any claim fails.",
    )
    reproduce.add_argument(
        "--out", default="deeplinear-report", help="report folder (default ./deeplinear-report)"
    )
    reproduce.add_argument(
        "--quick", action="store_true", help="smaller experiments (well under a minute)"
    )
    reproduce.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    reproduce.add_argument(
        "--force", action="store_true", help="overwrite an existing report folder"
    )
    reproduce.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bars"
    )
    reproduce.set_defaults(handler=_reproduce)

    train = commands.add_parser(
        "train",
        help="one training run; prints a loss table and writes the result as .npz",
        description="Train Θ_L⋯Θ_1 towards a target Φ: a family of deeplinear.targets with its "
        "parameters (--target rotation --param angle=1.0) or a square matrix saved with numpy "
        "(--phi phi.npy).",
    )
    train.add_argument(
        "--target",
        help="target family: spd, near_identity, rotation, partial_reflection, "
        "gamma_positive, negative_eigenvalue (default spd)",
    )
    train.add_argument(
        "--param",
        action="append",
        type=_parse_param,
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of the family, e.g. cond=4, angle=1.0, lam=0.5 (repeatable)",
    )
    train.add_argument("--phi", help="a .npy file holding Φ instead of a target family")
    train.add_argument(
        "--d", type=_positive_int, default=4, help="dimension of a generated target (default 4)"
    )
    train.add_argument("--seed", type=int, default=0, help="seed of a generated target (default 0)")
    train.add_argument(
        "--method",
        default="gd",
        choices=["gd", "power_projection", "step_and_project", "penalty"],
        help="training method (default gd)",
    )
    train.add_argument(
        "--depth", type=_positive_int, default=8, help="number of layers L (default 8)"
    )
    train.add_argument(
        "--lr",
        type=_positive_float,
        help="step size η (default 0.5/(L(1+‖Φ‖₂²)), half Theorem 2's)",
    )
    train.add_argument(
        "--steps", type=_positive_int, default=10_000, help="maximum steps (default 10000)"
    )
    train.add_argument(
        "--tol", type=float, default=0.0, help="stop once the loss is at most this (default 0)"
    )
    train.add_argument(
        "--gamma",
        type=_positive_float,
        help="γ of power projection (needed), or the initial scale of step-and-project",
    )
    train.add_argument("--psi", type=_positive_float, help="ψ of step-and-project (needed there)")
    train.add_argument("--kappa", type=float, help="κ of penalty GD (needed there)")
    train.add_argument(
        "--record-every",
        type=_positive_int,
        help="record the loss every this many steps (default steps/20)",
    )
    train.add_argument("--out", help="write the result to this .npz file")
    train.set_defaults(handler=_train)

    sweep = commands.add_parser(
        "sweep",
        help="run a grid of training runs from a TOML file, on this machine or a Dask cluster",
        description="Run every combination of the [grid] lists of a TOML file (with the [fixed] "
        "values) through deeplinear.sweep; finished runs go to --store and are skipped when the "
        "sweep is run again. See deeplinear.sweep.run_sweep_file for the file format.",
    )
    sweep.add_argument("grid", help="the TOML file describing the sweep")
    sweep.add_argument("--store", help="folder for finished runs (resumable)")
    sweep.add_argument("--scheduler", help="a Dask scheduler address, e.g. tcp://host:8786")
    sweep.set_defaults(handler=_sweep)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deeplinear`` command; returns the exit status."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    args.argv = argv
    try:
        return int(args.handler(args))
    except (_UsageError, ValueError, TypeError) as exc:
        print(f"deeplinear {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
