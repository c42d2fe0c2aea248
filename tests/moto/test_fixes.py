"""The bench's corrections of moto 5.2.5, each stated as the behaviour AWS documents.

Every test talks to SQS through ordinary boto3 calls on a mocked client, under the bench's stopped
clock, so no test waits in real time.
"""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sqslab.moto import backend, fixes, state
from sqslab.clock import Clock
from sqslab.exceptions import LabError
from sqslab.sleeps import SleepMeter

REGION = "us-east-1"


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture
def clock():
    """The bench's stopped clock, registered for long polls."""
    fixes.apply()
    clock = Clock().start()
    backend.use_clock(clock)
    yield clock
    backend.use_clock(None)
    clock.stop()


@pytest.fixture(scope="module")
def client():
    """One boto3 SQS client for the module: building one costs about 80 ms, a fresh mock nothing."""
    return boto3.client("sqs", region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture
def sqs(client, clock):
    """The client, talking to a fresh mock with moto corrected."""
    with mock_aws():
        yield client


@pytest.fixture
def events():
    """Everything SQS reports doing on its own during the test."""
    heard: list[dict] = []
    backend.add_listener(heard.append)
    yield heard
    backend.remove_listener(heard.append)


def make_queue(sqs, name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, **kw):
    kw.setdefault("WaitTimeSeconds", 0)
    return sqs.receive_message(QueueUrl=url, **kw).get("Messages", [])


def error_code(excinfo) -> str:
    error = excinfo.value.response["Error"]
    return error.get("QueryErrorCode", error["Code"])


# -- applying ---------------------------------------------------------------------------------------
def test_apply_twice_patches_moto_only_once():
    from moto.sqs.models import Message, Queue, SQSBackend
    from moto.sqs.responses import SQSResponse

    fixes.apply()
    before = {(cls, name): value for cls in (SQSBackend, Queue, Message, SQSResponse)
              for name, value in vars(cls).items()}
    assert fixes.apply() == tuple(c.name for c in fixes.CORRECTIONS)
    after = {(cls, name): value for cls in (SQSBackend, Queue, Message, SQSResponse)
             for name, value in vars(cls).items()}
    assert after == before


def test_every_correction_names_the_facts_row_it_restores():
    for correction in fixes.CORRECTIONS:
        assert correction.restores.strip(), correction.name
        assert "Restores" in (correction.apply.__doc__ or ""), correction.name


# -- a. thread safety -------------------------------------------------------------------------------
def test_concurrent_receivers_never_get_the_same_message_within_its_visibility_timeout(sqs, monkeypatch):
    from moto.sqs.models import Message

    url, _ = make_queue(sqs, "work")
    for start in (0, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)])
    # Yield the GIL between moto's "is it visible?" and its "mark it received": without the lock
    # this hands the same message to two threads in every run (measured 10 of 10), not 1 in 5.
    mark_received = Message.mark_received

    def mark_received_after_a_thread_switch(self, *args, **kwargs):
        time.sleep(0)
        return mark_received(self, *args, **kwargs)

    monkeypatch.setattr(Message, "mark_received", mark_received_after_a_thread_switch)
    received: list[str] = []
    barrier = threading.Barrier(4)

    def consume():
        barrier.wait()
        while True:
            # The clock is stopped: a 300 s visibility timeout cannot expire during the test.
            batch = receive(sqs, url, MaxNumberOfMessages=2, VisibilityTimeout=300)
            if not batch:
                return
            received.extend(m["MessageId"] for m in batch)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(received) == len(set(received)) == 20


# -- b. stale receipt handles -----------------------------------------------------------------------
def test_delete_with_stale_receipt_handle_keeps_message(sqs, clock, events):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    first = receive(sqs, url, VisibilityTimeout=10)[0]
    clock.advance(11)
    second = receive(sqs, url, VisibilityTimeout=10)[0]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]

    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # succeeds

    clock.advance(11)
    again = receive(sqs, url)
    assert [m["MessageId"] for m in again] == [first["MessageId"]]
    assert [e["kind"] for e in events] == ["stale_delete"]


