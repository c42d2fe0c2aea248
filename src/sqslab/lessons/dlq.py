"""Dead-letter queues for lesson 5: poison orders, an outage, the operator's redrive, a DLQ alarm.

A poison message is one that can never succeed as it stands; a retryable failure is one that may
succeed later. This module supplies what the lesson's exercises need around them:

* the order parsers :func:`parse_order_v1` (with a bug: it refuses amounts sent as decimal
  strings, so those orders are poison to it) and :func:`parse_order_v2` (the fix), both raising
  :class:`InvalidOrder` for a body that is really broken;
* :func:`payments`, a payment service that is down for the first seconds of a run
  (:class:`PaymentsUnavailable`, a retryable failure);
* :func:`incident_orders`, the message bodies of the lesson's incident;
* :class:`Incident`, a consumer step for :func:`~sqslab.scenario.run_scenario` that plays the whole
  incident: the buggy consumer runs until the source queue is empty, then an operator deploys the
  fix and redrives the dead-letter queue (and, if asked, replays it a second time);
* :func:`evaluate_alarms`, which evaluates the CloudWatch alarms created in moto against the lab's
  queues (moto stores alarms but never publishes SQS metrics nor evaluates alarms);
* :func:`retention_left`, when SQS would delete each message of a queue, by the rule of the
  Developer Guide ("Setting-up dead-letter queue retention in Amazon SQS");
* for tests and demos: :func:`queue_pair` (a fresh queue with its DLQ), :func:`dead_letter_all`
  (fail every message until SQS has moved it), :func:`operator_client` (a client that gives up
  instead of polling forever) and :func:`receive_counts`.
"""

from __future__ import annotations

import itertools
import json
import weakref
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

from ..check import describe_error
from ..exceptions import LabError, RunawayConsumer
from ..lab import REGION, Lab, Queue, current_lab
from ..scenario import lab_of

__all__ = [
    "InvalidOrder", "PaymentsUnavailable", "parse_order_v1", "parse_order_v2", "payments",
    "incident_orders", "Incident", "operator_client", "queue_pair", "dead_letter_all", "unique_name",
    "evaluate_alarms", "metric_value", "retention_left", "receive_counts", "SQS_METRICS",
]


# -- the orders -------------------------------------------------------------------------------------
class InvalidOrder(ValueError):
    """An order message that cannot be charged as it stands: retrying it will never help."""


class PaymentsUnavailable(ConnectionError):
    """The payment service did not answer: a transient failure, worth trying again later."""


def load_order(body: str) -> tuple[dict, str]:
    """``(order, order_id)`` of a message body; raises :class:`InvalidOrder` (poison) when it has neither."""
    try:
        order = json.loads(body)
    except (TypeError, ValueError):
        raise InvalidOrder(f"not JSON: {str(body)[:60]!r}") from None
    if not isinstance(order, dict):
        raise InvalidOrder(f"an order is a JSON object, got {type(order).__name__}")
    order_id = order.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise InvalidOrder(f"order_id missing or not a string: {order_id!r}")
    return order, order_id


def _checked(order_id: str, amount: Decimal) -> dict:
    if not amount.is_finite() or amount <= 0:
        raise InvalidOrder(f"{order_id}: amount must be positive, got {amount}")
    return {"order_id": order_id, "amount": amount}


def parse_order_v1(body: str) -> dict:
    """Version 1 of the order parser: ``{"order_id": str, "amount": number > 0}``.

    The bug: a partner sends amounts as decimal strings (``"20.00"``); version 1 refuses them with
    :class:`InvalidOrder`, so to a consumer running version 1 those orders are poison.

    Returns ``{"order_id": ..., "amount": Decimal}``; raises :class:`InvalidOrder`.
    """
    order, order_id = load_order(body)
    amount = order.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise InvalidOrder(f"{order_id}: amount must be a number, got {amount!r}")
    return _checked(order_id, Decimal(str(amount)))


def parse_order_v2(body: str) -> dict:
    """Version 2, the fix: amounts may also be decimal strings (``"20.00"``).

    Orders that are really broken (not JSON, no order id, no amount, an amount that is not
    positive) still raise :class:`InvalidOrder`: no version can charge them.
    """
    order, order_id = load_order(body)
    amount = order.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float, str)):
        raise InvalidOrder(f"{order_id}: amount must be a number or a decimal string, got {amount!r}")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise InvalidOrder(f"{order_id}: amount {amount!r} is not a decimal number") from None
    return _checked(order_id, value)


