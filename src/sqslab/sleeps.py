"""A meter of real waiting: how often, and how long, code slept or waited in real time.

The bench runs on a simulated clock, so a correct lab run never waits in real time; a test or a
graded cell proves it by counting, not by timing (a busy machine makes timing lie):

>>> with SleepMeter() as real:
...     run_the_work()
>>> assert real.calls == 0, real.describe()

It counts ``time.sleep`` and ``threading.Condition.wait`` (which ``threading.Event.wait``, queue
waits and moto's long poll use), made by any code while it is active. This module uses the standard
library only, so the benchmark can load it from its file into a kernel before anything else.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable

#: ``ignore(kind, frame)`` -> True to leave a wait out; ``kind`` is "sleep" or "wait", ``frame`` the caller's.
Ignore = Callable[[str, object], bool]


class SleepMeter:
    """Counts and times real sleeps and waits while active (``with`` block, or :meth:`start`/:meth:`stop`).

    Parameters
    ----------
    ignore:
        ``ignore(kind, frame)``: True leaves that sleep or wait out of the figures (the benchmark
        leaves out the kernel's own machinery, which waits between cells whatever a notebook does).

    Attributes
    ----------
    sleeps, waits:
        How many ``time.sleep`` and ``Condition.wait`` calls were counted.
    slept, waited:
        Real seconds they took.
    asked:
        The durations asked for, in order (``inf`` for a wait without a timeout).
    """

    def __init__(self, ignore: Ignore | None = None):
        self.ignore = ignore
        self.sleeps = self.waits = 0
        self.slept = self.waited = 0.0
        self.asked: list[float] = []
        self._originals: tuple | None = None

    @property
    def calls(self) -> int:
        """Sleeps and waits counted."""
        return self.sleeps + self.waits

    @property
    def seconds(self) -> float:
        """Real seconds spent sleeping or waiting."""
        return self.slept + self.waited

    def describe(self) -> str:
        """A sentence for an assertion message."""
        if not self.calls:
            return "no real sleep or wait"
        asked = ", ".join(f"{a:g} s" for a in self.asked[:5]) + (" ..." if len(self.asked) > 5 else "")
        return (f"{self.calls} real sleep(s) or wait(s) ({asked} asked, {self.seconds:.2f} s spent): "
                "a lab run must move the simulated clock, never wait in real time")

    def start(self) -> "SleepMeter":
        """Begin counting (patches ``time.sleep`` and ``threading.Condition.wait``)."""
        if self._originals is not None:
            return self
        sleep, wait = time.sleep, threading.Condition.wait
        self._originals = (sleep, wait)
        meter = self

        def metered_sleep(seconds):
            if meter.ignore is not None and meter.ignore("sleep", sys._getframe(1)):
                return sleep(seconds)
            meter.asked.append(seconds)
            started = time.perf_counter()
            try:
                return sleep(seconds)
            finally:
                meter.sleeps += 1
                meter.slept += time.perf_counter() - started

        def metered_wait(condition, timeout=None):
            if meter.ignore is not None and meter.ignore("wait", sys._getframe(1)):
                return wait(condition, timeout)
            meter.asked.append(float("inf") if timeout is None else timeout)
            started = time.perf_counter()
            try:
                return wait(condition, timeout)
            finally:
                meter.waits += 1
                meter.waited += time.perf_counter() - started

        time.sleep, threading.Condition.wait = metered_sleep, metered_wait
        return self

    def stop(self) -> None:
        """Stop counting and put the originals back (the figures stay)."""
        if self._originals is not None:
            time.sleep, threading.Condition.wait = self._originals
            self._originals = None

    def __enter__(self) -> "SleepMeter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
