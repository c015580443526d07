"""What a sweep's worker runs: a task is a list of configs, run as one batch where they can share
a compiled call (``train_batch``), else one by one (``Trainer``), and each config's result row.

A task runs wherever the executor puts it — a thread of this process, another process, a Dask
worker — so everything here is picklable and needs nothing from the process that submitted it.
A ``CancelToken`` stops the runs of a task that runs in this process within one poll of the
compiled loop (about 50 ms): the sweep's Ctrl-C. In another process it is a fresh token that
nobody cancels; there the sweep cancels the futures instead.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_int, check_nonnegative

__all__ = ["CancelToken", "batch_key", "prepare", "run_task", "work_of"]

Outcome = tuple[dict[str, Any], bool]
"""A config's result row fields, and whether its error (if any) is deterministic."""

_TARGET_KEYS = ("phi", "target", "target_params")
_RUN_KEYS = ("depth", "method", "max_steps", "tol")
_SHARED = (("record_every", 1), ("threads", 1), ("diagnostics", False))
"""Options that ``train_batch`` shares among its networks, with ``train``'s defaults."""
_PER_NETWORK = ("gamma", "psi", "kappa")


class Cancelled(Exception):
    """The task's token was cancelled before this run started."""


class CancelToken:
    """Stops the runs registered with it, from any thread; pickled, it becomes a fresh token."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # re-entrant: a signal handler may cancel in the main thread
        self._stopped = False
        self._running: dict[int, tuple[Any, int]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    @property
    def stopped(self) -> bool:
        return self._stopped

    @contextmanager
    def running(self, runner: Any) -> Iterator[None]:
        """Register ``runner`` (a Trainer or BatchTrainer) while it runs; Cancelled if stopped."""
        with self._lock:
            if self._stopped:
                raise Cancelled
            self._running[id(runner)] = (runner, threading.get_ident())
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(id(runner), None)

    def cancel(self, thread: int | None = None) -> None:
        """Stop every registered run (those of ``thread`` only, if given) and every later one."""
        with self._lock:
            if thread is None:
                self._stopped = True
            runners = [r for r, owner in self._running.values() if thread in (None, owner)]
        for runner in runners:
            runner.cancel()  # Trainer/BatchTrainer.cancel: the run stops at its next poll


@dataclass
class Prepared:
    """A validated config, ready to train."""

    phi: np.ndarray
    depth: Any
    method: Any
    options: dict[str, Any]
    max_steps: int
    tol: float
    seconds: float


def _target(arguments: dict[str, Any], cache: dict[Any, np.ndarray] | None) -> Any:
    """Φ of a config: its ``phi``, or its target family called with ``target_params``."""
    from . import targets

    if "phi" in arguments:
        if "target" in arguments or "target_params" in arguments:
            raise ValueError("give either phi or target/target_params, not both")
        return arguments.pop("phi")
    family = arguments.pop("target", None)
    params = arguments.pop("target_params", {})
    if not isinstance(family, str) or family not in targets.FAMILIES:
        raise ValueError(
            f"target must be one of {', '.join(sorted(targets.FAMILIES))}, got {family!r}"
        )
    if not isinstance(params, Mapping):
        raise TypeError(
            f"target_params must be a dict of the target's parameters, got {type(params).__name__}"
        )
    params = dict(params)
    dim = params.pop("d", None)
    if dim is None:
        raise ValueError("target_params must give the dimension d")
    key = None
    if cache is not None and type(params.get("seed")) is int:  # the same seed, the same Φ
        try:
            key = (family, type(dim), dim, *sorted((n, type(v), v) for n, v in params.items()))
            hash(key)
        except TypeError:
            key = None
    if key is not None and key in cache:  # type: ignore[operator]
        return cache[key]  # type: ignore[index]
    phi = targets.FAMILIES[family](dim, **params)
    if key is not None:
        cache[key] = phi  # type: ignore[index]
    return phi


def prepare(config: Mapping[str, Any], cache: dict[Any, np.ndarray] | None = None) -> Prepared:
    """Φ and the training arguments of a config; ValueError/TypeError for an invalid one (the
    options themselves are checked when the Trainer or BatchTrainer is made)."""
    from .training import given_options

    started = time.perf_counter()
    if not isinstance(config, Mapping):
        raise TypeError(f"a config must be a dict of train arguments, got {type(config).__name__}")
    arguments = dict(config)
    phi = _target(arguments, cache)
    if "depth" not in arguments:
        raise ValueError("a config needs depth, the number of layers L")
    depth = arguments.pop("depth")
    method = arguments.pop("method", "gd")
    max_steps = check_int(arguments.pop("max_steps", 10_000), "max_steps", 0)
    tol = check_nonnegative(arguments.pop("tol", 0.0), "tol")
    given_options("train", dict(arguments))
    return Prepared(phi, depth, method, arguments, max_steps, tol, time.perf_counter() - started)


def batch_key(config: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """What a config must share with others to train in one batch — Φ's shape and dtype, method,
    depth, step budget, the shared options, the kind of init and which method parameters are
    given — or None when it runs alone (a callback, a progress bar, anything unusual)."""
    try:
        if not isinstance(config, Mapping) or config.get("callback") is not None:
            return None
        from .training import OPTION_DEFAULTS

        if config.get("progress") or not set(config) <= {*OPTION_DEFAULTS, *_TARGET_KEYS,
                                                         *_RUN_KEYS}:  # fmt: skip
            return None
        if "phi" in config:
            phi = config["phi"]
            if type(phi) is not np.ndarray or phi.ndim != 2 or "target" in config:
                return None
            shape: tuple[Any, ...] = (*phi.shape, phi.dtype.str)
        else:
            dim = config["target_params"]["d"]
            if type(dim) is not int:
                return None
            shape = (dim, dim, "<f8")
        init = config.get("init")
        start: tuple[Any, ...] | None
        if init is None:
            start = None
        elif type(init) in (int, float):
            start = ("number", init)
        elif type(init) is np.ndarray:
            start = ("array", init.shape, init.dtype.str)
        else:
            return None
        shared = [
            (type(value), value)
            for value in (
                config["depth"],
                config.get("method", "gd"),
                config.get("max_steps", 10_000),
                *(config.get(name, default) for name, default in _SHARED),
            )
        ]
        given = tuple(name for name in _PER_NETWORK if config.get(name) is not None)
        key = (shape, *shared, start, given)
        hash(key)
        return key
    except (KeyError, TypeError, AttributeError):
        return None


def work_of(key: tuple[Any, ...] | None) -> float:
    """A rough cost of one run of a batch key (steps × depth × d³), to size tasks; 1 if unknown."""
    if key is None:
        return 1.0
    dim = key[0][0]
    depth, steps = key[1][1], key[3][1]
    if type(dim) is int and type(depth) is int and type(steps) is int:
        return float(max(steps, 1)) * max(depth, 1) * max(dim, 1) ** 3
    return 1.0


def _error(exc: BaseException, seconds: float) -> dict[str, Any]:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].name})" if last else ""
    return {
        "status": "error",
        "steps": 0,
        "final_loss": float("nan"),
        "seconds": seconds,
        "error": f"{type(exc).__name__}: {exc}{where}",
    }


def not_run() -> dict[str, Any]:
    """The row fields of a config that was cancelled before it ran."""
    return {
        "status": "interrupted",
        "steps": 0,
        "final_loss": float("nan"),
        "seconds": 0.0,
        "error": None,
    }


def _run_one(prepared: Prepared, token: CancelToken) -> Outcome:
    """One config by a Trainer: today's ``train``, cancellable."""
    from .training import Trainer

    started = time.perf_counter() - prepared.seconds
    try:
        trainer = Trainer(prepared.phi, prepared.depth, prepared.method, **prepared.options)
    except (ValueError, TypeError) as exc:  # an invalid config: the same every time
        return _error(exc, time.perf_counter() - started), True
    except Exception as exc:
        return _error(exc, time.perf_counter() - started), False
    try:
        with token.running(trainer):
            result = trainer.run(prepared.max_steps, prepared.tol)
    except Cancelled:
        return not_run(), False
    except Exception as exc:  # while training: may not recur (memory, a bug since fixed)
        return _error(exc, time.perf_counter() - started), False
    return {
        "status": result.status,
        "steps": result.steps,
        "final_loss": result.final_loss,
        "seconds": time.perf_counter() - started,
        "error": None,
    }, False


