"""Lesson 6's bench pieces (sqslab.lessons.capstone): the order handler, Lambda's side of a batch, the fixtures."""

from __future__ import annotations

import json
import re

import pytest

from sqslab import Fault, LabError, run_scenario
from sqslab.lessons import capstone, dlq
from sqslab.check import failures
from sqslab.timers import ProcessClock


# -- helpers a test plays the learner with -----------------------------------------------------------
charge_once = capstone.charge_once


def handle_event(event, db, handler):
    failures = []
    for record in event["Records"]:
        try:
            charge_once(db, handler, record["body"])
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def respond_with(response):
    """A Lambda function that charges every good record once, then answers ``response(event)``."""
    def function(event, db, handler):
        for record in event["Records"]:
            try:
                charge_once(db, handler, record["body"])
            except Exception:
                pass
        return response(event)
    return function


def simple_batch(sqs, queue_url, db, handler, clock, *, timeout=30):
    """A batch step without heartbeat: charge, delete what succeeded (bench's delete_batch)."""
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20, MaxNumberOfMessages=10).get("Messages", [])
    done, failed = [], []
    for m in messages:
        try:
            charge_once(db, handler, m["Body"])
            done.append(m)
        except Exception:
            failed.append(m["MessageId"])
    failed += [m["MessageId"] for m in capstone.delete_batch(sqs, queue_url, done)]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}


def bodies(*orders):
    return [json.dumps(o) for o in orders]


# -- the order and its handler -------------------------------------------------------------------------
def test_order_id_reads_the_order_id_of_a_body():
    assert capstone.order_id('{"order_id": "order-7", "amount": 70}') == "order-7"


@pytest.mark.parametrize("body", ["not json", '["order-7"]', '{"amount": 5}', '{"order_id": ""}',
                                  '{"order_id": 7}', ""])
def test_order_id_calls_a_body_without_one_poison(body):
    with pytest.raises(dlq.InvalidOrder):
        capstone.order_id(body)


def test_handler_charges_inside_the_callers_transaction_without_committing(lab):
    db = lab.effects.connect("t")
    handler = capstone.order_handler(lab, lab.clock)
    handler(db, '{"order_id": "order-1", "amount": 10}')
    assert lab.effects.counts()["order-1"] == 0, "the handler must not commit"
    db.rollback()
    assert lab.effects.counts()["order-1"] == 0
    handler(db, '{"order_id": "order-1", "amount": 10}')
    db.commit()
    assert lab.effects.counts()["order-1"] == 1
    db.close()


def test_handler_work_takes_simulated_time_on_the_clock_it_is_given(lab):
    db = lab.effects.connect("t")
    start = lab.clock.now()
    capstone.order_handler(lab, lab.clock, seconds=15)(db, '{"order_id": "order-1", "amount": 10}')
    assert lab.clock.now() - start == pytest.approx(15)
    db.close()


def test_handler_refuses_a_broken_order_before_any_time_passes(lab):
    db = lab.effects.connect("t")
    start = lab.clock.now()
    with pytest.raises(dlq.InvalidOrder):
        capstone.order_handler(lab, lab.clock, seconds=15)(db, '{"order_id": "order-1", "amount": -1}')
    assert lab.clock.now() == start
    db.close()


def test_handler_fails_during_the_outage_and_charges_after_it(lab):
    db = lab.effects.connect("t")
    handler = capstone.order_handler(lab, lab.clock, down_for=50, since=lab.history.now())
    with pytest.raises(dlq.PaymentsUnavailable):
        handler(db, '{"order_id": "order-1", "amount": 10}')
    lab.clock.advance(51)
    handler(db, '{"order_id": "order-1", "amount": 10}')
    db.commit()
    assert lab.effects.counts()["order-1"] == 1
    db.close()


def test_handler_follows_the_parser_it_is_given(lab):
    db = lab.effects.connect("t")
    string_amount = '{"order_id": "order-2", "amount": "20.00"}'
    with pytest.raises(dlq.InvalidOrder):
        capstone.order_handler(lab, lab.clock, parse=dlq.parse_order_v1)(db, string_amount)
    capstone.order_handler(lab, lab.clock, parse=dlq.parse_order_v2)(db, string_amount)
    db.close()


# -- Lambda's reading of a partial batch response ---------------------------------------------------------
EVENT = {"Records": [{"messageId": "m-1"}, {"messageId": "m-2"}, {"messageId": "m-3"}]}


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_documented_complete_successes_fail_nothing(response):
    failed, why = capstone.read_batch_response(response, EVENT)
    assert failed == set(), why


