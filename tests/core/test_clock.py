"""The simulated clock: moto and the standard library read it; timers fire in order."""

import datetime as dt
import time

import pytest

from sqslab import Clock, LabError
from sqslab.clock import EPOCH


def test_clock_stands_still_until_advanced():
    clock = Clock().start()
    try:
        t0 = time.time()
        for _ in range(1000):
            pass
        assert time.time() == t0
        clock.advance(31)
        assert time.time() == pytest.approx(t0 + 31)
        assert dt.datetime.now(dt.timezone.utc) == EPOCH + dt.timedelta(seconds=31)
    finally:
        clock.stop()


def test_stop_gives_the_process_its_real_clock_back():
    clock = Clock().start()
    clock.stop()
    assert abs(time.time() - dt.datetime.now().timestamp()) < 5
    assert time.time() > EPOCH.timestamp() + 365 * 86400 or dt.datetime.now().year >= 2026


def test_monotonic_clocks_are_left_alone():
    clock = Clock().start()
    try:
        a = time.monotonic()
        clock.advance(3600)
        assert time.monotonic() - a < 5, "deadline logic in Jupyter and learners' code relies on this"
    finally:
        clock.stop()


def test_timers_fire_in_time_order_during_advance():
    clock = Clock().start()
    try:
        fired = []
        clock.call_later(25, lambda: fired.append(("once", clock.elapsed())))
        beat = clock.every(10, lambda: fired.append(("beat", clock.elapsed())))
        clock.advance(35)
        assert fired == [("beat", 10.0), ("beat", 20.0), ("once", 25.0), ("beat", 30.0)]
        beat.cancel()
        clock.advance(100)
        assert len(fired) == 4
        assert clock.elapsed() == 135
    finally:
        clock.stop()


def test_a_timer_may_advance_the_clock_itself():
    clock = Clock().start()
    try:
        seen = []
        clock.call_later(5, lambda: (seen.append(clock.elapsed()), clock.advance(100)))
        clock.advance(10)
        assert seen == [5.0]
        assert clock.elapsed() == 105.0
    finally:
        clock.stop()


def test_clock_refuses_to_go_backwards_or_to_run_unstarted():
    clock = Clock()
    with pytest.raises(LabError):
        clock.advance(1)
    clock.start()
    try:
        with pytest.raises(LabError):
            clock.advance(-1)
        with pytest.raises(LabError):
            clock.every(0, lambda: None)
    finally:
        clock.stop()


def test_advance_tells_listeners_how_far_time_moved():
    clock = Clock().start()
    try:
        moves = []
        clock.on_advance(lambda before, after: moves.append(round(after - before, 3)))
        clock.advance(2.5)
        clock.advance(0)
        assert moves == [2.5]
    finally:
        clock.stop()
