"""Many small networks at once: dl.train_batch against the loop of dl.train a researcher would
write and against JAX's jit(vmap(...)) of the whole training loop.

Usage:  python benchmarks/batch_compare.py [--rounds 3] [--sizes 1024x4x8x1000,...]
                                            [--only deeplinear,loop_of_train]

Each size is B networks of d × d layers, depth L, trained by gradient descent from the identity
for T steps towards B SPD targets (condition number 4, η = 0.5/(L(1 + ‖Φ‖₂²))). Every
measurement runs in its own process, pinned to one core (taskset -c 0; two cores for
"deeplinear 2 threads"), with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its
environment so that no BLAS runs handicapped, in rounds that rotate through the implementations
(a noisy spell on a shared machine falls on all of them alike). The first table gives the median
network-steps per second of the rounds and the ratios; the second the same rates as GFLOP/s
(3(L − 1) products of 2d³ flops per network-step, as compare.py counts them) and the GFLOP/s that
2× and 4× the loop of dl.train would need.

The agreement check, in every process (every round): (1) CHECK_STEPS steps of the same code
towards B non-symmetric targets I + 0.3·G_b/√d (same η formula), where the losses are far from 0
and a step with a wrong η, order or transpose shows: every network's layers must be those of an
independent batched numpy GD written from Lemma 1 (explicit prefix and suffix products) to 1e-8
of how far they moved from I, and its loss to 1e-8 relative; (2) the timed run's final loss of
every network must be the numpy run's to 1e-6 relative (1e-15 absolute; at sizes that converge
these losses are rounding, which is why (1) exists). A disagreement, or an implementation whose
process fails (one skipped because JAX is not installed is only noted), is printed on stderr
naming the implementation and the network, and the script exits with status 1 after the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

SIZES = [(1024, 4, 8, 1000), (256, 8, 32, 100), (256, 16, 16, 100)]
IMPLEMENTATIONS = ["deeplinear", "deeplinear_2_threads", "loop_of_train", "jax_vmap"]
CHECK_STEPS = 10
CHECK_RTOL = 1e-8

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

    def check_targets(count, dim, depth):
        \"\"\"B non-symmetric targets I + 0.3·G_b/√d (G_b Gaussian, seed 10⁶ + b) and the same
        step size formula, 0.5/(L(1 + max ‖Φ‖₂²)).\"\"\"
        gaussians = np.stack(
            [np.random.default_rng(10**6 + b).standard_normal((dim, dim)) for b in range(count)]
        )
        phis = np.eye(dim) + 0.3 * gaussians / np.sqrt(dim)
        return phis, 0.5 / (depth * (1 + float(np.linalg.norm(phis, 2, axis=(1, 2)).max()) ** 2))
    """
)

