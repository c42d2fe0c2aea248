"""The one meter of real waiting (sqslab.sleeps), used by the benchmark, the suite and graded cells."""

from __future__ import annotations

import threading
import time

from sqslab import run_scenario
from sqslab.selftest import _naive
from sqslab.sleeps import SleepMeter


def test_it_counts_sleeps_and_waits_and_what_was_asked():
    with SleepMeter() as meter:
        time.sleep(0.01)
        threading.Event().wait(0.01)
    assert (meter.sleeps, meter.waits) == (1, 1)
    assert meter.asked == [0.01, 0.01]
    assert meter.seconds >= 0.02 and "2 real sleep(s)" in meter.describe()


def test_it_puts_the_originals_back():
    sleep, wait = time.sleep, threading.Condition.wait
    with SleepMeter():
        assert time.sleep is not sleep
    assert (time.sleep, threading.Condition.wait) == (sleep, wait)


def test_it_leaves_out_what_it_is_told_to_ignore():
    with SleepMeter(ignore=lambda kind, frame: kind == "wait") as meter:
        time.sleep(0)
        threading.Event().wait(0)
    assert (meter.sleeps, meter.waits) == (1, 0)


def test_a_lab_run_never_waits_in_real_time(lab):
    with SleepMeter() as real:
        outcome = run_scenario(_naive, messages=3, lab=lab, visibility_timeout=600)
    assert outcome.verdict.ok
    assert real.calls == 0, real.describe()
