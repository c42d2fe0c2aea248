"""Fault points, the fault plan, and crashes injected through botocore hooks."""

import pytest

from sqslab import Crash, Fault, FaultPlan, LabError, crash_at
from sqslab.faults import CRASH_POINTS, FAULT_POINTS, describe_point, is_fatal


def test_crash_is_not_an_ordinary_exception():
    assert issubclass(Crash, BaseException) and not issubclass(Crash, Exception)
    try:
        try:
            raise Crash("before_delete")
        except Exception:  # what a learner's catch-all looks like
            pytest.fail("an except Exception swallowed the crash")
    except Crash:
        pass


def test_every_crash_point_is_named_and_fatal():
    for point in CRASH_POINTS:
        assert FAULT_POINTS[point].fatal and describe_point(point)
    assert not is_fatal("handler_error") and is_fatal("after:PutItem")


def test_unknown_points_are_refused_with_the_list_of_names():
    with pytest.raises(LabError, match="before_delete"):
        Fault("before_dleete")


def test_a_fault_fires_once_for_its_message_and_occurrence():
    plan = FaultPlan()
    plan.arm(Fault("before_delete", message=1, occurrence=2))
    assert plan.hit("before_delete", "c1", [(0, "order-1", "m1")]) is None
    assert plan.hit("before_delete", "c1", [(1, "order-2", "m2")]) is None  # 1st time for message 1
    with pytest.raises(Crash):
        plan.hit("before_delete", "c2", [(1, "order-2", "m2")])
    assert plan.hit("before_delete", "c3", [(1, "order-2", "m2")]) is None  # already fired
    assert [f.actor for f in plan.fired] == ["c2"]


def test_a_dead_process_cannot_carry_on():
    plan = FaultPlan()
    plan.arm("after_receive")
    with pytest.raises(Crash):
        plan.hit("after_receive", "c1")
    with pytest.raises(Crash, match="already crashed"):
        plan.hit("before_delete", "c1")
    assert plan.hit("before_delete", "c2") is None


def test_non_fatal_faults_are_returned_not_raised():
    plan = FaultPlan()
    plan.arm(Fault("handler_error", message=0))
    fired = plan.hit("handler_error", "c1", [(0, "order-1", None)])
    assert fired is not None and fired.fault.point == "handler_error"


def test_armed_with_always_disarms():
    plan = FaultPlan()
    with pytest.raises(RuntimeError):
        with plan.armed_with("before_delete"):
            assert plan.wants("before_delete")
            raise RuntimeError
    assert not plan.wants("before_delete")


def test_crash_at_before_delete_means_the_request_never_reached_sqs(lab):
    q = lab.queue("faults")
    sqs = lab.client(actor="c1")
    lab.send(q, {"order_id": "o1"})
    m = sqs.receive_message(QueueUrl=q.url)["Messages"][0]
    with pytest.raises(Crash):
        with crash_at(sqs, "before_delete"):
            sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
    assert lab.depth(q)["in_flight"] == 1
    # the hooks are gone: the same client deletes normally now
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
    assert sum(lab.depth(q).values()) == 0


def test_crash_at_after_delete_means_sqs_applied_it(lab):
    q = lab.queue("faults2")
    sqs = lab.client(actor="c1")
    lab.send(q, {"order_id": "o1"})
    m = sqs.receive_message(QueueUrl=q.url)["Messages"][0]
    with pytest.raises(Crash):
        with crash_at(sqs, "after_delete"):
            sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
    assert sum(lab.depth(q).values()) == 0
    assert [e.kind for e in lab.history][-2:] == ["fault", "crash"]


def test_a_fault_for_one_actor_ignores_every_other_process():
    plan = FaultPlan()
    plan.arm(Fault("before_delete", message=0, actor="consumer-2"))
    assert plan.hit("before_delete", "consumer-1", [(0, "order-1", "m1")]) is None
    with pytest.raises(Crash):
        plan.hit("before_delete", "consumer-2", [(0, "order-1", "m1")])
    assert [f.actor for f in plan.fired] == ["consumer-2"]


def test_reached_counts_arrivals_so_a_fault_can_be_armed_for_the_next_one():
    plan = FaultPlan()
    for _ in range(2):
        plan.hit("after_receive", "consumer-1", [(0, "order-1", "m1")])
    assert plan.reached("after_receive", 0, "consumer-1") == 2
    assert plan.reached("after_receive", 0) == 2 and plan.reached("after_receive", 1) == 0
    assert plan.reached("after_receive", actor="consumer-2") == 0
    plan.arm(Fault("after_receive", 0, occurrence=plan.reached("after_receive", 0, "consumer-1") + 1,
                   actor="consumer-1"))
    with pytest.raises(Crash):
        plan.hit("after_receive", "consumer-1", [(0, "order-1", "m1")])


