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
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write

__all__ = ["config_key", "grid", "run_config", "run_sweep_file", "sweep"]

ROW_FIELDS = ("status", "steps", "final_loss", "seconds", "error")


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


def _canonical(value: Any) -> Any:
    if isinstance(value, np.ndarray) or (hasattr(value, "__array__") and not np.isscalar(value)):
        array = np.ascontiguousarray(value)
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


def config_key(config: Mapping[str, Any]) -> str:
    """A stable hash of a config: sha256 of its canonical JSON (arrays by dtype, shape, bytes)."""
    text = json.dumps(_canonical(dict(config)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def run_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Run one config; never raises: an error becomes the row's ``error`` ("Type: message")."""
    from . import targets, training

    started = time.perf_counter()
    try:
        arguments = dict(config)
        if "phi" in arguments:
            if "target" in arguments or "target_params" in arguments:
                raise ValueError("give either phi or target/target_params, not both")
            phi = arguments.pop("phi")
        else:
            family = arguments.pop("target", None)
            params = dict(arguments.pop("target_params", {}))
            if family not in targets.FAMILIES:
                raise ValueError(
                    f"target must be one of {', '.join(sorted(targets.FAMILIES))}, got {family!r}"
                )
            dim = params.pop("d", None)
            if dim is None:
                raise ValueError("target_params must give the dimension d")
            phi = targets.FAMILIES[family](dim, **params)
        depth = arguments.pop("depth")
        result = training.train(phi, depth, **arguments)
        return {
            "status": result.status,
            "steps": result.steps,
            "final_loss": result.final_loss,
            "seconds": time.perf_counter() - started,
            "error": None,
        }
    except Exception as exc:  # a bad config is recorded, never fatal
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" ({last[0].name})" if last else ""
        return {
            "status": "error",
            "steps": 0,
            "final_loss": float("nan"),
            "seconds": time.perf_counter() - started,
            "error": f"{type(exc).__name__}: {exc}{where}",
        }


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


def _write_atomic(path: Path, payload: dict[str, Any]) -> None:
    with atomic_write(path, "w") as stream:
        json.dump(payload, stream)


def _read_stored(path: Path) -> dict[str, Any] | None:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        return {name: payload["result"][name] for name in ROW_FIELDS}
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable: run it again


def _is_dask_client(executor: object) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed" and hasattr(
        executor, "get_executor"
    )


def sweep(
    configs: Iterable[Mapping[str, Any]],
    *,
    executor: Any = None,
    store: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Any:
    """Run every config (``dl.train`` arguments plus a target) and return one row per config.

    Args:
        configs: a list of dicts, e.g. ``dl.grid(...)``.
        executor: None (a thread per core of this machine: the C++ loop releases the GIL), any
            ``concurrent.futures.Executor`` (threads or processes), or a
            ``dask.distributed.Client`` (its executor interface: the same call runs on a cluster).
        store: a directory. Every finished run is written there atomically (temp file and
            rename), one JSON file per run named by ``config_key``; a sweep run again reads the
            finished runs back instead of running them (their rows have ``cached`` True). A
            killed process loses at most the runs in flight.
        progress: a tqdm bar over configs.

    Returns:
        A pandas DataFrame when pandas is installed, else a list of dicts, in config order, with
        the config's parameters (nested dicts flattened as ``target_params.lam``), ``status``
        (a training status or ``"error"``), ``steps``, ``final_loss``, ``seconds``, ``error``
        (None or ``"Type: message"``) and ``cached``.
    """
    configs = [dict(config) for config in configs]
    for index, config in enumerate(configs):
        if not isinstance(config, dict):
            raise TypeError(f"configs[{index}] must be a dict of train arguments")
    keys = [config_key(config) for config in configs]
    results: list[dict[str, Any] | None] = [None] * len(configs)
    cached = [False] * len(configs)
    folder = Path(store) if store is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for index, key in enumerate(keys):
            stored = _read_stored(folder / f"{key}.json")
            if stored is not None:
                results[index], cached[index] = stored, True
    pending = [index for index, result in enumerate(results) if result is None]

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(configs), initial=len(configs) - len(pending), unit="run")
    own_executor = None
    if executor is None:
        own_executor = executor = concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1)
    elif _is_dask_client(executor):
        executor = executor.get_executor(pure=False)
    elif not isinstance(executor, concurrent.futures.Executor):
        raise TypeError(
            "executor must be None, a concurrent.futures.Executor or a dask.distributed.Client"
        )
    try:
        futures = {executor.submit(run_config, configs[index]): index for index in pending}
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the worker itself failed: not stored, rerun next time
                result = {
                    "status": "error",
                    "steps": 0,
                    "final_loss": float("nan"),
                    "seconds": 0.0,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            else:
                if folder is not None:
                    _write_atomic(
                        folder / f"{keys[index]}.json",
                        {
                            "key": keys[index],
                            "config": _canonical(configs[index]),
                            "result": result,
                        },
                    )
            results[index] = result
            if bar is not None:
                bar.update(1)
    finally:
        if own_executor is not None:
            own_executor.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    rows = []
    for config, result, was_cached in zip(configs, results, cached):
        rows.append({**_summary(config), **(result or {}), "cached": was_cached})
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows)


def run_sweep_file(
    path: str | os.PathLike[str],
    store: str | os.PathLike[str] | None,
    scheduler: str | None = None,
    progress: bool = True,
) -> Any:
    """Run the sweep described by a TOML file (``deeplinear sweep grid.toml --store DIR``).

    The file has a ``[grid]`` table of lists (their product is swept), an optional ``[fixed]``
    table of values shared by every run, and optional ``[grid.target_params]`` /
    ``[fixed.target_params]`` tables for the target's parameters::

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

    ``scheduler``: the address of a Dask scheduler (``tcp://host:port``) to run on.
    """
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    with open(path, "rb") as stream:
        spec = tomllib.load(stream)
    unknown = set(spec) - {"grid", "fixed"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)}; use [grid] and [fixed]")
    fixed = dict(spec.get("fixed", {}))
    varied = dict(spec.get("grid", {}))
    fixed_params = fixed.pop("target_params", {})
    varied_params = varied.pop("target_params", {})
    configs = []
    for config in grid(**varied) if varied else [{}]:
        for params in grid(**varied_params) if varied_params else [{}]:
            merged = {**fixed, **config}
            if fixed_params or params:
                merged["target_params"] = {**fixed_params, **params}
            configs.append(merged)
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            return sweep(configs, executor=client, store=store, progress=progress)
    return sweep(configs, store=store, progress=progress)
