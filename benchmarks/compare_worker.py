"""One measurement of benchmarks/compare.py, in its own process; prints one JSON line.

Usage: python compare_worker.py IMPLEMENTATION D L SECONDS THREADS
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable

import numpy as np

CHECK_STEPS = 10


def target(dim: int, depth: int) -> tuple[np.ndarray, float]:
    """The SPD target (condition number 4) and step size 0.5/(L(1 + ‖Φ‖₂²)) of every peer."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    phi = (q * np.logspace(-0.5, 0.5, dim, base=4.0)) @ q.T
    return phi, 0.5 / (depth * (1 + np.linalg.norm(phi, 2) ** 2))


def numpy_gd_step(layers: list[np.ndarray], phi: np.ndarray, lr: float) -> None:
    """One GD step in place, as a numpy user writes it: prefix products, one backward sweep."""
    prefix = [np.eye(phi.shape[0])]
    for layer in layers[:-1]:
        prefix.append(layer @ prefix[-1])
    back = layers[-1] @ prefix[-1] - phi
    for i in range(len(layers) - 1, -1, -1):
        grad = back @ prefix[i].T
        back = layers[i].T @ back
        layers[i] -= lr * grad


def numpy_gd(phi: np.ndarray, depth: int, lr: float, steps: int) -> list[np.ndarray]:
    """GD from the identity as a numpy user writes it (numpy_gd_step, `steps` times)."""
    layers = [np.eye(phi.shape[0]) for _ in range(depth)]
    for _ in range(steps):
        numpy_gd_step(layers, phi, lr)
    return layers


def numpy_closed_form(phi: np.ndarray, depth: int, lr: float) -> Callable[[int], float]:
    def run(steps: int) -> float:
        product = np.eye(phi.shape[0])
        for layer in numpy_gd(phi, depth, lr, steps):
            product = layer @ product
        return 0.5 * float(np.sum((product - phi) ** 2))

    return run


def deeplinear_train(
    phi: np.ndarray, depth: int, lr: float, threads: int
) -> Callable[[int], float]:
    import deeplinear as dl

    def run(steps: int) -> float:
        every = max(steps, 1)
        result = dl.train(phi, depth, lr=lr, max_steps=steps, record_every=every, threads=threads)
        return result.final_loss

    return run


def torch_autograd(phi: np.ndarray, depth: int, lr: float, threads: int) -> Callable[[int], float]:
    import torch

    torch.set_num_threads(threads)
    dim, goal = phi.shape[0], torch.from_numpy(phi)

    def run(steps: int) -> float:
        params = [torch.eye(dim, dtype=torch.float64, requires_grad=True) for _ in range(depth)]
        for _ in range(steps):
            product = params[0]
            for p in params[1:]:
                product = p @ product
            loss = 0.5 * ((product - goal) ** 2).sum()
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
        with torch.no_grad():
            product = params[0]
            for p in params[1:]:
                product = p @ product
            return 0.5 * float(((product - goal) ** 2).sum())

    return run


def torch_closed_form(
    phi: np.ndarray, depth: int, lr: float, threads: int
) -> Callable[[int], float]:
    import torch

    torch.set_num_threads(threads)
    dim, goal = phi.shape[0], torch.from_numpy(phi)
    eye = torch.eye(dim, dtype=torch.float64)

    def run(steps: int) -> float:
        layers = [eye.clone() for _ in range(depth)]
        for _ in range(steps):
            prefix = [eye]
            for layer in layers[:-1]:
                prefix.append(layer @ prefix[-1])
            back = layers[-1] @ prefix[-1] - goal
            for i in range(depth - 1, -1, -1):
                grad = back @ prefix[i].T
                back = layers[i].T @ back
                layers[i] -= lr * grad
        product = eye
        for layer in layers:
            product = layer @ product
        return 0.5 * float(((product - goal) ** 2).sum())

    return run


