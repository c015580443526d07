"""deeplinear against what a researcher would write instead: full-batch GD from the identity.

Usage:  python benchmarks/compare.py [--sizes 4x8,64x16] [--repeats 3] [--threads 1]
                                      [--seconds 0.5] [--out results.md]

For each (d, L) every implementation runs T steps of Θ_i ← Θ_i − η G_i in float64 from Θ_i = I
towards the same SPD target, in its own process (median of ``--repeats`` processes), with the
thread count pinned. Peers: numpy closed form (prefix products and one backward sweep), PyTorch
autograd (L leaf parameters, loss.backward(), manual SGD), PyTorch closed form, and JAX jit in
its fastest form (a tuple of L arrays, the chained product, jax.grad, and the whole loop in one
jitted lax.fori_loop). PyTorch and JAX are skipped with a note when not installed (the "bench"
extra).

Every implementation must agree, in every repeat, with two references: (1) towards the SPD target
of the timed runs, the exact dynamics of Lemmas 5–6 (dl.spectral_gd): the loss after CHECK_STEPS
steps, where ℓ is far from 0, to 1e-8, and the timed run's final loss to 1e-6 (1e-20 absolute);
(2) towards the non-symmetric target I + 0.3·G/√d (compare_worker.asym_target), after CHECK_STEPS
steps, the layers and the loss of lemma1_layers() below, an independent float64 GD written from
Lemma 1 with explicit prefix and suffix products: every layer to 1e-8 of how far the layers moved
from I, the loss to 1e-8. From the identity towards an SPD Φ every layer stays equal, symmetric and
commuting with Φ, so a step with the product in reverse order, without Lemma 1's transposes or
with layer i+1's gradient for layer i agrees with (1) to rounding; (2) is what shows it, and only
its layers show the reversed order (whose losses are the right ones). An implementation that
disagrees is marked "(disagrees)" in the table, a ratio to the best peer that involves one reads
"disagrees", and the script exits with status 1 once the table is printed (and written); so it
does when an implementation's process fails (one skipped because its library is not installed
is only noted).

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
import tempfile
import textwrap
from pathlib import Path

import numpy as np

import deeplinear as dl

sys.path.insert(0, str(Path(__file__).parent))
from compare_worker import CHECK_STEPS, asym_target, target

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
    kernels = sorted(
        {i.get("architecture", i.get("internal_api", "?") + " (architecture unknown)")
         for i in threadpool_info() if i.get("user_api") == "blas"}
    )
    print(best, ",".join(kernels))
    """
)

# The agreement checks' tolerances (see the module's docstring).
CHECK_RTOL = 1e-8
FINAL_RTOL, FINAL_ATOL = 1e-6, 1e-20


def lemma1_layers(phi: np.ndarray, depth: int, lr: float, steps: int) -> np.ndarray:
    """GD from Θ_i = I written from Lemma 1 alone, in float64, independent of every peer's code:
    each step forms every prefix Θ_{1:i−1} = Θ_{i−1}⋯Θ_1 and suffix Θ_{i+1:L} = Θ_L⋯Θ_{i+1}
    explicitly, G_i = (Θ_{i+1:L})ᵀ(Θ_{1:L} − Φ)(Θ_{1:i−1})ᵀ, and steps all layers at once.
    Returns the layers, shape (L, d, d), Θ_1 first."""
    dim = phi.shape[0]
    layers = [np.eye(dim) for _ in range(depth)]
    for _ in range(steps):
        prefixes = [np.eye(dim)]  # prefixes[i] = Θ_{1:i} (the first i layers)
        for layer in layers:
            prefixes.append(layer @ prefixes[-1])
        suffixes = [np.eye(dim)]  # suffixes[k] = the last k layers, Θ_L ⋯ Θ_{L−k+1}
        for layer in reversed(layers):
            suffixes.append(suffixes[-1] @ layer)
        residual = prefixes[depth] - phi
        gradients = [suffixes[depth - 1 - i].T @ residual @ prefixes[i].T for i in range(depth)]
        layers = [layer - lr * g for layer, g in zip(layers, gradients)]
    return np.stack(layers)


