"""Sweeps of many training runs on this machine's cores, any concurrent.futures executor, or a
Dask cluster — with every finished run written to a store, so that nothing finished is lost.

A config is a dict of ``dl.train`` keyword arguments plus the target: ``phi`` (an array) or
``target`` (a ``dl.targets`` family name) with ``target_params`` (its keyword arguments, the
seed included), e.g. ``{"target": "negative_eigenvalue", "target_params": {"d": 4, "lam": 0.5,
"seed": 0}, "depth": 4, "lr": 0.05, "max_steps": 2000}``.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import json
import os
import signal
import threading
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._progress import PLAIN_INTERVAL, Progress
from ._sweep_store import ROW_FIELDS as ROW_FIELDS  # the row fields, as in deeplinear 0.1
from ._sweep_store import Store, storable
from ._sweep_tasks import CancelToken, batch_key, not_run, run_task, work_of

__all__ = ["config_key", "grid", "run_config", "run_sweep_file", "sweep"]


def grid(**lists: Any) -> list[dict[str, Any]]:
    """The product of parameter lists, in a stable order (the last keyword varies fastest).

    A value that is not a list or tuple is held fixed. Nested dicts (``target_params``) may be
    given as a dict of lists: ``grid(target_params={"lam": [0.5, 1], "d": 4}, depth=[2, 3])``.
    """
    expanded: dict[str, list[Any]] = {}
    for name, value in lists.items():
        if isinstance(value, Mapping):
            expanded[name] = grid(**value)
        elif isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"{name} must not be an empty list")
            expanded[name] = list(value)
        else:
            expanded[name] = [value]
    names = list(expanded)
    return [dict(zip(names, values)) for values in itertools.product(*expanded.values())]


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _canonical(value: Any) -> Any:
    """A config value in a form with one JSON text: arrays by dtype, shape and sha256, numpy
    scalars as Python numbers, tuples as lists, dict keys as strings."""
    kind = type(value)
    if kind in _PLAIN:  # the common cases first: a sweep keys a million configs
        return value
    if kind is dict and all(type(name) is str for name in value):  # json.dumps sorts them
        return {k: v if type(v) in _PLAIN else _canonical(v) for k, v in value.items()}
    if isinstance(value, np.ndarray) or (hasattr(value, "__array__") and not np.isscalar(value)):
        array = np.ascontiguousarray(value)
        if array.dtype.hasobject:  # its bytes are pointers: its values instead
            content = json.dumps(_canonical(array.tolist()), sort_keys=True, separators=(",", ":"))
            digest = hashlib.sha256(content.encode()).hexdigest()
        else:
            digest = hashlib.sha256(array.tobytes()).hexdigest()
        return {"__array__": [str(array.dtype), list(array.shape), digest]}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if callable(value):
        raise TypeError("a sweep config cannot hold a callable (callbacks do not travel)")
    return value


def _canonical_text(config: Mapping[str, Any]) -> str:
    """A config's canonical JSON: the text that ``config_key`` hashes and the store keeps."""
    return json.dumps(_canonical(dict(config)), sort_keys=True, separators=(",", ":"))


def config_key(config: Mapping[str, Any]) -> str:
    """A stable hash of a config: sha256 of its canonical JSON (arrays by dtype, shape, bytes)."""
    return hashlib.sha256(_canonical_text(config).encode()).hexdigest()[:32]


def run_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Run one config alone (``dl.train``); never raises: an error becomes the row's ``error``
    ("Type: message")."""
    result, _ = run_task([config])[0]
    return result


def _summary(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config's parameters for a table row: nested dicts flattened, arrays summarized."""
    row: dict[str, Any] = {}
    for name, value in config.items():
        if isinstance(value, Mapping):
            for inner, item in value.items():
                row[f"{name}.{inner}"] = item
        elif isinstance(value, np.ndarray):
            row[name] = f"array{value.shape} sha256:{config_key({'a': value})[:8]}"
        else:
            row[name] = value
    return row


