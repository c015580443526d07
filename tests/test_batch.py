"""train_batch / BatchTrainer: B independent networks in one call, each exactly its own run."""

from __future__ import annotations

import functools
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl
from interrupts import interrupt_after
from reference import loss as reference_loss

METHODS = [
    ("gd", {}),
    ("penalty", {"kappa": [0.0, 0.1, 0.3]}),
    ("step_and_project", {"psi": [0.2, 0.5, 1.0]}),
    ("power_projection", {"gamma": [0.1, 0.2, 0.3]}),
]


def _phis(count: int, dim: int, dtype=np.float64) -> np.ndarray:
    return np.stack([dl.targets.gamma_positive(dim, 0.4, seed=s) for s in range(count)]).astype(
        dtype
    )


def _option(options: dict, b: int) -> dict:
    return {k: (v[b] if isinstance(v, list) else v) for k, v in options.items()}


def _assert_same(result: dl.TrainResult, alone: dl.TrainResult) -> None:
    np.testing.assert_array_equal(result.layers, alone.layers)
    np.testing.assert_array_equal(result.losses, alone.losses)
    np.testing.assert_array_equal(result.loss_steps, alone.loss_steps)
    assert result.steps == alone.steps and result.status == alone.status
    assert result.final_loss == alone.final_loss


@pytest.mark.parametrize(("method", "options"), METHODS)
@pytest.mark.parametrize("dim", [3, 4, 7, 20])
def test_each_network_is_its_own_run_bit_for_bit(method: str, options: dict, dim: int) -> None:
    phis = _phis(3, dim)
    lr = [0.02, 0.05, 0.03]
    tol = [0.0, 1e-3, 0.0]
    batch = dl.train_batch(phis, 3, method, lr=lr, tol=tol, max_steps=60, record_every=7, **options)
    assert batch.layers.shape == (3, 3, dim, dim) and len(batch) == 3
    for b in range(3):
        alone = dl.train(
            phis[b],
            3,
            method,
            lr=lr[b],
            tol=tol[b],
            max_steps=60,
            record_every=7,
            **_option(options, b),
        )
        _assert_same(batch[b], alone)
        # the (B, n) table holds the same numbers at the shared steps
        where = np.searchsorted(batch.loss_steps, alone.loss_steps)
        np.testing.assert_array_equal(batch.losses[b, where], alone.losses)


def test_threads_do_not_change_a_bit() -> None:
    phis = _phis(9, 6)
    one = dl.train_batch(phis, 4, lr=0.03, max_steps=80, record_every=5)
    two = dl.train_batch(phis, 4, lr=0.03, max_steps=80, record_every=5, threads=2)
    np.testing.assert_array_equal(one.layers, two.layers)
    np.testing.assert_array_equal(one.losses, two.losses)


def test_float32_batches_stay_float32_and_match_float32_runs() -> None:
    phis = _phis(2, 5, np.float32)
    batch = dl.train_batch(phis, 3, lr=0.05, max_steps=30)
    assert batch.layers.dtype == np.float32
    _assert_same(batch[1], dl.train(phis[1], 3, lr=0.05, max_steps=30))


def test_every_network_has_its_own_stop_and_status() -> None:
    phis = _phis(3, 4)
    result = dl.train_batch(phis, 3, lr=[0.05, 1e3, 0.05], tol=[1e-4, 0.0, 0.0], max_steps=500)
    assert list(result.status) == ["converged", "diverged", "max_steps"]
    assert result.steps[0] < 500 and result.steps[2] == 500
    assert np.isfinite(result.layers).all()  # the diverged one keeps its last finite state
    for b in range(3):
        assert result.final_loss[b] == pytest.approx(
            reference_loss(result.layers[b], phis[b]), rel=1e-9
        )


@pytest.mark.parametrize("dim", [4, 20])  # the lanes; a kernel per network
def test_a_network_whose_start_overflows_has_an_infinite_loss(dim: int) -> None:
    # Network 1 starts at 10²⁰⁰·I (L = 3): its product overflows, and its loss came out NaN.
    phis = _phis(2, dim)
    init = np.stack([np.stack([np.eye(dim)] * 3), np.stack([1e200 * np.eye(dim)] * 3)])
    result = dl.train_batch(phis, 3, lr=0.05, max_steps=5, init=init)
    assert list(result.status) == ["max_steps", "diverged"] and result.steps[1] == 0
    assert result.final_loss[1] == np.inf and result[1].losses.tolist() == [np.inf]
    assert np.isfinite(result.final_loss[0])


def test_init_shared_per_network_and_numbers() -> None:
    phis = _phis(2, 3)
    shared = np.stack([np.eye(3) * 0.9] * 2)
    per = np.stack([shared, 1.1 * shared])
    a = dl.train_batch(phis, 2, lr=0.05, max_steps=5, init=shared)
    b = dl.train_batch(phis, 2, lr=0.05, max_steps=5, init=per)
    c = dl.train_batch(phis, 2, lr=0.05, max_steps=5, init=0.9)
    np.testing.assert_array_equal(a.layers, c.layers)
    _assert_same(b[1], dl.train(phis[1], 2, lr=0.05, max_steps=5, init=per[1]))


