"""Lesson 5's bench pieces (sqslab.lessons.dlq): orders, the outage, the incident, alarms, retention."""

from __future__ import annotations

import json
import threading
import time

import pytest

from sqslab import Fault, LabError, run_scenario
from sqslab.sleeps import SleepMeter
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
        clock.sleep(1)
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
            clock.sleep(1)

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
    assert sum(1 for e in outcome.history if e.kind == "send" and e.actor == "replay") == 1
    assert good.state["results"] == [1, 0], "the operator ran the script again after the replay: nothing left"
    blind = dlq.Incident(consumer(dlq.parse_order_v1, charge=charge_blindly),
                         consumer(dlq.parse_order_v2, charge=charge_blindly), move_back, replay_twice=True)
    verdict = run_scenario(blind, messages=bodies, max_receive_count=2).verdict
    assert not verdict.ok and verdict.problems[0].kind == "duplicate" and verdict.problems[0].key == "order-2"


# -- the given charge and the consumer's side ---------------------------------------------------------------
def test_the_given_charge_charges_once_and_keeps_nothing_of_a_failed_attempt(lab):
    db = lab.effects.connect("worker")
    body = json.dumps({"order_id": "o-1", "amount": "12.50"})
    assert dlq.charge_order(db, body) is True and dlq.charge_order(db, body) is False
    assert lab.effects.counts()["o-1"] == 1
    with pytest.raises(dlq.InvalidOrder):
        dlq.charge_order(db, json.dumps({"order_id": "o-2", "amount": -1}))
    class Refusing:  # the charge fails after the record was written in the open transaction
        def __getattr__(self, name):
            return getattr(db, name)

        def __enter__(self):
            return db.__enter__()

        def __exit__(self, *exc):
            return db.__exit__(*exc)

        def apply_effect(self, *args, **kwargs):
            raise RuntimeError("payment refused")

    with pytest.raises(RuntimeError):
        dlq.charge_order(Refusing(), json.dumps({"order_id": "o-3", "amount": 3}))
    assert dlq.charge_order(db, json.dumps({"order_id": "o-3", "amount": 3})) is True, "the failed attempt left no record"
    assert lab.effects.counts()["o-3"] == 1


def test_consumer_runs_the_exercise_with_the_tests_classifier_and_the_given_charge(lab):
    seen = []

    def consume_with_dlq(sqs, queue_url, handle, is_poison):
        for m in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20).get("Messages", []):
            try:
                seen.append(handle(m["Body"]))
            except Exception as error:
                seen.append(is_poison(error))
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])

    outcome = run_scenario(dlq.consumer(consume_with_dlq), messages=dlq.incident_orders(2, string_amounts=(), broken=(1,)),
                           max_receive_count=2, poison=["order-2"], lab=lab)
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert seen == [True, True, True], "charged (True), then order-2 classified as poison twice"
    assert dlq.invalid_order(dlq.InvalidOrder("x")) and not dlq.invalid_order(KeyError("x"))


def test_the_steady_consumer_leaves_every_failure_to_sqs(lab):
    outcome = run_scenario(dlq.steady_consumer(), messages=dlq.incident_orders(2, string_amounts=(), broken=(1,)),
                           max_receive_count=3, poison=["order-2"], lab=lab)
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert [round(e.time) for e in outcome.history.of_kind("receive") if e.key == "order-2"] == [0, 30, 60]


def _consume(*, poison_back=True, all_back=False, stop_at_failure=False, count_received=False):
    def consume_with_dlq(sqs, queue_url, handle, is_poison):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        done = 0
        for m in messages:
            try:
                handle(m["Body"])
            except Exception as error:
                if all_back or (poison_back and is_poison(error)):
                    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                  VisibilityTimeout=0)
                if stop_at_failure:
                    break
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            done += 1
        return len(messages) if count_received else done
    return consume_with_dlq


def test_check_step_passes_a_right_step_even_one_that_short_polls(lab, monkeypatch):
    monkeypatch.setenv("SQSLAB_SAMPLE_SHORT_POLLS", "1")
    verdict = dlq.check_step(_consume(), lab=lab)
    assert verdict.ok, verdict.explanation
    assert dlq.check_retry(_consume(), lab=lab).ok


@pytest.mark.parametrize("wrong, words", [
    ({"stop_at_failure": True}, "good-2 was handled 0 time(s)"),
    ({"poison_back": False}, "bad is poison, yet it is not in the dead-letter queue"),
    ({"all_back": True}, "later was received 3 times with no time passing"),
    ({"count_received": True}, "two messages were finished"),
])
def test_check_step_explains_each_broken_promise(lab, wrong, words):
    verdict = dlq.check_step(_consume(**wrong), lab=lab)
    assert not verdict.ok and words in verdict.explanation, verdict.explanation


