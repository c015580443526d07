"""What training guarantees under faults: Ctrl-C anywhere, divergence, callbacks that break the
state, use from two threads, and checkpoints that are corrupt or inconsistent.

Each test states one guarantee of the documentation's "Guarantees" page and fails without it."""

from __future__ import annotations

import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl
from interrupts import interrupt_after
from reference import loss as reference_loss

PHI = dl.targets.spd(6, 3.0, seed=1)


# -- Ctrl-C: the state is that of a completed step, and everything agrees with it ------------


class _InterruptAfterCall:
    """A session whose run() completes, then raises KeyboardInterrupt: Ctrl-C landing in the
    instant between the compiled call's return and the Python bookkeeping."""

    def __init__(self, session, after: int) -> None:
        self._session = session
        self._calls = 0
        self._after = after

    def run(self, *args):
        result = self._session.run(*args)
        self._calls += 1
        if self._calls == self._after:
            raise KeyboardInterrupt
        return result

    def __getattr__(self, name):
        return getattr(self._session, name)


def _consistent(result: dl.TrainResult, phi: np.ndarray, depth: int, lr: float) -> None:
    """The result's layers are exactly GD's after result.steps steps, and final_loss is theirs."""
    start = np.broadcast_to(np.eye(phi.shape[0]), (depth, *phi.shape)).copy()
    replay = dl.train(phi, depth, lr=lr, init=start, max_steps=result.steps, record_every=10**9)
    np.testing.assert_array_equal(result.layers, replay.layers)
    assert result.loss_steps[-1] == result.steps
    assert result.final_loss == pytest.approx(reference_loss(result.layers, phi), rel=1e-12)


@pytest.mark.parametrize("after", [1, 3, 7])
def test_ctrl_c_between_a_call_and_its_bookkeeping_keeps_layers_and_steps_together(
    after: int,
) -> None:
    seen = []
    trainer = dl.Trainer(PHI, 4, lr=0.05, record_every=5, callback=lambda s, t, v: seen.append(s))
    trainer._session = _InterruptAfterCall(trainer._session, after)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        result = trainer.run(max_steps=200)
    assert result.status == "interrupted"
    assert result.steps == 5 * after
    _consistent(result, PHI, 4, 0.05)


def test_ctrl_c_with_a_callback_and_progress_returns_a_consistent_state() -> None:
    phi = dl.targets.spd(48, 3.0, seed=2)
    timer, _ = interrupt_after(0.4)
    try:
        with pytest.warns(RuntimeWarning, match="interrupted"):
            result = dl.train(
                phi,
                6,
                lr=1e-4,
                max_steps=200_000,
                record_every=3,
                callback=lambda s, t, v: None,
                progress=True,
            )
    finally:
        timer.join()
    assert result.status == "interrupted" and 0 < result.steps < 200_000
    assert result.loss_steps[-1] == result.steps
    assert result.final_loss == pytest.approx(reference_loss(result.layers, phi), rel=1e-10)


def test_ctrl_c_inside_a_callback_stops_at_that_record() -> None:
    def callback(step, layers, loss):
        if step == 30:
            raise KeyboardInterrupt

    with pytest.warns(RuntimeWarning, match="after 30 steps"):
        result = dl.train(PHI, 3, lr=0.05, max_steps=100, record_every=10, callback=callback)
    assert result.status == "interrupted" and result.steps == 30
    _consistent(result, PHI, 3, 0.05)


def test_ctrl_c_in_a_single_step_call_keeps_the_trainer_consistent() -> None:
    trainer = dl.Trainer(PHI, 4, lr=0.05, record_every=2)
    trainer.step(4)
    trainer._session = _InterruptAfterCall(trainer._session, 1)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        trainer.step(3)
    assert trainer.steps == 7 and trainer.status == "interrupted"
    assert trainer.loss_steps[-1] == 7
    np.testing.assert_array_equal(trainer.loss_steps, [0, 2, 4, 6, 7])
    assert trainer.losses[-1] == pytest.approx(reference_loss(trainer.layers, PHI), rel=1e-12)


