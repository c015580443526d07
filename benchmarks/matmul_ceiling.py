"""How fast numpy's own d×d matmul runs when its operands are as cold as in a GD step.

Usage:  python benchmarks/matmul_ceiling.py [--sizes 128x32,256x8] [--rounds 7] [--threads 1]

A GD step on L layers of d×d touches about 3·L·d² floats (layers, prefix products, the next
layers): 12 MiB at d = 128, L = 32, far more than a core's L2 cache. For each (d, L) this
measures the same BLAS product (numpy's matmul into a preallocated output) two ways: "hot",
the same operands over and over, and "cycling", every product on the next operands of a ring
of 3·L distinct d×d matrices, so that each operand was last touched 3·L·d² floats earlier.
Both are given as GFLOP/s and as a fraction of "peak" (512×512, hot), as in compare.py; the
rounds alternate the measurements and the table gives medians. The cycling rate is a ceiling
for any GD implementation built on this BLAS's products at that size. The same rounds time a
whole `dl.train` step from the identity (GFLOP/s counting its 3(L − 1) products of 2d³ flops, as
compare.py does) and give its ratio to the cycling rate (the median of the rounds' ratios): a
step that made only its products, at this BLAS's cycling rate, would have the ratio 1.

As in compare.py, the process runs without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (which would pin
OpenBLAS to an older kernel than it picks for this CPU) and prints the kernel that ran.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

SIZES = [(64, 16), (128, 32), (256, 8), (512, 4)]


def rate(ring: list, products: int) -> float:
    """GFLOP/s of `products` matmuls cycling through `ring` (a, b, out consecutive)."""
    count, dim = len(ring), ring[0].shape[0]
    started = time.perf_counter()
    for k in range(products):
        a, b, out = ring[(3 * k) % count], ring[(3 * k + 1) % count], ring[(3 * k + 2) % count]
        np.matmul(a, b, out=out)
    return products * 2 * dim**3 / (time.perf_counter() - started) / 1e9


def step_rate(trainer, steps: int) -> float:
    """GFLOP/s of `steps` more steps of a dl.Trainer (made and stepped once before: its
    workspace exists, so that only steps are timed)."""
    dim, depth = trainer.layers.shape[1], trainer.layers.shape[0]
    started = time.perf_counter()
    trainer.step(steps)
    return steps * 3 * (depth - 1) * 2 * dim**3 / (time.perf_counter() - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="comma-separated dxL (default: 64x16,128x32,256x8,512x4)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=0.2, help="duration of one measurement")
    args = parser.parse_args()
    sizes = (
        SIZES if not args.sizes else [tuple(map(int, s.split("x"))) for s in args.sizes.split(",")]
    )
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.threads]))
    rng = np.random.default_rng(0)
    peak_ring = [rng.random((512, 512)) for _ in range(3)]
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    kernels = sorted(
        {i.get("architecture", f"{i.get('internal_api')} (architecture unknown)") for i in blas}
    )
    blas_threads = sorted({i.get("num_threads") for i in blas})
    print(
        f"numpy matmul GFLOP/s, float64, threads={args.threads}, median of {args.rounds} "
        f"alternating rounds; peak = 512×512 hot; OpenBLAS kernel {', '.join(kernels)}; "
        f"BLAS threads {', '.join(map(str, blas_threads))}\n"
    )
    if blas_threads != [args.threads]:
        print(f"warning: the BLAS runs {blas_threads} threads, not --threads {args.threads}\n")
    print(
        "| d, L | hot | cycling 3·L operands | peak | hot % of peak | cycling % of peak "
        "| deeplinear step | deeplinear / cycling |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for dim, depth in sizes:
        hot = [rng.random((dim, dim)) for _ in range(3)]
        ring = [rng.random((dim, dim)) for _ in range(3 * depth)]
        # products per measurement: about `seconds` at 30 GFLOP/s, a whole number of ring cycles
        products = max(depth, int(args.seconds * 30e9 / (2 * dim**3)) // depth * depth)
        peak_products = max(1, int(args.seconds * 30e9 / (2 * 512**3)))
        steps = max(1, products // (3 * (depth - 1))) if depth > 1 else 0
        rate(hot, 3), rate(ring, depth), rate(peak_ring, 1)  # warm up the BLAS
        phi = np.diag(np.logspace(-0.5, 0.5, dim, base=4.0))
        trainer = dl.Trainer(phi, depth, lr=0.1 / depth, record_every=10**9, threads=args.threads)
        trainer.step(1)
        rows = []
        for _ in range(args.rounds):
            step = step_rate(trainer, steps) if steps else float("nan")
            rows.append(
                (rate(peak_ring, peak_products), rate(hot, products), rate(ring, products), step)
            )
        peak, hot_rate, cycling, step = (statistics.median(column) for column in zip(*rows))
        ratio = statistics.median(row[3] / row[2] for row in rows)  # within each round
        print(
            f"| {dim}, {depth} | {hot_rate:.1f} | {cycling:.1f} | {peak:.1f} | "
            f"{100 * hot_rate / peak:.0f} % | {100 * cycling / peak:.0f} % | {step:.1f} | "
            f"{ratio:.2f} |",
            flush=True,
        )


def threads_argument(argv: list[str]) -> int:
    """--threads as main()'s parser will read it (``--threads 2``, ``--threads=2``), before
    numpy loads: the BLAS reads its thread count from the environment when it loads."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_known_args(argv)[0].threads


if __name__ == "__main__":
    threads = str(threads_argument(sys.argv[1:]))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = threads
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # no handicap (see above)
        os.environ.pop(name, None)
    import numpy as np  # after the thread settings, which the BLAS reads when it loads

    import deeplinear as dl

    main()
