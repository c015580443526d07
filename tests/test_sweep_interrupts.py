"""Ctrl-C stops a sweep within a fraction of a second on every executor — this machine's threads,
a thread or process pool, a Dask cluster, the command line — keeping every finished run in the
store and none of the interrupted ones; then KeyboardInterrupt (exit status 130 from the CLI)."""

from __future__ import annotations

import concurrent.futures
import importlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import deeplinear as dl
from dask_cluster import dask_client
from interrupts import interrupt_after, require_sigint

sweep_module = importlib.import_module("deeplinear.sweep")

# Short runs finish at once; long ones would take tens of seconds (bounding a broken test).
SHORT = dl.grid(
    target="spd",
    target_params={"d": 3, "cond": 2.0, "seed": [0, 1, 2, 3]},
    depth=2,
    lr=0.1,
    max_steps=50,
)
LONG = dl.grid(
    target="spd",
    target_params={"d": 5, "cond": 2.0, "seed": [0, 1]},
    depth=4,
    lr=1e-7,
    max_steps=40_000_000,
    record_every=10_000_000,
)


def stored_keys(store: Path) -> set[str]:
    keys = set()
    for shard in store.glob("runs-*.jsonl"):
        keys |= {json.loads(line)["key"] for line in shard.read_text().splitlines()}
    return keys


def interrupted_sweep(store: Path, after: float = 0.6, **options) -> float:
    """Run SHORT + LONG, Ctrl-C after ``after`` s; returns the seconds from the signal to the
    KeyboardInterrupt. Checks the store: every short run, no long one."""
    timer, sent = interrupt_after(after)
    try:
        with pytest.raises(KeyboardInterrupt, match="4 of 6 runs finished"):
            dl.sweep(SHORT + LONG, store=store, progress=False, **options)
        raised = time.perf_counter()
    finally:
        timer.join()
    assert stored_keys(store) == {sweep_module.config_key(c) for c in SHORT}
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back
    return raised - sent[0]


def test_ctrl_c_stops_a_sweep_on_this_machines_threads(tmp_path: Path) -> None:
    assert interrupted_sweep(tmp_path) < 1.0
    table = dl.sweep(SHORT, store=tmp_path, progress=False)
    assert table["cached"].all()  # resumes from what was stored


def test_ctrl_c_stops_a_sweep_on_a_thread_pool(tmp_path: Path) -> None:
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        assert interrupted_sweep(tmp_path, executor=pool) < 1.0
        started = time.perf_counter()
    assert time.perf_counter() - started < 1.0  # the pool's threads were stopped, not abandoned


def test_ctrl_c_stops_a_sweep_on_a_process_pool(tmp_path: Path) -> None:
    pool = concurrent.futures.ProcessPoolExecutor(2)
    try:
        list(pool.map(abs, [1, 2]))  # started before the clock runs
        assert interrupted_sweep(tmp_path, after=1.5, executor=pool) < 1.0
    finally:
        for process in list(pool._processes.values()):  # their runs cannot be cancelled
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)


def test_ctrl_c_stops_a_sweep_on_a_dask_cluster(tmp_path: Path) -> None:
    require_sigint()
    with dask_client() as client:
        client.submit(abs, 1).result()
        assert interrupted_sweep(tmp_path, after=2.0, executor=client) < 1.0


def test_ctrl_c_stops_the_sweep_command_with_status_130(tmp_path: Path, capsys) -> None:
    from deeplinear import cli

    spec = tmp_path / "grid.toml"
    spec.write_text(
        '[fixed]\ntarget = "spd"\ndepth = 4\nlr = 1e-7\nmax_steps = 40000000\n'
        "[fixed.target_params]\nd = 5\ncond = 2.0\n[grid.target_params]\nseed = [0, 1]\n"
    )
    timer, sent = interrupt_after(0.6)
    try:
        status = cli.main(["sweep", str(spec), "--store", str(tmp_path / "store")])
        returned = time.perf_counter()
    finally:
        timer.join()
    assert status == 130 and returned - sent[0] < 1.0
    err = capsys.readouterr().err
    assert err == (
        f"deeplinear sweep: interrupted: 0 of 2 runs finished, stored in {tmp_path / 'store'}; "
        "run the sweep again to resume\n"
    )
    assert stored_keys(tmp_path / "store") == set()


