"""The checker: invariants over a run's history and final state, explained like a teacher would.

History in, verdict out (the way Jepsen's checkers work). The invariants:

- **none lost**: every message sent either had its effect or is still waiting somewhere visible
  to an operator (a dead-letter queue, where the lesson allows it);
- **effects**: each message's business effect happened exactly once (or at least once, where
  that is all a lesson asks);
- **drained**: nothing is left in the queue at the end.

A failed verdict explains which message, which fault, in what order, what was expected and what
was seen; ``assert verdict.ok, verdict.explanation`` puts that text in front of the learner.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from .faults import describe_point

if TYPE_CHECKING:  # pragma: no cover
    from .faults import FiredFault
    from .history import History

EXPECTATIONS = {
    "exactly_once": "every message's effect exactly once, none lost, the queue empty at the end",
    "at_least_once": "every message's effect at least once, none lost, the queue empty at the end",
}

#: Every verdict that failed in this process, newest last: the grader reads the last one to put
#: its timeline in a learner's feedback.
failures: list["Verdict"] = []


@dataclass
class Problem:
    """One broken invariant for one message."""

    kind: str          # lost | duplicate | not_drained | dead_lettered | unexpected | script_failed
    key: str | None
    summary: str


@dataclass
class Verdict:
    """The checker's answer: ``ok``, the problems, and an explanation for a learner.

    ``bool(verdict)`` is ``verdict.ok``; ``str(verdict)`` is the explanation laid out for reading
    (one part a line, wrapped between words: :func:`sqslab.views.verdict.wrap`), and a verdict as
    a notebook cell's value shows as a structured block (:func:`sqslab.views.verdict.to_html`).
    """

    ok: bool
    expect: str
    explanation: str
    problems: list[Problem] = field(default_factory=list)
    history: "History | None" = None
    effects: dict[str, int] = field(default_factory=dict)
    faults: list[Any] = field(default_factory=list)
    runs: int = 1

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        # What print(verdict) shows: the explanation, one part a line, wrapped between words.
        from .views.verdict import wrap

        return wrap(self.explanation)

    def _repr_html_(self) -> str:
        from .views.verdict import to_html

        return to_html(self.explanation, self.ok)

    def _repr_markdown_(self) -> str:
        from .views.verdict import to_markdown

        return to_markdown(self.explanation, self.ok)

    def show(self, **kw: Any) -> None:
        """Draw the run's lifecycle timeline (and its text version) in a notebook."""
        from .views import timeline

        if self.history is not None:
            timeline.show(self.history, **kw)


def check(history: "History", *, expected: Iterable[str], effects: dict[str, int],
          remaining: Iterable[str] = (), dead_lettered: Iterable[str] = (),
          expect: str = "exactly_once", poison: Iterable[str] = (),
          fired: Iterable["FiredFault"] = (), note: str = "", record: bool = True,
          interference: Iterable[str] = (), unreached: Iterable[Any] = ()) -> Verdict:
    """Check one run and explain any failure.

    Parameters
    ----------
    history:
        The run's history.
    expected:
        The business keys that were sent, in order.
    effects:
        Committed effects per key, read from the effect store.
    remaining:
        Keys of messages still in the queue (visible, in flight or delayed) at the end.
    dead_lettered:
        Keys of messages in the dead-letter queue at the end.
    expect:
        ``"exactly_once"`` or ``"at_least_once"``.
    poison:
        Keys that can never succeed: for them the right outcome is no effect and the DLQ.
    fired:
        The faults that fired, for the explanation.
    note:
        A line put before the explanation (e.g. which run of an exploration this was).
    record:
        Keep a failed verdict for the grader's feedback (:func:`record_failure`); False for views
        that ask at every click (the live demo).
    interference:
        What was done to the bench during the run (:meth:`~sqslab.faults.FaultPlan.interference`):
        any of it fails the run, whatever else it shows.
    unreached:
        Faults a test armed by hand that never fired: the run never met the situation it was meant
        to test, so it fails.
    """
    if expect not in EXPECTATIONS:
        raise ValueError(f"expect must be one of {', '.join(EXPECTATIONS)}")
    expected = list(expected)
    remaining, dead, poison = list(remaining), set(dead_lettered), set(poison)
    problems: list[Problem] = [Problem("interfered", None, text) for text in interference]
    for fault in unreached:
        problems.append(Problem("not_reached", None, f"the test armed {fault.describe()}, and no process "
                                                     "ever got there"))
    # A learner's function that is not a consumer (an operator's redrive script) must not raise: its
    # error comes first, since whatever else went wrong may only be its consequence.
    for e in (history.of_kind("error") if history is not None else []):
        where = f" at {e.detail['where']}" if e.detail.get("where") else ""
        problems.append(Problem("script_failed", e.key,
                                f"{e.detail.get('function', 'your function')}() raised "
                                f"{e.detail.get('error')}{where}"))
    for key in expected:
        n = effects.get(key, 0)
        if key in poison:
            if n:
                problems.append(Problem("duplicate" if n > 1 else "unexpected", key,
                                        f"{key} is poison (it can never succeed) but its effect happened {n} time(s)"))
            elif key not in dead and key not in remaining:
                problems.append(Problem("lost", key, f"{key} is poison and should end in the dead-letter "
                                                     "queue, but it is gone"))
            continue
        if n == 0 and key in dead:
            problems.append(Problem("dead_lettered", key,
                                    f"{key} ended in the dead-letter queue without its effect"))
        elif n == 0 and key not in remaining:
            problems.append(Problem("lost", key, f"{key} was lost: its effect never happened and the "
                                                 "message is no longer in the queue"))
        elif n > 1 and expect == "exactly_once":
            problems.append(Problem("duplicate", key, f"{key}'s effect happened {n} times (expected exactly once)"))
    for key in sorted(set(remaining), key=_order(expected)):
        if key not in poison or key in remaining:
            problems.append(Problem("not_drained", key, f"{key} was still in the queue at the end"))
    for key in sorted(set(effects) - set(expected)):
        problems.append(Problem("unexpected", key, f"an effect happened for {key}, which was never sent"))

    fired = list(fired)
    ok = not problems
    explanation = _explain(history, expect, problems, fired, effects, expected, note) if not ok else \
        _praise(expect, expected, fired, note)
    verdict = Verdict(ok, expect, explanation, problems, history, dict(effects), fired)
    return record_failure(verdict) if record else verdict


