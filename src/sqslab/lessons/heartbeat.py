"""Long work under a visibility timeout: rivals, timers that die with their process, real threads.

Lesson 4 keeps a message hidden while long work runs by extending its visibility timeout on a
timer (a *heartbeat*). A heartbeat written against a clock's timer interface -- ``clock.every(
interval, callback)`` returning a timer with ``cancel()`` -- runs unchanged on two clocks:

- the lab's simulated clock, which fires timers in time order while ``clock.advance()`` moves
  time, so a ten-minute job on a 30-second timeout runs in milliseconds and the same way every
  time (what the lesson and the grader use);
- :class:`ThreadClock`, whose timers run on real threads: what a consumer uses in production.

The rest of this module is the bench around it:

- :class:`ProcessClock`: the lab clock as one consumer process sees it. Its timers behave like
  the threads of that process: they die with the process, and an exception in one ends that
  timer only (recorded in the history), as an uncaught exception ends a thread.
- :func:`with_rival`: wraps a consumer step so that, while it runs, a rival process running the
  same code polls the queue every simulated second and takes a step as soon as a message is
  visible: "another instance of the service" in the deterministic, one-thread world of the bench.
- :class:`Rival`: a consumer that only polls and records what it received (a witness).
- :func:`long_job`, :func:`trial`: work that takes simulated time, and a small fixture for tests
  that call an exercise function directly.
- :func:`recovery_times`, :func:`lease_problems`, :func:`twelve_hour_problems`: questions about a
  history, answered with sentences a learner can act on.

Everything runs on one thread. When a rival's own long work runs inside another consumer's work
(the only way one thread can interleave them), both finish when the inner one does; the order of
events per message is still what real concurrency would produce.

The module is long because it holds everything lesson 4's bench needs, one module per lesson (the
package's rule): the process clock, the rival, the trial, and the checks of leases and of the
heartbeat's order.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ..exceptions import Crash, LabError
from ..scenario import lab_of, new_process
from ..timers import ProcessClock, ThreadClock, ThreadTimer, one_line

__all__ = [
    "MAX_VISIBILITY_TIMEOUT", "JobFailed", "ProcessClock", "Rival", "ThreadClock", "ThreadTimer",
    "Trial", "backoff_ceiling", "heartbeat_order_problems", "lease_problems", "long_job", "one_job_per_step", "outage_consumer",
    "process_clock", "recovery_times", "release_problems", "retry_demo", "trial", "twelve_hour_problems", "with_rival",
]

#: The longest a message can stay in flight after one receive: 12 hours (API Reference,
#: ChangeMessageVisibility). Counted from the receive; a request beyond it is rejected.
MAX_VISIBILITY_TIMEOUT = 43_200

_names = itertools.count(1)


class JobFailed(Exception):
    """The work failed for a reason that may pass (a dependency is down): try again later."""


# -- work that takes time ---------------------------------------------------------------------------
def long_job(process: Any, seconds: float = 600, *, minutes: float | None = None) -> Callable[[str], None]:
    """The business work of a consumer process, taking ``seconds`` (or ``minutes``) of simulated time.

    ``work(body)`` lets the time pass on the process's clock (so heartbeats and rivals act
    meanwhile), then charges the order in ``body`` and commits (``process.handle``).
    """
    if minutes is not None:
        seconds = minutes * 60

    def work(body: str) -> None:
        process.clock.advance(seconds)
        process.handle(body)

    work.__name__ = f"job_of_{seconds:g}s"
    return work


def one_job_per_step(handle_message: Callable[..., Any], *, minutes: float = 10,
                     timeout: int = 30) -> Callable[[Any], None]:
    """The lesson's consumer step, built around an exercise's ``handle_message``.

    Each step long-polls for one message (with its ApproximateReceiveCount) and hands it to
    ``handle_message(sqs, queue_url, message, clock, work, timeout=timeout)``, the work being
    :func:`long_job` of ``minutes``. A graded test builds its consumer this way, calling only the
    exercise's function, never a consumer defined in the notebook.
    """

    def step(p: Any) -> None:
        answer = p.sqs.receive_message(QueueUrl=p.queue_url, WaitTimeSeconds=20,
                                       MessageSystemAttributeNames=["ApproximateReceiveCount"])
        for m in answer.get("Messages", []):
            handle_message(p.sqs, p.queue_url, m, p.clock, long_job(p, minutes=minutes), timeout=timeout)

    step.__name__ = f"one_{minutes:g}_minute_job_per_step"
    return step


# -- a rival process running the same code ----------------------------------------------------------
def _receivable(queue_url: str) -> Callable[[], bool]:
    # A rival polls every simulated second: ask the mock's state, not SQS (see receivable_now).
    from ..lab import ACCOUNT_ID, REGION
    from ..moto import state

    return state.receivable_now(queue_url, ACCOUNT_ID, REGION)


def process_clock(p: Any) -> ProcessClock:
    """Process ``p``'s :class:`~sqslab.timers.ProcessClock`: timers that die with ``p``.

    Every process the scenario runner starts already has one as ``p.clock``.
    """
    return p.clock


@dataclass
class _RivalState:
    store: Any = None
    count: int = 0


def with_rival(consumer: Callable[[Any], Any], *, every: float = 1.0) -> Callable[[Any], Any]:
    """Wrap a consumer step: while it runs, a rival process running the same code competes.

    The rival is another consumer process (``rival-1``, ``rival-2``, ...: a new client, a new
    database connection) that polls the queue every ``every`` simulated seconds while the wrapped
    step runs, and takes a step of ``consumer`` whenever a message is visible. A message whose
    visibility timeout runs out mid-work is therefore received by the rival within a second, as
    another instance of the service would.

    The wrapper also gives each process a :class:`ProcessClock` (``p.clock``), so the timers a
    step starts die with its process.

    Use it wherever a consumer step goes: ``run_scenario(with_rival(step), ...)``,
    ``explore(with_rival(step), ...)``.
    """
    state = _RivalState()

    def step(p: Any) -> Any:
        lab = lab_of(p)
        process_clock(p)
        if state.store is not lab.effects:  # a new run: number the rivals afresh
            state.store, state.count = lab.effects, 0
        rival = _RivalProcess(p, consumer, state, every)
        try:
            return consumer(p)  # if it dies, p.die() stops its timers
        finally:
            rival.stop()

    step.__name__ = f"{getattr(consumer, '__name__', 'consumer')}_with_rival"
    step.__doc__ = f"{getattr(consumer, '__name__', 'consumer')}, with a rival polling every {every:g} s."
    return step


class _RivalProcess:
    """The rival of one step of a consumer: a timer, and a process spawned when it has work."""

    def __init__(self, owner: Any, consumer: Callable[[Any], Any], state: _RivalState, every: float):
        self.lab = lab_of(owner)
        self.owner = owner
        self.consumer = consumer
        self.state = state
        self.process = None
        self.busy = False
        self.visible = _receivable(owner.queue_url)
        self.timer = self.lab.clock.every(every, self._tick, name="rival")

    def _spawn(self) -> Any:
        self.state.count += 1
        return new_process(self.lab, f"rival-{self.state.count}", self.owner.queue_url, self.owner.dlq_url)

    def _tick(self) -> None:
        if self.busy or not self.lab.running or not self.visible():
            return
        from ..exceptions import RunawayConsumer

        self.busy = True
        try:
            if self.process is None:
                self.process = self._spawn()
            p = self.process
            p.sqs._sqslab_state["calls"] = 0
            p.sqs._sqslab_state["budget"] = 200
            died = None
            try:
                self.consumer(p)
                if p.name in self.lab.faults.dead:
                    died = {"point": "caught", "error": "the rival caught the injected crash and carried on"}
            except Crash as crash:
                died = {"point": crash.point}
            except RunawayConsumer as runaway:
                died = {"error": str(runaway)}
            except LabError:
                raise
            except Exception as exc:  # noqa: BLE001 - an uncaught error kills a real process too
                died = {"error": f"{type(exc).__name__}: {one_line(exc)}"}
            if died is not None:
                self.lab.history.append(p.name, "crash", **died)
                self._end(p)
        finally:
            self.busy = False

    def _end(self, p: Any) -> None:
        p.die()
        if self.process is p:
            self.process = None

    def stop(self) -> None:
        """The wrapped step is over: the rival stops polling and its process exits."""
        self.timer.cancel()
        if self.process is not None:
            self.lab.history.append(self.process.name, "stop")
            self._end(self.process)


class Rival:
    """A second consumer that only polls: every ``every`` simulated seconds, while it is open,
    it receives whatever is visible and keeps a record (it never deletes anything).

    >>> with Rival(lab, queue) as rival:      # doctest: +SKIP
    ...     lab.clock.advance(600)            # ten minutes of someone else's work
    >>> rival.received                        # doctest: +SKIP
    """

    def __init__(self, lab: Any, queue: Any, *, every: float = 1.0, actor: str = "rival", origin: float = 0.0):
        self.lab = lab
        self.origin = origin  # report times from here (history seconds)
        self.queue_url = getattr(queue, "url", queue)
        self.every = every
        self.actor = actor
        self.received: list[dict] = []
        self._sqs = None
        self._timer = None

    def __enter__(self) -> "Rival":
        self._sqs = self.lab.client("sqs", actor=self.actor)
        self._visible = _receivable(self.queue_url)
        self._timer = self.lab.clock.every(self.every, self._poll, name=self.actor)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._sqs is not None:
            self.lab.release(self._sqs)
        self._timer = self._sqs = None

    def _poll(self) -> None:
        if not self._visible():
            return
        answer = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                           MessageSystemAttributeNames=["ApproximateReceiveCount"])
        for m in answer.get("Messages", []):
            self.received.append({"t": round(self.lab.history.now() - self.origin, 6), "message_id": m["MessageId"],
                                  "key": self.lab.key_of(m["Body"]),
                                  "receive_count": int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0))})

    def report(self) -> str:
        """What the rival got, one line per receive."""
        if not self.received:
            return f"{self.actor} polled every {self.every:g} s and received nothing."
        lines = [f"{self.actor} polled every {self.every:g} s and received:"]
        for r in self.received[:6]:
            lines.append(f"  t={r['t']:7.3f}s  {r['key'] or r['message_id'][:8]}  (receive #{r['receive_count']})")
        if len(self.received) > 6:
            lines.append(f"  ... and {len(self.received) - 6} more receive(s)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.report()


# -- a fixture for tests that call an exercise function directly ------------------------------------
class Trial:
    """A fresh queue with a few orders, a client and a process clock, for one direct test.

    Attributes
    ----------
    queue, url: the queue (and its URL).
    sqs: a recorded client acting as ``actor``.
    clock: a :class:`ProcessClock` whose timers are cancelled when the trial ends (their starts and
        stops are on the history).
    charged: business keys charged by :meth:`work` functions, in order.
    tried: business keys whose :meth:`work` started, in order (a failed job too).
    """

    def __init__(self, lab: Any, name: str, *, timeout: int = 30, messages: int = 1, actor: str = "worker"):
        self.lab = lab
        self.name = f"{name}-{next(_names)}"
        self.queue = lab.queue(self.name, visibility_timeout=timeout)
        self.url = self.queue.url
        self.timeout = timeout
        self.actor = actor
        self.mark = len(lab.history)
        for i in range(messages):
            lab.send(self.queue, {"order_id": f"{name}-{i + 1}", "amount": 10 * (i + 1)})
        self.sqs = lab.client("sqs", actor=actor)
        # Its timers' starts and cancels go on the history, so "stop the heartbeat, then delete" can be
        # checked at one simulated instant (heartbeat_order_problems).
        self.clock = ProcessClock(lab.clock, owner=actor,
                                  note=lambda who, text: lab.history.append(who, "note", text=text),
                                  record=lambda action, timer: lab.history.append(actor, "timer", action=action,
                                                                                  timer=timer.id))
        self.charged: list[str] = []
        self.tried: list[str] = []

    def receive(self, n: int = 1) -> dict | None:
        """Receive one message (with its ApproximateReceiveCount) or ``n`` of them as a list."""
        answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=n,
                                          WaitTimeSeconds=self.lab.long_poll_wait(self.url),
                                          MessageSystemAttributeNames=["ApproximateReceiveCount"])
        messages = answer.get("Messages", [])
        if n == 1:
            return messages[0] if messages else None
        return messages

    def work(self, seconds: float, *, fail: bool | Iterable[str] | type[BaseException] = False) -> Callable[[str], None]:
        """A job of ``seconds`` simulated seconds that charges the order, or fails at its end.

        ``fail`` is True (every job fails with :class:`JobFailed`), False, the order ids whose jobs
        fail, or an exception class every job raises at its end (``KeyboardInterrupt``: Ctrl-C). Every
        job started is written down in :attr:`tried`, every charge in :attr:`charged`.
        """
        if isinstance(fail, type) and issubclass(fail, BaseException):
            raising, failing = fail, None
        else:
            raising, failing = JobFailed, (fail if isinstance(fail, bool) else set(fail))

        def work(body: str) -> None:
            key = self.lab.key_of(body) or body
            self.tried.append(key)
            self.clock.advance(seconds)
            if failing is None or failing is True or (not isinstance(failing, bool) and key in failing):
                if raising is JobFailed:
                    raise JobFailed("the payment service is unavailable (try again later)")
                raise raising()
            self.charged.append(key)

        return work

    def rival(self, every: float = 1.0) -> Rival:
        """A :class:`Rival` polling this trial's queue."""
        return Rival(self.lab, self.queue, every=every, origin=self._origin())

    def now(self) -> float:
        """Now, on the history's scale (simulated seconds)."""
        return self.lab.history.now()

    def depth(self) -> dict[str, int]:
        """Visible / in flight / delayed messages of this trial's queue."""
        return self.lab.depth(self.queue)

    def events(self, *kinds: str) -> list:
        """This trial's events (of the given kinds), in order: its queue's calls, its notes and its timers."""
        out = []
        for e in self.lab.history.since(self.mark):
            if kinds and e.kind not in kinds:
                continue
            if e.detail.get("queue") == self.name or (e.kind in ("note", "timer") and e.actor == self.actor):
                out.append(e)
        return out

    def order_problems(self) -> list[str]:
        """Deletes or releases made while this trial's heartbeat still ran (see :func:`heartbeat_order_problems`)."""
        return heartbeat_order_problems(self.events())

    def calls_later(self, seconds: float) -> list:
        """Let ``seconds`` pass, then return the ChangeMessageVisibility calls made meanwhile (a heartbeat left running)."""
        mark = self.now()
        self.clock.advance(seconds)
        return self.visibility_changes(after=mark)

    def visibility_changes(self, *, after: float | None = None) -> list:
        """ChangeMessageVisibility calls on this queue (those after ``after`` only, if given)."""
        return [e for e in self.events("visibility") if after is None or e.time > after + 1e-6]

    def relative(self, events: list | None = None) -> list:
        """Events with their times counted from the trial's start (``visible_until_t`` too)."""
        import dataclasses

        events = self.events() if events is None else events
        t0 = self._origin()
        out = []
        for e in events:
            detail = {k: (round(v - t0, 6) if k.endswith("_t") and isinstance(v, (int, float)) else v)
                      for k, v in e.detail.items()}
            out.append(dataclasses.replace(e, time=round(e.time - t0, 6), detail=detail))
        return out

    def _origin(self) -> float:
        return self.lab.history[self.mark].time if len(self.lab.history) > self.mark else self.lab.history.now()

    def lines(self, events: list) -> str:
        """``events`` as readable lines, timed from the trial's start."""
        return "\n".join(_line(e) for e in self.relative(events))

    def story(self) -> str:
        """This trial's events as text, timed from its start (timers' starts and stops, and which calls they made)."""
        return "\n".join(_line(e) for e in self.relative() if e.kind != "clock")

    def show(self, **kw: Any) -> None:
        """Draw this trial's timeline (times from its start) in a notebook; ``kw`` as for timeline.show."""
        from ..views import timeline

        timeline.show(self.relative(), **kw)

    def close(self) -> None:
        """End the trial: its timers stop, its client goes back."""
        self.clock.kill()
        self.lab.release(self.sqs)


