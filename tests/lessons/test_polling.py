"""sqslab.lessons.polling and sqslab.lessons.steps: lesson 1's polling costs and its direct step bench."""

from __future__ import annotations

import pytest

from sqslab import LabError, RunawayConsumer
from sqslab.lessons.polling import plot_polls, polls_alt_text, poll_costs
from sqslab.lessons.steps import StepBench


def _long(sqs, url):
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", [])


def _short(sqs, url):
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])


def _wait(seconds):
    def receive(sqs, url):
        return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=seconds).get("Messages", [])
    return receive


def test_a_long_poll_makes_a_request_per_20_seconds_and_gets_each_order_as_it_arrives(lab):
    report = poll_costs(_long, lab=lab)
    assert report.missed == [] and report.longest_wait == 0
    assert report.requests == 8 and report.empty == 5, report
    assert [p.messages for p in report.polls].count(1) == 3
    assert report.empty <= report.seconds / 20


def test_a_short_poll_costs_a_request_a_second_and_a_shorter_long_poll_more_than_one_empty_per_20_s(lab):
    short = poll_costs(_short, lab=lab)
    assert short.requests >= 115 and short.missed == []
    assert short.empty > short.seconds / 20
    assert poll_costs(_wait(10), lab=lab).empty > short.seconds / 20  # what the graded test's bound refuses


def test_every_request_is_on_the_run_s_history_as_a_note(lab):
    before = len(lab.history)
    report = poll_costs(_short, lab=lab)
    assert len(lab.history) == before  # the run had a history of its own
    notes = [e for e in report.history.of_kind("note") if e.detail.get("poll")]
    assert len(notes) == report.requests
    assert sum(1 for e in notes if not e.detail["messages"]) == report.empty
    assert len(report.history.of_kind("receive")) == 3


def test_a_receive_that_does_not_return_a_list_of_messages_is_told_so(lab):
    with pytest.raises(LabError, match="list of messages"):
        poll_costs(lambda sqs, url: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20), lab=lab)


def test_a_receive_that_loops_on_its_own_is_stopped(lab):
    def spins(sqs, url):
        for _ in range(3000):
            sqs.receive_message(QueueUrl=url)
        return []
    with pytest.raises(RunawayConsumer):
        poll_costs(spins, lab=lab, seconds=5)


def test_the_picture_names_every_loop_and_its_requests(lab):
    reports = [poll_costs(_short, label="short", lab=lab, seconds=20), poll_costs(_long, label="long", lab=lab, seconds=20)]
    fig = plot_polls(*reports)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert any(label.startswith("short") for label in labels) and any(label.startswith("long") for label in labels)
    alt = polls_alt_text(*reports)
    assert "short:" in alt and "long:" in alt and "empty" in alt


def _right(sqs, url, handle):
    done = 0
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", []):
        try:
            handle(m["Body"])
        except Exception:
            continue
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        done += 1
    return done


def test_step_bench_sums_what_the_steps_return_and_keeps_the_failed_order():
    with StepBench(orders=3, fail=["order-2"]) as bench:
        assert bench.run(_right) == 2
        assert bench.left == ["order-2"]
        assert bench.calls == ["order-1", "order-2", "order-3"]


def test_step_bench_retries_after_the_lease_and_then_the_message_is_gone():
    with StepBench(orders=1, fail=["order-1"], failures=1) as bench:
        assert bench.run(_right) == 0
        bench.lease_runs_out()
        assert bench.run(_right) == 1
        assert bench.left == []


def test_step_bench_reports_a_step_that_raises_as_a_failure():
    def raises(sqs, url, handle):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", []):
            handle(m["Body"])
    with StepBench(orders=2, fail=["order-1"]) as bench:
        with pytest.raises(AssertionError, match="must not stop the step"):
            bench.run(raises)


def test_step_benches_inside_an_open_lab_do_not_share_queues(lab):
    for _ in range(2):
        with StepBench(orders=2) as bench:
            assert len(bench.receive_all(_long)) == 2
            assert bench.left == ["order-1", "order-2"]


def test_poll_costs_in_private_labs_inside_an_open_lab_give_the_same_report_every_time(lab):
    # Nested labs share this process's moto: each call needs a queue of its own (the fourth call
    # once met messages of earlier calls, received before they arrived).
    reports = [poll_costs(_long, seconds=seconds, arrivals=arrivals)
               for _ in range(3) for seconds, arrivals in ((120, (15.0, 50.0, 95.0)), (600, (290.0,)))]
    assert all(r.missed == [] and r.longest_wait == 0 for r in reports), [str(r) for r in reports]
    assert [r.requests for r in reports[:2]] * 3 == [r.requests for r in reports]


def test_receive_all_refuses_a_receive_that_returns_no_list():
    with StepBench(orders=1) as bench:
        with pytest.raises(AssertionError, match="list of messages"):
            bench.receive_all(lambda sqs, url: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20))
