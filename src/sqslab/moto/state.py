"""The lab's reading of moto's state, and the two things it does to it (a seed, a duplicate).

What is in a queue message by message (the scenario runner's and the views' source of truth), a
queue's visibility timeout, whether a receipt handle is still a message's live one; seeding moto's
random ids so runs repeat; the duplicate delivery real standard queues make and moto never does;
and emptying a DynamoDB table between runs.
"""

from __future__ import annotations

from copy import deepcopy

from ..exceptions import LabError
from .backend import LOCK, moto_now, next_receivable_at, seed_sampler
from .movetasks import _progress_all


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
                "now": moto_now(), "messages": messages, "next_receivable_at": next_receivable_at(queue)}


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


# -- the lab's questions ------------------------------------------------------------------------------
def queue_visibility(queue_name: str, account_id: str, region: str, default: int = 30) -> int:
    """A queue's visibility timeout in seconds (``default`` for a queue moto does not know)."""
    from moto.sqs.models import sqs_backends

    try:
        return int(sqs_backends[account_id][region].get_queue(queue_name).visibility_timeout)
    except Exception:  # noqa: BLE001 - an unknown queue: the call itself will have failed
        return default


def handle_ever_issued(queue_name: str, receipt_handle: str, account_id: str, region: str) -> bool:
    """True while a message still in the queue was once handed out with ``receipt_handle``."""
    from moto.sqs.models import sqs_backends

    try:
        queue = sqs_backends[account_id][region].get_queue(queue_name)
    except Exception:  # noqa: BLE001 - an unknown queue holds no message
        return False
    return any(m.had_receipt_handle(receipt_handle) for m in queue._messages)


def holds_queue(queue_name: str, account_id: str, region: str) -> bool:
    """True when this process's moto holds a queue of that name (a moto server in this process)."""
    from moto.sqs.models import sqs_backends

    return queue_name in sqs_backends[account_id][region].queues


def receivable_now(queue_url: str, account_id: str, region: str):
    """A function answering "is anything receivable in this queue right now?" without an SQS call.

    The same question as a short-poll ReceiveMessage that comes back empty, asked of the mock's
    state: a rival polling every simulated second would otherwise make hundreds of calls per
    simulated job. Empty receives leave no trace in SQS, so skipping them changes nothing a
    consumer could see.
    """
    _, queue = _find_queue(queue_url, account_id, region)

    def receivable() -> bool:
        with LOCK:
            return any(m.visible and not m.delayed for m in list(queue._messages))

    return receivable


def seed_ids(seed: int) -> None:
    """Seed moto's random MessageIds and receipt handles, and the short polls' sampling: runs repeat exactly."""
    from moto.moto_api._internal import mock_random

    mock_random.seed(seed)
    seed_sampler(seed)


def _dynamodb_table(table_name: str, account_id: str, region: str):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[account_id][region].tables.get(table_name)


def empty_table(table_name: str, account_id: str, region: str) -> bool:
    """Delete every item of a DynamoDB table in place; False when there is no such table.

    Emptying moto's table costs microseconds; DeleteTable and CreateTable through the API cost two
    requests on every run of an exploration.
    """
    table = _dynamodb_table(table_name, account_id, region)
    if table is None:
        return False
    table.items.clear()
    return True


def table_items(table_name: str, account_id: str, region: str) -> list[dict]:
    """Every item of a DynamoDB table, each in DynamoDB's JSON (``{"id": {"S": "order-1"}}``)."""
    table = _dynamodb_table(table_name, account_id, region)
    if table is None:
        return []
    return [{k: v.to_json() for k, v in item.attrs.items()} for item in table.items.values()]
