"""The sweep store: shards that are complete or absent, exact resume after SIGKILL, stores of
the one-file-per-run format, which errors are kept, retrying them, and records that are
individually valid but inconsistent."""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deeplinear as dl

sweep_module = importlib.import_module("deeplinear.sweep")
tasks_module = importlib.import_module("deeplinear._sweep_tasks")
store_module = importlib.import_module("deeplinear._sweep_store")


def rows(table) -> list[dict]:
    return table.to_dict("records") if hasattr(table, "to_dict") else list(table)


def records(store: Path) -> list[dict]:
    """Every line of every shard, in shard order (read independently of the sweep)."""
    lines = []
    for shard in sorted(store.glob("runs-*.jsonl")):
        lines += [json.loads(line) for line in shard.read_text().splitlines()]
    return lines


def configs_of(count: int, **fixed) -> list[dict]:
    params = {"d": 3, "cond": 2.0, "seed": list(range(count))}
    options = {"depth": 2, "lr": 0.1, "max_steps": 50, "record_every": 50, **fixed}
    return dl.grid(target="spd", target_params=params, **options)


def spy_runs(monkeypatch) -> list[dict]:
    """Record every config that a sweep runs (in this process's threads)."""
    ran: list[dict] = []
    original = tasks_module.run_task

    def run_task(configs, token=None):
        ran.extend(configs)
        return original(configs, token)

    monkeypatch.setattr(sweep_module, "run_task", run_task)
    return ran


# -- the format ----------------------------------------------------------------------------------


def test_a_shard_line_is_key_result_and_the_canonical_config_it_hashes(tmp_path: Path) -> None:
    configs = [*configs_of(3), {"phi": np.eye(2), "depth": 2, "lr": -1.0}]
    table = rows(dl.sweep(configs, store=tmp_path, progress=False))
    lines = records(tmp_path)
    assert len(lines) == 4 and not list(tmp_path.glob("*.json"))
    by_key = {line["key"]: line for line in lines}
    for config, row in zip(configs, table):
        line = by_key[sweep_module.config_key(config)]
        text = json.dumps(line["config"], sort_keys=True, separators=(",", ":"))
        assert hashlib.sha256(text.encode()).hexdigest()[:32] == line["key"]
        assert list(line["result"]) == list(store_module.ROW_FIELDS)
        result_text = json.dumps(line["result"], separators=(",", ":"))
        assert line["check"] == hashlib.sha256(result_text.encode()).hexdigest()[:16]
        for name in ("status", "steps", "error"):
            assert line["result"][name] == row[name] or (row[name] != row[name])
    assert by_key[sweep_module.config_key(configs[3])]["config"]["phi"]["__array__"][:2] == [
        "float64",
        [2, 2],
    ]


def test_a_store_of_a_thousand_runs_is_a_few_shards_and_resumes_in_one_read(
    tmp_path: Path, monkeypatch
) -> None:
    configs = configs_of(1000, max_steps=5, record_every=5)
    dl.sweep(configs, store=tmp_path, progress=False)
    shards = list(tmp_path.glob("runs-*.jsonl"))
    assert 1 <= len(shards) <= 10 and len(records(tmp_path)) == 1000
    ran = spy_runs(monkeypatch)
    again = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert ran == [] and all(row["cached"] for row in again)


def test_only_configs_missing_from_the_store_run_again(tmp_path: Path, monkeypatch) -> None:
    configs = configs_of(6)
    dl.sweep(configs[:4], store=tmp_path, progress=False)
    ran = spy_runs(monkeypatch)
    table = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert ran == configs[4:]
    assert [row["cached"] for row in table] == [True] * 4 + [False] * 2
    assert len(records(tmp_path)) == 6  # nothing written twice


