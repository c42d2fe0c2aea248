"""Lesson 3 (FIFO queues and deduplication): the bench pieces it relies on.

The correction of moto's FIFO group order, the FIFO consumer runner with its per-group order
check (:mod:`sqslab.lessons.fifo`) and the producer-side runner (:mod:`sqslab.lessons.producer`), each stated as
the behaviour the lesson teaches. Everything runs on the lab's mocked SQS under the stopped clock.
"""

from __future__ import annotations

import json
import uuid

import pytest

from sqslab import Fault
from sqslab.check import failures
from sqslab.lessons.fifo import explore_in_order, fifo_orders, group_of, run_in_order
from sqslab.lessons.producer import SAVE_ORDER, explore_producer, run_producer


# -- moto correction: a FIFO group's order after a visibility timeout --------------------------------
def test_fifo_group_comes_back_oldest_first_after_a_batch_times_out(lab):
    queue = lab.queue("orders.fifo", visibility_timeout=30)
    for i in range(3):
        lab.send(queue, {"order_id": f"o{i}"}, MessageGroupId="alice", MessageDeduplicationId=f"o{i}")
    sqs = lab.client(actor="consumer")
    first = sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=20, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == ['{"order_id": "o0"}', '{"order_id": "o1"}', '{"order_id": "o2"}']
    lab.clock.advance(31)
    again = sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=20, MaxNumberOfMessages=1)["Messages"]
    assert again[0]["Body"] == '{"order_id": "o0"}'  # moto 5.2.5 alone returned o2 here


def test_fifo_group_stays_blocked_while_its_first_message_is_in_flight(lab):
    queue = lab.queue("orders.fifo", visibility_timeout=30)
    for i, group in enumerate(("alice", "alice", "bob")):
        lab.send(queue, {"order_id": f"o{i}"}, MessageGroupId=group, MessageDeduplicationId=f"o{i}")
    sqs = lab.client(actor="consumer")
    held = sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=20, MaxNumberOfMessages=1)["Messages"]
    assert held[0]["Body"] == '{"order_id": "o0"}'
    rest = sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=20, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ['{"order_id": "o2"}']  # bob flows, alice waits


# -- sqslab.lessons.fifo: orders in customer groups, and the group-order check ----------------------------------


def in_order(p):
    """A right FIFO consumer: a failed message holds back the rest of its group in this step."""
    messages = p.sqs.receive_message(QueueUrl=p.queue_url, WaitTimeSeconds=20, MaxNumberOfMessages=10,
                                     AttributeNames=["MessageGroupId"]).get("Messages", [])
    blocked = set()
    for m in messages:
        group = m["Attributes"]["MessageGroupId"]
        if group in blocked:
            continue
        try:
            p.handle(m["Body"])
        except Exception:
            blocked.add(group)
            continue
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


def skip_the_failed_one(p):
    """Wrong: carries on with the next message of the same group after a failure."""
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, WaitTimeSeconds=20, MaxNumberOfMessages=10).get("Messages", []):
        try:
            p.handle(m["Body"])
        except Exception:
            continue
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


def test_fifo_orders_name_their_customer_and_number_in_send_order():
    orders = fifo_orders("alice", "bob", "alice")
    assert [o["order_id"] for o in orders] == ["order-1", "order-2", "order-3"]
    assert [group_of(o) for o in orders] == ["alice", "bob", "alice"]
    assert group_of(json.dumps({"order_id": "x"})) == "orders"


def test_each_order_is_sent_in_its_customers_group(lab):
    outcome = run_in_order(in_order, messages=fifo_orders("alice", "bob"), lab=lab)
    sends = [e for e in outcome.history if e.kind == "send"]
    assert [(e.key, e.detail["group_id"], e.detail["dedup_id"]) for e in sends] == [
        ("order-1", "alice", "order-1"), ("order-2", "bob", "order-2")]
    assert outcome.verdict.ok, outcome.verdict.explanation


def test_a_failed_message_held_back_keeps_its_group_in_order(lab):
    outcome = run_in_order(in_order, faults=[Fault("handler_error", message=0)], lab=lab)
    assert outcome.verdict.ok, outcome.verdict.explanation