class _InvalidBatch(Exception):
    """A BatchTrainer refused the batch's arguments: some config is invalid."""


def _run_batch(items: list[Prepared], token: CancelToken) -> list[Outcome]:
    """Configs of one batch key by one BatchTrainer. _InvalidBatch when it refuses them (a
    ValueError or TypeError for some config); any other error of the batch propagates."""
    from .batch import BatchTrainer

    first = items[0]
    options: dict[str, Any] = {"lr": [p.options["lr"] for p in items]}
    for name, default in _SHARED:
        options[name] = first.options.get(name, default)
    for name in _PER_NETWORK:
        if first.options.get(name) is not None:
            options[name] = [p.options[name] for p in items]
    init = first.options.get("init")
    if isinstance(init, np.ndarray):
        options["init"] = np.stack([p.options["init"] for p in items])
    elif init is not None:
        options["init"] = init
    started = time.perf_counter()
    try:
        trainer = BatchTrainer(
            np.stack([p.phi for p in items]), first.depth, first.method, **options
        )
    except (ValueError, TypeError) as exc:
        raise _InvalidBatch from exc
    try:
        with token.running(trainer):
            result = trainer.run(first.max_steps, [p.tol for p in items])
    except Cancelled:
        return [(not_run(), False) for _ in items]
    share = (time.perf_counter() - started) / len(items)
    return [
        (
            {
                "status": str(result.status[b]),
                "steps": int(result.steps[b]),
                "final_loss": float(result.final_loss[b]),
                "seconds": p.seconds + share,
                "error": None,
            },
            False,
        )
        for b, p in enumerate(items)
    ]