def payments(process: Any, down_for: float = 0) -> None:
    """Call the payment service; it is down during the first ``down_for`` seconds of the run.

    Raises :class:`PaymentsUnavailable` while it is down. Time is the run's simulated time
    (the run's history clock), so every run of a scenario sees the same outage.
    """
    if down_for and lab_of(process).history.now() < down_for:
        raise PaymentsUnavailable(f"payment service unavailable (down for the first {down_for:g} s)")


def incident_orders(n: int = 4, *, string_amounts: Iterable[int] = (1,),
                    broken: Iterable[int] = ()) -> list[dict]:
    """``n`` order bodies ``order-1`` ... ``order-n``; some with a string amount, some broken.

    Positions count from 0. A string amount (``"20.00"``) is poison to :func:`parse_order_v1` and
    fine for :func:`parse_order_v2`; a broken order (a negative amount) is poison to both.
    """
    strings, bad = set(string_amounts), set(broken)
    out = []
    for i in range(n):
        amount: Any = 10 * (i + 1)
        if i in strings:
            amount = f"{amount}.00"
        if i in bad:
            amount = -amount if isinstance(amount, int) else f"-{amount}"
        out.append({"order_id": f"order-{i + 1}", "amount": amount})
    return out


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


# -- the operator -----------------------------------------------------------------------------------
def operator_client(lab: Lab, actor: str = "operator", *, max_calls: int = 60) -> Any:
    """An SQS client for an operator's script, recorded, that refuses to loop forever.

    A script that polls without moving the simulated clock would never see time pass: after
    ``max_calls`` AWS calls the client raises instead of hanging.
    """
    client = lab.client("sqs", actor=actor)
    client._sqslab_state["calls"] = 0
    client._sqslab_state["budget"] = max_calls
    return client


class Incident:
    """A consumer step for :func:`~sqslab.run_scenario` that plays a whole incident.

    Until the fix is deployed every consumer process runs ``before`` (the consumer with the bug).
    After each step, if the source queue is empty and its dead-letter queue holds messages, the
    operator deploys the fix (from then on every process runs ``after``) and calls
    ``redrive(sqs, queue_url, clock)`` once, with a client of its own. With ``replay_twice``, once
    the redriven messages are done the operator replays the dead-letter queue a second time, from
    the export it took before the redrive (it sends the same bodies again): an idempotent
    consumer charges nothing twice.

    The same object can run many scenarios (``explore`` does): its state starts afresh with each
    run.
    """

    def __init__(self, before: Callable[[Any], Any], after: Callable[[Any], Any],
                 redrive: Callable[[Any, str, Any], Any], *, replay_twice: bool = False):
        self.before, self.after, self.redrive = before, after, redrive
        self.replay_twice = replay_twice
        self._history: Any = None
        self.state: dict = {}

    def _state_for(self, lab: Lab) -> dict:
        if self._history is not lab.history:  # a new run
            self._history = lab.history
            self.state = {"fixed": False, "export": [], "replayed": False, "redrive_result": None}
        return self.state

    def __call__(self, process: Any) -> None:
        state = self._state_for(lab_of(process))
        step = self.after if state["fixed"] else self.before
        try:
            step(process)
        finally:
            self._operate(process, state)

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
            client = operator_client(lab)
            try:
                state["redrive_result"] = self.redrive(client, process.queue_url, lab.clock)
            except (Exception, RunawayConsumer) as exc:
                # The operator's script failed: that fails the run (check() reads this event), even
                # if the move task it started went on to move every message.
                error, where = describe_error(exc)
                lab.history.append("operator", "error", function=getattr(self.redrive, "__name__", "redrive"),
                                   error=error, where=where)
            finally:
                lab.release(client)
            for m in lab.snapshot(process.dlq_url)["messages"]:
                key = lab.key_of(m["body"])
                lab.history.append("operator", "note", m["message_id"], key,
                                   text="still in the dead-letter queue when redrive() returned")
        elif self.replay_twice and not state["replayed"]:
            state["replayed"] = True
            lab.note(f"operator: replays the export of the dead-letter queue a second time "
                     f"({len(state['export'])} message(s))", actor="operator")
            for body in state["export"]:
                lab.send(process.queue_url, body, actor="operator")


