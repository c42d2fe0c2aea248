"""Lesson 3 (FIFO queues and deduplication): the bench pieces it relies on.

The correction of moto's FIFO group order, the producer-side scenario runner
(:mod:`sqslab.producer`) and its per-group order check, each stated as the behaviour the lesson
teaches. Everything runs on the lab's mocked SQS under the stopped clock.
"""

from __future__ import annotations

import pytest

from sqslab import Fault


# -- moto correction: a FIFO group's order after a visibility timeout --------------------------------
def test_fifo_group_comes_back_oldest_first_after_a_batch_times_out(lab):
    queue = lab.queue("orders.fifo", visibility_timeout=30)
    for i in range(3):
        lab.send(queue, {"order_id": f"o{i}"}, MessageGroupId="alice", MessageDeduplicationId=f"o{i}")
    sqs = lab.client(actor="consumer")
    first = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == ['{"order_id": "o0"}', '{"order_id": "o1"}', '{"order_id": "o2"}']
    lab.clock.advance(31)
    again = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=1)["Messages"]
    assert again[0]["Body"] == '{"order_id": "o0"}'  # moto 5.2.5 alone returned o2 here


def test_fifo_group_stays_blocked_while_its_first_message_is_in_flight(lab):
    queue = lab.queue("orders.fifo", visibility_timeout=30)
    for i, group in enumerate(("alice", "alice", "bob")):
        lab.send(queue, {"order_id": f"o{i}"}, MessageGroupId=group, MessageDeduplicationId=f"o{i}")
    sqs = lab.client(actor="consumer")
    held = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=1)["Messages"]
    assert held[0]["Body"] == '{"order_id": "o0"}'
    rest = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ['{"order_id": "o2"}']  # bob flows, alice waits