def test_steppable_batches_record_like_one_run() -> None:
    phis = _phis(3, 4)
    trainer = dl.BatchTrainer(phis, 3, lr=0.04, record_every=4)
    trainer.step(5)
    trainer.step(6)
    result = trainer.run(max_steps=9)
    straight = dl.train_batch(phis, 3, lr=0.04, record_every=4, max_steps=20)
    np.testing.assert_array_equal(trainer.layers, straight.layers)
    for b in range(3):
        history = trainer.history(b)
        np.testing.assert_array_equal(history.losses, straight[b].losses)
        np.testing.assert_array_equal(history.loss_steps, straight[b].loss_steps)
    assert result.steps.tolist() == [20, 20, 20]


def test_a_callback_sees_the_batch_and_can_stop_it() -> None:
    phis = _phis(2, 4)
    seen = []

    def callback(steps, layers, losses):
        seen.append((steps.copy(), losses.copy()))
        assert layers.shape == (2, 3, 4, 4)
        return bool(steps[0] >= 20)

    result = dl.train_batch(phis, 3, lr=0.04, max_steps=100, record_every=10, callback=callback)
    assert [s.tolist() for s, _ in seen] == [[10, 10], [20, 20]]
    assert list(result.status) == ["stopped", "stopped"] and result.steps.tolist() == [20, 20]
    for b in range(2):
        assert seen[-1][1][b] == pytest.approx(reference_loss(result.layers[b], phis[b]), rel=1e-12)


def test_a_callback_breaking_one_network_stops_only_that_one() -> None:
    phis = _phis(2, 4)

    def callback(steps, layers, losses):
        if steps[0] == 10:
            layers[1, 0, 0, 0] = np.nan

    result = dl.train_batch(phis, 3, lr=0.04, max_steps=30, record_every=10, callback=callback)
    assert list(result.status) == ["max_steps", "diverged"]
    assert result.steps.tolist() == [30, 10] and np.isfinite(result.layers).all()


def test_a_network_that_converged_and_is_then_edited_by_a_callback_resumes() -> None:
    # network 0 converges at step 3; at network 1's step 20 the callback moves it back to the
    # identity (ℓ = 2e-4 > tol): it goes on under its stop rule instead of keeping "converged"
    phis = np.stack([np.eye(4) * 1.01, np.eye(4) * 1.5])

    def callback(steps, layers, losses):
        if steps[1] == 20:
            assert steps[0] == 3 and losses[0] <= 1e-4
            layers[0] = np.eye(4)

    result = dl.train_batch(
        phis, 3, lr=0.04, max_steps=200, tol=1e-4, record_every=10, callback=callback
    )
    assert list(result.status) == ["converged", "converged"]
    assert result.steps.tolist() == [6, 22]
    assert (result.final_loss <= 1e-4).all()
    assert result[0].loss_steps.tolist() == [0, 3, 6]
    assert result.final_loss[0] == pytest.approx(
        reference_loss(result.layers[0], phis[0]), rel=1e-12
    )


def test_a_network_that_diverged_and_is_then_reset_by_a_callback_resumes() -> None:
    phis = np.stack([np.eye(4) * 1.5, np.eye(4) * 1.5])
    trainer = dl.BatchTrainer(phis, 3, lr=[0.04, 3.0], record_every=10)

    def callback(steps, layers, losses):
        if steps[0] == 20:
            assert steps[1] == 3 and list(trainer.status) == ["max_steps", "diverged"]
            layers[1] = np.eye(4)
            trainer.lr = [0.04, 0.04]

    trainer.callback = callback
    result = trainer.run(max_steps=40)
    assert list(result.status) == ["max_steps", "max_steps"]
    assert result.steps.tolist() == [40, 23]
    # 20 steps from the identity at lr 0.04: what train gives, bit for bit
    alone = dl.train(phis[1], 3, lr=0.04, max_steps=20)
    np.testing.assert_array_equal(result.layers[1], alone.layers)


def test_a_step_budget_past_the_largest_step_count_names_its_argument() -> None:
    trainer = dl.BatchTrainer(_phis(2, 3), 2, lr=0.04)
    trainer.step(5)
    with pytest.raises(ValueError, match=r"^n = 9223372036854775803 would take the step count"):
        trainer.step(2**63 - 5)
    with pytest.raises(ValueError, match=r"^max_steps = 9223372036854775803 would take"):
        trainer.run(2**63 - 5)
    assert trainer.steps.tolist() == [5, 5]


