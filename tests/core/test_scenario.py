"""The scenario runner, the checker and exhaustive exploration, on known consumers."""

import json

import pytest

from sqslab import Fault, canary, check, explore, fault_plans, run_scenario
from sqslab.scenario import lab_of
from sqslab.selftest import _delete_first, _naive


def _idempotent(p):
    p.db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    p.db.commit()
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        key = lab_of(p).key_of(m["Body"])
        try:
            with p.db:
                if not p.db.execute("SELECT 1 FROM processed WHERE key = ?", (key,)).fetchone():
                    p.db.execute("INSERT INTO processed VALUES (?)", (key,))
                    p.db.apply_effect(key)
        except Exception:
            continue
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


def _never_deletes(p):
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        p.handle(m["Body"])


def _loops_forever(p):
    while True:
        p.sqs.receive_message(QueueUrl=p.queue_url, WaitTimeSeconds=20)


def test_a_naive_consumer_without_faults_is_exactly_once(lab):
    outcome = run_scenario(_naive, messages=4)
    assert outcome.verdict.ok, outcome.verdict.explanation
    assert outcome.effects == {f"order-{i}": 1 for i in range(1, 5)} and outcome.drained


def test_crash_after_commit_redelivers_and_charges_twice(lab):
    outcome = run_scenario(_naive, messages=3, faults=[Fault("effect_committed", 1)])
    assert not outcome.verdict.ok
    assert outcome.effects["order-2"] == 2
    text = outcome.verdict.explanation
    assert "order-2" in text and "effect_committed" in text and "2 times" in text
    assert [p.kind for p in outcome.verdict.problems] == ["duplicate"]
    crash_then_redelivery = [e.kind for e in outcome.history if e.key == "order-2"]
    assert crash_then_redelivery.index("fault") < max(i for i, k in enumerate(crash_then_redelivery) if k == "receive")


def test_deleting_first_loses_the_message(lab):
    outcome = run_scenario(_delete_first, messages=2, faults=[Fault("after_delete", 0)], expect="at_least_once")
    assert [p.kind for p in outcome.verdict.problems] == ["lost"]
    assert "Delete a message only after" in outcome.verdict.explanation


def test_a_consumer_that_never_deletes_never_drains(lab):
    outcome = run_scenario(_never_deletes, messages=2, expect="at_least_once", max_steps=10)
    assert not outcome.drained
    assert {p.kind for p in outcome.verdict.problems} == {"not_drained"}


def test_a_step_that_loops_forever_is_stopped_and_reported(lab):
    outcome = run_scenario(_loops_forever, messages=1, expect="at_least_once", max_steps=1)
    crashes = outcome.history.of_kind("crash")
    assert crashes and "more than 200 AWS calls" in crashes[0].detail["error"]


def test_catching_the_crash_gains_nothing(lab):
    def catches_everything(p):
        for m in p.sqs.receive_message(QueueUrl=p.queue_url).get("Messages", []):
            try:
                p.handle(m["Body"])
                p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
            except BaseException:
                try:
                    p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
                except BaseException:
                    pass

    outcome = run_scenario(catches_everything, messages=1, faults=[Fault("before_effect", 0)],
                           expect="at_least_once")
    assert outcome.verdict.ok, outcome.verdict.explanation  # the dead process could not delete
    assert any(e.detail.get("point") == "caught" for e in outcome.history.of_kind("crash"))


def test_visibility_expiring_mid_work_lets_a_competitor_in(lab):
    outcome = run_scenario(_naive, messages=1, faults=[Fault("visibility_expires", 0)])
    assert outcome.effects["order-1"] == 2
    assert len({e.actor for e in outcome.history.of_kind("receive")}) == 2


def test_an_idempotent_consumer_survives_every_explored_fault(lab):
    verdict = explore(_idempotent, messages=2, max_runs=25)
    assert verdict.ok, verdict.explanation
    assert verdict.runs == 25


def test_exploration_stops_at_the_first_counter_example_and_is_repeatable(lab):
    first = explore(_naive, messages=2, max_runs=40)
    second = explore(_naive, messages=2, max_runs=40)
    assert not first.ok and first.runs == second.runs
    assert first.explanation == second.explanation


def test_fault_plans_are_bounded_and_ordered():
    plans = list(fault_plans(["before_delete", "after_delete"], 2))
    assert plans[0] == ()
    assert plans[1] == (Fault("before_delete", 0),)
    assert (Fault("after_delete", 1), Fault("after_delete", 1, occurrence=2)) in plans
    singles, on_restart = 2 * 2, 2 * 2 * 2
    late = 3 * 2 * 2             # three restart delays x two crash points x two messages
    two_messages = 2 + 2         # the same point on both messages, then the two mixed
    assert len(plans) == 1 + singles + on_restart + late + two_messages
    assert plans == list(fault_plans(["before_delete", "after_delete"], 2)), "plans must repeat exactly"