def _line(e: Any) -> str:
    """One event as a line: timers named, and calls a timer made tagged with it."""
    if e.kind == "timer":
        verb = {"start": "started", "cancel": "stopped", "died": "ended (its process died)"}.get(e.detail.get("action"),
                                                                                              e.detail.get("action"))
        return f"t={e.time:7.3f}s {e.actor:<11} timer {e.detail.get('timer')} {verb}"
    line = e.describe()
    return line + f"  [by timer {e.detail['timer']}]" if e.detail.get("timer") else line


@contextlib.contextmanager
def trial(lab: Any, name: str, *, timeout: int = 30, messages: int = 1, actor: str = "worker") -> Iterator[Trial]:
    """A :class:`Trial` for the duration of a ``with`` block; its timers never outlive it."""
    t = Trial(lab, name, timeout=timeout, messages=messages, actor=actor)
    try:
        yield t
    finally:
        t.close()


# -- questions about a history ----------------------------------------------------------------------
def recovery_times(history: Any) -> list[tuple[str | None, float]]:
    """How long each message a crashed process held stayed out of reach after the crash.

    For every crash, the message its process had received last (and not deleted) is followed to
    its next receive by anyone. Returns ``(key, seconds from the crash to that receive)`` for each;
    a message never received again counts as ``inf``.
    """
    events = list(history)
    out = []
    for i, crash in enumerate(events):
        if crash.kind != "crash":
            continue
        held = None
        for e in reversed(events[:i]):
            if e.actor != crash.actor:
                continue
            if e.kind == "receive":
                held = e
                break
        if held is None:
            continue
        deleted = any(e.kind == "delete" and e.actor == crash.actor and e.message_id == held.message_id
                      and e.detail.get("applied") for e in events[held.seq:i] if e.seq > held.seq)
        if deleted:
            continue
        later = next((e for e in events[i + 1:] if e.kind == "receive" and e.message_id == held.message_id), None)
        out.append((held.key, round(later.time - crash.time, 3) if later else float("inf")))
    return out


