"""A process's timers: a one-shot timer that has fired is over, and the history says so."""

from __future__ import annotations

from sqslab.timers import ProcessClock


def test_a_one_shot_timer_that_fired_is_no_longer_active_and_is_recorded_done(lab):
    recorded = []
    clock = ProcessClock(lab.clock, owner="consumer-1", record=lambda action, timer: recorded.append((action, timer.id)))
    fired = []
    once = clock.call_later(5, lambda: fired.append(lab.clock.elapsed()), name="beat")
    repeat = clock.every(5, lambda: None, name="heartbeat")
    assert once.active and repeat.active
    clock.advance(12)
    assert fired == [5] and not once.active and repeat.active
    assert clock.timers == [repeat]
    assert [a for a, t in recorded if t == once.id] == ["start", "done"]
    once.cancel()  # cancelling a finished timer records nothing more
    assert [a for a, t in recorded if t == once.id] == ["start", "done"]


def test_a_one_shot_timer_cancelled_before_it_fired_never_fires(lab):
    clock = ProcessClock(lab.clock)
    fired = []
    timer = clock.call_later(5, lambda: fired.append(1))
    timer.cancel()
    clock.advance(10)
    assert fired == [] and not timer.active
