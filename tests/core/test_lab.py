"""The lab: mocked AWS with fake credentials, recording, nothing leaves the machine."""

import json
import os
import socket

import pytest

from sqslab import Lab, LabError, open_lab
from sqslab.lab import current_lab, default_key_of


def test_real_looking_credentials_never_reach_aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sqs.eu-west-1.amazonaws.com")
    connects = []
    real_connect = socket.socket.connect

    def spy(self, address):
        connects.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    with Lab() as lab:
        assert os.environ["AWS_ACCESS_KEY_ID"] != "AKIAIOSFODNN7EXAMPLE"  # fake while the lab runs
        assert "AWS_PROFILE" not in os.environ and "AWS_ENDPOINT_URL" not in os.environ
        q = lab.queue("private")
        sqs = lab.client()
        lab.send(q, {"order_id": "o1"})
        assert sqs.receive_message(QueueUrl=q.url)["Messages"]
        lab.client("dynamodb").list_tables()
    assert connects == []
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAIOSFODNN7EXAMPLE"
    assert os.environ["AWS_PROFILE"] == "production"


def test_queues_standard_fifo_and_dead_letter(lab):
    dlq = lab.dead_letter_queue("orders-dlq")
    q = lab.queue("orders", dlq=dlq, max_receive_count=3, visibility_timeout=10)
    fifo = lab.queue("orders.fifo", content_based_dedup=True)
    attrs = lab.client().get_queue_attributes(QueueUrl=q.url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 3} or \
        json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"] == dlq.arn
    assert attrs["VisibilityTimeout"] == "10" and attrs["QueueArn"] == q.arn
    assert fifo.fifo and not q.fifo
    with pytest.raises(LabError, match="FIFO"):
        lab.queue("mixed.fifo", dlq=dlq, max_receive_count=2)


def test_every_call_of_a_lab_client_is_recorded(lab):
    q = lab.queue("rec", visibility_timeout=30)
    sqs = lab.client(actor="consumer-7")
    lab.send(q, {"order_id": "order-1"})
    m = sqs.receive_message(QueueUrl=q.url, WaitTimeSeconds=1)["Messages"][0]
    lab.clock.advance(31)
    m2 = sqs.receive_message(QueueUrl=q.url, WaitTimeSeconds=1)["Messages"][0]
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])   # stale
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m2["ReceiptHandle"])
    kinds = [(e.actor, e.kind) for e in lab.history]
    assert kinds == [("producer", "send"), ("consumer-7", "receive"), ("clock", "clock"),
                     ("consumer-7", "receive"), ("consumer-7", "delete"), ("consumer-7", "delete")]
    receives = lab.history.of_kind("receive")
    assert [r.detail["receive_count"] for r in receives] == [1, 2]
    assert receives[0].detail["visible_until_t"] == 30
    deletes = lab.history.of_kind("delete")
    assert [d.detail["applied"] for d in deletes] == [False, True]
    assert all(e.key == "order-1" for e in lab.history if e.kind != "clock")


def test_released_clients_carry_nothing_over(lab):
    q = lab.queue("pool")
    a = lab.client(actor="a")
    lab.release(a)
    b = lab.client(actor="b")
    lab.send(q, {"order_id": "o"})
    b.receive_message(QueueUrl=q.url)
    assert [e.actor for e in lab.history.of_kind("receive")] == ["b"]


def test_business_keys_come_from_the_body():
    assert default_key_of('{"order_id": "o-1", "id": 5}') == "o-1"
    assert default_key_of('{"event_id": 7}') == "7"
    assert default_key_of("not json") is None
    assert default_key_of('["list"]') is None


def test_open_lab_replaces_the_previous_lab():
    first = open_lab()
    second = open_lab()
    assert not first.running and current_lab() is second
    second.close()
    assert current_lab() is None


def test_a_nested_lab_gives_the_clock_back_to_the_outer_one():
    outer = open_lab()
    try:
        outer.clock.advance(5)
        with Lab() as inner:
            inner.clock.advance(1000)
        assert current_lab() is outer
        q = outer.queue("still-works")
        outer.send(q, {"order_id": "x"})
        assert outer.depth(q)["visible"] == 1
        assert outer.clock.elapsed() == 5
    finally:
        outer.close()
