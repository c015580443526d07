"""One measurement of benchmarks/compare.py, in its own process; prints one JSON line.

Usage: python compare_worker.py IMPLEMENTATION D L SECONDS THREADS [CHECK_FILE]

With CHECK_FILE the worker also runs CHECK_STEPS steps towards the non-symmetric target of
asym_target() (a second runner: the runners take Φ through closures) and saves the L layers it
ends with there (np.save, shape (L, d, d), layers[0] = Θ_1), for compare.py to check against its
own Lemma 1 reference.

DEEPLINEAR_BENCH_FAULT (tests only: every verdict must be able to fail) injects a fault (see
injected_fault): IMPLEMENTATION steps with η·1.001; "numpy:transpose", "numpy:reverse" or
"numpy:shift" give the numpy peer's step a wrong gradient (FAULTY_STEPS), which the SPD target
cannot show; a suffix "@ROUND" limits the fault to the process of one of compare.py's rounds.
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


def asym_target(dim: int, depth: int) -> tuple[np.ndarray, float]:
    """The agreement check's non-symmetric target I + 0.3·G/√d (G Gaussian, seed 1) and the same
    step size formula 0.5/(L(1 + ‖Φ‖₂²)). From the identity towards an SPD target every layer stays
    equal, symmetric and commuting with Φ, so a step that reverses the product's order, drops
    Lemma 1's transposes or gives layer i layer i+1's gradient agrees there to rounding; towards
    this Φ none of them does."""
    rng = np.random.default_rng(1)
    phi = np.eye(dim) + 0.3 * rng.standard_normal((dim, dim)) / np.sqrt(dim)
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


# Injected faults of the numpy peer's step (DEEPLINEAR_BENCH_FAULT=numpy:KIND, tests only). On
# the SPD target from the identity each agrees with the right step to rounding.
def _step_without_transposes(layers: list[np.ndarray], phi: np.ndarray, lr: float) -> None:
    """Lemma 1's transposes dropped: G_i = B_i Θ_{1:i−1}, B ← Θ_i B."""
    prefix = [np.eye(phi.shape[0])]
    for layer in layers[:-1]:
        prefix.append(layer @ prefix[-1])
    back = layers[-1] @ prefix[-1] - phi
    for i in range(len(layers) - 1, -1, -1):
        grad = back @ prefix[i]
        back = layers[i] @ back
        layers[i] -= lr * grad


def _step_reversed(layers: list[np.ndarray], phi: np.ndarray, lr: float) -> None:
    """The product taken as Θ_1 ⋯ Θ_L, with its own gradients: the layers are those of the
    right run in reverse order (a runner that also formed its loss in that order would report
    the right losses: only the layers would show it)."""
    numpy_gd_step(layers[::-1], phi, lr)


def _step_shifted(layers: list[np.ndarray], phi: np.ndarray, lr: float) -> None:
    """Layer i stepped along layer i+1's gradient (layer L along layer 1's)."""
    stepped = [layer.copy() for layer in layers]
    numpy_gd_step(stepped, phi, lr)
    grads = [(layer - new) / lr for layer, new in zip(layers, stepped)]
    for i in range(len(layers)):
        layers[i] -= lr * grads[(i + 1) % len(layers)]


FAULTY_STEPS = {
    "transpose": _step_without_transposes,
    "reverse": _step_reversed,
    "shift": _step_shifted,
}

Step = Callable[[list[np.ndarray], np.ndarray, float], None]

# A runner: run(steps, keep) trains `steps` steps from the identity and returns the final loss;
# with a list `keep`, it also appends the final layers (float64 numpy, Θ_1 first) to it.
Runner = Callable[..., float]


def injected_fault(name: str) -> tuple[float, Step]:
    """The factor of η and the numpy peer's step under DEEPLINEAR_BENCH_FAULT (tests only):
    NAME[:KIND][@ROUND]. NAME alone: that implementation steps with η·1.001; numpy:KIND: the
    numpy peer steps with FAULTY_STEPS[KIND]; @ROUND: only in the process of that round
    (compare.py's round index, DEEPLINEAR_BENCH_ROUND), so that a fault in one repeat shows."""
    spec, _, round_ = os.environ.get("DEEPLINEAR_BENCH_FAULT", "").partition("@")
    if round_ and round_ != os.environ.get("DEEPLINEAR_BENCH_ROUND"):
        return 1.0, numpy_gd_step
    faulty, _, kind = spec.partition(":")
    if faulty != name:
        return 1.0, numpy_gd_step
    if not kind:
        return 1.001, numpy_gd_step
    if name != "numpy" or kind not in FAULTY_STEPS:
        raise SystemExit(f"DEEPLINEAR_BENCH_FAULT={spec}: no such fault")
    return 1.0, FAULTY_STEPS[kind]


def numpy_gd(
    phi: np.ndarray, depth: int, lr: float, steps: int, step: Step = numpy_gd_step
) -> list[np.ndarray]:
    """GD from the identity as a numpy user writes it (numpy_gd_step, `steps` times)."""
    layers = [np.eye(phi.shape[0]) for _ in range(depth)]
    for _ in range(steps):
        step(layers, phi, lr)
    return layers


