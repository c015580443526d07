"""dl.sweep and dl.grid: local, executor and Dask runs agree; stores resume; errors are rows."""

from __future__ import annotations

import concurrent.futures
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl

sweep_module = importlib.import_module("deeplinear.sweep")  # dl.sweep is the function


def small_grid() -> list[dict]:
    return dl.grid(
        target="negative_eigenvalue",
        target_params={"d": 4, "lam": [0.5, 2.0], "seed": 0},
        depth=[2, 3],
        lr=0.05,
        max_steps=300,
        record_every=300,
    )


def rows(table) -> list[dict]:
    return table.to_dict("records") if hasattr(table, "to_dict") else list(table)


def no_error(row: dict) -> bool:
    return not isinstance(row["error"], str)  # None, or NaN in a pandas table


def test_grid_is_the_product_in_a_stable_order() -> None:
    configs = dl.grid(a=[1, 2], b=["x", "y", "z"], c=0.5)
    assert [(c["a"], c["b"]) for c in configs] == [
        (1, "x"),
        (1, "y"),
        (1, "z"),
        (2, "x"),
        (2, "y"),
        (2, "z"),
    ]
    assert all(c["c"] == 0.5 for c in configs)
    nested = dl.grid(target_params={"lam": [1, 2], "d": 3}, depth=[2])
    assert [c["target_params"] for c in nested] == [{"lam": 1, "d": 3}, {"lam": 2, "d": 3}]
    with pytest.raises(ValueError, match="empty"):
        dl.grid(a=[])


def test_rows_match_direct_training_and_the_theorem_floor() -> None:
    table = rows(dl.sweep(small_grid(), progress=False))
    assert len(table) == 4
    for row, config in zip(table, small_grid()):
        params = dict(config["target_params"])
        phi = dl.targets.negative_eigenvalue(params.pop("d"), **params)
        direct = dl.train(phi, config["depth"], lr=0.05, max_steps=300, record_every=300)
        assert row["final_loss"] == direct.final_loss and row["steps"] == direct.steps
        assert row["status"] == "max_steps" and no_error(row)
        assert row["final_loss"] >= row["target_params.lam"] ** 2 / 2 - 1e-9  # Theorems 4–5


def test_phi_configs_and_process_pools_give_the_same_rows() -> None:
    phi = dl.targets.spd(3, 2.0, seed=1)
    configs = [{"phi": phi, "depth": depth, "lr": 0.05, "max_steps": 200} for depth in (2, 4)]
    local = rows(dl.sweep(configs, progress=False))
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        remote = rows(dl.sweep(configs, executor=pool, progress=False))
    assert [r["final_loss"] for r in local] == [r["final_loss"] for r in remote]
    assert local[0]["phi"].startswith("array(3, 3)")


def test_bad_configs_are_recorded_not_fatal(tmp_path: Path) -> None:
    configs = [
        {"target": "nope", "target_params": {"d": 3}, "depth": 2, "lr": 0.1},
        {"target": "spd", "target_params": {"d": 3, "cond": 2.0}, "depth": 2, "lr": -1.0},
        {
            "target": "spd",
            "target_params": {"d": 3, "cond": 2.0},
            "depth": 2,
            "lr": 0.1,
            "max_steps": 10,
        },
    ]
    table = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert table[0]["status"] == "error" and "target must be one of" in table[0]["error"]
    assert table[1]["status"] == "error" and table[1]["error"].startswith("ValueError: lr")
    assert table[2]["status"] == "max_steps" and no_error(table[2])
    assert len(list(tmp_path.glob("*.json"))) == 3  # errors are stored too


def test_store_skips_finished_runs(tmp_path: Path, monkeypatch) -> None:
    first = rows(dl.sweep(small_grid(), store=tmp_path, progress=False))
    assert not any(row["cached"] for row in first)
    calls = []
    monkeypatch.setattr(sweep_module, "run_config", lambda config: calls.append(config))
    again = rows(dl.sweep(small_grid(), store=tmp_path, progress=False))
    assert calls == [] and all(row["cached"] for row in again)
    assert [r["final_loss"] for r in again] == [r["final_loss"] for r in first]
    names = sorted(path.stem for path in tmp_path.glob("*.json"))
    assert names == sorted(sweep_module.config_key(c) for c in small_grid())