# -- divergence ---------------------------------------------------------------------------------


def test_power_projection_with_a_huge_step_diverges_keeping_the_last_finite_state() -> None:
    phi = dl.targets.spd(4, 3.0, seed=0)
    trainer = dl.Trainer(phi, 4, "power_projection", gamma=0.1, lr=10.0)
    loss = trainer.step(1000)
    assert trainer.status == "diverged"
    assert np.isfinite(trainer.layers).all() and np.isfinite(loss)
    # the state is the last one whose product could still be factored and stepped from
    assert trainer.steps < 1000
    assert trainer.loss == pytest.approx(reference_loss(trainer.layers, phi), rel=1e-6)
    result = dl.train(phi, 4, "power_projection", gamma=0.1, lr=10.0, max_steps=1000)
    assert result.status == "diverged" and result.steps == trainer.steps


def test_a_callback_writing_nan_ends_diverged_with_the_state_before_it() -> None:
    before = {}

    def callback(step, layers, loss):
        if step == 20:
            before["layers"] = layers.copy()
            layers[1, 0, 0] = np.nan

    result = dl.train(PHI, 3, lr=0.05, max_steps=100, record_every=10, callback=callback)
    assert result.status == "diverged" and result.steps == 20
    np.testing.assert_array_equal(result.layers, before["layers"])
    assert np.isfinite(result.final_loss)


def _describes_its_layers(result, phi: np.ndarray) -> None:
    """final_loss and the last recorded loss are the loss of the layers returned (at its steps)."""
    assert result.loss_steps[-1] == result.steps
    assert result.losses[-1] == result.final_loss
    assert result.final_loss == pytest.approx(reference_loss(result.layers, phi), rel=1e-12)


@pytest.mark.parametrize("how", ["nan", "edit"])
def test_ctrl_c_in_a_callback_that_changed_the_layers_returns_a_consistent_state(how: str) -> None:
    before = {}

    def callback(step, layers, loss):
        if step == 20:
            before["layers"] = layers.copy()
            layers[1, 0, 0] = np.nan if how == "nan" else layers[1, 0, 0] + 0.1
            raise KeyboardInterrupt

    with pytest.warns(RuntimeWarning, match="interrupted"):
        result = dl.train(PHI, 3, lr=0.05, max_steps=100, record_every=10, callback=callback)
    assert result.status == "interrupted" and result.steps == 20
    if how == "nan":  # the state the callback was given
        np.testing.assert_array_equal(result.layers, before["layers"])
    else:  # the edited state, recorded again
        assert result.layers[1, 0, 0] == before["layers"][1, 0, 0] + 0.1
        assert result.loss_steps.tolist()[-2:] == [20, 20]
    _describes_its_layers(result, PHI)


def test_ctrl_c_in_a_callback_that_wrote_nan_leaves_a_stepping_trainer_usable() -> None:
    def callback(step, layers, loss):
        if step == 4:
            layers[0, 0, 0] = np.nan
            raise KeyboardInterrupt

    trainer = dl.Trainer(PHI, 3, lr=0.05, record_every=2, callback=callback)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        trainer.step(10)
    assert trainer.status == "interrupted" and trainer.steps == 4
    assert np.isfinite(trainer.layers).all()
    trainer.callback = None
    trainer.step(1)
    assert trainer.steps == 5


@pytest.mark.parametrize("stop", [False, True])
def test_a_callback_that_edits_the_final_state_has_it_recorded(stop: bool) -> None:
    def callback(step, layers, loss):
        if step == 30:
            layers[0] *= 1.01
            return stop

    result = dl.train(PHI, 3, lr=0.05, max_steps=30, record_every=10, callback=callback)
    assert result.status == ("stopped" if stop else "max_steps") and result.steps == 30
    _describes_its_layers(result, PHI)


