"""Watching a dead-letter queue: the SQS metrics CloudWatch would see, alarms, and retention.

moto stores CloudWatch alarms but SQS publishes no metrics there and nothing evaluates them; this
module does CloudWatch's part from the lab's queues (:func:`metric_value`, :func:`evaluate_alarms`),
and works out when SQS would delete each message at the end of its retention period
(:func:`retention_left`), by the rules of the Developer Guide.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Iterable

from ..exceptions import LabError
from ..lab import REGION, Lab, Queue, current_lab

__all__ = ["SQS_METRICS", "metric_value", "evaluate_alarms", "retention_left"]


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


def _evaluate(lab: Lab, alarm: dict, idle: frozenset = frozenset()) -> tuple[str, str]:
    """``(state, reason)`` of one alarm, evaluated now; the queues named in ``idle`` publish no data."""
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
    if dims["QueueName"] in idle:
        value = None  # an idle queue: SQS published nothing for it
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


def evaluate_alarms(lab: Lab | None = None, *, reasons: bool = False, idle: Iterable[str] = ()) -> dict[str, Any]:
    """Evaluate every CloudWatch alarm now, as CloudWatch would; returns ``{alarm name: state}``.

    With ``reasons=True`` the values are ``(state, reason)``: why the alarm is in that state now
    (CloudWatch's own ``StateReason`` only changes when the state does). The queues named in
    ``idle`` published no data for the alarm's periods (an idle queue may publish none), so each
    alarm on them follows its ``TreatMissingData`` (default ``missing``: ``INSUFFICIENT_DATA``).

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
            state, reason = _evaluate(lab, alarm, frozenset(idle))
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