def test_config_key_is_stable_and_sensitive() -> None:
    config = {"phi": np.eye(3), "depth": 2, "lr": 0.1}
    assert sweep_module.config_key(config) == sweep_module.config_key(
        dict(reversed(config.items()))
    )
    assert sweep_module.config_key(config) != sweep_module.config_key({**config, "lr": 0.2})
    changed = {**config, "phi": np.diag([1.0, 1.0, 1.0 + 1e-15])}
    assert sweep_module.config_key(config) != sweep_module.config_key(changed)


KILLED_SWEEP = """
import sys
import deeplinear as dl
import concurrent.futures
params = {"d": 48, "cond": [2.0, 3.0, 4.0, 5.0], "seed": [0, 1, 2]}
configs = dl.grid(target="spd", target_params=params, depth=8, lr=1e-3, max_steps=1500,
                  record_every=1500)
one = concurrent.futures.ThreadPoolExecutor(1)
dl.sweep(configs, executor=one, store=sys.argv[1], progress=False)
"""


def test_a_killed_sweep_resumes_and_runs_everything_exactly_once(tmp_path: Path) -> None:
    store = tmp_path / "store"
    process = subprocess.Popen([sys.executable, "-c", KILLED_SWEEP, str(store)])
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and len(list(store.glob("*.json"))) < 3:
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait()
    done_before = {path.name: path.stat().st_mtime_ns for path in store.glob("*.json")}
    assert 3 <= len(done_before) < 12, "the sweep finished before it could be killed"
    configs = dl.grid(
        target="spd",
        target_params={"d": 48, "cond": [2.0, 3.0, 4.0, 5.0], "seed": [0, 1, 2]},
        depth=8,
        lr=1e-3,
        max_steps=1500,
        record_every=1500,
    )
    table = rows(dl.sweep(configs, store=store, progress=False))
    assert sum(row["cached"] for row in table) == len(done_before)
    assert all(row["status"] == "max_steps" for row in table)
    finished = sorted(store.glob("*.json"))
    assert len(finished) == 12
    for path in finished:  # runs finished before the kill were not run again
        if path.name in done_before:
            assert path.stat().st_mtime_ns == done_before[path.name]
        json.loads(path.read_text())  # every stored file is complete
    assert all(path.suffix == ".tmp" for path in store.iterdir() if path.name.startswith("."))


def test_sweep_on_a_dask_local_cluster_matches_the_local_sweep(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    local = rows(dl.sweep(small_grid(), progress=False))
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = rows(dl.sweep(small_grid(), executor=client, store=tmp_path, progress=False))
    assert [r["final_loss"] for r in remote] == [r["final_loss"] for r in local]
    assert [r["steps"] for r in remote] == [r["steps"] for r in local]
    assert len(list(tmp_path.glob("*.json"))) == 4


def test_sweep_file_and_cli(tmp_path: Path, capsys) -> None:
    from deeplinear import cli

    spec = tmp_path / "grid.toml"
    spec.write_text(
        '[fixed]\ntarget = "negative_eigenvalue"\nlr = 0.05\nmax_steps = 200\n'
        "[fixed.target_params]\nd = 3\nseed = 0\n"
        "[grid]\ndepth = [2, 3]\n[grid.target_params]\nlam = [0.5, 1.0]\n"
    )
    assert cli.main(["sweep", str(spec), "--store", str(tmp_path / "store")]) == 0
    out = capsys.readouterr().out
    assert "4 runs, 0 errors" in out
    assert len(list((tmp_path / "store").glob("*.json"))) == 4
    bad = tmp_path / "bad.toml"
    bad.write_text("[nonsense]\na = 1\n")
    assert cli.main(["sweep", str(bad)]) == 2
    assert "unknown tables" in capsys.readouterr().err
