"""The command line under faults: Ctrl-C (exit status 130), errors of runs (1), memory (1),
bad sweep files and arguments (2) — always one line on stderr, never a traceback."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import cli
from interrupts import interrupt_after

sweep_module = importlib.import_module("deeplinear.sweep")


def one_line(argv: list[str], status: int, capsys) -> str:
    assert cli.main(argv) == status
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"deeplinear {argv[0]}: ")
    return err


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def fixed(extra: str = "") -> str:
    """A [fixed] table of a small spd sweep, with ``extra`` lines in it."""
    head = '[fixed]\ntarget = "spd"\nlr = 0.1\nmax_steps = 20\n'
    return f"{head}{extra}[fixed.target_params]\nd = 3\ncond = 2.0\n"


FIXED = fixed()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("grid = 3\n", "[grid] must be a table"),
        ("fixed = [1, 2]\n", "[fixed] must be a table"),
        ("[fixed]\ntarget_params = 5\n", "[fixed]: [target_params] must be a table"),
        ("[grid]\ntarget_params = [1]\n", "[grid]: [target_params] must be a table"),
        (FIXED + "[grid]\nlr = [0.1, 0.2]\n", "lr given in both [fixed] and [grid]"),
        (FIXED + "[grid.target_params]\nd = [3, 4]\n", "target_params.d given in both"),
        ("[fixed]\ndepth = 2\nseed = 1979-05-27\n", "configs[0]: Object of type date"),
        ("[fixed\n", "is not valid TOML"),
        ("[grid]\ndepth = []\n", "depth must not be an empty list"),
        ("[nonsense]\na = 1\n", "unknown tables"),
    ],
)
def test_bad_sweep_files_are_one_line_errors(tmp_path: Path, text: str, message: str, capsys):
    err = one_line(["sweep", write(tmp_path / "grid.toml", text)], 2, capsys)
    assert message in err


def test_a_missing_sweep_file_or_a_folder_is_one_line(tmp_path: Path, capsys) -> None:
    assert "No such file" in one_line(["sweep", str(tmp_path / "nope.toml")], 2, capsys)
    assert "Is a directory" in one_line(["sweep", str(tmp_path)], 2, capsys)


def test_a_sweep_exits_1_when_a_run_ends_in_an_error(tmp_path: Path, capsys) -> None:
    every = write(tmp_path / "every.toml", fixed("depth = 2\n") + "[grid]\nmethod = ['a', 'b']\n")
    assert cli.main(["sweep", every]) == 1
    assert "2 runs, 2 errors" in capsys.readouterr().out
    some = write(tmp_path / "some.toml", FIXED + "[grid]\ndepth = [2, 0]\n")
    assert cli.main(["sweep", some]) == 1
    assert "2 runs, 1 errors" in capsys.readouterr().out
    none = write(tmp_path / "none.toml", FIXED + "[grid]\ndepth = [2, 3]\n")
    assert cli.main(["sweep", none]) == 0
    assert "2 runs, 0 errors" in capsys.readouterr().out


def test_sweep_retry_errors_and_no_progress(tmp_path: Path, capsys, monkeypatch) -> None:
    spec = write(tmp_path / "grid.toml", FIXED + "[grid]\ndepth = [2, 0]\n")
    store = str(tmp_path / "store")
    monkeypatch.setattr(sweep_module, "PROGRESS_INTERVAL", 0.0)
    assert cli.main(["sweep", spec, "--store", store]) == 1
    assert "sweep: 2/2 run" in capsys.readouterr().err  # plain lines in a log
    assert cli.main(["sweep", spec, "--store", store, "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.count("True") == 2  # both cached
    assert cli.main(["sweep", spec, "--store", store, "--retry-errors", "--no-progress"]) == 1
    lines = capsys.readouterr().out.splitlines()
    error_row = next(line for line in lines if "ValueError: depth" in line)
    assert "False" in error_row and "True" in "".join(lines)  # run again; the other read


def test_out_of_memory_is_one_line_with_status_1(capsys) -> None:
    err = one_line(["train", "--d", "100000000", "--lr", "0.1"], 1, capsys)
    assert "not enough memory" in err
    assert "not enough memory" in one_line(["demo", "--d", "99999999"], 1, capsys)


def test_an_unexpected_error_is_one_line_with_status_1(monkeypatch, capsys) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("no balanced factorization (singular)")

    monkeypatch.setattr(dl, "train", broken)
    err = one_line(["train", "--lr", "0.1", "--steps", "10"], 1, capsys)
    assert err.endswith("error: RuntimeError: no balanced factorization (singular)")


def test_integer_arguments_beyond_64_bits_name_the_argument(capsys) -> None:
    huge = "99999999999999999999999"
    for argv in (["train", "--steps", huge], ["demo", "--steps", huge], ["train", "--d", huge]):
        err = one_line(argv, 2, capsys)
        assert f"argument {argv[1]}: expected an integer <= 2**63 - 1" in err
        assert "record_every" not in err
    err = one_line(["train", "--record-every", huge, "--lr", "0.1"], 2, capsys)
    assert "--record-every" in err


def test_out_naming_a_folder_says_so(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    err = one_line(["train", "--steps", "10", "--out", str(folder)], 2, capsys)
    assert f"--out {folder} is a folder" in err
    assert list(tmp_path.iterdir()) == [folder] and not list(folder.iterdir())


@pytest.mark.parametrize("command", ["train", "demo"])
def test_ctrl_c_stops_train_and_demo_with_status_130(command: str, tmp_path: Path, capsys):
    out = tmp_path / "run.npz"
    argv = {
        "train": ["train", "--d", "6", "--lr", "1e-6", "--steps", "100000000", "--out", str(out)],
        "demo": ["demo", "--d", "6", "--steps", "100000000", "--tol", "0"],
    }[command]
    timer, sent = interrupt_after(0.5)
    try:
        status = cli.main(argv)
        returned = time.perf_counter()
    finally:
        timer.join()
    assert status == 130 and returned - sent[0] < 1.0
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"deeplinear {command}: interrupted: after ") and "Warning" not in err
    if command == "train":  # the state at the interrupt is kept, and says what it is
        assert f"{out} holds the state after them" in err
        with np.load(out) as saved:
            assert str(saved["status"]) == "interrupted" and int(saved["steps"]) > 0
            assert saved["loss_steps"][-1] == saved["steps"]


def test_sweep_prints_its_table_without_pandas(tmp_path: Path, capsys, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails: a list of dicts
    spec = write(
        tmp_path / "grid.toml", fixed("depth = 2\n") + "[grid]\nmethod = ['gd', 'penalty']\n"
    )
    assert cli.main(["sweep", spec]) == 1
    out = capsys.readouterr().out
    assert "2 runs, 1 errors" in out and "needs kappa" in out and "max_steps" in out


def test_a_store_that_cannot_be_made_is_a_usage_error(tmp_path: Path, capsys) -> None:
    spec = write(tmp_path / "grid.toml", FIXED + "[grid]\ndepth = [2]\n")
    taken = tmp_path / "file"
    taken.write_text("not a folder")
    assert "is a file, not a folder" in one_line(["sweep", spec, "--store", str(taken)], 2, capsys)


def test_a_reader_that_goes_away_loses_no_file_and_gets_status_141(tmp_path: Path) -> None:
    # `deeplinear train --out r.npz | head -1`: the table was printed before the result was
    # saved, and the closed pipe ended the command with status 1 and no file
    import subprocess
    import sys

    out = tmp_path / "r.npz"
    process = subprocess.Popen(
        [sys.executable, "-m", "deeplinear", "train", "--d", "4", "--depth", "3", "--steps",
         "20000", "--tol", "0", "--record-every", "1", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # as head -1 does
    _, err = process.communicate(timeout=120)
    assert process.returncode == 141, err
    # (a table of 20,000 rows: far more than a pipe holds, so it cannot finish before the close)
    assert err == b"" and np.load(out)["steps"] == 20000


def test_a_report_that_cannot_be_written_after_the_run_is_status_1(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    # (a usage error, 2, is only a folder that cannot be made before any claim runs)
    from deeplinear import reproduce

    def unwritable(*args, **kwargs):
        raise FileNotFoundError("the folder went away")

    monkeypatch.setattr(reproduce, "CLAIMS", reproduce.CLAIMS[:1])
    monkeypatch.setattr(reproduce, "write_report", unwritable)
    status = cli.main(["reproduce", "--quick", "--out", str(tmp_path / "r"), "--no-progress"])
    assert status == 1
    assert "FileNotFoundError" in capsys.readouterr().err
    blocked = tmp_path / "file"
    blocked.write_text("x")
    assert cli.main(["reproduce", "--quick", "--out", str(blocked / "r"), "--no-progress"]) == 2