def receive_counts(history: Any, key: str) -> list[int]:
    """The ``ApproximateReceiveCount`` of each receive of ``key``'s messages, in order."""
    return [e.detail.get("receive_count", 0) for e in history if e.kind == "receive" and e.key == key]


# -- CloudWatch alarms ------------------------------------------------------------------------------
#: The SQS metrics the bench can compute (namespace ``AWS/SQS``, dimension ``QueueName``).
SQS_METRICS = (
    "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed", "ApproximateAgeOfOldestMessage", "NumberOfMessagesSent",
)

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}

_cloudwatch: "weakref.WeakKeyDictionary[Lab, Any]" = weakref.WeakKeyDictionary()


def _bench_cloudwatch(lab: Lab) -> Any:
    # The bench's own calls are not part of anyone's story: an unrecorded client.
    client = _cloudwatch.get(lab)
    if client is None:
        client = _cloudwatch[lab] = lab._session.client("cloudwatch", region_name=REGION)
    return client


def _moved_at(lab: Lab) -> dict[str, float]:
    """Unix time at which each message id of this run was moved to a DLQ (from the history)."""
    start = lab.clock.now() - lab.history.now()
    return {e.message_id: start + e.time for e in lab.history if e.kind == "dlq_move" and e.message_id}


def metric_value(lab: Lab, metric: str, queue_name: str, *, period: int = 60) -> float | None:
    """What SQS would publish to CloudWatch for ``metric`` of ``queue_name`` right now.

    ``ApproximateNumberOfMessages{Visible,NotVisible,Delayed}`` count the queue's messages in
    each state; ``ApproximateAgeOfOldestMessage`` is the age of the oldest message in seconds
    (in a dead-letter queue, counted from its move there, as the Developer Guide says);
    ``NumberOfMessagesSent`` counts SendMessage calls to the queue in the last ``period`` seconds,
    and, as the Developer Guide ("Using dead-letter queues in Amazon SQS") says, a message moved
    to a dead-letter queue by a redrive policy is not counted. None means "no data" (the age of
    an empty queue).
    """
    if metric not in SQS_METRICS:
        raise LabError(f"The bench does not compute the SQS metric {metric!r}; it knows "
                       f"{', '.join(SQS_METRICS)}.")
    snap = lab.snapshot(queue_name)
    states = [m["state"] for m in snap["messages"]]
    if metric == "ApproximateNumberOfMessagesVisible":
        return float(states.count("visible"))
    if metric == "ApproximateNumberOfMessagesNotVisible":
        return float(states.count("in_flight"))
    if metric == "ApproximateNumberOfMessagesDelayed":
        return float(states.count("delayed"))
    if metric == "NumberOfMessagesSent":
        now = lab.history.now()
        return float(sum(1 for e in lab.history if e.kind == "send" and e.detail.get("queue") == queue_name
                         and now - e.time <= period))
    if not snap["messages"]:
        return None
    moved = _moved_at(lab)
    oldest = min(moved.get(m["message_id"], m["sent_timestamp"]) for m in snap["messages"])
    return max(0.0, snap["now"] - oldest)


