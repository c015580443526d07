"""The command line: clear one-line errors with exit status 2; train writes a usable .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import cli


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--target", "nope"], "unknown target family"),
        (["train", "--target", "rotation", "--param", "bogus=1"], "bogus"),
        (["train", "--method", "power_projection"], "gamma"),
        (["train", "--target", "spd", "--param", "cond=0.5"], "cond"),
        (["train", "--method", "penalty", "--kappa", "-1"], "kappa"),
    ],
)
def test_errors_after_parsing_are_one_line(argv: list[str], message: str, capsys) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--param", "x"], "NAME=VALUE"),
        (["train", "--param", "angle=abc"], "not a number"),
        (["train", "--lr", "-1"], "positive"),
        (["train", "--method", "adam"], "invalid choice"),
        (["train", "--depth", "0"], "positive"),
    ],
)
def test_argparse_errors_exit_2(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_npy_files(tmp_path: Path, capsys) -> None:
    not_square = tmp_path / "phi.npy"
    np.save(not_square, np.ones((2, 3)))
    assert cli.main(["train", "--phi", str(not_square)]) == 2
    assert "square" in capsys.readouterr().err
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"not a numpy file")
    assert cli.main(["train", "--phi", str(garbage)]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert cli.main(["train", "--phi", str(tmp_path / "missing.npy")]) == 2


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
    with np.load(out) as saved:
        layers, losses = saved["layers"], saved["losses"]
        np.testing.assert_array_equal(saved["phi"], phi)
        assert str(saved["method"]) == "power_projection"
    assert dl.loss(layers, phi) == pytest.approx(losses[-1])
    assert f"{losses[-1]:.4e}" in printed


def test_demo_runs(capsys) -> None:
    assert cli.main(["demo", "--d", "4", "--depth", "4", "--steps", "200"]) == 0
    assert "status" in capsys.readouterr().out


def test_no_command_prints_help(capsys) -> None:
    assert cli.main([]) == 0
    assert "reproduce" in capsys.readouterr().out