def test_a_batch_used_from_two_threads_refuses_the_second(tmp_path: Path) -> None:
    # the first thread holds the batch inside its callback: every call of a second thread is
    # refused (no torn checkpoint, no second run mixed in); reading steps and status is allowed
    trainer = dl.BatchTrainer(_phis(3, 4), 3, lr=0.04, record_every=5)
    inside, release = threading.Event(), threading.Event()

    def callback(steps, layers, losses):
        inside.set()
        release.wait(30)

    trainer.callback = callback
    worker = threading.Thread(target=trainer.run, kwargs={"max_steps": 10})
    worker.start()
    try:
        assert inside.wait(30)
        for action in (
            lambda: trainer.step(1),
            lambda: trainer.run(1),
            lambda: trainer.save(tmp_path / "never.npz"),
            lambda: trainer.loss,
        ):
            with pytest.raises(RuntimeError, match="another thread"):
                action()
        assert trainer.steps.tolist() == [5, 5, 5] and len(trainer.status) == 3
    finally:
        release.set()
        worker.join()
    assert not (tmp_path / "never.npz").exists()
    assert trainer.steps.tolist() == [10, 10, 10]


def test_a_callback_stop_off_the_record_grid_records_the_final_state() -> None:
    # the callback comes every record_every steps of the call, here off the grid of records
    # (steps 8 after 3 + 5): the state it stops at is recorded, as a run that ends early is
    phis = _phis(2, 4)
    trainer = dl.BatchTrainer(phis, 3, lr=0.04, record_every=5)
    trainer.step(3)
    trainer.callback = lambda steps, layers, losses: True
    result = trainer.run(max_steps=12)
    assert list(result.status) == ["stopped", "stopped"] and result.steps.tolist() == [8, 8]
    for b in range(2):
        history = result[b]
        assert history.loss_steps[-1] == 8 and history.losses[-1] == result.final_loss[b]
        assert result.final_loss[b] == pytest.approx(
            reference_loss(result.layers[b], phis[b]), rel=1e-12
        )


def test_ctrl_c_in_a_batch_callback_that_wrote_nan_restores_the_layers() -> None:
    phis = _phis(2, 4)
    before = {}

    def callback(steps, layers, losses):
        before["layers"] = layers.copy()
        layers[1, 0, 0, 0] = np.nan
        raise KeyboardInterrupt

    with pytest.warns(RuntimeWarning, match="interrupted"):
        result = dl.train_batch(phis, 3, lr=0.04, max_steps=30, record_every=10, callback=callback)
    assert list(result.status) == ["interrupted", "interrupted"]
    np.testing.assert_array_equal(result.layers, before["layers"])
    for b in range(2):
        assert result.final_loss[b] == pytest.approx(
            reference_loss(result.layers[b], phis[b]), rel=1e-12
        )


def test_a_batch_callback_saves_the_statuses_so_far(tmp_path: Path) -> None:
    # network 0 diverges at its start (its product overflows: loss +inf), before the callback;
    # a checkpoint saved there says so, and loads
    phis = _phis(2, 3)
    init = np.stack([np.full((3, 3, 3), 0.0) + 1e200 * np.eye(3), np.stack([np.eye(3)] * 3)])
    path = tmp_path / "in_callback.npz"
    seen = []

    def callback(steps, layers, losses):
        seen.append(list(trainer.status))
        trainer.save(path)
        return True

    trainer = dl.BatchTrainer(phis, 3, lr=0.04, init=init, record_every=2, callback=callback)
    trainer.run(max_steps=10)
    assert seen == [["diverged", "max_steps"]]
    loaded = dl.BatchTrainer.load(path)
    assert list(loaded.status) == ["diverged", "max_steps"]


@pytest.mark.parametrize(("method", "options"), METHODS)
def test_save_and_load_resume_bit_for_bit(tmp_path: Path, method: str, options: dict) -> None:
    phis = _phis(3, 4)
    straight = dl.BatchTrainer(
        phis, 3, method, lr=0.05, record_every=3, diagnostics=True, **options
    )
    straight.run(max_steps=40)
    first = dl.BatchTrainer(phis, 3, method, lr=0.05, record_every=3, diagnostics=True, **options)
    first.step(17)
    first.save(tmp_path / "batch.npz")
    loaded = dl.BatchTrainer.load(tmp_path / "batch.npz")
    assert loaded.steps.tolist() == [17, 17, 17]
    loaded.run(max_steps=23)
    np.testing.assert_array_equal(loaded.layers, straight.layers)
    for b in range(3):
        _assert_same(loaded.history(b), straight.history(b))


