"""The bench's own record of its queues, where SQS is not moto in this process.

On ElasticMQ or real SQS the bench cannot read a queue message by message as it reads moto's, so
it keeps books from the answers its clients got (sends, receives, deletes, visibility changes):
which messages each queue holds, when each becomes visible, each message's latest receipt handle.
:meth:`Ledger.snapshot` answers what ``lab.snapshot()`` answers in process, from those books.
"""

from __future__ import annotations

from .moto.backend import PAST_BOUNDARY

#: Seconds after which the record expects a message that SQS passed over to be receivable.
LOOK_AGAIN = 0.2


class Ledger:
    """The bench's own account of its queues, where they are not in this process.

    Built from the answers its clients got (sends, receives, deletes, visibility changes): which
    messages each queue holds, when each becomes visible, and each message's latest receipt handle.
    It cannot see what SQS does by itself (moves to a dead-letter queue, redrive tasks, retention).
    """

    def __init__(self):
        self.messages: dict[str, dict[str, dict]] = {}  # queue -> MessageId -> message
        self.visibility: dict[str, int] = {}            # queue -> its visibility timeout
        self.delay: dict[str, int] = {}                 # queue -> its DelaySeconds
        self.redrive: dict[str, tuple[str, int]] = {}   # queue -> (its DLQ, maxReceiveCount)
        self._sent: dict[str, dict[str, float]] = {}    # queue -> MessageId -> first send
        self._latest: dict[str, str] = {}               # MessageId -> latest receipt handle
        self._owner: dict[str, str] = {}                # receipt handle -> MessageId

    def seen_before(self, queue: str, message_id: str, now: float) -> bool:
        """True when ``message_id`` was returned by a send to ``queue`` in the last 5 minutes."""
        first = self._sent.get(queue, {}).get(message_id)
        return first is not None and now - first < 300

    def handle_superseded(self, queue: str, handle: str) -> bool:
        """True when ``handle``'s message is still in ``queue`` and was received again since."""
        mid = self._owner.get(handle)
        return mid is not None and mid in self.messages.get(queue, {}) and self._latest.get(mid) != handle

    def observe(self, operation: str, queue: str, params: dict, parsed: dict, now: float,
                visibility: int, delay: int) -> list[tuple[str, str]]:
        """Bring the record up to date with one successful call and its answer.

        Returns the ``(MessageId, body)`` of the messages SQS must have moved to the queue's
        dead-letter queue during this call (a receive), by its redrive policy.
        """
        held = self.messages.setdefault(queue, {})
        if operation == "SendMessage":
            self._sent_one(held, queue, params, parsed.get("MessageId"), now, delay)
        elif operation == "SendMessageBatch":
            ids = {e["Id"]: e["MessageId"] for e in parsed.get("Successful", [])}
            for entry in params.get("Entries", []):
                if entry.get("Id") in ids:
                    self._sent_one(held, queue, entry, ids[entry["Id"]], now, delay)
        elif operation == "ReceiveMessage":
            timeout = int(params.get("VisibilityTimeout", visibility))
            got = parsed.get("Messages", []) or []
            for m in got:
                mid, handle = m["MessageId"], m["ReceiptHandle"]
                entry = held.setdefault(mid, self._message(mid, m.get("Body", ""), now, 0, {}))
                entry["receive_count"] += 1
                entry["receipt_handle"] = handle
                entry["visible_at"] = now + timeout
                entry["delayed_until"] = 0.0
                self._latest[mid], self._owner[handle] = handle, mid
            if len(got) < int(params.get("MaxNumberOfMessages", 1)):
                returned = {m["MessageId"] for m in got}
                moved = self._dead_lettered(queue, held, returned, now) if queue in self.redrive else []
                self._not_yet_visible(queue, held, returned, now)
                return moved
        elif operation in ("DeleteMessage", "DeleteMessageBatch"):
            for entry in self._applied(operation, params, parsed):
                mid = self._owner.get(entry.get("ReceiptHandle", ""))
                if mid is not None and self._latest.get(mid) == entry["ReceiptHandle"]:
                    held.pop(mid, None)
        elif operation in ("ChangeMessageVisibility", "ChangeMessageVisibilityBatch"):
            for entry in self._applied(operation, params, parsed):
                mid = self._owner.get(entry.get("ReceiptHandle", ""))
                if mid in held and self._latest.get(mid) == entry["ReceiptHandle"]:
                    held[mid]["visible_at"] = now + int(entry.get("VisibilityTimeout", 0))
        return []

    def _dead_lettered(self, queue: str, held: dict, returned: set, now: float) -> list[tuple[str, str]]:
        # SQS moves a message whose receive count reached maxReceiveCount to the DLQ instead of
        # delivering it (Developer Guide, "Dead-letter queues"). A receive that returned fewer
        # messages than it asked for passed over every visible one: those at the count were moved.
        dlq, limit = self.redrive[queue]
        busy = self._busy_groups(queue, held, now)
        moved = []
        for mid, entry in list(held.items()):
            visible = entry["visible_at"] <= now and entry["delayed_until"] <= now
            if mid not in returned and visible and entry["receive_count"] >= limit and entry["group_id"] not in busy:
                del held[mid]
                self.messages.setdefault(dlq, {})[mid] = {**entry, "visible_at": 0.0, "receipt_handle": None}
                moved.append((mid, entry["body"]))
        return moved

    def _not_yet_visible(self, queue: str, held: dict, returned: set, now: float) -> None:
        # Visible by the record, yet passed over: real SQS makes a message visible again a little
        # after its timeout, and a short poll samples servers. Look again shortly, rather than
        # have the scenario runner step a consumer in a tight loop meanwhile.
        busy = self._busy_groups(queue, held, now)
        for mid, entry in held.items():
            visible = entry["visible_at"] <= now and entry["delayed_until"] <= now
            if mid not in returned and visible and entry["group_id"] not in busy:
                entry["visible_at"] = now + LOOK_AGAIN

    @staticmethod
    def _busy_groups(queue: str, held: dict, now: float) -> set:
        # On a FIFO queue a message whose group has one in flight is held back, not passed over.
        return {m["group_id"] for m in held.values() if m["visible_at"] > now} if queue.endswith(".fifo") else set()

    @staticmethod
    def _applied(operation: str, params: dict, parsed: dict) -> list[dict]:
        if not operation.endswith("Batch"):
            return [params]
        ok = {e["Id"] for e in parsed.get("Successful", [])}
        return [e for e in params.get("Entries", []) if e.get("Id") in ok]

    def _sent_one(self, held: dict, queue: str, params: dict, mid: str | None, now: float, delay: int) -> None:
        if not mid or self.seen_before(queue, mid, now):
            return  # a FIFO duplicate: accepted, not delivered
        self._sent.setdefault(queue, {})[mid] = now
        held[mid] = self._message(mid, params.get("MessageBody", ""), now,
                                  int(params.get("DelaySeconds", delay) or 0), params)

    @staticmethod
    def _message(mid: str, body: str, now: float, delay: int, params: dict) -> dict:
        return {"message_id": mid, "body": body, "visible_at": 0.0, "delayed_until": now + delay if delay else 0.0,
                "receive_count": 0, "sent_timestamp": now, "group_id": params.get("MessageGroupId"),
                "dedup_id": params.get("MessageDeduplicationId"), "receipt_handle": None}



    def snapshot(self, name: str, arn: str | None, now: float, sqs_says_empty: bool) -> dict:
        """What the record says ``name`` holds at ``now``, in the shape of ``lab.snapshot()``.

        ``sqs_says_empty``: SQS's own counts are all zero, so whatever the record holds is gone
        (deleted, expired, or moved by SQS itself) and is forgotten.
        """
        record = self.messages.setdefault(name, {})
        if record and sqs_says_empty:
            record.clear()
        messages, waiting = [], []
        for m in record.values():
            if m["delayed_until"] > now:
                state = "delayed"
                waiting.append(m["delayed_until"] + PAST_BOUNDARY)
            elif m["visible_at"] > now:
                state = "in_flight"
                waiting.append(m["visible_at"] + PAST_BOUNDARY)
            else:
                state = "visible"
            messages.append({**{k: v for k, v in m.items() if k != "delayed_until"}, "state": state})
        return {"queue": name, "arn": arn, "fifo": name.endswith(".fifo"), "now": now,
                "messages": messages, "next_receivable_at": min(waiting) if waiting else None,
                "source": "record"}
