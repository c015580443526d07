"""Progress that suits where it goes: a tqdm bar on a terminal, plain periodic lines (with the
elapsed time) when stderr is a file or a pipe — CI logs, ``nohup`` — and nothing when off.

``Progress(total, desc=..., unit=...)`` is a context manager with ``update(n, **status)``;
``status`` (e.g. ``loss=1e-3``) is shown beside the count.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO, Any

__all__ = ["Progress", "is_terminal"]

PLAIN_INTERVAL = 10.0
"""Seconds between two plain lines (the first comes after this long too; one more at the end
when at least one was written, so that a short task writes nothing)."""


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real file
        return False


def _format(value: Any) -> str:
    return f"{value:.3e}" if isinstance(value, float) else str(value)


class Progress:
    """A progress report over ``total`` units of work (None: unknown).

    Args:
        total: the amount of work, or None.
        desc: what is being done ("claims", "runs", "steps").
        unit: the unit of ``total``.
        enabled: False reports nothing at all.
        stream: where to write (default stderr); a bar when it is a terminal, else plain lines.
        interval: seconds between plain lines.
        leave: keep the bar on screen when done.
    """

    def __init__(
        self,
        total: int | None,
        *,
        desc: str,
        unit: str,
        enabled: bool = True,
        stream: IO[str] | None = None,
        interval: float = PLAIN_INTERVAL,
        initial: int = 0,
        leave: bool = False,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.count = initial
        self._stream = sys.stderr if stream is None else stream
        self._interval = interval
        self._status: dict[str, Any] = {}
        self._started = time.monotonic()
        self._last_line = self._started
        self._lines = 0
        self._bar: Any = None
        self._enabled = enabled
        if enabled and is_terminal(self._stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                initial=initial,
                desc=desc,
                unit=unit,
                file=self._stream,
                dynamic_ncols=True,
                leave=leave,
            )

    def update(self, n: int = 1, **status: Any) -> None:
        """``n`` more units done; ``status`` replaces what is shown beside the count."""
        self.count += n
        if status:
            self._status = status
        if not self._enabled:
            return
        if self._bar is not None:
            if status:
                self._bar.set_postfix({k: _format(v) for k, v in status.items()}, refresh=False)
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last_line >= self._interval:
            self._write_line(now)

    def write(self, text: str) -> None:
        """A line of its own (e.g. one per finished claim), above the bar on a terminal."""
        if not self._enabled:
            return
        if self._bar is not None:
            self._bar.write(text, file=self._stream)
        else:
            self._stream.write(f"{text} [{time.monotonic() - self._started:.1f} s]\n")
            self._stream.flush()
            self._lines += 1

    def _write_line(self, now: float) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        share = f" ({100 * self.count / self.total:.0f} %)" if self.total else ""
        shown = "".join(f", {k} {_format(v)}" for k, v in self._status.items())
        self._stream.write(
            f"{self.desc}: {self.count}{of} {self.unit}{share}{shown}, "
            f"{now - self._started:.1f} s elapsed\n"
        )
        self._stream.flush()
        self._last_line = now
        self._lines += 1

    def close(self) -> None:
        """End the report (a last plain line if any was written before)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._enabled and self._lines:
            self._write_line(time.monotonic())
        self._enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
