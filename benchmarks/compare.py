"""deeplinear against what a researcher would write instead: full-batch GD from the identity.

Usage:  python benchmarks/compare.py [--sizes 4x8,64x16] [--repeats 3] [--threads 1]
                                      [--seconds 0.5] [--out results.md]

For each (d, L) every implementation runs T steps of Θ_i ← Θ_i − η G_i in float64 from Θ_i = I
towards the same SPD target, in its own process (median of ``--repeats`` processes), with the
thread count pinned. Peers: numpy closed form (prefix products and one backward sweep), PyTorch
autograd (L leaf parameters, loss.backward(), manual SGD), PyTorch closed form, and JAX jit in
its fastest form (a tuple of L arrays, the chained product, jax.grad, and the whole loop in one
jitted lax.fori_loop). PyTorch and JAX are skipped with a note when not installed (the "bench"
extra). Every implementation's final loss must agree with deeplinear's.

The table gives steps/s, the ratio to the best peer, GFLOP/s (one step ≈ 6·L·d³ flops), the
fraction of "peak" (numpy's 512×512 float64 matmul GFLOP/s with the same threads, measured in its
own process once per round of the same size: the median of those) and the peak extra memory of
the process (resident set growth). The processes of one size run in rounds, one process of every
implementation (and of the peak) per round in a rotating order, so that a noisy spell on a shared
machine falls on all of them alike rather than on one implementation's repeats. Only ratios
measured in one run mean anything: the absolute figures move with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import deeplinear as dl

sys.path.insert(0, str(Path(__file__).parent))
from compare_worker import target

SIZES = [(4, 8), (8, 32), (16, 16), (32, 64), (64, 16), (128, 32), (256, 8), (512, 4)]
IMPLEMENTATIONS = ["deeplinear", "numpy", "torch_autograd", "torch_closed", "jax_jit"]

WORKER = Path(__file__).with_name("compare_worker.py")

PEAK = textwrap.dedent(
    """
    import time, numpy as np
    a, b = np.random.rand(512, 512), np.random.rand(512, 512)
    a @ b
    best = 0.0
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(10):
            a @ b
        best = max(best, 10 * 2 * 512**3 / (time.perf_counter() - started) / 1e9)
    print(best)
    """
)


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


def measure(name: str, dim: int, depth: int, seconds: float, threads: int) -> dict:
    completed = subprocess.run(
        [sys.executable, str(WORKER), name, str(dim), str(depth), str(seconds), str(threads)],
        capture_output=True,
        text=True,
        env=thread_env(threads),
        check=False,
    )
    if completed.returncode != 0:
        return {
            "skipped": completed.stderr.strip().splitlines()[-1] if completed.stderr else "failed"
        }
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="comma-separated dxL, e.g. 4x8,64x16 (default: the grid)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--seconds", type=float, default=0.5, help="target duration of one timed call"
    )
    parser.add_argument("--only", help="comma-separated implementations to run")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    sizes = (
        SIZES if not args.sizes else [tuple(map(int, s.split("x"))) for s in args.sizes.split(",")]
    )
    names = IMPLEMENTATIONS if not args.only else args.only.split(",")
    cores = sorted(os.sched_getaffinity(0))[: args.threads]
    pin = f"import os; os.sched_setaffinity(0, {set(cores)!r})\n"

    def measure_peak() -> float:
        return float(
            subprocess.run(
                [sys.executable, "-c", pin + PEAK],
                capture_output=True,
                text=True,
                env=thread_env(args.threads),
                check=True,
            ).stdout
        )

    notes, lines, all_peaks = [], [], []
    header = (
        f"| d, L | {' | '.join(names)} | deeplinear / best peer | deeplinear GFLOP/s | "
        f"peak GFLOP/s | % of peak | deeplinear extra MiB |"
    )
    lines += [header, "|" + " --- |" * (len(names) + 6)]
    for dim, depth in sizes:
        runs: dict[str, list[dict]] = {name: [] for name in names}
        peaks, skipped = [], set()
        for round_ in range(args.repeats):
            shift = round_ % (len(names) + 1)
            order = [*names, "peak"][shift:] + [*names, "peak"][:shift]
            for name in order:
                if name == "peak":
                    peaks.append(measure_peak())
                elif name not in skipped:
                    run = measure(name, dim, depth, args.seconds, args.threads)
                    if "skipped" in run:
                        notes.append(f"{name} skipped: {run['skipped']}")
                        skipped.add(name)
                    else:
                        runs[name].append(run)
        all_peaks += peaks
        peak = statistics.median(peaks)
        rates, memory, losses = {}, {}, {}
        for name, done in runs.items():
            if done:
                rates[name] = statistics.median(r["steps"] / r["seconds"] for r in done)
                memory[name] = statistics.median(r["extra_kib"] for r in done) / 1024
                losses[name] = done[0]["loss"], done[0]["steps"]
        if losses:
            # Every implementation must agree with the exact dynamics of Lemmas 5–6 (Φ is
            # symmetric) after its own number of steps.
            phi, lr = target(dim, depth)
            for name, (loss, steps) in losses.items():
                exact = dl.spectral_gd(phi, depth, lr=lr, max_steps=steps, record_every=steps)
                if not np.isclose(loss, exact.final_loss, rtol=1e-6, atol=1e-20):
                    notes.append(
                        f"{name} d={dim} L={depth}: final loss {loss:.6e} "
                        f"!= exact {exact.final_loss:.6e}"
                    )
        peers = {n: r for n, r in rates.items() if n != "deeplinear"}
        ours = rates.get("deeplinear")
        best = max(peers.values()) if peers else None
        gflops = ours * 6 * depth * dim**3 / 1e9 if ours else None
        cells = [f"{rates[n]:,.1f}" if n in rates else "–" for n in names]
        lines.append(
            f"| {dim}, {depth} | {' | '.join(cells)} | "
            f"{(ours / best) if ours and best else float('nan'):.2f}× | "
            f"{gflops if gflops else float('nan'):.1f} | "
            f"{peak:.1f} | "
            f"{100 * gflops / peak if gflops else float('nan'):.0f} % | "
            f"{memory.get('deeplinear', float('nan')):.1f} |"
        )
        print(lines[-1], flush=True)
    table = "\n".join(
        [
            f"steps/s, float64, threads={args.threads}, median of {args.repeats} processes in "
            f"rotating rounds; peak = numpy 512×512 matmul, median per size "
            f"({min(all_peaks):.1f}–{max(all_peaks):.1f} GFLOP/s over the run)",
            "",
            *lines,
            "",
            *sorted(set(notes)),
        ]
    )
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
