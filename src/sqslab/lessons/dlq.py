"""Dead-letter queues for lesson 5: the consumer's side, the operator's redrive, and their checks.

A poison message is one that can never succeed as it stands; a retryable failure is one that may
succeed later. The orders themselves (parsers, the outage, the idempotent charge) are in
:mod:`.orders`, the CloudWatch side (metrics, alarms, retention) in :mod:`.alarms`; this module
re-exports both, so a lesson needs ``from sqslab.lessons import dlq`` alone. It adds:

* :func:`consumer`, a consumer step built from a learner's ``consume_with_dlq``, and
  :func:`steady_consumer`, the bench's own plain consumer (failures left for SQS to deliver
  again); :func:`check_step` and :func:`check_retry`, one step's contract checked by calling the
  learner's function directly;
* :class:`Incident`, a consumer step for :func:`~sqslab.scenario.run_scenario` that plays the whole
  incident: the buggy consumer runs until the source queue is empty, then an operator deploys the
  fix and runs the redrive script (again, as a person would, whenever it is killed part-way), and,
  if asked, replays the dead-letter queue's export and runs the script a second time;
* :class:`OperatorClock`, the clock an operator's script gets (the time and a sleep: no controls),
  :func:`operator_client`, a client that gives up instead of polling for ever, and
  :func:`explore_redrive`, which kills the script after each call it makes and runs it again;
* for tests and demos: :func:`queue_pair` (a fresh queue with its DLQ), :func:`dead_letter_all`
  (fail every message until SQS has moved it) and :func:`receive_counts`.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from typing import Any, Callable, Iterator

from ..check import Verdict, describe_error, record_failure
from ..exceptions import Crash, LabError, RunawayConsumer
from ..faults import Fault
from ..lab import Lab, Queue, lab_for
from ..scenario import lab_of, run_scenario
from ..sleeps import SleepMeter
from .alarms import SQS_METRICS, evaluate_alarms, metric_value, retention_left
from .orders import (InvalidOrder, PaymentsUnavailable, charge_order, incident_orders, load_order, order_handler,
                     parse_order_v1, parse_order_v2, payments)

__all__ = [
    "InvalidOrder", "PaymentsUnavailable", "load_order", "parse_order_v1", "parse_order_v2", "payments",
    "incident_orders", "charge_order", "order_handler", "invalid_order", "consumer", "steady_consumer",
    "check_step", "check_retry", "Incident", "OperatorClock", "RealSleep", "operator_client", "explore_redrive",
    "redrive_plans", "describe_redrive_plan", "queue_pair", "dead_letter_all", "unique_name",
    "evaluate_alarms", "metric_value", "retention_left", "receive_counts", "SQS_METRICS",
]


# -- queues -------------------------------------------------------------------------------------------
_names = itertools.count(1)


def unique_name(prefix: str) -> str:
    """``prefix-1``, ``prefix-2``, ...: a queue name not used before in this process."""
    return f"{prefix}-{next(_names)}"


def queue_pair(lab: Lab, prefix: str = "orders", *, max_receive_count: int = 3, **attributes: Any) -> Queue:
    """A fresh source queue with a fresh dead-letter queue (``queue.dlq``); names never repeat."""
    name = unique_name(prefix)
    dead = lab.queue(f"{name}-dlq")
    return lab.queue(name, dlq=dead, max_receive_count=max_receive_count, **attributes)


def dead_letter_all(lab: Lab, queue: Queue, *, actor: str = "failing-consumer") -> int:
    """Fail every message of ``queue`` until SQS has moved them all to its DLQ; returns how many moved.

    A consumer that receives each message with a visibility timeout of 0, over and over, until the
    redrive policy moves it: a few milliseconds of simulated time pass. (Not ChangeMessageVisibility:
    moto 5.2.5 counts its 12-hour limit from the send, so it refuses any change on a message sent
    more than 12 hours ago.)
    """
    if queue.dlq is None:
        raise LabError(f"{queue.name} has no dead-letter queue.")
    before = len(lab.snapshot(queue.dlq)["messages"])
    client = lab.client("sqs", actor=actor)
    try:
        for _ in range(1000):
            if not lab.snapshot(queue)["messages"]:
                break
            # Short polls: a long poll would wait while SQS moves what it passes over to the DLQ.
            got = client.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10,
                                         VisibilityTimeout=0).get("Messages", [])
            if got:
                lab.clock.advance(0.002)  # moto: visible again only once now > visible_at
                continue
            snap = lab.snapshot(queue)
            if any(m["state"] == "visible" for m in snap["messages"]):
                continue  # a short poll that sampled nothing: ask again
            if snap["next_receivable_at"] is None:
                break
            lab.clock.advance_to(snap["next_receivable_at"] + 0.001)
    finally:
        lab.release(client)
    return len(lab.snapshot(queue.dlq)["messages"]) - before


# -- the consumer's side ----------------------------------------------------------------------------------
def invalid_order(error: BaseException) -> bool:
    """The tests' own classifier: only :class:`InvalidOrder` is poison.

    Graded tests of a consumer pass this rather than the learner's ``is_poison``, so that each
    test depends on one exercise.
    """
    return isinstance(error, InvalidOrder)


def consumer(consume_with_dlq: Callable[..., Any], is_poison: Callable[[BaseException], bool] = invalid_order, *,
             parse: Callable[[str], dict] = parse_order_v2, down_for: float = 0.0) -> Callable[[Any], Any]:
    """A consumer step made of a learner's ``consume_with_dlq(sqs, queue_url, handle, is_poison)``.

    Each step calls it once with the process's client and queue, an :func:`order_handler` and
    ``is_poison`` (default :func:`invalid_order`): what a graded test runs, so that it depends on
    the exercise and nothing else of the notebook.
    """
    def step(p: Any) -> Any:
        return consume_with_dlq(p.sqs, p.queue_url, order_handler(p, parse, down_for=down_for), is_poison)

    step.__name__ = getattr(consume_with_dlq, "__name__", "consume_with_dlq")
    return step


def _steps(consume_with_dlq: Callable[..., Any], sqs: Any, url: str, handle: Callable[[str], Any], lab: Lab,
           queue: Queue, most: int = 20) -> tuple[int, list[Any]]:
    """Call the step until nothing is visible (short polls may sample); the total it returned, and each return."""
    returned: list[Any] = []
    for _ in range(most):
        if not lab.depth(queue)["visible"]:
            break
        returned.append(consume_with_dlq(sqs, url, handle, invalid_order))
    total = sum(r for r in returned if isinstance(r, int) and not isinstance(r, bool))
    return total, returned


def _trial_verdict(lab: Lab, problems: list[str], ok_text: str, what: str) -> Verdict:
    if not problems:
        return Verdict(True, "exactly_once", f"OK: {ok_text}", history=lab.history)
    lines = [f"FAILED: {what}", *(f"Seen: {p}" for p in problems[:1]), *(f"Also: {p}" for p in problems[1:4]),
             "What happened, in order:"]
    lines += ["  " + e.describe() for e in lab.history if e.kind not in ("clock", "start")][:40]
    return record_failure(Verdict(False, "exactly_once", "\n".join(lines), history=lab.history))


def check_step(consume_with_dlq: Callable[..., Any], *, lab: Lab | None = None) -> Verdict:
    """One step's contract, the function called directly: what it returns, and what it leaves behind.

    Four orders wait in a fresh queue with a dead-letter queue (``maxReceiveCount`` 3): ``good-1``,
    ``bad`` (a negative amount: poison), ``later`` (the payment service is down for it: retryable)
    and ``good-2``. The step is called, with the test's own handler and :func:`invalid_order`, until
    nothing is visible, while the clock stands still. Expected: the calls return 2 in all; the good
    orders are handled once each and deleted; ``bad`` is in the dead-letter queue already (handed
    back at once on every receive), never deleted; ``later`` is still in flight, received once.
    """
    with lab_for(lab) as lab:
        saved = lab.begin_run()
        try:
            source = queue_pair(lab, "step", max_receive_count=3)
            for order in ({"order_id": "good-1", "amount": 10}, {"order_id": "bad", "amount": -20},
                          {"order_id": "later", "amount": 30}, {"order_id": "good-2", "amount": 40}):
                lab.send(source, order)
            handled: list[str] = []

            def handle(body: str) -> None:
                order = parse_order_v2(body)
                if order["order_id"] == "later":
                    raise PaymentsUnavailable("the payment service is down")
                handled.append(order["order_id"])

            sqs = lab.client(actor="worker")
            total, returned = _steps(consume_with_dlq, sqs, source.url, handle, lab, source)
            problems = []
            if total != 2:
                problems.append(f"the steps returned {returned}: {total} in all, but two messages were finished "
                                "(good-1 and good-2); a failed message is not finished")
            for key in ("good-1", "good-2"):
                if handled.count(key) != 1:
                    problems.append(f"{key} was handled {handled.count(key)} time(s) (once expected): one failure "
                                    "in a step must not hold up the others")
            where = {lab.key_of(m["body"]): m["state"] for m in lab.snapshot(source)["messages"]}
            dead = {lab.key_of(m["body"]) for m in lab.snapshot(source.dlq)["messages"]}
            for key in ("good-1", "good-2"):
                if (key in where or key in dead) and key in handled:
                    problems.append(f"{key} was handled but not deleted")
                elif key in where or key in dead:
                    problems.append(f"{key} was received, then neither handled nor handed back: it waits out its "
                                    "lease for nothing")
            if "bad" not in dead:
                problems.append("bad is poison, yet it is not in the dead-letter queue while no time has passed "
                                f"(it is {where.get('bad', 'gone: deleted')}): hand it back at once "
                                "(visibility 0) so that its receives come at once, and never delete it")
            if where.get("later") != "in_flight":
                state = "in the dead-letter queue" if "later" in dead else where.get("later", "gone: deleted")
                problems.append(f"later failed for a passing reason (an outage), so it must wait out its lease; it is "
                                f"{state}")
            later_receives = sum(1 for e in lab.history.of_kind("receive") if e.key == "later")
            if later_receives > 1:
                problems.append(f"later was received {later_receives} times with no time passing: a retryable failure "
                                "was handed back at once, spending its receives during an outage")
            return _trial_verdict(lab, problems, "the step returned 2, deleted the good orders, handed the poison "
                                  "back at once (it is in the DLQ) and left the retryable one in flight.",
                                  "one step with a poison order and an outage among good orders.")
        finally:
            lab.end_run(saved)


def check_retry(consume_with_dlq: Callable[..., Any], *, lab: Lab | None = None) -> Verdict:
    """A message that failed for a passing reason is handled on its next delivery, deleted, and never comes back.

    One order, a fresh queue with a dead-letter queue (``maxReceiveCount`` 3). The first steps meet an
    outage; the clock moves past the visibility timeout and the outage is over; the next steps must
    handle the order, return 1 in all and delete it; 40 more seconds later, nothing is left.
    """
    with lab_for(lab) as lab:
        saved = lab.begin_run()
        try:
            source = queue_pair(lab, "retry", max_receive_count=3)
            lab.send(source, {"order_id": "later", "amount": 30})
            handled: list[str] = []
            down = [True]

            def handle(body: str) -> None:
                if down[0]:
                    raise PaymentsUnavailable("the payment service is down")
                handled.append(parse_order_v2(body)["order_id"])

            sqs = lab.client(actor="worker")
            first, _ = _steps(consume_with_dlq, sqs, source.url, handle, lab, source)
            problems = []
            if first:
                problems.append(f"during the outage the steps returned {first}, but nothing was finished")
            lab.clock.advance(31)
            down[0] = False
            total, returned = _steps(consume_with_dlq, sqs, source.url, handle, lab, source)
            if handled != ["later"]:
                problems.append(f"after the outage, later was handled {len(handled)} time(s) (once expected)")
            if total != 1:
                problems.append(f"after the outage the steps returned {returned}: {total} in all, but later was finished")
            lab.clock.advance(40)
            left = [m["state"] for m in lab.snapshot(source)["messages"]]
            if left or lab.snapshot(source.dlq)["messages"]:
                problems.append(f"later was handled, yet it is still there ({left or 'in the dead-letter queue'}): "
                                "delete a message once its retry succeeds")
            return _trial_verdict(lab, problems, "the retry handled the order once, returned 1 and deleted it.",
                                  "a message that failed during an outage, then succeeded.")
        finally:
            lab.end_run(saved)


def steady_consumer(parse: Callable[[str], dict] = parse_order_v2, *, down_for: float = 0.0) -> Callable[[Any], None]:
    """The bench's plain consumer: long-polls, charges once, deletes; leaves every failure to SQS.

    Lesson 1's consumer with lesson 2's charge. A message whose handling fails is not deleted, so
    SQS delivers it again after its visibility timeout and the redrive policy moves it to the
    dead-letter queue in the end: slow for poison, but nothing is lost or charged twice. The
    operator's tests run it, so that they depend on the operator's script alone.
    """
    def step(p: Any) -> None:
        handle = order_handler(p, parse, down_for=down_for)
        answer = p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
        for m in answer.get("Messages", []):
            try:
                handle(m["Body"])
            except Exception:  # noqa: BLE001 - poison or not, SQS brings it back
                continue
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])

    step.__name__ = f"steady_consumer_{getattr(parse, '__name__', 'parse')}"
    return step


# -- the operator -----------------------------------------------------------------------------------
#: How many AWS calls one run of an operator's script may make before the bench stops it.
OPERATOR_CALLS = 120


def operator_client(lab: Lab, actor: str = "operator", *, max_calls: int = OPERATOR_CALLS) -> Any:
    """An SQS client for an operator's script, recorded and faultable, that refuses to loop forever.

    After ``max_calls`` AWS calls the client raises :class:`~sqslab.exceptions.RunawayConsumer`
    instead of letting a script poll for ever.
    """
    client = lab.client("sqs", actor=actor)
    client._sqslab_state["calls"] = 0
    client._sqslab_state["budget"] = max_calls
    return client


class OperatorClock:
    """The clock an operator's script is given: the time, and a way to wait. Nothing else.

    A script in production can read the time and sleep; it cannot move time. Here ``sleep`` lets
    simulated time pass (the move task moves messages meanwhile), the way ``time.sleep`` lets real
    time pass.
    """

    def __init__(self, clock: Any):
        self._clock = clock

    def now(self) -> float:
        """Unix seconds (simulated)."""
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (simulated); the rest of the world goes on meanwhile."""
        if seconds < 0:
            raise ValueError("sleep() needs seconds >= 0")
        self._clock.advance(seconds)

    def advance(self, seconds: float) -> None:  # noqa: D401 - a refusal with the fix in it
        """Refused: production code cannot move time."""
        raise LabError("An operator's script cannot move time: in production it waits. Use clock.sleep(seconds) "
                       "between two looks at the task.")

    def __repr__(self) -> str:
        return "<OperatorClock: now() and sleep(seconds)>"