def test_check_retry_explains_a_retry_that_leaves_the_message_behind(lab):
    def never_deletes(sqs, queue_url, handle, is_poison):
        for m in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20).get("Messages", []):
            try:
                handle(m["Body"])
            except Exception:
                pass
        return 1

    verdict = dlq.check_retry(never_deletes, lab=lab)
    assert not verdict.ok and "delete a message once its retry succeeds" in verdict.explanation, verdict.explanation


# -- the operator's script, killed and run again ------------------------------------------------------------
def waits_for_a_running_task(sqs, queue_url, clock):
    arn = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
                     ["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
    latest = sqs.list_message_move_tasks(SourceArn=arn)["Results"]
    if not latest or latest[0]["Status"] != "RUNNING":
        sqs.start_message_move_task(SourceArn=arn)
    while (task := sqs.list_message_move_tasks(SourceArn=arn)["Results"][0])["Status"] == "RUNNING":
        clock.sleep(1)
    return task["ApproximateNumberOfMessagesMoved"]


def _dlq_url(sqs, queue_url):
    arn = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
                     ["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
    return sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]


def copies_by_hand(*, delete_first=False, stop_when_empty=False):
    def redrive(sqs, queue_url, clock):
        dlq_url, moved = _dlq_url(sqs, queue_url), 0
        while True:
            batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])
            for m in batch:
                if delete_first:
                    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
                sqs.send_message(QueueUrl=queue_url, MessageBody=m["Body"])
                if not delete_first:
                    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
                moved += 1
            if batch:
                continue
            if stop_when_empty:
                return moved
            left = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
            if int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"]) == 0:
                return moved
            clock.sleep(5)
    return redrive


def test_an_operators_clock_waits_but_cannot_move_time(lab):
    clock = dlq.OperatorClock(lab.clock)
    before = clock.now()
    clock.sleep(2.5)
    assert clock.now() - before == pytest.approx(2.5)
    with pytest.raises(LabError, match="cannot move time"):
        clock.advance(1)
    with pytest.raises(ValueError):
        clock.sleep(-1)


def test_a_killed_script_is_run_again_from_the_start_by_a_new_process(lab):
    incident = dlq.Incident(consumer(dlq.parse_order_v1), consumer(dlq.parse_order_v2), waits_for_a_running_task)
    outcome = run_scenario(incident, messages=dlq.incident_orders(2, string_amounts=(0, 1)), max_receive_count=2,
                           faults=[Fault("after:StartMessageMoveTask", actor="operator", restart_after=5)], lab=lab)
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert [(e.actor, e.detail["point"]) for e in outcome.history.of_kind("crash")] == [
        ("operator", "after:StartMessageMoveTask")]
    # 5 s later the task had moved both: the rerun found the DLQ empty, its own move moved nothing
    assert incident.state["runs"] == 2 and incident.state["results"] == [0]
    notes = [e.detail["text"] for e in outcome.history.of_kind("note") if e.actor == "operator"]
    assert any("was killed (after:StartMessageMoveTask); the operator runs it again 5 s later" in n for n in notes)


def test_a_script_that_starts_a_second_task_fails_when_run_again_at_once(lab):
    incident = dlq.Incident(consumer(dlq.parse_order_v1), consumer(dlq.parse_order_v2), move_back)
    verdict = run_scenario(incident, messages=dlq.incident_orders(2, string_amounts=(0, 1)), max_receive_count=2,
                           faults=[Fault("after:StartMessageMoveTask", actor="operator")], lab=lab).verdict
    assert not verdict.ok and verdict.problems[0].kind == "script_failed"
    assert "There is already a task running" in verdict.explanation


def test_a_script_that_sleeps_in_real_time_is_stopped_before_it_sleeps(lab):
    def real_sleep(sqs, queue_url, clock):
        time.sleep(5)

    incident = dlq.Incident(consumer(dlq.parse_order_v1), consumer(dlq.parse_order_v2), real_sleep)
    with SleepMeter() as real:
        verdict = run_scenario(incident, messages=dlq.incident_orders(1, string_amounts=(0,)), max_receive_count=2,
                               lab=lab).verdict
    assert real.sleeps == 0, real.describe()
    assert not verdict.ok and "real_sleep() raised RealSleep" in verdict.explanation and "clock.sleep" in verdict.explanation


def test_other_threads_sleep_undisturbed_while_a_script_runs(lab):
    slept = []

    def script(sqs, queue_url, clock):
        worker = threading.Thread(target=lambda: (time.sleep(0.01), slept.append(True)))
        worker.start()
        worker.join()
        return waits_for_a_running_task(sqs, queue_url, clock)

    incident = dlq.Incident(consumer(dlq.parse_order_v1), consumer(dlq.parse_order_v2), script)
    assert run_scenario(incident, messages=dlq.incident_orders(1, string_amounts=(0,)), max_receive_count=2,
                        lab=lab).verdict.ok
    assert slept == [True]