def _leases(events: list) -> list[list]:
    """Group receive and visibility events per receipt handle: one list per lease."""
    by_handle: dict[str, list] = {}
    order = []
    handle_of_message: dict[str, str] = {}
    for e in events:
        if e.kind == "receive":
            h = e.detail.get("receipt_handle")
            by_handle[h] = [e]
            order.append(h)
            handle_of_message[e.message_id] = h
        elif e.kind == "visibility":
            h = e.detail.get("receipt_handle") or handle_of_message.get(e.message_id)
            if h in by_handle:
                by_handle[h].append(e)
    return [by_handle[h] for h in order]


def lease_problems(events: list, *, spare: float) -> list[str]:
    """Sentences about heartbeats that renewed too late: with less than ``spare`` seconds left.

    ``events`` are the receive and visibility events of one message (see :meth:`Trial.events`).
    A renewal must come while the message is still hidden and at least ``spare`` seconds before
    its lease ends: a real call takes time, and a beat can be late.
    """
    problems = []
    receives = [e for e in events if e.kind == "receive"]
    beats = [e for e in events if e.kind == "visibility"]
    if not receives:
        return ["nothing was received"]
    if not beats:
        return ["no ChangeMessageVisibility call at all: nothing kept the message hidden"]
    until = receives[0].detail.get("visible_until_t")
    for b in beats:
        if not b.detail.get("ok", True):
            problems.append(f"t={b.time:.1f}s: ChangeMessageVisibility failed ({b.detail.get('error')})")
            break
        left = until - b.time
        if left < spare - 1e-6:
            problems.append(f"t={b.time:.1f}s: renewed with {max(left, 0):.1f} s of the lease left "
                            f"(the lease ended at t={until:.1f}s); renew with at least {spare:g} s to spare")
            break
        until = b.detail.get("visible_until_t", until)
    return problems