def record_failure(verdict: Verdict) -> Verdict:
    """Keep a failed verdict in :data:`failures` (the newest 20) and return it.

    Every checker of the bench (this one, and the FIFO, producer and capstone checks) files its
    failures here, so the grader can draw the timeline of a test's failing run.
    """
    if not verdict.ok:
        failures.append(verdict)
        del failures[:-20]
    return verdict


def _order(expected: list[str]):
    index = {k: i for i, k in enumerate(expected)}
    return lambda k: (index.get(k, len(index)), str(k))


def _praise(expect: str, expected: list[str], fired: list, note: str) -> str:
    lines = [note] if note else []
    lines.append(f"OK: {EXPECTATIONS[expect]} ({len(expected)} message(s)).")
    for ff in fired:
        lines.append(f"  survived: {ff.actor} hit {ff.fault.describe(ff.key)}")
    return "\n".join(lines)


_HINTS = {
    ("lost", "after_delete"): "The message was deleted before its effect was committed. Delete a "
                              "message only after its work is done and committed.",
    ("lost", "before_effect"): "The message was deleted (or its work marked done) before the effect "
                               "happened. Do the work first; delete (or mark done) after it is committed.",
    ("lost", "effect_uncommitted"): "The effect was rolled back when the process died, but the message "
                                    "was already deleted or marked done. Delete only after the commit.",
    ("lost", "handler_error"): "The handler failed and the message was deleted anyway, so SQS will never "
                               "deliver it again. When the work fails, do not delete: let the visibility "
                               "timeout return the message for another try.",
    ("duplicate", "effect_committed"): "The effect was committed, then the process died before deleting "
                                       "the message. SQS delivered it again after its visibility timeout "
                                       "and the effect ran a second time. SQS is at-least-once: make the "
                                       "effect idempotent (record the key in the same transaction).",
    ("duplicate", "before_delete"): "The delete never reached SQS, so the message came back after its "
                                    "visibility timeout and the effect ran again. Only an idempotent "
                                    "consumer survives this.",
    ("duplicate", "after_delete"): "SQS deleted the message but the consumer never learned so; the effect "
                                   "ran again somewhere. Check for the key before doing the effect.",
    ("duplicate", "duplicate_delivery"): "SQS delivered the same message twice (standard queues are "
                                         "at-least-once, even after a successful delete). The second "
                                         "delivery ran the effect again: check the key first.",
    ("duplicate", "visibility_expires"): "The work outlasted the visibility timeout, so a second consumer "
                                         "received the message while the first was still working, and both "
                                         "did the effect.",
    ("interfered", None): "The bench itself was changed while your code ran (its fault injection, or the "
                          "faults a test armed): such a run proves nothing, so it fails. A consumer "
                          "gets its process and nothing else of the bench; leave the rest alone.",
    ("not_reached", None): "A test arms a fault where every correct consumer must pass (receiving, handling, "
                           "deleting that message). Yours never got there for that message, so the run never "
                           "met the situation it tests: check that each message is handled and deleted.",
    ("script_failed", None): "Your function raised an exception instead of finishing its job. Fix the "
                             "error at the line it names first: the run's other events may only be its "
                             "consequences.",
    ("not_drained", "before_effect"): "The consumer died before the effect, and its message was never deleted "
                                      "afterwards: every later delivery was turned away or failed. If something "
                                      "the dead consumer left behind (a lock, a claim marked in progress) refuses "
                                      "the later deliveries, it must expire.",
    ("not_drained", None): "Something was never deleted. A consumer must delete each message once its work "
                           "is committed, or SQS delivers it again and again.",
    ("dead_lettered", None): "A message that could have succeeded ended in the dead-letter queue: it was "
                             "received more times than the redrive policy allows without being deleted.",
}