@pytest.mark.parametrize("response", [
    {"batchItemFailures": [{"itemIdentifier": ""}]},
    {"batchItemFailures": [{"itemIdentifier": None}]},
    {"batchItemFailures": [{"messageId": "m-2"}]},
    {"batchItemFailures": [{"itemIdentifier": "AQEB-a-receipt-handle"}]},
    {"batchItemFailures": ["m-2"]},
    {"batchItemFailures": "m-2"},
    ["m-2"],
    {"batchItemFailures": [{"itemIdentifier": {1, 2}}]},
])
def test_documented_complete_failures_fail_the_whole_batch(response):
    failed, why = capstone.read_batch_response(response, EVENT)
    assert failed is None, why


def test_a_partial_response_fails_only_the_messages_it_names():
    failed, why = capstone.read_batch_response(
        {"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]}, EVENT)
    assert failed == {"m-2", "m-3"}
    assert "2 of 3" in why


def test_lambda_event_has_the_records_lambda_passes(lab):
    queue = lab.queue("events")
    lab.send(queue, {"order_id": "order-1", "amount": 10})
    sqs = lab.client(actor="t")
    messages = sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=20, MessageSystemAttributeNames=["All"])["Messages"]
    record = capstone.lambda_event(messages, queue.url)["Records"][0]
    assert record["messageId"] == messages[0]["MessageId"]
    assert record["receiptHandle"] == messages[0]["ReceiptHandle"]
    assert json.loads(record["body"])["order_id"] == "order-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == "us-east-1"
    assert len(record["md5OfBody"]) == 32


# -- Lambda's event source mapping ---------------------------------------------------------------------------
POISONED = [{"order_id": "order-1", "amount": 10}, {"order_id": "order-2", "amount": -1},
            {"order_id": "order-3", "amount": 30}]


def test_lambda_deletes_what_succeeded_and_returns_only_the_reported_message():
    outcome = run_scenario(capstone.lambda_consumer(handle_event), messages=POISONED, max_receive_count=2,
                           poison=["order-2"])
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert capstone.received_again(outcome.history) == [capstone.received_again(outcome.history)[0]]
    assert capstone.received_again(outcome.history)[0].startswith("order-2 was received 2 times")
    notes = [e.detail["text"] for e in outcome.history.of_kind("note") if e.key == "order-2"]
    assert any("reported in batchItemFailures" in n for n in notes)


def test_lambda_returns_the_whole_batch_when_the_function_raises():
    def raising(event, db, handler):
        raise RuntimeError("boom")

    outcome = run_scenario(capstone.lambda_consumer(raising), messages=2, max_steps=3, expect="at_least_once")
    assert not outcome.history.of_kind("delete"), "nothing may be deleted when the function raised"
    notes = [e.detail["text"] for e in outcome.history.of_kind("note") if e.key == "order-1"]
    assert any("the function raised RuntimeError: boom" in n for n in notes)


def test_lambda_returns_the_whole_batch_for_a_receipt_handle_as_item_identifier():
    by_handle = respond_with(lambda event: {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["receiptHandle"]}]})
    outcome = run_scenario(capstone.lambda_consumer(by_handle), messages=2, max_steps=3, expect="at_least_once")
    assert not outcome.history.of_kind("delete")
    notes = [e.detail["text"] for e in outcome.history.of_kind("note") if e.key == "order-2"]
    assert any("complete failure" in n and "no messageId of this batch" in n for n in notes)


