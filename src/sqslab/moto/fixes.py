"""Corrections of moto's SQS, so the lab teaches what SQS documents and not moto's quirks.

The course runs on moto 5.2.5, an in-process mock of SQS. Where moto differs from real SQS in a
way a lesson depends on (the table "Where moto (5.2.5) differs from real SQS" in FACTS.md), this
module patches moto's classes, one small function per correction. :func:`apply` installs all of
them, once per process; :data:`CORRECTIONS` lists them with the FACTS.md row each restores.

The patches are class-level (``moto.sqs.models.SQSBackend``, ``Queue``, ``Message`` and
``moto.sqs.responses.SQSResponse``), so they hold for every mock and every client in the process.
Everything not named here keeps moto's behaviour.

Besides the corrections this module holds what else needs moto's internals:

* :func:`use_clock`: long polls (``WaitTimeSeconds > 0``) wait in simulated time on this clock;
* :func:`add_listener` / :func:`remove_listener`: hear what SQS does on its own (a message moved
  to a dead-letter queue, moved by a redrive task, dropped as a FIFO duplicate);
* :func:`queue_snapshot`: what is in a queue, message by message, for the scenario runner and views;
* :func:`inject_duplicate`: the duplicate delivery real standard queues make and moto never does.

Message-move tasks (redrive) progress in simulated time: a task moves
``MaxNumberOfMessagesPerSecond`` messages per simulated second (500 when not given, the API's
maximum, standing in for "the system will optimize the rate"), oldest first, counted from its
start. Progress is worked out lazily, at the start of every SQS call (ListMessageMoveTasks
included), so ``clock.advance(n)`` followed by any call sees the messages moved by then.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from ..exceptions import EnvironmentProblem, LabError

#: The moto version these corrections were written and tested against.
MOTO_VERSION = "5.2.5"

#: Messages per second a move task moves when the caller gives no rate.
DEFAULT_MOVE_RATE = 500

#: FIFO deduplication interval, fixed by SQS.
DEDUPLICATION_SECONDS = 300

#: moto counts a message visible only when ``now > visible_at``; moving the clock this far past
#: the boundary makes it receivable.
PAST_BOUNDARY = 0.001

#: Real seconds a long poll with no registered clock waits for simulated time to move before it
#: concludes the clock is stopped and raises instead of hanging.
STOPPED_CLOCK_PATIENCE = 1.0


class Correction(NamedTuple):
    """One correction of moto: its name, the FACTS.md row it restores, the function applying it."""

    name: str
    restores: str
    apply: Callable[[], None]


# -- process-wide state ---------------------------------------------------------------------------
#: One lock around the whole SQS backend: moto is not thread-safe (FACTS.md, "thread safety").
LOCK = threading.RLock()

_listeners: list[Callable[[dict], None]] = []
_clock = None  # the sqslab.clock.Clock long polls wait on, or None
_applied: set[str] = set()
_apply_lock = threading.Lock()
# What the current thread is doing inside moto, so a patched Queue.add_message can tell a fresh
# send from a dead-letter move.
_context = threading.local()


def check_moto_version() -> None:
    """Fail with a clear fix unless the installed moto is the version the corrections fit.

    Raises
    ------
    EnvironmentProblem
        When moto is missing or is not version :data:`MOTO_VERSION`.
    """
    try:
        import moto
    except ImportError:  # pragma: no cover - the environment check reports this first
        raise EnvironmentProblem(
            f"moto is not installed. Run `pip install 'moto[sqs,dynamodb]=={MOTO_VERSION}'` "
            "in the course's environment (.venv), or `make setup` on a fresh checkout.") from None
    if moto.__version__ != MOTO_VERSION:
        raise EnvironmentProblem(
            f"moto {moto.__version__} is installed, but the lab corrects moto {MOTO_VERSION}'s "
            f"internals and has only been tested on that version. Run "
            f"`pip install 'moto[sqs,dynamodb]=={MOTO_VERSION}'` in the course's environment (.venv).")


def _models():
    from moto.sqs import models

    return models


def _now() -> float:
    """Simulated Unix time, read the way moto reads it."""
    from moto.core.utils import unix_time

    return unix_time()


def _emit(event: dict) -> None:
    event.setdefault("at", _now())
    for listener in list(_listeners):
        listener(event)


def _once(name: str) -> bool:
    """True the first time ``name`` is seen: each correction patches moto only once."""
    if name in _applied:
        return False
    _applied.add(name)
    return True


# -- a. thread safety -----------------------------------------------------------------------------
def _locked(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return fn(*args, **kwargs)

    locked._sqslab_locked = True  # type: ignore[attr-defined]
    return locked


def serialize_backend_calls() -> None:
    """Restores "thread safety: each receive is atomic".

    moto's SQS backend is not thread-safe: consumers on several threads were handed the same
    message. Every public ``SQSBackend`` method runs under one process-wide re-entrant lock
    (:data:`LOCK`). Long-poll waiting happens outside it (see :func:`long_poll_on_the_clock`).
    """
    if not _once("serialize_backend_calls"):
        return
    backend = _models().SQSBackend
    for name, value in list(vars(backend).items()):
        if name.startswith("_") or not callable(value) or isinstance(value, (staticmethod, classmethod, type)):
            continue
        if getattr(value, "_sqslab_locked", False) or getattr(value, "_sqslab_outside_lock", False):
            continue
        setattr(backend, name, _locked(value))


# -- b. stale receipt handles ---------------------------------------------------------------------
def ignore_stale_receipt_handles() -> None:
    """Restores "stale receipt handle on delete: the call can succeed without deleting".

    AWS (DeleteMessage): the most recently received receipt handle must be used, "otherwise, the
    request succeeds, but the message will not be deleted". moto deletes with any handle the
    message ever had. DeleteMessageBatch goes through the same path, so its entries behave alike.
    Deleted messages are also kept aside, so :func:`inject_duplicate` can redeliver one.
    """
    if not _once("ignore_stale_receipt_handles"):
        return
    queue_cls = _models().Queue
    original = queue_cls.delete_message

    @functools.wraps(original)
    def delete_message(self, receipt_handle: str) -> None:
        if receipt_handle not in self.deleted_messages:
            holder = next((m for m in self._messages if m.had_receipt_handle(receipt_handle)), None)
            if holder is not None and holder.receipt_handle != receipt_handle:
                # Received again since this handle was issued: SQS answers success, keeps it.
                _emit({"kind": "stale_delete", "queue": self.name, "message_id": holder.id,
                       "receipt_handle": receipt_handle})
                return
            if holder is not None:
                _deleted_archive(self)[holder.id] = holder
        original(self, receipt_handle)

    queue_cls.delete_message = delete_message


def _deleted_archive(queue) -> dict:
    return vars(queue).setdefault("_sqslab_deleted", {})


# -- c. FIFO deduplication window -------------------------------------------------------------------
@dataclass
class _FirstSend:
    at: float
    message_id: str
    sequence_number: str | None


def keep_fifo_dedup_after_delete() -> None:
    """Restores "FIFO dedup after delete: still deduplicated for 5 minutes".

    AWS (FIFO key terms; SendMessage): a send whose MessageDeduplicationId (explicit, or the
    SHA-256 of the body under ContentBasedDeduplication) was seen in the last 5 minutes is
    accepted but not delivered, even when the first message was already received and deleted.
    moto only compares with messages still in the queue. Each FIFO queue now remembers the first
    send of every id for 5 minutes from that send; a duplicate answers with the first send's
    MessageId and SequenceNumber (what real SQS returns) and is reported to listeners as
    ``{"kind": "deduplicated", "queue", "dedup_id", "message_id"}``.

    Also restores "dedup scope: per message group with DeduplicationScope=messageGroup" (Developer
    Guide, high throughput for FIFO queues): moto stored the setting and deduplicated per queue
    anyway; on such a queue the window is kept per message group.
    """
    if not _once("keep_fifo_dedup_after_delete"):
        return
    models = _models()
    send_original = models.SQSBackend.send_message
    add_original = models.Queue.add_message

    @functools.wraps(send_original)
    def send_message(self, *args: Any, **kwargs: Any):
        outer = getattr(_context, "sending", False)
        _context.sending = True
        try:
            return send_original(self, *args, **kwargs)
        finally:
            _context.sending = outer

    @functools.wraps(add_original)
    def add_message(self, message) -> None:
        fresh_send = getattr(_context, "sending", False) and not getattr(_context, "receiving", None)
        if fresh_send and self.fifo_queue and message.deduplication_id is not None:
            now = _now()
            seen = _dedup_window(self, now)
            per_group = getattr(self, "deduplication_scope", "queue") == "messageGroup"
            key = (message.group_id, message.deduplication_id) if per_group else message.deduplication_id
            first = seen.get(key)
            if first is not None:
                message.id = first.message_id
                message.sequence_number = first.sequence_number
                _emit({"kind": "deduplicated", "queue": self.name,
                       "dedup_id": message.deduplication_id, "message_id": first.message_id})
                return
            seen[key] = _FirstSend(now, message.id, message.sequence_number)
            if per_group:
                # moto's own check compares ids across the whole queue; the window above has
                # already decided per group, so hide the id from it for this one call.
                dedup_id, message.deduplication_id = message.deduplication_id, None
                try:
                    add_original(self, message)
                finally:
                    message.deduplication_id = dedup_id
                return
        add_original(self, message)

    models.SQSBackend.send_message = send_message
    models.Queue.add_message = add_message


def _dedup_window(queue, now: float) -> dict:
    """The queue's deduplication ids first sent in the last 5 minutes (older ones forgotten).

    Keyed by the id, or by ``(MessageGroupId, id)`` on a queue with DeduplicationScope=messageGroup.
    """
    seen = vars(queue).setdefault("_sqslab_dedup", {})
    for dedup_id in [d for d, first in seen.items() if now - first.at >= DEDUPLICATION_SECONDS]:
        del seen[dedup_id]
    return seen


# -- c2. queue attribute ranges ----------------------------------------------------------------------
#: The ranges AWS documents for the queue attributes the course teaches (SetQueueAttributes).
ATTRIBUTE_RANGES = {"VisibilityTimeout": (0, 43_200), "MessageRetentionPeriod": (60, 1_209_600)}


def refuse_attributes_out_of_range() -> None:
    """Restores "visibility timeout: maximum 12 hours" and "retention: 60 s to 14 days" for queues.

    AWS (SetQueueAttributes, CreateQueue): VisibilityTimeout is 0 to 43,200 seconds and
    MessageRetentionPeriod 60 to 1,209,600 seconds; a value outside is refused with
    InvalidAttributeValue. moto accepted any integer (it checks the per-message maximum only).
    CreateQueue and SetQueueAttributes both go through ``Queue._set_attributes``, checked first.
    """
    if not _once("refuse_attributes_out_of_range"):
        return
    queue_cls = _models().Queue
    original = queue_cls._set_attributes

    @functools.wraps(original)
    def _set_attributes(self, attributes: dict[str, Any], now: float | None = None) -> None:
        from moto.sqs.exceptions import InvalidAttributeValue

        for name, (low, high) in ATTRIBUTE_RANGES.items():
            value = attributes.get(name)
            if value is None:
                continue
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise InvalidAttributeValue(name) from None
            if not low <= number <= high:
                raise InvalidAttributeValue(name)
        return original(self, attributes, now)

    queue_cls._set_attributes = _set_attributes


# -- d. ChangeMessageVisibility on a message not in flight ----------------------------------------
def _message_not_inflight():
    from moto.sqs.exceptions import SQSException

    return SQSException("MessageNotInflight", "The specified message isn't in flight.")


def _superseded_handle():
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    error = ReceiptHandleIsInvalid()
    error.message = ("The receipt handle is not the message's most recent one: the message was "
                     "received again since it was issued.")
    return error


def refuse_visibility_change_when_not_in_flight() -> None:
    """Restores "ChangeMessageVisibility on a message not in flight: MessageNotInflight".

    AWS (ChangeMessageVisibility, Errors): MessageNotInflight, HTTP 400, "The specified message
    isn't in flight"; a message is in flight after it is received and before it is deleted or
    its visibility timeout expires. moto accepted the call and hid the message again. A handle of
    a deleted message, or one never issued, keeps moto's ReceiptHandleIsInvalid (the handle is not
    valid). A handle superseded by a later receive also gets ReceiptHandleIsInvalid: AWS requires
    the most recent handle and documents no silent success for this call (a bench choice; moto
    let the old handle move the new receiver's timeout). ChangeMessageVisibilityBatch reports
    these as per-entry failures.
    """
    if not _once("refuse_visibility_change_when_not_in_flight"):
        return
    models = _models()
    original = models.SQSBackend.change_message_visibility

    @functools.wraps(original)
    def change_message_visibility(self, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        queue = self.get_queue(queue_name)
        holder = next((m for m in queue._messages if m.had_receipt_handle(receipt_handle)), None)
        if holder is not None:
            if holder.receipt_handle != receipt_handle:
                raise _superseded_handle()
            if holder.visible:
                raise _message_not_inflight()
        return original(self, queue_name, receipt_handle, visibility_timeout)

    batch_original = models.SQSBackend.change_message_visibility_batch

    @functools.wraps(batch_original)
    def change_message_visibility_batch(self, queue_name: str, entries: list[dict[str, Any]]):
        # moto's loop only catches ReceiptHandleIsInvalid, so a MessageNotInflight would fail the
        # whole call; check every entry first and report those as per-entry failures instead.
        queue = self.get_queue(queue_name)
        failed, rest = [], []
        for entry in entries:
            handle = entry["ReceiptHandle"]
            holder = next((m for m in queue._messages if m.had_receipt_handle(handle)), None)
            if holder is not None and holder.receipt_handle == handle and holder.visible:
                error = _message_not_inflight()
                failed.append({"Id": entry["Id"], "SenderFault": True, "Code": error.code,
                               "Message": error.message})
            else:
                rest.append(entry)
        success, more_failed = batch_original(self, queue_name, rest) if rest else ([], [])
        return success, failed + more_failed

    models.SQSBackend.change_message_visibility = change_message_visibility
    models.SQSBackend.change_message_visibility_batch = change_message_visibility_batch


def make_zero_visibility_immediate() -> None:
    """Restores "visibility timeout: setting 0 makes the message visible again at once".

    moto sets ``visible_at = now`` and counts a message visible only when ``now > visible_at``,
    so under the lab's stopped clock a ChangeMessageVisibility to 0 left the message invisible
    until the clock next moved. A timeout of 0 now makes it visible at the current instant.
    """
    if not _once("make_zero_visibility_immediate"):
        return
    message_cls = _models().Message
    original = message_cls.change_visibility

    @functools.wraps(original)
    def change_visibility(self, visibility_timeout: int) -> None:
        if int(visibility_timeout) == 0:
            from moto.core.utils import unix_time_millis

            self.visible_at = unix_time_millis() - 1
            return
        original(self, visibility_timeout)

    message_cls.change_visibility = change_visibility


# -- d2. FIFO group order after a visibility timeout ---------------------------------------------------
def keep_fifo_group_order_after_timeout() -> None:
    """Restores "ordering: in order within a MessageGroupId" after a visibility timeout.

    AWS (FIFO queues): messages of one group are delivered in order, and while a message of a
    group is in flight no later message of that group is delivered. moto counts a group as busy
    while any of its messages is in its pending set, and takes a message out of that set only
    when its receive loop reaches it. When several messages of one group were received together
    and their visibility timeout ran out, the loop skipped the first ones (the later ones still
    looked pending) and delivered the group's *last* message first. Before a FIFO receive,
    messages whose visibility timeout has run out now leave the pending set, so the group's
    oldest message comes first again.
    """
    if not _once("keep_fifo_group_order_after_timeout"):
        return
    backend_cls = _models().SQSBackend
    original = backend_cls.receive_message

    @functools.wraps(original)
    def receive_message(self, queue_name: str, *args: Any, **kwargs: Any):
        queue = self.get_queue(queue_name)
        if queue.fifo_queue:
            for message in [m for m in queue.pending_messages if m.visible]:
                queue.pending_messages.discard(message)
        return original(self, queue_name, *args, **kwargs)

    backend_cls.receive_message = receive_message


def count_twelve_hours_from_the_receive() -> None:
    """Restores "visibility timeout: maximum 12 hours, counted from the receive".

    AWS (ChangeMessageVisibility): a message's visibility timeout can be extended to at most
    12 hours, and a request for more than the time left is rejected; the 12 hours start when the
    message is received, so each receive starts its own. moto counted them from the *send*: a
    message received 12 hours after it was sent could not be extended at all, and a heartbeat on a
    message that waited in the queue was rejected early. moto's own answer for a request beyond the
    limit (InvalidParameterValue, "beyond the limit [43200 seconds]") is kept.
    """
    if not _once("count_twelve_hours_from_the_receive"):
        return
    models = _models()
    message_cls = models.Message
    mark_original = message_cls.mark_received

    @functools.wraps(mark_original)
    def mark_received(self, visibility_timeout: int | None = None) -> None:
        from moto.core.utils import unix_time_millis

        mark_original(self, visibility_timeout)
        self._sqslab_received_at = unix_time_millis()

    original = models.SQSBackend.change_message_visibility

    @functools.wraps(original)
    def change_message_visibility(self, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        queue = self.get_queue(queue_name)
        holder = next((m for m in queue._messages if m.had_receipt_handle(receipt_handle)), None)
        received = vars(holder).get("_sqslab_received_at") if holder is not None else None
        if received is None:
            return original(self, queue_name, receipt_handle, visibility_timeout)
        # moto checks "now + timeout - sent_timestamp <= 12 hours": let it measure from the receive.
        sent = holder.sent_timestamp
        holder.sent_timestamp = received
        try:
            return original(self, queue_name, receipt_handle, visibility_timeout)
        finally:
            holder.sent_timestamp = sent

    message_cls.mark_received = mark_received
    models.SQSBackend.change_message_visibility = change_message_visibility


# -- e. message move tasks (redrive) ----------------------------------------------------------------
@dataclass
class _MoveTask:
    handle: str
    source: Any  # moto Queue
    destination_arn: str | None
    rate: int | None
    started_ms: int
    to_move: int
    moved: int = 0
    status: str = "RUNNING"
    failure_reason: str | None = None

    def entry(self) -> dict:
        """This task as a ListMessageMoveTasksResultEntry."""
        result = {
            "Status": self.status,
            "SourceArn": self.source.queue_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.status == "RUNNING":
            result["TaskHandle"] = self.handle
        if self.destination_arn is not None:
            result["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            result["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure_reason is not None:
            result["FailureReason"] = self.failure_reason
        return result


def _error(code: str, message: str):
    from moto.sqs.exceptions import SQSException

    return SQSException(code, message)


def _queue_by_arn(backend, arn: str | None):
    return next((q for q in backend.queues.values() if q.queue_arn == arn), None)


def _tasks(backend) -> list[_MoveTask]:
    return vars(backend).setdefault("_sqslab_tasks", [])


def _start_message_move_task(self, source_arn: str, destination_arn: str | None = None,
                             max_per_second: int | None = None) -> str:
    source = _queue_by_arn(self, source_arn)
    if source is None:
        raise _error("ResourceNotFoundException",
                     "The resource that you specified for the SourceArn parameter doesn't exist.")
    if not any(q.dead_letter_queue is source for q in self.queues.values()):
        raise _error("InvalidParameterValue",
                     "Source queue must be configured as a Dead Letter Queue.")
    if destination_arn is not None:
        destination = _queue_by_arn(self, destination_arn)
        if destination is None:
            raise _error("ResourceNotFoundException",
                         "The resource that you specified for the DestinationArn parameter doesn't exist.")
        if destination.fifo_queue != source.fifo_queue:
            raise _error("InvalidParameterValue",
                         "The source queue and the destination queue must be of the same type "
                         "(both standard or both FIFO).")
    if max_per_second is not None and not 1 <= int(max_per_second) <= 500:
        raise _error("InvalidParameterValue",
                     f"Value {max_per_second} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                     "Reason: must be between 1 and 500.")
    if any(t.source is source and t.status == "RUNNING" for t in _tasks(self)):
        raise _error("UnsupportedOperation",
                     "There is already a task running. Only one active task is allowed for a "
                     "source queue arn at a given time.")
    from moto.core.utils import unix_time_millis
    from moto.moto_api._internal import mock_random

    handle = base64.b64encode(json.dumps(
        {"taskId": str(mock_random.uuid4()), "sourceArn": source.queue_arn}).encode()).decode()
    task = _MoveTask(handle, source, destination_arn,
                     None if max_per_second is None else int(max_per_second),
                     int(unix_time_millis()), len(source._messages))
    _tasks(self).append(task)
    _progress(self, task)
    return handle


def _list_message_move_tasks(self, source_arn: str, max_results: int | None = None) -> list[dict]:
    source = _queue_by_arn(self, source_arn)
    if source is None:
        raise _error("ResourceNotFoundException",
                     "The resource that you specified for the SourceArn parameter doesn't exist.")
    limit = 1 if max_results is None else int(max_results)
    if not 1 <= limit <= 10:
        raise _error("InvalidParameterValue",
                     f"Value {max_results} for parameter MaxResults is invalid. Reason: must be between 1 and 10.")
    newest_first = [t for t in reversed(_tasks(self)) if t.source is source]
    return [t.entry() for t in newest_first[:limit]]


def _cancel_message_move_task(self, task_handle: str) -> int:
    task = next((t for t in _tasks(self) if t.handle == task_handle), None)
    if task is None:
        raise _error("ResourceNotFoundException", "Task does not exist.")
    if task.status != "RUNNING":
        raise _error("UnsupportedOperation",
                     f"Only a task in RUNNING status can be cancelled; this one is {task.status}.")
    # Moved messages stay moved (CancelMessageMoveTask); the rest stay in the source queue.
    task.status = "CANCELLED"
    return task.moved


def _progress_all(backend) -> None:
    tasks = vars(backend).get("_sqslab_tasks")
    if not tasks or getattr(_context, "progressing", False):
        return
    _context.progressing = True
    try:
        for task in tasks:
            _progress(backend, task)
    finally:
        _context.progressing = False


def _progress(backend, task: _MoveTask) -> None:
    """Move what ``task`` should have moved by now: ``rate`` messages per simulated second."""
    if task.status != "RUNNING":
        return
    from moto.core.utils import unix_time_millis

    if backend.queues.get(task.source.name) is not task.source:
        task.status, task.failure_reason = "FAILED", "The source queue was deleted."
        return
    rate = task.rate or DEFAULT_MOVE_RATE
    due = min(task.to_move, (int(unix_time_millis()) - task.started_ms) * rate // 1000)
    while task.moved < due:
        message = next((m for m in task.source._messages if m.visible and not m.delayed), None)
        if message is None:
            break
        destination = _destination(backend, task, message)
        if destination is None:
            return
        _move(task.source, destination, message)
        task.moved += 1
    if task.moved >= task.to_move or not task.source._messages:
        task.status = "COMPLETED"


def _next_move_at(task: _MoveTask) -> float:
    """Unix time at which ``task`` is due to move its next message (a long poll may wake then)."""
    rate = task.rate or DEFAULT_MOVE_RATE
    due_ms = task.started_ms + -(-(task.moved + 1) * 1000 // rate)
    return due_ms / 1000 + PAST_BOUNDARY


def _destination(backend, task: _MoveTask, message):
    """The queue ``message`` goes to, or None after marking the task FAILED."""
    if task.destination_arn is not None:
        queue = _queue_by_arn(backend, task.destination_arn)
        reason = "The destination queue does not exist."
    else:
        arn = getattr(message, "_sqslab_source_arn", None)
        if arn is None:
            # Not moved here by a redrive policy (sent directly): only a DLQ with one source
            # queue has an obvious "original source".
            sources = [q for q in backend.queues.values() if q.dead_letter_queue is task.source]
            queue = sources[0] if len(sources) == 1 else None
        else:
            queue = _queue_by_arn(backend, arn)
        reason = f"The original source queue of message {message.id} does not exist or is unknown."
    if queue is None:
        task.status, task.failure_reason = "FAILED", reason
    return queue


def _move(source, destination, message) -> None:
    """Take ``message`` out of ``source`` and put a new message with its content in ``destination``.

    AWS (Developer Guide, "Configure a dead-letter queue redrive"): redriven messages are new
    messages, with a new message ID and enqueue time, so the receive count starts again.
    """
    from moto.moto_api._internal import mock_random

    moved = _models().Message(str(mock_random.uuid4()), message.body, deepcopy(message.system_attributes))
    moved.message_attributes = deepcopy(message.message_attributes)
    moved.group_id = message.group_id
    moved.deduplication_id = message.deduplication_id
    moved.sequence_number = message.sequence_number
    moved.mark_sent()
    source._messages.remove(message)
    source.pending_messages.discard(message)
    # Appended directly: a moved message is not a fresh send, so no deduplication applies.
    with destination._messages_lock:
        destination._messages.append(moved)
        destination._messages_lock.notify_all()
    _emit({"kind": "move_task", "message_id": moved.id, "original_message_id": message.id,
           "from": source.name, "to": destination.name, "body": message.body})


def _progress_first(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def with_progress(self, *args: Any, **kwargs: Any) -> Any:
        _progress_all(self)
        return fn(self, *args, **kwargs)

    with_progress._sqslab_progress = True  # type: ignore[attr-defined]
    return with_progress


def support_message_move_tasks() -> None:
    """Restores "StartMessageMoveTask / List / Cancel: implemented".

    moto raises a plain NotImplementedError for all three. They now work through ordinary boto3
    calls, following the API Reference: SourceArn must be a dead-letter queue of some queue;
    DestinationArn defaults to each message's original source queue (recorded when moto moves a
    message to its DLQ); MaxNumberOfMessagesPerSecond is 1..500; one RUNNING task per source
    queue. Moved messages are new messages (new MessageId, receive count 0). Progress is
    evaluated lazily from simulated time at the start of every SQS call (module docstring).
    Listeners hear ``{"kind": "dlq_move", ...}`` for each move to a DLQ and
    ``{"kind": "move_task", ...}`` for each message a task moves.
    """
    if not _once("support_message_move_tasks"):
        return
    models = _models()
    from moto.core.responses import ActionResult
    from moto.sqs.responses import SQSResponse

    backend_cls, queue_cls = models.SQSBackend, models.Queue
    backend_cls.start_message_move_task = _start_message_move_task
    backend_cls.list_message_move_tasks = _list_message_move_tasks
    backend_cls.cancel_message_move_task = _cancel_message_move_task

    receive_original = backend_cls.receive_message

    @functools.wraps(receive_original)
    def receive_message(self, queue_name: str, *args: Any, **kwargs: Any):
        outer = getattr(_context, "receiving", None)
        _context.receiving = self.get_queue(queue_name)
        try:
            return receive_original(self, queue_name, *args, **kwargs)
        finally:
            _context.receiving = outer

    backend_cls.receive_message = receive_message

    add_original = queue_cls.add_message

    @functools.wraps(add_original)
    def add_message(self, message) -> None:
        source = getattr(_context, "receiving", None)
        if source is not None and source.dead_letter_queue is self:
            # The only add_message inside receive_message is moto's move to the DLQ.
            message._sqslab_source_arn = source.queue_arn
            if self.fifo_queue:
                # AWS (DLQ redrive guide): a message moved to a FIFO DLQ gets its MessageId as
                # deduplication ID, so DLQ deduplication cannot drop an independent message.
                message.deduplication_id = message.id
            _emit({"kind": "dlq_move", "message_id": message.id, "from": source.name,
                   "to": self.name, "body": message.body})
        add_original(self, message)

    queue_cls.add_message = add_message

    for name, value in list(vars(backend_cls).items()):
        if not name.startswith("_") and callable(value) and not isinstance(value, (staticmethod, classmethod, type)):
            if not getattr(value, "_sqslab_progress", False):
                setattr(backend_cls, name, _progress_first(value))

    def start_message_move_task(self) -> ActionResult:
        handle = self.sqs_backend.start_message_move_task(
            self._get_param("SourceArn"), self._get_param("DestinationArn"),
            self._get_param("MaxNumberOfMessagesPerSecond"))
        return ActionResult({"TaskHandle": handle})

    def list_message_move_tasks(self) -> ActionResult:
        results = self.sqs_backend.list_message_move_tasks(
            self._get_param("SourceArn"), self._get_param("MaxResults"))
        return ActionResult({"Results": results})

    def cancel_message_move_task(self) -> ActionResult:
        moved = self.sqs_backend.cancel_message_move_task(self._get_param("TaskHandle"))
        return ActionResult({"ApproximateNumberOfMessagesMoved": moved})

    # moto dispatches an action to the SQSResponse method of the same name in snake case.
    SQSResponse.start_message_move_task = start_message_move_task
    SQSResponse.list_message_move_tasks = list_message_move_tasks
    SQSResponse.cancel_message_move_task = cancel_message_move_task


# -- f. long polling in simulated time --------------------------------------------------------------
def use_clock(clock) -> None:
    """Make long polls wait on ``clock`` (a running :class:`sqslab.clock.Clock`); None to stop.

    While a clock is registered, a ReceiveMessage with WaitTimeSeconds > 0 that finds nothing
    moves that clock (never real time) to the first moment something could arrive, and returns
    as SQS would: with messages as soon as one is available, or empty at the end of the wait.
    """
    global _clock
    _clock = clock


def next_receivable_at(queue) -> float | None:
    """Unix time at which the first not-yet-receivable message of a moto ``queue`` becomes receivable.

    "Receivable" means past its visibility timeout (moto: ``now > visible_at``, hence a
    millisecond past the boundary) and past its delay. None when every message is already past
    both (or the queue is empty).
    """
    now = _now()
    times = []
    for message in list(queue._messages):
        ready = max(message.visible_at / 1000 + PAST_BOUNDARY, message.delayed_until / 1000 + PAST_BOUNDARY)
        if not message.visible or message.delayed:
            times.append(max(ready, now + PAST_BOUNDARY))
    return min(times) if times else None


def long_poll_on_the_clock() -> None:
    """Restores "long polling: returns as soon as a message is available" under the lab's clock.

    moto's long poll waits one real second per turn for a deadline read from the stopped clock,
    so WaitTimeSeconds > 0 on an empty queue never returned. With a clock registered by
    :func:`use_clock`, an empty receive moves the simulated clock to the earliest of: the moment
    a message of the queue becomes receivable, the clock's next timer, a running move task's next
    move, the end of the wait; then
    receives again, until a message comes or the wait is over. No real time passes. Without a
    registered clock moto's behaviour is kept (waiting in real time, outside the backend lock);
    a long poll that sees simulated time stand still for a real second raises :class:`LabError`
    instead of hanging forever.
    """
    if not _once("long_poll_on_the_clock"):
        return
    backend_cls = _models().SQSBackend
    inner = backend_cls.receive_message

    @functools.wraps(inner)
    def receive_message(self, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int, message_attribute_names: list[str] | None = None):
        def attempt():
            return inner(self, queue_name, count, 0, visibility_timeout, message_attribute_names)

        if not wait_seconds_timeout:
            return attempt()
        clock = _clock
        if clock is not None and clock.running:
            return _long_poll_simulated(self, queue_name, int(wait_seconds_timeout), clock, attempt)
        return _long_poll_real_time(self, queue_name, int(wait_seconds_timeout), attempt)

    receive_message._sqslab_outside_lock = True  # type: ignore[attr-defined]
    backend_cls.receive_message = receive_message


def _long_poll_simulated(backend, queue_name: str, wait: int, clock, attempt):
    deadline = clock.now() + wait
    while True:
        result = attempt()
        now = clock.now()
        if result or now >= deadline:
            return result
        with LOCK:
            wake = next_receivable_at(backend.get_queue(queue_name))
            moves = [_next_move_at(t) for t in vars(backend).get("_sqslab_tasks", ()) if t.status == "RUNNING"]
        timer = clock.next_timer_at()
        clock.advance_to(min(t for t in (wake, timer, deadline, *moves) if t is not None and t > now))


def _long_poll_real_time(backend, queue_name: str, wait: int, attempt):
    started, started_real = _now(), time.monotonic()
    deadline = started + wait
    while True:
        result = attempt()
        if result or _now() > deadline:
            return result
        with LOCK:
            queue = backend.get_queue(queue_name)
        # A send wakes this at once; the short turn only bounds how late a stopped clock is noticed.
        queue.wait_for_messages(0.1)
        if _now() == started and time.monotonic() - started_real >= STOPPED_CLOCK_PATIENCE:
            raise LabError(
                "ReceiveMessage with WaitTimeSeconds > 0 is waiting on a stopped clock and would "
                "never return. Register the lab's clock with sqslab.moto.fixes.use_clock(clock) "
                "(open_lab() does this), or receive with WaitTimeSeconds=0.")


# -- g. listeners -----------------------------------------------------------------------------------
def add_listener(fn: Callable[[dict], None]) -> None:
    """Call ``fn(event)`` whenever SQS itself moves or drops a message.

    Events (each also carries ``"at"``, the simulated Unix time):

    * ``{"kind": "dlq_move", "message_id", "from", "to", "body"}``: moto moved a message to the
      source queue's dead-letter queue during a receive;
    * ``{"kind": "move_task", "message_id", "original_message_id", "from", "to", "body"}``: a
      message-move task moved a message (``message_id`` is the new message's id);
    * ``{"kind": "deduplicated", "queue", "dedup_id", "message_id"}``: a FIFO send was accepted
      but dropped as a duplicate (``message_id`` is the id returned to the sender);
    * ``{"kind": "stale_delete", "queue", "message_id", "receipt_handle"}``: a DeleteMessage with
      an outdated receipt handle succeeded without deleting.

    Listeners run inside the SQS call, under the backend lock: keep them quick.
    """
    if fn not in _listeners:
        _listeners.append(fn)


def remove_listener(fn: Callable[[dict], None]) -> None:
    """Stop calling ``fn``; no error if it was not registered."""
    if fn in _listeners:
        _listeners.remove(fn)


# -- the corrections, and applying them -------------------------------------------------------------
#: Applied in this order: the lock wraps every backend method the others add or replace, and the
#: long poll wraps the locked receive so that its waiting happens outside the lock.
CORRECTIONS: tuple[Correction, ...] = (
    Correction("stale_receipt_handle",
               "Stale receipt handle on delete: real SQS can answer success without deleting; "
               "moto deleted the message with any handle it ever had.",
               ignore_stale_receipt_handles),
    Correction("fifo_dedup_after_delete",
               "FIFO dedup after delete: real SQS still deduplicates for 5 minutes; moto forgot the "
               "id once the message was deleted. DeduplicationScope=messageGroup: real SQS deduplicates "
               "per group; moto per queue.",
               keep_fifo_dedup_after_delete),
    Correction("attribute_ranges",
               "Visibility timeout at most 12 hours, retention 60 s to 14 days: real SQS refuses a queue "
               "attribute outside; moto accepted any value.",
               refuse_attributes_out_of_range),
    Correction("twelve_hours_from_the_receive",
               "Visibility timeout: at most 12 hours counted from the receive; moto counted them from "
               "the send, so a message received late could not be extended.",
               count_twelve_hours_from_the_receive),
    Correction("message_not_inflight",
               "ChangeMessageVisibility on a message not in flight: real SQS answers "
               "MessageNotInflight; moto accepted it and hid the message again.",
               refuse_visibility_change_when_not_in_flight),
    Correction("zero_visibility_immediate",
               "Visibility timeout: setting 0 makes the message visible again at once; under the "
               "stopped clock moto kept it hidden until time moved.",
               make_zero_visibility_immediate),
    Correction("fifo_group_order_after_timeout",
               "FIFO ordering: real SQS delivers a group's messages in order after a visibility "
               "timeout; moto delivered the last of a batch received together first.",
               keep_fifo_group_order_after_timeout),
    Correction("message_move_tasks",
               "StartMessageMoveTask / List / Cancel: implemented in real SQS; moto raised "
               "NotImplementedError.",
               support_message_move_tasks),
    Correction("thread_safety",
               "Thread safety: each receive is atomic in real SQS; moto handed concurrent consumers "
               "the same message.",
               serialize_backend_calls),
    Correction("long_polling",
               "Long polling under a stopped clock: real SQS returns as soon as a message is "
               "available or when the wait ends; moto never returned.",
               long_poll_on_the_clock),
)


def apply() -> tuple[str, ...]:
    """Install every correction in :data:`CORRECTIONS` (once per process; safe to call again).

    Returns
    -------
    tuple of str
        The names of the corrections in force.

    Raises
    ------
    EnvironmentProblem
        When the installed moto is not the version the corrections were written for.
    """
    check_moto_version()
    with _apply_lock:
        for correction in CORRECTIONS:
            correction.apply()
    return tuple(c.name for c in CORRECTIONS)


# -- inspection -------------------------------------------------------------------------------------
def _find_queue(queue_url_or_name: str, account_id: str, region: str):
    from moto.sqs.models import sqs_backends

    name = queue_url_or_name.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    backend = sqs_backends[account_id][region]
    queue = backend.queues.get(name)
    if queue is None:
        raise LabError(f"There is no queue {name!r} in account {account_id}, region {region}.")
    return backend, queue


def queue_snapshot(queue_url_or_name: str, account_id: str = "123456789012",
                   region: str = "us-east-1") -> dict:
    """What a queue holds right now, message by message (read from moto's internals).

    Parameters
    ----------
    queue_url_or_name:
        The queue's URL, name or ARN.
    account_id, region:
        Which moto backend holds the queue.

    Returns
    -------
    dict
        ``queue`` (name), ``arn``, ``fifo``, ``now`` (simulated Unix seconds), ``messages`` (in
        queue order, each with ``message_id``, ``body``, ``state`` -- ``"visible"``,
        ``"in_flight"`` or ``"delayed"`` --, ``visible_at`` (Unix seconds; 0 if never hidden),
        ``delayed_until`` (Unix seconds; 0 if never delayed),
        ``receive_count``, ``sent_timestamp`` (Unix seconds), ``group_id``, ``dedup_id``,
        ``receipt_handle`` (the most recent, or None)) and ``next_receivable_at`` (Unix seconds
        at which the first non-visible message becomes receivable, or None).

    Notes
    -----
    Running message-move tasks are brought up to date first, as any SQS call would.
    """
    with LOCK:
        backend, queue = _find_queue(queue_url_or_name, account_id, region)
        _progress_all(backend)
        messages = []
        for m in queue._messages:
            state = "delayed" if m.delayed else ("visible" if m.visible else "in_flight")
            messages.append({
                "message_id": m.id,
                "body": m.body,
                "state": state,
                "visible_at": m.visible_at / 1000,
                "delayed_until": m.delayed_until / 1000,
                "receive_count": m.approximate_receive_count,
                "sent_timestamp": (m.sent_timestamp or 0) / 1000,
                "group_id": m.group_id,
                "dedup_id": m.deduplication_id,
                "receipt_handle": m.receipt_handle,
            })
        return {"queue": queue.name, "arn": queue.queue_arn, "fifo": bool(queue.fifo_queue),
                "now": _now(), "messages": messages, "next_receivable_at": next_receivable_at(queue)}


def inject_duplicate(queue_url_or_name: str, message_id: str, account_id: str = "123456789012",
                     region: str = "us-east-1") -> str:
    """Make a standard queue deliver a message again, as real SQS occasionally does.

    A copy of the message (same MessageId, body and attributes; a receipt handle of its own,
    receive count 0, visible now) is put into the queue. The message may still be in the queue or
    already deleted: AWS (DeleteMessage) warns that a standard queue can deliver a message again
    even after it was deleted. moto never delivers duplicates on its own.

    Returns
    -------
    str
        The MessageId of the duplicate (the original's).

    Raises
    ------
    LabError
        For a FIFO queue (FIFO queues do not deliver duplicates) or an unknown message.
    """
    with LOCK:
        _, queue = _find_queue(queue_url_or_name, account_id, region)
        if queue.fifo_queue:
            raise LabError(f"{queue.name} is a FIFO queue: FIFO queues do not deliver duplicates, "
                           "so the bench does not inject them there.")
        original = next((m for m in queue._messages if m.id == message_id), None)
        if original is None:
            original = vars(queue).get("_sqslab_deleted", {}).get(message_id)
        if original is None:
            raise LabError(f"No message {message_id} was ever in {queue.name}, so there is "
                           "nothing to duplicate.")
        duplicate = deepcopy(original)
        duplicate.receipt_handle = None
        duplicate._old_receipt_handles = []
        duplicate.visible_at = 0.0
        duplicate.delayed_until = 0.0
        duplicate.approximate_receive_count = 0
        duplicate.approximate_first_receive_timestamp = None
        with queue._messages_lock:
            queue._messages.append(duplicate)
            queue._messages_lock.notify_all()
        return duplicate.id
