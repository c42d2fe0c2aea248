"""A verdict trusts nothing the consumer could reach: private labs, a process without the lab, faults that must fire."""

from __future__ import annotations

import pytest

from sqslab import Fault, LabError, Process, current_lab, explore, open_lab, run_scenario
from sqslab.scenario import lab_of
from sqslab.selftest import _delete_first, _naive


def test_a_process_carries_no_handle_to_the_lab_its_faults_or_the_checker():
    seen = {}

    def consumer(p: Process):
        seen.update(vars(p))
        _naive(p)

    assert run_scenario(consumer, messages=1).verdict.ok
    assert "lab" not in seen and "faults" not in seen
    assert {"advance_to", "stop", "on_advance"}.isdisjoint(dir(seen["clock"])), "the clock's controls are reachable"


def test_a_consumer_that_asks_for_the_lab_is_refused():
    def consumer(p):
        current_lab().faults.enabled = False
        _delete_first(p)

    with pytest.raises(LabError, match="cannot reach the lab"):
        run_scenario(consumer, messages=1, faults=[Fault("after_delete", 0)], expect="at_least_once")


def test_runs_never_use_the_notebooks_lab():
    lab = open_lab()
    try:
        lab.faults.enabled = False  # what a learner's notebook may have done to its own lab
        before = len(lab.history)
        verdict = run_scenario(_delete_first, messages=2, faults=[Fault("after_delete", 0)],
                               expect="at_least_once").verdict
        assert not verdict.ok and "lost" in verdict.explanation
        assert not explore(_delete_first, messages=2, expect="at_least_once", max_runs=10).ok
        assert len(lab.history) == before
    finally:
        lab.close()


def test_a_run_with_injection_switched_off_fails_whatever_it_shows():
    def consumer(p):
        lab_of(p).faults.enabled = False  # the bench's own accessor, standing in for any way round
        _delete_first(p)

    verdict = run_scenario(consumer, messages=2, faults=[Fault("after_delete", 0)], expect="at_least_once").verdict
    assert not verdict.ok
    assert "switched off" in verdict.explanation and "Why: The bench itself was changed" in verdict.explanation


def test_a_run_whose_armed_faults_were_taken_away_fails():
    def consumer(p):
        lab_of(p).faults.armed.clear()
        _delete_first(p)

    verdict = run_scenario(consumer, messages=2, faults=[Fault("after_delete", 0)], expect="at_least_once").verdict
    assert not verdict.ok and "armed faults were changed" in verdict.explanation


def test_a_fault_a_test_armed_that_never_fired_fails_the_run():
    def skips_message_two(p):
        for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            if "order-2" in m["Body"]:
                p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
                continue  # never charged, so never "before_effect" for it
            p.handle(m["Body"])
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])

    verdict = run_scenario(skips_message_two, messages=2, faults=[Fault("handler_error", 1)],
                           expect="at_least_once").verdict
    assert not verdict.ok
    assert "no process ever got there" in verdict.explanation


def test_a_fault_that_fires_passes_and_explorations_may_leave_points_unreached():
    assert run_scenario(_naive, messages=2, faults=[Fault("before_delete", 1)], expect="at_least_once").verdict.ok
    assert run_scenario(_naive, messages=1, faults=[Fault("throttle", 0)], expect="at_least_once",
                        require_fired=False).verdict.ok
    # duplicate_delivery and visibility_expires are among the default points: a plain naive consumer
    # at least once meets every plan, and unreached points are no failure inside an exploration.
    assert explore(_naive, messages=2, expect="at_least_once", points=["throttle", "before_delete"],
                   double=False).ok