WORKER = (
    TARGETS
    + f"CHECK_STEPS = {CHECK_STEPS}\n"
    + textwrap.dedent(
        """
    import json, os, sys, time
    name, count, dim, depth, steps = sys.argv[1], *map(int, sys.argv[2:6])
    check_file = sys.argv[6]

    # Injected faults (DEEPLINEAR_BENCH_FAULT, tests only): NAME: the last network's target off
    # by 1e-3; NAME:lr: every network steps with 2η; NAME:fail: the process fails.
    fault, _, kind = os.environ.get("DEEPLINEAR_BENCH_FAULT", "").partition(":")
    fault = fault == name
    if fault and kind == "fail":
        raise SystemExit(f"{name}: an injected failure")
    if name.startswith("deeplinear") or name == "loop_of_train":
        import deeplinear as dl
    else:
        os.environ["XLA_FLAGS"] = (
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
        try:
            import jax, jax.numpy as jnp
        except ImportError as exc:
            print(json.dumps({"skipped": f"{type(exc).__name__}: {exc}"}))
            sys.exit(0)
        jax.config.update("jax_enable_x64", True)

    def make(phis, lr, steps):
        \"\"\"run() -> (final losses, a function that gives the layers (B, L, d, d)).\"\"\"
        if fault:
            if kind == "lr":
                lr = 2 * lr
            elif not kind:
                phis = phis.copy()
                phis[-1] *= 1.001
        if name.startswith("deeplinear") or name == "loop_of_train":
            threads = 2 if name == "deeplinear_2_threads" else 1
            if name == "loop_of_train":
                def run():
                    results = [
                        dl.train(p, depth, lr=lr, max_steps=steps, record_every=steps)
                        for p in phis
                    ]
                    layers = lambda: np.stack([r.layers for r in results])
                    return [r.final_loss for r in results], layers
            else:
                def run():
                    result = dl.train_batch(phis, depth, lr=lr, max_steps=steps,
                                            record_every=steps, threads=threads)
                    return result.final_loss.tolist(), lambda: np.asarray(result.layers)
            return run
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
            layers = jax.lax.fori_loop(0, steps, body, (layers, phi))[0]
            return loss_fn(layers, phi), jnp.stack(layers)
        many = jax.jit(jax.vmap(one))
        goal = jnp.asarray(phis)
        many(goal)[0].block_until_ready()  # compile outside the timing
        def run():
            losses, layers = many(goal)
            return np.asarray(losses).tolist(), lambda: np.asarray(layers)
        return run

    # The agreement check's run: CHECK_STEPS steps towards the non-symmetric targets.
    check_losses, check_layers = make(*check_targets(count, dim, depth), CHECK_STEPS)()
    np.save(check_file, check_layers())
    run = make(*targets(count, dim, depth), steps)
    run()  # warm
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        loss, _ = run()
        best = min(best, time.perf_counter() - started)
    print(json.dumps({"rate": count * steps / best, "losses": loss, "check_losses": check_losses}))
    """
    )
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


def lemma1_check(size: tuple[int, int, int, int]):
    """The agreement check's reference: CHECK_STEPS steps of GD towards the non-symmetric
    check_targets, batched over the B networks, written from Lemma 1 alone with every prefix
    Θ_{1:i−1} and suffix Θ_{i+1:L} formed explicitly: G_i = (Θ_{i+1:L})ᵀ(Θ_{1:L} − Φ)(Θ_{1:i−1})ᵀ.
    Returns the layers (B, L, d, d) and the B losses."""
    import numpy as np

    count, dim, depth, _ = size
    namespace: dict = {}
    exec(TARGETS, namespace)
    phis, lr = namespace["check_targets"](count, dim, depth)
    eye = np.broadcast_to(np.eye(dim), phis.shape)
    layers = [eye.copy() for _ in range(depth)]
    t = lambda a: np.swapaxes(a, -1, -2)  # noqa: E731
    for _ in range(CHECK_STEPS):
        prefixes = [eye]  # prefixes[i]: the first i layers' product
        for layer in layers:
            prefixes.append(layer @ prefixes[-1])
        suffixes = [eye]  # suffixes[k]: the last k layers' product
        for layer in reversed(layers):
            suffixes.append(suffixes[-1] @ layer)
        residual = prefixes[depth] - phis
        gradients = [t(suffixes[depth - 1 - i]) @ residual @ t(prefixes[i]) for i in range(depth)]
        layers = [layer - lr * g for layer, g in zip(layers, gradients)]
    product = eye
    for layer in layers:
        product = layer @ product
    losses = 0.5 * np.sum((product - phis) ** 2, axis=(1, 2))
    return np.stack(layers, axis=1), losses


def check_agreement(losses: dict[str, list[float]], reference: list[float]) -> list[str]:
    """What disagrees: the implementations and networks whose final loss is not the numpy run's
    to 1e-6 relative (1e-15 absolute)."""
    found = []
    for name, got in losses.items():
        if len(got) != len(reference):
            found.append(f"{name} returned {len(got)} losses for {len(reference)} networks")
            continue
        for index, (loss, expected) in enumerate(zip(got, reference)):
            if not abs(loss - expected) <= 1e-6 * abs(expected) + 1e-15:
                found.append(
                    f"{name} disagrees with numpy on network {index}: final loss {loss} "
                    f"vs {expected}"
                )
                break
    return found


def check_layers(name: str, layers, check_losses: list[float], reference) -> list[str]:
    """What disagrees in one process's check run towards the non-symmetric targets (the first
    network that does), against lemma1_check's layers and losses."""
    import numpy as np

    expected, expected_losses = reference
    if layers is None or layers.shape != expected.shape:
        shape = None if layers is None else layers.shape
        return [f"{name} gave check layers of shape {shape}, not {expected.shape}"]
    eye = np.eye(expected.shape[-1])
    moved = np.abs(expected - eye).max(axis=(1, 2, 3))
    errors = np.abs(layers - expected).max(axis=(1, 2, 3))
    losses = np.asarray(check_losses, dtype=float)
    close = np.isclose(losses, expected_losses, rtol=CHECK_RTOL, atol=0.0)
    for index in range(len(expected)):
        if not errors[index] <= CHECK_RTOL * moved[index] or not close[index]:
            return [
                f"{name} disagrees with numpy on network {index}: after {CHECK_STEPS} steps "
                f"towards the non-symmetric target, layers off by {errors[index]:.3e} (moved "
                f"{moved[index]:.3e}), loss {losses[index]:.10e} vs {expected_losses[index]:.10e}"
            ]
    return []


def environment() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    return env


def measure(name: str, size: tuple[int, int, int, int], check_file: Path) -> tuple[dict, object]:
    """One process's report and its check run's layers; {"skipped": why} when JAX is not
    installed, {"failed": why} when the process failed."""
    import numpy as np

    cores = "0,1" if name == "deeplinear_2_threads" else "0"
    command = [sys.executable, "-c", WORKER, name, *map(str, size), str(check_file)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", cores, *command]
    completed = subprocess.run(
        command, capture_output=True, text=True, env=environment(), check=False
    )
    if completed.returncode != 0:
        last = completed.stderr.strip().splitlines()[-1:] or [f"exit status {completed.returncode}"]
        return {"failed": last[0]}, None
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    layers = np.load(check_file) if check_file.exists() else None
    check_file.unlink(missing_ok=True)
    return report, layers


def ratio(median: dict[str, float], bad: dict[str, str], numerator: str, denominator: str) -> str:
    """A ratio of two medians, or "disagrees" ("failed") when either implementation disagreed
    (its process failed): a speed ratio of a wrong result means nothing."""
    for name in (numerator, denominator):
        if name in bad:
            return bad[name]
    return f"{median.get(numerator, math.nan) / median.get(denominator, math.nan):.2f}×"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", help="comma-separated BxDxLxT, e.g. 1024x4x8x1000")
    parser.add_argument("--only", help="comma-separated implementations to run (default: all)")
    args = parser.parse_args(argv)
    sizes = (
        [tuple(int(x) for x in item.split("x")) for item in args.sizes.split(",")]
        if args.sizes
        else SIZES
    )
    names = IMPLEMENTATIONS if not args.only else args.only.split(",")
    unknown = set(names) - set(IMPLEMENTATIONS)
    if unknown:
        parser.error(f"unknown implementations {sorted(unknown)}: choose from {IMPLEMENTATIONS}")
    print(
        "| B, d, L, steps | "
        + " | ".join(names)
        + " | batch / loop | batch / JAX | 2 threads / 1 |"
    )
    print("|" + " --- |" * (len(names) + 4))
    errors: list[str] = []
    notes: list[str] = []
    gflops_rows = []
    scratch = tempfile.TemporaryDirectory(prefix="batch-compare-")
    check_file = Path(scratch.name) / "layers.npy"
    for size in sizes:
        _, dim, depth, _ = size
        rates: dict[str, list[float]] = {name: [] for name in names}
        reference = lemma1_check(size)
        final_reference = numpy_losses(size)
        skipped: set[str] = set()
        bad: dict[str, str] = {}  # implementation: "disagrees" or "failed"
        for round_ in range(args.rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                if name in skipped:
                    continue
                result, layers = measure(name, size, check_file)
                if "skipped" in result or "failed" in result:
                    skipped.add(name)
                    if "failed" in result:
                        errors.append(f"{name} failed at {size}: {result['failed']}")
                        bad[name] = "failed"
                    else:
                        notes.append(f"{name} skipped: {result['skipped']}")
                    continue
                rates[name].append(result["rate"])
                # every process is checked, not only one per implementation
                found = check_layers(name, layers, result["check_losses"], reference)
                found += check_agreement({name: result["losses"]}, final_reference)
                if found:
                    bad[name] = "disagrees"
                    errors.extend(f"{problem} (size {size}, round {round_})" for problem in found)
        median = {name: statistics.median(v) if v else float("nan") for name, v in rates.items()}
        cells = [
            (f"{median[name] / 1e6:.3f}M" if rates[name] else "–")
            + (f" ({bad[name]})" if name in bad else "")
            for name in names
        ]

        ratios = [
            ratio(median, bad, "deeplinear", "loop_of_train"),
            ratio(median, bad, "deeplinear", "jax_vmap"),
            ratio(median, bad, "deeplinear_2_threads", "deeplinear"),
        ]
        print(f"| {', '.join(map(str, size))} | " + " | ".join(cells + ratios) + " |", flush=True)
        flops = 3 * (depth - 1) * 2 * dim**3  # per network-step, as compare.py counts them
        loop = median.get("loop_of_train", float("nan"))
        gflops_rows.append(
            f"| {', '.join(map(str, size))} | "
            + " | ".join(f"{median[name] * flops / 1e9:.1f}" for name in names)
            + f" | {2 * loop * flops / 1e9:.1f} | {4 * loop * flops / 1e9:.1f} |"
        )
    scratch.cleanup()
    print(
        "\nGFLOP/s (3(L − 1) products of 2d³ flops per network-step; the last two columns: "
        "the rate that 2× and 4× the loop of dl.train would need)\n"
    )
    print("| B, d, L, steps | " + " | ".join(names) + " | 2× the loop | 4× the loop |")
    print("|" + " --- |" * (len(names) + 3))
    print("\n".join(gflops_rows))
    python = f"{Path(sys.executable).name} {sys.version.split()[0]}"
    print(f"\n(network-steps/s, medians of {args.rounds} rounds; {python})")
    try:
        from compare import fma_limit

        print(fma_limit(1)[1])
    except ImportError:  # compare.py imports deeplinear
        pass
    for note in sorted(set(notes)):
        print(note)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        print(f"batch_compare.py: {len(errors)} disagreement(s) or failure(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