def _called_back_with(seen: list) -> None:
    """Each (step, layers, loss) the callback got: loss is ℓ of those layers."""
    for step, layers, loss in seen:
        assert loss == pytest.approx(reference_loss(layers, PHI), rel=1e-13), step


def test_a_callback_that_edits_the_layers_sees_each_later_record_with_its_own_layers() -> None:
    # the edited state at step 5 was recorded again by the next compiled call and called back
    # after it had stepped on to 10: callback(5, layers of step 10, ℓ of the edit)
    seen: list = []

    def callback(step, layers, loss):
        seen.append((step, layers.copy(), loss))
        if step == 5:
            layers *= 1.01

    result = dl.train(PHI, 3, lr=0.05, max_steps=20, record_every=5, callback=callback)
    assert [step for step, _, _ in seen] == [0, 5, 10, 15, 20]
    _called_back_with(seen)
    assert result.loss_steps.tolist() == [0, 5, 5, 10, 15, 20]  # the edit is recorded too
    assert result.losses[2] == pytest.approx(reference_loss(seen[1][1] * 1.01, PHI), rel=1e-13)


@pytest.mark.parametrize(("record_every", "edited_at"), [(1, 3), (4, 8), (4, 3)])
def test_layers_edited_between_calls_are_called_back_with_their_own_layers(
    record_every: int, edited_at: int
) -> None:
    seen: list = []
    trainer = dl.Trainer(PHI, 3, lr=0.05, record_every=record_every)
    trainer.step(edited_at)
    trainer.callback = lambda step, layers, loss: seen.append((step, layers.copy(), loss))
    trainer.layers[0] *= 1.01
    trainer.run(4)
    on_grid = edited_at % record_every == 0
    assert seen[0][0] == (edited_at if on_grid else 4)
    _called_back_with(seen)


def test_a_run_whose_converged_state_a_callback_edits_goes_on() -> None:
    # the callback moves the converged state away once: the run went on reporting "converged"
    # with a final loss far above tol (as a batch network did)
    edits = []

    def callback(step, layers, loss):
        if loss <= 1e-3 and not edits:
            edits.append(step)
            layers[0] *= 1.5

    result = dl.train(PHI, 3, lr=0.05, max_steps=10_000, tol=1e-3, callback=callback)
    assert result.status == "converged" and result.final_loss <= 1e-3
    assert result.steps > edits[0]
    assert result.final_loss == pytest.approx(reference_loss(result.layers, PHI), rel=1e-12)


def test_a_callback_that_saves_after_a_divergence_saves_a_loadable_checkpoint(
    tmp_path: Path,
) -> None:
    # a start whose product overflows diverges at step 0 with loss +inf (only then is a recorded
    # loss not finite); the callback sees that status already, and so does its checkpoint
    path = tmp_path / "in_callback.npz"
    seen = []

    def callback(step, layers, loss):
        seen.append(trainer.status)
        trainer.save(path)

    trainer = dl.Trainer(PHI, 3, lr=0.05, init=1e200, callback=callback)
    trainer.run(max_steps=10)
    assert seen == ["diverged"] and trainer.status == "diverged"
    loaded = dl.Trainer.load(path)
    assert loaded.status == "diverged" and loaded.steps == 0


