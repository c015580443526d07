"""Sending this test process Ctrl-C (SIGINT) safely: never when SIGINT is ignored (a run started
with ``nohup … &`` ignores it, and the signal would then never stop the run under test)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest


def require_sigint() -> None:
    """Skip the calling test unless SIGINT raises KeyboardInterrupt in this process."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT is delivered to the main thread only")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is ignored or handled elsewhere in this process (e.g. under nohup)")


def interrupt_after(seconds: float) -> tuple[threading.Timer, list[float]]:
    """Send SIGINT to this process after ``seconds``; returns the timer and the send times."""
    require_sigint()
    sent: list[float] = []

    def fire() -> None:
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(seconds, fire)
    timer.start()
    return timer, sent