def test_delete_with_most_recent_receipt_handle_removes_message(sqs, clock):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    first = receive(sqs, url, VisibilityTimeout=10)[0]
    clock.advance(11)
    second = receive(sqs, url, VisibilityTimeout=10)[0]

    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # already gone: still succeeds

    clock.advance(11)
    assert receive(sqs, url) == []


def test_delete_batch_with_stale_receipt_handle_reports_success_and_keeps_message(sqs, clock):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    first = receive(sqs, url, VisibilityTimeout=10)[0]
    clock.advance(11)
    receive(sqs, url, VisibilityTimeout=10)

    answer = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "stale", "ReceiptHandle": first["ReceiptHandle"]}])

    assert [e["Id"] for e in answer["Successful"]] == ["stale"]
    assert answer.get("Failed", []) == []
    clock.advance(11)
    assert [m["Body"] for m in receive(sqs, url)] == ["order-1"]


def test_delete_with_a_handle_never_issued_is_receipt_handle_invalid(sqs):
    url, _ = make_queue(sqs, "orders")
    with pytest.raises(ClientError) as excinfo:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert error_code(excinfo) == "ReceiptHandleIsInvalid"


# -- c. FIFO deduplication window -------------------------------------------------------------------
def make_fifo(sqs, name="payments.fifo", **attributes):
    return make_queue(sqs, name, FifoQueue="true", **attributes)


def send_fifo(sqs, url, body, dedup_id=None, group="g1", **kw):
    if dedup_id is not None:
        kw["MessageDeduplicationId"] = dedup_id
    return sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, **kw)


def consume_all(sqs, url):
    messages = receive(sqs, url, MaxNumberOfMessages=10)
    for m in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return messages


def test_fifo_send_after_delete_within_five_minutes_is_accepted_but_not_delivered(sqs, clock, events):
    url, _ = make_fifo(sqs)
    first = send_fifo(sqs, url, "pay 10", dedup_id="payment-1")
    assert len(consume_all(sqs, url)) == 1
    clock.advance(299)

    retry = send_fifo(sqs, url, "pay 10", dedup_id="payment-1")

    assert retry["MessageId"] == first["MessageId"]
    assert receive(sqs, url) == []
    assert events[-1] == {"kind": "deduplicated", "queue": "payments.fifo", "dedup_id": "payment-1",
                          "message_id": first["MessageId"], "at": pytest.approx(clock.now())}


def test_fifo_send_five_minutes_after_the_first_send_is_delivered(sqs, clock):
    url, _ = make_fifo(sqs)
    first = send_fifo(sqs, url, "pay 10", dedup_id="payment-1")
    consume_all(sqs, url)
    clock.advance(200)
    send_fifo(sqs, url, "pay 10", dedup_id="payment-1")  # a duplicate: does not restart the window
    clock.advance(101)

    later = send_fifo(sqs, url, "pay 10", dedup_id="payment-1")

    assert later["MessageId"] != first["MessageId"]
    assert [m["MessageId"] for m in receive(sqs, url)] == [later["MessageId"]]


def test_content_based_dedup_hashes_the_body_only(sqs, clock):
    url, _ = make_fifo(sqs, ContentBasedDeduplication="true")
    send_fifo(sqs, url, "pay 10", MessageAttributes={"try": {"DataType": "Number", "StringValue": "1"}})
    consume_all(sqs, url)
    clock.advance(60)

    send_fifo(sqs, url, "pay 10", MessageAttributes={"try": {"DataType": "Number", "StringValue": "2"}})
    send_fifo(sqs, url, "pay 20")

    assert [m["Body"] for m in receive(sqs, url, MaxNumberOfMessages=10)] == ["pay 20"]


def test_fifo_dedup_is_per_queue(sqs):
    first_url, _ = make_fifo(sqs, "a.fifo")
    second_url, _ = make_fifo(sqs, "b.fifo")
    send_fifo(sqs, first_url, "pay 10", dedup_id="payment-1")
    consume_all(sqs, first_url)

    send_fifo(sqs, second_url, "pay 10", dedup_id="payment-1")

    assert len(receive(sqs, second_url)) == 1