def test_editing_the_live_layers_with_nan_between_steps_is_an_error() -> None:
    trainer = dl.Trainer(PHI, 3, lr=0.05)
    trainer.step(2)
    trainer.layers[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        trainer.step(1)
    assert trainer.steps == 2


def test_edits_between_steps_are_noticed_and_recorded() -> None:
    trainer = dl.Trainer(PHI, 3, lr=0.05, record_every=1)
    trainer.run(max_steps=3)
    trainer.layers[0] += 0.01  # in place: the recorded loss of step 3 no longer describes it
    result = trainer.run(max_steps=0)
    assert trainer.loss_steps[-1] == 3 and trainer.loss_steps[-2] == 3
    assert result.final_loss == pytest.approx(reference_loss(trainer.layers, PHI), rel=1e-12)


def _flip_signs(*flat: int):
    def edit(layers: np.ndarray) -> None:
        view = layers.reshape(-1)
        view[list(flat)] *= -1

    return edit


def _next_float(layers: np.ndarray) -> None:
    view = layers.reshape(-1)
    view[-1] = np.nextafter(view[-1], np.inf)


def _swap(layers: np.ndarray) -> None:
    view = layers.reshape(-1)
    view[[5, 9]] = view[[9, 5]]


# Edits that leave a weak fingerprint of the bits unchanged: a sign flip of one value (the sign bit
# of three values in four was shifted out of an earlier hash), two sign flips that cancel in a
# lane of four values, a whole layer negated, one ulp of the last value, two values swapped.
EDITS = {
    "sign of value 1": _flip_signs(1),
    "sign of value 2": _flip_signs(2),
    "sign of value 3": _flip_signs(3),
    "signs of values 0 and 4": _flip_signs(0, 4),
    "first layer negated": lambda layers: layers[0].__imul__(-1),
    "one ulp": _next_float,
    "two values swapped": _swap,
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("edit", list(EDITS))
def test_every_kind_of_edit_between_steps_is_noticed(edit: str, dtype) -> None:
    phi = PHI.astype(dtype)
    trainer = dl.Trainer(phi, 3, lr=0.05, record_every=1)
    trainer.step(2)
    EDITS[edit](trainer.layers)
    assert trainer.loss == pytest.approx(reference_loss(trainer.layers, phi), rel=1e-4)
    trainer.step(0)  # records the edited state again
    assert trainer.loss_steps.tolist() == [0, 1, 2, 2]
    assert trainer.losses[-1] == pytest.approx(reference_loss(trainer.layers, phi), rel=1e-4)


@pytest.mark.parametrize("edit", ["sign of value 1", "first layer negated"])
def test_power_projection_restarts_from_edited_layers_of_every_kind(edit: str) -> None:
    phi = dl.targets.spd(4, 2.0, seed=2)
    trainer = dl.Trainer(phi, 2, "power_projection", lr=0.01, gamma=0.5)
    trainer.step(3)
    EDITS[edit](trainer.layers)
    restarted = dl.Trainer(
        phi, 2, "power_projection", lr=0.01, gamma=0.5, init=trainer.layers.copy()
    )
    trainer.step(1)
    restarted.step(1)
    np.testing.assert_array_equal(trainer.layers, restarted.layers)


# -- threads ----------------------------------------------------------------------------------


def test_a_trainer_used_from_two_threads_refuses_the_second() -> None:
    phi = dl.targets.spd(64, 3.0, seed=3)
    trainer = dl.Trainer(phi, 8, lr=1e-3)
    errors: list[BaseException] = []
    started = threading.Event()

    def long_run() -> None:
        started.set()
        trainer.step(4000)

    worker = threading.Thread(target=long_run)
    worker.start()
    started.wait()
    time.sleep(0.05)
    for action in (
        lambda: trainer.step(1),
        lambda: trainer.save("never.npz"),
        lambda: trainer.loss,
    ):
        try:
            action()
        except RuntimeError as exc:
            errors.append(exc)
    worker.join()
    assert len(errors) == 3 and all("another thread" in str(e) for e in errors)
    assert not Path("never.npz").exists()
    assert trainer.steps == 4000  # the run itself was not disturbed


def test_saving_while_another_thread_steps_never_writes_a_torn_checkpoint(tmp_path: Path) -> None:
    phi = dl.targets.spd(32, 3.0, seed=4)
    trainer = dl.Trainer(phi, 6, lr=1e-3, record_every=7)
    done = threading.Event()

    def stepping() -> None:
        for _ in range(300):
            try:
                trainer.step(5)
            except RuntimeError:
                pass
        done.set()

    worker = threading.Thread(target=stepping)
    worker.start()
    saved = 0
    while not done.is_set():
        try:
            trainer.save(tmp_path / f"c{saved}.npz")
            saved += 1
        except RuntimeError:
            pass
    worker.join()
    for index in range(saved):
        loaded = dl.Trainer.load(tmp_path / f"c{index}.npz")
        # a checkpoint is a state of the run: its layers are GD's after its step count
        replay = dl.train(phi, 6, lr=1e-3, max_steps=loaded.steps, record_every=10**9)
        np.testing.assert_array_equal(loaded.layers, replay.layers)


def test_a_callback_may_save_but_not_step(tmp_path: Path) -> None:
    def callback(step, layers, loss):
        trainer.save(tmp_path / f"at{step}.npz")
        if step == 10:
            trainer.step(1)

    trainer = dl.Trainer(PHI, 2, lr=0.05, record_every=5, callback=callback)
    with pytest.raises(RuntimeError, match="own callback"):
        trainer.run(max_steps=20)
    assert dl.Trainer.load(tmp_path / "at5.npz").steps == 5


def test_threads_are_capped_at_the_cores_available() -> None:
    trainer = dl.Trainer(PHI, 2, lr=0.05, threads=10_000)
    assert 1 <= trainer.threads <= dl.training.available_cores()


# -- checkpoints ----------------------------------------------------------------------------


def _saved(tmp_path: Path, method: str = "gd", **options) -> dict[str, np.ndarray]:
    trainer = dl.Trainer(PHI, 3, method, lr=0.05, record_every=4, **options)
    trainer.step(10)
    path = tmp_path / "base.npz"
    trainer.save(path)
    with np.load(path) as saved:
        return dict(saved)


def _load_with(tmp_path: Path, data: dict[str, np.ndarray]) -> None:
    path = tmp_path / "crafted.npz"
    np.savez(path, **data)
    dl.Trainer.load(path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("steps", np.array(-1), "steps"),
        ("steps", np.array(10.5), "steps must be an integer"),
        ("steps", np.array(2**63 - 1, dtype=np.uint64) + np.uint64(5), "steps"),
        ("steps", np.array(5), "loss_steps run past steps"),
        ("losses", lambda data: np.where(np.arange(3) == 1, np.nan, data["losses"]), "finite"),
        ("losses", lambda data: data["losses"][:2], "one length"),
        ("loss_steps", np.array([0, 8, 4]), "increasing"),
        ("recorded_current", np.array(True), "recorded_current"),
        ("status", np.array("exploded"), "status"),
        ("method", np.array("adam"), "method"),
        ("lr", np.array(-0.1), "lr must be > 0"),
        ("record_every", np.array(0), "record_every"),
        ("layers", np.zeros((3, 5, 5)), "must be"),
        ("layers", np.full((3, 6, 6), np.inf), "finite"),
        ("recorded_current", np.array(1.0), "boolean"),
        ("format", np.array(["deeplinear-checkpoint-1"]), "not a deeplinear"),
    ],
)
def test_inconsistent_checkpoints_are_refused(
    tmp_path: Path, field: str, value: np.ndarray, message: str
) -> None:
    data = _saved(tmp_path)
    assert list(data["loss_steps"]) == [0, 4, 8] and int(data["steps"]) == 10
    data[field] = value(data) if callable(value) else value
    with pytest.raises(ValueError, match=message):
        _load_with(tmp_path, data)


def test_a_product_that_does_not_belong_to_the_layers_is_refused(tmp_path: Path) -> None:
    data = _saved(tmp_path, "power_projection", gamma=0.2)
    assert "product" in data
    _load_with(tmp_path, data)  # the genuine one loads
    data["product"] = data["product"] + 0.01 * np.eye(6)
    with pytest.raises(ValueError, match="product"):
        _load_with(tmp_path, data)


def test_a_power_projection_checkpoint_that_lost_its_product_is_refused(tmp_path: Path) -> None:
    # A power-projection checkpoint says whether it holds the product: one that lost it would
    # resume from the layers instead, off the saved run by rounding.
    data = _saved(tmp_path, "power_projection", gamma=0.2)
    assert bool(data["has_product"])
    with pytest.raises(ValueError, match="product"):
        _load_with(tmp_path, {k: v for k, v in data.items() if k != "product"})
    _load_with(tmp_path, {k: v for k, v in data.items() if k not in ("product", "has_product")})
    batch = dl.BatchTrainer(np.stack([PHI, PHI.T]), 3, "power_projection", gamma=0.2, lr=0.05)
    batch.step(10)
    batch.save(tmp_path / "batch.npz")
    with np.load(tmp_path / "batch.npz") as saved:
        data = dict(saved)
    for broken in (
        {k: v for k, v in data.items() if k != "products"},
        {k: v for k, v in data.items() if k not in ("products", "has_product")},
        dict(data, has_product=np.array([True, True, True])),  # an IndexError before
        dict(data, has_product=np.array([1, 1])),
        dict(data, products=data["products"].astype(np.complex128)),
        dict(data, phis=data["phis"].astype(np.float16)),
    ):
        np.savez(tmp_path / "crafted.npz", **broken)
        with pytest.raises(ValueError, match="incomplete or invalid"):
            dl.BatchTrainer.load(tmp_path / "crafted.npz")


@pytest.mark.parametrize("batch", [False, True])
def test_members_hidden_by_a_damaged_zip_directory_are_an_error(tmp_path: Path, batch) -> None:
    # One flipped bit in the comment length of a central-directory entry makes Python's zipfile
    # skip the entries after it, without an error: the archive's end record, which counts them,
    # must catch it (a power-projection checkpoint loaded without its product and the flag).
    if batch:
        trainer = dl.BatchTrainer(np.stack([PHI, PHI.T]), 3, "power_projection", gamma=0.2, lr=0.05)
    else:
        trainer = dl.Trainer(PHI, 3, "power_projection", gamma=0.2, lr=0.05)
    trainer.step(5)
    good = tmp_path / "good.npz"
    trainer.save(good)
    with zipfile.ZipFile(good) as archive:
        names = [info.filename for info in archive.infolist()]
    blob = bytearray(good.read_bytes())
    before = names[-3].encode()  # the entry whose comment would swallow the last two
    entry = blob.rfind(b"PK\x01\x02", 0, blob.rfind(before))
    assert blob[entry + 46 : entry + 46 + len(before)] == before
    blob[entry + 32] ^= 0x80  # its comment length: 0 → 128
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(bytes(blob))
    with np.load(damaged) as hidden:
        assert len(hidden.files) < len(names)  # zipfile itself does not notice
    load = dl.BatchTrainer.load if batch else dl.Trainer.load
    with pytest.raises(ValueError, match="end record"):
        load(damaged)
    load(good)


def test_files_of_every_broken_kind_raise_value_error(tmp_path: Path) -> None:
    data = _saved(tmp_path)
    plain = tmp_path / "plain.npy"
    np.save(plain, np.eye(3))
    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    directory = tmp_path / "folder.npz"
    directory.mkdir()
    good = tmp_path / "good.npz"
    np.savez(good, **data)
    raw = good.read_bytes()
    # a zip whose central directory claims an unsupported compression method
    unsupported = tmp_path / "method.npz"
    with zipfile.ZipFile(unsupported, "w") as archive:
        archive.writestr("layers.npy", b"x" * 100)
    blob = bytearray(unsupported.read_bytes())
    central = blob.rfind(b"PK\x01\x02")
    blob[central + 10 : central + 12] = (99).to_bytes(2, "little")
    unsupported.write_bytes(bytes(blob))
    flipped = tmp_path / "flipped.npz"
    middle = len(raw) // 2
    flipped.write_bytes(
        raw[:middle] + bytes(b ^ 0xFF for b in raw[middle : middle + 64]) + raw[middle + 64 :]
    )
    for path in (plain, text, directory, unsupported, flipped, tmp_path / "missing.npz"):
        with pytest.raises(ValueError):
            dl.Trainer.load(path)


def test_checkpoint_readers_never_raise_other_types(tmp_path: Path) -> None:
    """Random corruptions of a real checkpoint: ValueError or a valid load, nothing else."""
    good = tmp_path / "good.npz"
    trainer = dl.Trainer(PHI, 3, lr=0.05, record_every=4, diagnostics=True)
    trainer.step(10)
    trainer.save(good)
    raw = good.read_bytes()
    rng = np.random.default_rng(0)
    for trial in range(60):
        blob = bytearray(raw)
        for position in rng.integers(0, len(blob), size=int(rng.integers(1, 8))):
            blob[position] = int(rng.integers(0, 256))
        path = tmp_path / f"bad{trial}.npz"
        path.write_bytes(bytes(blob))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                dl.Trainer.load(path)
            except ValueError:
                pass


@pytest.mark.parametrize("batch", [False, True])
def test_cancel_from_another_thread_stops_a_run_like_ctrl_c(batch: bool) -> None:
    phi = dl.targets.spd(32, 3.0, seed=5)
    if batch:
        trainer = dl.BatchTrainer(np.stack([phi, phi]), 6, lr=1e-4, record_every=50)
    else:
        trainer = dl.Trainer(phi, 6, lr=1e-4, record_every=50)
    timer = threading.Timer(0.3, trainer.cancel)
    started = time.perf_counter()
    timer.start()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        trainer.step(400_000)
    timer.join()
    assert time.perf_counter() - started < 0.3 + 1.0
    steps = np.atleast_1d(trainer.steps)
    # networks of a batch too large for the lanes run one after the other: one that had not
    # started when the batch stopped keeps its state (0 steps)
    assert steps[0] > 0 and np.all(steps < 400_000)
    assert np.all(np.atleast_1d(trainer.status) == "interrupted")
    trainer.step(3)  # the cancellation was used up: the next call runs
    assert np.all(np.atleast_1d(trainer.steps) == steps + 3)


@pytest.mark.parametrize("batch", [False, True])
def test_a_cancel_between_calls_stops_the_next_call_only(batch: bool) -> None:
    if batch:
        trainer = dl.BatchTrainer(np.stack([PHI, PHI]), 3, lr=0.05)
    else:
        trainer = dl.Trainer(PHI, 3, lr=0.05)
    trainer.step(2)
    trainer.cancel()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        trainer.step(5)  # stopped before its first step, however short
    assert np.all(np.atleast_1d(trainer.steps) == 2)
    assert np.all(np.atleast_1d(trainer.status) == "interrupted")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer.step(5)
        trainer.step(2000)  # long enough to poll: the cancel was used up by the call it stopped
    assert np.all(np.atleast_1d(trainer.steps) == 2007)
    assert np.all(np.atleast_1d(trainer.status) == "max_steps")


def test_a_trainer_edited_between_steps_saves_and_loads(tmp_path: Path) -> None:
    trainer = dl.Trainer(PHI, 3, lr=0.05, record_every=1)
    trainer.run(max_steps=3)
    trainer.layers[0] += 0.01
    trainer.run(max_steps=0)  # the edited state recorded again at step 3
    trainer.save(tmp_path / "edited.npz")
    loaded = dl.Trainer.load(tmp_path / "edited.npz")
    np.testing.assert_array_equal(loaded.loss_steps, trainer.loss_steps)
    loaded.step(5)
    trainer.step(5)
    np.testing.assert_array_equal(loaded.layers, trainer.layers)
