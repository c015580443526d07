"""The memory that training needs beyond its layers and target: the engine's workspace, measured.

Usage:  python benchmarks/memory.py [--sizes 256x4,512x4] [--threads 1] [--dtype float64]
                                    [--method gd]

Each (d, L) runs in a process of its own with glibc's mmap threshold fixed at 64 KiB, so that
every d × d buffer of 64 KiB or more is a mapping of its own, given back when it is freed, and the
process's peak resident set (VmHWM, reset through /proc/self/clear_refs: Linux only) sees every
page that a run touches. A first Trainer of the same shape runs before the measurement, so that
the kernels' code and the thread pool are resident already; then the peak growth of making a
Trainer and taking 6 steps is its layers (L·d²), its copy of Φ (d²) and the engine's workspace,
which the table gives in d × d matrices, beside the bound 2·L. Below 64 KiB per matrix (d < 91 in
float64) the allocator reuses freed heap memory and the figure means nothing.
tests/test_memory.py holds gd's workspace to the bound with this probe.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import deeplinear as dl

    dim, depth, threads, dtype, method, waste = json.loads(sys.argv[1])
    # The projections' radius and margin are such that every step projects (after the first
    # step ‖Θ_i − I‖₂ > ψ; the identity's margin 1 < γ), so the decompositions' buffers are in use.
    options = {"gd": {}, "penalty": {"kappa": 0.01}, "step_and_project": {"psi": 1e-3},
               "power_projection": {"gamma": 1.5}}[method]
    rng = np.random.default_rng(0)
    a = rng.standard_normal((dim, dim))
    phi = (a @ a.T / dim + np.eye(dim)).astype(dtype)
    init = np.stack([np.eye(dim, dtype=dtype)] * depth)


    def run():
        trainer = dl.Trainer(phi, depth, method, lr=0.01 / depth, init=init, threads=threads,
                             **options)
        trainer.step(3)
        extra = np.ones(int(waste * dim * dim), dtype=dtype) if waste else None  # an excess
        trainer.step(3)
        return trainer, extra


    def kib(field):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


    run()  # code and thread pool resident; its buffers given back
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = kib("VmRSS")
    kept = run()
    growth = (kib("VmHWM") - before) * 1024
    layers = kept[0].layers.astype(np.float64)
    if method == "step_and_project":  # the last step clipped: some layer's ‖Θ_i − I‖₂ is ψ
        radius = max(np.linalg.norm(layer - np.eye(dim), 2) for layer in layers)
        projected = abs(radius - options["psi"]) <= 1e-3 * options["psi"]
    elif method == "power_projection":  # the product was clipped to the margin γ
        product = np.linalg.multi_dot(layers[::-1]) if depth > 1 else layers[0]
        margin = np.linalg.eigvalsh((product + product.T) / 2)[0]
        projected = abs(margin - options["gamma"]) <= 1e-3
    else:
        projected = True
    report = {"growth_bytes": growth, "steps": kept[0].steps, "projected": bool(projected)}
    print(json.dumps(report))
    """
)

# What a measurement may exceed the bound by: page rounding and the loop's small vectors.
SLACK_BYTES = 96 * 1024


def available() -> bool:
    """Whether this system can measure (Linux, with /proc/self/clear_refs)."""
    return sys.platform.startswith("linux") and os.path.exists("/proc/self/clear_refs")


def workspace_bytes(
    dim: int,
    depth: int,
    threads: int = 1,
    dtype: str = "float64",
    method: str = "gd",
    waste: float = 0.0,
) -> tuple[int, int]:
    """(the peak growth beyond the trainer's layers and Φ, the bound 2·L·d² elements) in bytes.

    `waste` (in d × d matrices) holds that much more memory during the steps: a deliberate
    excess, to show that the probe sees it."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    arguments = json.dumps([dim, depth, threads, dtype, method, waste])
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the memory probe failed:\n{completed.stderr}")
    report = json.loads(completed.stdout)
    if report["steps"] != 6:
        raise RuntimeError(f"the memory probe took {report['steps']} steps, not 6")
    if not report["projected"]:
        raise RuntimeError(f"the memory probe's {method} run did not project in its last step")
    item = 8 if dtype == "float64" else 4
    own = (depth + 1) * dim * dim * item  # the trainer's layers and its copy of Φ
    return report["growth_bytes"] - own, 2 * depth * dim * dim * item


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="128x32,256x8,384x2,512x4", help="DxL,DxL,...")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument(
        "--method",
        default="gd",
        choices=["gd", "penalty", "step_and_project", "power_projection"],
    )
    args = parser.parse_args()
    if not available():
        sys.exit("needs Linux's /proc/self/clear_refs")
    print(f"{args.method}, {args.dtype}, threads={args.threads}")
    print("| d, L | workspace (d × d matrices) | bound 2·L | workspace MiB | bound MiB |")
    print("| --- | --- | --- | --- | --- |")
    for size in args.sizes.split(","):
        dim, depth = (int(x) for x in size.lower().split("x"))
        workspace, bound = workspace_bytes(dim, depth, args.threads, args.dtype, args.method)
        matrix = bound / (2 * depth)
        print(
            f"| {dim}, {depth} | {workspace / matrix:.2f} | {2 * depth} | "
            f"{workspace / 2**20:.1f} | {bound / 2**20:.1f} |"
        )


if __name__ == "__main__":
    main()