def test_a_sigint_handler_of_the_callers_that_raises_keyboard_interrupt_also_stops_it(
    tmp_path: Path,
) -> None:
    require_sigint()

    def handler(signum, frame):
        raise KeyboardInterrupt

    sent: list[float] = []

    def fire() -> None:
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(0.6, fire)
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt, match="4 of 6 runs finished"):
            dl.sweep(SHORT + LONG, store=tmp_path, progress=False)
        raised = time.perf_counter()
        assert signal.getsignal(signal.SIGINT) is handler  # the caller's handler, untouched
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert raised - sent[0] < 1.0
    assert stored_keys(tmp_path) == {sweep_module.config_key(c) for c in SHORT}


def test_ctrl_c_during_the_bookkeeping_of_a_finished_run_still_stores_it(
    tmp_path: Path, monkeypatch
) -> None:
    require_sigint()
    real = sweep_module.storable
    booked: list[dict] = []

    def storable(result, deterministic):  # Ctrl-C lands between a result and its store entry
        if not booked:
            booked.append(result)
            os.kill(os.getpid(), signal.SIGINT)
        return real(result, deterministic)

    monkeypatch.setattr(sweep_module, "storable", storable)
    with pytest.raises(KeyboardInterrupt):
        dl.sweep(SHORT + LONG, store=tmp_path, progress=False, batch=False)
    assert booked and booked[0]["status"] == "max_steps"
    assert len(stored_keys(tmp_path)) >= 1  # the run being booked when Ctrl-C came is kept
    assert stored_keys(tmp_path) <= {sweep_module.config_key(c) for c in SHORT}


class _FinishedAtOnce(concurrent.futures.Executor):
    """Runs each task as it is submitted, as a process pool's workers may have finished tasks
    by the time the sweep looks at them (the sweep cannot wait for its own threads here)."""

    def submit(self, fn, /, *args, **kwargs):
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def test_ctrl_c_on_another_executor_stores_the_runs_that_came_back(
    tmp_path: Path, monkeypatch
) -> None:
    # Ctrl-C lands while the first finished run is booked, the others having come back too:
    # they were dropped on any executor but this process's threads
    raised = []

    class InterruptedProgress(sweep_module.Progress):
        def update(self, *args, **kwargs):
            super().update(*args, **kwargs)
            if not raised:
                raised.append(True)
                raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "Progress", InterruptedProgress)
    with pytest.raises(KeyboardInterrupt, match="4 of 4 runs finished"):
        dl.sweep(SHORT, store=tmp_path, progress=False, batch=False, executor=_FinishedAtOnce())
    assert stored_keys(tmp_path) == {sweep_module.config_key(c) for c in SHORT}