def _invalid(item: Prepared) -> Outcome | None:
    """The error of a config that its own Trainer refuses (None if it accepts it)."""
    from .training import Trainer

    started = time.perf_counter() - item.seconds
    try:
        Trainer(item.phi, item.depth, item.method, **item.options)
    except (ValueError, TypeError) as exc:
        return _error(exc, time.perf_counter() - started), True
    except Exception:  # e.g. MemoryError: the config may be valid; it runs alone
        return None
    return None


def _run_prepared(
    prepared: dict[int, Prepared], outcomes: list[Outcome | None], token: CancelToken
) -> None:
    """Fill the outcomes of prepared configs: one batch when there are several, else alone. A
    batch refused for an invalid config is made again without the configs refused alone; a
    batch that fails while training runs each config alone (each then reports its own error)."""
    if len(prepared) > 1 and not token.stopped:
        try:
            for index, outcome in zip(prepared, _run_batch(list(prepared.values()), token)):
                outcomes[index] = outcome
            return
        except _InvalidBatch:
            valid = {}
            for index, item in prepared.items():
                refused = _invalid(item)
                if refused is None:
                    valid[index] = item
                else:
                    outcomes[index] = refused
            if len(valid) < len(prepared):
                _run_prepared(valid, outcomes, token)
                return
        except Exception:
            pass
    for index, item in prepared.items():
        outcomes[index] = (not_run(), False) if token.stopped else _run_one(item, token)


def run_task(configs: list[Mapping[str, Any]], token: CancelToken | None = None) -> list[Outcome]:
    """Run a task's configs — those that share a batch key as one batch, the others alone — and
    return each one's outcome; never raises for a config's error."""
    token = CancelToken() if token is None else token
    cache: dict[Any, np.ndarray] = {}
    outcomes: list[Outcome | None] = [None] * len(configs)
    groups: dict[Any, dict[int, Prepared]] = {}
    for index, config in enumerate(configs):
        if token.stopped:
            outcomes[index] = not_run(), False
            continue
        started = time.perf_counter()
        try:
            prepared = prepare(config, cache)
        except (ValueError, TypeError) as exc:
            outcomes[index] = _error(exc, time.perf_counter() - started), True
        except Exception as exc:
            outcomes[index] = _error(exc, time.perf_counter() - started), False
        else:
            key = batch_key(config)
            groups.setdefault(index if key is None else key, {})[index] = prepared
    for group in groups.values():
        _run_prepared(group, outcomes, token)
    return outcomes  # type: ignore[return-value]
