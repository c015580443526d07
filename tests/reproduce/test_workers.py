"""`reproduce.run(..., workers=N)`: the claims in worker processes give the report of one process,
and leave nothing behind when they stop early."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deeplinear import batch, cli, reproduce, training
from deeplinear.reproduce.engine import Engine


def _comparable(out: Path) -> dict:
    """results.json without what depends on the clock or the command line."""
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for key in ("seconds", "command"):  # (the versions too: matplotlib drew in the workers)
        results.pop(key, None)
    for claim in results["claims"]:
        claim.pop("seconds", None)
    return results


def test_two_workers_write_the_report_of_one_process(tmp_path: Path) -> None:
    alone = reproduce.run(tmp_path / "alone", quick=True, progress=False, workers=1)
    shared = reproduce.run(tmp_path / "shared", quick=True, progress=False, workers=2)
    assert [c.name for c in shared.claims] == [c.name for c in alone.claims]  # report order
    assert _comparable(tmp_path / "shared") == _comparable(tmp_path / "alone")
    assert shared.figures == alone.figures and shared.figures
    # the workers' figures moved into the report folder; their own folder is gone
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == sorted(
        p.name for p in (tmp_path / "alone").iterdir()
    )
    for name in shared.figures:
        assert (tmp_path / "shared" / name).stat().st_size > 0


def test_the_cli_takes_a_worker_count(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert (
        cli.main(["reproduce", "--quick", "--workers", "2", "--out", str(out), "--no-progress"])
        == 0
    )
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["passed"]
    assert not [p for p in out.iterdir() if p.name.startswith(".figures-")]


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_a_bad_worker_count_is_a_value_error_before_anything_is_written(
    tmp_path: Path, workers: object
) -> None:
    with pytest.raises(ValueError, match="workers"):
        reproduce.run(tmp_path / "report", quick=True, progress=False, workers=workers)  # type: ignore[arg-type]
    assert not (tmp_path / "report").exists()


def test_a_given_engine_stays_in_this_process(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="default engine"):
        reproduce.run(tmp_path / "report", quick=True, progress=False, engine=Engine(), workers=2)


def test_each_worker_runs_its_batches_on_its_share_of_the_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers that each start a thread per core oversubscribe the machine."""
    monkeypatch.setattr(training, "available_cores", lambda: 8)
    assert [reproduce._worker_threads(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    asked: list[int] = []
    train_batch = batch.train_batch

    def counting(*args: object, **kwargs: object) -> object:
        asked.append(kwargs["threads"])  # type: ignore[arg-type]
        return train_batch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(batch, "train_batch", counting)
    index = [c.name for c in reproduce.CLAIMS].index("theorem1")
    claim, _ = reproduce._claim_and_figures(index, np.random.default_rng(0), True, tmp_path, 3)
    assert claim.passed and asked and set(asked) == {3}


@pytest.mark.parametrize("threads", [-1, 1.5, True, "2"])
def test_a_bad_engine_thread_count_is_a_value_error(threads: object) -> None:
    with pytest.raises(ValueError, match="threads"):
        Engine(threads)  # type: ignore[arg-type]
