"""dl.train / dl.Trainer / dl.spectral_gd for gradient descent from the identity (Sec. 3.1),
against a plain-numpy loop written from the update formula, and the invariants of Lemmas 5–6."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

import deeplinear as dl


def numpy_gd(phi: np.ndarray, layers: np.ndarray, lr: float, steps: int):
    """Θ_i ← Θ_i − η Θ_{i+1:L}ᵀ (Θ_{1:L} − Φ) Θ_{1:i−1}ᵀ for all i at once; losses at every step."""
    layers = layers.copy()
    dim = phi.shape[0]
    losses = []
    for _ in range(steps + 1):
        prefixes = [np.eye(dim)]
        for layer in layers:
            prefixes.append(layer @ prefixes[-1])
        residual = prefixes[-1] - phi
        losses.append(0.5 * np.sum(residual**2))
        if len(losses) == steps + 1:
            break
        suffix = np.eye(dim)
        grads = np.empty_like(layers)
        for i in range(len(layers) - 1, -1, -1):
            grads[i] = suffix.T @ residual @ prefixes[i].T
            suffix = suffix @ layers[i]
        layers -= lr * grads
    return layers, np.array(losses)


@pytest.fixture
def asymmetric():
    rng = np.random.default_rng(0)
    return np.eye(5) + 0.4 * rng.standard_normal((5, 5))


def test_train_reproduces_the_numpy_loop(asymmetric: np.ndarray) -> None:
    depth, lr, steps = 4, 0.05, 200
    result = dl.train(asymmetric, depth, lr=lr, max_steps=steps)
    layers, losses = numpy_gd(asymmetric, np.stack([np.eye(5)] * depth), lr, steps)
    np.testing.assert_allclose(result.layers, layers, atol=1e-10)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(result.loss_steps, np.arange(steps + 1))
    assert result.status == "max_steps" and result.steps == steps


@pytest.mark.parametrize("dim", [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17])
@pytest.mark.parametrize("method", ["gd", "penalty"])
def test_fixed_size_and_dynamic_kernels_follow_the_update(dim: int, method: str) -> None:
    # Small d runs on fixed-size kernels (1–6, 8, 12, 16), other d on dynamic ones: all must
    # follow Θ_i ← Θ_i − η(G_i + κ(Θ_i − I)).
    rng = np.random.default_rng(dim)
    phi = np.eye(dim) + 0.3 * rng.standard_normal((dim, dim))
    kappa = 0.2 if method == "penalty" else 0.0
    options = {"kappa": kappa} if method == "penalty" else {}
    layers = np.stack([np.eye(dim)] * 3)
    for _ in range(30):
        grads = numpy_gd(phi, layers, 1.0, 1)[0] - layers  # −G_i (one step of size 1)
        layers = layers + 0.05 * grads - 0.05 * kappa * (layers - np.eye(dim))
    result = dl.train(phi, 3, method, lr=0.05, max_steps=30, **options)
    np.testing.assert_allclose(result.layers, layers, atol=1e-12)


def test_layers_stay_exactly_equal_for_phi_in_its_eigenbasis() -> None:
    # Lemma 5 holds bit for bit when Φ is diagonal: every layer is updated with the same rounding.
    for dim in (4, 7):
        phi = np.diag([-2.0] + [1.0] * (dim - 1))
        result = dl.train(phi, 2, lr=0.1, max_steps=3000, record_every=3000)
        np.testing.assert_array_equal(result.layers[0], result.layers[1])
        assert result.final_loss >= 2.0


@pytest.mark.parametrize("init", [0.9, "array"])
def test_init_number_and_array(asymmetric: np.ndarray, init) -> None:
    depth = 3
    if init == "array":
        init = np.eye(5) + 0.05 * np.random.default_rng(1).standard_normal((depth, 5, 5))
        start = init.copy()
    else:
        start = np.stack([init * np.eye(5)] * depth)
    before = np.array(init, copy=True)
    result = dl.train(asymmetric, depth, lr=0.05, max_steps=50, init=init)
    layers, losses = numpy_gd(asymmetric, start, 0.05, 50)
    np.testing.assert_allclose(result.layers, layers, atol=1e-10)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-10)
    np.testing.assert_array_equal(np.asarray(init), before)  # the caller's init is untouched


def test_lemma5_symmetric_targets_keep_equal_symmetric_commuting_layers() -> None:
    phi = dl.targets.spd(4, 5.0, seed=2)
    checked = []

    def check(step: int, layers: np.ndarray, loss: float) -> None:
        for layer in layers:
            np.testing.assert_allclose(layer, layers[0], atol=1e-12)
            np.testing.assert_allclose(layer, layer.T, atol=1e-12)
            np.testing.assert_allclose(layer @ phi, phi @ layer, atol=1e-12)
        checked.append(step)

    result = dl.train(phi, 5, lr=0.02, max_steps=300, record_every=50, callback=check)
    assert checked == list(range(0, 301, 50))
    check(result.steps, result.layers, result.final_loss)


def test_spectral_gd_equals_dense_gd_and_follows_the_scalar_recursion() -> None:
    phi = dl.targets.spd(6, 8.0, seed=3)
    depth, lr, steps = 6, 0.02, 400
    dense = dl.train(phi, depth, lr=lr, max_steps=steps, record_every=10)
    exact = dl.spectral_gd(phi, depth, lr=lr, max_steps=steps, record_every=10)
    np.testing.assert_allclose(exact.losses, dense.losses, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(exact.layers, dense.layers, atol=1e-9)
    np.testing.assert_array_equal(exact.loss_steps, dense.loss_steps)
    mu = np.linalg.eigvalsh(phi)
    a = np.ones_like(mu)
    for _ in range(steps):
        a = a - lr * a ** (depth - 1) * (a**depth - mu)
    np.testing.assert_allclose(exact.extras["a"], a, rtol=1e-12)


def test_record_every_and_convergence_step() -> None:
    phi, tol = dl.targets.near_identity(5, 0.05, seed=0), 1e-8
    result = dl.train(phi, 3, lr=0.05, max_steps=5000, tol=tol, record_every=7)
    _, losses = numpy_gd(phi, np.stack([np.eye(5)] * 3), 0.05, result.steps)
    first_below = int(np.argmax(losses <= tol))
    assert result.status == "converged" and result.steps == first_below
    expected_steps = [*range(0, result.steps + 1, 7)]
    if expected_steps[-1] != result.steps:
        expected_steps.append(result.steps)
    np.testing.assert_array_equal(result.loss_steps, expected_steps)
    assert result.final_loss == result.losses[-1] == pytest.approx(dl.loss(result.layers, phi))
    assert result.final_loss <= tol < result.losses[-2]


def test_callback_sees_the_recorded_state_and_can_stop(asymmetric: np.ndarray) -> None:
    calls = []

    def callback(step: int, layers: np.ndarray, loss: float) -> bool:
        assert loss == pytest.approx(dl.loss(layers, asymmetric), rel=1e-12)
        calls.append(step)
        return step >= 30

    result = dl.train(asymmetric, 3, lr=0.05, max_steps=100, record_every=10, callback=callback)
    assert calls == [0, 10, 20, 30]
    assert result.status == "stopped" and result.steps == 30


@pytest.mark.parametrize(("lr", "phi_scale"), [(50.0, 1.0), (1.0, 1e30)])
def test_divergence_keeps_the_last_finite_state(lr: float, phi_scale: float) -> None:
    phi = phi_scale * dl.targets.spd(4, 2.0, seed=0)
    result = dl.train(phi, 4, lr=lr, max_steps=1000)
    assert result.status == "diverged"
    assert np.isfinite(result.layers).all()
    assert np.isfinite(result.losses).all() and np.isfinite(result.final_loss)
    assert result.final_loss == pytest.approx(dl.loss(result.layers, phi), rel=1e-9)
    assert result.steps < 1000


def test_ctrl_c_interrupts_within_a_fraction_of_a_second() -> None:
    phi = dl.targets.spd(48, 3.0, seed=0)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    started = time.perf_counter()
    timer.start()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        result = dl.train(phi, 8, lr=1e-4, max_steps=10**9, record_every=10**6)
    elapsed = time.perf_counter() - started
    timer.join()
    assert result.status == "interrupted"
    assert 0 < result.steps < 10**9 and np.isfinite(result.layers).all()
    assert elapsed < 0.3 + 1.0  # generous: the loop polls for signals about every 50 ms
    assert result.final_loss == pytest.approx(dl.loss(result.layers, phi))


def test_ctrl_c_interrupts_spectral_gd() -> None:
    phi = dl.targets.spd(8, 3.0, seed=0)
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        result = dl.spectral_gd(phi, 4, lr=1e-9, max_steps=10**12, record_every=10**11)
    timer.join()
    assert result.status == "interrupted" and result.steps > 0


def test_float32_runs_stay_float32(asymmetric: np.ndarray) -> None:
    single = dl.train(asymmetric.astype(np.float32), 4, lr=0.05, max_steps=100, record_every=10)
    double = dl.train(asymmetric, 4, lr=0.05, max_steps=100, record_every=10)
    assert single.layers.dtype == np.float32
    np.testing.assert_allclose(single.losses, double.losses, rtol=1e-3, atol=1e-6)


def test_trainer_steps_equal_one_run(asymmetric: np.ndarray) -> None:
    straight = dl.train(asymmetric, 4, lr=0.05, max_steps=120, record_every=10)
    trainer = dl.Trainer(asymmetric, 4, lr=0.05, record_every=10)
    trainer.step(37)
    trainer.step(3)
    trainer.run(max_steps=80)
    np.testing.assert_array_equal(trainer.layers, straight.layers)
    np.testing.assert_array_equal(trainer.losses, straight.losses)
    np.testing.assert_array_equal(trainer.loss_steps, straight.loss_steps)
    assert trainer.steps == 120


def test_trainer_live_layers_are_writable_between_steps(asymmetric: np.ndarray) -> None:
    trainer = dl.Trainer(asymmetric, 3, lr=0.05)
    trainer.step(5)
    trainer.layers[1] += 0.01 * np.eye(5)
    edited = trainer.layers.copy()
    expected, _ = numpy_gd(asymmetric, edited, 0.05, 4)
    trainer.step(4)
    np.testing.assert_allclose(trainer.layers, expected, atol=1e-12)
    assert trainer.loss == pytest.approx(dl.loss(expected, asymmetric))
    with pytest.raises(ValueError, match="layers"):
        trainer.layers = np.zeros((2, 5, 5))


def test_progress_bar_gives_the_same_result(asymmetric: np.ndarray) -> None:
    quiet = dl.train(asymmetric, 3, lr=0.05, max_steps=300, record_every=25)
    shown = dl.train(asymmetric, 3, lr=0.05, max_steps=300, record_every=25, progress=True)
    np.testing.assert_array_equal(quiet.layers, shown.layers)
    np.testing.assert_array_equal(quiet.losses, shown.losses)
    np.testing.assert_array_equal(quiet.loss_steps, shown.loss_steps)


def test_threads_give_the_same_answer_to_rounding() -> None:
    phi = dl.targets.spd(96, 3.0, seed=1)
    one = dl.train(phi, 4, lr=0.05, max_steps=5, threads=1)
    two = dl.train(phi, 4, lr=0.05, max_steps=5, threads=2)
    np.testing.assert_allclose(two.layers, one.layers, atol=1e-12)


def test_results_print_readably(asymmetric: np.ndarray) -> None:
    result = dl.train(asymmetric, 3, lr=0.05, max_steps=10)
    text = repr(result)
    assert "max_steps" in text and "steps=10" in text and "final_loss=" in text
    assert "status" in result._repr_html_()
    assert "steps=0" in repr(dl.Trainer(asymmetric, 3, lr=0.05))