def loss_of(layers: np.ndarray, phi: np.ndarray) -> float:
    """½‖Θ_L ⋯ Θ_1 − Φ‖_F² of layers Θ_1 first."""
    product = np.eye(phi.shape[0])
    for layer in layers:
        product = layer @ product
    return 0.5 * float(np.sum((product - phi) ** 2))


def references(dim: int, depth: int) -> dict:
    """What check_run compares a run of (d, L) with: the exact loss after CHECK_STEPS steps
    towards the SPD target, room for the exact final losses, and the Lemma 1 layers and loss
    towards the non-symmetric target."""
    phi, lr = target(dim, depth)
    asym_phi, asym_lr = asym_target(dim, depth)
    asym = lemma1_layers(asym_phi, depth, asym_lr, CHECK_STEPS)
    return {
        "short": dl.spectral_gd(phi, depth, lr=lr, max_steps=CHECK_STEPS).final_loss,
        "exact": {},
        "asym": asym,
        "asym_loss": loss_of(asym, asym_phi),
    }


def check_run(
    run: dict, layers: np.ndarray | None, reference: dict, dim: int, depth: int
) -> list[str]:
    """What one worker's run got wrong (empty when it agrees): `reference` holds the exact loss
    after CHECK_STEPS steps towards the SPD target ("short"), the exact final loss of every step
    count seen ("exact", filled here), and the Lemma 1 layers and loss towards the non-symmetric
    target ("asym", "asym_loss")."""
    phi, lr = target(dim, depth)
    where = f"d={dim} L={depth}"
    found = []
    if not np.isclose(run["check_loss"], reference["short"], rtol=CHECK_RTOL, atol=0.0):
        found.append(
            f"{where}: loss after {CHECK_STEPS} steps {run['check_loss']:.10e} "
            f"!= exact {reference['short']:.10e}"
        )
    steps = run["steps"]
    if steps not in reference["exact"]:
        exact = dl.spectral_gd(phi, depth, lr=lr, max_steps=steps, record_every=steps)
        reference["exact"][steps] = exact.final_loss
    if not np.isclose(run["loss"], reference["exact"][steps], rtol=FINAL_RTOL, atol=FINAL_ATOL):
        found.append(
            f"{where}: final loss {run['loss']:.6e} != exact {reference['exact'][steps]:.6e}"
        )
    expected = reference["asym"]
    if layers is None or layers.shape != expected.shape:
        shape = None if layers is None else layers.shape
        found.append(f"{where}: non-symmetric check gave layers of shape {shape}")
        return found
    moved = float(np.abs(expected - np.eye(dim)).max())
    error = float(np.abs(layers - expected).max())
    if not error <= CHECK_RTOL * moved:  # also NaN
        found.append(
            f"{where}: layers after {CHECK_STEPS} steps towards the non-symmetric target "
            f"!= Lemma 1 reference (max error {error:.3e}, layers moved {moved:.3e})"
        )
    if not np.isclose(run.get("asym_loss", np.nan), reference["asym_loss"], rtol=CHECK_RTOL):
        found.append(
            f"{where}: loss after {CHECK_STEPS} steps towards the non-symmetric target "
            f"{run.get('asym_loss', np.nan):.10e} != Lemma 1 reference "
            f"{reference['asym_loss']:.10e}"
        )
    return found


# A JAX process loads numpy (and its BLAS) too, but XLA compiles its own code for the products of
# the jitted loop: the BLAS listed for jax_jit did not run them.
JAX_BLAS_NOTE = " (loaded with numpy; the jitted loop's products are XLA's own code, not these)"

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


def measure(
    name: str, dim: int, depth: int, seconds: float, threads: int, check_file: Path, round_: int
) -> tuple[dict, np.ndarray | None]:
    """One worker's report and the layers of its non-symmetric check run ({"skipped": why}
    when its library is not installed, {"failed": why} when the process failed)."""
    command = [sys.executable, str(WORKER), name, str(dim), str(depth), str(seconds)]
    completed = subprocess.run(
        [*command, str(threads), str(check_file)],
        capture_output=True,
        text=True,
        env={**thread_env(threads), "DEEPLINEAR_BENCH_ROUND": str(round_)},
        check=False,
    )
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines()
        return {"failed": lines[-1] if lines else f"exit status {completed.returncode}"}, None
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    layers = np.load(check_file) if check_file.exists() else None
    check_file.unlink(missing_ok=True)
    return report, layers