# -- faults aim where they say -------------------------------------------------------------------------
def test_a_batch_entry_failure_aims_at_the_delete_by_default_and_names_its_call():
    from sqslab import Fault

    fault = Fault("batch_entry_failure", message=1)
    assert fault.call == "DeleteMessageBatch"
    assert "on DeleteMessageBatch" in fault.describe()
    assert Fault("batch_entry_failure", 0, call="ChangeMessageVisibilityBatch").call == "ChangeMessageVisibilityBatch"


@pytest.mark.parametrize("kwargs, words", [
    ({"point": "before_delete", "call": "DeleteMessage"}, "already names where it strikes"),
    ({"point": "batch_entry_failure", "call": "DeleteMessage"}, "not one"),
    ({"point": "handler_error", "restart_after": 5}, "does not kill the process"),
    ({"point": "before_delete", "restart_after": -1}, "0 or more"),
])
def test_a_fault_that_cannot_aim_where_it_says_is_refused(kwargs, words):
    from sqslab import Fault, LabError

    with pytest.raises(LabError, match=words):
        Fault(**kwargs)


def test_a_heartbeats_batch_call_does_not_take_the_deletes_entry_failure(lab):
    from sqslab import Fault, run_scenario

    def heartbeat_then_batch_delete(p):
        messages = p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        p.sqs.change_message_visibility_batch(QueueUrl=p.queue_url,
                                              Entries=[{**e, "VisibilityTimeout": 60} for e in entries])
        for m in messages:
            p.handle(m["Body"])
        failed = p.sqs.delete_message_batch(QueueUrl=p.queue_url, Entries=entries).get("Failed", [])
        p.state["failed"] = p.state.get("failed", []) + [f["Id"] for f in failed]

    outcome = run_scenario(heartbeat_then_batch_delete, messages=3, lab=lab, expect="at_least_once",
                           faults=[Fault("batch_entry_failure", message=1)])
    [fired] = outcome.faults
    assert fired.fault.call == "DeleteMessageBatch" and fired.key == "order-2"
    failed_deletes = [e for e in outcome.history.of_kind("delete") if not e.detail.get("ok")]
    assert [e.key for e in failed_deletes] == ["order-2"]


def test_a_sender_fault_entry_fails_again_when_sent_again_as_it_was(lab):
    from sqslab import Fault

    queue = lab.queue("sender-fault")
    for i in range(3):
        lab.send(queue, {"order_id": f"order-{i + 1}", "amount": 1})
    sqs = lab.client(actor="consumer-1")
    messages = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=20)["Messages"]
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    with lab.faults.armed_with(Fault("batch_entry_failure", message=1, sender_fault=True)):
        answer = sqs.delete_message_batch(QueueUrl=queue.url, Entries=entries)
    [failed] = answer["Failed"]
    assert failed["SenderFault"] is True and failed["Code"] == "ReceiptHandleIsInvalid"
    assert len(answer["Successful"]) == 2
    again = sqs.delete_message_batch(QueueUrl=queue.url, Entries=[e for e in entries if e["Id"] == failed["Id"]])
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200 and not again["Successful"]
    assert [f["SenderFault"] for f in again["Failed"]] == [True], "as on SQS: the same entry fails the same way"
    assert lab.depth(queue) == {"visible": 0, "in_flight": 1, "delayed": 0}
    deletes = [e for e in lab.history.of_kind("delete") if e.key == "order-2"]
    assert len(deletes) == 2 and not any(e.detail["ok"] for e in deletes)
    assert all(e.detail["sender_fault"] is True for e in deletes), "the history says whose fault it was"
    assert "failed: ReceiptHandleIsInvalid" in deletes[0].describe()


def test_an_injected_failure_on_sqss_side_is_cured_by_a_retry(lab):
    from sqslab import Fault

    queue = lab.queue("sqs-side")
    for i in range(2):
        lab.send(queue, {"order_id": f"order-{i + 1}", "amount": 1})
    sqs = lab.client(actor="consumer-1")
    messages = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=20)["Messages"]
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    with lab.faults.armed_with(Fault("batch_entry_failure", message=0)):
        [failed] = sqs.delete_message_batch(QueueUrl=queue.url, Entries=entries)["Failed"]
    assert failed["SenderFault"] is False and failed["Code"] == "InternalError"
    assert [e.detail.get("sender_fault") for e in lab.history.of_kind("delete") if not e.detail["ok"]] == [False]
    retry = sqs.delete_message_batch(QueueUrl=queue.url, Entries=[e for e in entries if e["Id"] == failed["Id"]])
    assert len(retry["Successful"]) == 1 and not retry.get("Failed")
    assert sum(lab.depth(queue).values()) == 0


def test_only_a_batch_entry_failure_can_be_the_senders_fault():
    from sqslab import Fault, LabError

    assert "SenderFault" in Fault("batch_entry_failure", 0, sender_fault=True).describe()
    with pytest.raises(LabError, match="sender_fault"):
        Fault("handler_error", 0, sender_fault=True)
