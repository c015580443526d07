"""dl.sweep and dl.grid: local, executor and Dask runs agree; stores resume; errors are rows."""

from __future__ import annotations

import concurrent.futures
import importlib
import json
from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl
from dask_cluster import dask_client

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


def stored(store: Path) -> dict[str, dict]:
    """Every record of a store's shards, key → record (read independently of the sweep)."""
    records = {}
    for shard in sorted(store.glob("runs-*.jsonl")):
        for line in shard.read_text().splitlines():
            record = json.loads(line)
            records[record["key"]] = record
    return records


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
    assert len(stored(tmp_path)) == 3  # invalid configs are stored too: they fail every time


def test_store_skips_finished_runs(tmp_path: Path, monkeypatch) -> None:
    first = rows(dl.sweep(small_grid(), store=tmp_path, progress=False))
    assert not any(row["cached"] for row in first)
    calls = []
    monkeypatch.setattr(sweep_module, "run_task", lambda configs, token: calls.append(configs))
    again = rows(dl.sweep(small_grid(), store=tmp_path, progress=False))
    assert calls == [] and all(row["cached"] for row in again)
    assert [r["final_loss"] for r in again] == [r["final_loss"] for r in first]
    assert sorted(stored(tmp_path)) == sorted(sweep_module.config_key(c) for c in small_grid())


def test_config_key_is_stable_and_sensitive() -> None:
    config = {"phi": np.eye(3), "depth": 2, "lr": 0.1}
    assert sweep_module.config_key(config) == sweep_module.config_key(
        dict(reversed(config.items()))
    )
    assert sweep_module.config_key(config) != sweep_module.config_key({**config, "lr": 0.2})
    changed = {**config, "phi": np.diag([1.0, 1.0, 1.0 + 1e-15])}
    assert sweep_module.config_key(config) != sweep_module.config_key(changed)


def test_sweep_on_a_dask_local_cluster_matches_the_local_sweep(tmp_path: Path) -> None:
    local = rows(dl.sweep(small_grid(), progress=False))
    with dask_client() as client:
        remote = rows(dl.sweep(small_grid(), executor=client, store=tmp_path, progress=False))
    assert [r["final_loss"] for r in remote] == [r["final_loss"] for r in local]
    assert [r["steps"] for r in remote] == [r["steps"] for r in local]
    assert len(stored(tmp_path)) == 4


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
    assert len(stored(tmp_path / "store")) == 4
    bad = tmp_path / "bad.toml"
    bad.write_text("[nonsense]\na = 1\n")
    assert cli.main(["sweep", str(bad)]) == 2
    assert "unknown tables" in capsys.readouterr().err


# -- arguments ----------------------------------------------------------------------------------


def test_a_single_dict_or_a_list_of_non_dicts_is_refused_with_a_clear_message() -> None:
    config = small_grid()[0]
    with pytest.raises(TypeError, match=r"got a single dict: pass \[config\]"):
        dl.sweep(config, progress=False)
    with pytest.raises(TypeError, match=r"configs\[1\] must be a dict"):
        dl.sweep([config, "depth=2"], progress=False)
    with pytest.raises(TypeError, match="configs must be a list"):
        dl.sweep(5, progress=False)
    with pytest.raises(TypeError, match=r"configs\[0\]: .*callable"):
        dl.sweep([{**config, "callback": print}], progress=False)
    with pytest.raises(TypeError, match=r"configs\[0\]: .*not JSON serializable"):
        dl.sweep([{**config, "lr": {1, 2}}], progress=False)


# -- batching -----------------------------------------------------------------------------------