KILLED_SWEEP = """
import importlib, sys
import deeplinear as dl
importlib.import_module("deeplinear._sweep_store").FLUSH_SECONDS = 0.0  # a shard per task
params = {"d": 40, "cond": [2.0, 3.0, 4.0, 5.0], "seed": [0, 1, 2, 3]}
configs = dl.grid(target="spd", target_params=params, depth=8, lr=1e-3, max_steps=1500,
                  record_every=1500)
dl.sweep(configs, store=sys.argv[1], progress=False)
"""


def test_a_sweep_killed_by_sigkill_resumes_exactly(tmp_path: Path, monkeypatch) -> None:
    store = tmp_path / "store"
    process = subprocess.Popen([sys.executable, "-c", KILLED_SWEEP, str(store)])
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and len(list(store.glob("runs-*.jsonl"))) < 3:
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = {path.name: path.read_bytes() for path in store.glob("runs-*.jsonl")}
    done = {line["key"] for line in records(store)}
    assert 3 <= len(done) < 16, "the sweep finished before it could be killed"
    configs = dl.grid(
        target="spd",
        target_params={"d": 40, "cond": [2.0, 3.0, 4.0, 5.0], "seed": [0, 1, 2, 3]},
        depth=8,
        lr=1e-3,
        max_steps=1500,
        record_every=1500,
    )
    ran = spy_runs(monkeypatch)
    table = rows(dl.sweep(configs, store=store, progress=False))
    keys = [sweep_module.config_key(config) for config in configs]
    assert sorted(map(sweep_module.config_key, ran)) == sorted(k for k in keys if k not in done)
    assert [row["cached"] for row in table] == [key in done for key in keys]
    assert all(row["status"] == "max_steps" for row in table)
    for name, content in before.items():  # what was written before the kill is untouched
        assert (store / name).read_bytes() == content
    assert sorted(line["key"] for line in records(store)) == sorted(keys)
    for path in store.iterdir():  # complete shards, and at most stray temporary files
        assert path.name.startswith(("runs-", ".runs-")) and (
            path.suffix == ".jsonl" or path.name.endswith(".tmp")
        )


# -- errors --------------------------------------------------------------------------------------


def test_errors_of_invalid_configs_are_kept_and_transient_ones_run_again(
    tmp_path: Path, monkeypatch
) -> None:
    configs = configs_of(3)
    configs[1] = {**configs[1], "lr": -1.0}  # invalid: the same ValueError every time
    original = tasks_module.prepare

    def short_of_memory(config, cache=None):
        if config["target_params"]["seed"] == 2:
            raise MemoryError("Unable to allocate 8.0 EiB")
        return original(config, cache)

    monkeypatch.setattr(tasks_module, "prepare", short_of_memory)
    first = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert [row["status"] for row in first] == ["max_steps", "error", "error"]
    assert first[2]["error"].startswith("MemoryError: Unable to allocate")
    stored = {line["key"] for line in records(tmp_path)}
    assert stored == {sweep_module.config_key(c) for c in configs[:2]}  # not the MemoryError
    monkeypatch.setattr(tasks_module, "prepare", original)
    ran = spy_runs(monkeypatch)
    again = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert ran == [configs[2]] and again[2]["status"] == "max_steps"
    assert [row["cached"] for row in again] == [True, True, False]
    assert again[1]["error"] == first[1]["error"]


def test_retry_errors_reruns_the_stored_errors(tmp_path: Path, monkeypatch) -> None:
    configs = configs_of(2)
    configs[0] = {**configs[0], "method": "adam"}
    dl.sweep(configs, store=tmp_path, progress=False)
    ran = spy_runs(monkeypatch)
    kept = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert ran == [] and kept[0]["cached"] and kept[0]["status"] == "error"
    retried = rows(dl.sweep(configs, store=tmp_path, progress=False, retry_errors=True))
    assert ran == [configs[0]]
    assert [row["cached"] for row in retried] == [False, True]