def _evaluate(lab: Lab, alarm: dict) -> tuple[str, str]:
    """``(state, reason)`` of one alarm, evaluated now."""
    name = alarm.get("MetricName")
    if alarm.get("Metrics"):
        return "INSUFFICIENT_DATA", "metric math alarms are not evaluated by the bench"
    if alarm.get("Namespace") != "AWS/SQS":
        return "INSUFFICIENT_DATA", f"namespace {alarm.get('Namespace')!r} has no data (SQS publishes to 'AWS/SQS')"
    dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or []}
    if set(dims) != {"QueueName"}:
        return "INSUFFICIENT_DATA", (f"no SQS metric has the dimensions {sorted(dims)}: "
                                     "SQS metrics have exactly one dimension, QueueName")
    if name not in SQS_METRICS:
        return "INSUFFICIENT_DATA", f"the bench does not compute {name!r}"
    comparison = _OPERATORS.get(alarm.get("ComparisonOperator", ""))
    if comparison is None:
        return "INSUFFICIENT_DATA", f"comparison {alarm.get('ComparisonOperator')!r} is not evaluated by the bench"
    try:
        value = metric_value(lab, name, dims["QueueName"], period=int(alarm.get("Period") or 60))
    except LabError:
        return "INSUFFICIENT_DATA", f"there is no queue named {dims['QueueName']!r}"
    threshold = float(alarm.get("Threshold", 0))
    if value is None:
        missing = alarm.get("TreatMissingData") or "missing"
        state = {"breaching": "ALARM", "notBreaching": "OK", "ignore": alarm.get("StateValue", "OK")}.get(
            missing, "INSUFFICIENT_DATA")
        return state, f"{name} of {dims['QueueName']} has no data (TreatMissingData={missing})"
    breaching = comparison(value, threshold)
    verb = "crossed" if breaching else "did not cross"
    return ("ALARM" if breaching else "OK"), (
        f"{name} of {dims['QueueName']} is {value:g}: {verb} the threshold "
        f"({alarm.get('ComparisonOperator')} {threshold:g})")


def evaluate_alarms(lab: Lab | None = None, *, reasons: bool = False) -> dict[str, Any]:
    """Evaluate every CloudWatch alarm now, as CloudWatch would; returns ``{alarm name: state}``.

    With ``reasons=True`` the values are ``(state, reason)``: why the alarm is in that state now
    (CloudWatch's own ``StateReason`` only changes when the state does).

    moto stores alarms (PutMetricAlarm, DescribeAlarms) but SQS publishes no metrics there and
    nothing evaluates them. The bench computes the alarm's SQS metric from the queues
    (:func:`metric_value`), compares it with the alarm's threshold, and records the new state in
    CloudWatch (SetAlarmState), so ``DescribeAlarms`` shows it. A state change is also noted in
    the lab's history.

    Simplification: real SQS publishes metrics once a minute and an alarm looks at the last
    ``EvaluationPeriods`` periods; the bench takes the value now as the value of every period.
    """
    lab = lab or current_lab()
    if lab is None:
        raise LabError("No lab is running: start one with `lab = open_lab()`.")
    cloudwatch = _bench_cloudwatch(lab)
    states: dict[str, Any] = {}
    pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
    for page in pages:
        for alarm in page.get("MetricAlarms", []):
            state, reason = _evaluate(lab, alarm)
            states[alarm["AlarmName"]] = (state, reason) if reasons else state
            if state != alarm.get("StateValue"):
                cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue=state,
                                           StateReason=f"sqslab: {reason}"[:1023])
                lab.note(f"alarm {alarm['AlarmName']} -> {state}: {reason}", actor="cloudwatch")
    return states


# -- retention ----------------------------------------------------------------------------------------
def retention_left(lab: Lab, queue: Queue | str) -> list[dict]:
    """When SQS would delete each message of ``queue`` at the end of its retention period.

    The Developer Guide ("Setting-up dead-letter queue retention in Amazon SQS"): for a standard
    queue a message's expiry is always based on its **original** enqueue timestamp, which a move
    to a dead-letter queue does not change; for a FIFO queue the move resets it. moto 5.2.5 does
    not reset it for FIFO and does not delete expired messages on its own, so the bench computes
    the rule itself (for FIFO, from the move recorded in this run's history).

    Returns one dict per message: ``key``, ``message_id``, ``enqueued_at`` (Unix seconds) and
    ``expires_in`` (seconds from now; negative once SQS would have deleted it).
    """
    snap = lab.snapshot(queue)
    admin = lab._admin()
    url = admin.get_queue_url(QueueName=snap["queue"])["QueueUrl"]
    attrs = admin.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    retention = int(attrs["MessageRetentionPeriod"])
    moved = _moved_at(lab) if snap["fifo"] else {}
    out = []
    for m in snap["messages"]:
        enqueued = moved.get(m["message_id"], m["sent_timestamp"])
        out.append({"key": lab.key_of(m["body"]), "message_id": m["message_id"], "enqueued_at": enqueued,
                    "expires_in": round(enqueued + retention - snap["now"], 3)})
    return out

