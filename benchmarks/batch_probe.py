"""Small measurements of a batch of networks, in one process, behind figures of
docs/performance.md ("Many networks at once", "On AMD Zen 4") and cpp/kernels/tuning.hpp.

Usage:
  python benchmarks/batch_probe.py lanes  [--sizes 256x8x16,256x16x16] [--rounds 5] [--single]
  python benchmarks/batch_probe.py calls  [--size 256x8x32] [--steps 0,100] [--threads 1,2]
                                          [--rounds 5]
  python benchmarks/batch_probe.py layers [--size 1024x4] [--depths 4,8,16] [--steps 200]
                                          [--rounds 5]

Every mode trains gd from the identity towards B SPD targets (condition number 4, seeds 0..B-1;
η = 0.5/(L(1 + max ‖Φ‖₂²)), batch_compare.py's targets), float64 unless --single, pinned to the
first core (two with --threads 2), OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed, and gives
medians of --rounds rounds that alternate the variants:

- lanes: _core.batch_session with lanes "always" against "never" (each network's own kernel),
  network-steps/s and GFLOP/s (3(L − 1) products of 2d³ flops per network-step) of each and the
  median of the rounds' ratios (always / never), for BxDxL sizes (--steps steps per call).
- calls: the time of one dl.train_batch call of each step count on each thread count (a call of
  0 steps: the batch built, checked, its first losses and the result).
- layers: network-steps/s of dl.train_batch at each depth, and the least-squares line through the
  time per network-step against L: its slope (ns per layer per network-step, and the GFLOP/s of
  a layer's three d×d products at that rate, against the cores' FMA limit of compare.py) and its
  intercept (ns per network-step besides the layers).

Only ratios measured in one run mean anything on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
for _name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # no handicap (see compare.py)
    os.environ.pop(_name, None)

import numpy as np  # noqa: E402  (after the settings above, which the BLAS reads as it loads)

import deeplinear as dl  # noqa: E402
from deeplinear import _core  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))


def targets(count: int, dim: int, depth: int, dtype: type) -> tuple[np.ndarray, float]:
    """batch_compare.py's targets and step size."""
    out = []
    for seed in range(count):
        q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
        out.append((q * np.logspace(-0.5, 0.5, dim, base=4.0)) @ q.T)
    phis = np.stack(out)
    lr = 0.5 / (depth * (1 + float(np.abs(np.linalg.eigvalsh(phis)).max()) ** 2))
    return phis.astype(dtype), lr


def pin(threads: int) -> None:
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:threads]))


def lanes_rate(phis: np.ndarray, depth: int, lr: float, steps: int, lanes: str) -> float:
    """Network-steps/s of one batch_session run of `steps` steps with the given lanes setting."""
    count, dim = phis.shape[0], phis.shape[1]
    layers = np.broadcast_to(np.eye(dim, dtype=phis.dtype), (count, depth, dim, dim)).copy()
    zeros = np.zeros(count)
    session = _core.batch_session(
        layers, phis, "gd", np.full(count, lr), zeros, zeros, zeros,
        record_every=10**9, lanes=lanes,
    )  # fmt: skip
    if session.uses_lanes != (lanes == "always"):
        raise SystemExit(f"lanes={lanes!r}: the session reports uses_lanes={session.uses_lanes}")
    budgets = np.full(count, steps, dtype=np.int64)
    started = time.perf_counter()
    session.run(budgets, zeros, False)
    return count * steps / (time.perf_counter() - started)


def lanes_mode(args: argparse.Namespace) -> None:
    pin(1)
    dtype = np.float32 if args.single else np.float64
    print(
        f"_core.batch_session lanes 'always' against 'never', gd, {np.dtype(dtype).name}, one "
        f"core, {args.steps} steps per call, medians of {args.rounds} rounds\n"
    )
    print("| B, d, L | always (lanes) | never (own kernels) | always / never | per-round range |")
    print("| --- | --- | --- | --- | --- |")
    for count, dim, depth in sizes(args.sizes, 3):
        phis, lr = targets(count, dim, depth, dtype)
        lanes_rate(phis, depth, lr, 1, "always"), lanes_rate(phis, depth, lr, 1, "never")  # warm
        rounds = []
        for round_ in range(args.rounds):
            order = ["always", "never"] if round_ % 2 == 0 else ["never", "always"]
            rates = {lanes: lanes_rate(phis, depth, lr, args.steps, lanes) for lanes in order}
            rounds.append((rates["always"], rates["never"]))
        always, never = (statistics.median(column) for column in zip(*rounds))
        ratios = sorted(a / n for a, n in rounds)
        flops = 3 * (depth - 1) * 2 * dim**3 / 1e9
        print(
            f"| {count}, {dim}, {depth} | {always / 1e6:.3f}M ({always * flops:.1f} GFLOP/s) | "
            f"{never / 1e6:.3f}M ({never * flops:.1f} GFLOP/s) | "
            f"{statistics.median(ratios):.2f}× | {ratios[0]:.2f}–{ratios[-1]:.2f}× |",
            flush=True,
        )