def mixed_configs() -> list[dict]:
    """Configs of every method, with per-network options, a float32 Φ, init arrays, a diverging
    run, converged runs, an invalid config inside a batch and a shape of its own."""
    neg = {"d": 3, "lam": 1.0, "seed": [0, 1]}
    configs = dl.grid(
        target="spd",
        target_params={"d": 3, "cond": [1.5, 4.0], "seed": [0, 1]},
        depth=[2, 3],
        lr=[0.05, 0.2],
        tol=[0.0, 1e-6],
        max_steps=150,
        record_every=50,
    )
    methods = [
        ("gamma_positive", {"d": 3, "gamma": 0.3, "seed": [0, 1]}, 3, "power_projection",
         {"gamma": [0.1, 0.2], "lr": 0.01}),
        ("negative_eigenvalue", neg, 2, "penalty", {"kappa": [0.0, 0.5], "lr": 0.05}),
        ("negative_eigenvalue", neg, 2, "step_and_project", {"psi": [0.5, 1.0], "lr": 0.05}),
    ]  # fmt: skip
    for target, params, depth, method, options in methods:
        configs += dl.grid(target=target, target_params=params, depth=depth, method=method,
                           max_steps=100, **options)  # fmt: skip
    phi32 = dl.targets.spd(3, 2.0, seed=5).astype(np.float32)
    configs += [{"phi": phi32, "depth": 2, "lr": lr, "max_steps": 120} for lr in (0.1, 0.3)]
    starts = [np.stack([np.eye(3) * scale] * 2) for scale in (0.9, 1.1)]
    configs += [
        {"phi": dl.targets.spd(3, 2.0, seed=7), "depth": 2, "lr": 0.1, "init": s, "max_steps": 80}
        for s in starts
    ]
    diverging = {"target": "spd", "target_params": {"d": 3, "cond": 4.0, "seed": 0}, "depth": 2}
    configs += [{**diverging, "lr": lr, "max_steps": 150, "record_every": 50} for lr in (5.0, -1.0)]
    configs.append(
        {"target": "spd", "target_params": {"d": 5, "cond": 2.0, "seed": 3}, "depth": 2, "lr": 0.1}
    )
    return configs


def direct(config: dict) -> tuple:
    """(status, steps, final_loss) of dl.train on a config, or its error's type."""
    arguments = dict(config)
    if "phi" in arguments:
        phi = arguments.pop("phi")
    else:
        params = dict(arguments.pop("target_params"))
        phi = dl.targets.FAMILIES[arguments.pop("target")](params.pop("d"), **params)
    try:
        result = dl.train(phi, arguments.pop("depth"), **arguments)
    except ValueError:
        return ("error",)
    return result.status, result.steps, result.final_loss


def outcome(row: dict) -> tuple:
    return (
        ("error",) if row["status"] == "error" else (row["status"], row["steps"], row["final_loss"])
    )


def test_batched_and_unbatched_sweeps_give_the_rows_of_dl_train(monkeypatch) -> None:
    batches = []
    run = dl.BatchTrainer.run
    counted = lambda self, *a: batches.append(len(self)) or run(self, *a)  # noqa: E731
    monkeypatch.setattr(dl.BatchTrainer, "run", counted)
    configs = mixed_configs()
    with concurrent.futures.ThreadPoolExecutor(2) as two:  # tasks sized for two workers
        batched = rows(dl.sweep(configs, executor=two, progress=False))
        assert len(batches) >= 6 and sum(batches) >= 40  # most configs ran in batches
        batches.clear()
        alone = rows(dl.sweep(configs, executor=two, progress=False, batch=False))
    assert batches == []
    expected = [direct(config) for config in configs]
    assert [outcome(row) for row in batched] == expected
    assert [outcome(row) for row in alone] == expected
    statuses = {row["status"] for row in batched}
    assert {"converged", "max_steps", "diverged", "error"} <= statuses  # every path is covered
    columns = [name for name in batched[0] if name != "seconds"]
    for one, other in zip(batched, alone):
        assert set(one) == set(other)
        same = [one[c] == other[c] or (one[c] != one[c] and other[c] != other[c]) for c in columns]
        assert all(same), (one, other)
    invalid = batched[-2]
    assert invalid["error"].startswith("ValueError: lr must be > 0")


