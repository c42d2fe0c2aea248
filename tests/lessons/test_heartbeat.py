"""Lesson 4's bench: the 12-hour rule counted from the receive, process clocks, rivals, the
production thread clock, and the questions asked of a history."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from sqslab import Fault, run_scenario
from sqslab.lessons.heartbeat import (MAX_VISIBILITY_TIMEOUT, ProcessClock, Rival, ThreadClock, lease_problems,
                              long_job, recovery_times, retry_demo, trial, twelve_hour_problems, with_rival)

HOUR = 3600


def _receive(sqs, url):
    return sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)["Messages"][0]


# -- fidelity: the 12 hours start at the receive -------------------------------------------------------
def test_a_message_received_late_can_still_be_hidden_for_twelve_hours(lab):
    q = lab.queue("late", visibility_timeout=30)
    lab.send(q, "waited eleven hours")
    lab.clock.advance(11 * HOUR)
    sqs = lab.client()
    m = _receive(sqs, q.url)
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"],
                                  VisibilityTimeout=MAX_VISIBILITY_TIMEOUT)
    lab.clock.advance(MAX_VISIBILITY_TIMEOUT - 1)
    assert lab.depth(q)["in_flight"] == 1


def test_extending_beyond_twelve_hours_after_the_receive_is_rejected(lab):
    q = lab.queue("limit", visibility_timeout=30)
    lab.send(q, "x")
    sqs = lab.client()
    lab.clock.advance(HOUR)
    m = _receive(sqs, q.url)
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"],
                                  VisibilityTimeout=MAX_VISIBILITY_TIMEOUT - 60)
    lab.clock.advance(MAX_VISIBILITY_TIMEOUT - 120)
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=120)
    with pytest.raises(ClientError, match="InvalidParameterValue"):
        sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=121)


def test_each_receive_starts_its_own_twelve_hours(lab):
    q = lab.queue("again", visibility_timeout=30)
    lab.send(q, "x")
    sqs = lab.client()
    first = _receive(sqs, q.url)
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=first["ReceiptHandle"],
                                  VisibilityTimeout=MAX_VISIBILITY_TIMEOUT)
    lab.clock.advance(MAX_VISIBILITY_TIMEOUT + 1)
    second = _receive(sqs, q.url)
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=second["ReceiptHandle"],
                                  VisibilityTimeout=MAX_VISIBILITY_TIMEOUT)
    assert lab.depth(q)["in_flight"] == 1


# -- the production clock: timers on threads, tested without sleeping --------------------------------
class _NoWait(threading.Event):
    """An event whose wait() never blocks: each loop of a timer thread runs at once."""

    def wait(self, timeout=None):
        return self.is_set()


def test_thread_clock_runs_a_timer_until_it_is_cancelled_without_sleeping():
    calls = []
    holder = {}

    def beat():
        calls.append(threading.current_thread().name)
        if len(calls) == 3:
            holder["timer"].cancel()  # from its own thread: no join with itself

    from sqslab.lessons.heartbeat import ThreadTimer

    holder["timer"] = timer = ThreadTimer(15, beat, "heartbeat", _NoWait())  # what ThreadClock.every builds
    timer.start()
    timer.cancel()  # joins: returns only once the thread is done
    assert not timer.active
    assert 1 <= len(calls) <= 3 and set(calls) == {"heartbeat"}


def test_thread_clock_cancel_waits_for_a_running_beat():
    started, release, done = threading.Event(), threading.Event(), []

    def beat():
        started.set()
        release.wait()
        done.append(True)

    timer = ThreadClock(event_factory=_NoWait).every(15, beat)
    started.wait()
    canceller = threading.Thread(target=timer.cancel)
    canceller.start()
    release.set()
    canceller.join()
    assert done and not timer.active


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_failing_beat_ends_the_thread_timer():
    def beat():
        raise RuntimeError("lease lost")

    timer = ThreadClock(event_factory=_NoWait).every(15, beat)
    timer._thread.join()
    assert not timer.active


def test_thread_clock_refuses_a_zero_interval():
    from sqslab import LabError

    with pytest.raises(LabError):
        ThreadClock().every(0, lambda: None)


# -- process clocks -----------------------------------------------------------------------------------
def test_process_clock_timers_stop_firing_once_the_process_is_dead(lab):
    alive = {"yes": True}
    clock = ProcessClock(lab.clock, owner="p", alive=lambda: alive["yes"])
    fired = []
    timer = clock.every(10, lambda: fired.append(lab.clock.elapsed()))
    clock.advance(25)
    alive["yes"] = False
    clock.advance(60)
    assert len(fired) == 2 and not timer.active


def test_a_process_that_dies_or_stops_takes_its_timers_with_it(lab):
    from sqslab.lessons.heartbeat import process_clock
    from sqslab.scenario import start_process

    queue = lab.queue("timers-die")
    for end in ("die", "stop"):
        p = start_process(lab, queue, f"consumer-{end}")
        timer = process_clock(p).every(10, lambda: None, name="heartbeat")
        getattr(p, end)()
        assert not timer.active, f"Process.{end}() left the process's timer running"


def test_an_exception_in_a_process_timer_ends_that_timer_only_and_is_on_the_record(lab):
    clock = ProcessClock(lab.clock, owner="consumer-1",
                         note=lambda who, text: lab.history.append(who, "note", text=text))
    good = []
    clock.every(10, lambda: 1 / 0, name="heartbeat")
    clock.every(10, lambda: good.append(1), name="other")
    clock.advance(35)
    assert len(good) == 3
    notes = [e.detail["text"] for e in lab.history.of_kind("note")]
    assert any("heartbeat" in n and "ZeroDivisionError" in n for n in notes)
    assert len(clock.timers) == 1


def test_kill_cancels_every_timer_of_the_process(lab):
    clock = ProcessClock(lab.clock)
    fired = []
    clock.every(5, lambda: fired.append(1))
    clock.call_later(7, lambda: fired.append(2))
    clock.kill()
    clock.advance(60)
    assert fired == [] and clock.timers == []


# -- rivals ---------------------------------------------------------------------------------------------
def test_a_rival_receives_a_message_whose_lease_ran_out_mid_work(lab):
    q = lab.queue("rival", visibility_timeout=30)
    lab.send(q, {"order_id": "order-1"})
    worker = lab.client(actor="worker")
    _receive(worker, q.url)
    with Rival(lab, q) as rival:
        lab.clock.advance(100)
    assert [r["receive_count"] for r in rival.received] == [2, 3, 4]
    assert 30 < rival.received[0]["t"] <= 31
    assert "order-1" in rival.report()


def _naive(p):
    work = long_job(p, minutes=10)
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, WaitTimeSeconds=20).get("Messages", []):
        work(m["Body"])
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


def _beating(p, minutes=10):
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, WaitTimeSeconds=20).get("Messages", []):
        def beat(handle=m["ReceiptHandle"]):
            p.sqs.change_message_visibility(QueueUrl=p.queue_url, ReceiptHandle=handle, VisibilityTimeout=30)

        timer = p.clock.every(15, beat, name="heartbeat")
        try:
            long_job(p, minutes=minutes)(m["Body"])
        finally:
            timer.cancel()
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


def test_with_rival_a_long_job_without_heartbeat_is_charged_twice(lab):
    outcome = run_scenario(with_rival(_naive), messages=1, lab=lab)
    assert not outcome.verdict.ok and outcome.effects == {"order-1": 2}
    actors = {e.actor for e in outcome.history.of_kind("effect")}
    assert actors == {"consumer-1", "rival-1"}


def test_with_rival_a_heartbeat_keeps_the_job_to_one_consumer(lab):
    outcome = run_scenario(with_rival(_beating), messages=1, lab=lab)
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert not [e for e in outcome.history.of_kind("receive") if e.actor.startswith("rival")]


def test_a_crashed_process_heartbeat_dies_with_it_and_the_message_returns_within_a_timeout(lab):
    outcome = run_scenario(with_rival(lambda p: _beating(p, minutes=2)), messages=1, lab=lab,
                           faults=[Fault("before_effect", 0)], expect="at_least_once")
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert recovery_times(outcome.history) == [("order-1", pytest.approx(30, abs=0.01))]
    crashed_at = next(e.time for e in outcome.history.of_kind("crash"))
    assert not [e for e in outcome.history.of_kind("visibility")
                if e.actor == "consumer-1" and e.time > crashed_at]


def test_a_heartbeat_left_running_after_a_step_dies_on_its_first_error_and_says_so(lab):
    def forgetful(p):
        for m in p.sqs.receive_message(QueueUrl=p.queue_url, WaitTimeSeconds=20).get("Messages", []):
            p.clock.every(15, lambda h=m["ReceiptHandle"]: p.sqs.change_message_visibility(
                QueueUrl=p.queue_url, ReceiptHandle=h, VisibilityTimeout=30), name="heartbeat")
            long_job(p, seconds=20)(m["Body"])
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])

    outcome = run_scenario(with_rival(forgetful, every=1000), messages=2, lab=lab)
    assert outcome.verdict.ok
    notes = [e.detail["text"] for e in outcome.history.of_kind("note")]
    assert any("timer 'heartbeat' died" in n and "ReceiptHandleIsInvalid" in n for n in notes)


# -- trials and the questions asked of a history ---------------------------------------------------------
def test_a_trial_cancels_its_timers_when_it_ends(lab):
    with trial(lab, "t") as t:
        fired = []
        t.clock.every(5, lambda: fired.append(1))
    lab.clock.advance(60)
    assert fired == []


def test_lease_problems_flags_a_renewal_with_too_little_time_left(lab):
    with trial(lab, "late", timeout=30) as t:
        m = t.receive()
        t.clock.every(30, lambda: t.sqs.change_message_visibility(
            QueueUrl=t.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=30))
        t.clock.advance(100)
        events = t.events("receive", "visibility")
    assert lease_problems(events, spare=10)
    assert "0.0 s of the lease left" in lease_problems(events, spare=10)[0]


def test_lease_problems_accepts_renewals_every_half_timeout(lab):
    with trial(lab, "half", timeout=30) as t:
        m = t.receive()
        t.clock.every(15, lambda: t.sqs.change_message_visibility(
            QueueUrl=t.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=30))
        t.clock.advance(100)
        assert lease_problems(t.events("receive", "visibility"), spare=10) == []


def test_twelve_hour_problems_reads_the_request_even_when_sqs_rejects_it(lab):
    with trial(lab, "twelve", timeout=3600) as t:
        m = t.receive()
        t.clock.advance(MAX_VISIBILITY_TIMEOUT - 1800)
        with pytest.raises(ClientError):
            t.sqs.change_message_visibility(QueueUrl=t.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=3600)
        problems = twelve_hour_problems(t.events("receive", "visibility"))
    assert len(problems) == 1 and "1800 s beyond the 12-hour maximum" in problems[0]


def test_trial_work_charges_or_fails_after_its_time(lab):
    from sqslab.lessons.heartbeat import JobFailed

    with trial(lab, "work", messages=2) as t:
        a, b = t.receive(2)
        start = t.now()
        t.work(5)(a["Body"])
        with pytest.raises(JobFailed):
            t.work(5, fail=True)(b["Body"])
        assert t.charged == ["work-1"] and t.now() - start == pytest.approx(10)


# -- the retry picture's scenario ------------------------------------------------------------------------
def test_retry_demo_retries_through_the_outage_and_delivers_everything(lab):
    at_once = retry_demo(lambda attempt, rng: 0, messages=2, down_for=10, lab=lab)
    wait_out = retry_demo(lambda attempt, rng: None, messages=2, down_for=10, lab=lab)
    jitter = retry_demo(lambda attempt, rng: rng.randint(0, 5 * 2 ** (attempt - 1)), messages=2, down_for=10, lab=lab)
    for outcome in (at_once, wait_out, jitter):
        assert outcome.verdict.ok, outcome.verdict.explanation
    receives = lambda o: len(o.history.of_kind("receive"))
    assert receives(at_once) > receives(jitter) and receives(wait_out) == 4


def test_a_trial_tells_its_story_from_its_own_start(lab):
    lab.clock.advance(1000)
    with trial(lab, "story") as t:
        m = t.receive()
        t.clock.advance(5)
        t.sqs.delete_message(QueueUrl=t.url, ReceiptHandle=m["ReceiptHandle"])
        story = t.story()
        receive = next(e for e in t.relative() if e.kind == "receive")
    assert story.splitlines()[0].startswith("t=  0.000s producer")
    assert "t=  5.000s worker      delete story-1" in story
    assert receive.detail["visible_until_t"] == 30


# -- the order of actions at one instant ---------------------------------------------------------------
def _with_heartbeat(stop_first: bool):
    def step(p):
        for m in p.sqs.receive_message(QueueUrl=p.queue_url, WaitTimeSeconds=20, MaxNumberOfMessages=1,
                                       VisibilityTimeout=30).get("Messages", []):
            handle = m["ReceiptHandle"]
            beat = p.clock.every(10, lambda: p.sqs.change_message_visibility(
                QueueUrl=p.queue_url, ReceiptHandle=handle, VisibilityTimeout=30), name="heartbeat")
            p.clock.advance(25)  # work that takes 25 s: the heartbeat beats twice
            p.handle(m["Body"])
            if stop_first:
                beat.cancel()
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=handle)
            if not stop_first:
                beat.cancel()
    return step


def test_the_history_records_timers_and_tags_their_calls(lab):
    outcome = run_scenario(_with_heartbeat(stop_first=True), messages=1, lab=lab)
    timers = outcome.history.of_kind("timer")
    assert [e.detail["action"] for e in timers][:2] == ["start", "cancel"]
    beats = [e for e in outcome.history.of_kind("visibility") if e.detail.get("timer")]
    assert len(beats) == 2 and {e.detail["timer"] for e in beats} == {timers[0].detail["timer"]}


def test_stopping_the_heartbeat_after_the_delete_is_seen_even_at_one_instant(lab):
    from sqslab.lessons.heartbeat import heartbeat_order_problems

    right = run_scenario(_with_heartbeat(stop_first=True), messages=1, lab=lab)
    wrong = run_scenario(_with_heartbeat(stop_first=False), messages=1, lab=lab)
    assert right.verdict.ok and wrong.verdict.ok, "both charge once: only the order tells them apart"
    assert heartbeat_order_problems(right.history) == []
    [problem] = heartbeat_order_problems(wrong.history)
    assert "deleted order-1 while its heartbeat (heartbeat#" in problem


# -- trials record their timers; the helpers of the graded tests ---------------------------------------
def _handle(t, *, fail=False, stop_first=True, seconds=40):
    from sqslab.lessons.heartbeat import JobFailed

    m = t.receive()
    beat = t.clock.every(15, lambda: t.sqs.change_message_visibility(
        QueueUrl=t.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=30), name="heartbeat")
    try:
        t.work(seconds, fail=fail)(m["Body"])
    except JobFailed:
        if stop_first:
            beat.cancel()
        t.sqs.change_message_visibility(QueueUrl=t.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        beat.cancel()
        return
    if stop_first:
        beat.cancel()
    t.sqs.delete_message(QueueUrl=t.url, ReceiptHandle=m["ReceiptHandle"])
    beat.cancel()


@pytest.mark.parametrize("fail", [False, True])
def test_a_trial_sees_a_delete_or_release_made_before_the_heartbeat_stopped(lab, fail):
    with trial(lab, "order-right") as t:
        _handle(t, fail=fail)
        assert t.order_problems() == []
        assert "timer heartbeat#" in t.story() and "[by timer heartbeat#" in t.story()
    with trial(lab, "order-wrong") as t:
        _handle(t, fail=fail, stop_first=False)
        [problem] = t.order_problems()
        assert ("released" if fail else "deleted") in problem and "still running" in problem


def test_a_heartbeat_chained_from_one_shot_timers_is_not_mistaken_for_one_still_running(lab):
    with trial(lab, "chain") as t:
        m = t.receive()
        chain = {}

        def beat():
            t.sqs.change_message_visibility(QueueUrl=t.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=30)
            chain["next"] = t.clock.call_later(10, beat, name="heartbeat")

        chain["next"] = t.clock.call_later(10, beat, name="heartbeat")
        t.work(35)(m["Body"])
        chain["next"].cancel()
        t.sqs.delete_message(QueueUrl=t.url, ReceiptHandle=m["ReceiptHandle"])
        assert t.order_problems() == []


def test_trial_work_fails_for_some_orders_or_raises_what_it_is_told(lab):
    with trial(lab, "kinds", messages=3) as t:
        a, b, c = t.receive(3)
        work = t.work(1, fail={"kinds-2"})
        work(a["Body"])
        with pytest.raises(Exception, match="unavailable"):
            work(b["Body"])
        with pytest.raises(KeyboardInterrupt):
            t.work(1, fail=KeyboardInterrupt)(c["Body"])
        assert t.tried == ["kinds-1", "kinds-2", "kinds-3"] and t.charged == ["kinds-1"]
        assert t.calls_later(30) == []


def test_one_job_per_step_hands_each_message_to_the_exercise_function(lab):
    from sqslab.lessons.heartbeat import one_job_per_step

    seen = []

    def handle_message(sqs, queue_url, message, clock, work, *, timeout=30):
        seen.append((message["Attributes"]["ApproximateReceiveCount"], timeout))
        work(message["Body"])
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return True

    outcome = run_scenario(one_job_per_step(handle_message, minutes=0.5, timeout=60), messages=2, lab=lab)
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert seen == [("1", 60), ("1", 60)]


def _released(t, timeouts):
    for m, timeout in zip(t.receive(len(timeouts)), timeouts):
        if timeout is not None:
            t.sqs.change_message_visibility(QueueUrl=t.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=timeout)
    return t.events("receive", "visibility", "delete")


def test_release_problems_accepts_releases_within_the_backoff_ceiling(lab):
    from sqslab.lessons.heartbeat import backoff_ceiling, release_problems

    assert [backoff_ceiling(n) for n in (1, 2, 3, 9, 40)] == [5, 10, 20, 900, 900]
    assert backoff_ceiling(40, cap=10**9) == MAX_VISIBILITY_TIMEOUT
    with trial(lab, "fine", messages=2) as t:
        assert release_problems(_released(t, [0, 5])) == []


def test_release_problems_names_a_message_left_in_flight_and_a_release_too_long(lab):
    from sqslab.lessons.heartbeat import release_problems

    with trial(lab, "bad", messages=2) as t:
        problems = release_problems(_released(t, [None, 6]))
    assert any("neither deleted nor released" in p for p in problems)
    assert any("released for 6 s after its receive #1; backoff allows 0 to 5 s" in p for p in problems)


def test_sleep_meter_sees_no_real_wait_in_a_heartbeat_run_and_sees_a_real_sleep():
    import time

    from sqslab.sleeps import SleepMeter

    with SleepMeter() as real:
        outcome = run_scenario(with_rival(_beating), messages=1)
    assert outcome.verdict.ok and real.calls == 0, real.describe()

    def sleepy(p):
        time.sleep(0.001)
        _beating(p, minutes=1)

    with SleepMeter() as real:
        run_scenario(sleepy, messages=1)
    assert real.sleeps >= 1
