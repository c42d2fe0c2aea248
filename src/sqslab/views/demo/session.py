"""The live demo's model: a queue, its dead-letter queue and consumer lanes, driven by hand.

An instructor shows a queue misbehaving in front of a class: sends orders, starts consumers,
crashes one at a chosen fault point, moves the clock, switches the consumer's code, redrives the
dead-letter queue, and watches the count of charges per order. :class:`DemoSession` is that demo
as plain Python: every button of the demo widget (``sqslab.views.widgets``) calls one of its methods,
and each method returns a sentence saying what happened. It runs without a browser, so the
scripted demos in ``demos/`` and the tests drive it directly.

Nothing here simulates SQS or a consumer a second time. The session is a lab run
(:meth:`~sqslab.lab.Lab.begin_run`): the same mock, clock, corrections of moto, effect store and
history as the exercises. A lane's consumer is a :class:`~sqslab.scenario.Process` started with
:func:`~sqslab.scenario.start_process` and stepped with :func:`~sqslab.scenario.step_process`,
the functions the grader's scenario runner uses, so a crash means the same here as in a graded
run (uncommitted work rolled back, clients dropped, a fresh process next time). Faults are the
bench's fault points (:mod:`sqslab.faults`), armed for one lane's process. The states and
counts shown come from the mock's own queues, the effect database and the checker
(:func:`sqslab.check.check`): what the class sees is what the grader checks.

Time only moves when someone moves it: a button, or a consumer's work that takes simulated
time. While one lane works through a long job, the other running lanes poll the queue every
simulated second, as other instances of the service would (the way ``sqslab.lessons.heartbeat``'s rivals
do), so a lease that runs out mid-work is taken by the next lane at once.

>>> from sqslab.views.demo import DemoSession                          # doctest: +SKIP
>>> demo = DemoSession(version="naive")                           # doctest: +SKIP
>>> demo.send(3); demo.crash(1, "effect_committed", "order-2")    # doctest: +SKIP
>>> demo.step(1); demo.advance(31); demo.start(1); demo.step(1)   # doctest: +SKIP
>>> print(demo.text())                                            # doctest: +SKIP

The module is long because it is one class with a method per button of the demo: keeping them
together keeps the widget's controls and what they do side by side.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable

from ...check import Verdict, check
from ...exceptions import LabError
from ...faults import FAULT_POINTS, Fault
from ...lab import Lab, Queue, current_lab
from ...lessons.dlq import operator_client
from ...lessons.heartbeat import process_clock
from ...moto.backend import PAST_BOUNDARY
from ...scenario import start_process, step_process
from .. import timeline
from .consumers import CONSUMERS
from .state import FAULT_MENU, VERSIONS, Lane, MessageState
from .words import arming, tell

__all__ = ["DemoSession"]

class DemoSession:
    """A queue with a dead-letter queue, consumer lanes and a producer, driven by hand.

    Parameters
    ----------
    lab : Lab, optional
        The lab to run in (default: the open lab, else a private one, closed by :meth:`close`).
    lanes : int
        How many consumer lanes (1 to 4).
    version : str
        What every lane runs at the start (a key of :data:`VERSIONS`).
    visibility_timeout : int
        The queue's visibility timeout, in seconds.
    max_receive_count : int
        Receives before SQS moves a message to the dead-letter queue (the redrive policy).
    fifo : bool
        A FIFO queue (and a FIFO dead-letter queue) instead of standard ones.
    work_seconds : float
        How long each order's work takes, in simulated seconds (0: instant).
    fixed_parser : bool
        False (the default) deploys order parser version 1, to which an amount sent as a decimal
        string (``"20.00"``) is poison; :meth:`deploy_fix` deploys version 2 (``sqslab.lessons.dlq``).
    rivals : bool
        While one lane works, the other running lanes poll every simulated second.
    name : str
        The queue's name prefix.
    """

    _sessions = 0
    #: The live session of this process: a new one ends it (one demo on the mock at a time, so
    #: re-running a notebook's first cell starts the demo afresh instead of mixing two).
    _live: "DemoSession | None" = None

    def __init__(self, lab: Lab | None = None, *, lanes: int = 2, version: str = "naive",
                 visibility_timeout: int = 30, max_receive_count: int = 3, fifo: bool = False,
                 work_seconds: float = 0.0, fixed_parser: bool = False, rivals: bool = True,
                 name: str = "orders"):
        if version not in VERSIONS:
            raise LabError(f"Unknown consumer version {version!r}; use one of {', '.join(VERSIONS)}.")
        if not 1 <= lanes <= 4:
            raise LabError("A demo has 1 to 4 consumer lanes.")
        if DemoSession._live is not None:
            DemoSession._live.close()
        self._own_lab = None
        if lab is None:
            lab = current_lab()
        if lab is None:
            self._own_lab = lab = Lab().start()
        self.lab = lab
        self._saved = lab.begin_run()
        self._history = lab.history
        DemoSession._live = self
        DemoSession._sessions += 1
        n = DemoSession._sessions
        suffix = ".fifo" if fifo else ""
        self.fifo = fifo
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self.work_seconds = float(work_seconds)
        self.fixed_parser = fixed_parser
        self.rivals = rivals
        self.dlq: Queue = lab.queue(f"demo{n}-{name}-dlq{suffix}", fifo=fifo)
        self.queue: Queue = lab.queue(f"demo{n}-{name}{suffix}", fifo=fifo,
                                      visibility_timeout=visibility_timeout, dlq=self.dlq,
                                      max_receive_count=max_receive_count)
        self.lanes = [Lane(i + 1, version) for i in range(lanes)]
        self.log: list[str] = []
        self._orders = 0
        self._attempts = 0
        self._processes = 0
        self._depth = 0
        self._listeners: list[Callable[[], None]] = []
        self._producer = lab.client("sqs", actor="producer")
        lab.visibility_expired = self._lease_ran_out
        self._closed = False

    # -- what is shared with the rest of the bench ------------------------------------------------
    @property
    def history(self):
        """The session's history (the lab's, for this run)."""
        return self._history

    @property
    def clock(self):
        """The lab's simulated clock."""
        return self.lab.clock

    def now(self) -> float:
        """Simulated seconds since the session started (the history's time)."""
        return self.history.now()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every action (a view redraws itself)."""
        self._listeners.append(listener)

    def _done(self, sentence: str) -> str:
        self.log.append(f"t={self.now():g}s  {sentence}")
        for listener in list(self._listeners):
            listener()
        return sentence

    # -- the producer ------------------------------------------------------------------------------
    def send(self, count: int = 1, *, poison: bool = False, delay: int = 0, timeout_first: bool = False,
             same_dedup_id: bool = True) -> str:
        """Send ``count`` new orders (``order-1``, ``order-2``, ...), as the producer.

        Parameters
        ----------
        count : int
            How many orders.
        poison : bool
            Send the amount as a decimal string (``"20.00"``): poison to parser version 1.
        delay : int
            DelaySeconds (standard queues only): the message stays invisible that long.
        timeout_first : bool
            The first SendMessage of each order times out after SQS accepted it (the bench's
            ``send_timeout`` fault), and the producer sends the order again.
        same_dedup_id : bool
            FIFO only: the retry carries the same MessageDeduplicationId (derived from the
            order), so SQS drops it; False gives each attempt a fresh one.
        """
        from botocore.exceptions import ReadTimeoutError

        if delay and self.fifo:
            return self._done("A FIFO queue has no per-message delay (DelaySeconds applies to the "
                              "whole queue): sent nothing.")
        sent = []
        for _ in range(count):
            self._orders += 1
            key = f"order-{self._orders}"
            amount: Any = 10 * self._orders
            body = json.dumps({"order_id": key, "amount": f"{amount}.00" if poison else amount})
            if timeout_first:
                self._arm_for("producer", "send_timeout", None)
            retried = False
            for attempt in (1, 2):
                try:
                    self._send_one(key, body, delay, same_dedup_id)
                    break
                except ReadTimeoutError:
                    retried = True
                    self.history.append("producer", "note", None, key,
                                        text=f"SendMessage for {key} timed out; the producer sends it again")
            sent.append(key + (" (retried after a timeout)" if retried else ""))
        what = "poison " if poison else ""
        delayed = f", delayed {delay} s" if delay else ""
        return self._done(f"producer sent {what}{', '.join(sent)}{delayed}")

    def _send_one(self, key: str, body: str, delay: int, same_dedup_id: bool) -> None:
        extra: dict[str, Any] = {}
        if self.fifo:
            self._attempts += 1
            extra = {"MessageGroupId": "orders",
                     "MessageDeduplicationId": key if same_dedup_id else f"{key}-attempt-{self._attempts}"}
        elif delay:
            extra["DelaySeconds"] = int(delay)
        self._producer.send_message(QueueUrl=self.queue.url, MessageBody=body, **extra)

    # -- the consumers -----------------------------------------------------------------------------
    def lane(self, lane: int | Lane) -> Lane:
        """Lane number ``lane`` (1-based)."""
        if isinstance(lane, Lane):
            return lane
        if not 1 <= int(lane) <= len(self.lanes):
            raise LabError(f"There is no lane {lane}: this demo has lanes 1 to {len(self.lanes)}.")
        return self.lanes[int(lane) - 1]

    def start(self, lane: int | Lane) -> str:
        """Start a consumer process in ``lane`` (a new client, a new database connection)."""
        ln = self.lane(lane)
        if ln.running:
            return self._done(f"{ln.name}: {ln.process.name} is already running")
        self._processes += 1
        p = start_process(self.lab, self.queue, f"consumer-{self._processes}")
        process_clock(p)  # its timers (a heartbeat) die with the process
        ln.process = p
        ln.last = "started"
        self._rearm(ln)
        return self._done(f"{ln.name}: started {p.name} ({ln.version})")

    def stop(self, lane: int | Lane) -> str:
        """Stop ``lane``'s process cleanly (it finishes nothing it had not committed)."""
        ln = self.lane(lane)
        if not ln.running:
            return self._done(f"{ln.name} is already stopped")
        p = ln.process
        self.history.append(p.name, "stop")
        self._end(ln)
        ln.last = "stopped"
        return self._done(f"{ln.name}: stopped {p.name}")

    def toggle(self, lane: int | Lane) -> str:
        """Start ``lane`` when it is stopped, stop it when it runs."""
        return self.stop(lane) if self.lane(lane).running else self.start(lane)

    def _end(self, ln: Lane) -> None:
        p = ln.process
        if p is None:
            return
        p.stop()  # its timers stop with it
        self._disarm(ln)
        ln.process = None

    def use(self, version: str, lane: int | Lane | None = None) -> str:
        """Switch ``lane`` (every lane when None) to another consumer version (a deploy).

        A running process keeps running: its next step runs the new code.
        """
        if version not in VERSIONS:
            raise LabError(f"Unknown consumer version {version!r}; use one of {', '.join(VERSIONS)}.")
        chosen = self.lanes if lane is None else [self.lane(lane)]
        for ln in chosen:
            ln.version = version
        which = "every lane" if lane is None else chosen[0].name
        return self._done(f"{which} now runs the {version} consumer — {VERSIONS[version]}")

    def crash(self, lane: int | Lane, point: str, message: str | int | None = None) -> str:
        """Arm a fault for ``lane``: its process meets ``point`` (for ``message``, if given) and dies.

        Parameters
        ----------
        lane : int
            The lane whose consumer should die.
        point : str
            A fault point (:data:`FAULT_MENU`, e.g. ``"effect_committed"``). Non-fatal points
            (``handler_error``, ``visibility_expires``, ``duplicate_delivery``) fire without a death.
        message : str or int, optional
            An order id (``"order-2"``) or a position (0-based); any message when None.
        """
        ln = self.lane(lane)
        if point not in FAULT_POINTS:
            raise LabError(f"Unknown fault point {point!r}; use one of {', '.join(FAULT_MENU)}.")
        position = self._position(message)
        self._disarm(ln)
        ln.crash = (point, position)
        self._rearm(ln)
        target = "the next message" if position is None else self._label_of(position)
        return self._done(f"{ln.name}: armed {point}: its consumer "
                          f"{arming(point, target, FAULT_POINTS[point].description)}")

    def cancel_crash(self, lane: int | Lane) -> str:
        """Disarm ``lane``'s fault, if it has not fired."""
        ln = self.lane(lane)
        had = ln.crash
        self._disarm(ln)
        ln.crash = None
        return self._done(f"{ln.name}: " + (f"disarmed {had[0]}" if had else "had no fault armed"))

    def _position(self, message: str | int | None) -> int | None:
        if message is None or message == "":
            return None
        if isinstance(message, int):
            return message
        position, _ = self.lab.locate(str(message))
        return position

    def _label_of(self, position: int) -> str:
        for key in self.history.keys():
            if self.lab.position_of(key) == position:
                return key
        return f"message {position + 1}"

    def _arm_for(self, actor: str, point: str, position: int | None) -> Fault:
        faults = self.lab.faults
        fault = Fault(point, position, occurrence=faults.reached(point, position, actor) + 1, actor=actor)
        faults.arm(fault)
        return fault

    def _rearm(self, ln: Lane) -> None:
        # A fault is armed for the process now in the lane; a fresh process after a crash (or a
        # restart) gets it again, until it has fired.
        if ln.crash is None or ln.process is None:
            return
        ln._armed = self._arm_for(ln.process.name, *ln.crash)

    def _disarm(self, ln: Lane) -> None:
        if ln._armed is not None and ln._armed in self.lab.faults.armed:
            self.lab.faults.armed.remove(ln._armed)
        ln._armed = None

    def _fired(self, ln: Lane) -> bool:
        return ln._armed is not None and any(ff.fault is ln._armed for ff in self.lab.faults.fired)

    def step(self, lane: int | Lane) -> str:
        """One step of ``lane``'s consumer: receive once, handle what came, return.

        When the step dies (an armed crash, an uncaught error), the lane is left stopped, as a
        dead process is; start it again for a fresh process.
        """
        ln = self.lane(lane)
        if not ln.running:
            return self._done(f"{ln.name} is stopped: start it first")
        mark = len(self.history)
        self._step(ln)
        return self._done(self._story_since(mark, ln))

    def step_all(self) -> str:
        """One step of every running lane, in lane order."""
        mark = len(self.history)
        running = [ln for ln in self.lanes if ln.running]
        if not running:
            return self._done("no lane is running: start one first")
        for ln in running:
            if ln.running:
                self._step(ln)
        return self._done(self._story_since(mark, None))

    def run(self, max_steps: int = 100) -> str:
        """Step the running lanes in turn, moving the clock when nothing is visible, until the
        queue is empty (or ``max_steps`` steps, or every lane died)."""
        mark = len(self.history)
        steps = 0
        while steps < max_steps:
            running = [ln for ln in self.lanes if ln.running]
            if not running:
                break
            if not self._snapshot(self.queue)["messages"]:
                break
            for ln in running:
                if ln.running and steps < max_steps:
                    self._step(ln)
                    steps += 1
            self._skip_idle()
        left = len(self._snapshot(self.queue)["messages"])
        end = "the queue is empty" if not left else f"{left} message(s) still in the queue"
        return self._done(f"ran {steps} step(s): {end}. " + self._story_since(mark, None))

    def _step(self, ln: Lane) -> bool:
        p = ln.process
        consumer = CONSUMERS[ln.version]
        poll = None
        if self.rivals and self._depth == 0 and self.work_seconds > 0:
            poll = self.clock.every(1.0, self._others_poll, name="demo-lanes")
        self._depth += 1
        ln.busy = True
        try:
            alive = step_process(lambda proc: consumer(self, proc), p)
        finally:
            ln.busy = False
            self._depth -= 1
            if poll is not None:
                poll.cancel()
        if self._fired(ln):
            ln.crash, ln._armed = None, None
        if not alive:
            self._disarm(ln)
            ln.process = None
            died = next((e for e in reversed(self.history.events) if e.actor == p.name and e.kind == "crash"), None)
            how = (died.detail.get("point") or died.detail.get("error")) if died else "unknown"
            ln.last = f"{p.name} died ({how})"
        else:
            ln.last = f"{p.name} took a step"
        return alive

    def _others_poll(self) -> None:
        # Other instances of the service keep polling while one lane works: each running lane
        # that is not busy takes a step as soon as something is visible.
        for ln in self.lanes:
            if ln.running and not ln.busy and self._visible_now():
                self._step(ln)

    def _lease_ran_out(self, key: str, actor: str) -> None:
        # The fault point visibility_expires: time jumps past the lease while the work runs, and
        # the other running lanes take their step, as the scenario runner's competitor does.
        self.lab.expire_visibility(key, actor)
        for ln in self.lanes:
            if ln.running and not ln.busy and (ln.process.name != actor):
                self._step(ln)
                break

    # -- the clock ---------------------------------------------------------------------------------
    def advance(self, seconds: float) -> str:
        """Let ``seconds`` of simulated time pass."""
        if seconds <= 0:
            return self._done("the clock only moves forward")
        mark = len(self.history)
        self.clock.advance(seconds)
        return self._done(f"clock +{seconds:g} s" + self._changes_since(mark))

    def advance_to_next(self) -> str:
        """Move the clock just past the moment the next message becomes receivable."""
        nxt = self._next_receivable()
        if nxt is None:
            return self._done("nothing is waiting for the clock: every message is visible, gone or in the DLQ")
        mark = len(self.history)
        before = self.now()
        self.clock.advance_to(max(nxt, self.clock.now()) + PAST_BOUNDARY)
        return self._done(f"clock +{self.now() - before:g} s, to the next moment a message is visible"
                          + self._changes_since(mark))

    def _next_receivable(self) -> float | None:
        snap = self._snapshot(self.queue)
        times = [m["visible_at"] for m in snap["messages"] if m["state"] == "in_flight"]
        times += [m["delayed_until"] for m in snap["messages"] if m["state"] == "delayed"]
        return min(times) if times else None

    def _skip_idle(self) -> None:
        if not self._visible_now():
            nxt = self._next_receivable()
            if nxt is not None:
                self.clock.advance_to(max(nxt, self.clock.now()) + PAST_BOUNDARY)

    def _visible_now(self) -> bool:
        return any(m["state"] == "visible" for m in self._snapshot(self.queue)["messages"])

    # -- the dead-letter queue ---------------------------------------------------------------------
    def deploy_fix(self) -> str:
        """Deploy order parser version 2: amounts sent as decimal strings are no longer poison."""
        self.fixed_parser = True
        self.lab.note("the parser fix (version 2) is deployed", actor="operator")
        return self._done("deployed parser version 2: an amount like \"20.00\" is no longer poison")

    def redrive(self, *, rate: int | None = None) -> str:
        """Move every message of the DLQ back to the queue with StartMessageMoveTask, and wait.

        The task is started through an operator's recorded client, as an operator would
        (moto lacks the call; the bench's correction supplies it, ``sqslab.moto.fixes``), and the
        clock is moved until the task has moved them all (``rate`` messages per second;
        SQS's maximum, 500, when None).
        """
        dead = self._snapshot(self.dlq)["messages"]
        if not dead:
            return self._done("the DLQ is empty: nothing to redrive")
        ops = operator_client(self.lab)
        try:
            args: dict[str, Any] = {"SourceArn": self.dlq.arn}
            if rate is not None:
                args["MaxNumberOfMessagesPerSecond"] = int(rate)
            ops.start_message_move_task(**args)
            self.lab.note(f"operator: StartMessageMoveTask on the DLQ ({len(dead)} message(s))", actor="operator")
            per_second = rate or 500
            mark = len(self.history)
            self.clock.advance(math.ceil(len(dead) / per_second * 1000) / 1000 + PAST_BOUNDARY)
            task = ops.list_message_move_tasks(SourceArn=self.dlq.arn)["Results"][0]
        finally:
            self.lab.release(ops)
        moved = task.get("ApproximateNumberOfMessagesMoved", 0)
        return self._done(f"redrive: {moved} message(s) moved from the DLQ back to the queue "
                          f"(task {task['Status']})" + self._changes_since(mark))

    # -- what the class sees -------------------------------------------------------------------------
    def _snapshot(self, queue: Queue) -> dict:
        return self.lab.snapshot(queue)

    def effects(self) -> dict[str, int]:
        """Committed charges per order, read from the effect database."""
        return dict(self.lab.effects.counts())

    def verdict(self) -> Verdict:
        """The checker's verdict on the run so far (as the grader would give it at this moment)."""
        main = [self.lab.key_of(m["body"]) for m in self._snapshot(self.queue)["messages"]]
        dead = [self.lab.key_of(m["body"]) for m in self._snapshot(self.dlq)["messages"]]
        sent = [e.key for e in self.history.of_kind("send") if e.key]
        # A live demo asks at every click: it must not crowd out the grader's failures.
        return check(self.history, expected=list(dict.fromkeys(sent)), effects=self.effects(),
                     remaining=[k for k in main if k], dead_lettered=[k for k in dead if k], record=False)

    def messages(self) -> list[MessageState]:
        """Every message so far, in the timeline's order, with its state and its charge count."""
        snap_main = self._snapshot(self.queue)
        snap_dead = self._snapshot(self.dlq)
        now = snap_main["now"]
        main = {m["message_id"]: m for m in snap_main["messages"]}
        dead = {m["message_id"]: m for m in snap_dead["messages"]}
        counts = self.effects()
        verdict = self.verdict()
        twice = {p.key for p in verdict.problems if p.kind == "duplicate"}
        lost = {p.key for p in verdict.problems if p.kind == "lost"}
        out = []
        for st in timeline.stories(self.history):
            if st.ident == timeline.NO_MESSAGE or not st.message_ids:
                continue
            mid = st.message_id
            receives = [e for e in st.events if e.kind == "receive"]
            seconds_left = holder = None
            if mid in main:
                m = main[mid]
                state = m["state"]
                if state == "in_flight":
                    seconds_left = m["visible_at"] - now
                    holder = receives[-1].actor if receives else None
                elif state == "delayed":
                    seconds_left = m["delayed_until"] - now
                count = m["receive_count"]
            elif mid in dead:
                state, count = "dlq", dead[mid]["receive_count"]
            else:
                applied = any(e.kind == "delete" and e.detail.get("applied", True) for e in st.events)
                state = "deleted" if applied else "gone"
                count = receives[-1].detail.get("receive_count", len(receives)) if receives else 0
            n = counts.get(st.key, 0) if st.key else 0
            if st.key is None:
                flag = "unkeyed"
            elif st.key in twice:
                flag = "twice"
            elif st.key in lost:
                flag = "lost"
            else:
                flag = "once" if n == 1 else "waiting"
            out.append(MessageState(st.ident, st.label, st.key, mid, state, seconds_left, holder,
                                    int(count), n, flag, st.text))
        return out

    def story(self, message: str) -> str:
        """The timeline's text version of one message (an order id or a MessageId)."""
        return timeline.text(self.history, messages=[message])

    def queue_counts(self) -> dict[str, int]:
        """How many messages are visible, in flight, delayed, and in the DLQ."""
        counts = self.lab.depth(self.queue)
        counts["dlq"] = len(self._snapshot(self.dlq)["messages"])
        return counts

    def summary(self, short: bool = False) -> str:
        """One sentence: is anything charged twice or lost so far (the checker's words)?

        ``short`` leaves out the queue's counts (a view that shows them already)."""
        verdict = self.verdict()
        bad = [p for p in verdict.problems if p.kind in ("duplicate", "lost")]
        if bad:
            said = [re.sub(r" \(expected [^)]*\)$", "", p.summary) if short else p.summary for p in bad]
            return "✗ " + "; ".join(said)
        if short:
            return "✓ so far: no order charged twice, none lost"
        c = self.queue_counts()
        waiting = c["visible"] + c["in_flight"] + c["delayed"]
        return (f"✓ so far: no order charged twice, none lost ({waiting} message(s) in the queue, "
                f"{c['dlq']} in the DLQ)")

    def lane_words(self, lane: int | Lane) -> str:
        """``lane 1: consumer-3 runs the naive consumer; armed: effect_committed on order-2``."""
        ln = self.lane(lane)
        if ln.running:
            who = f"{ln.process.name} runs the {ln.version} consumer"
        else:
            died = f"; {ln.last}" if "died" in ln.last else ""
            who = f"stopped (the {ln.version} consumer){died}"
        armed = ""
        if ln.crash is not None:
            point, position = ln.crash
            target = "any message" if position is None else self._label_of(position)
            armed = f"; armed: {point} on {target}"
        return f"{ln.name}: {who}{armed}"

    def text(self) -> str:
        """Everything the widget shows, as text: the clock, the lanes, each message, the checker."""
        c = self.queue_counts()
        lines = [f"t={self.now():g}s  queue {self.queue.name}: {c['visible']} visible, {c['in_flight']} in flight, "
                 f"{c['delayed']} delayed; DLQ: {c['dlq']}"]
        lines += [self.lane_words(ln) for ln in self.lanes]
        lines += ["  " + m.describe() for m in self.messages()] or ["  (no messages yet)"]
        lines.append(self.summary())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _story_since(self, mark: int, lane: Lane | None) -> str:
        events = [e for e in self.history.since(mark) if e.kind != "clock"]
        body = tell(events)
        if not body:
            body = "nothing to receive" if lane else "nothing happened"
        return (f"{lane.name}: " if lane else "") + body

    def _changes_since(self, mark: int) -> str:
        moved = [e for e in self.history.since(mark) if e.kind not in ("clock",)]
        return "" if not moved else "; meanwhile: " + self._story_since(mark, None)

    # -- the end -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every lane and end the run (the lab's earlier history comes back)."""
        if self._closed:
            return
        self._closed = True
        if DemoSession._live is self:
            DemoSession._live = None
        for ln in self.lanes:
            if ln.running and self.lab.running:
                self._end(ln)
        if self.lab.running:
            self.lab.release(self._producer)
            self.lab.end_run(self._saved)
        if self._own_lab is not None:
            self._own_lab.close()

    def __enter__(self) -> "DemoSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