class RealSleep(RunawayConsumer):
    """An operator's script called ``time.sleep``: on the lab's simulated clock nothing moves meanwhile."""


@contextlib.contextmanager
def _no_real_sleep(function: str):
    """Stop a script at its first real ``time.sleep`` (it would wait for a task that moves in simulated time)."""
    script = threading.current_thread()

    def refuse(kind: str, frame: object) -> bool:
        if threading.current_thread() is not script:
            return True  # another thread's sleep (the kernel's own): none of the script's business
        if kind == "sleep":
            raise RealSleep(f"{function}() called time.sleep: the lab's move task moves in simulated time, "
                            "so a real sleep waits for nothing. Wait with clock.sleep(seconds).")
        return False

    with SleepMeter(ignore=refuse):
        yield


def _restart_delay(lab: Lab, actor: str) -> float:
    return max((ff.fault.restart_after for ff in lab.faults.fired if ff.actor == actor and ff.fault.fatal),
               default=0.0)


class Incident:
    """A consumer step for :func:`~sqslab.run_scenario` that plays a whole incident.

    Until the fix is deployed every consumer process runs ``before`` (the consumer with the bug).
    After each step, if the source queue is empty and its dead-letter queue holds messages, the
    operator deploys the fix (from then on every process runs ``after``) and runs
    ``redrive(sqs, queue_url, clock)`` with a client of its own (actor ``operator``) and an
    :class:`OperatorClock`. If the script is killed part-way (a fault armed with
    ``actor="operator"``), the operator runs it again, from the start, with a new client
    (``operator-2``, ...), as a person would, after the fault's ``restart_after`` seconds. With
    ``replay_twice``, once the redriven messages are done the operator, unsure it worked, replays
    the dead-letter queue's export (the bodies it held before the redrive; actor ``replay``, run
    again from the start if killed part-way) and runs the redrive script a second time: an
    idempotent consumer charges nothing twice. ``state["results"]`` lists what each finished run
    of the script returned.

    The same object can run many scenarios (``explore`` does): its state starts afresh with each
    run.
    """

    def __init__(self, before: Callable[[Any], Any], after: Callable[[Any], Any],
                 redrive: Callable[[Any, str, Any], Any], *, replay_twice: bool = False, reruns: int = 3):
        self.before, self.after, self.redrive = before, after, redrive
        self.replay_twice = replay_twice
        self.reruns = reruns
        self._history: Any = None
        self.state: dict = {}

    def _state_for(self, lab: Lab) -> dict:
        if self._history is not lab.history:  # a new run
            self._history = lab.history
            self.state = {"fixed": False, "export": [], "replayed": False, "redrive_result": None,
                          "results": [], "runs": 0, "faults": lab.faults}
        return self.state

    def __call__(self, process: Any) -> Any:
        state = self._state_for(lab_of(process))
        step = self.after if state["fixed"] else self.before
        result = step(process)  # a crash ends the step here: the operator acts after a later one
        self._operate(process, state)
        return result

    def _operate(self, process: Any, state: dict) -> None:
        lab = lab_of(process)
        if not process.dlq_url or lab.snapshot(process.queue_url)["messages"]:
            return  # no DLQ, or the consumers still have work
        if not state["fixed"]:
            dead = lab.snapshot(process.dlq_url)["messages"]
            if not dead:
                return  # nothing went wrong: no incident
            state["fixed"] = True
            state["export"] = [m["body"] for m in dead]
            lab.note(f"operator: the fix is deployed; redriving {len(dead)} message(s) "
                     "from the dead-letter queue", actor="operator")
            self._run_script(lab, process.queue_url, state)
            for m in lab.snapshot(process.dlq_url)["messages"]:
                key = lab.key_of(m["body"])
                lab.history.append("operator", "note", m["message_id"], key,
                                   text="still in the dead-letter queue when redrive() returned")
        elif self.replay_twice and not state["replayed"]:
            state["replayed"] = True
            self._replay(lab, process.queue_url, state["export"])
            lab.note("operator: runs the redrive script a second time", actor="operator")
            self._run_script(lab, process.queue_url, state)

    def _run_script(self, lab: Lab, queue_url: str, state: dict) -> None:
        name = getattr(self.redrive, "__name__", "redrive")
        for _ in range(self.reruns + 1):
            state["runs"] += 1  # each run of the script is a new process: operator, operator-2, ...
            actor = "operator" if state["runs"] == 1 else f"operator-{state['runs']}"
            client = operator_client(lab, actor)
            try:
                with _no_real_sleep(name):
                    state["redrive_result"] = self.redrive(client, queue_url, OperatorClock(lab.clock))
                state["results"].append(state["redrive_result"])
                return
            except Crash as crash:
                lab.history.append(actor, "crash", point=crash.point)
                delay = _restart_delay(lab, actor)
                lab.note(f"operator: {name}() was killed ({crash.point}); the operator runs it again"
                         + (f" {delay:g} s later" if delay else " at once"), actor="operator")
                if delay:
                    lab.clock.advance(delay)
            except (Exception, RunawayConsumer) as exc:
                # The operator's script failed: that fails the run (check() reads this event), even
                # if the move task it started went on to move every message.
                error, where = describe_error(exc)
                lab.history.append(actor, "error", function=name, error=error, where=where)
                return
            finally:
                lab.release(client)
        lab.history.append("operator", "error", function=name,
                           error=f"killed {self.reruns + 1} times in a row; the operator gave up", where=None)

    def _replay(self, lab: Lab, queue_url: str, export: list[str]) -> None:
        lab.note(f"operator: replays the export of the dead-letter queue a second time "
                 f"({len(export)} message(s))", actor="operator")
        for run in range(1, self.reruns + 2):
            actor = "replay" if run == 1 else f"replay-{run}"
            client = lab.client("sqs", actor=actor)
            try:
                for body in export:
                    client.send_message(QueueUrl=queue_url, MessageBody=body)
                return
            except Crash as crash:
                lab.history.append(actor, "crash", point=crash.point)
                lab.note("operator: the replay was killed part-way; it is run again from the start",
                         actor="operator")
            finally:
                lab.release(client)


