"""The capstone's part of the bench: batches, Lambda's partial batch response, and the operator.

Lesson 6 puts lessons 1 to 5 together in one consumer that receives batches of up to ten
messages. This module supplies what the lesson's exercises run against:

* :func:`order_id` and :func:`order_handler`: the business work of one order message. The handler
  parses the order (a broken one raises :class:`~sqslab.lessons.dlq.InvalidOrder`: poison), lets the job's
  simulated time pass, calls the payment service (down for a while if asked:
  :class:`~sqslab.lessons.dlq.PaymentsUnavailable`, retryable) and charges the order inside the caller's
  open transaction, without committing: the caller decides what commits with it.
* :func:`consumer`: a consumer step for :func:`~sqslab.scenario.run_scenario` and
  :func:`~sqslab.explore.explore` built from a learner's ``consume_batch``. Each process gets a
  :class:`~sqslab.timers.ProcessClock`, so the timers it starts die with it.
* :func:`lambda_event` and :func:`lambda_consumer`: what AWS Lambda's event source mapping for SQS
  does around a function with ``ReportBatchItemFailures`` turned on (Lambda Developer Guide,
  "Handling errors for an SQS event source in Lambda"): it receives a batch, invokes the function
  with an SQS event, reads the ``batchItemFailures`` response (:func:`read_batch_response`, with
  the documented success and complete-failure conditions), deletes the messages that succeeded
  and leaves the others to come back after their visibility timeout.
* :func:`charge_once`: lesson 2's idempotent charge, given to the capstone.
* :func:`delete_batch`: DeleteMessageBatch done right (entries that fail on SQS's side are tried once
  more, never those that failed as the sender's fault).
* :func:`retried_as_is` and :func:`verdict_from`: questions about a history for the graded checks.
* :func:`redrive`: the operator's script of lesson 5 (StartMessageMoveTask from the dead-letter
  queue unless a killed run's task still runs, then ListMessageMoveTasks until the task is done),
  for :class:`~sqslab.lessons.dlq.Incident`.
* :func:`received_again`: sentences about messages that were received more than once, for
  assertion messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from typing import Any, Callable, Iterable, Iterator

from ..check import Problem, Verdict, record_failure
from ..exceptions import LabError
from ..faults import ClientHooks
from ..lab import ACCOUNT_ID, REGION
from ..scenario import lab_of
from .orders import PaymentsUnavailable, load_order, parse_order_v2
from .heartbeat import Trial, process_clock

__all__ = ["BatchTrial", "order_id", "order_handler", "charge_once", "consumer", "lambda_event", "lambda_consumer",
           "read_batch_response", "delete_batch", "redrive", "received_again", "received_once", "trial",
           "taken_while_held", "let_go_while_beating", "retried_as_is", "verdict_from"]


# -- the business work ------------------------------------------------------------------------------
def order_id(body: str) -> str:
    """The order id of a message body; raises :class:`~sqslab.lessons.dlq.InvalidOrder` when it has none.

    A body that is not a JSON object, or has no non-empty string ``order_id``, can never be charged:
    to a consumer it is poison.
    """
    return load_order(body)[1]


def order_handler(lab: Any, clock: Any, *, seconds: float = 0.0, down_for: float = 0.0,
                  parse: Callable[[str], dict] = parse_order_v2, since: float = 0.0,
                  actor: str | None = None) -> Callable[[Any, str], None]:
    """The business work of one order, as ``handler(db, body)``.

    ``handler(db, body)`` parses the order with ``parse`` (a broken order raises
    :class:`~sqslab.lessons.dlq.InvalidOrder` at once), lets ``seconds`` of simulated time pass on ``clock``
    (so heartbeats and rivals act meanwhile), calls the payment service, which is down for
    ``down_for`` seconds from ``since`` (:class:`~sqslab.lessons.dlq.PaymentsUnavailable`), and charges the
    order with ``db.apply_effect`` inside ``db``'s current transaction. It never commits: whatever
    the caller commits with the charge (an idempotency record) commits together with it.

    Parameters
    ----------
    lab:
        The lab (the outage is timed on its history: a run's history inside a scenario).
    clock:
        The clock the work's time passes on (a process's ``p.clock``).
    seconds:
        How long one job takes, in simulated seconds.
    down_for:
        The payment service is unavailable for this long, counted from ``since``.
    parse:
        The order parser (``dlq.parse_order_v1`` has lesson 5's bug, ``dlq.parse_order_v2`` the fix).
    since:
        When the outage starts, in seconds on the history's scale (0: the start of the run).
    actor:
        Who runs the work (a process's name): a failure is noted on the history under that name,
        on the message's row of the timeline.
    """

    def handler(db: Any, body: str) -> None:
        try:
            order = parse(body)
            if seconds:
                clock.advance(seconds)
            if down_for and lab.history.now() - since < down_for:
                raise PaymentsUnavailable(f"payment service unavailable (down for {down_for:g} s)")
            db.apply_effect(order["order_id"], "charge", detail=str(order["amount"]))
        except Exception as exc:
            _note_failure(lab, actor or getattr(db, "actor", "consumer"), body, exc)
            raise

    handler.__name__ = f"charge_order_{seconds:g}s"
    return handler


def charge_once(db: Any, handler: Callable[[Any, str], None], body: str) -> bool:
    """Charge the order in ``body`` unless it was charged before (lesson 2's idempotent charge); True if now.

    The order id is read first (a body without one raises
    :class:`~sqslab.lessons.orders.InvalidOrder`: poison). Then, in one transaction, the id goes into
    ``processed``, whose primary key refuses a second one, and ``handler(db, body)`` makes the
    charge in the same open transaction: both commit together, or neither does when the handler
    raises (the error goes on to the caller). Returns False, charging nothing, for a known order.
    """
    key = order_id(body)
    db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    with db:  # one transaction: the record and the charge commit together, or neither does
        if not db.execute("INSERT OR IGNORE INTO processed (key) VALUES (?)", (key,)).rowcount:
            return False
        handler(db, body)
    return True


def _note_failure(lab: Any, actor: str, body: str, exc: Exception) -> None:
    # On the message's row of the timeline (a note with ``failure``): the poison order, the
    # database that was locked, the payment service that was down.
    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    mid = next((e.message_id for e in reversed(lab.history.events)
                if e.kind == "send" and e.detail.get("body") == body), None)
    lab.history.append(actor, "note", mid, lab.key_of(body) if mid else None,
                       text=f"{actor}: the work on this order failed: {error}", failure=error)


def consumer(consume_batch: Callable[..., Any], *, seconds: float = 0.0, down_for: float = 0.0,
             parse: Callable[[str], dict] = parse_order_v2, timeout: int = 30) -> Callable[[Any], Any]:
    """A consumer step made of a learner's ``consume_batch(sqs, queue_url, db, handler, clock, *, timeout)``.

    Each process gets a :class:`~sqslab.timers.ProcessClock` (``p.clock``), so the timers its
    step starts die with the process, and a handler of its own (:func:`order_handler` with
    ``seconds``, ``down_for`` and ``parse``). What the step returned is noted on the history.
    ``timeout`` should be the queue's visibility timeout. The timers' starts and cancels are on the
    history, so :func:`~sqslab.lessons.heartbeat.heartbeat_order_problems` can tell whether a
    message was let go while a timer that renewed it still ran.
    """

    def step(p: Any) -> Any:
        clock = process_clock(p)  # if the step dies, p.die() stops its timers
        handler = order_handler(lab_of(p), clock, seconds=seconds, down_for=down_for, parse=parse, actor=p.name)
        report = consume_batch(p.sqs, p.queue_url, p.db, handler, clock, timeout=timeout)
        failures = _identifiers(report)
        if failures:
            lab_of(p).note(f"{p.name} reported batchItemFailures: {', '.join(_short(i) for i in failures)}",
                           actor=p.name)
        return report

    step.__name__ = f"{getattr(consume_batch, '__name__', 'consume_batch')}_step"
    return step


# -- AWS Lambda's side of a batch ---------------------------------------------------------------------
def _queue_arn(queue_url: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_url.rstrip('/').rsplit('/', 1)[-1]}"


def lambda_event(messages: Iterable[dict], queue_url: str) -> dict:
    """The SQS event Lambda passes to a function for ``messages`` (ReceiveMessage's answer).

    One record per message, shaped as in the Lambda Developer Guide ("Using Lambda with Amazon
    SQS"): ``messageId``, ``receiptHandle``, ``body``, ``attributes`` (``ApproximateReceiveCount``
    and the other system attributes), ``messageAttributes``, ``md5OfBody``, ``eventSource``
    (``"aws:sqs"``), ``eventSourceARN`` and ``awsRegion``.
    """
    arn = _queue_arn(queue_url)
    records = []
    for m in messages:
        body = m.get("Body", "")
        records.append({
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": body,
            "attributes": dict(m.get("Attributes", {})),
            "messageAttributes": dict(m.get("MessageAttributes", {})),
            "md5OfBody": m.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": REGION,
        })
    return {"Records": records}


def read_batch_response(response: Any, event: dict) -> tuple[set[str] | None, str]:
    """Read a function's partial batch response the way Lambda does: ``(failed ids, why)``.

    The Lambda Developer Guide ("Handling errors for an SQS event source in Lambda", success and
    failure conditions): a batch is a complete success when the function returns an empty or null
    ``batchItemFailures`` list, or an empty or null response; it is a complete failure when the
    response is not valid JSON, or an ``itemIdentifier`` is an empty string, null, under a wrong key
    name, or a value that is no message ID of the batch. Returns the set of message ids that
    failed, or None for a complete failure (every message of the batch returns to the queue), and a
    sentence saying why.
    """
    ids = [r["messageId"] for r in event.get("Records", [])]
    if response is None or response == {}:
        return set(), "the function returned nothing: the whole batch succeeded"
    try:
        json.dumps(response)
    except (TypeError, ValueError):
        return None, f"the response is not valid JSON ({type(response).__name__})"
    if not isinstance(response, dict):
        return None, f"the response is a JSON {type(response).__name__}, not an object with batchItemFailures"
    failures = response.get("batchItemFailures")
    if failures is None:
        return set(), ("the response has no batchItemFailures list: the whole batch succeeded"
                       + (f" (keys {sorted(response)})" if response else ""))
    if not isinstance(failures, list):
        return None, "batchItemFailures is not a list"
    failed: set[str] = set()
    for item in failures:
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            return None, f"{item!r} has no itemIdentifier key"
        value = item["itemIdentifier"]
        if value is None or value == "":
            return None, f"an itemIdentifier is {value!r}"
        if value not in ids:
            return None, (f"itemIdentifier {_short(str(value))!r} is no messageId of this batch "
                          "(a receipt handle, or an id from another batch?)")
        failed.add(value)
    if not failed:
        return set(), "batchItemFailures is empty: the whole batch succeeded"
    return failed, f"{len(failed)} of {len(ids)} message(s) reported as failed"


def lambda_consumer(function: Callable[[dict, Any, Callable], Any], *, batch_size: int = 10,
                    seconds: float = 0.0, down_for: float = 0.0,
                    parse: Callable[[str], dict] = parse_order_v2) -> Callable[[Any], None]:
    """A consumer step that plays Lambda's event source mapping around ``function(event, db, handler)``.

    Each step receives up to ``batch_size`` messages, builds the SQS event (:func:`lambda_event`),
    invokes ``function`` with the process's database connection and an :func:`order_handler`, and
    reads its response (:func:`read_batch_response`). The messages that succeeded are deleted; the
    ones reported as failed stay in flight and come back when their visibility timeout runs out. If
    the function raises, or its response is a complete failure, every message of the batch comes
    back that way (Lambda Developer Guide, "Handling errors for an SQS event source in Lambda").
    What Lambda decided is noted on the history. A crash inside the function is the invocation
    dying (a timeout, running out of memory): nothing is deleted.
    """

    def step(p: Any) -> None:
        clock = process_clock(p)
        answer = p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=batch_size,
                                       MessageSystemAttributeNames=["All"], WaitTimeSeconds=20)
        messages = answer.get("Messages", [])
        if not messages:
            return
        event = lambda_event(messages, p.queue_url)
        handler = order_handler(lab_of(p), clock, seconds=seconds, down_for=down_for, parse=parse, actor=p.name)
        try:
            response = function(event, p.db, handler)
        except Exception as exc:  # noqa: BLE001 - Lambda records any error of the function
            why = f"the function raised {type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
            _note_each(p, messages, f"lambda: {why}; the whole batch returns to the queue")
            return
        finally:
            clock.kill()  # an invocation's timers end with it
        failed, why = read_batch_response(response, event)
        if failed is None:
            _note_each(p, messages, f"lambda: complete failure, {why}; the whole batch returns to the queue")
            return
        done = [m for m in messages if m["MessageId"] not in failed]
        _note_each(p, [m for m in messages if m["MessageId"] in failed],
                   "lambda: reported in batchItemFailures; returns to the queue")
        delete_batch(p.sqs, p.queue_url, done)

    step.__name__ = f"lambda_{getattr(function, '__name__', 'function')}"
    return step


def delete_batch(sqs: Any, queue_url: str, messages: list[dict]) -> list[dict]:
    """Delete ``messages`` with DeleteMessageBatch, ten at a time; returns those still not deleted.

    Entries reported in ``Failed`` (the call itself succeeds: API Reference, DeleteMessageBatch)
    are tried once more, the second time in a batch of their own, unless SQS blamed the sender
    (``SenderFault``: the entry as sent would fail again).
    """
    left: list[dict] = []
    for start in range(0, len(messages), 10):
        chunk = messages[start:start + 10]
        for attempt in range(2):
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            failures = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
            wrong = {f["Id"] for f in failures if f.get("SenderFault")}
            again = {f["Id"] for f in failures if not f.get("SenderFault")}
            left.extend(m for e, m in zip(entries, chunk) if e["Id"] in wrong)
            chunk = [m for e, m in zip(entries, chunk) if e["Id"] in again]
            if not chunk:
                break
        left.extend(chunk)
    return left


# -- the operator ------------------------------------------------------------------------------------
def redrive(sqs: Any, queue_url: str, clock: Any) -> int:
    """Move every message of ``queue_url``'s dead-letter queue back to it; return how many moved.

    Lesson 5's operator script: the dead-letter queue is found in the source queue's RedrivePolicy;
    a move task still running (from a run that was killed) is waited for, otherwise one is started
    with the DLQ as ``SourceArn`` and no destination (back to where the messages came from); then
    ListMessageMoveTasks, with ``clock.sleep(1)`` between two looks, until the task is no longer
    RUNNING. Raises :class:`~sqslab.exceptions.LabError` unless it COMPLETED in time.
    """
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    dlq_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    latest = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)["Results"]
    if not latest or latest[0]["Status"] != "RUNNING":
        sqs.start_message_move_task(SourceArn=dlq_arn)
    for _ in range(100):
        task = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)["Results"][0]
        if task["Status"] != "RUNNING":
            break
        clock.sleep(1)
    if task["Status"] != "COMPLETED":
        raise LabError(f"the redrive ended {task['Status']}: {task.get('FailureReason', '')}")
    return task["ApproximateNumberOfMessagesMoved"]


# -- a fixture for tests that call an exercise directly ---------------------------------------------------
class BatchTrial(Trial):
    """A :class:`~sqslab.lessons.heartbeat.Trial` with what a batch consumer needs: a database and a handler.

    Attributes (besides the trial's ``queue``, ``url``, ``sqs``, ``clock``):

    - ``db``: a connection to the lab's effect database, closed (uncommitted work rolled back) when
      the trial ends;
    - ``handler``: an :func:`order_handler` whose outage is timed from the trial's start;
    - ``keys``: the order ids sent, in order (``name-1``, ``name-2``, ..., then those of ``bodies``).
    """

    def __init__(self, lab: Any, name: str, *, messages: int = 3, timeout: int = 30,
                 bodies: Iterable[dict | str] = (), seconds: float = 0.0, down_for: float = 0.0,
                 parse: Callable[[str], dict] = parse_order_v2, actor: str = "worker"):
        super().__init__(lab, name, timeout=timeout, messages=messages, actor=actor)
        self.keys = [f"{name}-{i + 1}" for i in range(messages)]
        for body in bodies:
            text = body if isinstance(body, str) else json.dumps(body)
            lab.send(self.queue, text)
            key = lab.key_of(text)
            if key:
                self.keys.append(key)
        self.db = lab.effects.connect(actor)
        self.handler = order_handler(lab, self.clock, seconds=seconds, down_for=down_for, parse=parse,
                                     since=self.now())
        self._calls: Counter = Counter()
        self._requests: list[tuple[str, dict]] = []
        self._hooks = ClientHooks(self.sqs)
        self._hooks.register("before-parameter-build.sqs", self._count)

    def _count(self, params: Any = None, model: Any = None, **_: Any) -> None:
        self._calls.update([model.name])
        self._requests.append((model.name, dict(params or {})))

    def asked(self, operation: str, parameter: str) -> list:
        """What the trial's client asked for ``parameter`` in each ``operation`` call, in order."""
        return [params.get(parameter) for op, params in self._requests if op == operation]

    def calls(self) -> Counter:
        """How many calls of each AWS operation the trial's client made (a beat's included)."""
        return Counter(self._calls)

    def position(self, key: str) -> int | None:
        """The position (in send order) of one of this trial's orders, for ``Fault(..., message=...)``."""
        return self.lab.position_of(key)

    def charges(self) -> dict[str, int]:
        """How many times each of this trial's orders was charged (committed effects)."""
        counts = self.lab.effects.counts()
        return {k: counts.get(k, 0) for k in self.keys}

    def message_ids(self) -> dict[str, str]:
        """Business key -> MessageId, for this trial's messages."""
        return {k: self.lab.locate(k)[1] for k in self.keys}

    def unfinished(self) -> set[str]:
        """The MessageIds of the messages the trial's client received that are still in its queue.

        What a step received and did not finish (a failed charge, a delete that did not go through),
        whatever it did with it since: kept hidden, handed back, left to its lease.
        """
        received = {e.message_id for e in self.events("receive") if e.actor == self.actor}
        return received & {m["message_id"] for m in self.lab.snapshot(self.url)["messages"]}

    def close(self) -> None:
        """End the trial: timers stop, the client goes back, the connection closes."""
        self._hooks.remove()
        super().close()
        self.db.close()


@contextlib.contextmanager
def trial(lab: Any, name: str, **kw: Any) -> Iterator[BatchTrial]:
    """A :class:`BatchTrial` for the duration of a ``with`` block (keyword arguments as for it).

    Use a ``name`` of its own for each trial: order ids are ``name-1``, ``name-2``, ...
    """
    t = BatchTrial(lab, name, **kw)
    try:
        yield t
    finally:
        t.close()


# -- questions about a history ---------------------------------------------------------------------------
def _repeats(history: Any, keys: Iterable[str] | None) -> dict[str, list]:
    """Business key -> its receive events, for keys received more than once (in first-receive order)."""
    wanted = set(keys) if keys is not None else None
    seen: dict[str, list] = {}
    for e in history:
        if e.kind == "receive" and e.key and (wanted is None or e.key in wanted):
            seen.setdefault(e.key, []).append(e)
    return {k: v for k, v in seen.items() if len(v) > 1}


def _sentence(key: str, receives: list) -> str:
    who = ", ".join(f"t={e.time:.1f}s by {e.actor}" for e in receives)
    return f"{key} was received {len(receives)} times ({who})"


def received_again(history: Any, keys: Iterable[str] | None = None) -> list[str]:
    """One sentence per business key received more than once: who received it, when.

    ``keys`` limits the question to those keys (default: every key of the history).
    """
    return [_sentence(k, v) for k, v in _repeats(history, keys).items()]


def received_once(history: Any, keys: Iterable[str] | None = None, *, why: str = "") -> Verdict:
    """A verdict on "each of these messages was received exactly once", explained like the checker's.

    A failing verdict says who received which message when, what happened to the first such message
    in order, and ``why`` (a sentence for the learner), and keeps the history so the grader can
    draw its timeline. ``history`` may be a run's history or a list of events (a trial's).
    """
    events = list(history)
    repeats = _repeats(events, keys)
    if not repeats:
        what = f"{len(set(keys))} message(s)" if keys is not None else "every message"
        return Verdict(True, "exactly_once", f"OK: {what} received exactly once.", history=history)
    sentences = [_sentence(k, v) for k, v in repeats.items()]
    first = next(iter(repeats))
    lines = ["FAILED: expected each message to be received once (nothing delivered a second time).",
             f"Seen: {sentences[0]}."]
    lines += [f"Also: {s}." for s in sentences[1:4]]
    if why:
        lines.append("Why: " + why)
    lines.append(f"What happened to {first}, in order:")
    story = [e for e in events if e.key == first and e.kind != "clock"]
    lines += ["  " + e.describe() for e in story[:30]]
    problems = [Problem("duplicate", k, s) for k, s in zip(repeats, sentences)]
    verdict = Verdict(False, "exactly_once", "\n".join(lines), problems, history=history)
    return record_failure(verdict)  # the grader draws its timeline in the feedback


def taken_while_held(history: Any, keys: Iterable[str] | None = None, *, why: str = "") -> Verdict:
    """A verdict on "no process received a message that another process still held".

    A process holds a message from its receive until it is done with it; here, a process that
    still charged, deleted or renewed the message after another process had received it was
    holding it when its lease ran out. (A message received again after its first holder let it
    go, or died, is no problem: short polls that left it to a rival, a failed charge, a crash.)
    Explained like :func:`received_once`; ``keys`` limits the question to those keys.
    """
    events = list(history)
    wanted = set(keys) if keys is not None else None
    receives: dict[str, list] = {}
    for e in events:
        if e.kind == "receive" and e.key and (wanted is None or e.key in wanted):
            receives.setdefault(e.key, []).append(e)
    sentences, first = [], None
    for key, got in receives.items():
        for earlier, later in zip(got, got[1:]):
            if earlier.actor == later.actor:
                continue
            again = next((r.seq for r in got if r.actor == earlier.actor and r.seq > earlier.seq), None)
            acted = next((e for e in events if e.key == key and e.actor == earlier.actor and e.seq > later.seq
                          and (again is None or e.seq < again) and e.kind in ("effect", "delete", "visibility")), None)
            if acted is not None:
                sentences.append(f"{key} was received by {later.actor} at t={later.time:.1f}s while {earlier.actor}, "
                                 f"which had received it at t={earlier.time:.1f}s, still held it ({acted.kind} at "
                                 f"t={acted.time:.1f}s)")
                first = first or key
                break
    if not sentences:
        return Verdict(True, "exactly_once", "OK: no message was taken from a process that still held it.",
                       history=history)
    lines = ["FAILED: expected every message to stay hidden while a process holds it.", f"Seen: {sentences[0]}."]
    lines += [f"Also: {x}." for x in sentences[1:4]]
    if why:
        lines.append("Why: " + why)
    lines.append(f"What happened to {first}, in order:")
    lines += ["  " + e.describe() for e in events if e.key == first and e.kind != "clock"][:30]
    verdict = Verdict(False, "exactly_once", "\n".join(lines), [Problem("duplicate", first, sentences[0])],
                      history=history)
    return record_failure(verdict)


def let_go_while_beating(history: Any) -> list[str]:
    """Where a process deleted or handed back a message while a timer that had renewed it still ran.

    The rule of a batch consumer's heartbeat: stop every timer that renews a message (``cancel()``
    returns once a beat in progress is over) before the call that lets the message go; a timer may
    then be started again for the messages still held. The history records each timer's start and
    stop (``cancel``, ``died``, or ``done`` for a one-shot timer that has fired) and tags the calls a
    timer makes, so the order of two actions at one simulated instant is visible. Also reported: a
    beat that renews a message its process had already deleted or handed back (a timer started
    again for the rest of the batch must leave out what was let go: a beat would hide a poison
    message again, or undo a retryable one's back-off), until the process receives it again.

    Returns one sentence per problem; empty when the order was kept.
    """
    renewed_by: dict[tuple[str, str], set[str]] = {}
    stopped: set[str] = set()
    let_go: dict[tuple[str, str], tuple[str, float]] = {}  # (actor, key) -> (what, when), until received again
    problems = []
    for e in history:
        timer = e.detail.get("timer")
        if e.kind == "timer" and e.detail.get("action") in ("cancel", "died", "done"):
            stopped.add(timer)
        elif e.kind == "receive" and e.key:
            let_go.pop((e.actor, e.key), None)
        elif e.kind == "visibility" and timer and e.key:
            renewed_by.setdefault((e.actor, e.key), set()).add(timer)
            if (e.actor, e.key) in let_go:
                what, when = let_go.pop((e.actor, e.key))  # one sentence per message let go
                problems.append(f"t={e.time:g}s: {e.actor}'s timer {timer} renewed {e.key} after {e.actor} had {what} "
                                f"(t={when:g}s)")
        elif e.kind in ("delete", "visibility") and not timer and e.key:
            live = sorted(t for t in renewed_by.get((e.actor, e.key), ()) if t not in stopped)
            what = "deleted" if e.kind == "delete" else f"handed back (visibility {e.detail.get('timeout')} s)"
            if live:
                problems.append(f"t={e.time:g}s: {e.actor} {what} {e.key} while {', '.join(live)}, which had renewed "
                                "it, still ran")
            if e.detail.get("ok", True):
                let_go[(e.actor, e.key)] = ("deleted it" if e.kind == "delete" else "handed it back", e.time)
    return problems


def retried_as_is(history: Any) -> list[str]:
    """Deletes sent again with a receipt handle that SQS had already refused as the sender's fault.

    An entry of a batch call that fails with ``SenderFault: true`` is wrong as sent: the same
    entry fails again (API Reference, DeleteMessageBatch). Returns one sentence per repeat.
    """
    refused: dict[str, float] = {}
    problems = []
    for e in history:
        if e.kind != "delete" or not e.detail.get("receipt_handle"):
            continue
        handle = e.detail["receipt_handle"]
        if handle in refused:
            problems.append(f"t={e.time:g}s: {e.actor} deleted {e.key} again with the receipt handle that SQS "
                            f"had refused as the sender's fault at t={refused[handle]:g}s ({e.detail.get('error') or 'ok'})")
        if e.detail.get("sender_fault"):
            refused.setdefault(handle, e.time)
    return problems


def verdict_from(problems: list[str], history: Any, *, what: str, why: str, ok: str) -> Verdict:
    """A verdict on sentences about a history (:func:`let_go_while_beating`, :func:`retried_as_is`), explained."""
    if not problems:
        return Verdict(True, "exactly_once", f"OK: {ok}", history=history)
    lines = [f"FAILED: {what}", f"Seen: {problems[0]}."] + [f"Also: {p}." for p in problems[1:4]]
    lines.append("Why: " + why)
    verdict = Verdict(False, "exactly_once", "\n".join(lines), [Problem("order", None, problems[0])], history=history)
    return record_failure(verdict)


def _note_each(p: Any, messages: list[dict], text: str) -> None:
    # One note per message, under its key, so that the checker's story of a message shows it.
    for m in messages:
        lab_of(p).history.append(p.name, "note", m["MessageId"], lab_of(p).key_for(m["MessageId"]), text=text)


def _identifiers(report: Any) -> list[str]:
    if not isinstance(report, dict):
        return []
    items = report.get("batchItemFailures") or []
    return [str(i.get("itemIdentifier")) for i in items if isinstance(i, dict)]


def _short(identifier: str) -> str:
    return identifier if len(identifier) <= 12 else identifier[:8] + "..."
