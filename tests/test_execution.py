"""How a call runs (cpp/include/deeplinear/execution.hpp): its thread count, capped at the cores
available, and its kernels, chosen per call. Concurrent calls never change each other's results;
the timed thread split follows its rule under a made-up clock."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import _core

CORES = len(os.sched_getaffinity(0))


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_threads_are_capped_at_the_cores_available() -> None:
    assert _core.available_cores() == CORES
    assert _core.kernel_for(256, threads=10_000)["threads"] == CORES
    assert _core.kernel_for(256, threads=1)["threads"] == 1
    rng = np.random.default_rng(0)
    phi = np.eye(256) + 0.1 * rng.standard_normal((256, 256)) / 16
    dl.train(phi, 2, lr=0.01, max_steps=1, threads=CORES)  # the pools of CORES threads exist
    before = os_threads()
    result = dl.train(phi, 2, lr=0.01, max_steps=2, threads=10_000)
    # no pool grows past the cores (uncapped, the BLAS started 64-128 threads here)
    assert os_threads() <= before + CORES
    expected = dl.train(phi, 2, lr=0.01, max_steps=2, threads=CORES)
    np.testing.assert_array_equal(result.layers, expected.layers)


def _python(script: str, timeout: float = 120.0) -> str:
    """Runs ``script`` in a new Python (its own process group, killed whole at the timeout: a
    hung forked child must not outlive the test); returns its stdout."""
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"the script did not finish in {timeout} s")
    assert process.returncode == 0, err
    return out


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_threads_are_capped_at_a_restricted_affinity_mask() -> None:
    out = _python(
        """
        import os
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        import numpy as np, deeplinear as dl
        from deeplinear import _core
        assert _core.available_cores() == 1
        assert _core.kernel_for(256, threads=2)["threads"] == 1
        phi = np.eye(96) + 0.01 * np.arange(96.0 * 96).reshape(96, 96) / 96**2
        a = dl.train(phi, 3, lr=0.05, max_steps=3, threads=2).layers
        b = dl.train(phi, 3, lr=0.05, max_steps=3, threads=1).layers
        print(np.array_equal(a, b))
        """
    )
    assert out.split() == ["True"]


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_a_process_forked_after_threads_runs_on_one_thread_instead_of_hanging() -> None:
    # GNU OpenMP's pool does not survive fork: a child of a process that ran threads=2 waited
    # for ever in its first parallel region (a sweep on a fork process pool hung)
    out = _python(
        """
        import multiprocessing, numpy as np, deeplinear as dl
        from deeplinear import _core

        rng = np.random.default_rng(0)
        phi = np.eye(200) + 0.3 * rng.standard_normal((200, 200)) / np.sqrt(200)
        phis = np.stack([phi[:8, :8]] * 8)

        def job():
            single = dl.train(phi, 3, lr=0.05, max_steps=3, threads=2).layers
            batch = dl.train_batch(phis, 3, lr=0.05, max_steps=3, threads=2).layers
            return single, batch, _core.forked_after_threads(), _core.kernel_for(200, threads=2)

        def step_made_before():  # trainers made on two threads before the fork
            made[0].step(3)
            made[1].step(3)
            return made[0].layers.copy(), made[1].layers.copy()

        if __name__ == "__main__":
            single, batch, forked, kernel = job()
            assert not forked and kernel["threads"] == min(2, _core.available_cores())
            made = [
                dl.Trainer(phi, 3, lr=0.05, threads=2),
                dl.BatchTrainer(phis, 3, lr=0.05, threads=2),
            ]
            for trainer in made:
                trainer.step(1)
            with multiprocessing.get_context("fork").Pool(1) as pool:
                child = pool.apply(job)
                stepped = pool.apply(step_made_before)
            print(np.array_equal(child[0], single), np.array_equal(child[1], batch))
            print(child[2], child[3]["threads"])
            step_made_before()
            for before, after in zip(stepped, made):
                print(np.array_equal(before, after.layers))
        """
    )
    assert out.split() == ["True", "True", str(_core.available_cores() > 1), "1", "True", "True"]


def test_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threads"):
        _core.kernel_for(8, threads=0)


def problem(dim: int) -> np.ndarray:
    rng = np.random.default_rng(dim)
    return np.eye(dim) + 0.3 * rng.standard_normal((dim, dim)) / np.sqrt(dim)


@pytest.mark.parametrize("dim", [64, 81, 130, 192, 256, 400])
def test_concurrent_runs_are_bit_identical_to_the_same_runs_alone(dim: int) -> None:
    # A threads=2 run in one Python thread and a threads=1 run in another, each three times over
    # while the other runs: every result equals that run alone. (With a process-wide thread count,
    # the threads=1 run at 81 <= d <= 192 left the packed kernel for the BLAS while the other ran.)
    phi = problem(dim)
    steps = max(4, int(2e8 / (6 * 4 * dim**3)))
    alone = {t: dl.train(phi, 4, lr=0.05, max_steps=steps, threads=t) for t in (1, 2)}
    results: dict[int, list] = {1: [], 2: []}
    start = threading.Barrier(2)

    def run(threads: int) -> None:
        start.wait()
        for _ in range(3):
            results[threads].append(dl.train(phi, 4, lr=0.05, max_steps=steps, threads=threads))

    workers = [threading.Thread(target=run, args=(t,)) for t in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for threads in (1, 2):
        assert len(results[threads]) == 3
        for result in results[threads]:
            np.testing.assert_array_equal(result.layers, alone[threads].layers)
            np.testing.assert_array_equal(result.losses, alone[threads].losses)


# -- the timed thread split under a made-up clock (tuning.hpp: probes of 48 products or 2 ms (at
# least 2 products), 4 of 48 settling, stretches from 1024 doubling to 65536 products or 1 s) -----
# Products of microseconds (US) probe 48 at a time; those of milliseconds (powers of two, so that
# the sums are exact) probe by time.
US = 1e-6


def runs(decisions: list[bool]) -> list[tuple[bool, int]]:
    """The decisions as (value, length) runs."""
    out: list[tuple[bool, int]] = []
    for value in decisions:
        if out and out[-1][0] == value:
            out[-1] = (value, out[-1][1] + 1)
        else:
            out.append((value, 1))
    return out


def test_a_faster_split_is_kept_for_stretches_of_1024_products() -> None:
    decisions = _core.split_decisions(64, US, 0.5 * US, 48 + 48 + 1024 + 48 + 48 + 10)
    # 48 alone, then 48 split (the probe) and 1024 split (the stretch), 48 alone, 48 + ... split
    assert runs(decisions) == [(False, 48), (True, 48 + 1024), (False, 48), (True, 58)]


def test_a_slower_split_is_cut_short_and_probed_ever_more_rarely() -> None:
    products = 0
    expected = []
    stretch = 1024
    for _ in range(8):
        # 48 alone take 48 us; the first 4 split products settle (12 us < 48 us), then split
        # ones lose once they take more than 44/48 of that: 15 of 3 us
        stretch = min(2 * stretch, 65536)
        expected += [(False, 48), (True, 4 + 15), (False, stretch)]
        products += 48 + 19 + stretch
    got = runs(_core.split_decisions(64, US, 3 * US, products))
    # consecutive "alone" runs merge: the stretch and the next probe's 48
    merged = runs([value for value, length in expected for _ in range(length)])
    assert got == merged
    assert max(length for value, length in got if not value) == 65536 + 48


def test_a_split_whose_wake_up_costs_too_much_is_dropped_while_settling() -> None:
    # the settling products alone (4 of 13 us) already exceed the 48 us that 48 took alone
    decisions = _core.split_decisions(64, US, 13 * US, 48 + 4 + 10)
    assert runs(decisions) == [(False, 48), (True, 4), (False, 10)]


def test_a_new_size_probes_afresh() -> None:
    assert runs(_core.split_decisions(80, US, 0.5 * US, 60)) == [(False, 48), (True, 12)]


def test_large_products_probe_for_2_ms_on_one_thread_and_20_ms_split() -> None:
    # 2**-9 s (1.95 ms) each on one thread: the probe ends after 2 products (3.9 ms >= 2 ms); the
    # split probe goes on to 20 ms (21 products of 2**-10 s), the split wins and keeps its 1024
    alone, split = 2.0**-9, 2.0**-10
    decisions = _core.split_decisions(512, alone, split, 2 + 21 + 1024 + 2 + 5)
    assert runs(decisions) == [(False, 2), (True, 21 + 1024), (False, 2), (True, 5)]
    # products of 15.6 ms still probe 2 (kSplitProbeMin) on one thread, and 3 split (23 ms)
    assert runs(_core.split_decisions(512, 2.0**-6, 2.0**-7, 2 + 6)) == [(False, 2), (True, 6)]


def test_a_split_that_loses_over_20_ms_is_dropped_after_them() -> None:
    # split products 1.5 times the one-thread ones (2.9 ms, the first settling): judged after
    # 7 (20.5 ms), lost; then a stretch of 1/32 s on one thread (16 products; see below)
    alone, split = 2.0**-9, 1.5 * 2.0**-9
    decisions = _core.split_decisions(512, alone, split, 2 + 7 + 16 + 2 + 3)
    assert runs(decisions) == [(False, 2), (True, 7), (False, 16 + 2), (True, 3)]


def test_after_lost_probes_stretches_of_large_products_grow_from_1_32_s_to_1_s() -> None:
    # the split loses while settling (7.8 ms > the 3.9 ms of the probe); the stretch on one
    # thread is 2048, 4096, ... 65536 products or 1/32, 1/16, ... 1 s of them (16 ... 512)
    alone, split = 2.0**-9, 2.0**-7
    expected: list[tuple[bool, int]] = []
    stretch = 1024
    for _ in range(8):
        stretch = min(2 * stretch, 65536)
        expected += [(False, 2), (True, 1), (False, 512 * stretch // 65536)]
    products = sum(length for _, length in expected)
    got = runs(_core.split_decisions(512, alone, split, products))
    assert got == runs([value for value, length in expected for _ in range(length)])
    assert got[-1] == (False, 512)


def test_kernel_for_reports_the_call() -> None:
    report = _core.kernel_for(128, threads=2)
    assert report["threads"] == min(2, CORES)
    assert set(report) == {"backend", "isa", "threads", "split_rows"}
    with pytest.raises(ValueError, match="method"):
        _core.kernel_for(8, method="newton")
    with pytest.raises(ValueError, match="dtype"):
        _core.kernel_for(8, dtype="float16")


# -- the calling thread's floating-point environment ---------------------------------------------

_FTZ_DAZ = 0x8040  # MXCSR's flush-to-zero and denormals-are-zero bits


@contextlib.contextmanager
def _flush_subnormals_in_this_thread():
    """FTZ and DAZ on in the calling thread only (as loading a -ffast-math library does), through
    glibc's fegetenv/fesetenv on x86-64 (fenv_t: the x87 environment, then MXCSR at byte 28)."""
    libc = ctypes.CDLL(None)
    env = ctypes.create_string_buffer(64)
    assert libc.fegetenv(env) == 0
    saved = env.raw
    mxcsr = int.from_bytes(saved[28:32], "little")
    env[28:32] = (mxcsr | _FTZ_DAZ).to_bytes(4, "little")
    assert libc.fesetenv(env) == 0
    try:
        yield
    finally:
        restore = ctypes.create_string_buffer(saved, 64)
        libc.fesetenv(restore)


