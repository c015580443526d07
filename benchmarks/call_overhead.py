"""What a `dl.train` call spends besides its steps, at the sizes where calls are short.

Usage:  python benchmarks/call_overhead.py [--sizes 512x4,256x8] [--threads 2] [--steps 11]
                                           [--rounds 7]

compare.py times one `dl.train` call of about 0.3 s per process: at d = 512, L = 4 that is 6
steps on one thread and 11 on two. For each (d, L) this times, in alternating rounds (medians, ms):

- "train": `dl.train(phi, L, max_steps=steps)`, as compare.py calls it;
- "steps": `steps` more steps of a `dl.Trainer` made (and stepped) before: the steps alone;
- "train, 0 steps": `dl.train(..., max_steps=0)`: the call's workspace, its checks and the
  forward sweep of the initial loss;
- with --threads > 1, "timed split" and "always split": the call through `_core.session`, the
  products' split between threads chosen by timing them (the default: a few products on one
  thread first) or always made.

Both "train" and "steps" make steps + 1 forward sweeps (the loss after the last step is one), so
"train / steps" is what a call adds to its steps. The process runs on the first `--threads`
cores, without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (as in compare.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1e3


def measure(dim: int, depth: int, args: argparse.Namespace, columns: list[str]) -> str:
    """One table row: the medians of each column's calls, and of train / steps per round."""
    phi, lr = target(dim, depth)  # compare.py's target and step size
    steps, threads = args.steps, args.threads

    def train(count: int = steps) -> None:
        dl.train(phi, depth, lr=lr, max_steps=count, record_every=max(count, 1), threads=threads)

    def session(split: str) -> None:
        layers = np.repeat(np.eye(dim)[None], depth, axis=0)
        _core.session(layers, phi, "gd", lr, threads=threads, split=split).run(steps, 0.0, True)

    trainer = dl.Trainer(phi, depth, lr=lr, record_every=10**9, threads=threads)
    trainer.step(1)
    calls = {
        "train": train,
        "steps": lambda: trainer.step(steps),
        "train, 0 steps": lambda: train(0),
        "timed split": lambda: session("timed"),
        "always split": lambda: session("always"),
    }
    train()  # warm up
    times: dict[str, list[float]] = {name: [] for name in columns}
    ratios = []
    for _ in range(args.rounds):
        for name in columns:
            times[name].append(timed(calls[name]))
        ratios.append(times["train"][-1] / times["steps"][-1])
    medians = " | ".join(f"{statistics.median(times[name]):.1f}" for name in columns)
    return f"| {dim}, {depth} | {medians} | {statistics.median(ratios):.3f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512x4,256x8", help="comma-separated dxL")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if args.threads < 1 or args.steps < 1 or args.rounds < 1:
        parser.error("--threads, --steps and --rounds must be positive")
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.threads]))
    print(
        f"ms per call, float64, threads={args.threads}, {args.steps} steps, medians of "
        f"{args.rounds} alternating rounds\n"
    )
    columns = ["train", "steps", "train, 0 steps"]
    if args.threads > 1:
        columns += ["timed split", "always split"]
    print(f"| d, L | {' | '.join(columns)} | train / steps |")
    print(f"| --- | {' | '.join('---' for _ in columns)} | --- |")
    for size in args.sizes.split(","):
        dim, depth = map(int, size.split("x"))
        print(measure(dim, depth, args, columns), flush=True)


if __name__ == "__main__":
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # no handicap (see compare.py)
        os.environ.pop(name, None)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")  # numpy's BLAS: only the setup's norm uses it
    import numpy as np

    import deeplinear as dl
    from compare_worker import target  # (this script's folder is first on sys.path)
    from deeplinear import _core

    sys.exit(main())