def test_corrupt_batch_checkpoints_raise_value_error(tmp_path: Path) -> None:
    trainer = dl.BatchTrainer(_phis(2, 3), 2, lr=0.05)
    trainer.step(4)
    path = tmp_path / "b.npz"
    trainer.save(path)
    with np.load(path) as saved:
        data = dict(saved)
    for field, value in (
        ("history_sizes", np.array([6, 6])),
        ("history_sizes", np.array([3, 7])),
        ("steps", np.array([4])),
        ("status", np.array(["max_steps", "exploded"])),
        ("lr", np.array([0.05, -1.0])),
    ):
        broken = dict(data, **{field: value})
        np.savez(tmp_path / "x.npz", **broken)
        with pytest.raises(ValueError):
            dl.BatchTrainer.load(tmp_path / "x.npz")
    (tmp_path / "y.npz").write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError):
        dl.BatchTrainer.load(tmp_path / "y.npz")


def test_two_thread_batches_run_side_by_side_give_the_bits_of_each_alone() -> None:
    # each call's helper threads are its own (OpenMP teams of different calling threads)
    phis = [np.stack([dl.targets.spd(d, 3.0, seed=10 * d + s) for s in range(6)]) for d in (4, 9)]
    alone = [dl.train_batch(p, 5, lr=0.03, max_steps=300, threads=2).layers for p in phis]
    together: list[np.ndarray | None] = [None, None]

    def run(k: int) -> None:
        together[k] = dl.train_batch(phis[k], 5, lr=0.03, max_steps=300, threads=2).layers

    workers = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for k in (0, 1):
        np.testing.assert_array_equal(together[k], alone[k])


def test_ctrl_c_stops_a_two_thread_batch_whose_calling_thread_is_done() -> None:
    # one network stops at once (its tol), the other runs long: whichever thread took the short
    # one waits for the other, and the calling thread still answers Ctrl-C within its polls
    phis = np.stack([dl.targets.spd(32, 3.0, seed=s) for s in range(2)])
    for _ in range(3):  # either thread may take either network
        timer, sent = interrupt_after(0.3)
        try:
            with pytest.warns(RuntimeWarning, match="interrupted"):
                result = dl.train_batch(
                    phis, 6, lr=1e-4, max_steps=400_000, tol=[1e9, 0.0], threads=2
                )
            returned = time.perf_counter()
        finally:
            timer.join()
        assert returned - sent[0] < 1.0
        assert list(result.status) == ["converged", "interrupted"]
        assert result.steps[0] == 0 and result.steps[1] > 0


def test_ctrl_c_stops_the_batch_with_every_network_consistent() -> None:
    phis = np.stack([dl.targets.spd(32, 3.0, seed=s) for s in range(4)])
    timer, sent = interrupt_after(0.3)
    try:
        with pytest.warns(RuntimeWarning, match="interrupted"):
            result = dl.train_batch(phis, 6, lr=1e-4, max_steps=400_000, record_every=100)
        returned = time.perf_counter()
    finally:
        timer.join()
    assert returned - sent[0] < 1.0
    assert set(result.status) == {"interrupted"}
    for b in range(4):
        run = result[b]
        assert run.loss_steps[-1] == run.steps
        replay = dl.train(phis[b], 6, lr=1e-4, max_steps=run.steps, record_every=100)
        np.testing.assert_array_equal(run.layers, replay.layers)