def test_after_the_single_faults_every_kind_of_plan_takes_its_turn():
    points = ["effect_committed", "before_delete", "handler_error"]
    plans = list(fault_plans(points, 3, visibility_timeout=30))
    after_singles = plans[1 + 3 * 3:][:3]
    assert len(after_singles[0]) == 2 and after_singles[0][1].occurrence >= 1       # a crash on restart
    assert after_singles[1][0].restart_after == 5.0                                 # a late restart
    assert {f.message for f in after_singles[2]} == {0, 1}                          # two messages
    delays = {f.restart_after for plan in plans for f in plan}
    assert delays == {0.0, 5.0, 31.0, 301.0}
    assert (Fault("handler_error", 0), Fault("handler_error", 1)) in plans


def test_a_late_restart_moves_the_clock_between_the_crash_and_the_next_process(lab):
    outcome = run_scenario(_naive, messages=1, faults=[Fault("effect_committed", 0, restart_after=301)],
                           expect="at_least_once", lab=lab, visibility_timeout=30)
    crash = next(e for e in outcome.history if e.kind == "crash")
    restart = next(e for e in outcome.history if e.kind == "start" and e.actor == "consumer-2")
    assert restart.time - crash.time == pytest.approx(301)
    assert "starts 301 s after consumer-1 died" in " ".join(str(e.detail.get("text", ""))
                                                             for e in outcome.history.of_kind("note"))


def test_a_late_restart_finds_what_an_instant_one_hides(lab):
    # "Drop events older than five minutes": harmless while a restart is instant, a lost order when
    # the consumer comes back six minutes after its crash.
    def drops_stale_messages(p):
        response = p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10,
                                         MessageSystemAttributeNames=["SentTimestamp"])
        for m in response.get("Messages", []):
            age = p.clock.now() - int(m["Attributes"]["SentTimestamp"]) / 1000
            if age <= 300:
                p.handle(m["Body"])
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])

    instant = explore(drops_stale_messages, messages=1, points=["after_receive"], double=False,
                      expect="at_least_once", lab=lab)
    late = explore(drops_stale_messages, messages=1, points=["after_receive"], expect="at_least_once", lab=lab)
    assert instant.ok, instant.explanation
    assert not late.ok and "restart 301 s later" in late.explanation, late.explanation


def test_two_handler_errors_in_one_batch_are_tried(lab):
    def gives_up_after_the_first_failure(p):
        for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            try:
                p.handle(m["Body"])
            except Exception:
                p.state["failed"] = p.state.get("failed", 0) + 1
                if p.state["failed"] > 1:
                    p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])  # gives up
                continue
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])

    assert explore(gives_up_after_the_first_failure, messages=3, points=["handler_error"], double=False,
                   expect="at_least_once", lab=lab).ok
    verdict = explore(gives_up_after_the_first_failure, messages=3, points=["handler_error"],
                      expect="at_least_once", lab=lab)
    assert not verdict.ok and "lost" in verdict.explanation


def test_check_accepts_poison_in_the_dead_letter_queue():
    from sqslab import History

    verdict = check(History(), expected=["a", "b"], effects={"a": 1}, dead_lettered=["b"], poison=["b"])
    assert verdict.ok, verdict.explanation
    lost = check(History(), expected=["a"], effects={}, expect="at_least_once")
    assert not lost.ok and lost.problems[0].kind == "lost"


def test_the_canary_passes_on_an_untouched_bench():
    ok, reason = canary()
    assert ok, reason


def test_the_canary_notices_a_bench_whose_faults_were_disabled(monkeypatch):
    from sqslab import faults

    monkeypatch.setattr(faults.FaultPlan, "hit", lambda self, *a, **k: None)
    ok, reason = canary()
    assert not ok and "crash" in reason


def test_an_error_in_the_consumers_own_code_is_named_first_in_the_explanation(lab):
    def typo(p):
        for m in p.sqs.receive_message(QueueUrl=p.queue_url).get("Messages", []):
            p.handle(m["Body"])
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandl"])

    verdict = run_scenario(typo, messages=1, max_steps=5).verdict
    assert not verdict.ok
    raised = [line for line in verdict.explanation.splitlines() if line.startswith("Raised by your code")]
    assert raised and "KeyError: 'ReceiptHandl'" in raised[0] and "(5 times)" in raised[0], verdict.explanation
    assert "of typo(): p.sqs.delete_message(" in raised[0], raised[0]  # where: the line that raised
    assert "Why: Your consumer raised an error of its own" in verdict.explanation


def test_describe_error_points_at_the_callers_line_not_the_library():
    from sqslab.check import describe_error

    def parse(body):
        return json.loads(body)["order_id"]

    try:
        parse("{not json")
    except ValueError as exc:
        error, where = describe_error(exc)
    assert error.startswith("JSONDecodeError: ")
    assert where.startswith("line ") and "of parse(): return json.loads(body)" in where


def test_a_check_asked_not_to_record_keeps_its_failure_out_of_the_graders_list(lab):
    from sqslab.check import failures

    before = list(failures)
    asked = check(lab.history, expected=["order-1"], effects={}, record=False)
    assert not asked.ok and failures == before
    filed = check(lab.history, expected=["order-1"], effects={})
    assert failures[-1] is filed
