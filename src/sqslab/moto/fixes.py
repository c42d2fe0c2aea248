"""Corrections of moto's SQS, so the lab teaches what SQS documents and not moto's quirks.

The course runs on moto, an in-process mock of SQS. Where moto differs from real SQS in a way a
lesson depends on (the course's page of SQS facts lists each difference), this module patches
moto's classes, one small function per correction. :func:`apply` installs all of them, once per
process; :data:`CORRECTIONS` lists them with the documented behaviour each restores.

The patches are class-level (``moto.sqs.models.SQSBackend``, ``Queue``, ``Message`` and
``moto.sqs.responses.SQSResponse``), so they hold for every mock and every client in the process.
Everything not named here keeps moto's behaviour. They hold only for the moto version
:mod:`sqslab.moto` checks before installing them.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from ..exceptions import LabError
from .backend import (
    DEDUPLICATION_SECONDS,
    LOCK,
    _apply_lock,
    _context,
    current_clock,
    deleted_archive,
    emit,
    locked,
    moto_now,
    next_receivable_at,
    once,
    short_poll_count,
    sqs_models,
)
from .movetasks import _next_move_at, support_message_move_tasks

#: Real seconds a long poll with no registered clock waits for simulated time to move before it
#: concludes the clock is stopped and raises instead of hanging.
STOPPED_CLOCK_PATIENCE = 1.0


class Correction(NamedTuple):
    """One correction of moto: its name, the row of docs/sqs-facts.md it restores, the function applying it."""

    name: str
    restores: str
    apply: Callable[[], None]



# -- a. thread safety -----------------------------------------------------------------------------
def serialize_backend_calls() -> None:
    """Restores "thread safety: each receive is atomic".

    moto's SQS backend is not thread-safe: consumers on several threads were handed the same
    message. Every public ``SQSBackend`` method runs under one process-wide re-entrant lock
    (:data:`LOCK`). Long-poll waiting happens outside it (see :func:`long_poll_on_the_clock`).
    """
    if not once("serialize_backend_calls"):
        return
    backend = sqs_models().SQSBackend
    for name, value in list(vars(backend).items()):
        if name.startswith("_") or not callable(value) or isinstance(value, (staticmethod, classmethod, type)):
            continue
        if getattr(value, "_sqslab_locked", False) or getattr(value, "_sqslab_outside_lock", False):
            continue
        setattr(backend, name, locked(value))


# -- b. stale receipt handles ---------------------------------------------------------------------
def ignore_stale_receipt_handles() -> None:
    """Restores "stale receipt handle on delete: the call can succeed without deleting".

    AWS (DeleteMessage): the most recently received receipt handle must be used, "otherwise, the
    request succeeds, but the message will not be deleted". moto deletes with any handle the
    message ever had. DeleteMessageBatch goes through the same path, so its entries behave alike.
    Deleted messages are also kept aside, so :func:`inject_duplicate` can redeliver one.
    """
    if not once("ignore_stale_receipt_handles"):
        return
    queue_cls = sqs_models().Queue
    original = queue_cls.delete_message

    @functools.wraps(original)
    def delete_message(self, receipt_handle: str) -> None:
        if receipt_handle not in self.deleted_messages:
            holder = next((m for m in self._messages if m.had_receipt_handle(receipt_handle)), None)
            if holder is not None and holder.receipt_handle != receipt_handle:
                # Received again since this handle was issued: SQS answers success, keeps it.
                emit({"kind": "stale_delete", "queue": self.name, "message_id": holder.id,
                       "receipt_handle": receipt_handle})
                return
            if holder is not None:
                deleted_archive(self)[holder.id] = holder
        original(self, receipt_handle)

    queue_cls.delete_message = delete_message



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
    if not once("keep_fifo_dedup_after_delete"):
        return
    models = sqs_models()
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
            now = moto_now()
            seen = _dedup_window(self, now)
            per_group = getattr(self, "deduplication_scope", "queue") == "messageGroup"
            key = (message.group_id, message.deduplication_id) if per_group else message.deduplication_id
            first = seen.get(key)
            if first is not None:
                message.id = first.message_id
                message.sequence_number = first.sequence_number
                emit({"kind": "deduplicated", "queue": self.name,
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
    if not once("refuse_attributes_out_of_range"):
        return
    queue_cls = sqs_models().Queue
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


def _negative_visibility_timeout(value):
    from moto.sqs.exceptions import InvalidParameterValue

    return InvalidParameterValue(f"Value {value} for parameter VisibilityTimeout is invalid. "
                                 "Reason: Must be between 0 and 43200.")


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
    if not once("refuse_visibility_change_when_not_in_flight"):
        return
    models = sqs_models()
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
            if int(entry.get("VisibilityTimeout") or 0) < 0:  # see count_twelve_hours_from_the_receive
                error = _negative_visibility_timeout(entry["VisibilityTimeout"])
                failed.append({"Id": entry["Id"], "SenderFault": True, "Code": error.code,
                               "Message": error.message})
            elif holder is not None and holder.receipt_handle == handle and holder.visible:
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
    if not once("make_zero_visibility_immediate"):
        return
    message_cls = sqs_models().Message
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
    if not once("keep_fifo_group_order_after_timeout"):
        return
    backend_cls = sqs_models().SQSBackend
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
    """Restores "visibility timeout: 0 to 12 hours, counted from the receive".

    AWS (ChangeMessageVisibility): a message's visibility timeout can be extended to at most
    12 hours, and a request for more than the time left is rejected; the 12 hours start when the
    message is received, so each receive starts its own. moto counted them from the *send*: a
    message received 12 hours after it was sent could not be extended at all, and a heartbeat on a
    message that waited in the queue was rejected early. moto's own answer for a request beyond the
    limit (InvalidParameterValue, "beyond the limit [43200 seconds]") is kept. The timeout's minimum
    is 0: moto took a negative one as 0 (the message visible at once); it is now refused with
    InvalidParameterValue (in a batch, as that entry's failure).
    """
    if not once("count_twelve_hours_from_the_receive"):
        return
    models = sqs_models()
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
        if int(visibility_timeout) < 0:
            raise _negative_visibility_timeout(visibility_timeout)
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


def long_poll_on_the_clock() -> None:
    """Restores "long polling: returns as soon as a message is available" under the lab's clock,
    and "short polling samples servers: it can return fewer messages than are visible, or none".

    A receive with WaitTimeSeconds 0 returns a seeded sample of what is visible
    (:func:`~sqslab.moto.backend.short_poll_count`); moto returned every visible message, up to
    the maximum, which made a grade depend on one short poll.

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
    if not once("long_poll_on_the_clock"):
        return
    backend_cls = sqs_models().SQSBackend
    inner = backend_cls.receive_message

    @functools.wraps(inner)
    def receive_message(self, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int, message_attribute_names: list[str] | None = None):
        def attempt():
            return inner(self, queue_name, count, 0, visibility_timeout, message_attribute_names)

        if not wait_seconds_timeout:
            sampled = short_poll_count(int(count))
            return inner(self, queue_name, sampled, 0, visibility_timeout, message_attribute_names) if sampled else []
        clock = current_clock()
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
    started, started_real = moto_now(), time.monotonic()
    deadline = started + wait
    while True:
        result = attempt()
        if result or moto_now() > deadline:
            return result
        with LOCK:
            queue = backend.get_queue(queue_name)
        # A send wakes this at once; the short turn only bounds how late a stopped clock is noticed.
        queue.wait_for_messages(0.1)
        if moto_now() == started and time.monotonic() - started_real >= STOPPED_CLOCK_PATIENCE:
            raise LabError(
                "ReceiveMessage with WaitTimeSeconds > 0 is waiting on a stopped clock and would "
                "never return. Register the lab's clock with sqslab.moto.fixes.use_clock(clock) "
                "(open_lab() does this), or receive with WaitTimeSeconds=0.")



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
               "Visibility timeout: 0 to 12 hours, counted from the receive; moto counted them from "
               "the send, so a message received late could not be extended, and took a negative "
               "timeout as 0.",
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

    Call :func:`sqslab.moto.install` instead: it checks moto's version first.
    """
    with _apply_lock:
        for correction in CORRECTIONS:
            correction.apply()
    return tuple(c.name for c in CORRECTIONS)