def main() -> int:
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
        ).stdout.split(maxsplit=1)
        peak_kernels.add(kernels.strip())
        return float(value)

    notes, lines, all_peaks = [], [], []
    errors: list[str] = []  # disagreements and failed processes: exit status 1
    blas: dict[str, set[str]] = {}
    header = (
        f"| d, L | {' | '.join(names)} | deeplinear / best peer | deeplinear GFLOP/s | "
        f"peak GFLOP/s | % of peak | deeplinear extra MiB |"
    )
    lines += [header, "|" + " --- |" * (len(names) + 6)]
    scratch = tempfile.TemporaryDirectory(prefix="compare-")
    check_file = Path(scratch.name) / "layers.npy"
    for dim, depth in sizes:
        runs: dict[str, list[dict]] = {name: [] for name in names}
        peaks, skipped = [], set()
        reference = references(dim, depth)
        disagree: set[str] = set()
        for round_ in range(args.repeats):
            shift = round_ % (len(names) + 1)
            order = [*names, "peak"][shift:] + [*names, "peak"][:shift]
            for name in order:
                if name == "peak":
                    peaks.append(measure_peak())
                elif name not in skipped:
                    run, layers = measure(
                        name, dim, depth, args.seconds, args.threads, check_file, round_
                    )
                    if "skipped" in run or "failed" in run:
                        why = run.get("skipped") or run["failed"]
                        if "failed" in run:
                            errors.append(f"{name} d={dim} L={depth} failed: {why}")
                        notes.append(f"{name} {'failed' if 'failed' in run else 'skipped'}: {why}")
                        skipped.add(name)
                        continue
                    runs[name].append(run)
                    # every repeat is checked: a fault in one process must not hide behind another
                    for problem in check_run(run, layers, reference, dim, depth):
                        notes.append(f"{name} {problem}")
                        errors.append(f"{name} {problem}")
                        disagree.add(name)
                    blas.setdefault(name, set()).update(run.get("blas", []))
                    if "kernel" in run:
                        kernel = run["kernel"]
                        notes.append(
                            f"deeplinear d={dim}: {kernel['backend']} kernel, {kernel['isa']}"
                        )
        all_peaks += peaks
        peak = statistics.median(peaks)
        rates, memory = {}, {}
        for name, done in runs.items():
            if done:
                rates[name] = statistics.median(r["steps"] / r["seconds"] for r in done)
                memory[name] = statistics.median(r["extra_kib"] for r in done) / 1024
        peers = {n: r for n, r in rates.items() if n != "deeplinear"}
        ours = rates.get("deeplinear")
        best_peer = max(peers, key=peers.__getitem__) if peers else None
        best = peers[best_peer] if best_peer else None
        gflops = ours * 3 * (depth - 1) * 2 * dim**3 / 1e9 if ours else None
        cells = [
            (f"{rates[n]:,.1f}" + (" (disagrees)" if n in disagree else "")) if n in rates else "–"
            for n in names
        ]
        if ours and best and ({"deeplinear", best_peer} & disagree):
            ratio = "disagrees"  # a speed ratio of a wrong result means nothing
        else:
            ratio = f"{(ours / best) if ours and best else float('nan'):.2f}×"
        lines.append(
            f"| {dim}, {depth} | {' | '.join(cells)} | "
            f"{ratio} | "
            f"{gflops if gflops else float('nan'):.1f} | "
            f"{peak:.1f} | "
            f"{100 * gflops / peak if gflops else float('nan'):.0f} % | "
            f"{memory.get('deeplinear', float('nan')):.1f} |"
        )
        print(lines[-1], flush=True)
    scratch.cleanup()
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
                + (JAX_BLAS_NOTE if name == "jax_jit" else "")
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
    if errors:
        print(
            f"compare.py: {len(errors)} disagreement(s) or failure(s); the first: {errors[0]}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