def test_lambda_deletes_everything_after_a_complete_success_even_the_failed_ones():
    # A report under the wrong key is a null batchItemFailures list: a complete success.
    wrong_key = respond_with(lambda event: {"BatchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]})
    outcome = run_scenario(capstone.lambda_consumer(wrong_key), messages=POISONED, max_receive_count=2, poison=["order-2"])
    assert not outcome.verdict.ok
    assert {p.key for p in outcome.verdict.problems if p.kind == "lost"} == {"order-2"}


def test_lambda_crash_inside_the_function_deletes_nothing_and_the_batch_comes_back():
    outcome = run_scenario(capstone.lambda_consumer(handle_event), messages=2, faults=[Fault("effect_committed", 0)])
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert len(capstone.received_again(outcome.history)) == 2


def test_lambda_consumer_passes_its_handler_options_on():
    outcome = run_scenario(capstone.lambda_consumer(handle_event, parse=dlq.parse_order_v1),
                           messages=dlq.incident_orders(2, string_amounts=(1,)), max_receive_count=2,
                           poison=["order-2"])
    assert outcome.verdict.ok, outcome.verdict.explanation


# -- the batch delete -------------------------------------------------------------------------------------------
def test_delete_batch_tries_a_failed_entry_once_more(lab):
    queue = lab.queue("deletes")
    for i in range(3):
        lab.send(queue, {"order_id": f"order-{i + 1}", "amount": 1})
    sqs = lab.client(actor="t")
    messages = sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=20, MaxNumberOfMessages=10)["Messages"]
    with lab.faults.armed_with(Fault("batch_entry_failure", message=1)):
        left = capstone.delete_batch(sqs, queue.url, messages)
    assert left == []
    assert lab.faults.fired, "the per-entry failure should have fired"
    assert sum(lab.depth(queue).values()) == 0


def test_delete_batch_returns_what_stayed_undeleted_and_sends_ten_at_a_time(lab):
    queue = lab.queue("many")
    for i in range(12):
        lab.send(queue, {"order_id": f"many-{i}", "amount": 1})
    sqs = lab.client(actor="t")
    messages = []
    while len(messages) < 12:
        messages += sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=20, MaxNumberOfMessages=10)["Messages"]
    stale = dict(messages[0], ReceiptHandle="not-a-handle")
    left = capstone.delete_batch(sqs, queue.url, [stale] + messages[1:])
    assert left == [stale]
    assert lab.depth(queue)["in_flight"] == 1


# -- the consumer step built from a learner's consume_batch --------------------------------------------------------
def test_consumer_gives_each_process_a_clock_whose_timers_die_with_it():
    clocks = []

    def leaves_a_timer(sqs, queue_url, db, handler, clock, *, timeout=30):
        clocks.append(clock)
        clock.every(5, lambda: None)  # never cancelled
        return simple_batch(sqs, queue_url, db, handler, clock, timeout=timeout)

    outcome = run_scenario(capstone.consumer(leaves_a_timer), messages=2, faults=[Fault("after_receive", 0)])
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert all(isinstance(c, ProcessClock) for c in clocks)
    assert not clocks[0].timers, "the crashed process's timer should have died with it"


def test_consumer_notes_the_failures_a_step_reports():
    outcome = run_scenario(capstone.consumer(simple_batch), messages=POISONED, max_receive_count=2, poison=["order-2"])
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert any("reported batchItemFailures" in e.detail["text"] for e in outcome.history.of_kind("note"))


def test_consumer_hands_the_timeout_and_handler_options_on():
    seen = {}

    def records(sqs, queue_url, db, handler, clock, *, timeout=30):
        seen["timeout"] = timeout
        start = clock.now()
        report = simple_batch(sqs, queue_url, db, handler, clock, timeout=timeout)
        seen.setdefault("took", clock.now() - start)
        return report

    run_scenario(capstone.consumer(records, seconds=4, timeout=20), messages=1, visibility_timeout=20)
    assert seen == {"timeout": 20, "took": pytest.approx(4)}


# -- the operator --------------------------------------------------------------------------------------------------
def test_redrive_moves_the_dead_letter_queue_back_and_counts(lab):
    source = dlq.queue_pair(lab, "redrive", max_receive_count=2)
    for i in range(3):
        lab.send(source, {"order_id": f"r-{i}", "amount": 1})
    dlq.dead_letter_all(lab, source)
    moved = capstone.redrive(dlq.operator_client(lab), source.url, dlq.OperatorClock(lab.clock))
    assert moved == 3
    assert lab.depth(source)["visible"] == 3 and sum(lab.depth(source.dlq).values()) == 0


def test_redrive_refuses_a_queue_without_redrive_policy(lab):
    plain = lab.queue("plain")
    with pytest.raises(KeyError):
        capstone.redrive(lab.client(actor="ops"), plain.url, lab.clock)


def test_incident_with_the_bench_redrive_charges_each_good_order_once():
    incident = dlq.Incident(before=capstone.consumer(simple_batch, parse=dlq.parse_order_v1),
                            after=capstone.consumer(simple_batch), redrive=capstone.redrive, replay_twice=True)
    outcome = run_scenario(incident, messages=dlq.incident_orders(3, string_amounts=(1,)), max_receive_count=2)
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert outcome.effects == {"order-1": 1, "order-2": 1, "order-3": 1}


# -- questions about a history ------------------------------------------------------------------------------------
def test_received_once_passes_when_nothing_came_back():
    outcome = run_scenario(capstone.consumer(simple_batch), messages=3)
    verdict = capstone.received_once(outcome.history)
    assert verdict.ok and capstone.received_again(outcome.history) == []


