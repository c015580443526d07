"""The sweep store: a folder of finished runs that a sweep reads back instead of running them.

Layout (one folder, shared by any number of sweeps):

- ``runs-<writer start, ns>-<pid>-<random>-<seq>.jsonl``: shards, append-only. Each line is one
  finished run, ``{"key": K, "result": {status, steps, final_loss, seconds, error},
  "config": C}``, where C is the config's canonical JSON (arrays by dtype, shape and sha256) and
  K = sha256(C)[:32] (``config_key``). A shard is written whole to a temporary file, flushed to
  disk and renamed into place (``_atomic.atomic_write``): it is complete or absent. A sweep
  writes one about every ``FLUSH_SECONDS`` while it runs, and one at its end or interrupt.
- ``<key>.json``: one run per file, ``{"key", "config", "result"}``, the format of deeplinear
  0.1's stores; read, never written.

The shard names sort in the order they were written; a later record of a key replaces an earlier
one, except that an error never replaces a finished run. A record is used only if it is
consistent: its key is the hash of its config, its status is one a sweep stores, and its fields
agree with the status (an error has a message and no steps; a finished run has no message and a
finite loss). Others are ignored (with a warning) and their configs run again.

Which errors are stored: those that the same config would raise again, i.e. ValueError and
TypeError raised while the config is validated (an unknown target, a negative lr, ...). Errors of
any other kind — MemoryError, OSError, a worker process that died, an exception while training —
may not recur, and are never stored (a store of deeplinear 0.1 that holds one is read as
unfinished): the next sweep runs the config again. ``retry_errors=True`` reruns the stored ones
too.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from ._atomic import atomic_write

__all__ = [
    "FLUSH_RECORDS",
    "FLUSH_SECONDS",
    "ROW_FIELDS",
    "ShardWriter",
    "Store",
    "is_deterministic_error",
]

ROW_FIELDS = ("status", "steps", "final_loss", "seconds", "error")
FINISHED_STATUSES = frozenset({"converged", "max_steps", "diverged", "stopped"})
"""Statuses of a run that ended by itself (``"interrupted"`` is not one: it is run again)."""
DETERMINISTIC_ERRORS = ("ValueError", "TypeError")
"""Error types, raised while validating a config, that the same config raises every time."""
FLUSH_SECONDS = 1.0
"""A sweep writes a shard once its oldest unwritten record is this old (and at its end)."""
FLUSH_RECORDS = 100_000
"""... or once this many records wait."""
SHARD_PREFIX, SHARD_SUFFIX = "runs-", ".jsonl"
_CONFIG_MARK = ',"config":'
_RESULT_MARK = '"result":'


def _check_of(result_text: str) -> str:
    """A record's check: the first 16 hex digits of the sha256 of its result's JSON text, as
    written (the key binds the config; this binds the numbers, which a fault could change into
    other valid numbers)."""
    return hashlib.sha256(result_text.encode()).hexdigest()[:16]


def is_deterministic_error(error: object) -> bool:
    """Whether a row's ``error`` ("Type: message") is one that its config raises every time."""
    return isinstance(error, str) and error.split(":", 1)[0] in DETERMINISTIC_ERRORS


def storable(result: dict[str, Any], deterministic: bool) -> bool:
    """Whether a run's result belongs in the store: a finished run or a deterministic error."""
    if result["status"] == "error":
        return deterministic
    return result["status"] in FINISHED_STATUSES


def _checked(result: object) -> dict[str, Any] | None:
    """The row fields of a stored result, or None when they are invalid or inconsistent."""
    if not isinstance(result, dict):
        return None
    try:
        status, steps, loss, seconds, error = (result[name] for name in ROW_FIELDS)
    except KeyError:
        return None
    if type(steps) is not int or steps < 0:
        return None
    if type(loss) not in (float, int) or type(seconds) not in (float, int) or not seconds >= 0:
        return None
    if status == "error":
        if not is_deterministic_error(error) or steps != 0:
            return None
    # A finished run has a loss, finite unless it diverged: the last finite state of a diverged
    # run may have an infinite loss (Φ = 1e200·I diverges at its start).
    elif status not in FINISHED_STATUSES or error is not None or math.isnan(loss):
        return None
    elif math.isinf(loss) and status != "diverged":
        return None
    return {"status": status, "steps": steps, "final_loss": float(loss),
            "seconds": float(seconds), "error": error}  # fmt: skip


_HEAD = re.compile(r'\{"key":"[0-9a-f]{32}",')
"""The head of every record a shard writer writes (the key, 32 hex digits, at [8, 40))."""


def _key_of(config_text: str) -> str:
    return hashlib.sha256(config_text.encode()).hexdigest()[:32]


