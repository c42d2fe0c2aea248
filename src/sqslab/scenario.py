"""Run a consumer against a fault plan until the queue is drained, then check the invariants.

A consumer is written as **one step** (receive once, handle what came, return). The runner calls
steps; when a step crashes, the process is dead: its database connection is closed without
committing (an open transaction rolls back), its client is dropped, and a fresh process (a new
client, a new connection, nothing carried over in memory) takes over. When nothing is visible
the runner moves the clock to the moment something becomes visible again. Everything runs on
one thread, so every run is the same.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .check import Verdict, check, describe_error
from .effects import EffectDB
from .exceptions import Crash, LabError, RunawayConsumer
from .faults import Fault
from .lab import Lab, Queue, lab_for, learner_code
from .timers import ProcessClock

_run_ids = iter(range(1, 10**9))

#: Steps that did nothing (every short poll empty) allowed per counted step, before a run gives up.
IDLE_STEPS_PER_STEP = 20


@dataclass(eq=False)
class Process:
    """One consumer process: everything a consumer step may use, and nothing else.

    A consumer gets no handle to the lab, its fault plan, the clock's controls or the checker:
    what it can reach, it could also break, and a grade must not depend on a consumer's good
    manners. (The bench's own helpers find the process's lab with :func:`lab_of`.)

    Attributes
    ----------
    name: ``"consumer-1"``, ``"consumer-2"``, ... (a new number after every crash).
    sqs: a boto3 SQS client (recorded, faultable).
    queue_url: the queue to consume.
    db: this process's connection to the effect database (:class:`~sqslab.effects.EffectDB`).
    clock: the process's view of the simulated clock (:class:`~sqslab.timers.ProcessClock`): the time,
        work that takes time, and timers that die with the process.
    dlq_url: the dead-letter queue's URL, if the queue has one.
    state: a dict for whatever the consumer keeps in memory (gone when the process dies).
    """

    name: str
    sqs: Any
    queue_url: str
    db: EffectDB
    clock: Any
    dlq_url: str | None = None
    state: dict = field(default_factory=dict)
    _clients: list = field(default_factory=list, repr=False)

    def handle(self, body: str) -> None:
        """The business handler: charge the order in ``body`` (JSON), in its own transaction."""
        key = lab_of(self).key_of(body)
        if key is None:
            raise ValueError(f"message body has no order id: {body[:60]!r}")
        self.db.apply_effect(key, "charge")
        self.db.commit()

    def client(self, service: str) -> Any:
        """Another AWS client for this process (e.g. ``"dynamodb"``), recorded and faultable."""
        c = lab_of(self).client(service, actor=self.name)
        self._clients.append(c)
        return c

    def die(self) -> None:
        """Process death: roll back what was not committed, drop every client, stop its timers."""
        self.db.crash()
        lab = lab_of(self)
        for c in [self.sqs, *self._clients]:
            lab.release(c)
        self.clock.kill()  # its timers are its threads: they die too

    def stop(self) -> None:
        """A clean exit: the same as dying, as far as uncommitted work goes."""
        self.die()


#: Each process's lab, out of the consumer's reach (a process holds no reference to it).
_labs: "weakref.WeakKeyDictionary[Process, Lab]" = weakref.WeakKeyDictionary()


def lab_of(process: Process) -> Lab:
    """The lab a process runs in: for the bench's own helpers, never for a consumer.

    A consumer step that reaches for the lab (this, or :func:`~sqslab.lab.current_lab`) is reaching
    into the bench: during a step ``current_lab()`` refuses, and the grader flags submissions that
    call into the bench's internals.
    """
    return _labs[process]


@dataclass
class Outcome:
    """What one scenario run produced."""

    verdict: Verdict
    history: Any
    effects: dict
    steps: int
    faults: list
    drained: bool


def order_messages(n: int) -> list[dict]:
    """``n`` order events: ``{"order_id": "order-1", "amount": 10}``, ..."""
    return [{"order_id": f"order-{i + 1}", "amount": 10 * (i + 1)} for i in range(n)]


def run_scenario(consumer: Callable[[Process], Any], *, messages: int | Sequence[dict | str] = 3,
                 faults: Iterable[Fault | str] = (), expect: str = "exactly_once",
                 visibility_timeout: int = 30, fifo: bool = False, max_receive_count: int | None = None,
                 poison: Iterable[str] = (), max_steps: int | None = None, lab: Lab | None = None,
                 note: str = "", send: Callable[[Lab, Queue, list[str]], None] | None = None,
                 queue_attributes: dict | None = None, require_fired: bool = True) -> Outcome:
    """Send messages, run ``consumer`` steps under ``faults`` until drained, and check.

    Parameters
    ----------
    consumer:
        ``consumer(process)`` handles one step; see :class:`Process` for what it gets.
    messages:
        How many order messages to send, or the bodies themselves (dicts become JSON).
    faults:
        Faults to inject (each fires once).
    expect:
        ``"exactly_once"`` or ``"at_least_once"``.
    visibility_timeout, fifo, max_receive_count, queue_attributes:
        The queue's settings; ``max_receive_count`` adds a dead-letter queue.
    poison:
        Keys that always fail: they should end in the DLQ without an effect.
    max_steps:
        Give up after this many consumer steps (default: generous for the message count).
    lab:
        The lab to run in (default: a private one for this run, never the notebook's).
    send:
        ``send(lab, queue, bodies)`` to send the messages some other way (e.g. a FIFO producer).
    require_fired:
        A fault of ``faults`` that never fires fails the run (a test armed it where every correct
        consumer passes, so the run did not test what it meant to). Explorations, whose plans try
        points a consumer may rightly never reach, pass False.
    """
    with lab_for(lab) as lab:
        saved = lab.begin_run()
        try:
            return _run(lab, consumer, messages, list(faults), expect, visibility_timeout, fifo,
                        max_receive_count, set(poison), max_steps, note, send, queue_attributes or {},
                        require_fired)
        finally:
            lab.end_run(saved)


def start_process(lab: Lab, queue: Queue, name: str) -> Process:
    """Start one consumer process on ``queue``: a new client, a new database connection.

    The runner starts every process this way, and so does the demo (``sqslab.views.demo``), which steps
    processes by hand: both see the same processes.
    """
    return new_process(lab, name, queue.url, queue.dlq.url if queue.dlq else None)


def new_process(lab: Lab, name: str, queue_url: str, dlq_url: str | None = None) -> Process:
    """Start a process named ``name`` consuming ``queue_url`` (its start goes on the history)."""
    db = lab.effects.connect(name)
    clock = ProcessClock(lab.clock, owner=name, alive=lambda: not db.closed and name not in lab.faults.dead,
                         note=lambda actor, text: lab.history.append(actor, "note", text=text),
                         record=lambda action, timer: lab.history.append(name, "timer", action=action,
                                                                         timer=timer.id))
    p = Process(name, lab.client("sqs", actor=name), queue_url, db, clock, dlq_url)
    _labs[p] = lab
    lab.history.append(name, "start")
    return p


def step_process(consumer: Callable[[Process], Any], p: Process) -> bool:
    """Run one step of ``consumer`` in process ``p``; False when the process died in it.

    A death is recorded in the history as a ``crash`` (the fault point, or the uncaught error)
    and the process is dead for good: its uncommitted work is rolled back and its clients are
    dropped (:meth:`Process.die`). An error of the bench itself (:class:`LabError`) is raised.
    """
    lab = lab_of(p)
    p.sqs._sqslab_state["calls"] = 0
    p.sqs._sqslab_state["budget"] = 200
    try:
        with learner_code():
            consumer(p)
        if p.name not in lab.faults.dead:
            return True
        lab.history.append(p.name, "crash", point="caught",
                           error="the consumer caught the injected crash and carried on; "
                                 "the process was dead, so nothing it did after counts")
    except Crash as crash:
        lab.history.append(p.name, "crash", point=crash.point)
    except RunawayConsumer as runaway:
        lab.history.append(p.name, "crash", error=str(runaway))
    except LabError:
        raise
    except Exception as exc:  # an uncaught error kills a real consumer process too
        error, where = describe_error(exc)
        lab.history.append(p.name, "crash", error=error, **({"where": where} if where else {}))
    p.die()
    return False


def receivable(snapshot: dict) -> bool:
    """True when a receive could return a message of this queue now (a snapshot of :meth:`Lab.snapshot`).

    A visible message is not receivable while a message of its FIFO group is in flight: SQS
    delivers no later message of a group until the earlier one is deleted or visible again
    (Developer Guide, FIFO delivery logic). A runner that waited for "visible" alone would step a
    short-polling FIFO consumer forever without moving the clock.
    """
    messages = snapshot.get("messages", [])
    busy = {m.get("group_id") for m in messages if snapshot.get("fifo") and m["state"] == "in_flight"}
    return any(m["state"] == "visible" and not (snapshot.get("fifo") and m.get("group_id") in busy)
               for m in messages)


def _restart_later(lab: Lab, dead: str) -> None:
    """Let the time pass that the fault which killed ``dead`` asks for before a process restarts."""
    delay = max((ff.fault.restart_after for ff in lab.faults.fired if ff.actor == dead and ff.fault.fatal),
                default=0.0)
    if delay:
        lab.history.append("bench", "note", text=f"the next process starts {delay:g} s after {dead} died")
        lab.clock.advance(delay)


def _run(lab, consumer, messages, faults, expect, visibility_timeout, fifo, max_receive_count, poison,
         max_steps, note, send, queue_attributes, require_fired) -> Outcome:
    run_id = next(_run_ids)
    suffix = ".fifo" if fifo else ""
    dlq = None
    if max_receive_count is not None:
        dlq = lab.queue(f"run{run_id}-dlq{suffix}", fifo=fifo)
    queue = lab.queue(f"run{run_id}-orders{suffix}", fifo=fifo, visibility_timeout=visibility_timeout,
                      dlq=dlq, max_receive_count=max_receive_count, **queue_attributes)
    bodies = [json.dumps(m) if isinstance(m, dict) else m
              for m in (order_messages(messages) if isinstance(messages, int) else messages)]
    expected = [k for k in (lab.key_of(b) for b in bodies) if k is not None]
    for k in expected:
        lab.position_of(k)
    if send is not None:
        send(lab, queue, bodies)
    else:
        for i, body in enumerate(bodies):
            extra = {"MessageGroupId": "orders", "MessageDeduplicationId": f"m{i}"} if fifo else {}
            lab.send(queue, body, **extra)
    lab.faults.arm(*faults)
    armed = tuple(lab.faults.armed)

    names = iter(range(1, 10**6))
    live: dict[str, Process] = {}

    def spawn() -> Process:
        p = start_process(lab, queue, f"consumer-{next(names)}")
        live[p.name] = p
        return p

    def step(p: Process) -> bool:
        """One step of ``p``; False when the process died."""
        if step_process(consumer, p):
            return True
        live.pop(p.name, None)
        return False

    def competitor(key: str, actor: str) -> None:
        # The visibility timeout runs out mid-work: time jumps past it and another consumer
        # takes a step while the first one is still inside its work.
        lab.expire_visibility(key, actor)
        rival = spawn()
        for _ in range(IDLE_STEPS_PER_STEP):  # until its receive is not an empty short poll
            events = len(lab.history)
            alive = step(rival)
            if not alive or len(lab.history) > events:
                break
        if alive:
            rival.stop()
            live.pop(rival.name, None)

    lab.visibility_expired = competitor
    limit = max_steps or (12 * max(len(bodies), 1) + 20)
    current: Process | None = None
    steps = idle = 0
    drained = False
    try:
        while steps < limit and idle < IDLE_STEPS_PER_STEP * limit:
            if current is None:
                current = spawn()
            events = len(lab.history)
            alive = step(current)
            # A step that left no trace (its short polls all came back empty) costs the budget
            # nothing: SQS may answer a short poll with nothing while messages wait.
            if len(lab.history) == events:
                idle += 1
            else:
                steps += 1
            if not alive:
                _restart_later(lab, current.name)
                current = None
            snap = lab.snapshot(queue)
            states = [m["state"] for m in snap["messages"]]
            if receivable(snap):
                continue
            if states:
                nxt = snap.get("next_receivable_at")
                if nxt is not None:
                    lab.clock.advance_to(max(nxt, lab.clock.now()) + 0.001)
                continue
            drained = True
            break
    finally:
        for p in list(live.values()):
            p.stop()
        lab.visibility_expired = None
    if drained:
        lab.history.append("bench", "note", text=f"queue drained after {steps} step(s)")
    else:
        lab.history.append("bench", "note", text=f"gave up after {steps} steps: the queue never drained")

    remaining_keys = [m_key for m_key in (lab.key_of(m["body"]) for m in lab.snapshot(queue)["messages"]) if m_key]
    dead_keys = [k for k in (lab.key_of(m["body"]) for m in lab.snapshot(dlq)["messages"]) if k] if dlq else []
    effects = dict(lab.effects.counts())
    verdict = check(lab.history, expected=expected, effects=effects, remaining=remaining_keys,
                    dead_lettered=dead_keys, expect=expect, poison=poison, fired=list(lab.faults.fired),
                    note=note, interference=lab.faults.interference(armed),
                    unreached=lab.faults.unfired(armed) if require_fired else ())
    return Outcome(verdict, lab.history, effects, steps, list(lab.faults.fired), drained)

