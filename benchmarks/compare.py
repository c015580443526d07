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

The table gives steps/s, the ratio to the best peer, GFLOP/s (the products a step makes: 3(L − 1)
of 2d³ flops each), the fraction of "peak" (numpy's 512×512 float64 matmul GFLOP/s with the same
threads, measured in its own process once per round of the same size: the median of those) and
the peak extra memory of the process (its resident set's peak growth during the timed calls, the
peak reset through /proc/self/clear_refs where Linux allows: for deeplinear the layers a run
returns, its copy of Φ and its workspace, which benchmarks/memory.py measures alone). Beside the
measured peak it prints the cores' FMA limit (threads × 2 FMA units × vector lanes × 2 flops ×
clock, from /proc/cpuinfo) and the kernel that every BLAS in the processes ran (threadpoolctl's
"architecture").

Every benchmark process runs without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE: a machine may set
them (to keep old OpenBLAS builds off a processor they misdetect) and they force every OpenBLAS in
the process, numpy's included, onto an older, slower kernel that a researcher's workstation would
not use. (Tests and CI keep the machine's settings.)

The processes of one size run in rounds, one process of every implementation (and of the peak)
per round in a rotating order, so that a noisy spell on a shared machine falls on all of them
alike rather than on one implementation's repeats. Only ratios measured in one run mean anything:
the absolute figures move with the machine and its load.
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
from compare_worker import CHECK_STEPS, target

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
    from threadpoolctl import threadpool_info
    kernels = sorted({i["architecture"] for i in threadpool_info() if "architecture" in i})
    print(best, ",".join(kernels))
    """
)


# Settings that pin OpenBLAS to a kernel other than the one it would pick for this CPU.
HANDICAPS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def thread_env(threads: int) -> dict[str, str]:
    """The environment of a benchmark process: `threads` threads everywhere, no BLAS handicap."""
    env = {name: value for name, value in os.environ.items() if name not in HANDICAPS}
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


def fma_limit(threads: int) -> tuple[float, str]:
    """GFLOP/s of `threads` cores that retire two FMAs per cycle on their float64 FMA units, at
    the clock /proc/cpuinfo reports, and the sentence that says so. The units are as wide as the
    widest vectors, but for AMD's Zen 4 (family 25 with AVX-512), whose two units are 256 bits
    wide and run a 512-bit operation in two halves."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return float("nan"), "FMA limit unknown (no /proc/cpuinfo)"
    flags = set(fields.get("flags", "").split())
    mhz = float(fields.get("cpu MHz", "nan"))
    lanes = 8 if "avx512f" in flags else 4 if "fma" in flags else 2
    halves = (
        lanes == 8
        and fields.get("vendor_id") == "AuthenticAMD"
        and fields.get("cpu family") == "25"
    )
    if halves:
        lanes = 4
    gflops = threads * 2 * lanes * 2 * mhz / 1e3
    width = f"{64 * lanes}-bit" + (
        ", 512-bit operations in two halves: AMD Zen 4" if halves else ""
    )
    return gflops, (
        f"FMA limit {gflops:.1f} GFLOP/s = {threads} core(s) × 2 FMA units × {lanes} float64 "
        f"lanes ({width}) × 2 flops × {mhz / 1e3:.2f} GHz (/proc/cpuinfo; boost is higher)"
    )


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

    peak_kernels: set[str] = set()

    def measure_peak() -> float:
        value, kernels = subprocess.run(
            [sys.executable, "-c", pin + PEAK],
            capture_output=True,
            text=True,
            env=thread_env(args.threads),
            check=True,
        ).stdout.split()
        peak_kernels.add(kernels)
        return float(value)

    notes, lines, all_peaks = [], [], []
    blas: dict[str, set[str]] = {}
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
                        blas.setdefault(name, set()).update(run.get("blas", []))
                        if "kernel" in run:
                            kernel = run["kernel"]
                            notes.append(
                                f"deeplinear d={dim}: {kernel['backend']} kernel, {kernel['isa']}"
                            )
        all_peaks += peaks
        peak = statistics.median(peaks)
        rates, memory, losses = {}, {}, {}
        for name, done in runs.items():
            if done:
                rates[name] = statistics.median(r["steps"] / r["seconds"] for r in done)
                memory[name] = statistics.median(r["extra_kib"] for r in done) / 1024
                losses[name] = done[0]["loss"], done[0]["steps"], done[0]["check_loss"]
        if losses:
            # Every implementation must agree with the exact dynamics of Lemmas 5–6 (Φ is
            # symmetric): after CHECK_STEPS steps, where ℓ is far from 0 and a wrong step shows
            # (to 1e-8), and after its own number of timed steps (to 1e-6, or 1e-20 absolute
            # once converged: there the losses are rounding).
            phi, lr = target(dim, depth)
            short = dl.spectral_gd(phi, depth, lr=lr, max_steps=CHECK_STEPS).final_loss
            for name, (loss, steps, check_loss) in losses.items():
                exact = dl.spectral_gd(phi, depth, lr=lr, max_steps=steps, record_every=steps)
                if not np.isclose(check_loss, short, rtol=1e-8, atol=0.0):
                    notes.append(
                        f"{name} d={dim} L={depth}: loss after {CHECK_STEPS} steps "
                        f"{check_loss:.10e} != exact {short:.10e}"
                    )
                if not np.isclose(loss, exact.final_loss, rtol=1e-6, atol=1e-20):
                    notes.append(
                        f"{name} d={dim} L={depth}: final loss {loss:.6e} "
                        f"!= exact {exact.final_loss:.6e}"
                    )
        peers = {n: r for n, r in rates.items() if n != "deeplinear"}
        ours = rates.get("deeplinear")
        best = max(peers.values()) if peers else None
        gflops = ours * 3 * (depth - 1) * 2 * dim**3 / 1e9 if ours else None
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
    limit, limit_text = fma_limit(args.threads)
    handicaps = [name for name in HANDICAPS if name in os.environ]
    table = "\n".join(
        [
            f"steps/s, float64, threads={args.threads}, median of {args.repeats} processes in "
            f"rotating rounds; GFLOP/s count 3(L − 1) products of 2d³ flops per step; peak = numpy "
            f"512×512 matmul, median per size ({min(all_peaks):.1f}–{max(all_peaks):.1f} GFLOP/s "
            f"over the run, OpenBLAS kernel {', '.join(sorted(peak_kernels))}); {limit_text}",
            "",
            *lines,
            "",
            *(
                f"BLAS kernels loaded by {name}: {', '.join(sorted(kernels)) or 'none'}"
                for name, kernels in sorted(blas.items())
            ),
            *(
                [f"removed from the benchmark processes' environment: {', '.join(handicaps)}"]
                if handicaps
                else []
            ),
            *sorted(set(notes)),
        ]
    )
    del limit
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