def calls_mode(args: argparse.Namespace) -> None:
    count, dim, depth = sizes(args.size, 3)[0]
    phis, lr = targets(count, dim, depth, np.float64)
    steps = [int(s) for s in args.steps.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    pin(max(threads))
    variants = [(s, t) for s in steps for t in threads]

    def call(steps: int, threads: int) -> float:
        started = time.perf_counter()
        dl.train_batch(phis, depth, lr=lr, max_steps=steps, record_every=max(steps, 1),
                       threads=threads)  # fmt: skip
        return time.perf_counter() - started

    for variant in variants:
        call(*variant)  # warm
    times: dict[tuple[int, int], list[float]] = {variant: [] for variant in variants}
    for round_ in range(args.rounds):
        shift = round_ % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            times[variant].append(call(*variant))
    print(
        f"dl.train_batch, B = {count}, d = {dim}, L = {depth}, gd, one process (pinned to "
        f"{max(threads)} core(s)), ms per call, medians of {args.rounds} rounds\n"
    )
    print("| steps | " + " | ".join(f"{t} thread(s)" for t in threads) + " |")
    print("|" + " --- |" * (len(threads) + 1))
    for s in steps:
        cells = [f"{1e3 * statistics.median(times[(s, t)]):.1f}" for t in threads]
        print(f"| {s} | " + " | ".join(cells) + " |")


def layers_mode(args: argparse.Namespace) -> None:
    pin(1)
    count, dim = sizes(args.size, 2)[0]
    depths = [int(d) for d in args.depths.split(",")]
    prepared = {depth: targets(count, dim, depth, np.float64) for depth in depths}

    def rate(depth: int) -> float:
        phis, lr = prepared[depth]
        started = time.perf_counter()
        dl.train_batch(phis, depth, lr=lr, max_steps=args.steps, record_every=args.steps)
        return count * args.steps / (time.perf_counter() - started)

    for depth in depths:
        rate(depth)  # warm
    rates: dict[int, list[float]] = {depth: [] for depth in depths}
    for round_ in range(args.rounds):
        shift = round_ % len(depths)
        for depth in depths[shift:] + depths[:shift]:
            rates[depth].append(rate(depth))
    median = {depth: statistics.median(rates[depth]) for depth in depths}
    slope, intercept = np.polyfit(depths, [1e9 / median[depth] for depth in depths], 1)
    layer_gflops = 3 * 2 * dim**3 / slope
    try:
        from compare import fma_limit

        limit, _ = fma_limit(1)
    except ImportError:
        limit = float("nan")
    print(
        f"dl.train_batch, B = {count}, d = {dim}, gd, one core, {args.steps} steps per call, "
        f"medians of {args.rounds} rounds\n"
    )
    print("| L | network-steps/s | ns per network-step |")
    print("| --- | --- | --- |")
    for depth in depths:
        print(f"| {depth} | {median[depth] / 1e6:.3f}M | {1e9 / median[depth]:.1f} |")
    width = _core.lane_width(dim=dim)
    print(
        f"\nper layer: {slope:.2f} ns per network-step ({slope * width:.1f} ns per lane group "
        f"of {width} networks), {layer_gflops:.1f} GFLOP/s for its three {dim}×{dim} products, "
        f"{100 * layer_gflops / limit:.0f} % of the FMA limit ({limit:.1f} GFLOP/s at the "
        f"clock /proc/cpuinfo reports); besides the layers: {intercept:.2f} ns per network-step"
    )


def sizes(text: str, parts: int) -> list[tuple[int, ...]]:
    found = [tuple(int(x) for x in item.split("x")) for item in text.split(",")]
    if any(len(size) != parts for size in found):
        raise SystemExit(f"sizes {text!r}: expected {parts} numbers joined by x")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    lanes = modes.add_parser("lanes", help="lane groups against each network's own kernel")
    lanes.add_argument("--sizes", default="256x8x16,256x16x16", help="BxDxL,...")
    lanes.add_argument("--steps", type=int, default=100)
    lanes.add_argument("--single", action="store_true", help="float32")
    calls = modes.add_parser("calls", help="the time of whole dl.train_batch calls")
    calls.add_argument("--size", default="256x8x32", help="BxDxL")
    calls.add_argument("--steps", default="0,100", help="step counts, comma-separated")
    calls.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    layers = modes.add_parser("layers", help="the cost of a layer, from several depths")
    layers.add_argument("--size", default="1024x4", help="BxD")
    layers.add_argument("--depths", default="4,8,16")
    layers.add_argument("--steps", type=int, default=200)
    for sub in (lanes, calls, layers):
        sub.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    {"lanes": lanes_mode, "calls": calls_mode, "layers": layers_mode}[args.mode](args)


if __name__ == "__main__":
    main()