def heartbeat_order_problems(history: Any) -> list[str]:
    """Where a process deleted or released a message while a timer of its own still beat for it.

    The lesson's order: stop the heartbeat, then delete or release the message. A heartbeat left
    running after the delete calls ChangeMessageVisibility on a deleted message; one left running
    after a release hides the message again, so no one can retry it when the backoff says so.
    The history ties each heartbeat call to its timer (``timer`` in the call's detail) and records
    every timer's start and cancel, so the order of actions at one simulated instant is visible.

    Returns
    -------
    list of str
        One sentence per delete or release that came while the process's heartbeat for that
        message was still running, and per beat after the message was deleted; empty when the
        order was kept.
    """
    beating: dict[tuple[str, str], set[str]] = {}
    stopped: set[str] = set()
    deleted: dict[tuple[str, str], float] = {}
    problems = []
    for e in history:
        timer = e.detail.get("timer")
        if e.kind == "timer" and e.detail.get("action") in ("cancel", "died", "done"):
            stopped.add(timer)
        elif e.kind == "visibility" and timer and e.key:
            beating.setdefault((e.actor, e.key), set()).add(timer)
            if (e.actor, e.key) in deleted:
                problems.append(f"t={e.time:g}s: {e.actor}'s timer {timer} changed {e.key}'s visibility after "
                                f"{e.actor} had deleted it (t={deleted[(e.actor, e.key)]:g}s): stop the heartbeat first")
        elif e.kind in ("delete", "visibility") and not timer and e.key:
            live = sorted(t for t in beating.get((e.actor, e.key), ()) if t not in stopped)
            what = "deleted" if e.kind == "delete" else "released"
            if live:
                problems.append(f"t={e.time:g}s: {e.actor} {what} {e.key} while its heartbeat ({', '.join(live)}) "
                                "was still running: stop the heartbeat first, then delete or release")
            if e.kind == "delete" and e.detail.get("ok", True):
                deleted[(e.actor, e.key)] = e.time
    return problems