def numpy_closed_form(phi: np.ndarray, depth: int, lr: float, step: Step = numpy_gd_step) -> Runner:
    def run(steps: int, keep: list | None = None) -> float:
        product = np.eye(phi.shape[0])
        layers = numpy_gd(phi, depth, lr, steps, step)
        for layer in layers:
            product = layer @ product
        if keep is not None:
            keep.extend(layers)
        return 0.5 * float(np.sum((product - phi) ** 2))

    return run


def deeplinear_train(phi: np.ndarray, depth: int, lr: float, threads: int) -> Runner:
    import deeplinear as dl

    def run(steps: int, keep: list | None = None) -> float:
        every = max(steps, 1)
        result = dl.train(phi, depth, lr=lr, max_steps=steps, record_every=every, threads=threads)
        if keep is not None:
            keep.extend(np.asarray(result.layers, dtype=np.float64))
        return result.final_loss

    return run


def torch_autograd(phi: np.ndarray, depth: int, lr: float, threads: int) -> Runner:
    import torch

    torch.set_num_threads(threads)
    dim, goal = phi.shape[0], torch.from_numpy(phi)

    def run(steps: int, keep: list | None = None) -> float:
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
            if keep is not None:
                keep.extend(p.detach().numpy().copy() for p in params)
            return 0.5 * float(((product - goal) ** 2).sum())

    return run


def torch_closed_form(phi: np.ndarray, depth: int, lr: float, threads: int) -> Runner:
    import torch

    torch.set_num_threads(threads)
    dim, goal = phi.shape[0], torch.from_numpy(phi)
    eye = torch.eye(dim, dtype=torch.float64)

    def run(steps: int, keep: list | None = None) -> float:
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
        if keep is not None:
            keep.extend(layer.numpy().copy() for layer in layers)
        return 0.5 * float(((product - goal) ** 2).sum())

    return run


def jax_jit(phi: np.ndarray, depth: int, lr: float, threads: int) -> Runner:
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

    def run(steps: int, keep: list | None = None) -> float:
        layers = many(tuple(jnp.eye(dim) for _ in range(depth)), steps)
        if keep is not None:
            keep.extend(np.array(layer, dtype=np.float64) for layer in layers)
        return float(loss_fn(layers))

    run(1)  # compile outside the timing
    return run


def main() -> None:
    name, dim, depth = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seconds, threads = float(sys.argv[4]), int(sys.argv[5])
    check_file = sys.argv[6] if len(sys.argv) > 6 else None
    # Pin the process to `threads` cores: some runtimes (XLA) ignore thread-count settings.
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, set(cores[:threads]))
    scale, step = injected_fault(name)

    def make(phi: np.ndarray, lr: float) -> Runner:
        lr *= scale
        if name == "deeplinear":
            return deeplinear_train(phi, depth, lr, threads)
        if name == "numpy":
            return numpy_closed_form(phi, depth, lr, step)
        if name == "torch_autograd":
            return torch_autograd(phi, depth, lr, threads)
        if name == "torch_closed":
            return torch_closed_form(phi, depth, lr, threads)
        if name == "jax_jit":
            return jax_jit(phi, depth, lr, threads)
        raise SystemExit(f"unknown implementation {name!r}")

    report: dict = {}
    try:
        if check_file is not None:
            # The agreement check's non-symmetric run (a runner of its own: Φ is in its closure).
            layers: list[np.ndarray] = []
            report["asym_loss"] = make(*asym_target(dim, depth))(CHECK_STEPS, layers)
            np.save(check_file, np.stack(layers))
            del layers
        run = make(*target(dim, depth))
    except ImportError as exc:
        if name in ("deeplinear", "numpy"):
            raise  # not an optional peer: its process fails
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
    report |= {"steps": steps, "seconds": elapsed, "loss": loss, "check_loss": check_loss}
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
    """Every BLAS loaded in this process with the kernel it runs (threadpoolctl's architecture);
    one that reports no architecture (MKL, BLIS, …) by its internal_api and version, marked
    "architecture unknown" rather than left out."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    found = {describe_blas(info) for info in threadpool_info() if info.get("user_api") == "blas"}
    torch = sys.modules.get("torch")  # its MKL is linked in, invisible to threadpoolctl
    if torch is not None and torch.backends.mkl.is_available():
        found.add(f"MKL (in torch {torch.__version__})")
    return sorted(found)


def describe_blas(info: dict) -> str:
    """One of threadpoolctl's entries as "prefix version architecture", or, without an
    architecture, "prefix (internal_api version, architecture unknown)"."""
    name = info.get("prefix") or info.get("internal_api") or "blas"
    if "architecture" in info:
        return " ".join(filter(None, (name, info.get("version"), info["architecture"])))
    api = " ".join(filter(None, (info.get("internal_api"), info.get("version"))))
    return f"{name} ({api + ', ' if api else ''}architecture unknown)"


if __name__ == "__main__":
    main()