#: The AWS operations an operator's redrive script may make (the bench kills it after each).
OPERATOR_OPERATIONS = ("GetQueueAttributes", "GetQueueUrl", "ListQueues", "ListMessageMoveTasks",
                       "StartMessageMoveTask", "CancelMessageMoveTask", "ReceiveMessage", "SendMessage",
                       "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
                       "ChangeMessageVisibilityBatch", "PurgeQueue")

#: After a kill, the operator runs the script again at once (the move task it started is still
#: running, the messages it had received are still in flight), or some seconds later.
RERUN_LATER = 5.0


def redrive_plans(calls: dict[str, int]) -> Iterator[tuple[Fault, ...]]:
    """The fault plans :func:`explore_redrive` tries, given how often the script reached each call.

    ``calls[op]`` counts the script's arrivals after ``op`` (one per message a call concerns). In
    order: the script killed right after the first and after the last arrival of each operation it
    makes, run again at once; the same, run again :data:`RERUN_LATER` seconds later; the same, and
    the rerun killed at the same place again.
    """
    kills = [(op, n) for op in OPERATOR_OPERATIONS for n in sorted({1, calls.get(op, 0)}) if 1 <= n <= calls.get(op, 0)]
    for op, n in kills:
        yield (Fault(f"after:{op}", actor="operator", occurrence=n),)
    for op, n in kills:
        yield (Fault(f"after:{op}", actor="operator", occurrence=n, restart_after=RERUN_LATER),)
    for op, n in kills:
        yield (Fault(f"after:{op}", actor="operator", occurrence=n),
               Fault(f"after:{op}", actor="operator-2", occurrence=n))