needs_x86_glibc = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or platform.libc_ver()[0] != "glibc",
    reason="sets MXCSR through glibc's x86-64 fenv_t",
)


def _subnormal_inputs() -> tuple[np.ndarray, np.ndarray]:
    # subnormal and huge layers, whose losses depend on FTZ/DAZ (made before the flags are set:
    # numpy would flush the subnormal values themselves)
    count, dim, depth = 40, 3, 2
    rng = np.random.default_rng(0)
    init = np.empty((count, depth, dim, dim))
    init[:, 0] = 5e-309 * (1 + rng.random((count, dim, dim)))
    init[:, 1] = 1e300 * np.eye(dim)
    return np.stack([np.eye(dim)] * count), init


def _subnormal_batch(threads: int, phis: np.ndarray, init: np.ndarray) -> dl.BatchResult:
    return dl.train_batch(phis, 2, lr=1e-300, max_steps=3, init=init, threads=threads)


@needs_x86_glibc
def test_helper_threads_compute_under_the_calling_threads_float_environment() -> None:
    phis, init = _subnormal_inputs()
    a = np.full((96, 96), 3e-160) * (1 + np.random.default_rng(1).random((96, 96)))
    b = np.full((96, 96), 2e-160)
    _subnormal_batch(2, phis, init)  # OpenMP's helper exists before the caller sets its flags
    plain = _subnormal_batch(1, phis, init)
    with _flush_subnormals_in_this_thread():
        flushed = _subnormal_batch(1, phis, init)
        batches = [_subnormal_batch(2, phis, init) for _ in range(3)]
        product_one = _core.gemm(a, b, threads=1)[0]
        product_two = _core.gemm(a, b, threads=2, split="always")[0]
    assert not np.array_equal(plain.losses, flushed.losses)  # the flags do change the results
    for both in batches:  # (the helper takes some lane groups: the first, when it is spinning)
        np.testing.assert_array_equal(both.losses, flushed.losses)
    assert not np.array_equal(product_one, _core.gemm(a, b, threads=1)[0])
    np.testing.assert_array_equal(product_two, product_one)


