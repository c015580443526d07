"""The command line: argument errors are one-line messages with exit status 2 (never a
traceback); `train` writes a usable .npz; `demo` runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import cli


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"deeplinear {argv[0]}: error: ") and "Traceback" not in err
    assert captured.out == ""
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--target", "nope"], "unknown target family 'nope'"),
        (["train", "--target", "rotation", "--param", "bogus=1"], "no parameter 'bogus'"),
        (["train", "--target", "rotation"], "--param angle=VALUE"),
        (["train", "--param", "x"], "NAME=VALUE"),
        (["train", "--param", "angle=abc"], "not a number"),
        (["train", "--target", "spd", "--param", "cond=0.5"], "cond"),
        (
            [
                "train",
                "--target",
                "negative_eigenvalue",
                "--param",
                "lam=1",
                "--param",
                "count=1.5",
            ],
            "count must be an integer",
        ),
        (["train", "--lr", "-1"], "--lr: expected a positive number"),
        (["train", "--lr", "nan"], "--lr: expected a positive number"),
        (["train", "--depth", "0"], "--depth: expected a positive integer"),
        (["train", "--method", "adam"], "invalid choice: 'adam'"),
        (["train", "--method", "power_projection"], "needs --gamma"),
        (["train", "--method", "step_and_project", "--lr", "0.1"], "needs --psi"),
        (["train", "--method", "penalty", "--lr", "0.1"], "needs --kappa"),
        (["train", "--method", "penalty", "--kappa", "-1", "--lr", "0.1"], "--kappa"),
        (["train", "--kappa", "1"], "--kappa is not an option of --method gd"),
        (["train", "--target", "rotation", "--param", "angle=1"], "--lr is required"),
        (["train", "--steps", "10", "--out", "/nonexistent-folder/result.npz"], "does not exist"),
        (["train", "--unknown-flag"], "unrecognized arguments"),
        (["reproduce", "--seed", "-3"], "--seed"),
        # an empty name is refused, not read as the default (spd; no file; the current folder)
        (["train", "--target", ""], "--target: expected a non-empty value"),
        (["train", "--phi", ""], "--phi: expected a non-empty value"),
        (["train", "--steps", "10", "--out", ""], "--out: expected a non-empty value"),
        (["reproduce", "--out", ""], "--out: expected a non-empty value"),
        (["sweep", "grid.toml", "--store", ""], "--store: expected a non-empty value"),
        (["sweep", "grid.toml", "--scheduler", ""], "--scheduler: expected a non-empty value"),
        (["sweep", ""], "grid: expected a non-empty value"),
        (["demo", "--cond", "0.5"], "cond"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_argument_errors_are_one_line(argv: list[str], message: str, capsys) -> None:
    prefix = "deeplinear" if argv[0] == "nonsense" else None
    if prefix:  # an unknown command is the top-level parser's error
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("deeplinear: error:")
    else:
        err = _one_line_error(argv, capsys)
    assert message in err


def test_bad_npy_files(tmp_path: Path, capsys) -> None:
    not_square = tmp_path / "phi.npy"
    np.save(not_square, np.ones((2, 3)))
    assert "square" in _one_line_error(["train", "--phi", str(not_square)], capsys)
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"not a numpy file")
    assert "cannot read" in _one_line_error(["train", "--phi", str(garbage)], capsys)
    missing = str(tmp_path / "missing.npy")
    assert "cannot read" in _one_line_error(["train", "--phi", missing], capsys)
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([1, "a"], dtype=object), allow_pickle=True)
    assert "cannot read" in _one_line_error(["train", "--phi", str(objects)], capsys)
    archive = tmp_path / "archive.npz"
    np.savez(archive, phi=np.eye(2))
    assert "archive" in _one_line_error(["train", "--phi", str(archive)], capsys)
    infinite = tmp_path / "infinite.npy"
    np.save(infinite, np.array([[1.0, np.inf], [0.0, 1.0]]))
    assert "infinite" in _one_line_error(["train", "--phi", str(infinite)], capsys)
    both = ["train", "--phi", str(not_square), "--target", "spd"]
    assert "not both" in _one_line_error(both, capsys)


def test_training_validation_errors_are_one_line(monkeypatch, capsys) -> None:
    def refuses(*args, **kwargs):
        raise ValueError("lr must be finite and > 0,\n got something else")

    monkeypatch.setattr(dl, "train", refuses)
    err = _one_line_error(["train", "--lr", "0.1"], capsys)
    assert "lr must be finite and > 0, got something else" in err


def test_train_writes_a_loadable_result(tmp_path: Path, capsys) -> None:
    phi = dl.targets.gamma_positive(3, 0.4, seed=1)
    np.save(tmp_path / "phi.npy", phi)
    out = tmp_path / "result.npz"
    argv = [
        "train",
        "--phi",
        str(tmp_path / "phi.npy"),
        "--method",
        "power_projection",
        "--gamma",
        "0.2",
        "--depth",
        "4",
        "--steps",
        "500",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Theorem 3" in printed  # the default step size and where it comes from
    with np.load(out) as saved:  # no pickle needed
        layers, losses, phi_saved = saved["layers"], saved["losses"], saved["phi"]
        assert str(saved["method"]) == "power_projection" and float(saved["gamma"]) == 0.2
        assert int(saved["steps"]) == 500 and str(saved["status"]) == "max_steps"
        assert saved["loss_steps"][-1] == 500 and layers.shape == (4, 3, 3)
    np.testing.assert_array_equal(phi_saved, phi)
    final = 0.5 * np.linalg.norm(dl.product(layers) - phi) ** 2
    assert f"final loss {final:.4e}" in printed
    assert final == pytest.approx(losses[-1], rel=1e-9)


def test_train_default_step_size_for_spd_targets(tmp_path: Path, capsys) -> None:
    argv = [
        "train",
        "--target",
        "spd",
        "--param",
        "cond=10",
        "--d",
        "5",
        "--steps",
        "300",
        "--record-every",
        "100",
        "--out",
        str(tmp_path / "spd"),
    ]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Theorem 2" in printed and "wrote" in printed
    with np.load(tmp_path / "spd.npz") as saved:  # the suffix is added
        assert str(saved["target"]) == "spd" and '"cond": 10.0' in str(saved["target_params"])
        phi = saved["phi"]
        assert float(saved["lr"]) == pytest.approx(dl.theory.theorem2_lr(phi, 8))
        assert list(saved["loss_steps"]) == [0, 100, 200, 300]


def test_train_with_explicit_lr_and_options(capsys) -> None:
    argv = [
        "train",
        "--target",
        "negative_eigenvalue",
        "--param",
        "lam=1",
        "--method",
        "step_and_project",
        "--psi",
        "1",
        "--depth",
        "2",
        "--lr",
        "0.05",
        "--steps",
        "100",
    ]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "psi=1" in printed and "status max_steps" in printed


def test_demo_runs(capsys) -> None:
    assert cli.main(["demo", "--d", "4", "--depth", "4", "--steps", "200"]) == 0
    assert "status" in capsys.readouterr().out


def test_a_one_dimensional_spd_target_needs_no_condition_number(capsys) -> None:
    # The default condition number (4) is impossible at d = 1: both commands take 1 there
    # instead of failing on an option the user never gave.
    assert cli.main(["demo", "--d", "1", "--depth", "2", "--steps", "20"]) == 0
    assert "condition number 1," in capsys.readouterr().out
    assert cli.main(["train", "--d", "1", "--depth", "2", "--steps", "20"]) == 0
    assert cli.main(["demo", "--d", "1", "--cond", "4"]) == 2  # given, it is still checked
    assert "cond must be 1 when d = 1" in capsys.readouterr().err


def test_help_and_version(capsys) -> None:
    assert cli.main([]) == 0
    assert "reproduce" in capsys.readouterr().out
    assert cli.main(["train", "--help"]) == 0
    helped = capsys.readouterr().out
    assert "rotation(angle" in helped and "examples:" in helped
    assert cli.main(["demo", "--help"]) == 0
    helped = capsys.readouterr().out
    assert "every 10% of the run" in " ".join(helped.split())  # (a literal %% was printed)
    assert cli.main(["--version"]) == 0
    assert dl.__version__ in capsys.readouterr().out


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deeplinear", "train", "--target", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("deeplinear train: error: unknown target family")