def test_an_error_never_replaces_a_finished_run_and_a_later_record_wins(tmp_path: Path) -> None:
    config = configs_of(1)[0]
    key, text = sweep_module.config_key(config), sweep_module._canonical_text(config)
    result = sweep_module.run_config(config)
    error = {**result, "status": "error", "steps": 0, "final_loss": float("nan")}
    error["error"] = "ValueError: made up"
    later = {**result, "final_loss": result["final_loss"] + 1.0}
    for written, expected in [([result, error], result), ([error, later], later),
                              ([result, later], later), ([later, error], later)]:  # fmt: skip
        for path in tmp_path.glob("runs-*"):
            path.unlink()
        for record in written:  # each by its own writer: shard names sort by writer start
            writer = store_module.ShardWriter(tmp_path)
            writer.add(key, text, record)
            writer.flush()
            time.sleep(0.002)
        table = rows(dl.sweep([config], store=tmp_path, progress=False))
        assert table[0]["cached"] and table[0]["status"] == expected["status"]
        assert table[0]["final_loss"] == expected["final_loss"]


# -- the format of deeplinear 0.1: one JSON file per run ------------------------------------------


def write_old(store: Path, config: dict, result: dict, filed_as: dict | None = None) -> None:
    """A file as deeplinear 0.1's sweep wrote it (named after ``filed_as``, if given)."""
    key = sweep_module.config_key(filed_as or config)
    payload = {"key": key, "config": sweep_module._canonical(config), "result": result}
    store.mkdir(exist_ok=True)
    (store / f"{key}.json").write_text(json.dumps(payload))


def test_stores_of_one_file_per_run_are_read(tmp_path: Path, monkeypatch) -> None:
    configs = configs_of(5)
    finished = [sweep_module.run_config(config) for config in configs]
    write_old(tmp_path, configs[0], finished[0])
    write_old(tmp_path, configs[1], {**finished[1], "status": "error", "error": "ValueError: x"})
    memory = "MemoryError: Unable to allocate 72.8 PiB (run_config)"
    write_old(tmp_path, configs[2], {**finished[2], "status": "error", "steps": 0, "error": memory})
    write_old(tmp_path, configs[0], finished[0], filed_as=configs[3])
    ran = spy_runs(monkeypatch)
    with pytest.warns(RuntimeWarning, match="3 records are unreadable, inconsistent or transient"):
        table = rows(dl.sweep(configs, store=tmp_path, progress=False))
    # [1]: an error with steps is inconsistent; [2]: transient; [3]: another config's result
    assert [row["cached"] for row in table] == [True, False, False, False, False]
    assert ran == configs[1:]
    assert table[0]["final_loss"] == finished[0]["final_loss"]
    assert [row["final_loss"] for row in table[1:]] == [r["final_loss"] for r in finished[1:]]
    assert len(list(tmp_path.glob("*.json"))) == 4  # the old files are left as they were


# -- records whose fields are valid alone but not together ----------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"status": "error"},  # an error without a message
        {"error": "ValueError: x"},  # a finished run with a message
        {"status": "interrupted"},  # not finished
        {"status": "error", "steps": 0, "error": "OSError: disk full"},  # transient
        {"steps": -1},
        {"steps": 1.5},
        {"steps": True},
        {"final_loss": None},
        {"final_loss": float("inf")},
        {"status": "diverged", "final_loss": float("nan")},
        {"seconds": -1.0},
        {"status": "nonsense"},
    ],
)
def test_inconsistent_records_are_ignored_and_run_again(tmp_path: Path, change: dict) -> None:
    config = configs_of(1)[0]
    result = sweep_module.run_config(config)
    writer = store_module.ShardWriter(tmp_path)
    writer.add(sweep_module.config_key(config), sweep_module._canonical_text(config),
               {**result, **change})  # fmt: skip
    writer.flush()
    with pytest.warns(RuntimeWarning, match="1 records"):
        table = rows(dl.sweep([config], store=tmp_path, progress=False))
    assert not table[0]["cached"] and table[0]["final_loss"] == result["final_loss"]