def test_bad_batch_arguments_name_the_argument() -> None:
    phis = _phis(2, 3)
    with pytest.raises(ValueError, match="phis"):
        dl.train_batch(np.eye(3), 2, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        dl.train_batch(phis, 2, lr=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match=r"lr\[1\]"):
        dl.train_batch(phis, 2, lr=[0.1, -0.1])
    with pytest.raises(ValueError, match=r"network 1: .*gamma"):
        dl.train_batch(phis, 2, "power_projection", lr=0.1, gamma=[0.1, -1.0])
    with pytest.raises(ValueError, match="init"):
        dl.train_batch(phis, 2, lr=0.1, init=np.zeros((3, 3, 3)))
    with pytest.raises(TypeError, match="unexpected keyword"):
        dl.train_batch(phis, 2, lr=0.1, learning_rate=0.1)
    trainer = dl.BatchTrainer(phis, 2, lr=0.1)
    trainer.layers[1, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="network 1"):
        trainer.step(1)


def test_per_network_values_are_each_checked_even_when_equal_to_an_accepted_one() -> None:
    # per-network values are each checked: True equals 1.0 but is not a number here,
    # and an object array's values (Python objects) are checked as they are
    phis = _phis(3, 3)
    with pytest.raises(TypeError, match="network 1: kappa must be a real number, got bool"):
        dl.train_batch(phis, 2, "penalty", lr=0.1, kappa=np.array([1.0, True, 1.0], dtype=object))
    with pytest.raises(TypeError, match="network 2: kappa"):
        dl.train_batch(phis, 2, "penalty", lr=0.1, kappa=np.array([0.5, 0.5, "0.5"], dtype=object))
    mixed = dl.train_batch(phis, 2, "penalty", lr=0.1, kappa=[0.2, 0.1, 0.2], max_steps=5)
    for b, kappa in enumerate([0.2, 0.1, 0.2]):
        alone = dl.train(phis[b], 2, "penalty", lr=0.1, kappa=kappa, max_steps=5)
        np.testing.assert_array_equal(mixed.layers[b], alone.layers)


@pytest.mark.parametrize("name", ["lr", "tol", "kappa"])
def test_per_network_values_with_masked_entries_are_refused(name: str) -> None:
    # a masked entry's hidden value would be used as given (np.asarray drops the mask)
    phis = _phis(3, 3)
    values = np.ma.masked_array([0.1, 0.2, 0.1], mask=[False, True, False])
    given = {"lr": 0.1, "kappa": 0.1} | ({} if name == "tol" else {name: values})
    with pytest.raises(TypeError, match=f"{name} is a masked array"):
        if name == "tol":
            dl.BatchTrainer(phis, 2, "penalty", **given).run(5, tol=values)
        else:
            dl.train_batch(phis, 2, "penalty", max_steps=5, **given)
    unmasked = np.ma.masked_array([0.1, 0.2, 0.1], mask=False)  # nothing hidden: accepted
    dl.train_batch(phis, 2, "penalty", lr=unmasked, kappa=unmasked, max_steps=2)


# -- lane groups: small networks side by side in the SIMD lanes -------------------------------


# The d of lane groups by default, per instruction set and type (k*LaneDims* in
# cpp/kernels/tuning.hpp): where each network's own kernel was measured as fast or faster, it
# runs instead (AVX-512 float64: its fixed-size kernel at 8, the small kernel at 16; AVX2 float64:
# 16). The lane kernels themselves handle d <= 16.
DEFAULT_LANE_DIMS = {
    ("avx512", np.float64): set(range(1, 16)) - {8},
    ("avx512", np.float32): set(range(1, 17)),
    ("avx2", np.float64): set(range(1, 16)),
    ("avx2", np.float32): set(range(1, 17)),
    ("generic", np.float64): set(),
    ("generic", np.float32): set(),
}
# Where a CPU runs 512-bit operations in two halves (AMD Zen 4), measured apart: d = 16 in float64
# runs in lane groups there too.
DEFAULT_LANE_DIMS_HALVES = {
    **DEFAULT_LANE_DIMS,
    ("avx512", np.float64): set(range(1, 17)) - {8},
}


@pytest.fixture(params=["auto", "always"])
def lanes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Batches built with this lane policy (the public API always builds them with "auto")."""
    monkeypatch.setattr(
        dl._core, "batch_session", functools.partial(dl._core.batch_session, lanes=request.param)
    )
    return str(request.param)


@pytest.mark.parametrize("dim", [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("method", "options"), [("gd", {}), ("penalty", {"kappa": 0.2})])
def test_lane_groups_are_each_network_bit_for_bit(dim, dtype, method, options, lanes) -> None:
    count = 11  # not a multiple of any lane width: a group with empty lanes
    phis = _phis(count, dim, dtype)
    lr = np.linspace(0.01, 0.06, count)
    lr[3] = 50.0  # diverges early, its lane then idles
    tol = np.zeros(count)
    tol[5] = 1e-3  # converges early
    trainer = dl.BatchTrainer(phis, 3, method, lr=lr, record_every=6, **options)
    single = dtype == np.float32
    if dl._core.lane_width(single=single) > 1:
        expected = lanes == "always" or dl._core.lanes_by_default(dim, single=single)
        assert trainer._session.uses_lanes == expected
    trainer.step(7)
    result = trainer.run(max_steps=40, tol=tol)
    for b in range(count):
        alone = dl.Trainer(phis[b], 3, method, lr=float(lr[b]), record_every=6, **options)
        alone.step(7)
        single = alone.run(max_steps=40, tol=float(tol[b]))
        _assert_same(result[b], single)
        np.testing.assert_array_equal(trainer.history(b).losses, alone.losses)
    assert result.status[3] == "diverged"
    if method == "gd":  # the penalty's minimum lies above ℓ = 1e-3
        assert result.status[5] == "converged"


def test_lane_groups_share_threads_without_changing_a_bit() -> None:
    phis = _phis(40, 4)
    one = dl.train_batch(phis, 6, lr=0.03, max_steps=50, record_every=5)
    two = dl.train_batch(phis, 6, lr=0.03, max_steps=50, record_every=5, threads=2)
    np.testing.assert_array_equal(one.layers, two.layers)
    np.testing.assert_array_equal(one.losses, two.losses)


def test_the_lane_policy_is_checked_and_never_means_never() -> None:
    phis = _phis(4, 3)
    layers = np.stack([np.stack([np.eye(3)] * 2)] * 4)
    zeros = np.zeros(4)
    args = (layers, phis, "gd", np.full(4, 0.03), zeros, zeros, zeros)
    assert not dl._core.batch_session(*args, lanes="never").uses_lanes
    with pytest.raises(ValueError, match="lanes"):
        dl._core.batch_session(*args, lanes="sometimes")  # type: ignore[arg-type]


def _available(isa: str) -> bool:
    try:
        dl._core.lane_width(isa=isa)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("dim", [3, 4, 9])
def test_lane_groups_of_every_instruction_set_give_the_same_bits(dim: int) -> None:
    # lanes of 8 (AVX-512), 4 (AVX2) or none (generic: one network after another): every variant
    # of every kernel follows one arithmetic contract, so all of them agree bit for bit
    count, depth, steps = 10, 4, 25
    phis = _phis(count, dim)
    reference = None
    for isa in [isa for isa in ("generic", "avx2", "avx512") if _available(isa)]:
        layers = np.stack([np.stack([np.eye(dim)] * depth)] * count)
        session = dl._core.batch_session(
            layers,
            phis,
            "penalty",
            np.full(count, 0.03),
            np.zeros(count),
            np.zeros(count),
            np.full(count, 0.2),
            record_every=5,
            isa=isa,
            lanes="always",
        )
        assert session.uses_lanes == (dl._core.lane_width(isa=isa) > 1)
        session.run(np.full(count, steps), np.zeros(count), True)
        if reference is None:
            reference = layers.copy()
        np.testing.assert_array_equal(layers, reference, err_msg=isa)
    assert reference is not None


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dim", [3, 8])  # lane groups and each network's own kernel
def test_every_network_is_checked_before_any_step_and_edits_between_calls_are_seen(
    threads: int, dim: int
) -> None:
    # The batch checks its networks on its threads before any step and the steps then skip
    # their own check: the first bad network (not the first found) is named, none steps, and a
    # network edited in place between calls is seen as edited (as one Trainer sees it).
    phis = _phis(40, dim)
    trainer = dl.BatchTrainer(phis, 3, lr=0.04, record_every=1, threads=threads)
    trainer.step(2)
    before = trainer.layers.copy()
    trainer.layers[31, 1, 0, 0] = np.nan
    trainer.layers[7, 2, 1, 1] = np.inf
    trainer.layers[39, 0, 0, 1] = np.nan
    with pytest.raises(ValueError, match="network 7: "):
        trainer.step(3)
    assert trainer.steps.tolist() == [2] * 40
    trainer.layers[[7, 31, 39]] = before[[7, 31, 39]]
    np.testing.assert_array_equal(trainer.layers, before)
    alone = dl.Trainer(phis[5], 3, lr=0.04, record_every=1)
    alone.step(2)
    for edit in (trainer.layers[5], alone.layers):
        edit[1] *= 0.75
    trainer.step(2)
    alone.step(2)
    np.testing.assert_array_equal(trainer.layers[5], alone.layers)
    history = trainer.history(5)
    np.testing.assert_array_equal(history.loss_steps, [0, 1, 2, 2, 3, 4])
    np.testing.assert_array_equal(history.loss_steps, alone.loss_steps)
    np.testing.assert_array_equal(history.losses, alone.losses)


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_paired_lane_groups_keep_every_network_its_own(dim: int, dtype) -> None:
    # For the smallest d a lane group is two vectors wide (lane_width(dim) = twice the vector's):
    # groups full, part full, and networks that stop early in either half of a pair.
    width = dl._core.lane_width(single=dtype == np.float32, dim=dim)
    count = 2 * width + 5 if width > 1 else 7
    phis = _phis(count, dim, dtype)
    lr = np.linspace(0.01, 0.06, count)
    tol = np.zeros(count)
    for b in (1, width - 1, width + 2, count - 1):  # stop early: diverge or converge
        lr[b] = 50.0 if b % 2 else lr[b]
        tol[b] = 0.0 if b % 2 else 1e-3
    result = dl.train_batch(phis, 3, lr=lr, max_steps=60, tol=tol, record_every=7)
    for b in range(count):
        alone = dl.train(
            phis[b], 3, lr=float(lr[b]), max_steps=60, tol=float(tol[b]), record_every=7
        )
        _assert_same(result[b], alone)
    assert result.status[1] == "diverged"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_default_lane_sizes_are_the_measured_ones(dtype) -> None:
    single = dtype == np.float32
    here = dl._core.build_info()["vector_core"]
    tables = {"whole": DEFAULT_LANE_DIMS, "halves": DEFAULT_LANE_DIMS_HALVES}
    for isa in [isa for isa in ("generic", "avx2", "avx512") if _available(isa)]:
        for core in ("whole", "halves", "auto"):
            chosen = {
                d
                for d in range(0, 18)
                if dl._core.lanes_by_default(d, single=single, isa=isa, vector_core=core)
            }
            assert chosen == tables[here if core == "auto" else core][(isa, dtype)], (isa, core)
        phis = _phis(3, 9, dtype)
        layers = np.stack([np.stack([np.eye(9, dtype=dtype)] * 2)] * 3)
        zeros = np.zeros(3)
        session = dl._core.batch_session(
            layers, phis, "gd", np.full(3, 0.03), zeros, zeros, zeros, isa=isa
        )
        assert session.uses_lanes == (9 in DEFAULT_LANE_DIMS[(isa, dtype)])


def test_a_batch_of_one_network_takes_a_shared_init() -> None:
    # (an (L, d, d) init broadcast to one network is already contiguous: it must still be copied)
    phis = _phis(1, 3)
    init = np.stack([np.eye(3) * 0.9, np.eye(3) * 1.1])
    result = dl.train_batch(phis, 2, lr=0.05, max_steps=6, init=init)
    _assert_same(result[0], dl.train(phis[0], 2, lr=0.05, max_steps=6, init=init))


def test_lr_and_record_every_set_between_steps_act_and_are_saved(tmp_path: Path) -> None:
    # As on a Trainer: the next steps use them, and a checkpoint resumes with them.
    phis = _phis(3, 3)
    batch = dl.BatchTrainer(phis, 2, lr=0.05, record_every=1)
    alone = [dl.Trainer(phis[b], 2, lr=0.05, record_every=1) for b in range(3)]
    batch.step(2)
    batch.lr = [0.2, 0.1, 0.03]
    batch.record_every = 3
    np.testing.assert_array_equal(batch.lr, [0.2, 0.1, 0.03])
    for b, trainer in enumerate(alone):
        trainer.step(2)
        trainer.lr = [0.2, 0.1, 0.03][b]
        trainer.record_every = 3
    batch.save(tmp_path / "batch.npz")
    loaded = dl.BatchTrainer.load(tmp_path / "batch.npz")
    batch.step(7)
    loaded.step(7)
    for b, trainer in enumerate(alone):
        trainer.step(7)
        for other in (batch, loaded):
            np.testing.assert_array_equal(other.layers[b], trainer.layers)
            np.testing.assert_array_equal(other.history(b).loss_steps, trainer.loss_steps)
            np.testing.assert_array_equal(other.history(b).losses, trainer.losses)
    with pytest.raises(ValueError, match=r"lr\[1\]"):
        batch.lr = [0.1, -1.0, 0.1]
    with pytest.raises(ValueError, match="record_every"):
        batch.record_every = 0
    np.testing.assert_array_equal(batch.lr, [0.2, 0.1, 0.03])


def test_a_call_that_fails_its_check_leaves_every_network_as_it_was() -> None:
    # Network 0 edited and network 1 broken: the call fails, and once the edit is undone network
    # 0 goes on as one Trainer that never saw the edit (no second record of its step).
    phis = _phis(2, 3)
    batch = dl.BatchTrainer(phis, 2, lr=0.05, threads=2)
    alone = dl.Trainer(phis[0], 2, lr=0.05)
    batch.step(3)
    alone.step(3)
    kept = batch.layers.copy()
    batch.layers[0] *= 1.01
    batch.layers[1, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="network 1: "):
        batch.step(1)
    batch.layers[...] = kept
    batch.step(2)
    alone.step(2)
    np.testing.assert_array_equal(batch.history(0).loss_steps, alone.loss_steps)
    np.testing.assert_array_equal(batch.history(0).losses, alone.losses)
    np.testing.assert_array_equal(batch.layers[0], alone.layers)


def test_history_final_loss_is_the_current_layers_and_errors_name_the_network(
    tmp_path: Path,
) -> None:
    phis = _phis(2, 3)
    batch = dl.BatchTrainer(phis, 2, lr=0.05, record_every=3)
    alone = dl.Trainer(phis[0], 2, lr=0.05, record_every=3)
    batch.step(5)
    alone.step(5)
    assert batch.history(0).loss_steps.tolist() == [0, 3]
    assert batch.history(0).final_loss == alone.loss  # step 5's, not step 3's record
    batch.layers[1, 0, 0, 0] = np.nan
    assert batch.history(0).final_loss == alone.loss  # network 1 does not stop network 0's
    with pytest.raises(ValueError, match="network 1: layers must contain only finite"):
        _ = batch.loss
    with pytest.raises(ValueError, match=r"network 1: .*not saved"):
        batch.save(tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()
    alone.layers[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="not saved"):
        alone.save(tmp_path / "bad.npz")


def test_a_float32_step_size_must_stay_positive_and_finite_in_float32() -> None:
    phis = _phis(2, 3, np.float32)
    with pytest.raises(ValueError, match=r"lr\[1\] = 1e-50 is 0.0 in float32"):
        dl.train_batch(phis, 2, lr=[0.1, 1e-50])
    with pytest.raises(ValueError, match="lr = 1e\\+39 is inf in float32"):
        dl.train(phis[0], 2, lr=1e39)
    trainer = dl.Trainer(phis[0], 2, lr=0.1)
    with pytest.raises(ValueError, match="lr = 1e-50"):
        trainer.lr = 1e-50
    batch = dl.BatchTrainer(phis, 2, lr=0.1)
    with pytest.raises(ValueError, match="lr = 1e-50"):
        batch.lr = 1e-50
    assert dl.train(phis[0].astype(np.float64), 2, lr=1e-50, max_steps=1).steps == 1
    symmetric = np.diag([0.5, 2.0, 1.5]).astype(np.float32)
    with pytest.raises(ValueError, match=r"lr = 1e-50 is 0\.0 in float32"):
        dl.spectral_gd(symmetric, 2, lr=1e-50, max_steps=5)


def test_per_network_values_in_a_list_are_checked_as_given() -> None:
    phis = _phis(3, 3)
    with pytest.raises(TypeError, match=r"lr\[1\] must be a real number, got bool"):
        dl.train_batch(phis, 2, lr=[0.01, True, 0.02])
    with pytest.raises(TypeError, match=r"tol\[0\]"):
        dl.BatchTrainer(phis, 2, lr=0.01).run(max_steps=2, tol=(False, 0.0, 0.0))
    with pytest.raises(TypeError, match=r"lr\[2\]"):
        dl.train_batch(phis, 2, lr=np.array([0.1, 0.2, True], dtype=object))
    # the method's parameters too (a list made an array first turned True into 1.0)
    with pytest.raises(TypeError, match=r"network 1: kappa must be a real number, got bool"):
        dl.train_batch(phis, 2, "penalty", lr=0.01, kappa=[0.2, True, 0.2])
    with pytest.raises(TypeError, match=r"network 1: gamma"):
        dl.train_batch(phis, 2, "power_projection", lr=0.01, gamma=(1.0, False, 1.0))
    for name in ("lr", "kappa"):  # a ragged sequence is named, not numpy's message
        with pytest.raises(ValueError, match=rf"{name} must be .* ragged"):
            dl.train_batch(
                phis, 2, "penalty", **{"lr": 0.01, "kappa": 0.1, name: [0.1, [0.1], 0.1]}
            )
    exact = dl.train_batch(phis, 2, lr=0.05, max_steps=3, init=Fraction(9, 10))
    _assert_same(exact[1], dl.train(phis[1], 2, lr=0.05, max_steps=3, init=Fraction(9, 10)))


def test_a_callback_that_changes_record_every_is_next_called_on_the_new_grid() -> None:
    # (Trainer and BatchTrainer alike: the call after the callback ends on the new grid)
    phis = _phis(1, 3)
    seen: dict[str, list[int]] = {"trainer": [], "batch": []}
    trainer = dl.Trainer(phis[0], 2, lr=0.05, record_every=3)

    def on_trainer(step, layers, loss):
        seen["trainer"].append(trainer.steps)
        if step == 6:
            trainer.record_every = 5

    trainer.callback = on_trainer
    batch = dl.BatchTrainer(phis, 2, lr=0.05, record_every=3)

    def on_batch(steps, layers, losses):
        seen["batch"].append(int(batch.steps[0]))
        if int(steps[0]) == 6:
            batch.record_every = 5

    batch.callback = on_batch
    trainer.run(max_steps=16)
    batch.run(max_steps=16)
    # (a Trainer's callback also sees its first and final records)
    assert seen["trainer"] == [0, 3, 6, 10, 15, 16]
    assert seen["batch"] == [3, 6, 10, 15]
    np.testing.assert_array_equal(trainer.layers, batch.layers[0])
    np.testing.assert_array_equal(trainer.loss_steps, batch.history(0).loss_steps)


@pytest.mark.parametrize(
    ("method", "name", "value", "shown"),
    [
        ("power_projection", "gamma", 1e-46, "0.0"),
        ("step_and_project", "psi", 1e-50, "0.0"),
        ("step_and_project", "psi", 1e39, "inf"),
        ("penalty", "kappa", 1e-50, "0.0"),
        ("penalty", "kappa", 1e39, "inf"),
    ],
)
def test_a_float32_method_parameter_must_stay_positive_and_finite_in_float32(
    method: str, name: str, value: float, shown: str
) -> None:
    # As for lr: a value the steps would compute with as 0 or infinity (γ = 1e-46 made power
    # projection end "diverged" after 0 steps, without a word) is refused, naming the argument.
    phis = _phis(2, 3, np.float32)
    message = rf"{name} = {value:g} is {shown} in float32".replace("+", r"\+")
    with pytest.raises(ValueError, match=message):
        dl.train(phis[0], 2, method, lr=0.1, **{name: value})
    with pytest.raises(ValueError, match=message):
        dl.train_batch(phis, 2, method, lr=0.1, **{name: [1.0, value]})
    # float64 takes it, and step-and-project's γ only sets the initial scale (in float64)
    dl.train(phis[0].astype(np.float64), 2, method, lr=1e-3, max_steps=1, **{name: value})
    dl.train(phis[0], 2, "step_and_project", psi=0.5, gamma=1e-46, lr=0.1, max_steps=1)
