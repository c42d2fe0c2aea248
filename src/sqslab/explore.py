"""Exhaustive crash exploration: every fault point at every message position, and crashes again.

A consumer that survives one hand-picked crash may still fail another, so graded tests try them
all: first a run with no fault, then each fault point for each message, then two faults on the
same message (the restarted consumer dies again). Exploration is bounded by a number of runs,
never by wall time, so it always explores the same cases; it stops at the first counter-example
and returns its verdict, with the explanation and the history of that run.
"""

from __future__ import annotations

from itertools import product
from typing import Any, Callable, Iterable, Iterator, Sequence

from .check import Verdict
from .faults import CRASH_POINTS, DEFAULT_POINTS, Fault
from .lab import Lab, lab_for
from .scenario import Process, run_scenario


def fault_plans(points: Sequence[str], messages: int, *, double: bool = True) -> Iterator[tuple[Fault, ...]]:
    """Every plan explore tries, in order: none; each point x message; then pairs of crashes."""
    yield ()
    for point, position in product(points, range(messages)):
        yield (Fault(point, position),)
    if not double:
        return
    crashes = [p for p in points if p in CRASH_POINTS]
    # A restarted consumer can die again: the same message, a crash, then a second crash at any
    # point of its redelivery (the same point again means its second occurrence).
    for position in range(messages):
        for first, second in product(crashes, crashes):
            again = 2 if first == second else 1
            yield (Fault(first, position), Fault(second, position, occurrence=again))


def explore(consumer: Callable[[Process], Any], *, messages: int | Sequence = 3,
            points: Iterable[str] = DEFAULT_POINTS, expect: str = "exactly_once", max_runs: int = 60,
            double: bool = True, lab: Lab | None = None, **scenario: Any) -> Verdict:
    """Try ``consumer`` under every fault plan (up to ``max_runs`` runs); return the first failure.

    Parameters
    ----------
    consumer:
        ``consumer(process)`` handles one step (see :class:`~sqslab.scenario.Process`).
    messages:
        How many order messages each run sends, or the bodies themselves.
    points:
        The fault points to try (default: every crash point plus handler errors, visibility expiring
        mid-work and duplicate deliveries).
    expect:
        ``"exactly_once"`` or ``"at_least_once"``.
    max_runs:
        The bound: at most this many runs, always the same ones in the same order.
    scenario:
        Passed on to :func:`~sqslab.scenario.run_scenario` (``visibility_timeout``, ``fifo``, ...).

    Returns
    -------
    Verdict
        The first failing run's verdict, or a passing verdict saying how many runs were tried.
    """
    points = tuple(points)
    count = messages if isinstance(messages, int) else len(messages)

    def run(plan, lab, note):
        return run_scenario(consumer, messages=messages, faults=plan, expect=expect, lab=lab, note=note,
                            require_fired=False, **scenario)

    failed, runs = first_failure(run, fault_plans(points, count, double=double), max_runs=max_runs, lab=lab)
    if failed is not None:
        return failed
    return Verdict(True, expect,
                   f"OK: {runs} runs, every fault point ({', '.join(points)}) at every message "
                   f"position{' and crashes on restart' if double else ''}: "
                   f"{'exactly once' if expect == 'exactly_once' else 'at least once'}, none lost, "
                   "queue drained every time.",
                   runs=runs)


def describe_plan(plan: Sequence[Fault], unit: str = "message") -> str:
    """``"no fault"`` or ``"after_receive on message 2 then before_delete on message 2 (#2)"``."""
    if not plan:
        return "no fault"
    return " then ".join(f"{f.point} on {unit} {f.message + 1}" + (f" (#{f.occurrence})" if f.occurrence > 1 else "")
                         for f in plan)


def first_failure(run: Callable[[tuple[Fault, ...], Lab, str], Any], plans: Iterable[tuple[Fault, ...]], *,
                  max_runs: int, lab: Lab | None = None, unit: str = "message") -> tuple[Verdict | None, int]:
    """Run plans in order, at most ``max_runs``, and stop at the first failing verdict.

    The loop every exploration shares (consumers here, FIFO order in ``sqslab.lessons.fifo``, producers in
    ``sqslab.lessons.producer``). ``run(plan, lab, note)`` runs one plan and returns an outcome with a
    ``verdict``; all runs share one lab (the open one, or a private one for the exploration),
    since starting a mock costs more than a run (a private one unless ``lab`` is given, never the
    notebook's).

    Returns
    -------
    (Verdict or None, int)
        The first failing verdict (its ``runs`` says which run it was), or None; and how many runs
        were tried.
    """
    with lab_for(lab) as lab:
        runs = 0
        for plan in plans:
            if runs >= max_runs:
                break
            runs += 1
            outcome = run(plan, lab, f"Exploration run {runs} ({describe_plan(plan, unit)}):")
            if not outcome.verdict.ok:
                outcome.verdict.runs = runs
                return outcome.verdict, runs
        return None, runs