def test_fifo_batch_send_of_a_duplicate_is_accepted_but_not_delivered(sqs, clock):
    url, _ = make_fifo(sqs)
    first = send_fifo(sqs, url, "pay 10", dedup_id="payment-1")
    consume_all(sqs, url)

    answer = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "retry", "MessageBody": "pay 10", "MessageGroupId": "g1", "MessageDeduplicationId": "payment-1"},
        {"Id": "new", "MessageBody": "pay 20", "MessageGroupId": "g1", "MessageDeduplicationId": "payment-2"}])

    ids = {e["Id"]: e["MessageId"] for e in answer["Successful"]}
    assert ids["retry"] == first["MessageId"]
    assert [m["Body"] for m in receive(sqs, url, MaxNumberOfMessages=10)] == ["pay 20"]


# -- d. ChangeMessageVisibility ---------------------------------------------------------------------
def test_change_visibility_after_timeout_expired_is_message_not_inflight(sqs, clock):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    message = receive(sqs, url, VisibilityTimeout=10)[0]
    clock.advance(11)

    with pytest.raises(sqs.exceptions.MessageNotInflight) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=60)

    assert error_code(excinfo) == "MessageNotInflight"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert [m["Body"] for m in receive(sqs, url)] == ["order-1"]  # not hidden again


def test_change_visibility_of_in_flight_message_extends_its_timeout(sqs, clock):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    message = receive(sqs, url, VisibilityTimeout=10)[0]
    clock.advance(5)

    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=30)

    clock.advance(20)
    assert receive(sqs, url) == []
    clock.advance(11)
    assert len(receive(sqs, url)) == 1


def test_change_visibility_to_zero_makes_the_message_receivable_at_once(sqs):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    message = receive(sqs, url, VisibilityTimeout=30)[0]

    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)

    assert [m["MessageId"] for m in receive(sqs, url)] == [message["MessageId"]]


def test_change_visibility_to_a_negative_timeout_is_invalid_parameter_value(sqs):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    message = receive(sqs, url, VisibilityTimeout=30)[0]

    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=-1)
    answer = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "negative", "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": -1}])

    assert error_code(excinfo) == "InvalidParameterValue"
    assert [(e["Id"], e["Code"]) for e in answer["Failed"]] == [("negative", "InvalidParameterValue")]
    assert receive(sqs, url) == []  # the message keeps its lease


def test_change_visibility_of_deleted_message_is_receipt_handle_invalid(sqs):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    message = receive(sqs, url)[0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=60)
    assert error_code(excinfo) == "ReceiptHandleIsInvalid"


def test_change_visibility_with_superseded_handle_fails_and_keeps_the_new_lease(sqs, clock):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    first = receive(sqs, url, VisibilityTimeout=10)[0]
    clock.advance(11)
    receive(sqs, url, VisibilityTimeout=10)  # another consumer now holds the message

    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)

    assert error_code(excinfo) == "ReceiptHandleIsInvalid"
    assert receive(sqs, url) == []  # the new receiver's lease was not cut short


def test_change_visibility_batch_reports_not_in_flight_per_entry(sqs, clock):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    expired = receive(sqs, url, VisibilityTimeout=10)[0]
    sqs.send_message(QueueUrl=url, MessageBody="order-2")
    held = receive(sqs, url, VisibilityTimeout=100)[0]
    clock.advance(11)

    answer = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "expired", "ReceiptHandle": expired["ReceiptHandle"], "VisibilityTimeout": 60},
        {"Id": "held", "ReceiptHandle": held["ReceiptHandle"], "VisibilityTimeout": 60}])

    assert [e["Id"] for e in answer["Successful"]] == ["held"]
    assert [(e["Id"], e["Code"]) for e in answer["Failed"]] == [("expired", "MessageNotInflight")]


