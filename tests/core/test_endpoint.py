"""SQSLAB_ENDPOINT: moto in this process by default, moto's server mode, any endpoint, real AWS by consent."""

from __future__ import annotations

import socket

import boto3
import pytest

from sqslab import Fault, Lab, LabError, explore, run_scenario
from sqslab.clock import RealClock
from sqslab.endpoint import Endpoint, from_environment
from sqslab.exceptions import EnvironmentProblem
from sqslab.selftest import _naive


# -- the setting ----------------------------------------------------------------------------------------
def test_no_setting_means_moto_in_this_process():
    assert from_environment({}).kind == "moto"
    assert from_environment({"SQSLAB_ENDPOINT": "moto"}).in_process_mock


def test_a_url_is_any_sqs_compatible_endpoint_with_a_queue_prefix():
    endpoint = from_environment({"SQSLAB_ENDPOINT": "http://localhost:9324/", "SQSLAB_QUEUE_PREFIX": "ci-"})
    assert (endpoint.kind, endpoint.url, endpoint.prefix) == ("url", "http://localhost:9324", "ci-")


@pytest.mark.parametrize("env, says", [
    ({"SQSLAB_ENDPOINT": "aws"}, "SQSLAB_ALLOW_AWS=yes"),
    ({"SQSLAB_ENDPOINT": "https://sqs.eu-west-1.amazonaws.com"}, "SQSLAB_ALLOW_AWS=yes"),
    ({"SQSLAB_ENDPOINT": "aws", "SQSLAB_ALLOW_AWS": "1", "SQSLAB_QUEUE_PREFIX": "me-"}, "SQSLAB_ALLOW_AWS=yes"),
    ({"SQSLAB_ENDPOINT": "aws", "SQSLAB_ALLOW_AWS": "yes"}, "set SQSLAB_QUEUE_PREFIX"),
    ({"SQSLAB_ENDPOINT": "aws", "SQSLAB_ALLOW_AWS": "yes", "SQSLAB_QUEUE_PREFIX": "no spaces"}, "1 to 40"),
    ({"SQSLAB_ENDPOINT": "aws", "SQSLAB_ALLOW_AWS": "yes", "SQSLAB_QUEUE_PREFIX": "me-"}, "AWS_REGION"),
    ({"SQSLAB_ENDPOINT": "elasticmq"}, "is not understood"),
])
def test_real_aws_needs_an_explicit_yes_a_prefix_and_a_region(env, says):
    with pytest.raises(EnvironmentProblem, match=says):
        from_environment(env)


