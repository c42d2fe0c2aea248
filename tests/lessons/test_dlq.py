"""Lesson 5's bench pieces (sqslab.lessons.dlq): orders, the outage, the incident, alarms, retention."""

from __future__ import annotations

import json

import pytest

from sqslab import LabError, run_scenario
from sqslab.lessons import dlq
from sqslab.exceptions import RunawayConsumer
from sqslab.scenario import start_process


# -- helpers a test plays the learner with -----------------------------------------------------------
def charge_once(db, body, parse):
    order = parse(body)
    db.execute("CREATE TABLE IF NOT EXISTS charged (order_id TEXT PRIMARY KEY)")
    with db:
        if db.execute("SELECT 1 FROM charged WHERE order_id = ?", (order["order_id"],)).fetchone():
            return False
        db.apply_effect(order["order_id"], "charge")
        db.execute("INSERT INTO charged VALUES (?)", (order["order_id"],))
    return True


def consumer(parse, *, down_for=0, charge=charge_once):
    def step(p):
        for m in p.sqs.receive_message(QueueUrl=p.queue_url, WaitTimeSeconds=20, MaxNumberOfMessages=10).get("Messages", []):
            try:
                parse(m["Body"])
                dlq.payments(p, down_for)
                charge(p.db, m["Body"], parse)
            except ValueError:
                p.sqs.change_message_visibility(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                VisibilityTimeout=0)
                continue
            except Exception:
                continue
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
    return step


def move_back(sqs, queue_url, clock):
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
                        ["Attributes"]["RedrivePolicy"])
    arn = policy["deadLetterTargetArn"]
    sqs.start_message_move_task(SourceArn=arn)
    while (task := sqs.list_message_move_tasks(SourceArn=arn)["Results"][0])["Status"] == "RUNNING":
        clock.advance(1)
    return task["ApproximateNumberOfMessagesMoved"]


def alarm_on(cloudwatch, queue_name, metric="ApproximateNumberOfMessagesVisible", **kw):
    args = dict(AlarmName=f"{queue_name}-{metric}", Namespace="AWS/SQS", MetricName=metric,
                Dimensions=[{"Name": "QueueName", "Value": queue_name}], Statistic="Maximum", Period=60,
                EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold")
    args.update(kw)
    cloudwatch.put_metric_alarm(**args)
    return args["AlarmName"]


# -- orders ------------------------------------------------------------------------------------------
def test_version_one_refuses_string_amounts_and_version_two_accepts_them():
    body = json.dumps({"order_id": "order-2", "amount": "20.00"})
    with pytest.raises(dlq.InvalidOrder, match="must be a number"):
        dlq.parse_order_v1(body)
    assert str(dlq.parse_order_v2(body)["amount"]) == "20.00"
    assert dlq.parse_order_v1(json.dumps({"order_id": "o", "amount": 10}))["order_id"] == "o"


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '{"amount": 5}', '{"order_id": "o", "amount": -5}',
                                  '{"order_id": "o", "amount": "ten"}', '{"order_id": "o"}',
                                  '{"order_id": "o", "amount": true}', '{"order_id": "o", "amount": "NaN"}'])
def test_broken_orders_are_poison_to_both_versions(body):
    for parse in (dlq.parse_order_v1, dlq.parse_order_v2):
        with pytest.raises(dlq.InvalidOrder):
            parse(body)


def test_invalid_order_is_a_value_error_and_the_outage_is_not():
    assert issubclass(dlq.InvalidOrder, ValueError)
    assert not issubclass(dlq.PaymentsUnavailable, (ValueError, KeyError, TypeError))


def test_incident_orders_marks_string_amounts_and_broken_orders():
    bodies = dlq.incident_orders(4, string_amounts=(1,), broken=(3,))
    assert [b["order_id"] for b in bodies] == ["order-1", "order-2", "order-3", "order-4"]
    assert bodies[1]["amount"] == "20.00" and bodies[3]["amount"] == -40 and bodies[0]["amount"] == 10


def test_payments_are_down_for_the_first_seconds_of_the_run(lab):
    process = start_process(lab, lab.queue("outage"), "consumer-1")
    with pytest.raises(dlq.PaymentsUnavailable):
        dlq.payments(process, down_for=45)
    lab.clock.advance(46)
    dlq.payments(process, down_for=45)
    dlq.payments(process)