def _explain(history: "History", expect: str, problems: list[Problem], fired: list, effects: dict,
             expected: list[str], note: str) -> str:
    first = problems[0]
    lines = [note] if note else []
    lines.append(f"FAILED: expected {EXPECTATIONS[expect]}.")
    lines.append(f"Seen: {first.summary}.")
    for extra in problems[1:4]:
        lines.append(f"Also: {extra.summary}.")
    if len(problems) > 4:
        lines.append(f"(and {len(problems) - 4} more problem(s))")
    raised = _code_errors(history)
    if raised:
        lines.append("Raised by your code (an uncaught error kills the process, so the bench restarts it): "
                     + "; ".join(f"{error} ({n} time{'s' if n > 1 else ''})" for error, n in raised[:3]) + ".")
    if fired:
        lines.append("Injected: " + "; then ".join(f"{ff.actor} hit {ff.fault.describe(ff.key)}" for ff in fired) + ".")
    else:
        lines.append("Injected: nothing (this run had no fault).")
    hint = None
    for ff in fired:
        hint = _HINTS.get((first.kind, ff.fault.point))
        if hint:
            break
    if hint is None and raised:
        hint = ("Your consumer raised an error of its own (above), so each process died part-way through "
                "and the bench started a fresh one. Fix that error first: what went wrong may only be "
                "its consequence.")
    hint = hint or _HINTS.get((first.kind, None))
    if hint:
        lines.append("Why: " + hint)
    if history is not None and first.key is not None:
        story = [e for e in history if e.key == first.key or (e.kind in ("crash",) and _near(e, history, first.key))]
        if story:
            lines.append(f"What happened to {first.key}, in order:")
            lines.extend("  " + e.describe() for e in story[:30])
            if len(story) > 30:
                lines.append(f"  ... ({len(story) - 30} more events)")
    return "\n".join(lines)


def _code_errors(history: "History | None") -> list[tuple[str, int]]:
    """The distinct errors the learner's consumer raised (uncaught), most frequent first."""
    counts: dict[str, int] = {}
    for e in (history.of_kind("crash") if history is not None else []):
        error = e.detail.get("error")
        if error and e.detail.get("point") is None and not e.detail.get("caught"):
            text = error + (f" at {e.detail['where']}" if e.detail.get("where") else "")
            counts[text] = counts.get(text, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {os.path.dirname(os.path.abspath(__file__)), paths["stdlib"], paths["purelib"], paths["platlib"]}
    return tuple(os.path.join(d, "") for d in dirs if d)


def describe_error(exc: BaseException) -> tuple[str, str | None]:
    """``("KeyError: 'TaskHandle'", "line 6: task = ...")``: an error, and where the learner's code raised it.

    The place is the innermost frame of the traceback that is neither the bench nor a library (in a
    notebook: the cell's own code), or None when there is none.
    """
    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    libraries = _library_dirs()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not os.path.abspath(frame.filename).startswith(libraries):
            code = (frame.line or "").strip()
            where = ("" if frame.name.startswith("<") and frame.name != "<module>" else
                     " of the cell" if frame.name == "<module>" else f" of {frame.name}()")
            return error, f"line {frame.lineno}{where}" + (f": {code}" if code else "")
    return error, None


def _near(event, history, key) -> bool:
    # A crash is about the message its actor was handling: show it in that message's story.
    before = [e for e in history if e.seq < event.seq and e.actor == event.actor and e.key]
    return bool(before) and before[-1].key == key


def describe_fault_point(point: str) -> str:
    """Re-exported for views: what a fault point means."""
    return describe_point(point)