def test_skipping_a_failed_message_is_reported_as_out_of_order(lab):
    outcome = run_in_order(skip_the_failed_one, faults=[Fault("handler_error", message=0)], lab=lab)
    verdict = outcome.verdict
    assert not verdict.ok
    assert verdict.problems[0].kind == "out_of_order"
    assert "order-2 (alice) took effect before order-1 (alice)" in verdict.explanation
    assert "Effects, in the order they were committed: order-2 (alice)" in verdict.explanation
    assert failures[-1] is verdict


def test_explore_in_order_is_bounded_and_finds_the_skip(lab):
    assert explore_in_order(in_order, max_runs=4, lab=lab).runs == 4
    verdict = explore_in_order(skip_the_failed_one, points=["handler_error"], double=False, lab=lab)
    assert not verdict.ok and verdict.runs == 2  # no fault, then the failure on message 1


# -- sqslab.lessons.producer: the producer's side ------------------------------------------------------------------
def publish(sqs, queue_url, order, clock, dedup_id=None):
    """A right producer send: the order id as deduplication ID, retried on timeouts and throttling."""
    from botocore.exceptions import BotoCoreError, ClientError

    for attempt in range(5):
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(order),
                                    MessageGroupId=order["customer"],
                                    MessageDeduplicationId=dedup_id() if dedup_id else order["order_id"])
        except (BotoCoreError, ClientError):
            clock.sleep(1)
    raise RuntimeError("gave up")


def send_inside_the_transaction(p, order):
    p.save_order(order)
    publish(p.sqs, p.queue_url, order, p.clock)
    p.db.commit()


def send_after_the_commit(p, order):
    with p.db:
        p.save_order(order)
    publish(p.sqs, p.queue_url, order, p.clock)


def write_to_the_outbox(p, order):
    with p.db:
        p.save_order(order)
        p.db.execute("INSERT INTO outbox (order_id, body) VALUES (?, ?)", (order["order_id"], json.dumps(order)))


def relay(p):
    for row_id, body in p.db.execute("SELECT id, body FROM outbox WHERE sent = 0 ORDER BY id").fetchall():
        publish(p.sqs, p.queue_url, json.loads(body), p.clock)
        with p.db:
            p.db.execute("UPDATE outbox SET sent = 1 WHERE id = ?", (row_id,))


def test_sending_inside_the_transaction_makes_a_ghost_event(lab):
    outcome = run_producer(send_inside_the_transaction, faults=[Fault("after:SendMessage", message=1)], lab=lab)
    assert outcome.saved == {"order-1": 1, "order-3": 1}
    assert outcome.delivered == {"order-1": 1, "order-2": 1, "order-3": 1}
    assert outcome.requests["order-2"] == "crashed"
    assert outcome.verdict.problems[0].kind == "ghost"
    assert "rolled the order back" in outcome.verdict.explanation


def test_sending_after_the_commit_loses_the_event(lab):
    outcome = run_producer(send_after_the_commit, faults=[Fault("effect_committed", message=1)], lab=lab)
    assert outcome.verdict.problems[0].kind == "lost"
    assert "'effect_committed' on order 2 (order-2): the producer died right after" in outcome.verdict.explanation


def test_the_outbox_and_its_relay_survive_a_crash_after_send(lab):
    outcome = run_producer(write_to_the_outbox, relay=relay, faults=[Fault("after:SendMessage", message=1)], lab=lab)
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert [e.actor for e in outcome.history if e.kind == "start"] == ["producer-1", "relay-1", "relay-2"]
    sends = [e.detail["delivered"] for e in outcome.history if e.kind == "send" and e.key == "order-2"]
    assert sends == [True, False]  # the restarted relay's resend was deduplicated


def test_a_relay_restarted_after_the_dedup_interval_duplicates(lab):
    outcome = run_producer(write_to_the_outbox, relay=relay, faults=[Fault("after:SendMessage", message=1)],
                           relay_restart_delay=400, lab=lab)
    assert outcome.delivered["order-2"] == 2
    assert "past SQS's 5-minute deduplication interval" in outcome.verdict.explanation


def test_a_send_timeout_takes_the_read_timeout_on_the_clock(lab):
    plain = lambda p, order: publish(p.sqs, p.queue_url, order, p.clock)
    outcome = run_producer(plain, orders=1, faults=["send_timeout"], expect="every_order", lab=lab)
    sends = [e for e in outcome.history if e.kind == "send"]
    assert [e.detail["delivered"] for e in sends] == [True, False]
    assert sends[1].time - sends[0].time == pytest.approx(61)  # 60 s read timeout + 1 s backoff
    assert outcome.verdict.ok, outcome.verdict.explanation