_FE_UPWARD, _FE_TONEAREST = 0x800, 0  # glibc's x86 values


def _eigen_products(threads: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Power projection and gd's diagnostics at d = 120: Eigen's own products (the
    factorizer's, the diagnostics') would share the work among OpenMP threads at this size."""
    rng = np.random.default_rng(0)
    phi = np.eye(120) + 0.4 * rng.standard_normal((120, 120)) / np.sqrt(120)
    projected = dl.train(
        phi, 3, "power_projection", gamma=0.5, lr=0.05, max_steps=3, threads=threads
    )
    gd = dl.train(phi, 3, lr=0.05, max_steps=2, threads=threads, diagnostics=True)
    return projected.layers, gd.diagnostics  # type: ignore[return-value]


@needs_x86_glibc
def test_eigens_products_give_the_bits_of_one_thread_under_any_rounding_mode() -> None:
    # Eigen's threads adopt nothing: under FE_UPWARD in the caller, power projection's layers
    # (1.5e-14 apart) and gd's balancedness differed between threads=1 and threads=2
    libc = ctypes.CDLL(None)
    nearest = _eigen_products(2)
    assert libc.fesetround(_FE_UPWARD) == 0
    try:
        upward = [_eigen_products(threads) for threads in (1, 2)]
    finally:
        libc.fesetround(_FE_TONEAREST)
    assert not np.array_equal(upward[0][0], nearest[0])  # the mode does change the results
    np.testing.assert_array_equal(upward[1][0], upward[0][0])
    for name, values in upward[0][1].items():
        np.testing.assert_array_equal(upward[1][1][name], values, err_msg=name)


@needs_x86_glibc
def test_eigens_products_ignore_the_rounding_mode_helpers_started_with() -> None:
    # a thread whose first call on two threads makes OpenMP's helpers while it rounds upward,
    # then rounds to nearest again: Eigen's products (which on those helpers would adopt
    # nothing) must give the bits of one thread
    libc = ctypes.CDLL(None)
    a = np.random.default_rng(2).random((96, 96))
    outcome: dict[str, object] = {}

    def fresh_thread() -> None:
        try:
            assert libc.fesetround(_FE_UPWARD) == 0
            try:
                _core.gemm(a, a, threads=2, split="always")  # the helpers start rounding upward
            finally:
                libc.fesetround(_FE_TONEAREST)
            outcome["both"] = [_eigen_products(threads) for threads in (1, 2)]
        except BaseException as error:  # (reported in the test's thread)
            outcome["error"] = error

    worker = threading.Thread(target=fresh_thread)
    worker.start()
    worker.join()
    assert "error" not in outcome, outcome.get("error")
    (one, one_diagnostics), (two, two_diagnostics) = outcome["both"]  # type: ignore[misc]
    np.testing.assert_array_equal(two, one)
    for name, values in one_diagnostics.items():
        np.testing.assert_array_equal(two_diagnostics[name], values, err_msg=name)
