"""The live demo's model: what each button does to the queue, the history and the charge counts."""

from __future__ import annotations

import time

import pytest

from sqslab import LabError, check
from sqslab.check import failures
from sqslab.views.demo import DemoSession


@pytest.fixture
def demo(lab):
    """A two-lane demo on the naive consumer, in the test's lab."""
    session = DemoSession(lab, version="naive")
    yield session
    session.close()


def states(demo: DemoSession) -> dict[str, str]:
    return {m.label: m.state for m in demo.messages()}


def counts(demo: DemoSession) -> dict[str, tuple[int, str]]:
    return {m.label: (m.effects, m.verdict) for m in demo.messages()}


def kinds(demo: DemoSession, since: int = 0) -> list[tuple[str, str, str | None]]:
    return [(e.actor, e.kind, e.key) for e in demo.history.since(since) if e.kind != "clock"]


def crash_then_redeliver(demo: DemoSession) -> None:
    """The lesson 1 demo: order-2's consumer dies after the charge, the lease runs out, a restart."""
    demo.send(3)
    demo.start(1)
    demo.crash(1, "effect_committed", "order-2")
    demo.step(1)
    demo.advance(31)
    demo.start(1)
    demo.step(1)


def test_send_puts_visible_orders_in_the_queue_and_on_the_history(demo):
    said = demo.send(2)
    assert said == "producer sent order-1, order-2"
    assert states(demo) == {"order-1": "visible", "order-2": "visible"}
    assert [(a, k, key) for a, k, key in kinds(demo)] == [("producer", "send", "order-1"),
                                                          ("producer", "send", "order-2")]
    assert counts(demo) == {"order-1": (0, "waiting"), "order-2": (0, "waiting")}


def test_a_step_receives_charges_and_deletes_through_the_scenario_machinery(demo):
    demo.send(2)
    assert demo.start(1) == "lane 1: started consumer-1 (naive)"
    mark = len(demo.history)
    said = demo.step(1)
    assert kinds(demo, mark) == [
        ("consumer-1", "receive", "order-1"), ("consumer-1", "receive", "order-2"),
        ("consumer-1", "effect", "order-1"), ("consumer-1", "delete", "order-1"),
        ("consumer-1", "effect", "order-2"), ("consumer-1", "delete", "order-2")]
    assert said == "lane 1: consumer-1 received order-1, order-2; charged order-1; deleted order-1; " \
                   "charged order-2; deleted order-2"
    assert states(demo) == {"order-1": "deleted", "order-2": "deleted"}
    assert demo.effects() == {"order-1": 1, "order-2": 1}  # read from the effect database


def test_a_crash_after_the_charge_makes_the_naive_count_go_to_two(demo):
    demo.send(3)
    demo.start(1)
    demo.crash(1, "effect_committed", "order-2")
    demo.step(1)
    lane = demo.lane(1)
    assert not lane.running and "effect_committed" in lane.last
    order_2 = next(m for m in demo.messages() if m.key == "order-2")
    assert (order_2.state, order_2.holder, order_2.seconds_left) == ("in_flight", "consumer-1", 30.0)
    assert counts(demo)["order-2"] == (1, "once")
    demo.advance(31)
    assert states(demo)["order-2"] == "visible"
    demo.start(1)
    assert demo.lane(1).process.name == "consumer-2"  # a fresh process, as after any crash
    demo.step(1)
    assert counts(demo)["order-2"] == (2, "twice")
    assert next(m for m in demo.messages() if m.key == "order-2").bad
    assert demo.summary() == "✗ order-2's effect happened 2 times (expected exactly once)"


def test_the_same_crash_leaves_the_idempotent_consumer_at_one_charge(lab):
    with DemoSession(lab, version="idempotent") as demo:
        crash_then_redeliver(demo)
        assert counts(demo) == {"order-1": (1, "once"), "order-2": (1, "once"), "order-3": (1, "once")}
        assert states(demo) == {"order-1": "deleted", "order-2": "deleted", "order-3": "deleted"}
        assert demo.summary().startswith("✓")


def test_switching_the_version_changes_what_the_next_step_runs(lab):
    with DemoSession(lab, version="naive") as demo:
        demo.use("idempotent")
        crash_then_redeliver(demo)
        assert counts(demo)["order-2"] == (1, "once")
    with pytest.raises(LabError, match="naive"):
        DemoSession(lab, version="clever")


