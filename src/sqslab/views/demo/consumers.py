"""The consumer versions a demo lane can run, each one step: receive once, handle, return.

Each is the lesson's consumer written plainly (``VERSIONS`` says what each teaches); the session
(:mod:`.session`) runs them with the scenario runner's own :func:`~sqslab.scenario.step_process`.
"""

from __future__ import annotations

from typing import Any, Callable

from ...lessons.dlq import parse_order_v1, parse_order_v2
from ...scenario import Process, lab_of

__all__ = ["CONSUMERS", "naive", "delete_first", "idempotent", "heartbeat"]


def _receive(p: Process, n: int = 10) -> list[dict]:
    # A long poll, as the course's consumers make; a lane stepped while nothing is visible does not
    # wait (the instructor moves the clock).
    return p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=n,
                                 WaitTimeSeconds=lab_of(p).long_poll_wait(p.queue_url),
                                 MessageSystemAttributeNames=["ApproximateReceiveCount"]).get("Messages", [])


def _work(demo: Any, p: Process, body: str) -> str:
    """The business work before the charge: time passes, the order is parsed; returns its id."""
    if demo.work_seconds:
        p.clock.advance(demo.work_seconds)
    order = (parse_order_v2 if demo.fixed_parser else parse_order_v1)(body)  # InvalidOrder: poison
    return order["order_id"]


def _charge(demo: Any, p: Process, body: str) -> bool:
    """Work and charge one order, committed; False (rolled back) when the work failed."""
    try:
        key = _work(demo, p, body)
        p.db.apply_effect(key, "charge")
        p.db.commit()
    except Exception:
        p.db.rollback()
        return False
    return True


def naive(demo: Any, p: Process) -> None:
    """Lesson 1: receive up to 10, charge each and commit, then delete it; leave failures."""
    for m in _receive(p):
        # A failure is not deleted: SQS delivers it again after its visibility timeout.
        if _charge(demo, p, m["Body"]):
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


def delete_first(demo: Any, p: Process) -> None:
    """Lesson 1's tempting fix: delete first, then charge (a crash in between loses the order)."""
    for m in _receive(p):
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
        _charge(demo, p, m["Body"])


def idempotent(demo: Any, p: Process) -> None:
    """Lesson 2: the key's record and the charge in one transaction; delete after the commit."""
    p.db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    p.db.commit()
    for m in _receive(p):
        try:
            key = _work(demo, p, m["Body"])
            with p.db:  # one transaction: the record and the charge commit together, or not at all
                new = p.db.execute("INSERT OR IGNORE INTO processed (key) VALUES (?)", (key,)).rowcount
                if new:
                    p.db.apply_effect(key, "charge")
        except Exception:
            continue  # nothing committed: leave it for a later delivery
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


def heartbeat(demo: Any, p: Process) -> None:
    """Lesson 4: one message at a time, its lease extended every timeout/2 while the work runs."""
    from botocore.exceptions import ClientError

    timeout = demo.visibility_timeout
    for m in _receive(p, 1):
        handle = m["ReceiptHandle"]

        def beat() -> None:
            try:
                p.sqs.change_message_visibility(QueueUrl=p.queue_url, ReceiptHandle=handle,
                                                VisibilityTimeout=timeout)
            except ClientError:
                timer.cancel()  # the lease is lost: stop beating

        timer = p.clock.every(max(timeout / 2, 1), beat, name="heartbeat")
        try:
            key = _work(demo, p, m["Body"])
            p.db.apply_effect(key, "charge")
            p.db.commit()
        except Exception:
            timer.cancel()  # first: a late beat would hide the released message again
            p.db.rollback()
            p.sqs.change_message_visibility(QueueUrl=p.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
            continue
        finally:
            timer.cancel()  # however the work ended (lesson 4)
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=handle)


CONSUMERS: dict[str, Callable[[Any, Process], None]] = {
    "naive": naive, "delete_first": delete_first, "idempotent": idempotent, "heartbeat": heartbeat,
}
