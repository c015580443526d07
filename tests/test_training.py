"""dl.train / dl.Trainer / dl.spectral_gd for gradient descent from the identity (Sec. 3.1,
Algorithm 1), against a plain-numpy loop written here from the update
Θ_i ← Θ_i − η Θ_{i+1:L}ᵀ (Θ_{1:L} − Φ) Θ_{1:i−1}ᵀ (all layers at once), the invariants of
Lemmas 5–6 and closed forms of the stop rules (dl.train's docstring)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplinear as dl
from interrupts import interrupt_after
from reference import loss as reference_loss
from reference import run_session

# -- references ------------------------------------------------------------------------------


def numpy_loss(layers: np.ndarray, phi: np.ndarray) -> float:
    product = np.eye(phi.shape[0])
    for layer in layers:
        product = layer @ product
    return 0.5 * float(np.sum((product - phi) ** 2))


def numpy_step(layers: np.ndarray, phi: np.ndarray, lr: float) -> np.ndarray:
    """One step of Algorithm 1: every G_i from the same (current) layers, then all updated."""
    dim = phi.shape[0]
    prefixes = [np.eye(dim)]  # Θ_{1:0} = I, Θ_{1:1}, …, Θ_{1:L}
    for layer in layers:
        prefixes.append(layer @ prefixes[-1])
    residual = prefixes[-1] - phi
    grads = np.empty_like(layers)
    suffix = np.eye(dim)  # Θ_{i+1:L}
    for i in range(len(layers) - 1, -1, -1):
        grads[i] = suffix.T @ residual @ prefixes[i].T
        suffix = suffix @ layers[i]
    return layers - lr * grads


def numpy_gd(phi, layers, lr, steps, keep=()):
    """`steps` steps from `layers`: (final layers, losses at steps 0..steps, {step: layers})."""
    layers = np.array(layers, dtype=float)
    losses, snapshots = [numpy_loss(layers, phi)], {}
    if 0 in keep:
        snapshots[0] = layers.copy()
    for step in range(1, steps + 1):
        layers = numpy_step(layers, phi, lr)
        losses.append(numpy_loss(layers, phi))
        if step in keep:
            snapshots[step] = layers.copy()
    return layers, np.array(losses), snapshots


def identity_stack(depth: int, dim: int, scale: float = 1.0) -> np.ndarray:
    return np.stack([scale * np.eye(dim)] * depth)


def scalar_recursion(mu: np.ndarray, depth: int, lr: float, steps: int):
    """Lemma 6: a ← a − η a^{L−1}(a^L − μ) from a = 1; (a after `steps`, losses at 0..steps)."""
    a = np.ones_like(mu)
    losses = [0.5 * float(np.sum((a**depth - mu) ** 2))]
    for _ in range(steps):
        a = a - lr * a ** (depth - 1) * (a**depth - mu)
        losses.append(0.5 * float(np.sum((a**depth - mu) ** 2)))
    return a, np.array(losses)


def expected_record_steps(last: int, record_every: int) -> list[int]:
    steps = list(range(0, last + 1, record_every))
    if steps[-1] != last:
        steps.append(last)
    return steps


def asymmetric_target(dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    phi = np.eye(dim) + 0.4 * rng.standard_normal((dim, dim))
    assert np.abs(phi - phi.T).max() > 0.1
    return phi


def symmetric_target(eigenvalues, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    phi = basis @ np.diag(eigenvalues) @ basis.T
    return 0.5 * (phi + phi.T)


@pytest.fixture
def asymmetric() -> np.ndarray:
    return asymmetric_target(5)


# -- train("gd") reproduces Algorithm 1 ------------------------------------------------------


@pytest.mark.parametrize("dim", [5, 7])  # a fixed-size kernel (5) and the dynamic one (7)
def test_train_reproduces_the_numpy_loop(dim: int) -> None:
    phi = asymmetric_target(dim, seed=dim)
    depth, lr, steps = 4, 0.04, 200
    result = dl.train(phi, depth, lr=lr, max_steps=steps)
    layers, losses, _ = numpy_gd(phi, identity_stack(depth, dim), lr, steps)
    assert losses[-1] < 0.2 * losses[0]  # the run does something worth checking
    assert result.status == "max_steps" and result.steps == steps and result.method == "gd"
    np.testing.assert_array_equal(result.loss_steps, np.arange(steps + 1))
    np.testing.assert_allclose(result.losses, losses, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(result.layers, layers, rtol=0, atol=1e-10)
    assert result.layers.shape == (depth, dim, dim) and result.layers.dtype == np.float64
    assert result.final_loss == result.losses[-1]


@pytest.mark.parametrize("init", [0.8, 1.1, 2, "array"])
def test_init_number_and_array(asymmetric: np.ndarray, init) -> None:
    depth, lr, steps = 4, 0.02, 200
    if init == "array":
        init = np.eye(5) + 0.1 * np.random.default_rng(1).standard_normal((depth, 5, 5))
        start = init.copy()
    else:
        start = identity_stack(depth, 5, float(init))
    saved = np.array(init, copy=True)
    result = dl.train(asymmetric, depth, lr=lr, max_steps=steps, init=init)
    layers, losses, _ = numpy_gd(asymmetric, start, lr, steps)
    assert result.losses[0] == pytest.approx(numpy_loss(start, asymmetric), rel=1e-13)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(result.layers, layers, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(np.asarray(init), saved)  # the caller's init is untouched


@pytest.mark.parametrize("dim", [1, 2, 3, 4, 6, 8, 9, 12, 16, 17])
@pytest.mark.parametrize("method", ["gd", "penalty"])
def test_fixed_size_and_dynamic_kernels_follow_the_update(dim: int, method: str) -> None:
    # Small d runs on fixed-size kernels, other d on dynamic ones: all follow
    # Θ_i ← Θ_i − η(G_i + κ(Θ_i − I)) (κ = 0 for gd).
    phi = np.eye(dim) + 0.3 * np.random.default_rng(dim).standard_normal((dim, dim))
    kappa = 0.2 if method == "penalty" else 0.0
    options = {"kappa": kappa} if method == "penalty" else {}
    layers = identity_stack(3, dim)
    for _ in range(30):
        layers = numpy_step(layers, phi, 0.05) - 0.05 * kappa * (layers - np.eye(dim))
    result = dl.train(phi, 3, method, lr=0.05, max_steps=30, **options)
    np.testing.assert_allclose(result.layers, layers, rtol=0, atol=1e-12)


# -- Lemmas 5–6: symmetric targets ---------------------------------------------------------


def test_lemma5_layers_stay_equal_symmetric_and_commute_with_phi() -> None:
    phi = symmetric_target([-0.5, 0.3, 1.0, 2.0, 3.0], seed=2)
    depth, lr, steps = 5, 0.02, 300
    checked = []

    def check(step: int, layers: np.ndarray, loss: float) -> None:
        for layer in layers:
            np.testing.assert_allclose(layer, layers[0], rtol=0, atol=1e-12)
            np.testing.assert_allclose(layer, layer.T, rtol=0, atol=1e-12)
            np.testing.assert_allclose(layer @ phi, phi @ layer, rtol=0, atol=1e-12)
        checked.append(step)

    result = dl.train(phi, depth, lr=lr, max_steps=steps, record_every=50, callback=check)
    assert checked == list(range(0, steps + 1, 50))
    check(result.steps, result.layers, result.final_loss)
    # the layers did move (the invariant is not checked on the identity only)
    assert np.abs(result.layers[0] - np.eye(5)).max() > 0.1


def test_layers_stay_exactly_equal_for_phi_in_its_eigenbasis() -> None:
    # With Φ diagonal every layer sees the same rounding: Lemma 5 holds bit for bit, and with an
    # eigenvalue −2 and even L the loss never falls below λ²/2 = 2 (Sec. 6).
    # (97: the medium kernel's fused update against the first layer's, which has no product)
    for dim, steps in ((4, 3000), (7, 3000), (97, 300)):
        phi = np.diag([-2.0] + [1.0] * (dim - 1))
        result = dl.train(phi, 2, lr=0.1, max_steps=steps, record_every=100)
        np.testing.assert_array_equal(result.layers[0], result.layers[1])
        assert (result.losses >= 2.0).all()


def test_spectral_gd_equals_dense_gd_and_follows_the_scalar_recursion() -> None:
    mu = np.array([0.2, 0.7, 1.0, 1.6, 3.0, 5.0])
    phi = symmetric_target(mu, seed=3)
    depth, lr, steps = 6, 0.02, 400
    dense = dl.train(phi, depth, lr=lr, max_steps=steps, record_every=10)
    exact = dl.spectral_gd(phi, depth, lr=lr, max_steps=steps, record_every=10)
    assert exact.status == dense.status == "max_steps" and exact.steps == steps
    np.testing.assert_array_equal(exact.loss_steps, dense.loss_steps)
    np.testing.assert_allclose(exact.losses, dense.losses, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(exact.layers, dense.layers, rtol=0, atol=1e-9)
    a, losses = scalar_recursion(mu, depth, lr, steps)
    np.testing.assert_allclose(exact.extras["eigenvalues"], mu, rtol=1e-12)
    np.testing.assert_allclose(exact.extras["a"], a, rtol=1e-12)
    np.testing.assert_allclose(exact.losses, losses[::10], rtol=1e-10)
    basis = exact.extras["basis"]
    np.testing.assert_allclose(basis.T @ basis, np.eye(6), atol=1e-12)
    np.testing.assert_allclose((basis * a) @ basis.T, exact.layers[0], atol=1e-12)
    assert exact.final_loss == exact.losses[-1] == pytest.approx(dl.loss(exact.layers, phi))
    # each a_k moves monotonically from 1 towards μ_k^{1/L} (Lemma 6)
    assert np.all((a - 1) * (mu ** (1 / depth) - 1) >= 0)
    assert np.all(np.abs(a - mu ** (1 / depth)) <= np.abs(1 - mu ** (1 / depth)))


@pytest.mark.parametrize("depth", [2, 3])
def test_a_negative_eigenvalue_is_never_learned(depth: int) -> None:
    # Sec. 6: for μ_1 = −λ < 0 the eigenvalue a_1 decreases towards 0 and never crosses it,
    # so ℓ ≥ λ²/2 forever (even L: a^L ≥ 0; odd L: a stays positive). In floating point the
    # exact reduction shows it for any basis; dense GD shows it where every layer sees the same
    # rounding (Φ diagonal). (With a rotated Φ, rounding breaks Lemma 5's symmetry near the
    # saddle a_1 = 0 and dense GD escapes after ~1000 steps: a property of floating point.)
    mu = np.array([-1.5, 0.5, 1.0, 2.0])
    exact = dl.spectral_gd(symmetric_target(mu, seed=4), depth, lr=0.05, max_steps=3000)
    dense = dl.train(np.diag(mu), depth, lr=0.05, max_steps=3000, record_every=10)
    for result in (exact, dense):
        assert (result.losses >= 1.5**2 / 2).all()
        assert result.final_loss == pytest.approx(1.5**2 / 2, rel=1e-3)
    a = exact.extras["a"]
    assert 0 < a[0] < 0.1
    np.testing.assert_allclose(a, scalar_recursion(mu, depth, 0.05, 3000)[0], rtol=1e-10)
    np.testing.assert_allclose(dense.layers[0], np.diag(a), rtol=1e-9, atol=1e-12)


# -- recording and stopping ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_steps", "record_every"), [(20, 1), (20, 5), (23, 5), (3, 10), (0, 1), (0, 4), (1, 1)]
)
def test_record_every_records_step_zero_the_grid_and_the_last_step(
    asymmetric: np.ndarray, max_steps: int, record_every: int
) -> None:
    depth, lr = 3, 0.05
    result = dl.train(asymmetric, depth, lr=lr, max_steps=max_steps, record_every=record_every)
    _, losses, _ = numpy_gd(asymmetric, identity_stack(depth, 5), lr, max_steps)
    recorded = expected_record_steps(max_steps, record_every)
    assert result.status == "max_steps" and result.steps == max_steps
    np.testing.assert_array_equal(result.loss_steps, recorded)
    np.testing.assert_allclose(result.losses, losses[recorded], rtol=1e-11)
    assert result.losses.ndim == 1 and len(result.losses) == len(result.loss_steps)
    assert result.final_loss == result.losses[-1]
    assert result.final_loss == pytest.approx(dl.loss(result.layers, asymmetric), rel=1e-12)


def tol_between(losses: np.ndarray, step: int) -> float:
    """A tolerance that the loss first meets at `step` (well away from either loss)."""
    assert (np.diff(losses[: step + 1]) < 0).all()
    return math.sqrt(losses[step - 1] * losses[step])


@pytest.mark.parametrize(("first_below", "record_every"), [(37, 5), (40, 5), (37, 1), (12, 100)])
def test_convergence_stops_at_the_first_step_with_loss_below_tol(
    asymmetric: np.ndarray, first_below: int, record_every: int
) -> None:
    depth, lr = 3, 0.05
    _, losses, snapshots = numpy_gd(
        asymmetric, identity_stack(depth, 5), lr, 60, keep=(first_below,)
    )
    tol = tol_between(losses, first_below)
    result = dl.train(
        asymmetric, depth, lr=lr, max_steps=10_000, tol=tol, record_every=record_every
    )
    assert result.status == "converged" and result.steps == first_below
    np.testing.assert_array_equal(
        result.loss_steps, expected_record_steps(first_below, record_every)
    )
    assert result.final_loss == result.losses[-1] <= tol < result.losses[-2]
    np.testing.assert_allclose(result.losses, losses[result.loss_steps], rtol=1e-11)
    np.testing.assert_allclose(result.layers, snapshots[first_below], atol=1e-11)
    assert result.final_loss == pytest.approx(dl.loss(result.layers, asymmetric), rel=1e-12)


def test_spectral_gd_converges_at_the_same_step() -> None:
    mu = np.array([0.5, 1.0, 2.0])
    phi = symmetric_target(mu, seed=5)
    depth, lr = 3, 0.05
    _, losses = scalar_recursion(mu, depth, lr, 100)
    tol = tol_between(losses, 29)
    exact = dl.spectral_gd(phi, depth, lr=lr, max_steps=10**6, tol=tol, record_every=4)
    dense = dl.train(phi, depth, lr=lr, max_steps=10**6, tol=tol, record_every=4)
    for result in (exact, dense):
        assert result.status == "converged" and result.steps == 29
        np.testing.assert_array_equal(result.loss_steps, expected_record_steps(29, 4))
        np.testing.assert_allclose(result.losses, losses[result.loss_steps], rtol=1e-10)


def test_a_start_below_tol_converges_at_step_zero(asymmetric: np.ndarray) -> None:
    layers = identity_stack(3, 5)
    tol = 1.01 * numpy_loss(layers, asymmetric)
    for result in (
        dl.train(asymmetric, 3, lr=0.05, max_steps=100, tol=tol),
        dl.spectral_gd(np.eye(5), 3, lr=0.05, max_steps=100, tol=0.0),  # exact fit: ℓ = 0
    ):
        assert result.status == "converged" and result.steps == 0
        np.testing.assert_array_equal(result.loss_steps, [0])
        assert len(result.losses) == 1 and result.final_loss == result.losses[0]
    np.testing.assert_array_equal(
        dl.train(asymmetric, 3, lr=0.05, max_steps=100, tol=tol).layers, layers
    )


@pytest.mark.parametrize("runner", ["train", "spectral_gd", "trainer"])
def test_a_huge_step_budget_costs_no_memory_up_front(runner: str) -> None:
    # "max_steps: the most steps to take" — a run that converges after a few steps must not
    # allocate storage for max_steps / record_every records it will never make.
    phi, depth, lr, budget = 1.5 * np.eye(2), 2, 0.1, 10**12
    if runner == "train":
        result = dl.train(phi, depth, lr=lr, max_steps=budget, tol=1e-6)
    elif runner == "spectral_gd":
        result = dl.spectral_gd(phi, depth, lr=lr, max_steps=budget, tol=1e-6)
    else:
        result = dl.Trainer(phi, depth, lr=lr).run(max_steps=budget, tol=1e-6)
    assert result.status == "converged" and result.steps < 1000
    assert len(result.losses) == result.steps + 1


# -- callbacks -------------------------------------------------------------------------------


@pytest.mark.parametrize(("max_steps", "record_every"), [(30, 7), (28, 7), (10, 1)])
def test_callback_sees_every_recorded_step_with_its_layers(
    asymmetric: np.ndarray, max_steps: int, record_every: int
) -> None:
    depth, lr = 3, 0.05
    recorded = expected_record_steps(max_steps, record_every)
    _, losses, snapshots = numpy_gd(
        asymmetric, identity_stack(depth, 5), lr, max_steps, keep=recorded
    )
    calls = []

    def callback(step: int, layers: np.ndarray, loss: float) -> None:
        assert isinstance(step, int) and isinstance(loss, float)
        assert layers.shape == (depth, 5, 5)
        assert loss == pytest.approx(dl.loss(layers, asymmetric), rel=1e-12)
        assert loss == pytest.approx(losses[step], rel=1e-11)
        np.testing.assert_allclose(layers, snapshots[step], rtol=0, atol=1e-11)
        calls.append(step)

    result = dl.train(
        asymmetric, depth, lr=lr, max_steps=max_steps, record_every=record_every, callback=callback
    )
    assert calls == recorded == result.loss_steps.tolist()
    assert result.status == "max_steps"


@pytest.mark.parametrize("stop_at", [0, 14, 30])
def test_a_callback_returning_true_stops_the_run(asymmetric: np.ndarray, stop_at: int) -> None:
    depth, lr = 3, 0.05
    _, losses, snapshots = numpy_gd(asymmetric, identity_stack(depth, 5), lr, 40, keep=(stop_at,))
    calls = []

    def callback(step: int, layers: np.ndarray, loss: float) -> bool:
        calls.append(step)
        return step >= stop_at

    result = dl.train(asymmetric, depth, lr=lr, max_steps=100, record_every=2, callback=callback)
    assert result.status == "stopped" and result.steps == stop_at
    assert calls == list(range(0, stop_at + 1, 2))
    assert result.loss_steps[-1] == stop_at
    assert result.final_loss == pytest.approx(losses[stop_at], rel=1e-11)
    np.testing.assert_allclose(result.layers, snapshots[stop_at], atol=1e-11)


def test_a_callback_returning_a_numpy_true_stops_the_run(asymmetric: np.ndarray) -> None:
    # The natural way to write a stop rule, a numpy comparison, returns np.bool_(True).
    def callback(step: int, layers: np.ndarray, loss: float):
        return np.abs(layers).max() > 0 and np.int64(step) >= 5

    result = dl.train(asymmetric, 3, lr=0.05, max_steps=100, callback=callback)
    assert result.status == "stopped" and result.steps == 5


def test_callbacks_other_than_true_do_not_stop(asymmetric: np.ndarray) -> None:
    for value in (None, False, 0):
        result = dl.train(
            asymmetric, 3, lr=0.05, max_steps=12, callback=lambda *args, value=value: value
        )
        assert result.status == "max_steps" and result.steps == 12


def test_trainer_calls_back_once_per_recorded_step_across_calls(asymmetric: np.ndarray) -> None:
    calls = []
    trainer = dl.Trainer(
        asymmetric, 3, lr=0.05, record_every=3, callback=lambda step, *_: calls.append(step)
    )
    trainer.step(4)
    trainer.step(5)
    trainer.run(max_steps=4)
    assert trainer.steps == 13
    assert calls == [0, 3, 6, 9, 12, 13]
    np.testing.assert_array_equal(trainer.loss_steps, calls)


# -- divergence ------------------------------------------------------------------------------


@pytest.mark.parametrize("record_every", [1, 2, 3])
def test_divergence_keeps_the_last_finite_state(record_every: int) -> None:
    # η = 0.5 on this Φ: ℓ = 2.6, 89, 2e13, 3e92, then the fourth step overflows (inf/NaN).
    phi = symmetric_target([0.5, 1.0, 2.0, 3.0], seed=0)
    depth, lr = 4, 0.5
    result = dl.train(phi, depth, lr=lr, max_steps=1000, record_every=record_every)
    assert result.status == "diverged" and result.steps == 3
    assert np.isfinite(result.layers).all()
    assert np.isfinite(result.losses).all() and np.isfinite(result.final_loss)
    np.testing.assert_array_equal(result.loss_steps, expected_record_steps(3, record_every))
    assert result.final_loss == result.losses[-1] < 1e100
    assert result.final_loss == pytest.approx(dl.loss(result.layers, phi), rel=1e-9)
    # the kept state is the numpy loop's state at that step, and one more step is not finite
    layers, losses, _ = numpy_gd(phi, identity_stack(depth, 4), lr, result.steps)
    np.testing.assert_allclose(result.layers, layers, rtol=1e-8)
    np.testing.assert_allclose(result.losses, losses[result.loss_steps], rtol=1e-8)
    with np.errstate(all="ignore"):
        following = numpy_loss(numpy_step(layers, phi, lr), phi)
    assert not np.isfinite(following)


@pytest.mark.parametrize(
    ("dim", "dtype", "scale"),
    [(3, np.float64, 1e200), (20, np.float64, 1e200), (3, np.float32, 1e20)],
)
def test_a_start_whose_product_overflows_has_an_infinite_loss(
    dim: int, dtype, scale: float
) -> None:
    # Finite layers s·I (L = 3) whose product s³·I overflows: the product's zero off-diagonal
    # sums meet 0·∞ and ∞ − ∞, and ℓ came out NaN (the fixed-size kernels at d = 3, the general
    # sweep at d = 20). The loss of finite layers is a number, here past the largest float: +∞.
    layers = np.stack([scale * np.eye(dim, dtype=dtype)] * 3)
    phi = np.eye(dim, dtype=dtype)
    assert dl.loss(layers, phi) == math.inf
    result = dl.train(phi, 3, lr=0.1, max_steps=5, init=layers)
    assert result.status == "diverged" and result.steps == 0
    assert result.final_loss == math.inf and list(result.losses) == [math.inf]
    np.testing.assert_array_equal(result.layers, layers)


def test_a_huge_step_size_diverges_past_1e100() -> None:
    # η = 50: ℓ = 2.6, 5e15, 3e125 > 1e100: the run stops there, keeping that (finite) state.
    phi = symmetric_target([0.5, 1.0, 2.0, 3.0], seed=0)
    result = dl.train(phi, 4, lr=50.0, max_steps=1000)
    layers, losses, _ = numpy_gd(phi, identity_stack(4, 4), 50.0, 2)
    assert result.status == "diverged" and result.steps == 2
    assert np.isfinite(result.layers).all() and np.isfinite(result.losses).all()
    assert result.final_loss == result.losses[-1] > 1e100
    np.testing.assert_allclose(result.losses, losses, rtol=1e-8)
    np.testing.assert_allclose(result.layers, layers, rtol=1e-8)


def test_a_callback_sees_the_last_finite_state_of_a_diverging_run() -> None:
    phi = symmetric_target([0.5, 1.0, 2.0, 3.0], seed=0)
    calls = []

    def callback(step: int, layers: np.ndarray, loss: float) -> None:
        assert np.isfinite(layers).all() and np.isfinite(loss)
        assert loss == pytest.approx(dl.loss(layers, phi), rel=1e-9)
        calls.append(step)

    result = dl.train(phi, 4, lr=0.5, max_steps=1000, record_every=2, callback=callback)
    assert result.status == "diverged" and result.steps == 3
    assert calls == result.loss_steps.tolist() and calls[-1] == result.steps


@pytest.mark.parametrize("runner", ["train", "spectral_gd"])
def test_a_loss_above_1e100_stops_the_run_as_diverged(runner: str) -> None:
    # L = 1, Φ = 0, η = 3: Θ_t = (1 − η)^t I = (−2)^t I exactly, ℓ_t = ½ d 4^t exactly.
    # The first t with ℓ_t > 1e100 ends the run; its state is finite and kept.
    dim = 2
    first = next(t for t in range(1000) if 0.5 * dim * 4.0**t > 1e100)
    phi = np.zeros((dim, dim))
    run = dl.train if runner == "train" else dl.spectral_gd
    result = run(phi, 1, lr=3.0, max_steps=10_000, record_every=50)
    assert result.status == "diverged" and result.steps == first
    assert 1e100 < result.final_loss == result.losses[-1] == 0.5 * dim * 4.0**first
    np.testing.assert_array_equal(result.layers[0], (-2.0) ** first * np.eye(dim))
    np.testing.assert_array_equal(result.loss_steps, expected_record_steps(first, 50))
    assert np.isfinite(result.losses).all()


@pytest.mark.parametrize("runner", ["train", "spectral_gd"])
def test_an_overflowing_first_step_keeps_the_start(runner: str) -> None:
    # L = 1, Φ = 0, η = 1 + 1e200: Θ_1 = −1e200 I, whose loss overflows; the run keeps Θ_0 = I.
    run = dl.train if runner == "train" else dl.spectral_gd
    result = run(np.zeros((3, 3)), 1, lr=1.0 + 1e200, max_steps=10)
    assert result.status == "diverged" and result.steps == 0
    np.testing.assert_array_equal(result.layers, identity_stack(1, 3))
    np.testing.assert_array_equal(result.losses, [1.5])
    np.testing.assert_array_equal(result.loss_steps, [0])
    assert result.final_loss == 1.5


# -- Ctrl-C ----------------------------------------------------------------------------------


def test_ctrl_c_interrupts_train_promptly_with_a_warning() -> None:
    dim, depth, lr = 64, 8, 1e-3
    phi = np.eye(dim) + 0.1 * np.random.default_rng(0).standard_normal((dim, dim))
    timer, sent = interrupt_after(0.3)
    try:
        with pytest.warns(RuntimeWarning, match="interrupt"):
            result = dl.train(phi, depth, lr=lr, max_steps=300_000, record_every=1000)
        returned = time.perf_counter()
    finally:
        timer.join()
    assert len(sent) == 1
    assert returned - sent[0] < 1.0  # generous: the loop polls for signals about every 50 ms
    assert result.status == "interrupted"
    assert 0 < result.steps < 300_000 and np.isfinite(result.layers).all()
    assert result.loss_steps[-1] == result.steps
    assert result.final_loss == pytest.approx(dl.loss(result.layers, phi), rel=1e-12)
    # the state is that of a completed step: the numpy loop after the same number of steps
    if result.steps <= 3000:
        layers, _, _ = numpy_gd(phi, identity_stack(depth, dim), lr, result.steps)
        np.testing.assert_allclose(result.layers, layers, rtol=0, atol=1e-9)


def test_ctrl_c_interrupts_spectral_gd_with_a_warning() -> None:
    mu = np.array([0.5, 1.0, 2.0, 4.0])
    phi = symmetric_target(mu, seed=6)
    depth = 4
    timer, sent = interrupt_after(0.2)
    try:
        with pytest.warns(RuntimeWarning, match="interrupt"):
            result = dl.spectral_gd(phi, depth, lr=1e-9, max_steps=10**9, record_every=10**8)
        returned = time.perf_counter()
    finally:
        timer.join()
    assert returned - sent[0] < 1.0
    assert result.status == "interrupted" and 0 < result.steps < 10**9
    a = result.extras["a"]
    assert np.isfinite(a).all() and np.isfinite(result.layers).all()
    assert result.final_loss == pytest.approx(0.5 * np.sum((a**depth - mu) ** 2), rel=1e-12)
    assert result.final_loss == pytest.approx(dl.loss(result.layers, phi), rel=1e-9)
    # a has moved from 1 towards μ^{1/L}, monotonically (Lemma 6)
    assert np.all((a - 1) * (mu ** (1 / depth) - 1) >= 0)


# -- dtypes ----------------------------------------------------------------------------------


def test_float32_runs_stay_float32(asymmetric: np.ndarray) -> None:
    single = dl.train(asymmetric.astype(np.float32), 4, lr=0.02, max_steps=100, record_every=10)
    double = dl.train(asymmetric, 4, lr=0.02, max_steps=100, record_every=10)
    assert single.layers.dtype == np.float32
    assert double.layers.dtype == np.float64
    np.testing.assert_allclose(single.losses, double.losses, rtol=1e-4)
    np.testing.assert_allclose(single.layers, double.layers, rtol=0, atol=1e-4)
    assert not np.array_equal(single.losses, double.losses)  # it really ran in float32


def test_float32_spectral_gd_stays_float32() -> None:
    mu = np.array([0.5, 1.0, 2.0])
    phi = symmetric_target(mu, seed=7)
    single = dl.spectral_gd(phi.astype(np.float32), 3, lr=0.01, max_steps=100, record_every=10)
    double = dl.spectral_gd(phi, 3, lr=0.01, max_steps=100, record_every=10)
    assert single.extras["a"].dtype == np.float32
    assert single.layers.dtype == np.float32
    np.testing.assert_allclose(single.losses, double.losses, rtol=1e-4)


def test_float32_trainer_keeps_float32_layers(asymmetric: np.ndarray) -> None:
    trainer = dl.Trainer(asymmetric.astype(np.float32), 3, lr=0.05, init=identity_stack(3, 5))
    trainer.step(10)
    assert trainer.layers.dtype == np.float32


# -- Trainer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [5, 7])
@pytest.mark.parametrize("record_every", [1, 10])
def test_trainer_steps_then_run_equal_one_train(dim: int, record_every: int) -> None:
    phi = asymmetric_target(dim, seed=9)
    straight = dl.train(phi, 4, lr=0.05, max_steps=120, record_every=record_every)
    trainer = dl.Trainer(phi, 4, lr=0.05, record_every=record_every)
    trainer.step(37)
    trainer.step(3)
    trainer.step()
    result = trainer.run(max_steps=79)
    assert trainer.steps == result.steps == 120 and result.status == "max_steps"
    np.testing.assert_array_equal(trainer.layers, straight.layers)
    np.testing.assert_array_equal(result.layers, straight.layers)
    np.testing.assert_array_equal(trainer.losses, straight.losses)
    np.testing.assert_array_equal(trainer.loss_steps, straight.loss_steps)
    assert result.final_loss == straight.final_loss


@settings(max_examples=40)
@given(
    st.lists(st.integers(1, 12), max_size=4),
    st.integers(0, 15),
    st.sampled_from([1, 2, 3, 5, 10]),
)
def test_any_sequence_of_steps_records_like_one_run(chunks, last: int, record_every: int) -> None:
    phi = asymmetric_target(3, seed=1)
    total = sum(chunks) + last
    straight = dl.train(phi, 3, lr=0.05, max_steps=total, record_every=record_every)
    trainer = dl.Trainer(phi, 3, lr=0.05, record_every=record_every)
    for n in chunks:
        trainer.step(n)
    result = trainer.run(max_steps=last)
    assert result.steps == trainer.steps == total
    np.testing.assert_array_equal(trainer.loss_steps, straight.loss_steps)
    np.testing.assert_array_equal(trainer.losses, straight.losses)
    np.testing.assert_array_equal(trainer.layers, straight.layers)


@pytest.mark.parametrize("record_every", [1, 5])
def test_trainer_step_zero_changes_nothing(asymmetric: np.ndarray, record_every: int) -> None:
    # step(0) takes no step and records nothing new: the history stays that of one run.
    straight = dl.train(asymmetric, 3, lr=0.05, max_steps=20, record_every=record_every)
    trainer = dl.Trainer(asymmetric, 3, lr=0.05, record_every=record_every)
    trainer.step(10)  # ends on the record grid
    trainer.step(0)
    trainer.run(max_steps=10)
    np.testing.assert_array_equal(trainer.loss_steps, straight.loss_steps)
    np.testing.assert_array_equal(trainer.losses, straight.losses)
    np.testing.assert_array_equal(trainer.layers, straight.layers)


def test_trainer_state_properties(asymmetric: np.ndarray) -> None:
    trainer = dl.Trainer(asymmetric, 3, lr=0.05)
    assert trainer.steps == 0
    np.testing.assert_array_equal(trainer.layers, identity_stack(3, 5))
    assert trainer.loss == pytest.approx(numpy_loss(identity_stack(3, 5), asymmetric), rel=1e-13)
    after = trainer.step(6)
    layers, losses, _ = numpy_gd(asymmetric, identity_stack(3, 5), 0.05, 6)
    assert trainer.steps == 6
    assert after == trainer.loss == pytest.approx(losses[-1], rel=1e-11)
    np.testing.assert_allclose(trainer.layers, layers, atol=1e-12)


def test_trainer_live_layers_are_writable_between_steps(asymmetric: np.ndarray) -> None:
    trainer = dl.Trainer(asymmetric, 3, lr=0.05)
    trainer.step(5)
    live = trainer.layers
    live[1] += 0.05 * np.eye(5)
    live[2, 0, 4] -= 0.3
    edited = live.copy()
    assert trainer.loss == pytest.approx(numpy_loss(edited, asymmetric), rel=1e-12)
    expected, losses, _ = numpy_gd(asymmetric, edited, 0.05, 4)
    trainer.step(4)
    np.testing.assert_allclose(trainer.layers, expected, rtol=0, atol=1e-12)
    assert trainer.loss == pytest.approx(losses[-1], rel=1e-11)
    # assigning a whole new stack also works and is copied in
    fresh = identity_stack(3, 5, 0.9)
    trainer.layers = fresh
    fresh[...] = 0.0
    np.testing.assert_array_equal(trainer.layers, identity_stack(3, 5, 0.9))
    result = trainer.run(max_steps=3)
    np.testing.assert_allclose(
        result.layers, numpy_gd(asymmetric, identity_stack(3, 5, 0.9), 0.05, 3)[0], atol=1e-12
    )


def test_trainer_results_are_snapshots(asymmetric: np.ndarray) -> None:
    trainer = dl.Trainer(asymmetric, 3, lr=0.05)
    result = trainer.run(max_steps=5)
    saved = result.layers.copy()
    trainer.step(5)
    np.testing.assert_array_equal(result.layers, saved)


def test_results_print_readably(asymmetric: np.ndarray) -> None:
    result = dl.train(asymmetric, 3, lr=0.05, max_steps=10)
    text = repr(result)
    assert "status='max_steps'" in text and "steps=10" in text
    assert f"final_loss={result.final_loss:.6g}" in text
    trainer = dl.Trainer(asymmetric, 3, lr=0.05)
    assert "steps=0" in repr(trainer) and "status=" in repr(trainer)
    trainer.step(7)
    assert "steps=7" in repr(trainer)


# -- progress bar ----------------------------------------------------------------------------


def test_progress_bar_gives_the_same_result(asymmetric: np.ndarray) -> None:
    for options in ({"max_steps": 300, "record_every": 25}, {"max_steps": 10**6, "tol": 1e-6}):
        quiet = dl.train(asymmetric, 3, lr=0.05, **options)
        shown = dl.train(asymmetric, 3, lr=0.05, progress=True, **options)
        assert shown.status == quiet.status and shown.steps == quiet.steps
        np.testing.assert_array_equal(quiet.layers, shown.layers)
        np.testing.assert_array_equal(quiet.losses, shown.losses)
        np.testing.assert_array_equal(quiet.loss_steps, shown.loss_steps)
    assert quiet.status == "converged"
    calls: dict[bool, list[int]] = {False: [], True: []}
    for progress in (False, True):
        dl.train(
            asymmetric,
            3,
            lr=0.05,
            max_steps=60,
            record_every=7,
            progress=progress,
            callback=lambda step, *_, progress=progress: calls[progress].append(step),
        )
    assert calls[True] == calls[False] == expected_record_steps(60, 7)


# -- the caller's arrays ---------------------------------------------------------------------


def test_phi_and_init_are_never_modified(asymmetric: np.ndarray) -> None:
    phi = asymmetric.copy()
    init = np.eye(5) + 0.05 * np.random.default_rng(2).standard_normal((3, 5, 5))
    saved_phi, saved_init = phi.copy(), init.copy()
    dl.train(phi, 3, lr=0.05, max_steps=20, init=init)
    trainer = dl.Trainer(phi, 3, lr=0.05, init=init)
    trainer.step(10)
    trainer.layers[0] += 1.0
    trainer.run(max_steps=5)
    np.testing.assert_array_equal(phi, saved_phi)
    np.testing.assert_array_equal(init, saved_init)
    # and the trainer does not see later changes to the caller's arrays either
    before = trainer.layers.copy()
    phi[...] = 0.0
    init[...] = 0.0
    np.testing.assert_array_equal(trainer.layers, before)
    np.testing.assert_array_equal(trainer.phi, saved_phi)
    symmetric = symmetric_target([0.5, 1.0, 2.0], seed=8)
    saved_symmetric = symmetric.copy()
    dl.spectral_gd(symmetric, 3, lr=0.05, max_steps=20)
    np.testing.assert_array_equal(symmetric, saved_symmetric)


def test_results_own_their_layers(asymmetric: np.ndarray) -> None:
    init = identity_stack(3, 5, 1.05)
    result = dl.train(asymmetric, 3, lr=0.05, max_steps=5, init=init)
    assert not np.shares_memory(result.layers, init)
    assert result.layers.flags.writeable and result.layers.flags.c_contiguous
    # Trainer.run's result is a snapshot: later steps do not move it
    trainer = dl.Trainer(asymmetric, 3, lr=0.05, init=init)
    snapshot = trainer.run(max_steps=5)
    np.testing.assert_array_equal(snapshot.layers, result.layers)
    trainer.step(3)
    assert not np.shares_memory(snapshot.layers, trainer.layers)
    np.testing.assert_array_equal(snapshot.layers, result.layers)


def test_read_only_and_non_contiguous_phi_and_init_are_accepted(asymmetric: np.ndarray) -> None:
    phi = np.asfortranarray(asymmetric)
    phi.flags.writeable = False
    init = np.ascontiguousarray(identity_stack(3, 5, 1.05)[:, ::-1])[:, ::-1]
    init.flags.writeable = False
    expected = dl.train(asymmetric, 3, lr=0.05, max_steps=20, init=identity_stack(3, 5, 1.05))
    got = dl.train(phi, 3, lr=0.05, max_steps=20, init=init)
    np.testing.assert_array_equal(got.layers, expected.layers)
    np.testing.assert_array_equal(got.losses, expected.losses)


def test_threads_give_the_same_answer_to_rounding() -> None:
    phi = symmetric_target(np.linspace(0.5, 3.0, 96), seed=1)
    one = dl.train(phi, 4, lr=0.05, max_steps=5, threads=1)
    two = dl.train(phi, 4, lr=0.05, max_steps=5, threads=2)
    np.testing.assert_allclose(two.layers, one.layers, rtol=0, atol=1e-12)
    np.testing.assert_allclose(two.losses, one.losses, rtol=1e-12)


def run_core(phi: np.ndarray, depth: int, method: str, steps: int, **options) -> tuple:
    """(layers, losses) of `steps` steps from the identity in one compiled call; options go to
    the core's session (lr, the method's parameters, threads, split, isa, backend)."""
    return run_session(phi, depth, method, steps, **options)


@pytest.mark.parametrize("dim", [64, 71])
@pytest.mark.parametrize("method", ["gd", "penalty", "step_and_project"])
@pytest.mark.parametrize("split", ["always", "timed"])
def test_threads_split_the_small_kernel_without_changing_a_bit(
    dim: int, method: str, split: str
) -> None:
    # 64 ≤ d ≤ 80: the register-blocked kernel shares its row blocks among the threads (71: a
    # tail of 5 rows past the last 6-row block); every row is computed as with one thread.
    # "always" splits every product; "timed" (the default) probes both ways in turn (48
    # products on one thread, then up to 48 split, ...) within these 12 steps of ~13 products.
    rng = np.random.default_rng(dim)
    phi = np.eye(dim) + 0.3 * rng.standard_normal((dim, dim)) / np.sqrt(dim)
    # (ψ small enough that every step after the first few projects: the SVD and its product on
    # the threads)
    options = {"gd": {}, "penalty": {"kappa": 0.1}, "step_and_project": {"psi": 0.01}}[method]
    one = run_core(phi, 5, method, 12, lr=0.05, threads=1, **options)
    two = run_core(phi, 5, method, 12, lr=0.05, threads=2, split=split, **options)
    np.testing.assert_array_equal(two[0], one[0])
    np.testing.assert_array_equal(two[1], one[1])
    assert one[1][-1] < one[1][0]


def test_the_split_policy_is_checked() -> None:
    phi = np.eye(3)
    with pytest.raises(ValueError, match="split policy"):
        run_core(phi, 2, "gd", 1, lr=0.1, split="sometimes")


def test_trainer_repr_shows_the_current_loss() -> None:
    phi = np.diag([2.0, 0.5])
    trainer = dl.Trainer(phi, 2, lr=0.1)
    # at the identity ℓ = ½((2 − 1)² + (0.5 − 1)²) = 0.625
    assert "loss=0.625," in repr(trainer)
    trainer.layers[0, 0, 0] = np.nan  # a repr never raises, even on a corrupted state
    assert "loss=nan" in repr(trainer)


@pytest.mark.parametrize("every", [1, 3, 7, 2**62])
def test_the_record_grid_holds_up_to_the_largest_step_count(tmp_path, every: int) -> None:
    # The grid is counted step by step, not divided out: from any step count up to 2**63 - 1
    # (where the next multiple of record_every would overflow, there is none) step() records
    # the multiples of record_every, whether the count starts on them or not, one call or two.
    phi = dl.targets.gamma_positive(3, 0.4, seed=0)
    path = tmp_path / "start.npz"
    dl.Trainer(phi, 2, lr=0.01, record_every=every).save(path)
    with np.load(path) as saved:
        data = dict(saved)
    start = 2**63 - 12
    data.update(
        steps=np.array(start),
        losses=np.zeros(0),
        loss_steps=np.zeros(0, dtype=np.int64),
        recorded_current=np.array(False),
    )
    np.savez(path, **data)
    trainer = dl.Trainer.load(path)
    trainer.step(4)
    trainer.step(7)
    expected = [s for s in range(start, start + 12) if s % every == 0]
    assert trainer.loss_steps.tolist() == expected
    assert len(expected) == {1: 12, 3: 4, 7: 2, 2**62: 0}[every]
    with pytest.raises(ValueError, match="2\\*\\*63 - 1"):
        trainer.step(1)


@pytest.mark.parametrize("callback", [None, lambda step, layers, loss: None])
def test_a_step_budget_past_the_largest_step_count_is_refused_naming_its_argument(
    callback,
) -> None:
    # step(n) named max_steps; with a callback, run(2**63 - 3) stepped in one-step chunks up to
    # the overflow instead of refusing
    trainer = dl.Trainer(np.eye(3) * 1.1, 2, lr=0.01, callback=callback)
    trainer.step(5)
    with pytest.raises(ValueError, match=r"^n = 9223372036854775803 would take the step count"):
        trainer.step(2**63 - 5)
    with pytest.raises(ValueError, match=r"^max_steps = 9223372036854775803 would take"):
        trainer.run(2**63 - 5)
    assert trainer.steps == 5
    trainer.step(2)


def test_spectral_gd_counts_the_skew_part_that_its_tolerance_lets_through() -> None:
    # Φ symmetric to 5e-11 (inside spectral_gd's tolerance): the skew part K is orthogonal to
    # every symmetric product, so each loss is at least ½‖K‖²; it was left out, and the run
    # "converged" below tol with layers whose loss is above it
    phi = dl.targets.spd(3, 2.0, seed=0)
    skew = np.array([[0.0, 5e-11, 0.0], [-5e-11, 0.0, 0.0], [0.0, 0.0, 0.0]])
    result = dl.spectral_gd(phi + skew, 2, lr=0.1, max_steps=4000, tol=1e-24)
    assert result.final_loss == pytest.approx(reference_loss(result.layers, phi + skew), rel=1e-6)
    assert result.final_loss >= 0.5 * np.sum(skew**2) and result.status == "max_steps"