def test_the_demo_and_the_checker_agree_on_what_is_wrong(demo):
    crash_then_redeliver(demo)
    verdict = demo.verdict()
    direct = check(demo.history, expected=["order-1", "order-2", "order-3"], effects=demo.effects())
    assert not verdict.ok and verdict.problems == direct.problems
    assert "effect_committed" in verdict.explanation and "order-2" in verdict.explanation


def test_asking_the_checker_leaves_no_verdict_for_the_graders_feedback(demo):
    before = list(failures)
    crash_then_redeliver(demo)
    demo.messages()
    demo.summary()
    assert failures == before


def test_a_crash_armed_for_one_lane_never_kills_another(demo):
    demo.send(1)
    demo.start(1)
    demo.start(2)
    demo.crash(1, "after_receive")
    demo.step(2)                                   # lane 2 gets the message and is not hurt
    assert demo.lane(2).running and counts(demo)["order-1"] == (1, "once")
    assert demo.lane(1).crash == ("after_receive", None)  # still armed, still waiting
    demo.send(1)
    demo.step(1)
    assert not demo.lane(1).running and demo.lane(1).crash is None


def test_a_crash_armed_mid_run_fires_on_the_next_arrival_not_a_past_one(demo):
    demo.send(2)
    demo.start(1)
    demo.step(1)                                   # consumer-1 already received twice
    demo.send(1)
    demo.crash(1, "after_receive")
    demo.step(1)
    assert not demo.lane(1).running
    assert [e.detail["point"] for e in demo.history.of_kind("crash")] == ["after_receive"]


def test_cancelling_a_crash_disarms_it(demo):
    demo.send(1)
    demo.start(1)
    demo.crash(1, "before_delete")
    assert demo.cancel_crash(1) == "lane 1: disarmed before_delete"
    demo.step(1)
    assert demo.lane(1).running and states(demo) == {"order-1": "deleted"}


def test_stopping_a_lane_leaves_its_messages_in_flight_until_the_lease_runs_out(demo):
    demo.send(1)
    demo.start(1)
    demo.crash(1, "before_effect")
    demo.step(1)
    demo.advance(10)
    (m,) = demo.messages()
    assert m.state_words() == "in flight, held by consumer-1, 20 s left"
    demo.advance_to_next()
    assert states(demo) == {"order-1": "visible"}
    assert demo.stop(1) == "lane 1 is already stopped"


def test_a_delayed_order_counts_down_until_it_is_visible(demo):
    demo.send(1, delay=10)
    (m,) = demo.messages()
    assert (m.state, m.seconds_left) == ("delayed", 10.0)
    assert m.state_words() == "delayed, visible in 10 s"
    demo.advance(11)
    assert states(demo) == {"order-1": "visible"}


def test_deleting_first_and_crashing_after_the_delete_loses_the_order(demo):
    demo.use("delete_first")
    demo.send(1)
    demo.start(1)
    demo.crash(1, "after_delete")
    demo.step(1)
    assert counts(demo) == {"order-1": (0, "lost")}
    assert states(demo) == {"order-1": "deleted"}
    assert "lost" in demo.summary()


def test_a_poison_order_ends_in_the_dlq_and_the_redrive_brings_it_back_for_one_charge(lab):
    with DemoSession(lab, version="idempotent", max_receive_count=3) as demo:
        demo.send(1)
        demo.send(1, poison=True)                  # amount "20.00": poison to parser v1
        demo.start(1)
        demo.run()
        assert states(demo) == {"order-1": "deleted", "order-2": "dlq"}
        assert counts(demo)["order-2"] == (0, "waiting")
        first_id = next(m.message_id for m in demo.messages() if m.key == "order-2")
        demo.deploy_fix()
        mark = len(demo.history)
        said = demo.redrive()
        assert said.startswith("redrive: 1 message(s) moved from the DLQ back to the queue (task COMPLETED)")
        assert [e.kind for e in demo.history.since(mark) if e.kind == "move_task"] == ["move_task"]
        order_2 = next(m for m in demo.messages() if m.key == "order-2")
        assert order_2.state == "visible" and order_2.message_id != first_id  # a new message, same row
        demo.run()
        assert counts(demo) == {"order-1": (1, "once"), "order-2": (1, "once")}
        assert demo.queue_counts()["dlq"] == 0


def test_redriving_an_empty_dlq_says_so(demo):
    assert demo.redrive() == "the DLQ is empty: nothing to redrive"