def test_a_run_that_diverges_at_an_infinite_start_loss_resumes_cached(tmp_path: Path) -> None:
    # Φ = 10²⁰⁰·I: the loss of the start overflows, the run ends "diverged" after 0 steps with
    # that infinite loss, and it is stored; its record was refused on every read, so the config
    # ran again at each resume, adding one record and a warning each time.
    config = {"phi": 1e200 * np.eye(3), "depth": 2, "lr": 0.1, "max_steps": 5}
    first = rows(dl.sweep([config], store=tmp_path, progress=False))[0]
    assert first["status"] == "diverged" and first["steps"] == 0
    assert first["final_loss"] == float("inf") and not first["cached"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = rows(dl.sweep([config], store=tmp_path, progress=False))[0]
    assert again["cached"] and again["status"] == "diverged"
    assert again["final_loss"] == float("inf")
    assert len(records(tmp_path)) == 1


def test_a_run_whose_start_overflows_resumes_cached(tmp_path: Path) -> None:
    # init = 10²⁰⁰·I at L = 3: the start's product overflows; its loss came out NaN, the store
    # refused that record at every read and the config ran again at each resume.
    config = {"phi": np.eye(3), "depth": 3, "lr": 0.1, "max_steps": 5, "init": 1e200}
    first = rows(dl.sweep([config], store=tmp_path, progress=False))[0]
    assert first["status"] == "diverged" and first["final_loss"] == float("inf")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = rows(dl.sweep([config], store=tmp_path, progress=False))[0]
    assert again["cached"] and again["final_loss"] == float("inf")
    assert len(records(tmp_path)) == 1


def test_a_shard_line_that_is_not_utf8_is_ignored(tmp_path: Path) -> None:
    # One damaged byte in a shard: that record is ignored with the warning, the others are used
    # (it raised UnicodeDecodeError, and the store could not be read at all).
    configs = configs_of(3)
    dl.sweep(configs, store=tmp_path, progress=False)
    (shard,) = tmp_path.glob("runs-*.jsonl")
    lines = shard.read_bytes().splitlines(keepends=True)
    shard.write_bytes(lines[0] + b'{"key":"\xff\xfe"}\n' + b"".join(lines[1:]))
    with pytest.warns(RuntimeWarning, match="1 records"):
        table = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert all(row["cached"] for row in table)


def test_a_record_filed_under_another_configs_key_is_ignored(tmp_path: Path) -> None:
    config, other = configs_of(2)
    result = sweep_module.run_config(config)
    shard = tmp_path / "runs-0-0-0-000000.jsonl"
    text = sweep_module._canonical_text(other)
    line = {"key": sweep_module.config_key(config), "result": result}
    shard.write_text(json.dumps(line, separators=(",", ":"))[:-1] + f',"config":{text}}}\n')
    with pytest.warns(RuntimeWarning, match="1 records"):
        table = rows(dl.sweep([config], store=tmp_path, progress=False))
    assert not table[0]["cached"]
    torn = json.dumps(line, separators=(",", ":"))[:60]
    shard.write_text(f"not json\n{torn}\n")  # garbage and a torn line
    for path in tmp_path.glob("runs-*"):
        if path != shard:
            path.unlink()
    # both damaged: the torn line, and the garbage, whose head names no key (of any sweep)
    with pytest.warns(RuntimeWarning, match="2 records"):
        table = rows(dl.sweep([config], store=tmp_path, progress=False))
    assert not table[0]["cached"]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda line: line[:20] + b"\n", id="torn-inside-the-key"),
        pytest.param(lambda line: b"\0" * (len(line) - 1) + b"\n", id="zero-filled"),
        pytest.param(lambda line: b"some text written over it\n", id="overwritten-by-text"),
    ],
)
def test_a_record_damaged_where_its_key_is_is_ignored_with_the_warning(
    tmp_path: Path, damage
) -> None:
    # its key unknown, such a record was skipped as another sweep's, without the warning
    configs = configs_of(2)
    dl.sweep(configs, store=tmp_path, progress=False)
    (shard,) = tmp_path.glob("runs-*.jsonl")
    first, second = shard.read_bytes().splitlines(keepends=True)
    shard.write_bytes(damage(first) + second)
    with pytest.warns(RuntimeWarning, match="1 records"):
        table = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert sorted(row["cached"] for row in table) == [False, True]