def test_received_once_explains_a_redelivery_and_keeps_the_history_for_the_grader():
    outcome = run_scenario(capstone.consumer(simple_batch), messages=2, faults=[Fault("duplicate_delivery", 1)])
    before = len(failures)
    verdict = capstone.received_once(outcome.history, why="SQS delivered it twice.")
    assert not verdict.ok
    assert verdict.explanation.startswith("FAILED")
    assert "order-2 was received 2 times" in verdict.explanation
    assert "Why: SQS delivered it twice." in verdict.explanation
    assert "What happened to order-2, in order:" in verdict.explanation
    assert verdict.history is outcome.history
    assert len(failures) == min(before + 1, 20) and failures[-1] is verdict


def test_received_once_only_asks_about_the_keys_it_is_given():
    outcome = run_scenario(capstone.consumer(simple_batch), messages=2, faults=[Fault("duplicate_delivery", 1)])
    assert capstone.received_once(outcome.history, keys=["order-1"]).ok
    assert not capstone.received_once(outcome.history, keys=["order-2"]).ok


# -- the trial fixture ------------------------------------------------------------------------------------------------
def test_trial_sends_its_orders_and_bodies_and_counts_their_charges(lab):
    with capstone.trial(lab, "tr", messages=2, bodies=[{"order_id": "tr-bad", "amount": -1}, "no key"]) as t:
        assert t.keys == ["tr-1", "tr-2", "tr-bad"]
        assert t.depth()["visible"] == 4
        report = simple_batch(t.sqs, t.url, t.db, t.handler, t.clock)
        assert t.charges() == {"tr-1": 1, "tr-2": 1, "tr-bad": 0}
        assert len(report["batchItemFailures"]) == 2
        assert set(t.message_ids()) == {"tr-1", "tr-2", "tr-bad"}


def test_trial_closes_its_connection_and_rolls_back_what_was_left_open(lab):
    with capstone.trial(lab, "open", messages=0) as t:
        t.db.apply_effect("open-1", "charge")
        db = t.db
    assert db.closed
    assert lab.effects.counts()["open-1"] == 0


def test_trial_outage_is_timed_from_the_trial_start(lab):
    lab.clock.advance(500)  # long after the lab started
    with capstone.trial(lab, "late", messages=1, down_for=30) as t:
        with pytest.raises(dlq.PaymentsUnavailable):
            t.handler(t.db, json.dumps({"order_id": "late-1", "amount": 1}))
        t.clock.advance(31)
        t.handler(t.db, json.dumps({"order_id": "late-1", "amount": 1}))


def test_redrive_raises_lab_error_when_the_task_does_not_complete(lab, monkeypatch):
    source = dlq.queue_pair(lab, "cancel", max_receive_count=2)
    lab.send(source, {"order_id": "c-1", "amount": 1})
    dlq.dead_letter_all(lab, source)
    sqs = dlq.operator_client(lab)

    def cancelled(**kw):
        return {"Results": [{"Status": "CANCELLED", "FailureReason": "someone cancelled it"}]}

    monkeypatch.setattr(sqs, "list_message_move_tasks", cancelled)
    with pytest.raises(LabError, match="CANCELLED"):
        capstone.redrive(sqs, source.url, lab.clock)


# -- the given charge, the sender's fault, the trial's call counts ----------------------------------------------
def test_the_given_charge_once_charges_once_and_keeps_nothing_of_a_failed_attempt(lab):
    with capstone.trial(lab, "given", messages=0) as t:
        body = json.dumps({"order_id": "given-1", "amount": 5})
        assert capstone.charge_once(t.db, t.handler, body) is True
        assert capstone.charge_once(t.db, t.handler, body) is False

        def charge_then_fail(db, text):
            t.handler(db, text)
            raise dlq.PaymentsUnavailable("not confirmed")

        other = json.dumps({"order_id": "given-2", "amount": 6})
        with pytest.raises(dlq.PaymentsUnavailable):
            capstone.charge_once(t.db, charge_then_fail, other)
        assert capstone.charge_once(t.db, t.handler, other) is True
        with pytest.raises(dlq.InvalidOrder):
            capstone.charge_once(t.db, t.handler, '{"amount": 1}')
    assert lab.effects.counts()["given-1"] == 1 and lab.effects.counts()["given-2"] == 1