def _prefer(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether a later record ``new`` replaces ``old``: yes, unless it is an error replacing a
    finished run."""
    return old is None or new["status"] != "error" or old["status"] == "error"


class Store:
    """A store folder: reads the finished runs of given keys, and writes shards."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        if not isinstance(folder, (str, bytes, os.PathLike)):
            raise TypeError(f"store must be a folder's path, got {type(folder).__name__}")
        if not os.fspath(folder):  # Path("") would be the current folder
            raise ValueError("store must be a folder's path, got an empty one")
        self.folder = Path(os.fsdecode(folder))
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(f"store {self.folder} is a file, not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)

    def shards(self) -> list[Path]:
        """The complete shards, oldest first."""
        return sorted(
            entry
            for entry in self.folder.iterdir()
            if entry.name.startswith(SHARD_PREFIX) and entry.name.endswith(SHARD_SUFFIX)
        )

    def read(self, keys: set[str], canonical: Any) -> dict[str, dict[str, Any]]:
        """The stored result of each key of ``keys`` that has a usable record (key → row fields).

        ``canonical(config)`` is the canonical JSON text of a config (to check that a file of the
        old format holds the config its name says).
        """
        found: dict[str, dict[str, Any]] = {}
        ignored = 0
        for entry in os.scandir(self.folder):  # deeplinear 0.1: one file per run
            name = entry.name
            if name.endswith(".json") and not name.startswith(".") and name[:-5] in keys:
                result = self._read_file(Path(entry.path), name[:-5], canonical)
                if result is None:
                    ignored += 1
                elif _prefer(found.get(name[:-5]), result):
                    found[name[:-5]] = result
        for shard in self.shards():
            with open(shard, "rb") as stream:
                for raw in stream:
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError:  # a damaged record: its key is unknown
                        ignored += 1
                        continue
                    key = line[8:40]
                    if key not in keys:
                        # another sweep's record, unless its head is damaged (its key unknown)
                        ignored += not _HEAD.match(line)
                        continue
                    result = self._read_line(line, key)
                    if result is None:
                        ignored += 1
                    elif _prefer(found.get(key), result):
                        found[key] = result
        if ignored:
            warnings.warn(
                f"store {self.folder}: {ignored} records are unreadable, inconsistent or "
                "transient errors; their configs run again",
                RuntimeWarning,
                stacklevel=3,
            )
        return found

    @staticmethod
    def _read_line(line: str, key: str) -> dict[str, Any] | None:
        body = line.rstrip("\n")
        if not body.startswith('{"key":"') or body[40:42] != '",' or not body.endswith("}"):
            return None
        start = body.find(_CONFIG_MARK, 42)  # the result holds no unescaped ',"config":'
        if start < 0 or _key_of(body[start + len(_CONFIG_MARK) : -1]) != key:
            return None
        try:
            record = json.loads(body)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        if "check" in record:  # (records written before the check was added have none)
            begin = body.find(_RESULT_MARK, 42)  # ahead of every string of the result
            if begin < 0 or record["check"] != _check_of(body[begin + len(_RESULT_MARK) : start]):
                return None
        return _checked(record.get("result"))

    @staticmethod
    def _read_file(path: Path, key: str, canonical: Any) -> dict[str, Any] | None:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            if payload["key"] != key or _key_of(canonical(payload["config"])) != key:
                return None
            return _checked(payload["result"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def writer(self) -> ShardWriter:
        return ShardWriter(self.folder)


class ShardWriter:
    """Collects finished runs and writes them as shards: ``add`` each, ``flush`` when ``due``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._stem = f"{SHARD_PREFIX}{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._sequence = 0
        self._lines: list[str] = []
        self._oldest = 0.0
        self.written = 0

    def add(self, key: str, config_text: str, result: dict[str, Any]) -> None:
        """One finished run: its key, its canonical config text and its row fields."""
        if not self._lines:
            self._oldest = time.monotonic()
        fields = json.dumps({name: result[name] for name in ROW_FIELDS}, separators=(",", ":"))
        check = _check_of(fields)
        self._lines.append(
            f'{{"key":"{key}","check":"{check}","result":{fields},"config":{config_text}}}\n'
        )

    def due(self) -> bool:
        return bool(self._lines) and (
            len(self._lines) >= FLUSH_RECORDS or time.monotonic() - self._oldest >= FLUSH_SECONDS
        )

    def flush(self) -> None:
        """Write the waiting records as one shard (atomically: complete or absent)."""
        if not self._lines:
            return
        path = self.folder / f"{self._stem}-{self._sequence:06d}{SHARD_SUFFIX}"
        with atomic_write(path, "w") as stream:
            stream.writelines(self._lines)
        self._sequence += 1
        self.written += len(self._lines)
        self._lines = []