# -- e. message move tasks --------------------------------------------------------------------------
@pytest.fixture
def redrive(sqs, clock):
    """A source queue whose three messages failed once each and went to its DLQ."""
    dlq_url, dlq_arn = make_queue(sqs, "orders-dlq")
    url, arn = make_queue(sqs, "orders", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}))
    sent = [sqs.send_message(QueueUrl=url, MessageBody=f"order-{i}")["MessageId"] for i in range(3)]
    assert len(receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=10)) == 3
    clock.advance(11)
    assert receive(sqs, url, MaxNumberOfMessages=10) == []  # moto moves them to the DLQ here
    return {"url": url, "arn": arn, "dlq_url": dlq_url, "dlq_arn": dlq_arn, "sent": sent}


def tasks(sqs, arn, **kw):
    return sqs.list_message_move_tasks(SourceArn=arn, **kw)["Results"]


def test_move_task_redrives_to_each_messages_original_source_as_new_messages(sqs, clock, redrive):
    handle = sqs.start_message_move_task(SourceArn=redrive["dlq_arn"])["TaskHandle"]
    [running] = tasks(sqs, redrive["dlq_arn"])
    assert running["Status"] == "RUNNING"
    assert running["TaskHandle"] == handle
    assert running["ApproximateNumberOfMessagesToMove"] == 3
    assert "DestinationArn" not in running

    clock.advance(1)

    [done] = tasks(sqs, redrive["dlq_arn"])
    assert done["Status"] == "COMPLETED"
    assert done["ApproximateNumberOfMessagesMoved"] == 3
    assert "TaskHandle" not in done
    back = receive(sqs, redrive["url"], MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
    assert sorted(m["Body"] for m in back) == ["order-0", "order-1", "order-2"]
    assert not {m["MessageId"] for m in back} & set(redrive["sent"])
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in back} == {"1"}
    assert receive(sqs, redrive["dlq_url"]) == []


def test_move_task_moves_max_number_of_messages_per_second(sqs, clock, redrive):
    sqs.start_message_move_task(SourceArn=redrive["dlq_arn"], MaxNumberOfMessagesPerSecond=1)

    clock.advance(1)
    [task] = tasks(sqs, redrive["dlq_arn"])
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"]) == ("RUNNING", 1)
    assert task["MaxNumberOfMessagesPerSecond"] == 1

    clock.advance(2)
    [task] = tasks(sqs, redrive["dlq_arn"])
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"]) == ("COMPLETED", 3)


def test_move_task_to_a_destination_arn(sqs, clock, redrive):
    other_url, other_arn = make_queue(sqs, "orders-retry")
    sqs.start_message_move_task(SourceArn=redrive["dlq_arn"], DestinationArn=other_arn)
    clock.advance(1)

    assert tasks(sqs, redrive["dlq_arn"])[0]["DestinationArn"] == other_arn
    assert len(receive(sqs, other_url, MaxNumberOfMessages=10)) == 3
    assert receive(sqs, redrive["url"]) == []


def test_only_one_running_move_task_per_source_queue(sqs, redrive):
    sqs.start_message_move_task(SourceArn=redrive["dlq_arn"], MaxNumberOfMessagesPerSecond=1)

    with pytest.raises(ClientError) as excinfo:
        sqs.start_message_move_task(SourceArn=redrive["dlq_arn"])
    assert error_code(excinfo) == "UnsupportedOperation"


def test_move_task_source_must_be_a_dead_letter_queue(sqs, redrive):
    with pytest.raises(ClientError) as excinfo:
        sqs.start_message_move_task(SourceArn=redrive["arn"])
    assert error_code(excinfo) == "InvalidParameterValue"


def test_move_task_rate_above_500_is_rejected(sqs, redrive):
    with pytest.raises(ClientError) as excinfo:
        sqs.start_message_move_task(SourceArn=redrive["dlq_arn"], MaxNumberOfMessagesPerSecond=501)
    assert error_code(excinfo) == "InvalidParameterValue"


