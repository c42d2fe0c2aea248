"""Timers as a consumer process sees them: on the simulated clock, dying with the process; or on threads.

A heartbeat written against a clock's timer interface -- ``clock.every(interval, callback)`` and
``clock.call_later(delay, callback)``, each returning a timer with ``cancel()`` and ``active`` --
runs unchanged on two clocks:

- :class:`ProcessClock`, the lab's simulated clock as one consumer process sees it: its timers
  fire in time order while simulated time moves, so a ten-minute job on a 30-second timeout runs
  in milliseconds and the same way every time; they die with the process (every process the
  scenario runner starts has one as ``process.clock``);
- :class:`ThreadClock`, whose timers run on real threads: what a consumer uses in production.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Callable

from .exceptions import LabError


# -- the clock as one process sees it ---------------------------------------------------------------
class ProcessClock:
    """The lab's clock as one consumer process sees it.

    A process reads the time, spends it (work that takes ``advance(seconds)``, a ``sleep``) and starts
    timers; it cannot stop, rewind or jump the lab's clock. Timers started here are the process's
    own "threads": each fires only while the process is alive (``alive()``), an exception in its
    callback cancels that timer alone and is written to the history (an uncaught exception ends a
    thread, not the process), and :meth:`kill` cancels them all (the process died).

    Parameters
    ----------
    clock:
        The lab's :class:`~sqslab.clock.Clock`.
    owner:
        The process's name, for the history.
    alive:
        Returns False once the process is dead or stopped; its timers then cancel themselves.
    note:
        ``note(actor, text)`` records a line in the history.
    record:
        ``record(action, timer)`` puts a timer's ``"start"``, ``"cancel"``, ``"died"`` and, for a
        one-shot timer that has fired, ``"done"`` on the history, so the order of a process's actions
        at one simulated instant can be checked ("stop the heartbeat, then delete").
    """

    def __init__(self, clock: Any, *, owner: str = "consumer", alive: Callable[[], bool] | None = None,
                 note: Callable[[str, str], None] | None = None,
                 record: Callable[[str, "ProcessTimer"], None] | None = None):
        self._clock = clock
        self.owner = owner
        self._alive = alive or (lambda: True)
        self._note = note
        self._record = record
        self._timers: list[ProcessTimer] = []

    # reading and spending time: the lab's clock
    def now(self) -> float:
        """Simulated Unix seconds."""
        return self._clock.now()

    def elapsed(self) -> float:
        """Simulated seconds since the lab started."""
        return self._clock.elapsed()

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass (every process's timers fire on the way)."""
        self._clock.advance(seconds)

    def sleep(self, seconds: float) -> None:
        """Simulated ``time.sleep``."""
        self._clock.advance(seconds)

    # timers: the process's own
    def every(self, interval: float, callback: Callable[[], object], name: str = "timer") -> "ProcessTimer":
        """Run ``callback`` every ``interval`` simulated seconds until cancelled (or the process dies)."""
        return self._start(self._clock.every, interval, callback, name)

    def call_later(self, delay: float, callback: Callable[[], object], name: str = "timer") -> "ProcessTimer":
        """Run ``callback`` once, ``delay`` simulated seconds from now (unless the process died)."""
        return self._start(self._clock.call_later, delay, callback, name)

    def _start(self, schedule, seconds, callback, name):
        holder: dict[str, ProcessTimer] = {}

        def run() -> None:
            timer = holder["timer"]
            if not self._alive():
                timer.cancel(died=True)
                return
            _running.append(timer)
            try:
                callback()
            except Exception as exc:  # noqa: BLE001 - a thread dies of any exception
                timer.cancel(died=True)
                if self._note is not None:
                    self._note(self.owner, f"{self.owner}'s timer '{name}' died of an uncaught "
                                           f"{type(exc).__name__}: {one_line(exc)}")
            finally:
                _running.pop()
            if timer.interval is None:
                timer.finish()  # a one-shot timer that has fired is over, like a thread that returned

        timer = holder["timer"] = ProcessTimer(schedule(seconds, run, name=name), self)
        self._timers = [t for t in self._timers if t.active] + [timer]
        if self._record is not None:
            self._record("start", timer)
        return timer

    @property
    def timers(self) -> list[Any]:
        """This process's timers that may still fire."""
        return [t for t in self._timers if t.active]

    def kill(self) -> None:
        """Cancel every timer of this process (it died or stopped)."""
        for t in self._timers:
            t.cancel(died=True)
        self._timers = []

    def __repr__(self) -> str:
        return f"<ProcessClock of {self.owner}: {len(self.timers)} timer(s), {self._clock!r}>"