def test_long_work_without_a_heartbeat_lets_the_other_lane_charge_it_again(lab):
    with DemoSession(lab, version="naive", work_seconds=120) as demo:
        demo.send(1)
        demo.start(1)
        demo.start(2)
        demo.step(1)                               # lane 2 polls every second while lane 1 works
        receivers = [e.actor for e in demo.history.of_kind("receive")]
        assert receivers == ["consumer-1", "consumer-2"]
        assert counts(demo) == {"order-1": (2, "twice")}


def test_the_heartbeat_keeps_the_message_from_the_other_lane(lab):
    with DemoSession(lab, version="heartbeat", work_seconds=120) as demo:
        demo.send(1)
        demo.start(1)
        demo.start(2)
        demo.step(1)
        assert [e.actor for e in demo.history.of_kind("receive")] == ["consumer-1"]
        assert len(demo.history.of_kind("visibility")) >= 120 // 15 - 1
        assert counts(demo) == {"order-1": (1, "once")}


def test_a_fifo_retry_with_the_same_dedup_id_is_dropped_and_with_a_fresh_one_charged_twice(lab):
    with DemoSession(lab, fifo=True) as demo:
        said = demo.send(1, timeout_first=True, same_dedup_id=True)
        assert said == "producer sent order-1 (retried after a timeout)"
        demo.start(1)
        demo.run()
        assert counts(demo) == {"order-1": (1, "once")}
        assert [e.detail["delivered"] for e in demo.history.of_kind("send")] == [True, False]
    with DemoSession(lab, fifo=True) as demo:
        demo.send(1, timeout_first=True, same_dedup_id=False)
        demo.start(1)
        demo.run()
        assert [m.verdict for m in demo.messages()] == ["twice", "twice"]  # two messages, one order


def test_a_fifo_queue_refuses_a_per_message_delay(lab):
    with DemoSession(lab, fifo=True) as demo:
        assert demo.send(1, delay=5).startswith("A FIFO queue has no per-message delay")
        assert demo.messages() == []


def test_run_drains_the_queue_moving_the_clock_over_idle_leases(demo):
    demo.send(2)
    demo.start(1)
    demo.crash(1, "before_delete", "order-1")
    demo.step(1)
    demo.start(1)
    said = demo.run()
    assert said.startswith("ran ") and "the queue is empty" in said
    assert demo.now() > 30 and states(demo) == {"order-1": "deleted", "order-2": "deleted"}


def test_a_demo_never_waits_in_real_time(lab, monkeypatch):
    def no_sleeping(seconds):
        raise AssertionError(f"the demo slept {seconds} real seconds")

    monkeypatch.setattr(time, "sleep", no_sleeping)
    with DemoSession(lab, version="heartbeat", work_seconds=600) as demo:
        demo.send(2)
        demo.start(1)
        demo.start(2)
        demo.run()
        demo.advance(3600)
        assert demo.now() >= 4200 and counts(demo) == {"order-1": (1, "once"), "order-2": (1, "once")}


def test_every_action_tells_its_listeners(demo):
    seen = []
    demo.on_change(lambda: seen.append(len(demo.history)))
    demo.send(1)
    demo.start(1)
    demo.step(1)
    demo.advance(5)
    assert len(seen) == 4 and seen == sorted(seen)
    assert len(demo.log) == 4 and demo.log[-1].startswith("t=5s  clock +5 s")


def test_closing_the_session_gives_the_lab_its_own_history_back(lab):
    lab.note("before the demo")
    outer = lab.history
    demo = DemoSession(lab)
    demo.send(1)
    assert lab.history is not outer
    demo.close()
    assert lab.history is outer and [e.kind for e in outer] == ["note"]


def test_text_says_everything_the_widget_shows(demo):
    crash_then_redeliver(demo)
    text = demo.text()
    assert "queue demo" in text and "DLQ: 0" in text
    assert "lane 1: consumer-2 runs the naive consumer" in text
    assert "lane 2: stopped (the naive consumer)" in text
    assert "order-2: deleted; charged 2 times: TWICE" in text
    assert text.splitlines()[-1].startswith("✗ order-2")


def test_a_new_session_ends_the_previous_one_instead_of_mixing_their_histories(lab):
    first = DemoSession(lab)
    first.send(1)
    first.start(1)
    second = DemoSession(lab)
    assert first._closed and not first.lane(1).running
    second.send(2)
    assert [m.label for m in second.messages()] == ["order-1", "order-2"]
    assert len(first.history.of_kind("send")) == 1
    second.close()
