"""StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask for moto, in simulated time.

moto raises a plain ``NotImplementedError`` for the three calls (HTTP 500 in server mode); real
SQS implements them (API Reference, StartMessageMoveTask). A task moves
``MaxNumberOfMessagesPerSecond`` messages per simulated second (500 when not given, the API's
maximum, standing in for "the system will optimize the rate"), oldest first, counted from its
start. Progress is worked out lazily, at the start of every SQS call (ListMessageMoveTasks
included), so ``clock.advance(n)`` followed by any call sees the messages moved by then.
"""

from __future__ import annotations

import base64
import functools
import json
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Callable

from .backend import PAST_BOUNDARY, _context, emit, once, sqs_models

#: Messages per second a move task moves when the caller gives no rate.
DEFAULT_MOVE_RATE = 500


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

    moved = sqs_models().Message(str(mock_random.uuid4()), message.body, deepcopy(message.system_attributes))
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
    emit({"kind": "move_task", "message_id": moved.id, "original_message_id": message.id,
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
    if not once("support_message_move_tasks"):
        return
    models = sqs_models()
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
            emit({"kind": "dlq_move", "message_id": message.id, "from": source.name,
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