def describe_redrive_plan(plan: tuple[Fault, ...]) -> str:
    """``"the script killed after its 1st StartMessageMoveTask, run again at once"``, for a verdict."""
    if not plan:
        return "nothing killed"
    parts = []
    for f in plan:
        when, _, op = f.point.partition(":")
        if f.actor and f.actor.startswith("replay"):
            parts.append(f"the replay killed {when} its {_nth(f.occurrence)} {op}, and run again")
        elif f.actor == "operator":
            again = f"{f.restart_after:g} s later" if f.restart_after else "at once"
            parts.append(f"the script killed {when} its {_nth(f.occurrence)} {op}, run again {again}")
        else:
            parts.append(f"killed again in its rerun, {when} its {_nth(f.occurrence)} {op}")
    return "; then ".join(parts)


def _nth(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def explore_redrive(redrive: Callable[[Any, str, Any], Any], *, messages: Any = None, max_receive_count: int = 2,
                    max_runs: int = 12, before: Callable[[Any], Any] | None = None,
                    after: Callable[[Any], Any] | None = None, lab: Lab | None = None) -> Verdict:
    """Kill an operator's redrive script after the calls it makes, run it again, and check the incident.

    A first run with no fault shows which calls the script makes and how often; then each plan of
    :func:`redrive_plans` plays the incident again (:class:`Incident`, with the bench's
    :func:`steady_consumer` before and after the fix unless ``before``/``after`` are given) with the
    script killed there and run again, as a person would, at once or later. Every run must end
    with each order charged exactly once, nothing lost or left in the dead-letter queue, and the
    script's last run finished without an error. ``messages`` are the orders (default: two whose
    amounts are decimal strings, poison before the fix and good after it). Bounded by ``max_runs``
    runs, never by time.

    Returns the first failing run's verdict (its explanation names the plan), or a passing one.
    """
    bodies = messages if messages is not None else incident_orders(2, string_amounts=(0, 1))
    incident = Incident(before or steady_consumer(parse_order_v1), after or steady_consumer(parse_order_v2),
                        redrive)
    # Faults that never fire make the fault plan count the script's arrivals after each call.
    counters = tuple(Fault(f"after:{op}", actor="operator", occurrence=10**6) for op in OPERATOR_OPERATIONS)
    with lab_for(lab) as shared:
        pending: Iterator[tuple[Fault, ...]] = iter([()])
        runs, calls = 0, {}
        while runs < max_runs:
            plan = next(pending, None)
            if plan is None:
                break
            runs += 1
            outcome = run_scenario(incident, messages=bodies, faults=plan or counters, lab=shared,
                                   note=f"Exploration run {runs} ({describe_redrive_plan(plan)}):",
                                   max_receive_count=max_receive_count, require_fired=False)
            if not outcome.verdict.ok:
                outcome.verdict.runs = runs
                return _operator_why(outcome.verdict)
            if runs == 1:  # which calls the script makes, and how often, decides where to kill it
                made = incident.state["faults"]
                calls = {op: made.reached(f"after:{op}", actor="operator") for op in OPERATOR_OPERATIONS}
                pending = redrive_plans(calls)
    made_calls = ", ".join(op for op, n in calls.items() if n) or "no AWS call"
    return Verdict(True, "exactly_once",
                   f"OK: {runs} runs. The script ({made_calls}) was killed after the calls it makes and run "
                   f"again, at once and {RERUN_LATER:g} s later, and killed again in its rerun: every order "
                   "charged exactly once, none lost, none left in the dead-letter queue.", runs=runs)


_OPERATOR_WHY = ("Why: the operator's script was killed part-way (a laptop that sleeps, a session that times "
                 "out) and run again from the start, as a person would. A redrive must lose nothing whatever "
                 "point it is killed at, and finish the job when it is run again, whatever the killed run left "
                 "behind.")


def _operator_why(verdict: Verdict) -> Verdict:
    """Put the operator's story in place of the checker's generic "Why" when the script was killed."""
    if not any((ff.actor or "").startswith("operator") for ff in verdict.faults) or not verdict.problems:
        return verdict
    lines = [line for line in verdict.explanation.splitlines() if not line.startswith("Why: ")]
    at = next((i for i, line in enumerate(lines) if line.startswith("What happened")), len(lines))
    lines.insert(at, _OPERATOR_WHY)
    verdict.explanation = "\n".join(lines)
    return verdict


def receive_counts(history: Any, key: str) -> list[int]:
    """The ``ApproximateReceiveCount`` of each receive of ``key``'s messages, in order."""
    return [e.detail.get("receive_count", 0) for e in history if e.kind == "receive" and e.key == key]