@pytest.mark.parametrize(
    ("field", "old", "new"),
    [
        ("steps", b'"steps":5,', b'"steps":7,'),
        ("status", b'"status":"max_steps"', b'"status":"converged"'),
    ],
)
def test_a_fault_that_turns_a_result_into_another_valid_one_is_ignored(
    tmp_path: Path, field: str, old: bytes, new: bytes
) -> None:
    # one changed digit or word of a stored result: consistent, so only the check sees it
    configs = configs_of(2, max_steps=5)
    dl.sweep(configs, store=tmp_path, progress=False)
    (shard,) = tmp_path.glob("runs-*.jsonl")
    first, second = shard.read_bytes().splitlines(keepends=True)
    assert old in first
    shard.write_bytes(first.replace(old, new) + second)
    with pytest.warns(RuntimeWarning, match="1 records"):
        table = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert sorted(row["cached"] for row in table) == [False, True]
    assert all(row["steps"] == 5 and row["status"] == "max_steps" for row in table)


def test_records_without_a_check_are_read(tmp_path: Path) -> None:
    # as written before records carried one
    configs = configs_of(2)
    first = rows(dl.sweep(configs, store=tmp_path, progress=False))
    (shard,) = tmp_path.glob("runs-*.jsonl")
    text = shard.read_text()
    shard.write_text(re.sub(r'"check":"[0-9a-f]{16}",', "", text))
    assert '"check"' not in shard.read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert all(row["cached"] for row in again)
    assert [row["final_loss"] for row in again] == [row["final_loss"] for row in first]


