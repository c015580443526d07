"""Many small networks at once: dl.train_batch against the loop of dl.train a researcher would
write and against JAX's jit(vmap(...)) of the whole training loop.

Usage:  python benchmarks/batch_compare.py [--rounds 3] [--sizes 1024x4x8x1000,...]

Each size is B networks of d × d layers, depth L, trained by gradient descent from the identity
for T steps towards B SPD targets (condition number 4, η = 0.5/(L(1 + ‖Φ‖₂²))). Every
measurement runs in its own process, pinned to one core (taskset -c 0; two cores for
"deeplinear 2 threads"), with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its
environment so that no BLAS runs handicapped, in rounds that rotate through the implementations
(a noisy spell on a shared machine falls on all of them alike). The table gives the median
network-steps per second of the rounds and the ratios. Every implementation's final loss of
every network must agree with an independent numpy run of the same B trainings (batched
products, float64) to 1e-6 relative; the script stops with an error naming the implementation
and the network otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

SIZES = [(1024, 4, 8, 1000), (256, 8, 32, 100), (256, 16, 16, 100)]
IMPLEMENTATIONS = ["deeplinear", "deeplinear_2_threads", "loop_of_train", "jax_vmap"]

TARGETS = textwrap.dedent(
    """
    import numpy as np

    def targets(count, dim, depth):
        \"\"\"B SPD targets (condition number 4) and the step size 0.5/(L(1 + max ‖Φ‖₂²)).\"\"\"
        out = []
        for seed in range(count):
            q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
            out.append((q * np.logspace(-0.5, 0.5, dim, base=4.0)) @ q.T)
        phis = np.stack(out)
        return phis, 0.5 / (depth * (1 + float(np.abs(np.linalg.eigvalsh(phis)).max()) ** 2))
    """
)

WORKER = TARGETS + textwrap.dedent(
    """
    import json, os, sys, time
    name, count, dim, depth, steps = sys.argv[1], *map(int, sys.argv[2:6])

    phis, lr = targets(count, dim, depth)
    if os.environ.get("DEEPLINEAR_BENCH_FAULT") == name:
        phis = phis.copy()
        phis[-1] *= 1.001  # an injected fault in the last network: the check must flag it
    if name.startswith("deeplinear") or name == "loop_of_train":
        import deeplinear as dl
        threads = 2 if name == "deeplinear_2_threads" else 1
        if name == "loop_of_train":
            def run():
                results = [
                    dl.train(p, depth, lr=lr, max_steps=steps, record_every=steps) for p in phis
                ]
                return [r.final_loss for r in results]
        else:
            def run():
                result = dl.train_batch(phis, depth, lr=lr, max_steps=steps, record_every=steps,
                                        threads=threads)
                return result.final_loss.tolist()
    else:
        os.environ["XLA_FLAGS"] = (
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
        import jax, jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        def loss_fn(layers, phi):
            product = layers[0]
            for layer in layers[1:]:
                product = layer @ product
            return 0.5 * jnp.sum((product - phi) ** 2)
        grad = jax.grad(loss_fn)
        def body(_, state):
            layers, phi = state
            return tuple(l - lr * g for l, g in zip(layers, grad(layers, phi))), phi
        def one(phi):
            layers = tuple(jnp.eye(dim) for _ in range(depth))
            return loss_fn(jax.lax.fori_loop(0, steps, body, (layers, phi))[0], phi)
        many = jax.jit(jax.vmap(one))
        goal = jnp.asarray(phis)
        many(goal).block_until_ready()  # compile outside the timing
        def run():
            return np.asarray(many(goal)).tolist()
    run()  # warm
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        loss = run()
        best = min(best, time.perf_counter() - started)
    print(json.dumps({"rate": count * steps / best, "losses": loss}))
    """
)


def numpy_losses(size: tuple[int, int, int, int]) -> list[float]:
    """The final loss of every network by GD in numpy (batched products over the B networks),
    independent of deeplinear: Θ_{1:i} forward, B ← Θ_iᵀB backward, G_i = B_i Θ_{1:i−1}ᵀ."""
    import numpy as np

    count, dim, depth, steps = size
    namespace: dict = {}
    exec(TARGETS, namespace)
    phis, lr = namespace["targets"](count, dim, depth)
    layers = [np.broadcast_to(np.eye(dim), phis.shape).copy() for _ in range(depth)]
    eye = np.broadcast_to(np.eye(dim), phis.shape)
    for _ in range(steps):
        prefixes = [eye]
        for layer in layers:
            prefixes.append(layer @ prefixes[-1])
        backward = prefixes[-1] - phis
        for i in range(depth - 1, -1, -1):
            gradient = backward @ np.swapaxes(prefixes[i], -1, -2)
            backward = np.swapaxes(layers[i], -1, -2) @ backward
            layers[i] = layers[i] - lr * gradient
    product = eye
    for layer in layers:
        product = layer @ product
    return (0.5 * np.sum((product - phis) ** 2, axis=(1, 2))).tolist()


def check_agreement(losses: dict[str, list[float]], reference: list[float]) -> None:
    """SystemExit naming the first implementation and network whose final loss is not the
    numpy run's to 1e-6 relative."""
    for name, found in losses.items():
        if len(found) != len(reference):
            raise SystemExit(f"{name} returned {len(found)} losses for {len(reference)} networks")
        for index, (loss, expected) in enumerate(zip(found, reference)):
            if not abs(loss - expected) <= 1e-6 * abs(expected) + 1e-15:
                raise SystemExit(
                    f"{name} disagrees with numpy on network {index}: final loss {loss} "
                    f"vs {expected}"
                )


def environment() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    return env


def measure(name: str, size: tuple[int, int, int, int]) -> dict:
    cores = "0,1" if name == "deeplinear_2_threads" else "0"
    command = [sys.executable, "-c", WORKER, name, *map(str, size)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", cores, *command]
    completed = subprocess.run(
        command, capture_output=True, text=True, env=environment(), check=False
    )
    if completed.returncode != 0:
        last = completed.stderr.strip().splitlines()[-1:] or ["failed"]
        return {"skipped": last[0]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", help="comma-separated BxDxLxT, e.g. 1024x4x8x1000")
    args = parser.parse_args(argv)
    sizes = (
        [tuple(int(x) for x in item.split("x")) for item in args.sizes.split(",")]
        if args.sizes
        else SIZES
    )
    print(
        "| B, d, L, steps | "
        + " | ".join(IMPLEMENTATIONS)
        + " | batch / loop | batch / JAX | 2 threads / 1 |"
    )
    print("|" + " --- |" * (len(IMPLEMENTATIONS) + 4))
    for size in sizes:
        rates: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
        losses: dict[str, float] = {}
        for round_ in range(args.rounds):
            order = (
                IMPLEMENTATIONS[round_ % len(IMPLEMENTATIONS) :]
                + IMPLEMENTATIONS[: round_ % len(IMPLEMENTATIONS)]
            )
            for name in order:
                result = measure(name, size)
                if "rate" in result:
                    rates[name].append(result["rate"])
                    losses[name] = result["losses"]
        median = {name: statistics.median(v) if v else float("nan") for name, v in rates.items()}
        check_agreement(losses, numpy_losses(size))
        cells = [f"{median[name] / 1e6:.3f}M" for name in IMPLEMENTATIONS]
        ratios = [
            median["deeplinear"] / median["loop_of_train"],
            median["deeplinear"] / median["jax_vmap"],
            median["deeplinear_2_threads"] / median["deeplinear"],
        ]
        print(
            f"| {', '.join(map(str, size))} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(f"{r:.2f}×" for r in ratios)
            + " |"
        )
    python = f"{Path(sys.executable).name} {sys.version.split()[0]}"
    print(f"\n(network-steps/s, medians of {args.rounds} rounds; {python})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
