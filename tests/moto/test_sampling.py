"""Short polls sample, long polls do not: SQS as documented, where moto answered every short poll in full."""

from __future__ import annotations

import pytest

from sqslab import Fault, Lab, run_scenario
from sqslab.moto import backend


@pytest.fixture(autouse=True)
def sampling(monkeypatch):
    monkeypatch.setitem(backend.SHORT_POLL_SAMPLING, "on", True)


def _counts(lab, wait, polls=60):
    q = lab.queue("sampled")
    sqs = lab.client(actor="reader")
    for i in range(5):
        lab.send(q, {"order_id": f"o{i}"})
    got = []
    for _ in range(polls):
        batch = sqs.receive_message(QueueUrl=q.url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                    WaitTimeSeconds=wait).get("Messages", [])
        got.append(len(batch))
    return got


def test_a_short_poll_often_returns_fewer_than_are_visible_and_sometimes_none():
    with Lab(seed=3) as lab:
        got = _counts(lab, wait=0)
    assert 0 in got, "no short poll came back empty"
    assert any(0 < n < 5 for n in got), "no short poll returned only some of the messages"
    assert max(got) <= 5


def test_a_long_poll_returns_every_visible_message_up_to_the_maximum():
    with Lab(seed=3) as lab:
        assert set(_counts(lab, wait=20, polls=10)) == {5}


def test_the_sampling_repeats_with_the_seed():
    with Lab(seed=7) as one:
        first = _counts(one, wait=0)
    with Lab(seed=7) as two:
        second = _counts(two, wait=0)
    assert first == second


def test_a_consumer_that_short_polls_still_drains_the_queue_and_empty_polls_cost_no_steps():
    def short_polls(p):
        for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            p.handle(m["Body"])
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])

    outcome = run_scenario(short_polls, messages=10, max_steps=12, expect="at_least_once")
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert outcome.steps <= 12


def test_a_short_polling_fifo_consumer_drains_a_queue_whose_group_waits_for_a_message_in_flight():
    # order-1 fails and stays in flight for 30 s; order-2 of its group is visible but not receivable
    # until then, so the runner must move the clock instead of stepping empty short polls forever.
    def in_order(p):
        held = set()
        for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10,
                                       AttributeNames=["MessageGroupId"]).get("Messages", []):
            group = m["Attributes"]["MessageGroupId"]
            if group in held:
                continue
            try:
                p.handle(m["Body"])
            except Exception:
                held.add(group)
                continue
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])

    outcome = run_scenario(in_order, messages=3, fifo=True, faults=[Fault("handler_error", message=0)],
                           expect="at_least_once")
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert outcome.drained and outcome.steps <= 6