def jax_jit(phi: np.ndarray, depth: int, lr: float, threads: int) -> Callable[[int], float]:
    """The fastest JAX form: a tuple of L arrays, jax.grad, the loop in one jitted fori_loop."""
    multi = "true" if threads > 1 else "false"
    os.environ.setdefault(
        "XLA_FLAGS", f"--xla_cpu_multi_thread_eigen={multi} intra_op_parallelism_threads={threads}"
    )
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    dim, goal = phi.shape[0], jnp.asarray(phi)

    def loss_fn(layers):
        product = layers[0]
        for layer in layers[1:]:
            product = layer @ product
        return 0.5 * jnp.sum((product - goal) ** 2)

    grad_fn = jax.grad(loss_fn)

    def body(_, layers):
        grads = grad_fn(layers)
        return tuple(layer - lr * g for layer, g in zip(layers, grads))

    many = jax.jit(lambda layers, steps: jax.lax.fori_loop(0, steps, body, layers))

    def run(steps: int) -> float:
        layers = many(tuple(jnp.eye(dim) for _ in range(depth)), steps)
        return float(loss_fn(layers))

    run(1)  # compile outside the timing
    return run


def main() -> None:
    name, dim, depth = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seconds, threads = float(sys.argv[4]), int(sys.argv[5])
    # Pin the process to `threads` cores: some runtimes (XLA) ignore thread-count settings.
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, set(cores[:threads]))
    phi, lr = target(dim, depth)
    if os.environ.get("DEEPLINEAR_BENCH_FAULT") == name:
        lr *= 1.001  # an injected fault: the agreement check must flag it (tests only)
    makers = {
        "deeplinear": lambda: deeplinear_train(phi, depth, lr, threads),
        "numpy": lambda: numpy_closed_form(phi, depth, lr),
        "torch_autograd": lambda: torch_autograd(phi, depth, lr, threads),
        "torch_closed": lambda: torch_closed_form(phi, depth, lr, threads),
        "jax_jit": lambda: jax_jit(phi, depth, lr, threads),
    }
    try:
        run = makers[name]()
    except ImportError as exc:
        print(json.dumps({"skipped": f"{type(exc).__name__}: {exc}"}))
        return
    # The agreement check's run: after CHECK_STEPS steps ℓ is still far from 0 at every size, so
    # a wrong step shows (the timed runs' final losses are at rounding level once they converge).
    check_loss = run(CHECK_STEPS)
    baseline = memory_baseline_kib()
    steps = 1
    while True:  # grow the step count until one timed call takes about `seconds`
        started = time.perf_counter()
        loss = run(steps)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds or steps >= 10**8:
            break
        steps = max(steps * 2, int(steps * seconds / max(elapsed, 1e-9) * 1.1))
    report = {"steps": steps, "seconds": elapsed, "loss": loss, "check_loss": check_loss}
    report["extra_kib"] = memory_peak_kib() - baseline
    report["blas"] = blas_kernels()
    if name == "deeplinear":
        from deeplinear import _core

        report["kernel"] = _core.kernel_for(dim, threads=threads)
    print(json.dumps(report))


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))
    except (OSError, StopIteration):
        return None


def memory_baseline_kib() -> int:
    """The resident set now, with the peak reset to it where Linux allows (/proc/self/clear_refs);
    elsewhere the peak so far (ru_maxrss), which hides growth below an earlier peak."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        resident = _status_kib("VmRSS")
        if resident is not None:
            return resident
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_peak_kib() -> int:
    """The peak resident set since memory_baseline_kib()."""
    peak = _status_kib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def blas_kernels() -> list[str]:
    """Every BLAS loaded in this process with the kernel it runs (threadpoolctl's architecture)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    found = {
        " ".join(filter(None, (info["prefix"], info.get("version"), info["architecture"])))
        for info in threadpool_info()
        if info.get("user_api") == "blas" and "architecture" in info
    }
    torch = sys.modules.get("torch")  # its MKL is linked in, invisible to threadpoolctl
    if torch is not None and torch.backends.mkl.is_available():
        found.add(f"MKL (in torch {torch.__version__})")
    return sorted(found)


if __name__ == "__main__":
    main()
