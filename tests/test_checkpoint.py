"""Trainer.save / Trainer.load: atomic .npz checkpoints that resume bit for bit."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("gd", {}),
        ("penalty", {"kappa": 0.2}),
        ("step_and_project", {"psi": 0.3}),
        ("power_projection", {"gamma": 0.3}),
    ],
)
def test_resume_is_bit_for_bit(tmp_path: Path, method: str, options: dict) -> None:
    phi = dl.targets.gamma_positive(4, 0.4, seed=3)
    straight = dl.Trainer(phi, 3, method, lr=0.05, record_every=7, **options)
    straight.run(max_steps=300)
    first = dl.Trainer(phi, 3, method, lr=0.05, record_every=7, **options)
    first.step(120)
    first.save(tmp_path / "run.npz")
    resumed = dl.Trainer.load(tmp_path / "run.npz")
    assert resumed.steps == 120 and resumed.method == method
    resumed.run(max_steps=180)
    np.testing.assert_array_equal(resumed.layers, straight.layers)
    np.testing.assert_array_equal(resumed.losses, straight.losses)
    np.testing.assert_array_equal(resumed.loss_steps, straight.loss_steps)


@pytest.mark.parametrize("batch", [False, True])
def test_a_power_projection_product_singular_to_working_precision_resumes(
    tmp_path: Path, batch: bool
) -> None:
    # A target outside H_γ with γ = 1e-17 presses the product against the edge: singular to
    # working precision, which the run factors and steps like any other; so does its checkpoint
    # (the strict balanced factorization refused it, and the checkpoint could not be loaded).
    phi = np.diag([1.0, 1.0, 0.0])
    options = {"gamma": 1e-17, "lr": 0.1, "record_every": 50}

    def make():
        if batch:
            return dl.BatchTrainer(phi[None], 2, "power_projection", **options)
        return dl.Trainer(phi, 2, "power_projection", **options)

    straight = make()
    straight.step(400)
    first = make()
    first.step(250)
    with pytest.raises(ValueError, match="singular to working precision"):
        dl.balanced_factorization(
            first.layers[0, 1] @ first.layers[0, 0] if batch else first.layers[1] @ first.layers[0],
            2,
        )
    first.save(tmp_path / "run.npz")
    resumed = (dl.BatchTrainer if batch else dl.Trainer).load(tmp_path / "run.npz")
    resumed.step(150)
    np.testing.assert_array_equal(resumed.layers, straight.layers)
    history = (lambda t: t.history(0)) if batch else (lambda t: t)
    np.testing.assert_array_equal(history(resumed).losses, history(straight).losses)


def test_diagnostics_survive_a_checkpoint(tmp_path: Path) -> None:
    phi = dl.targets.near_identity(3, 0.1, seed=0)
    trainer = dl.Trainer(phi, 2, lr=0.1, record_every=10, diagnostics=True)
    trainer.step(30)
    trainer.save(tmp_path / "d.npz")
    loaded = dl.Trainer.load(tmp_path / "d.npz")
    for name, values in trainer.diagnostics.items():
        np.testing.assert_array_equal(loaded.diagnostics[name], values)


def test_corrupt_and_foreign_files_are_refused(tmp_path: Path) -> None:
    trainer = dl.Trainer(np.eye(2), 2, lr=0.1)
    trainer.step(3)
    good = tmp_path / "good.npz"
    trainer.save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="cannot read"):
        dl.Trainer.load(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, layers=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="not a deeplinear-checkpoint"):
        dl.Trainer.load(foreign)
    with pytest.raises(ValueError, match="cannot read"):
        dl.Trainer.load(tmp_path / "missing.npz")
    with np.load(good) as saved:
        data = dict(saved)
    data.pop("phi")
    incomplete = tmp_path / "incomplete.npz"
    np.savez(incomplete, **data)
    with pytest.raises(ValueError, match="incomplete"):
        dl.Trainer.load(incomplete)


def test_save_is_atomic(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "run.npz"
    trainer = dl.Trainer(np.eye(2), 2, lr=0.1)
    trainer.save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    trainer.step(5)
    with pytest.raises(OSError):
        trainer.save(path)
    assert path.read_bytes() == before  # the old checkpoint is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]  # no temporary left


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_saved_files_get_the_permissions_of_a_plain_write(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        plain = tmp_path / "plain.bin"
        plain.write_bytes(b"")
        path = tmp_path / "run.npz"
        dl.Trainer(np.eye(2), 2, lr=0.1).save(path)
        # not mkstemp's 0o600: readable by the group and others, as open(..., "w") makes it
        assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o644
        path.chmod(0o640)  # an existing file keeps the mode it has
        dl.Trainer(np.eye(2), 2, lr=0.1).save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    ("method", "options"),
    [("gd", {}), ("power_projection", {"gamma": 0.6}), ("step_and_project", {"psi": 0.05})],
)
def test_layers_edited_before_save_are_recorded_by_the_loaded_trainer_too(
    tmp_path, method: str, options: dict
) -> None:
    # An edit in place since the last call is recorded at the start of the next call: the
    # trainer loaded from a checkpoint saved between the edit and that call must do the same
    # (it recorded the step count once, where the saved one records it twice).
    phi = 1.5 * dl.targets.rotation(5, 1.4, seed=5)
    saved = dl.Trainer(phi, 2, method, lr=0.1, **options)
    saved.step(2)
    saved.layers[0] *= 1.01
    saved.save(tmp_path / "edited.npz")
    loaded = dl.Trainer.load(tmp_path / "edited.npz")
    saved.step(3)
    loaded.step(3)
    np.testing.assert_array_equal(loaded.loss_steps, saved.loss_steps)
    np.testing.assert_array_equal(loaded.losses, saved.losses)
    np.testing.assert_array_equal(loaded.layers, saved.layers)
    assert list(saved.loss_steps).count(2) == 2


def test_batch_layers_edited_before_save_are_recorded_by_the_loaded_batch_too(tmp_path) -> None:
    phis = np.stack([dl.targets.gamma_positive(4, 0.4, seed=s) for s in range(3)])
    saved = dl.BatchTrainer(phis, 2, lr=0.05)
    saved.step(2)
    saved.layers[1, 0] *= 1.01
    saved.save(tmp_path / "edited.npz")
    loaded = dl.BatchTrainer.load(tmp_path / "edited.npz")
    saved.step(3)
    loaded.step(3)
    for b in range(3):
        one, two = saved.history(b), loaded.history(b)
        np.testing.assert_array_equal(two.loss_steps, one.loss_steps)
        np.testing.assert_array_equal(two.losses, one.losses)
    assert list(saved.history(1).loss_steps).count(2) == 2


# -- copies and pickles: through a checkpoint ---------------------------------------------------
_TARGET = np.array([[1.2, 0.3, 0.0], [0.1, 0.9, 0.2], [0.0, 0.3, 1.1]])


def _on_record(step, layers, loss):  # (a callback that pickles)
    return None


def _copies(trainer):
    import copy
    import pickle

    return [copy.copy(trainer), copy.deepcopy(trainer), pickle.loads(pickle.dumps(trainer))]


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("gd", {}),
        ("power_projection", {"gamma": 0.5}),
        ("step_and_project", {"psi": 0.5}),
        ("penalty", {"kappa": 0.1}),
    ],
)
def test_a_copy_of_a_trainer_is_independent_and_continues_bit_for_bit(method, options) -> None:
    # copy.copy aliased the live layers and session (stepping the copy stepped the original);
    # deepcopy and pickle raised TypeError about an internal class
    trainer = dl.Trainer(
        _TARGET, 3, method, lr=0.05, record_every=3, callback=_on_record, **options
    )
    trainer.step(7)
    copies = _copies(trainer)
    for copied in copies:
        assert copied.layers is not trainer.layers and copied.callback is _on_record
    copies[0].step(5)  # stepping a copy leaves the original (and the other copies) as they were
    assert trainer.steps == 7 and copies[1].steps == 7
    trainer.step(5)
    for copied in copies[1:]:
        copied.step(5)
    for copied in copies:
        np.testing.assert_array_equal(copied.layers, trainer.layers)
        np.testing.assert_array_equal(copied.losses, trainer.losses)
        assert copied.status == trainer.status and copied.lr == trainer.lr


def test_a_copy_of_a_batch_is_independent_and_continues_bit_for_bit() -> None:
    batch = dl.BatchTrainer(np.stack([_TARGET] * 3), 3, lr=[0.05, 0.04, 0.03], record_every=4)
    batch.step(5)
    copies = _copies(batch)
    copies[0].step(3)
    assert batch.steps.tolist() == [5, 5, 5]
    batch.step(3)
    for copied in copies[1:]:
        copied.step(3)
    for copied in copies:
        np.testing.assert_array_equal(copied.layers, batch.layers)
        np.testing.assert_array_equal(copied.history(2).losses, batch.history(2).losses)


def test_a_callback_can_branch_the_run_it_is_called_from() -> None:
    import copy

    branches = []

    def branch(step, layers, loss):
        if step == 10:
            branches.append(copy.deepcopy(trainer))

    trainer = dl.Trainer(_TARGET, 3, lr=0.05, record_every=10, callback=branch)
    trainer.run(20)
    (branched,) = branches
    assert branched.steps == 10 and branched.callback is branch
    branched.callback = None
    branched.run(10)
    np.testing.assert_array_equal(branched.layers, trainer.layers)


def test_a_trainer_with_layers_that_cannot_be_saved_cannot_be_copied() -> None:
    import copy

    trainer = dl.Trainer(_TARGET, 2, lr=0.05)
    trainer.layers[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        copy.deepcopy(trainer)


def test_a_copy_made_in_a_callback_after_its_edit_continues_bit_for_bit() -> None:
    # the original records the edited state without calling back; the copy's checkpoint said
    # "not recorded", so the copy recorded it and called the callback (which edited) again
    import copy

    calls: dict[str, list[int]] = {"original": [], "copy": []}
    branches = []

    def callback(step, layers, loss):
        calls["copy" if branches else "original"].append(step)
        if step == 10 and not branches:
            layers[0] *= 1.05
            branches.append(copy.copy(trainer))

    trainer = dl.Trainer(_TARGET, 3, lr=0.05, record_every=5, callback=callback)
    result = trainer.run(20)
    (branch,) = branches
    calls["original"], calls["copy"] = calls["original"] + calls["copy"], []
    branched = branch.run(10)
    assert calls == {"original": [0, 5, 10, 15, 20], "copy": [15, 20]}
    np.testing.assert_array_equal(branched.layers, result.layers)
    np.testing.assert_array_equal(branch.loss_steps, trainer.loss_steps)
    np.testing.assert_array_equal(branch.losses, trainer.losses)


class _Holder:
    def __init__(self) -> None:
        self.trainer = dl.Trainer(_TARGET, 2, lr=0.05, callback=self.on_record)

    def on_record(self, step, layers, loss):
        return None


def test_a_deep_copy_copies_the_object_a_callback_belongs_to() -> None:
    import copy
    import pickle

    holder = _Holder()
    for copied in (copy.deepcopy(holder), pickle.loads(pickle.dumps(holder))):
        assert copied.trainer.callback.__self__ is copied
    assert copy.copy(holder.trainer).callback.__self__ is holder