def test_records_of_other_sweeps_in_a_shared_store_are_not_counted_as_damaged(
    tmp_path: Path,
) -> None:
    dl.sweep(configs_of(2), store=tmp_path, progress=False)
    others = configs_of(1, depth=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dl.sweep(others, store=tmp_path, progress=False)


def test_a_store_that_is_a_file_is_an_os_error(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(OSError, match=r"store .* is a file, not a folder"):
        dl.sweep(configs_of(1), store=path, progress=False)


@pytest.mark.parametrize(("store", "error"), [("", ValueError), (3, TypeError), (b"", ValueError)])
def test_a_store_that_names_no_folder_is_refused(tmp_path: Path, monkeypatch, store, error) -> None:
    monkeypatch.chdir(tmp_path)  # "" was the current folder, filled with shards
    with pytest.raises(error, match="store"):
        dl.sweep(configs_of(1), store=store, progress=False)
    assert not list(tmp_path.iterdir())


def test_a_worker_that_dies_gives_error_rows_that_run_again(tmp_path: Path, monkeypatch) -> None:
    import concurrent.futures
    import os

    configs = configs_of(12)  # more tasks than the 4 in flight: later ones meet a broken pool
    original = tasks_module.prepare

    def dies(config, cache=None):  # the forked workers inherit this
        if config["target_params"]["seed"] == 0:
            os._exit(1)
        return original(config, cache)

    monkeypatch.setattr(tasks_module, "prepare", dies)
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        table = rows(dl.sweep(configs, executor=pool, store=tmp_path, progress=False, batch=False))
    broken = [row for row in table if row["status"] == "error"]
    assert broken and all(row["error"].startswith("BrokenProcessPool") for row in broken)
    finished = {
        sweep_module.config_key(c) for c, row in zip(configs, table) if row["status"] != "error"
    }
    assert {line["key"] for line in records(tmp_path)} == finished  # errors not stored
    monkeypatch.setattr(tasks_module, "prepare", original)
    again = rows(dl.sweep(configs, store=tmp_path, progress=False))
    assert all(row["status"] == "max_steps" for row in again)
    assert sum(not row["cached"] for row in again) == len(broken)


def test_shards_are_written_while_a_sweep_runs(monkeypatch, tmp_path: Path) -> None:
    clock = [0.0]
    monkeypatch.setattr(store_module.time, "monotonic", lambda: clock[0])
    writer = store_module.ShardWriter(tmp_path)
    config = configs_of(1)[0]
    result = sweep_module.run_config(config)
    writer.add(sweep_module.config_key(config), sweep_module._canonical_text(config), result)
    assert not writer.due()
    clock[0] += store_module.FLUSH_SECONDS
    assert writer.due()  # the oldest unwritten record is FLUSH_SECONDS old
    writer.flush()
    assert len(records(tmp_path)) == 1 and not writer.due()
    for _ in range(store_module.FLUSH_RECORDS - 1):
        writer.add("k" * 32, "{}", result)
    assert not writer.due()
    writer.add("k" * 32, "{}", result)
    assert writer.due()  # or FLUSH_RECORDS of them wait


def test_sweeps_writing_one_store_at_once_keep_every_run(tmp_path: Path) -> None:
    import threading

    first, second = configs_of(30), configs_of(45)[15:]  # 15 configs in both
    tables: dict[str, list[dict]] = {}

    def run(name: str, configs: list[dict]) -> None:
        tables[name] = rows(dl.sweep(configs, store=tmp_path, progress=False, batch=False))

    threads = [threading.Thread(target=run, args=item) for item in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(row["status"] == "max_steps" for table in tables.values() for row in table)
    keys = {sweep_module.config_key(c) for c in first + second}
    assert {line["key"] for line in records(tmp_path)} == keys
    assert len(list(tmp_path.glob("runs-*.jsonl"))) >= 2  # one writer each, names apart
    again = rows(dl.sweep(first + second, store=tmp_path, progress=False))
    assert all(row["cached"] for row in again)


def _key_of_0_1(config: dict) -> str:
    """config_key as deeplinear 0.1 wrote it (its stores are named by it): canonical JSON with
    dict keys as sorted strings, arrays as [dtype, shape, sha256 of the bytes], numpy scalars
    as numbers; sha256 of the text, 32 hex digits."""

    def canonical(value):
        if isinstance(value, np.ndarray):
            array = np.ascontiguousarray(value)
            digest = hashlib.sha256(array.tobytes()).hexdigest()
            return {"__array__": [str(array.dtype), list(array.shape), digest]}
        if isinstance(value, dict):
            return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda i: str(i[0]))}
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        if isinstance(value, (np.integer, np.floating, np.bool_)):
            return value.item()
        return value

    text = json.dumps(canonical(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.integers(-5, 5).map(np.int64),
    st.floats(-1e3, 1e3).map(np.float64),
    st.integers(1, 3).map(lambda n: np.arange(n * n, dtype=float).reshape(n, n)),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers(-20, 20)), inner, max_size=3),
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.text(max_size=6), _values, max_size=5))
def test_config_keys_are_those_of_deeplinear_0_1(config: dict) -> None:
    try:
        expected = _key_of_0_1(config)
    except (TypeError, ValueError):  # not JSON: a sweep refuses it
        with pytest.raises((TypeError, ValueError)):
            sweep_module.config_key(config)
        return
    assert sweep_module.config_key(config) == expected


def test_an_object_array_in_a_config_is_keyed_by_its_values(tmp_path: Path) -> None:
    # its bytes are pointers, different in every process: the stored error row was never found
    def config():  # (new float objects each time, as in another process)
        phi = np.diag([1.0, 1.5]).astype(object)
        return {"phi": phi, "depth": 2, "lr": 0.1, "max_steps": 5}

    assert sweep_module.config_key(config()) == sweep_module.config_key(config())
    first = rows(dl.sweep([config()], store=tmp_path, progress=False))
    assert first[0]["status"] == "error" and "TypeError" in first[0]["error"]
    again = rows(dl.sweep([config()], store=tmp_path, progress=False))
    assert again[0]["cached"] and again[0]["error"] == first[0]["error"]