def test_tasks_batch_what_shares_a_key_and_give_every_worker_work() -> None:
    configs = dl.grid(target="spd", target_params={"d": 4, "cond": 2.0, "seed": list(range(10))},
                      depth=[2, 3], lr=0.1, max_steps=50)  # fmt: skip
    tasks = sweep_module._tasks(configs, list(range(20)), workers=2, batch=True)
    assert sorted(i for task in tasks for i in task) == list(range(20))
    assert len(tasks) >= 2  # both workers have work
    for task in tasks:
        assert len({configs[i]["depth"] for i in task}) == 1
    assert sweep_module._tasks(configs, list(range(20)), workers=2, batch=False) == [
        [i] for i in range(20)
    ]
    for count, workers in [(1, 4), (7, 2), (100, 8), (5000, 2), (10**6, 2)]:
        size = sweep_module._task_size(count, workers, work=100.0)
        assert 1 <= size <= sweep_module.MAX_BATCH
        assert -(-count // size) >= min(count, workers)  # no worker idle while tasks remain
    assert sweep_module._task_size(1000, 2, work=sweep_module.TASK_WORK) == 1  # long runs alone


def test_configs_that_cannot_batch_run_alone() -> None:
    key = sweep_module.batch_key
    base = small_grid()[0]
    assert key(base) is not None and key(base) == key({**base, "lr": 0.3, "tol": 1e-3})
    assert key(base) != key({**base, "depth": 7}) and key(base) != key({**base, "max_steps": 1})
    assert key({**base, "progress": True}) is None
    assert key({**base, "callback": print}) is None
    assert key({**base, "unknown": 1}) is None
    assert key({**base, "depth": [1]}) is None
    assert key({"phi": [[1.0]], "depth": 1, "lr": 0.1}) is None  # not an array: alone
    assert key({**base, "gamma": 0.5}) != key(base)  # which parameters are given


# -- progress -----------------------------------------------------------------------------------


def test_progress_is_plain_lines_in_a_log_a_bar_on_a_terminal_and_off_when_asked(
    monkeypatch, capsys
) -> None:
    import io

    monkeypatch.setattr(sweep_module, "PROGRESS_INTERVAL", 0.0)
    dl.sweep(small_grid(), progress=False)
    assert capsys.readouterr().err == ""
    dl.sweep(small_grid(), progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.startswith("sweep: ") and "s elapsed" in line for line in lines)
    assert lines[-1].startswith("sweep: 4/4 run (100 %)") and "\r" not in "".join(lines)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    dl.sweep(small_grid(), progress=True)
    assert "\rsweep:" in terminal.getvalue() and "/4 [" in terminal.getvalue()  # a tqdm bar


def test_a_batch_is_made_again_without_an_invalid_config_and_a_failing_one_runs_alone(
    monkeypatch,
) -> None:
    tasks = importlib.import_module("deeplinear._sweep_tasks")
    configs = [config for config in small_grid() if config["depth"] == 2] * 2  # one batch key
    configs[1] = {**configs[1], "lr": -1.0}
    sizes = []
    run = dl.BatchTrainer.run
    counted = lambda self, *a: sizes.append(len(self)) or run(self, *a)  # noqa: E731
    monkeypatch.setattr(dl.BatchTrainer, "run", counted)
    outcomes = tasks.run_task([dict(c) for c in configs])
    assert sizes == [3]  # the three valid configs, still one batch
    assert [result["status"] for result, _ in outcomes] == ["max_steps", "error"] + [
        "max_steps"
    ] * 2
    assert outcomes[1] == (outcomes[1][0], True)  # the invalid one: a deterministic error
    assert [outcome(result) for result, _ in outcomes] == [direct(c) for c in configs]

    def fails(self, *args):
        raise RuntimeError("no balanced factorization (singular)")

    monkeypatch.setattr(dl.BatchTrainer, "run", fails)
    outcomes = tasks.run_task([dict(c) for c in configs])  # alone, by dl.train: the same rows
    assert [outcome(result) for result, _ in outcomes] == [direct(c) for c in configs]