def test_a_fresh_deduplication_id_per_attempt_duplicates_on_timeout(lab):
    fresh = lambda p, order: publish(p.sqs, p.queue_url, order, p.clock, dedup_id=lambda: str(uuid.uuid4()))
    outcome = run_producer(fresh, orders=1, faults=["send_timeout"], expect="every_order", lab=lab)
    assert outcome.delivered == {"order-1": 2}
    assert "A timeout does not mean the send failed" in outcome.verdict.explanation


def test_a_producer_that_gives_up_on_a_timeout_fails_the_request(lab):
    once = lambda p, order: p.sqs.send_message(QueueUrl=p.queue_url, MessageBody=json.dumps(order),
                                               MessageGroupId="a", MessageDeduplicationId=order["order_id"])
    outcome = run_producer(once, orders=1, faults=["send_timeout"], expect="every_order", lab=lab)
    assert outcome.verdict.problems[0].kind == "failed"
    assert outcome.delivered == {"order-1": 1}


def test_explore_producer_finds_the_ghost_and_passes_the_outbox(lab):
    assert not explore_producer(send_inside_the_transaction, max_runs=12, lab=lab).ok
    verdict = explore_producer(write_to_the_outbox, relay=relay, max_runs=8, lab=lab)
    assert verdict.ok and verdict.runs == 8, verdict.explanation


def test_saving_an_order_is_an_effect_in_the_shops_database(lab):
    outcome = run_producer(write_to_the_outbox, relay=relay, orders=[{"order_id": "o-9", "customer": "c"}], lab=lab)
    assert outcome.saved == {"o-9": 1}
    assert [e.detail["effect"] for e in outcome.history if e.kind == "effect"] == [SAVE_ORDER]


def test_the_timeline_puts_a_saved_order_on_its_messages_row(lab):
    from sqslab.views import timeline

    outcome = run_producer(write_to_the_outbox, relay=relay, orders=2, lab=lab)
    lines = timeline.text(outcome.history).splitlines()
    assert lines[0].startswith("order-1: effect save order t=0; sent t=0")
    assert len(lines) == 2


def test_a_retried_request_runs_again_on_a_fresh_process(lab):
    plain = lambda p, order: publish(p.sqs, p.queue_url, order, p.clock)
    outcome = run_producer(plain, orders=2, faults=[Fault("after:SendMessage", message=1)],
                           retry_requests=1, expect="every_order", lab=lab)
    assert [e.actor for e in outcome.history if e.kind == "start"] == ["producer-1", "producer-2"]
    assert outcome.requests == {"order-1": "ok", "order-2": "ok"}
    assert outcome.verdict.ok, outcome.verdict.explanation  # the resend was deduplicated


def test_a_fresh_id_per_call_duplicates_when_the_request_is_retried(lab):
    fresh = lambda p, order: publish(p.sqs, p.queue_url, order, p.clock, dedup_id=lambda: str(uuid.uuid4()))
    outcome = run_producer(fresh, orders=2, faults=[Fault("after:SendMessage", message=1)],
                           retry_requests=1, expect="every_order", lab=lab)
    assert outcome.delivered == {"order-1": 1, "order-2": 2}


def test_the_bench_relay_sends_the_outbox_once_despite_its_crashes(lab):
    from sqslab.lessons.producer import outbox_relay

    outcome = run_producer(write_to_the_outbox, relay=outbox_relay, lab=lab,
                           faults=[Fault("after:SendMessage", message=0), Fault("send_timeout", message=1)])
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert outcome.delivered == {"order-1": 1, "order-2": 1, "order-3": 1}


def test_a_request_that_raises_is_a_failure_even_when_nothing_was_saved(lab):
    def not_written_yet(producer, order):
        raise NotImplementedError("Write your solution here")

    outcome = run_producer(not_written_yet, relay=relay, lab=lab)
    assert outcome.saved == {} and outcome.delivered == {}
    assert outcome.verdict.problems[0].kind == "failed"
    assert "NotImplementedError" in outcome.verdict.explanation