_timer_ids = itertools.count(1)
#: The process timers whose callbacks are running now, innermost last (one thread: a stack).
_running: list["ProcessTimer"] = []


def running_timer() -> "ProcessTimer | None":
    """The process timer whose callback is running now (what the history tags its calls with), or None."""
    return _running[-1] if _running else None


class ProcessTimer:
    """A timer of one process: ``cancel()`` and ``active``, as a thread-backed timer has.

    Each has an ``id`` (``"heartbeat#3"``) that the history gives its start, its cancel and every
    AWS call its callback makes.
    """

    def __init__(self, timer: Any, owner: ProcessClock):
        self._timer = timer
        self._owner = owner
        self.name = timer.name
        self.interval = timer.interval
        self.id = f"{timer.name}#{next(_timer_ids)}"

    def cancel(self, *, died: bool = False) -> None:
        """Stop the timer; a cancelled timer never fires again (a running callback is not interrupted)."""
        if self._timer.cancelled:
            return
        self._timer.cancel()
        if self._owner._record is not None:
            self._owner._record("died" if died else "cancel", self)

    def finish(self) -> None:
        """A one-shot timer has fired: it will not fire again (on the history as ``done``)."""
        if self._timer.cancelled:
            return
        self._timer.cancel()
        if self._owner._record is not None:
            self._owner._record("done", self)

    @property
    def active(self) -> bool:
        """True while the timer may still fire (not cancelled, and for a one-shot timer, not fired yet)."""
        return not self._timer.cancelled

    def __repr__(self) -> str:
        return f"<timer {self.id} of {self._owner.owner}{'' if self.active else ', cancelled'}>"


def one_line(exc: BaseException) -> str:
    """An exception's message on one line, at most 200 characters."""
    return " ".join(str(exc).split())[:200]


# -- the production clock: timers on real threads ---------------------------------------------------
class ThreadTimer:
    """A repeating timer on a daemon thread; :meth:`cancel` stops it and waits for it to finish."""

    def __init__(self, interval: float, callback: Callable[[], object], name: str,
                 event: threading.Event | None = None, repeat: bool = True):
        self.interval = interval
        self.callback = callback
        self.name = name
        self.repeat = repeat
        self._stop = event if event is not None else threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "ThreadTimer":
        self._thread.start()
        return self

    def _run(self) -> None:
        # Event.wait returns True as soon as cancel() sets the event, so cancelling never has to
        # wait out an interval.
        while not self._stop.wait(self.interval):
            try:
                self.callback()
            except Exception:  # noqa: BLE001 - a failed beat ends the heartbeat, like a lost lease
                self._stop.set()
                raise
            if not self.repeat:
                self._stop.set()

    def cancel(self) -> None:
        """Stop the timer and wait until a callback that is running has returned.

        After ``cancel()`` returns, the callback will not run again: safe to delete or release the
        message next (otherwise a late beat could hide a released message again).
        """
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    @property
    def active(self) -> bool:
        """True while the timer may still fire."""
        return not self._stop.is_set()


class ThreadClock:
    """Real time, with timers on threads: the production stand-in for the lab's clock.

    It offers the part of the clock interface a heartbeat uses -- ``now()``, ``sleep()``,
    ``every(interval, callback, name=...)`` and ``call_later(...)`` returning a timer with
    ``cancel()`` and ``active`` -- so code written and graded against the simulated clock runs
    unchanged in a real consumer::

        heartbeat = start_heartbeat(sqs, queue_url, handle, ThreadClock(), timeout=30)

    boto3 clients may be shared between threads (sessions may not), so the heartbeat thread can
    use the consumer's client.

    Parameters
    ----------
    event_factory:
        Makes each timer's stop event (default :class:`threading.Event`); tests pass an event whose
        ``wait`` does not block, so they never sleep.
    """

    def __init__(self, event_factory: Callable[[], threading.Event] | None = None):
        self._event_factory = event_factory or threading.Event

    def now(self) -> float:
        """Unix seconds."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Really sleep."""
        time.sleep(seconds)

    advance = sleep

    def every(self, interval: float, callback: Callable[[], object], name: str = "timer") -> ThreadTimer:
        """Run ``callback`` on a thread every ``interval`` seconds until cancelled."""
        if interval <= 0:
            raise LabError("A repeating timer needs an interval > 0 seconds.")
        return ThreadTimer(interval, callback, name, self._event_factory()).start()

    def call_later(self, delay: float, callback: Callable[[], object], name: str = "timer") -> ThreadTimer:
        """Run ``callback`` once on a thread, ``delay`` seconds from now."""
        return ThreadTimer(delay, callback, name, self._event_factory(), repeat=False).start()