def test_delete_batch_does_not_send_a_sender_fault_entry_again(lab):
    with capstone.trial(lab, "blamed", messages=3) as t:
        messages = t.receive(10)
        with lab.faults.armed_with(Fault("batch_entry_failure", message=t.position("blamed-2"), sender_fault=True)):
            left = capstone.delete_batch(t.sqs, t.url, messages)
        assert [m["MessageId"] for m in left] == [t.message_ids()["blamed-2"]]
        assert t.calls()["DeleteMessageBatch"] == 1
        assert capstone.retried_as_is(t.events()) == []


def test_retried_as_is_names_an_entry_sent_again_after_the_senders_fault(lab):
    with capstone.trial(lab, "again", messages=2) as t:
        messages = t.receive(10)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        with lab.faults.armed_with(Fault("batch_entry_failure", message=t.position("again-1"), sender_fault=True)):
            t.sqs.delete_message_batch(QueueUrl=t.url, Entries=entries)
        t.sqs.delete_message(QueueUrl=t.url, ReceiptHandle=messages[0]["ReceiptHandle"])
        [problem] = capstone.retried_as_is(t.events())
        assert "deleted again-1 again with the receipt handle that SQS had refused as the sender's fault" in problem
        verdict = capstone.verdict_from([problem], t.events(), what="x", why="because", ok="fine")
        assert not verdict.ok and verdict.explanation.splitlines()[1] == f"Seen: {problem}." and "Why: because" in verdict.explanation
        assert failures[-1] is verdict
    assert capstone.verdict_from([], [], what="x", why="y", ok="fine").explanation == "OK: fine"


def test_a_trial_counts_its_clients_calls_by_operation(lab):
    with capstone.trial(lab, "counted", messages=2) as t:
        t.receive(10)
        t.sqs.get_queue_attributes(QueueUrl=t.url)
        assert t.calls()["ReceiveMessage"] == 1 and t.calls()["GetQueueAttributes"] == 1 and not t.calls()["DeleteMessage"]
        assert t.position("counted-2") == t.position("counted-1") + 1


def _beating_batch(*, forget_what_was_let_go):
    """A batch step whose heartbeat renews what it holds; on a failure it stops, hands back, starts again."""
    def step(sqs, queue_url, db, handler, clock, *, timeout=30):
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20, MaxNumberOfMessages=10).get("Messages", [])
        held = {m["MessageId"]: m["ReceiptHandle"] for m in messages}

        def beat():
            for handle in list(held.values()):
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=timeout)

        timer, failed = clock.every(timeout / 2, beat), []
        for m in messages:
            try:
                charge_once(db, handler, m["Body"])
            except Exception:
                timer.cancel()
                if forget_what_was_let_go:
                    del held[m["MessageId"]]
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
                failed.append(m["MessageId"])
                timer = clock.every(timeout / 2, beat)
        timer.cancel()
        done = [m for m in messages if m["MessageId"] not in failed]
        failed += [m["MessageId"] for m in capstone.delete_batch(sqs, queue_url, done)]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
    return step


def test_let_go_while_beating_names_a_beat_that_renews_a_message_handed_back_before():
    orders = dlq.incident_orders(3, string_amounts=(), broken=(0,))
    right = run_scenario(capstone.consumer(_beating_batch(forget_what_was_let_go=True), seconds=10), messages=orders,
                         max_receive_count=3, poison=["order-1"])
    assert right.verdict.ok, right.verdict.explanation
    assert capstone.let_go_while_beating(right.history) == []
    wrong = run_scenario(capstone.consumer(_beating_batch(forget_what_was_let_go=False), seconds=10), messages=orders,
                         max_receive_count=3, poison=["order-1"])
    problems = capstone.let_go_while_beating(wrong.history)
    assert len(problems) == 1 and re.fullmatch(r"t=15s: consumer-1's timer timer#\d+ renewed order-1 after consumer-1 had "
                                                r"handed it back \(t=0s\)", problems[0]), problems


def test_a_trial_knows_which_messages_its_client_received_and_did_not_finish(lab):
    with capstone.trial(lab, "left", messages=4) as t:
        messages = t.sqs.receive_message(QueueUrl=t.url, MaxNumberOfMessages=3, WaitTimeSeconds=20)["Messages"]
        t.sqs.delete_message(QueueUrl=t.url, ReceiptHandle=messages[0]["ReceiptHandle"])
        t.sqs.change_message_visibility(QueueUrl=t.url, ReceiptHandle=messages[1]["ReceiptHandle"], VisibilityTimeout=0)
        assert len(messages) == 3 and t.unfinished() == {m["MessageId"] for m in messages[1:]}