def test_every_run_meets_the_same_outage(lab):
    for _ in range(2):
        outcome = run_scenario(consumer(dlq.parse_order_v2, down_for=45), messages=1, max_receive_count=5)
        assert outcome.verdict.ok, outcome.verdict.explanation
        assert [round(e.time) for e in outcome.history.of_kind("receive")] == [0, 30, 60]


# -- queues and the operator -------------------------------------------------------------------------
def test_queue_pair_names_never_repeat(lab):
    a, b = dlq.queue_pair(lab, "x"), dlq.queue_pair(lab, "x", max_receive_count=2)
    assert a.name != b.name and a.dlq.name != b.dlq.name
    policy = json.loads(lab._admin().get_queue_attributes(QueueUrl=b.url, AttributeNames=["RedrivePolicy"])
                        ["Attributes"]["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == b.dlq.arn and int(policy["maxReceiveCount"]) == 2


def test_dead_letter_all_moves_every_message_at_once(lab):
    source = dlq.queue_pair(lab, max_receive_count=3)
    for i in range(4):
        lab.send(source, {"order_id": f"o-{i}", "amount": 1})
    before = lab.clock.now()
    assert dlq.dead_letter_all(lab, source) == 4
    assert lab.clock.now() - before < 0.1
    assert lab.depth(source.dlq)["visible"] == 4 and not lab.snapshot(source)["messages"]
    with pytest.raises(LabError):
        dlq.dead_letter_all(lab, lab.queue("no-dlq"))


def test_operator_client_refuses_to_poll_forever(lab):
    q = lab.queue("polled")
    client = dlq.operator_client(lab, max_calls=5)
    with pytest.raises(RunawayConsumer):
        for _ in range(10):
            client.get_queue_attributes(QueueUrl=q.url)


def test_receive_counts_lists_the_receives_of_a_key(lab):
    outcome = run_scenario(consumer(dlq.parse_order_v2), messages=dlq.incident_orders(2, string_amounts=(), broken=(1,)),
                           max_receive_count=3, poison=["order-2"])
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert dlq.receive_counts(outcome.history, "order-2") == [1, 2, 3]
    assert dlq.receive_counts(outcome.history, "order-1") == [1]


# -- the incident --------------------------------------------------------------------------------------
def test_incident_fixes_redrives_and_charges_every_good_order_once(lab):
    incident = dlq.Incident(consumer(dlq.parse_order_v1), consumer(dlq.parse_order_v2), move_back)
    outcome = run_scenario(incident, messages=dlq.incident_orders(4, string_amounts=(1,), broken=(3,)),
                           max_receive_count=3, poison=["order-4"])
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert incident.state["fixed"] and incident.state["redrive_result"] == 2
    kinds = [e.kind for e in outcome.history if e.key == "order-2"]
    assert kinds.index("dlq_move") < kinds.index("move_task") < kinds.index("effect")


def test_incident_state_starts_afresh_with_each_run(lab):
    incident = dlq.Incident(consumer(dlq.parse_order_v1), consumer(dlq.parse_order_v2), move_back)
    for _ in range(2):
        verdict = run_scenario(incident, messages=dlq.incident_orders(2, string_amounts=(0,)),
                               max_receive_count=2).verdict
        assert verdict.ok, verdict.explanation


def test_incident_without_a_dead_letter_does_not_call_the_operator(lab):
    calls = []
    incident = dlq.Incident(consumer(dlq.parse_order_v2), consumer(dlq.parse_order_v2),
                            lambda *a: calls.append(a))
    assert run_scenario(incident, messages=2, max_receive_count=3).verdict.ok
    assert calls == []


def test_a_redrive_that_does_not_wait_leaves_orders_in_the_dlq_and_says_so(lab):
    def start_only(sqs, queue_url, clock):
        arn = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
                         ["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
        sqs.start_message_move_task(SourceArn=arn)
        return 0

    incident = dlq.Incident(consumer(dlq.parse_order_v1), consumer(dlq.parse_order_v2), start_only)
    verdict = run_scenario(incident, messages=dlq.incident_orders(2, string_amounts=(1,)), max_receive_count=2).verdict
    assert not verdict.ok and verdict.problems[0].kind == "dead_lettered"
    assert "still in the dead-letter queue when redrive() returned" in verdict.explanation


def test_a_redrive_that_raises_fails_the_run_even_when_its_task_moved_everything(lab):
    def finds_the_task_by_handle(sqs, queue_url, clock):
        arn = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
                         ["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
        handle = sqs.start_message_move_task(SourceArn=arn)["TaskHandle"]
        while True:
            task = next(t for t in sqs.list_message_move_tasks(SourceArn=arn, MaxResults=10)["Results"]
                        if t["TaskHandle"] == handle)  # listed tasks have a TaskHandle only while RUNNING
            if task["Status"] != "RUNNING":
                return task["ApproximateNumberOfMessagesMoved"]
            clock.advance(1)

    incident = dlq.Incident(consumer(dlq.parse_order_v1), consumer(dlq.parse_order_v2), finds_the_task_by_handle)
    outcome = run_scenario(incident, messages=dlq.incident_orders(2, string_amounts=(1,)), max_receive_count=2)
    assert outcome.effects == {"order-1": 1, "order-2": 1}  # the task itself did its job...
    verdict = outcome.verdict
    assert not verdict.ok and verdict.problems[0].kind == "script_failed"  # ...the operator's script did not
    assert "finds_the_task_by_handle() raised KeyError: 'TaskHandle'" in verdict.explanation
    assert 'if t["TaskHandle"] == handle)' in verdict.explanation  # the line that raised, quoted


def test_replaying_twice_charges_twice_without_idempotency(lab):
    def charge_blindly(db, body, parse):
        db.apply_effect(parse(body)["order_id"], "charge")
        db.commit()

    bodies = dlq.incident_orders(3, string_amounts=(1,))
    good = dlq.Incident(consumer(dlq.parse_order_v1), consumer(dlq.parse_order_v2), move_back, replay_twice=True)
    outcome = run_scenario(good, messages=bodies, max_receive_count=2)
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert sum(1 for e in outcome.history if e.kind == "send" and e.actor == "operator") == 1
    blind = dlq.Incident(consumer(dlq.parse_order_v1, charge=charge_blindly),
                         consumer(dlq.parse_order_v2, charge=charge_blindly), move_back, replay_twice=True)
    verdict = run_scenario(blind, messages=bodies, max_receive_count=2).verdict
    assert not verdict.ok and verdict.problems[0].kind == "duplicate" and verdict.problems[0].key == "order-2"


# -- alarms ----------------------------------------------------------------------------------------------
def test_visible_depth_and_messages_sent_of_a_dlq(lab):
    source = dlq.queue_pair(lab, max_receive_count=2)
    lab.send(source, {"order_id": "o-1", "amount": 1})
    dlq.dead_letter_all(lab, source)
    assert dlq.metric_value(lab, "ApproximateNumberOfMessagesVisible", source.dlq.name) == 1
    assert dlq.metric_value(lab, "ApproximateNumberOfMessagesNotVisible", source.dlq.name) == 0
    # A move by the redrive policy is not a SendMessage (Developer Guide, "Using dead-letter queues").
    assert dlq.metric_value(lab, "NumberOfMessagesSent", source.dlq.name) == 0
    assert dlq.metric_value(lab, "NumberOfMessagesSent", source.name) == 1
    lab.send(source.dlq, {"order_id": "o-2", "amount": 1})
    assert dlq.metric_value(lab, "NumberOfMessagesSent", source.dlq.name) == 1
    with pytest.raises(LabError):
        dlq.metric_value(lab, "NumberOfEmptyReceives", source.dlq.name)


def test_age_of_oldest_message_in_a_dlq_counts_from_the_move(lab):
    source = dlq.queue_pair(lab, max_receive_count=1)
    lab.send(source, {"order_id": "o-1", "amount": 1})
    lab.clock.advance(100)
    dlq.dead_letter_all(lab, source)
    lab.clock.advance(30)
    assert dlq.metric_value(lab, "ApproximateAgeOfOldestMessage", source.dlq.name) == pytest.approx(30, abs=0.1)
    assert dlq.metric_value(lab, "ApproximateAgeOfOldestMessage", source.name) is None


def test_an_alarm_on_the_dlq_goes_off_and_back_and_cloudwatch_shows_it(lab):
    cloudwatch = lab.client("cloudwatch", actor="ops")
    source = dlq.queue_pair(lab, max_receive_count=2)
    name = alarm_on(cloudwatch, source.dlq.name, TreatMissingData="notBreaching")
    assert dlq.evaluate_alarms(lab)[name] == "OK"
    lab.send(source, {"order_id": "o-1", "amount": 1})
    dlq.dead_letter_all(lab, source)
    assert dlq.evaluate_alarms(lab)[name] == "ALARM"
    shown = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert shown["StateValue"] == "ALARM" and "is 1" in shown["StateReason"]
    assert any(e.kind == "note" and f"alarm {name} -> ALARM" in e.detail["text"] for e in lab.history)
    move_back(dlq.operator_client(lab), source.url, lab.clock)
    assert dlq.evaluate_alarms(lab)[name] == "OK"
    state, reason = dlq.evaluate_alarms(lab, reasons=True)[name]
    assert state == "OK" and "is 0: did not cross the threshold" in reason


def test_the_wrong_alarms_miss_the_dlq_or_cry_wolf(lab):
    cloudwatch = lab.client("cloudwatch", actor="ops")
    source = dlq.queue_pair(lab, max_receive_count=2)
    on_source = alarm_on(cloudwatch, source.name)
    on_sent = alarm_on(cloudwatch, source.dlq.name, "NumberOfMessagesSent")
    on_in_flight = alarm_on(cloudwatch, source.dlq.name, "ApproximateNumberOfMessagesNotVisible")
    lab.send(source, {"order_id": "o-1", "amount": 1})
    assert dlq.evaluate_alarms(lab)[on_source] == "ALARM"      # ordinary traffic
    dlq.dead_letter_all(lab, source)
    states = dlq.evaluate_alarms(lab)
    assert states[on_source] == "OK" and states[on_sent] == "OK" and states[on_in_flight] == "OK"


def test_alarms_the_bench_cannot_evaluate_have_insufficient_data(lab):
    cloudwatch = lab.client("cloudwatch", actor="ops")
    source = dlq.queue_pair(lab)
    wrong_namespace = alarm_on(cloudwatch, source.dlq.name, Namespace="SQS", AlarmName="ns")
    no_queue = alarm_on(cloudwatch, "no-such-queue", AlarmName="nq")
    extra_dimension = alarm_on(cloudwatch, source.dlq.name, AlarmName="dims",
                               Dimensions=[{"Name": "QueueName", "Value": source.dlq.name},
                                           {"Name": "Region", "Value": "us-east-1"}])
    age_missing = alarm_on(cloudwatch, source.dlq.name, "ApproximateAgeOfOldestMessage", AlarmName="age")
    age_quiet = alarm_on(cloudwatch, source.dlq.name, "ApproximateAgeOfOldestMessage", AlarmName="age-quiet",
                         TreatMissingData="notBreaching")
    states = dlq.evaluate_alarms(lab)
    assert [states[n] for n in (wrong_namespace, no_queue, extra_dimension, age_missing)] == ["INSUFFICIENT_DATA"] * 4
    assert states[age_quiet] == "OK"


def test_evaluate_alarms_needs_a_lab():
    from sqslab.lab import current_lab

    if current_lab() is None:
        with pytest.raises(LabError):
            dlq.evaluate_alarms()


# -- retention ---------------------------------------------------------------------------------------------
def test_retention_in_a_standard_dlq_runs_from_the_original_send(lab):
    source = dlq.queue_pair(lab, max_receive_count=1, visibility_timeout=3600)
    lab.send(source, {"order_id": "o-1", "amount": 1})
    lab.clock.advance(86400)
    dlq.dead_letter_all(lab, source)
    [left] = dlq.retention_left(lab, source.dlq)
    assert left["key"] == "o-1"
    assert left["expires_in"] == pytest.approx(3 * 86400, abs=5)  # 4-day default, one day already gone


def test_retention_in_a_fifo_dlq_restarts_at_the_move(lab):
    dead = lab.queue(dlq.unique_name("f-dlq") + ".fifo", retention_seconds=2 * 86400)
    source = lab.queue(dlq.unique_name("f") + ".fifo", dlq=dead, max_receive_count=1)
    lab.send(source, {"order_id": "o-1", "amount": 1}, MessageGroupId="g", MessageDeduplicationId="d")
    lab.clock.advance(86400)
    dlq.dead_letter_all(lab, source)
    [left] = dlq.retention_left(lab, dead)
    assert left["expires_in"] == pytest.approx(2 * 86400, abs=5)
