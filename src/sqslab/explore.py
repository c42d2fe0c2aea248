"""Exhaustive crash exploration: every fault point at every message position, then harder plans.

A consumer that survives one hand-picked crash may still fail another, so graded tests try them
all: first a run with no fault, then each fault point for each message, then, taking turns, a
second crash on restart, a restart that comes late, and two faults on two messages in one run
(:func:`fault_plans`). Exploration is bounded by a number of runs,
never by wall time, so it always explores the same cases; it stops at the first counter-example
and returns its verdict, with the explanation and the history of that run.
"""

from __future__ import annotations

from itertools import product
from typing import Any, Callable, Iterable, Iterator, Sequence

from .check import Verdict
from .faults import CRASH_POINTS, DEFAULT_POINTS, Fault, is_fatal
from .lab import Lab, lab_for
from .scenario import Process, run_scenario


#: How long a crashed consumer takes to come back, in the plans that say so: a few seconds; past
#: the visibility timeout (added to it); past FIFO's 5-minute deduplication window.
RESTART_DELAYS = (5.0, "visibility+1", 301.0)


def fault_plans(points: Sequence[str], messages: int, *, double: bool = True,
                visibility_timeout: float = 30) -> Iterator[tuple[Fault, ...]]:
    """Every plan explore tries, in order: none; each point at each message; then the other kinds, interleaved.

    After the single faults (all of them: the basic contract), four kinds of plan take turns, so
    that a run budget too small for them all still tries each kind:

    - **a crash on restart**: the same message, a crash, then a second crash at any point of its
      redelivery (the same point again means its second occurrence);
    - **a late restart**: a crash after which the next process starts only a few seconds later,
      or after the visibility timeout, or after the 5-minute FIFO deduplication window
      (:data:`RESTART_DELAYS`): whatever a consumer derives from the time changes across it;
    - **two faults in one run, on different messages** (two handler errors in one batch, a crash on
      one message and another on a later one).
    """
    yield ()
    for point, position in product(points, range(messages)):
        yield (Fault(point, position),)
    if not double:
        return
    yield from _interleave(_crashes_on_restart(points, messages), _late_restarts(points, messages, visibility_timeout),
                           _two_messages(points, messages))


def _interleave(*kinds: Iterator[tuple[Fault, ...]]) -> Iterator[tuple[Fault, ...]]:
    live = list(kinds)
    while live:
        for kind in list(live):
            plan = next(kind, None)
            if plan is None:
                live.remove(kind)
            else:
                yield plan


def _crashes_on_restart(points: Sequence[str], messages: int) -> Iterator[tuple[Fault, ...]]:
    crashes = [p for p in points if p in CRASH_POINTS]
    for position in range(messages):
        for first, second in product(crashes, crashes):
            again = 2 if first == second else 1
            yield (Fault(first, position), Fault(second, position, occurrence=again))


def _late_restarts(points: Sequence[str], messages: int, visibility_timeout: float) -> Iterator[tuple[Fault, ...]]:
    delays = [visibility_timeout + 1 if d == "visibility+1" else d for d in RESTART_DELAYS]
    crashes = [p for p in points if is_fatal(p)]
    for delay in delays:
        for point, position in product(crashes, range(messages)):
            yield (Fault(point, position, restart_after=delay),)


def _two_messages(points: Sequence[str], messages: int) -> Iterator[tuple[Fault, ...]]:
    pairs = [(a, b) for a in range(messages) for b in range(a + 1, messages)]
    # The same fault on two messages first (two handler errors in one batch), then mixed ones.
    for first, second in pairs:
        for point in points:
            yield (Fault(point, first), Fault(point, second))
    for first, second in pairs:
        for one, other in product(points, points):
            if one != other:
                yield (Fault(one, first), Fault(other, second))


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

    plans = fault_plans(points, count, double=double, visibility_timeout=scenario.get("visibility_timeout", 30))
    failed, runs = first_failure(run, plans, max_runs=max_runs, lab=lab)
    if failed is not None:
        return failed
    return Verdict(True, expect,
                   f"OK: {runs} runs, every fault point ({', '.join(points)}) at every message "
                   f"position{plan_kinds(double)}: "
                   f"{'exactly once' if expect == 'exactly_once' else 'at least once'}, none lost, "
                   "queue drained every time.",
                   runs=runs)


def plan_kinds(double: bool) -> str:
    """What the plans after the single faults try, for a passing verdict's sentence."""
    return ", then crashes on restart, late restarts and two faults in one run" if double else ""


def describe_plan(plan: Sequence[Fault], unit: str = "message") -> str:
    """``"no fault"`` or ``"after_receive on message 2 then before_delete on message 2 (#2)"``."""
    if not plan:
        return "no fault"
    return " then ".join(f"{f.point} on {unit} {f.message + 1}" + (f" (#{f.occurrence})" if f.occurrence > 1 else "")
                         + (f", restart {f.restart_after:g} s later" if f.restart_after else "")
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
