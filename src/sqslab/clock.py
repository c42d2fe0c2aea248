"""Simulated time that moto, boto3 and the bench all read.

moto decides visibility, delays, retention and FIFO deduplication by reading the wall clock
(``datetime.now``). The bench stops that clock with time-machine and moves it by hand, so a
30-second visibility timeout or the 5-minute deduplication window passes in microseconds and
every run sees the same times.

Why time-machine rather than freezegun: time-machine patches the C-level clock functions, leaves
``time.monotonic`` and ``time.perf_counter`` alone (so deadline and timeout logic in a learner's
code, in Jupyter and in the grader still works) and costs about 0.1 ms to enter; freezegun also
freezes the monotonic clocks and rewrites module-level aliases of the time functions, and costs
10-15 ms to enter once boto3 and moto are loaded (measured; docs/sqs-facts.md, "Where moto differs").

Timers live on the clock too: a heartbeat is "a callback every N simulated seconds", fired by
:meth:`Clock.advance` in time order, so it is deterministic under test. In production the same
callback would be driven by a real timer thread.
"""

from __future__ import annotations

import datetime as _dt
import heapq
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import time_machine

from .exceptions import LabError

#: Every lab starts at the same instant, so histories and grades are reproducible.
EPOCH = _dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=_dt.timezone.utc)


@dataclass(order=True)
class Timer:
    """A callback scheduled on the simulated clock; ``cancel()`` stops it."""

    when: float
    seq: int
    callback: Callable[[], object] = field(compare=False)
    interval: float | None = field(default=None, compare=False)
    cancelled: bool = field(default=False, compare=False)
    name: str = field(default="timer", compare=False)

    def cancel(self) -> None:
        """Stop the timer; a cancelled timer never fires again."""
        self.cancelled = True

    @property
    def active(self) -> bool:
        """True while the timer may still fire."""
        return not self.cancelled


class Clock:
    """A stopped clock that only moves when told to.

    Parameters
    ----------
    start:
        The instant the clock shows when started (default: :data:`EPOCH`).

    Examples
    --------
    >>> clock = Clock().start()
    >>> t0 = clock.now()
    >>> clock.advance(31)
    >>> round(clock.now() - t0)
    31
    >>> clock.stop()
    """

    def __init__(self, start: _dt.datetime = EPOCH):
        self._start_at = start
        self._traveller = time_machine.travel(start, tick=False)
        self._coordinates = None
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._listeners: list[Callable[[float, float], None]] = []
        self._epoch_seconds = start.timestamp()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "Clock":
        """Stop real time at the start instant; returns the clock for chaining."""
        if self._coordinates is None:
            self._coordinates = self._traveller.start()
        return self

    def stop(self) -> None:
        """Give the process its real clock back and forget every timer."""
        if self._coordinates is not None:
            self._traveller.stop()
            self._coordinates = None
        self._timers.clear()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._coordinates is not None

    # -- reading -----------------------------------------------------------------------------
    def now(self) -> float:
        """Simulated time as Unix seconds (what ``time.time()`` returns while the clock runs)."""
        return time.time()

    def elapsed(self) -> float:
        """Simulated seconds since the clock started."""
        return round(time.time() - self._epoch_seconds, 6)

    # -- moving ------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing due timers in time order on the way."""
        if seconds < 0:
            raise LabError("The clock only moves forward: advance() needs seconds >= 0.")
        self.advance_to(self.now() + seconds)

    def sleep(self, seconds: float) -> None:
        """Simulated ``time.sleep``: returns at once, ``seconds`` later on the clock."""
        self.advance(seconds)

    def advance_to(self, when: float) -> None:
        """Move time forward to the Unix time ``when`` (no-op if already past it)."""
        self._require_running()
        before = self.now()
        while True:
            timer = self._next_due(when)
            if timer is None:
                break
            self._shift_to(timer.when)
            if timer.interval is not None and not timer.cancelled:
                timer.when = timer.when + timer.interval
                timer.seq = next(self._seq)
                heapq.heappush(self._timers, timer)
            timer.callback()
        self._shift_to(when)
        after = self.now()
        if after > before:
            for listener in list(self._listeners):
                listener(before, after)

    def _next_due(self, until: float) -> Timer | None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        if self._timers and self._timers[0].when <= until:
            return heapq.heappop(self._timers)
        return None

    def _shift_to(self, when: float) -> None:
        delta = when - time.time()
        if delta > 0:
            self._coordinates.shift(delta)

    # -- timers ------------------------------------------------------------------------------
    def call_later(self, delay: float, callback: Callable[[], object], name: str = "timer") -> Timer:
        """Run ``callback`` once, ``delay`` simulated seconds from now."""
        self._require_running()
        timer = Timer(self.now() + delay, next(self._seq), callback, None, name=name)
        heapq.heappush(self._timers, timer)
        return timer

    def every(self, interval: float, callback: Callable[[], object], name: str = "timer") -> Timer:
        """Run ``callback`` every ``interval`` simulated seconds until the timer is cancelled."""
        if interval <= 0:
            raise LabError("A repeating timer needs an interval > 0 seconds.")
        self._require_running()
        timer = Timer(self.now() + interval, next(self._seq), callback, interval, name=name)
        heapq.heappush(self._timers, timer)
        return timer

    def next_timer_at(self) -> float | None:
        """Unix time of the next active timer, or None."""
        live = [t.when for t in self._timers if not t.cancelled]
        return min(live) if live else None

    def on_advance(self, listener: Callable[[float, float], None]) -> None:
        """Call ``listener(before, after)`` whenever :meth:`advance` moves time."""
        self._listeners.append(listener)

    def _require_running(self) -> None:
        if self._coordinates is None:
            raise LabError("The clock is not running: start the lab first (lab = open_lab()).")

    def __repr__(self) -> str:
        state = f"t={self.elapsed():.3f}s" if self.running else "stopped"
        return f"<Clock {state}>"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