def test_a_killed_replay_is_run_again_from_the_start(lab):
    incident = dlq.Incident(consumer(dlq.parse_order_v1), consumer(dlq.parse_order_v2), waits_for_a_running_task,
                            replay_twice=True)
    outcome = run_scenario(incident, messages=dlq.incident_orders(3, string_amounts=(0, 2)), max_receive_count=2,
                           faults=[Fault("after:SendMessage", actor="replay")], lab=lab)
    assert outcome.verdict.ok, outcome.verdict.explanation
    sends = [e.key for e in outcome.history.of_kind("send") if e.actor.startswith("replay")]
    assert sends == ["order-1", "order-1", "order-3"], sends
    assert incident.state["results"] == [2, 0]


def test_redrive_plans_kill_after_the_first_and_the_last_arrival_of_each_call_then_late_then_twice():
    plans = list(dlq.redrive_plans({"GetQueueAttributes": 1, "ReceiveMessage": 3}))
    singles = [p[0] for p in plans if len(p) == 1]
    assert [(f.point, f.occurrence, f.restart_after) for f in singles] == [
        ("after:GetQueueAttributes", 1, 0), ("after:ReceiveMessage", 1, 0), ("after:ReceiveMessage", 3, 0),
        ("after:GetQueueAttributes", 1, 5), ("after:ReceiveMessage", 1, 5), ("after:ReceiveMessage", 3, 5)]
    assert all(f.actor == "operator" for f in singles)
    assert [(p[1].actor, p[1].point) for p in plans if len(p) == 2][0] == ("operator-2", "after:GetQueueAttributes")
    assert dlq.describe_redrive_plan(plans[2]) == "the script killed after its 3rd ReceiveMessage, run again at once"


def test_explore_redrive_passes_scripts_that_can_be_run_again(lab):
    for script in (waits_for_a_running_task, copies_by_hand()):
        verdict = dlq.explore_redrive(script, lab=lab)
        assert verdict.ok, verdict.explanation
        assert verdict.runs == 12


@pytest.mark.parametrize("script, kind, words", [
    (move_back, "script_failed", "killed after its 1st ListMessageMoveTasks, run again at once"),
    (copies_by_hand(delete_first=True), "lost", "killed after its 1st DeleteMessage, run again at once"),
    (copies_by_hand(stop_when_empty=True), "dead_lettered", "killed after its 1st ReceiveMessage, run again at once"),
])
def test_explore_redrive_finds_where_a_script_loses_or_strands_a_message(lab, script, kind, words):
    verdict = dlq.explore_redrive(script, lab=lab)
    assert not verdict.ok and verdict.problems[0].kind == kind, verdict.explanation
    assert words in verdict.explanation.splitlines()[0]
    assert "Why: the operator's script was killed part-way" in verdict.explanation


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
    source = dlq.queue_pair(lab, max_receive_count=2)
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
    source = dlq.queue_pair(lab, max_receive_count=2, visibility_timeout=3600)
    lab.send(source, {"order_id": "o-1", "amount": 1})
    lab.clock.advance(86400)
    dlq.dead_letter_all(lab, source)
    [left] = dlq.retention_left(lab, source.dlq)
    assert left["key"] == "o-1"
    assert left["expires_in"] == pytest.approx(3 * 86400, abs=5)  # 4-day default, one day already gone


def test_retention_in_a_fifo_dlq_restarts_at_the_move(lab):
    dead = lab.queue(dlq.unique_name("f-dlq") + ".fifo", retention_seconds=2 * 86400)
    source = lab.queue(dlq.unique_name("f") + ".fifo", dlq=dead, max_receive_count=2)
    lab.send(source, {"order_id": "o-1", "amount": 1}, MessageGroupId="g", MessageDeduplicationId="d")
    lab.clock.advance(86400)
    dlq.dead_letter_all(lab, source)
    [left] = dlq.retention_left(lab, dead)
    assert left["expires_in"] == pytest.approx(2 * 86400, abs=5)


def test_an_idle_queue_publishes_no_data_and_each_alarm_follows_its_treat_missing_data(lab):
    cloudwatch = lab.client("cloudwatch", actor="ops")
    source = dlq.queue_pair(lab, max_receive_count=2)
    quiet = alarm_on(cloudwatch, source.dlq.name, TreatMissingData="notBreaching")
    default = alarm_on(cloudwatch, source.dlq.name, AlarmName="default-missing")
    assert dlq.evaluate_alarms(lab) == {quiet: "OK", default: "OK"}  # the DLQ is empty: its depth is 0
    state, reason = dlq.evaluate_alarms(lab, reasons=True, idle=[source.dlq.name])[default]
    assert state == "INSUFFICIENT_DATA" and "has no data (TreatMissingData=missing)" in reason
    assert dlq.evaluate_alarms(lab, idle=[source.dlq.name])[quiet] == "OK"
    assert dlq.evaluate_alarms(lab, idle=[source.name])[default] == "OK"  # another queue's idleness is no matter