def test_move_task_on_an_unknown_queue_is_resource_not_found(sqs):
    with pytest.raises(ClientError) as excinfo:
        sqs.start_message_move_task(SourceArn="arn:aws:sqs:us-east-1:123456789012:nope")
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_cancel_message_move_task_leaves_unmoved_messages_in_the_dlq(sqs, clock, redrive):
    handle = sqs.start_message_move_task(SourceArn=redrive["dlq_arn"], MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    clock.advance(1)

    answer = sqs.cancel_message_move_task(TaskHandle=handle)

    assert answer["ApproximateNumberOfMessagesMoved"] == 1
    clock.advance(10)
    [task] = tasks(sqs, redrive["dlq_arn"])
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"]) == ("CANCELLED", 1)
    assert len(receive(sqs, redrive["dlq_url"], MaxNumberOfMessages=10)) == 2


def test_list_message_move_tasks_gives_the_newest_first_up_to_max_results(sqs, clock, redrive):
    first = sqs.start_message_move_task(SourceArn=redrive["dlq_arn"], MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    sqs.cancel_message_move_task(TaskHandle=first)
    second = sqs.start_message_move_task(SourceArn=redrive["dlq_arn"], MaxNumberOfMessagesPerSecond=1)["TaskHandle"]

    assert [t["Status"] for t in tasks(sqs, redrive["dlq_arn"])] == ["RUNNING"]
    assert [t.get("TaskHandle") for t in tasks(sqs, redrive["dlq_arn"], MaxResults=10)] == [second, None]


def test_listeners_hear_dlq_moves_and_move_task_moves(sqs, clock, events):
    _, dlq_arn = make_queue(sqs, "orders-dlq")
    url, _ = make_queue(sqs, "orders", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}))
    sent = sqs.send_message(QueueUrl=url, MessageBody="order-1")["MessageId"]
    receive(sqs, url, VisibilityTimeout=10)
    clock.advance(11)
    receive(sqs, url)
    sqs.start_message_move_task(SourceArn=dlq_arn)
    clock.advance(1)
    [moved] = receive(sqs, url)

    assert [{k: e[k] for k in e if k != "at"} for e in events] == [
        {"kind": "dlq_move", "message_id": sent, "from": "orders", "to": "orders-dlq", "body": "order-1"},
        {"kind": "move_task", "message_id": moved["MessageId"], "original_message_id": sent,
         "from": "orders-dlq", "to": "orders", "body": "order-1"},
    ]


def test_fifo_message_moved_to_its_dlq_takes_its_message_id_as_dedup_id(sqs, clock):
    dlq_url, dlq_arn = make_fifo(sqs, "payments-dlq.fifo")
    url, _ = make_fifo(sqs, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}))
    sent = send_fifo(sqs, url, "pay 10", dedup_id="payment-1")["MessageId"]
    receive(sqs, url, VisibilityTimeout=10)
    clock.advance(11)
    receive(sqs, url)

    [dead] = receive(sqs, dlq_url, MessageSystemAttributeNames=["MessageDeduplicationId"])
    assert dead["Attributes"]["MessageDeduplicationId"] == sent


# -- f. long polling --------------------------------------------------------------------------------
@pytest.fixture
def real_sleeps():
    """Counts the real sleeps and waits of the thread that makes the long poll, and only those.

    The test's own join on it waits, and so may a thread another test of this worker left running
    (moto's server mode serves on one): neither is the long poll's doing.
    """
    with SleepMeter(ignore=lambda kind, frame: threading.current_thread().name != POLLER) as meter:
        yield meter


POLLER = "long-poll"


def long_poll(sqs, url, wait):
    """Receive with WaitTimeSeconds=wait; fail, rather than hang, if it has not returned in 5 real s."""
    answer: list = []
    poller = threading.Thread(target=lambda: answer.append(receive(sqs, url, WaitTimeSeconds=wait)), daemon=True,
                              name=POLLER)
    poller.start()
    poller.join(timeout=5)
    assert answer, f"ReceiveMessage(WaitTimeSeconds={wait}) had not returned after 5 real seconds"
    return answer[0]


def test_long_poll_on_an_empty_queue_returns_nothing_when_the_wait_ends(sqs, clock, real_sleeps):
    url, _ = make_queue(sqs, "orders")
    t0, sleeps = clock.now(), real_sleeps

    assert long_poll(sqs, url, 20) == []

    assert clock.now() - t0 == pytest.approx(20)
    assert not sleeps.asked, f"the long poll waited in real time: {sleeps.asked}"