class RealClock(Clock):
    """Real time, with the simulated clock's interface: for a lab whose SQS is not in this process.

    The simulated clock works because moto, in this process, reads the time the bench sets. An
    SQS elsewhere (ElasticMQ, real AWS, a moto server in another process) keeps its own time, so
    the lab's clock there is the real one: :meth:`advance` really waits, firing the timers due on
    the way at their moment (a heartbeat's beats land in real time), and refuses -- at once, with
    what to do instead -- any move longer than ``max_wait`` seconds, where waiting would stall a
    notebook for minutes or hours (a 12-hour visibility timeout, the 5-minute deduplication
    window).

    Parameters
    ----------
    max_wait:
        The longest real wait one move accepts (``SQSLAB_MAX_WAIT``, default 60 s).
    where:
        Names the endpoint in the refusal message.
    sleep:
        How to wait (``time.sleep``; the tests pass a recorder so they never wait).
    """

    _REAL = object()

    def __init__(self, max_wait: float = 60.0, where: str = "an SQS outside this process",
                 sleep: Callable[[float], None] = time.sleep):
        super().__init__()
        self.max_wait = max_wait
        self._where = where
        self._sleep = sleep
        self._started_real = 0.0
        self._offset = 0.0  # what the injected sleep "waited", when it does not really wait

    def start(self) -> "RealClock":
        """Start counting; returns the clock."""
        if self._coordinates is None:
            self._coordinates = self._REAL
            self._started_real = time.time()
            self._epoch_seconds = self._started_real
        return self

    def stop(self) -> None:
        """Stop, and forget every timer."""
        self._coordinates = None
        self._timers.clear()

    def now(self) -> float:
        """Unix seconds, real."""
        return time.time() + self._offset

    def elapsed(self) -> float:
        """Real seconds since the clock started."""
        return round(self.now() - self._epoch_seconds, 6)

    def advance_to(self, when: float) -> None:
        """Wait until the Unix time ``when``, firing due timers on the way; refuse a wait beyond ``max_wait``."""
        self._require_running()
        wait = when - self.now()
        if wait > self.max_wait:
            raise LabError(
                f"clock.advance would wait {_duration(wait)} of real time. This lab runs on {self._where}, "
                "where time is real: only moto in this process (SQSLAB_ENDPOINT unset, or moto-server) "
                "lets the bench move time without waiting. Use shorter timeouts on this endpoint (for "
                "example visibility_timeout=2), or allow longer waits with "
                f"SQSLAB_MAX_WAIT={math.ceil(wait)}.")
        super().advance_to(when)

    def _shift_to(self, when: float) -> None:
        delta = when - self.now()
        if delta > 0:
            before = time.time()
            self._sleep(delta)
            # An injected sleep may return at once: count the wait it stood for.
            self._offset += max(0.0, delta - (time.time() - before))

    def __repr__(self) -> str:
        state = f"t={self.elapsed():.3f}s, real" if self.running else "stopped"
        return f"<RealClock {state}>"