def backoff_ceiling(attempt: int, *, base: float = 5, cap: float = 900) -> int:
    """The longest a message may stay away after its ``attempt``-th receive: ``min(cap, 12 h, base * 2**(attempt-1))``."""
    return int(min(cap, MAX_VISIBILITY_TIMEOUT, base * 2 ** (max(attempt, 1) - 1)))


def release_problems(events: list, *, base: float = 5, cap: float = 900) -> list[str]:
    """Sentences about failed messages that were not released with a backoff.

    ``events`` are a trial's receive, visibility and delete events (see :meth:`Trial.events`). Every
    receive of a message must be followed, before its next receive, by a delete or by exactly one
    release (a ChangeMessageVisibility not made by a timer) whose timeout lies between 0 and
    :func:`backoff_ceiling` of that receive's count: released, not left for its lease to run out.
    """
    problems: list[str] = []
    open_receive: dict[str, Any] = {}
    released: dict[str, int] = {}
    for e in events:
        mid = e.message_id
        if e.kind == "receive":
            if mid in open_receive and not released.get(mid):
                problems.append(f"t={e.time:.1f}s: {e.key} was received again, but after its receive #"
                                f"{open_receive[mid].detail.get('receive_count')} it was neither deleted nor released")
            open_receive[mid], released[mid] = e, 0
        elif e.kind == "delete" and mid in open_receive:
            open_receive.pop(mid)
        elif e.kind == "visibility" and not e.detail.get("timer") and mid in open_receive:
            count = int(open_receive[mid].detail.get("receive_count", 1))
            timeout, ceiling = e.detail.get("timeout"), backoff_ceiling(count, base=base, cap=cap)
            released[mid] += 1
            if released[mid] > 1:
                problems.append(f"t={e.time:.1f}s: {e.key} was released twice after one receive")
            elif not 0 <= timeout <= ceiling:
                problems.append(f"t={e.time:.1f}s: {e.key} was released for {timeout} s after its receive #{count}; "
                                f"backoff allows 0 to {ceiling} s")
    for mid, e in open_receive.items():
        if not released.get(mid):
            problems.append(f"{e.key} was received (receive #{e.detail.get('receive_count')}) and neither deleted nor "
                            "released: it stays hidden until its lease runs out")
    return problems