def test_networks_of_a_cancelled_batch_that_had_converged_are_stored(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(sweep_module, "TASK_WORK", 1e30)  # long runs batched too
    quick = {"lr": 0.1, "tol": 1e-3}  # converge within a few hundred steps
    base = {"target": "spd", "depth": 4, "max_steps": 40_000_000, "record_every": 10_000_000}
    configs = [
        {**base, "target_params": {"d": 5, "cond": 2.0, "seed": seed}, **options}
        for seed, options in enumerate([quick, quick, {"lr": 1e-7}, {"lr": 1e-7}])
    ]
    assert len({sweep_module.batch_key(config) for config in configs}) == 1
    timer, _ = interrupt_after(0.6)
    try:
        with (
            concurrent.futures.ThreadPoolExecutor(1) as one,  # one worker: one task, one batch
            pytest.raises(KeyboardInterrupt, match="2 of 4 runs finished"),
        ):
            dl.sweep(configs, executor=one, store=tmp_path, progress=False)
    finally:
        timer.join()
    assert stored_keys(tmp_path) == {sweep_module.config_key(configs[i]) for i in (0, 1)}


# -- a cluster that goes away ------------------------------------------------------------------
class _PendingForEver(concurrent.futures.Executor):
    """A Dask client's executor after its scheduler died: the first task runs, and from then on
    the client is closed and every future stays pending (as Dask left them, for ever)."""

    def __init__(self, client: _LostClient) -> None:
        self.client = client

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        future: concurrent.futures.Future = concurrent.futures.Future()
        if self.client.status == "running":
            future.set_result(fn(*args, **kwargs))
            self.client.status = "closed"
        return future


class _LostClient:
    __module__ = "distributed.client"  # (what dl.sweep recognizes a Dask client by)
    status = "running"

    def nthreads(self) -> dict[str, int]:
        return {"tcp://worker": 1}

    def get_executor(self, pure: bool = False) -> _PendingForEver:
        return _PendingForEver(self)


def _one_task_per_config(count: int) -> list[dict]:
    # (targets of different d go to different tasks)
    return [
        {
            "target": "spd",
            "target_params": {"d": 2 + k, "cond": 2.0},
            "depth": 2,
            "lr": 0.05,
            "max_steps": 20,
        }
        for k in range(count)
    ]


def test_a_sweep_whose_dask_client_lost_its_scheduler_ends_with_errors(tmp_path: Path) -> None:
    # the futures of a client whose scheduler was killed stayed pending: dl.sweep waited for ever
    configs = _one_task_per_config(4)
    finished: dict[str, object] = {}
    worker = threading.Thread(
        target=lambda: finished.update(
            table=dl.sweep(configs, executor=_LostClient(), store=tmp_path, progress=False)
        ),
        daemon=True,
    )
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the sweep waited for ever"
    table = finished["table"]
    assert table["status"].tolist() == ["max_steps"] + ["error"] * 3  # type: ignore[index]
    assert all("the Dask client is closed" in e for e in table["error"][1:])  # type: ignore[index]
    # only the finished run is stored: a rerun would run the others
    again = dl.sweep(configs, store=tmp_path, progress=False)
    assert again["cached"].tolist() == [True, False, False, False]


def test_runs_that_a_dask_cluster_cancels_are_errors_not_interrupted_runs(tmp_path: Path) -> None:
    # a cluster closed mid-sweep cancels its futures: their rows said "interrupted" with no error,
    # as if Ctrl-C had stopped them, and the sweep returned normally
    with dask_client() as client:
        real = client.get_executor

        def cancelling(pure: bool = False):  # type: ignore[no-untyped-def]
            executor = real(pure=pure)
            submit = executor.submit

            def submit_and_cancel(fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
                future = submit(fn, *args, **kwargs)
                future.cancel()
                return future

            executor.submit = submit_and_cancel  # type: ignore[method-assign]
            return executor

        client.get_executor = cancelling  # type: ignore[method-assign]
        table = dl.sweep(_one_task_per_config(2), executor=client, store=tmp_path, progress=False)
    assert table["status"].tolist() == ["error", "error"]
    assert all("cancelled by the executor" in e for e in table["error"])


def test_ctrl_c_counts_the_queued_runs_it_cancels_as_not_finished(tmp_path: Path) -> None:
    # with more tasks than the pool runs at once, Ctrl-C cancels queued ones: they counted as
    # finished (with an error) in the message, which then promised more than was stored
    longer = [
        {**config, "target_params": {**config["target_params"], "d": d}}
        for config in LONG[:1]
        for d in (5, 6, 7)
    ]
    timer, _ = interrupt_after(0.6)
    try:
        with (
            concurrent.futures.ThreadPoolExecutor(1) as pool,
            pytest.raises(KeyboardInterrupt, match=r"^4 of 7 runs finished"),
        ):
            dl.sweep(SHORT + longer, store=tmp_path, progress=False, executor=pool)
    finally:
        timer.join()
    assert stored_keys(tmp_path) == {sweep_module.config_key(c) for c in SHORT}