def _config_list(configs: object) -> list[Mapping[str, Any]]:
    if isinstance(configs, Mapping):
        raise TypeError(
            "configs must be a list of config dicts, got a single dict: pass [config] "
            "(dl.grid(...) makes the list of a product of parameter lists)"
        )
    if isinstance(configs, (str, bytes)) or not isinstance(configs, Iterable):
        raise TypeError(f"configs must be a list of config dicts, got {type(configs).__name__}")
    listed = list(configs)
    for index, config in enumerate(listed):
        if not isinstance(config, Mapping):
            raise TypeError(
                f"configs[{index}] must be a dict of train arguments, got {type(config).__name__}"
            )
    return listed


def _is_dask_client(executor: object) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed" and hasattr(
        executor, "get_executor"
    )


MAX_BATCH = 1024
"""The most configs in one task (a batch of networks, and the most a killed worker loses)."""
MIN_BATCH = 32
"""Fewer configs in a task only when a bigger one would leave a worker idle."""
TASK_WORK = 2e9
"""A task holds at most this much work (steps × L × d³ summed over its runs, ~1 s on one core)
unless one run is bigger: long runs go one per task, so that a task's result comes back soon."""


def _task_size(count: int, workers: int, work: float) -> int:
    """Configs per task for a group of ``count`` batchable configs: about four tasks per worker,
    at least MIN_BATCH unless that idles a worker, at most MAX_BATCH and TASK_WORK."""
    size = -(-count // (4 * workers))
    size = max(size, min(MIN_BATCH, -(-count // workers)))
    return max(1, min(size, MAX_BATCH, int(TASK_WORK // max(work, 1.0))))


def _tasks(configs: list[Mapping[str, Any]], pending: list[int], workers: int, batch: bool):
    """The pending configs cut into tasks (lists of indices): configs with the same batch key
    together, in config order."""
    if not batch:
        return [[index] for index in pending]
    groups: dict[Any, list[int]] = {}
    tasks = []
    for index in pending:
        key = batch_key(configs[index])
        if key is None:
            tasks.append([index])
        else:
            groups.setdefault(key, []).append(index)
    for key, members in groups.items():
        size = _task_size(len(members), workers, work_of(key))
        tasks += [members[start : start + size] for start in range(0, len(members), size)]
    tasks.sort(key=lambda task: task[0])
    return tasks


class _SigintGuard:
    """Ctrl-C while a sweep waits: noted (and runs of the main thread cancelled), never raised in
    the middle of its bookkeeping. Only in the main thread, and only while SIGINT has Python's
    default handler; elsewhere KeyboardInterrupt is raised as usual and caught by the sweep."""

    def __init__(self, token: CancelToken) -> None:
        self.token = token
        self.received = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: object) -> None:
        self.received = True
        self.token.cancel(threading.get_ident())  # a run of this thread (a synchronous executor)

    def __enter__(self) -> _SigintGuard:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def _resolve_executor(executor: Any) -> tuple[Any, int, bool]:
    """(a concurrent.futures executor, its workers, whether its workers are threads of this
    process); a Dask client gives its executor interface and its cluster's threads."""
    if executor is None:
        from .training import available_cores

        cores = available_cores()
        return concurrent.futures.ThreadPoolExecutor(cores), cores, True
    if _is_dask_client(executor):
        threads = sum(executor.nthreads().values()) or 1
        return executor.get_executor(pure=False), threads, False
    if not isinstance(executor, concurrent.futures.Executor):
        raise TypeError(
            "executor must be None, a concurrent.futures.Executor or a dask.distributed.Client"
        )
    workers = getattr(executor, "_max_workers", None) or os.cpu_count() or 1
    return executor, int(workers), isinstance(executor, concurrent.futures.ThreadPoolExecutor)


GRACE_SECONDS = 1.0
"""After Ctrl-C, how long a sweep waits for the cancelled runs of its threads to hand back what
they finished (each stops within about 50 ms)."""
WAIT_SECONDS = 0.1
"""How often a sweep's main thread wakes while it waits (to notice Ctrl-C and write shards)."""
PROGRESS_INTERVAL = PLAIN_INTERVAL
"""Seconds between two plain progress lines (stderr not a terminal)."""


def sweep(
    configs: Iterable[Mapping[str, Any]],
    *,
    executor: Any = None,
    store: str | os.PathLike[str] | None = None,
    progress: bool = True,
    retry_errors: bool = False,
    batch: bool = True,
) -> Any:
    """Run every config (``dl.train`` arguments plus a target) and return one row per config.

    Args:
        configs: a list of dicts, e.g. ``dl.grid(...)``.
        executor: None (a thread per core of this machine: the C++ loop releases the GIL), any
            ``concurrent.futures.Executor`` (threads or processes), or a
            ``dask.distributed.Client`` (its executor interface: the same call runs on a cluster).
        store: a folder that keeps every finished run. Runs are written as append-only shards
            (JSON lines, each shard written to a temporary file and renamed when complete,
            about one a second while the sweep runs and one at its end); a sweep run again reads
            the finished runs back instead of running them (their rows have ``cached`` True).
            A killed process loses at most the runs of its last second and those in flight.
            Folders of deeplinear 0.1's format (one JSON file per run) are read too. Invalid
            configs (a ValueError or TypeError while validating) are stored as errors; other
            errors (MemoryError, OSError, a worker that died) are not, and run again.
        progress: report progress on stderr: a bar on a terminal, a plain line with the elapsed
            time every 10 s in a file or pipe; False for nothing.
        retry_errors: run again the configs whose stored result is an error (e.g. after fixing
            a bug that made a valid config fail).
        batch: train configs that share Φ's shape and dtype, method, depth, step budget and
            the options ``train_batch`` shares (record_every, threads, diagnostics, the kind of
            init) together, by ``train_batch``, in tasks of up to MAX_BATCH configs (the same
            rows: network b of a batch is ``dl.train`` of config b bit for bit). False runs
            every config alone, by ``dl.train``.

    Returns:
        A pandas DataFrame when pandas is installed, else a list of dicts, in config order, with
        the config's parameters (nested dicts flattened as ``target_params.lam``), ``status``
        (a training status or ``"error"``), ``steps``, ``final_loss``, ``seconds`` (the run's
        wall time; a batched run's share of its batch), ``error`` (None or
        ``"Type: message (function)"``) and ``cached``.

    Raises:
        KeyboardInterrupt: on Ctrl-C (or a KeyboardInterrupt raised in the calling thread),
            within a fraction of a second: the runs in flight on this process's threads are
            cancelled (their configs are not stored and run again next time), queued tasks and
            futures are cancelled, every run that finished is written to the store, and then
            KeyboardInterrupt is raised (its message says how many runs finished). Runs in
            flight in other processes or on a Dask cluster are abandoned (their futures
            cancelled).
        TypeError: configs that are not a list of dicts, a config holding a callable or a value
            that has no JSON form, or an executor of another kind.
        OSError: the store cannot be created, read or written.
    """
    configs = _config_list(configs)
    texts = []
    for index, config in enumerate(configs):
        try:
            texts.append(_canonical_text(config))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"configs[{index}]: {exc}") from None
    keys = [hashlib.sha256(text.encode()).hexdigest()[:32] for text in texts]
    results: list[dict[str, Any] | None] = [None] * len(configs)
    cached = [False] * len(configs)
    if executor is not None and not (
        _is_dask_client(executor) or isinstance(executor, concurrent.futures.Executor)
    ):
        _resolve_executor(executor)  # raises the standard error before the store is touched
    folder = Store(store) if store is not None else None
    if folder is not None:
        found = folder.read(set(keys), _canonical_text)
        for index, key in enumerate(keys):
            stored = found.get(key)
            if stored is not None and not (retry_errors and stored["status"] == "error"):
                results[index], cached[index] = stored, True
    pending = [index for index, result in enumerate(results) if result is None]
    if pending:
        _run_pending(configs, keys, texts, pending, results, executor, folder, progress, batch)
    rows = [
        {**_summary(config), **(result or {}), "cached": was_cached}
        for config, result, was_cached in zip(configs, results, cached)
    ]
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows)


def _run_pending(
    configs: list[Mapping[str, Any]],
    keys: list[str],
    texts: list[str],
    pending: list[int],
    results: list[dict[str, Any] | None],
    executor: Any,
    folder: Store | None,
    progress: bool,
    batch: bool,
) -> None:
    """Run the pending configs in tasks, filling ``results`` and the store as tasks finish."""
    pool, workers, in_process = _resolve_executor(executor)
    own = pool if executor is None else None
    client = executor if _is_dask_client(executor) else None
    tasks = _tasks(configs, pending, workers, batch)
    writer = folder.writer() if folder is not None else None
    token = CancelToken()
    running: dict[concurrent.futures.Future[Any], list[int]] = {}
    queue = iter(tasks)
    counts = {"finished": 0, "errors": 0}
    cancelled_by_sweep = False  # (its own cancellations at Ctrl-C: runs not run, not errors)

    def collect(future: concurrent.futures.Future[Any], task: list[int]) -> None:
        try:
            outcomes = future.result()
        except concurrent.futures.CancelledError:
            if cancelled_by_sweep:  # (at Ctrl-C) not run: the next sweep runs them
                record(task, [(not_run(), False)] * len(task))
            else:
                fail(task, RuntimeError("cancelled by the executor before it finished"))
            return
        except BaseException as exc:  # the worker failed (a process died, Dask gave up)
            fail(task, exc)
            return
        record(task, outcomes)

    def fail(task: list[int], error: BaseException) -> None:
        record(task, [(_worker_error(error), False)] * len(task))

    def record(task: list[int], outcomes: list[tuple[dict[str, Any], bool]]) -> None:
        for index, (result, deterministic) in zip(task, outcomes):
            results[index] = result
            if result["status"] == "error":
                counts["errors"] += 1
            if result["status"] != "interrupted":
                counts["finished"] += 1
            if writer is not None and storable(result, deterministic):
                writer.add(keys[index], texts[index], result)
        report.update(len(task), errors=counts["errors"])

    def submit() -> None:
        while len(running) < max(2, 2 * workers) and not guard.received:
            task = next(queue, None)
            if task is None:
                return
            try:
                future = pool.submit(run_task, [configs[i] for i in task], token)
            except Exception as exc:  # a broken pool (a worker died) or one shut down
                future = concurrent.futures.Future()
                future.set_exception(exc)
            running[future] = task

    total = len(configs)
    with (
        Progress(
            total,
            desc="sweep",
            unit="run",
            initial=total - len(pending),
            enabled=progress,
            interval=PROGRESS_INTERVAL,
        ) as report,
        _SigintGuard(token) as guard,
    ):
        try:
            submit()
            while running:
                done, _ = concurrent.futures.wait(
                    running, timeout=WAIT_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    collect(future, running.pop(future))
                if not done and client is not None and _client_closed(client):
                    # Dask leaves the futures of a client that lost its scheduler pending for
                    # ever: their runs, and those not submitted yet, end as errors (not stored)
                    lost = RuntimeError(
                        f"the Dask client is {client.status}: its scheduler is gone"
                    )
                    for future in list(running):
                        future.cancel()
                        fail(running.pop(future), lost)
                    for task in queue:
                        fail(task, lost)
                if writer is not None and writer.due():
                    writer.flush()
                if guard.received:
                    raise KeyboardInterrupt
                submit()
        except BaseException as exc:
            cancelled_by_sweep = True
            with warnings.catch_warnings():  # cancelled runs warn "training interrupted"
                warnings.filterwarnings("ignore", "training interrupted", RuntimeWarning)
                token.cancel()
                for future in running:
                    future.cancel()
                if in_process and running:
                    done, _ = concurrent.futures.wait(running, timeout=GRACE_SECONDS)
                    for future in done:
                        collect(future, running.pop(future))
                # (any executor) runs whose results came back meanwhile are stored too
                for future in [f for f in running if f.done() and not f.cancelled()]:
                    collect(future, running.pop(future))
            if writer is not None:
                writer.flush()
            if own is not None:
                own.shutdown(wait=False, cancel_futures=True)
            if isinstance(exc, KeyboardInterrupt):
                where = f", stored in {folder.folder}" if folder is not None else ""
                raise KeyboardInterrupt(
                    f"{counts['finished']} of {len(pending)} runs finished{where}; "
                    "run the sweep again to resume"
                ) from None
            raise
        if writer is not None:
            writer.flush()
        if own is not None:
            own.shutdown(wait=True)
        if guard.received:
            raise KeyboardInterrupt(f"after the last run: all {len(pending)} runs finished")


def _client_closed(client: Any) -> bool:
    """Whether a Dask client has closed (its scheduler lost for good, or closed by its owner)."""
    status = getattr(client, "status", "running")
    return isinstance(status, str) and status in ("closing", "closed", "failed")


def _worker_error(exc: BaseException) -> dict[str, Any]:
    return {
        "status": "error",
        "steps": 0,
        "final_loss": float("nan"),
        "seconds": 0.0,
        "error": f"{type(exc).__name__}: {exc}",
    }


def _table(spec: Mapping[str, Any], name: str, path: object) -> dict[str, Any]:
    value = spec.get(name, {})
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{path}: [{name}] must be a table (a [{name}] section of name = value lines), "
            f"got {value!r}"
        )
    return dict(value)


def sweep_file_configs(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The configs of a sweep file (see ``run_sweep_file``); ValueError for a file that is not
    valid TOML or not of that form, OSError for one that cannot be read."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    with open(path, "rb") as stream:
        try:
            spec = tomllib.load(stream)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML: {exc}") from None
    unknown = set(spec) - {"grid", "fixed"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)}; use [grid] and [fixed]")
    fixed = _table(spec, "fixed", path)
    varied = _table(spec, "grid", path)
    fixed_params = _table(fixed, "target_params", f"{path}: [fixed]")
    varied_params = _table(varied, "target_params", f"{path}: [grid]")
    fixed.pop("target_params", None)
    varied.pop("target_params", None)
    for inner, outer, where in (
        (varied, fixed, ""),
        (varied_params, fixed_params, "target_params."),
    ):
        both = sorted(set(inner) & set(outer))
        if both:
            raise ValueError(
                f"{path}: {', '.join(where + name for name in both)} given in both [fixed] and "
                "[grid]; keep one"
            )
    configs = []
    for config in grid(**varied) if varied else [{}]:
        for params in grid(**varied_params) if varied_params else [{}]:
            merged = {**fixed, **config}
            if fixed_params or params:
                merged["target_params"] = {**fixed_params, **params}
            configs.append(merged)
    return configs


def run_sweep_file(
    path: str | os.PathLike[str],
    store: str | os.PathLike[str] | None,
    scheduler: str | None = None,
    progress: bool = True,
    retry_errors: bool = False,
) -> Any:
    """Run the sweep described by a TOML file (``deeplinear sweep grid.toml --store DIR``).

    The file has a ``[grid]`` table of lists (their product is swept), an optional ``[fixed]``
    table of values shared by every run, and optional ``[grid.target_params]`` /
    ``[fixed.target_params]`` tables for the target's parameters (a name may be in [fixed] or
    in [grid], not both)::

        [fixed]
        target = "negative_eigenvalue"
        max_steps = 2000
        lr = 0.05
        [fixed.target_params]
        d = 4
        seed = 0
        [grid]
        depth = [2, 3, 4]
        [grid.target_params]
        lam = [0.25, 0.5, 1.0]

    ``scheduler``: the address of a Dask scheduler (``tcp://host:port``) to run on. The other
    arguments are ``sweep``'s.
    """
    configs = sweep_file_configs(path)
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            return sweep(
                configs, executor=client, store=store, progress=progress, retry_errors=retry_errors
            )
    return sweep(configs, store=store, progress=progress, retry_errors=retry_errors)