def twelve_hour_problems(events: list) -> list[str]:
    """Sentences about visibility asked beyond 12 hours after a receive (the AWS maximum).

    AWS counts the 12 hours from the receive (moto counts them from the send, so this reads the
    history instead of trusting the mock's answer).
    """
    problems = []
    received_at = None
    for e in events:
        if e.kind == "receive":
            received_at = e.time
        elif e.kind == "visibility" and received_at is not None:
            until = e.detail.get("visible_until_t", e.time)
            over = until - (received_at + MAX_VISIBILITY_TIMEOUT)
            if over > 1e-3:
                problems.append(
                    f"t={e.time:.0f}s ({_hours(e.time - received_at)} after the receive): asked to stay hidden "
                    f"until {_hours(until - received_at)} after the receive, {over:.0f} s beyond the "
                    "12-hour maximum (SQS rejects such a request)")
    return problems


def _hours(seconds: float) -> str:
    h, rest = divmod(int(round(seconds)), 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s"


# -- retries during an outage ----------------------------------------------------------------------
def outage_consumer(release: Callable[[int, Any], float | None], *, down_for: float = 60,
                    job: float = 1) -> Callable[[Any], None]:
    """A consumer step whose one-second jobs fail while the payment service is down.

    Each step receives up to 10 messages and works through them, ``job`` simulated seconds each.
    During the first ``down_for`` seconds of the run every job fails; the consumer then calls
    ``release(attempt, rng)`` (``attempt`` is the message's ApproximateReceiveCount, ``rng`` the
    process's ``random.Random``) and sets the message's visibility timeout to the answer, or
    leaves the message alone when the answer is None (it comes back when its timeout runs out).
    After the outage, jobs succeed and messages are deleted.
    """
    import random

    def step(p: Any) -> None:
        rng = p.state.setdefault("rng", random.Random(p.name))
        answer = p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                       MessageSystemAttributeNames=["ApproximateReceiveCount"])
        for m in answer.get("Messages", []):
            p.clock.advance(job)
            if lab_of(p).history.now() < down_for:
                delay = release(int(m["Attributes"]["ApproximateReceiveCount"]), rng)
                if delay is not None:
                    p.sqs.change_message_visibility(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                    VisibilityTimeout=int(delay))
                continue
            p.handle(m["Body"])
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])

    step.__name__ = f"outage_consumer_{getattr(release, '__name__', 'release')}"
    return step


def retry_demo(release: Callable[[int, Any], float | None], *, messages: int = 5, down_for: float = 60,
               job: float = 1, visibility_timeout: int = 30, lab: Any = None):
    """Run :func:`outage_consumer` over ``messages`` orders; returns the scenario's Outcome."""
    from ..scenario import run_scenario

    return run_scenario(outage_consumer(release, down_for=down_for, job=job), messages=messages,
                        visibility_timeout=visibility_timeout, max_steps=400, lab=lab,
                        note=f"Payment service down for the first {down_for:g} s:")