def test_long_poll_returns_an_in_flight_message_as_soon_as_its_timeout_ends(sqs, clock, real_sleeps):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="order-1")
    receive(sqs, url, VisibilityTimeout=5)
    t0, sleeps = clock.now(), real_sleeps

    assert [m["Body"] for m in long_poll(sqs, url, 20)] == ["order-1"]

    assert clock.now() - t0 == pytest.approx(5, abs=0.01)
    assert not sleeps.asked, f"the long poll waited in real time: {sleeps.asked}"


def test_long_poll_returns_a_message_sent_by_a_clock_timer_during_the_wait(sqs, clock):
    url, _ = make_queue(sqs, "orders")
    clock.call_later(3, lambda: sqs.send_message(QueueUrl=url, MessageBody="late order"))
    t0 = clock.now()

    assert [m["Body"] for m in long_poll(sqs, url, 20)] == ["late order"]
    assert clock.now() - t0 == pytest.approx(3)


def test_long_poll_returns_a_message_a_move_task_redrives_during_the_wait(sqs, clock, redrive):
    sqs.start_message_move_task(SourceArn=redrive["dlq_arn"], MaxNumberOfMessagesPerSecond=1)
    t0 = clock.now()

    assert [m["Body"] for m in long_poll(sqs, redrive["url"], 20)] == ["order-0"]
    assert clock.now() - t0 == pytest.approx(1, abs=0.01)


def test_long_poll_under_a_stopped_clock_nobody_registered_fails_instead_of_hanging(sqs, monkeypatch):
    url, _ = make_queue(sqs, "orders")
    backend.use_clock(None)
    monkeypatch.setattr(fixes, "STOPPED_CLOCK_PATIENCE", 0.2)

    with pytest.raises(LabError, match="use_clock"):
        receive(sqs, url, WaitTimeSeconds=20)


# -- inspection and duplicates ----------------------------------------------------------------------
def test_queue_snapshot_reports_each_messages_state_and_the_next_receivable_time(sqs, clock):
    url, _ = make_queue(sqs, "orders")
    sqs.send_message(QueueUrl=url, MessageBody="held")
    receive(sqs, url, VisibilityTimeout=30)
    sqs.send_message(QueueUrl=url, MessageBody="ready")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=10)
    now = clock.now()

    snapshot = state.queue_snapshot(url)

    states = {m["body"]: (m["state"], m["receive_count"]) for m in snapshot["messages"]}
    assert states == {"held": ("in_flight", 1), "ready": ("visible", 0), "later": ("delayed", 0)}
    held = next(m for m in snapshot["messages"] if m["body"] == "held")
    assert held["visible_at"] == pytest.approx(now + 30)
    assert snapshot["next_receivable_at"] == pytest.approx(now + 10, abs=0.01)


def test_injected_duplicate_is_delivered_again_with_the_same_message_id(sqs):
    url, _ = make_queue(sqs, "orders")
    sent = sqs.send_message(QueueUrl=url, MessageBody="order-1")["MessageId"]
    first = receive(sqs, url, VisibilityTimeout=30)[0]

    assert state.inject_duplicate(url, sent) == sent

    [duplicate] = receive(sqs, url, VisibilityTimeout=30)
    assert (duplicate["MessageId"], duplicate["Body"]) == (sent, "order-1")
    assert duplicate["ReceiptHandle"] != first["ReceiptHandle"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=duplicate["ReceiptHandle"])
    assert state.queue_snapshot(url)["messages"] == []


def test_injected_duplicate_of_a_deleted_message_is_delivered_again(sqs):
    url, _ = make_queue(sqs, "orders")
    sent = sqs.send_message(QueueUrl=url, MessageBody="order-1")["MessageId"]
    message = receive(sqs, url)[0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    state.inject_duplicate("orders", sent)

    assert [m["MessageId"] for m in receive(sqs, url)] == [sent]


def test_inject_duplicate_refuses_a_fifo_queue(sqs):
    url, _ = make_fifo(sqs)
    sent = send_fifo(sqs, url, "pay 10", dedup_id="payment-1")["MessageId"]

    with pytest.raises(LabError, match="FIFO"):
        state.inject_duplicate(url, sent)
