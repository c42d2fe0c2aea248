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
    from botocore.exceptions import ClientError, HTTPClientError

    for attempt in range(5):
        try:
            return sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(order),
                                    MessageGroupId=order["customer"],
                                    MessageDeduplicationId=dedup_id() if dedup_id else order["order_id"])
        except (HTTPClientError, ClientError):
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


def test_a_relay_restarted_after_the_dedup_interval_duplicates_and_the_verdict_says_whose_fault_it_is(lab):
    outcome = run_producer(write_to_the_outbox, relay=relay, faults=[Fault("after:SendMessage", message=1)],
                           relay_restart_delay=400, lab=lab)
    assert outcome.delivered["order-2"] == 2
    # The same ID past the 5-minute window: no producer can stop that copy, so it is not counted against it.
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert "beyond the window: order-2's event is in the queue 2 times" in outcome.verdict.explanation
    assert "past SQS's 5-minute deduplication interval" in outcome.verdict.explanation


def test_a_copy_past_the_window_with_another_id_is_still_a_duplicate(lab):
    stamped = lambda p, order: publish(p.sqs, p.queue_url, order, p.clock,
                                       dedup_id=lambda: f"{order['order_id']}@{p.clock.now():.0f}")
    outcome = run_producer(stamped, orders=2, faults=[Fault("after:SendMessage", message=1, restart_after=400)],
                           retry_requests=1, expect="every_order", lab=lab)
    assert not outcome.verdict.ok and outcome.verdict.problems[0].kind == "duplicate"
    assert "The copies carry different deduplication IDs" in outcome.verdict.explanation


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


# -- a producer holds nothing of the bench; faults restart late; runs that prove nothing fail ----------------
def test_a_producer_gets_no_lab_and_cannot_reach_one(lab):
    from sqslab import LabError, current_lab

    seen = {}

    def nosy(p, order):
        seen["attributes"] = sorted(vars(p))
        try:
            current_lab()
        except LabError as refused:
            seen["refused"] = str(refused)
        write_to_the_outbox(p, order)

    outcome = run_producer(nosy, relay=relay, orders=1, lab=lab)
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert seen["attributes"] == ["clock", "db", "name", "queue_url", "sqs", "state"]
    assert "cannot reach the lab" in seen["refused"]


def test_a_fault_with_restart_after_delays_the_retried_request_and_the_restarted_relay(lab):
    plain = lambda p, order: publish(p.sqs, p.queue_url, order, p.clock)
    outcome = run_producer(plain, orders=2, faults=[Fault("after:SendMessage", message=1, restart_after=90)],
                           retry_requests=1, expect="every_order", lab=lab)
    sends = [e.time for e in outcome.history if e.kind == "send" and e.key == "order-2"]
    assert sends[1] - sends[0] == pytest.approx(90)
    outcome = run_producer(write_to_the_outbox, relay=relay, lab=lab,
                           faults=[Fault("after:SendMessage", message=0, restart_after=7)])
    starts = {e.actor: e.time for e in outcome.history if e.kind == "start"}
    crashed = next(e.time for e in outcome.history if e.kind == "crash")
    assert starts["relay-2"] - crashed == pytest.approx(7)


def test_a_hand_armed_fault_that_never_fires_fails_the_run(lab):
    outcome = run_producer(write_to_the_outbox, relay=relay, orders=2, lab=lab,
                           faults=[Fault("after:SendMessage", message=5)])
    assert not outcome.verdict.ok and outcome.verdict.problems[0].kind == "not_reached"
    assert run_producer(write_to_the_outbox, relay=relay, orders=2, lab=lab, require_fired=False,
                        faults=[Fault("after:SendMessage", message=5)]).verdict.ok


def test_a_run_whose_fault_injection_was_switched_off_fails(lab):
    def switch_off(p, order):
        lab.faults.enabled = False  # the producer has no handle on the plan: the test reaches in itself
        write_to_the_outbox(p, order)

    outcome = run_producer(switch_off, relay=relay, orders=1, lab=lab)
    assert not outcome.verdict.ok and outcome.verdict.problems[0].kind == "interfered"


def test_the_lessons_relay_sends_with_the_given_publish_then_marks_the_row():
    from sqslab.lessons.producer import relay_using

    calls = []

    def counting_publish(sqs, queue_url, order, clock):
        calls.append(order["order_id"])
        return publish(sqs, queue_url, order, clock)

    outcome = run_producer(write_to_the_outbox, relay=relay_using(counting_publish),
                           faults=[Fault("after:SendMessage", message=1)])
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert calls == ["order-1", "order-2", "order-2", "order-3"]  # order-2 again after the relay's crash