def test_real_aws_with_consent_uses_the_prefix_and_region():
    endpoint = from_environment({"SQSLAB_ENDPOINT": "aws", "SQSLAB_ALLOW_AWS": "yes",
                                 "SQSLAB_QUEUE_PREFIX": "me-sqslab-", "AWS_REGION": "eu-west-1"})
    assert (endpoint.kind, endpoint.prefix, endpoint.region, endpoint.real_aws) == \
        ("aws", "me-sqslab-", "eu-west-1", True)


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket of this process connects to during the test."""
    seen = []
    real_connect = socket.socket.connect

    def spy(self, address):
        seen.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    return seen


def test_a_lab_asked_for_aws_without_consent_sends_nothing_and_changes_nothing(monkeypatch, connects):
    monkeypatch.setenv("SQSLAB_ENDPOINT", "aws")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    with pytest.raises(EnvironmentProblem, match="SQSLAB_ALLOW_AWS"):
        Lab().start()
    assert connects == []
    import os

    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAIOSFODNN7EXAMPLE"


def test_an_endpoint_that_does_not_answer_says_so_and_leaves_the_environment_as_it_was(monkeypatch):
    import os

    from support.motoserver import _free_port

    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    with pytest.raises(EnvironmentProblem, match="Nothing answers at SQSLAB_ENDPOINT=http://127.0.0.1:"):
        Lab(endpoint=Endpoint("url", f"http://127.0.0.1:{_free_port()}")).start()
    assert os.environ["AWS_PROFILE"] == "production" and "AWS_ACCESS_KEY_ID" not in os.environ


# -- moto's server mode, in this process -------------------------------------------------------------
def test_moto_server_mode_keeps_every_request_on_this_machine(monkeypatch, connects, capsys):
    monkeypatch.setenv("SQSLAB_ENDPOINT", "moto-server")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sqs.eu-west-1.amazonaws.com")
    with Lab() as lab:
        assert lab.in_process and lab.endpoint.kind == "moto-server"
        outcome = run_scenario(_naive, messages=2, expect="at_least_once", lab=lab)
        lab.client("dynamodb").list_tables()
        assert "QueueUrls" in boto3.client("sqs", region_name="us-east-1").list_queues()  # anyone's client
    assert outcome.verdict.ok
    assert connects and {address[0] for address in connects} == {"127.0.0.1"}
    assert "moto's server mode at http://127.0.0.1:" in capsys.readouterr().out


def _story(outcome):
    # Everything but the queue's name, which carries the process's run number.
    return [(e.actor, e.kind, e.key, e.message_id, e.time, {k: v for k, v in e.detail.items() if k != "queue"})
            for e in outcome.history]


def test_a_run_on_a_moto_server_in_this_process_tells_the_in_process_story(threaded_moto_server):
    def run(lab):
        return run_scenario(_naive, messages=3, faults=[Fault("effect_committed", 1)], lab=lab)

    with Lab() as lab:
        here = run(lab)
        explored_here = explore(_naive, expect="at_least_once", max_runs=12, lab=lab)
    with Lab(endpoint=Endpoint("url", threaded_moto_server)) as lab:
        assert lab.in_process, "the server shares this process's moto"
        served = run(lab)
        explored_served = explore(_naive, expect="at_least_once", max_runs=12, lab=lab)
    assert _story(served) == _story(here)
    assert served.effects == here.effects == {"order-1": 1, "order-2": 2, "order-3": 1}
    assert served.verdict.explanation == here.verdict.explanation
    assert (explored_served.ok, explored_served.runs) == (explored_here.ok, explored_here.runs) == (True, 12)


# -- an endpoint outside this process: real time ---------------------------------------------------------
@pytest.mark.xdist_group("moto-server-process")
def test_a_crash_elsewhere_is_retried_after_a_real_visibility_timeout(moto_server_elsewhere, capsys):
    with Lab() as lab:
        here = run_scenario(_naive, messages=2, faults=[Fault("before_delete", 0)], visibility_timeout=1,
                            expect="at_least_once", lab=lab)
    with Lab(endpoint=Endpoint("url", moto_server_elsewhere)) as lab:
        assert not lab.in_process and isinstance(lab.clock, RealClock)
        q = lab.queue("orders")
        lab.send(q, {"order_id": "x"})
        assert lab.depth(q) == {"visible": 1, "in_flight": 0, "delayed": 0}
        assert "/sqslab-" in q.url and q.name == "orders"
        there = run_scenario(_naive, messages=2, faults=[Fault("before_delete", 0)], visibility_timeout=1,
                             expect="at_least_once", lab=lab)
        waited = lab.clock.elapsed()
        urls = [queue.url for queue in lab._queues.values()]
    assert there.verdict.ok and here.verdict.ok
    assert there.effects == here.effects == {"order-1": 2, "order-2": 1}
    assert [(e.actor, e.kind, e.key) for e in there.history] == [(e.actor, e.kind, e.key) for e in here.history]
    assert waited >= 1.0  # the visibility timeout really ran out
    plain = boto3.client("sqs", endpoint_url=moto_server_elsewhere, region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing")
    assert not set(urls) & set(plain.list_queues().get("QueueUrls", [])), "the lab deletes its queues"
    notice = capsys.readouterr().out
    assert "the clock is real" in notice and "queue names start with sqslab-" in notice


def _stops_at_the_poison(p):
    # A consumer that dies on order-2, taking the rest of its batch with it to the DLQ.
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        if "order-2" in m["Body"]:
            raise ValueError("poison")
        p.handle(m["Body"])
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.mark.xdist_group("moto-server-process")
def test_elsewhere_the_record_sees_sqs_move_messages_to_the_dead_letter_queue(moto_server_elsewhere, capsys,
                                                                              monkeypatch):
    from sqslab.moto import backend

    # The other endpoint is plain moto, which answers every short poll in full: the two stories can
    # only be compared when this process's moto does too.
    monkeypatch.setitem(backend.SHORT_POLL_SAMPLING, "on", False)

    def run(lab):
        return run_scenario(_stops_at_the_poison, messages=3, max_receive_count=2, visibility_timeout=1,
                            poison=["order-2"], lab=lab)

    with Lab() as lab:
        here = run(lab)
    with Lab(endpoint=Endpoint("url", moto_server_elsewhere)) as lab:
        there = run(lab)
    story = [(e.actor, e.kind, e.key) for e in there.history]
    assert story == [(e.actor, e.kind, e.key) for e in here.history]
    assert story[-3:] == [("sqs", "dlq_move", "order-2"), ("sqs", "dlq_move", "order-3"), ("bench", "note", None)]
    assert "order-3 ended in the dead-letter queue without its effect" in there.verdict.explanation


@pytest.mark.xdist_group("moto-server-process")
def test_elsewhere_a_long_move_of_the_clock_and_an_injected_duplicate_are_refused(moto_server_elsewhere):
    with Lab(endpoint=Endpoint("url", moto_server_elsewhere)) as lab:
        with pytest.raises(LabError, match=r"would wait 12\.0 hours of real time.*SQSLAB_MAX_WAIT=43201"):
            lab.clock.advance(12 * 3600 + 1)
        with pytest.raises(LabError, match="duplicate delivery cannot be injected"):
            run_scenario(_naive, messages=1, faults=[Fault("duplicate_delivery", 0)], lab=lab)


# -- the real clock --------------------------------------------------------------------------------------
def test_the_real_clock_waits_and_fires_timers_at_their_moment():
    waits = []
    clock = RealClock(max_wait=10, sleep=waits.append).start()
    fired = []
    clock.every(2, lambda: fired.append(round(clock.elapsed(), 1)))
    clock.advance(5)
    assert fired == [2.0, 4.0]
    assert sum(waits) == pytest.approx(5, abs=0.05) and len(waits) == 3
    assert clock.elapsed() == pytest.approx(5, abs=0.05)


def test_the_real_clock_refuses_a_wait_beyond_its_limit_before_waiting():
    waits = []
    clock = RealClock(max_wait=60, where="ElasticMQ at http://localhost:9324", sleep=waits.append).start()
    with pytest.raises(LabError, match="ElasticMQ at http://localhost:9324.*visibility_timeout=2"):
        clock.advance(301)
    assert waits == []