def test_explore_producer_with_double_tries_restarts_late_restarts_and_two_orders():
    from sqslab.lessons.producer import producer_plans

    plans = list(producer_plans(["effect_committed", "send_timeout"], 2, double=True))
    assert plans[0] == () and len([p for p in plans if len(p) == 1 and not p[0].restart_after]) == 4
    assert {p[0].restart_after for p in plans if len(p) == 1} >= {5.0, 61.0, 301.0}
    assert any(len(p) == 2 and p[0].message != p[1].message for p in plans)
    assert any(len(p) == 2 and p[0].message == p[1].message for p in plans)
    # the three kinds take turns right after the single faults
    kinds = ["again" if len(p) == 2 and p[0].message == p[1].message else "late" if len(p) == 1 else "two"
             for p in plans[5:8]]
    assert kinds == ["again", "late", "two"]


def test_a_time_based_id_is_caught_by_the_late_restarts_of_an_exploration():
    from sqslab.lessons.producer import relay_using

    stamped = lambda sqs, url, order, clock: publish(sqs, url, order, clock,
                                                     dedup_id=lambda: f"{order['order_id']}@{clock.now() // 60:.0f}")
    assert explore_producer(write_to_the_outbox, relay=relay_using(publish), double=True, max_runs=30).ok
    verdict = explore_producer(write_to_the_outbox, relay=relay_using(stamped), double=True, max_runs=30)
    assert not verdict.ok and "different deduplication IDs" in verdict.explanation


def test_attempts_until_raised_counts_sends_and_sleeps_without_waiting():
    from botocore.exceptions import ClientError, ParamValidationError

    from sqslab.lessons.producer import attempts_until_raised

    throttled = ClientError({"Error": {"Code": "RequestThrottled", "Message": "slow down"}}, "SendMessage")
    tried = attempts_until_raised(publish, throttled)
    assert tried.calls == 5 and tried.sleeps == [1, 1, 1, 1, 1] and isinstance(tried.raised, RuntimeError)

    def forever(sqs, queue_url, order, clock):
        while True:
            try:
                sqs.send_message(QueueUrl=queue_url, MessageBody="{}")
            except Exception:
                clock.sleep(1)

    stopped = attempts_until_raised(forever, ParamValidationError(report="bad"), limit=7)
    assert stopped.calls == 8 and type(stopped.raised).__name__ == "KeptRetrying"


# -- run_steps: one consumer step function, step after step ------------------------------------------------
def _consume(sqs, queue_url, handle, *, skip=False, stop=False, keep=False, count=None):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                   MessageSystemAttributeNames=["MessageGroupId"]).get("Messages", [])
    held, done = set(), 0
    for m in messages:
        group = m["Attributes"]["MessageGroupId"]
        if group in held and not skip:
            continue
        try:
            handle(m["Body"])
        except Exception:
            if stop:
                break
            held.add(group)
            continue
        if not keep:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            done += 1
    return done if count is None else count


def _steps(**kind):
    from sqslab.lessons.fifo import run_steps

    return run_steps(lambda sqs, url, handle: _consume(sqs, url, handle, **kind),
                     orders=fifo_orders("alice", "alice", "bob"), failing={"order-1"},
                     until=lambda s: "order-3" in s.succeeded, max_steps=3)


def test_run_steps_passes_a_consumer_that_holds_back_only_the_failed_group():
    steps = _steps()
    assert steps.problems == [] and steps.succeeded == ["order-3"]
    assert steps.steps[0].received == ["order-1", "order-2", "order-3"] and steps.steps[0].returned == 1
    assert sorted(steps.left) == ["order-1", "order-2"]


@pytest.mark.parametrize("kind, words", [
    ({"skip": True}, "order-2 (alice) was handled while order-1 (alice), sent before it, had not succeeded"),
    ({"stop": True}, "order-3 (bob) was received but not handled after order-1 (alice) failed"),
    ({"keep": True}, "order-3 was handled but not deleted"),
    ({"count": 0}, "returned 0, but it handled and deleted 1 message(s)"),
])
def test_run_steps_names_each_broken_part_of_the_step_contract(kind, words):
    steps = _steps(**kind)
    assert any(words in p for p in steps.problems), steps.report()


def test_run_steps_uses_a_queue_of_its_own_each_time(lab):
    first, second = _steps(), _steps()
    assert first.problems == second.problems == []
    assert "deduplicated" not in second.story


def test_the_given_idempotent_charge_makes_a_crash_after_the_charge_harmless():
    from sqslab.lessons.fifo import idempotent_charge

    def consumer(p):
        handle = idempotent_charge(p)
        for m in p.sqs.receive_message(QueueUrl=p.queue_url, WaitTimeSeconds=20,
                                       MaxNumberOfMessages=10).get("Messages", []):
            handle(m["Body"])
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])

    outcome = run_in_order(consumer, faults=[Fault("effect_committed", message=0)], expect="exactly_once")
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert outcome.effects == {"order-1": 1, "order-2": 1, "order-3": 1, "order-4": 1}


def test_run_in_order_reads_keys_with_the_benchs_own_function_not_the_notebooks_lab(lab):
    lab.key_of = lambda body: "always-the-same"  # a notebook's lab a learner changed
    outcome = run_in_order(in_order, faults=[Fault("handler_error", message=0)])
    assert outcome.verdict.ok, outcome.verdict.explanation
