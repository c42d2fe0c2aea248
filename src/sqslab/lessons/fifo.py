"""FIFO queues on the bench: orders in message groups, and a checker for the order within a group.

A FIFO queue keeps the messages of one MessageGroupId in order, and while a message of a group is
in flight it delivers no later message of that group (SQS Developer Guide, "FIFO delivery
logic"). SQS keeps its side of that promise; a consumer can still break it, by skipping a
message that failed and carrying on with the next one of the same group. This module runs a
consumer on a FIFO queue whose orders belong to several customers (one message group each), under
the same fault plans as :func:`sqslab.run_scenario`, and checks, besides the usual invariants,
that each customer's orders took effect in the order they were sent.

>>> from sqslab.lessons.fifo import fifo_orders, run_in_order
>>> orders = fifo_orders("alice", "alice", "bob")   # order-1 and order-2 for alice, order-3 for bob
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Sequence

from ..check import EXPECTATIONS as CHECK_EXPECTATIONS
from ..check import Problem, Verdict, record_failure
from ..explore import fault_plans, first_failure, plan_kinds
from ..faults import CRASH_POINTS
from ..lab import Lab, Queue, current_lab
from ..scenario import Outcome, Process, run_scenario

#: The field of an order that names its customer: the message group of its events.
GROUP_FIELD = "customer"

#: What exploration tries on a FIFO queue by default: every crash point, a failing handler, and
#: work that outlasts the visibility timeout. (No duplicate deliveries: FIFO queues do not make
#: them, and the bench does not inject them there.)
FIFO_POINTS: tuple[str, ...] = CRASH_POINTS + ("handler_error", "visibility_expires")

ORDER_EXPECTATION = "each customer's orders charged in the order they were sent (their message group's order)"


def fifo_orders(*customers: str, amount: int = 10) -> list[dict]:
    """One order per customer named, in that order: ``order-1``, ``order-2``, ...

    >>> fifo_orders("alice", "bob")
    [{'order_id': 'order-1', 'customer': 'alice', 'amount': 10}, {'order_id': 'order-2', 'customer': 'bob', 'amount': 20}]
    """
    customers = customers or ("alice", "alice", "bob", "alice")
    return [{"order_id": f"order-{i + 1}", GROUP_FIELD: c, "amount": amount * (i + 1)}
            for i, c in enumerate(customers)]


def group_of(body: str | dict) -> str:
    """The message group of an order: its customer (``"orders"`` when it names none)."""
    data = body if isinstance(body, dict) else _json(body)
    value = data.get(GROUP_FIELD) if isinstance(data, dict) else None
    return str(value) if value else "orders"


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return None


def send_in_groups(lab: Lab, queue: Queue, bodies: Sequence[str]) -> None:
    """Send each order to ``queue`` in its customer's group, its order id as deduplication ID.

    The ``send`` hook of :func:`sqslab.run_scenario`: what a well-behaved producer does.
    """
    for body in bodies:
        key = lab.key_of(body)
        lab.send(queue, body, MessageGroupId=group_of(body), MessageDeduplicationId=key or body[:128])


def group_order_problems(history: Iterable, bodies: Sequence[str | dict], key_of: Callable[[str], str | None]) -> list[Problem]:
    """Orders whose first effect came before the first effect of an earlier order of their group.

    Parameters
    ----------
    history:
        The run's history (effects are read from it, in the order they were committed).
    bodies:
        The orders as sent, in send order.
    key_of:
        Maps a body to its business key (the lab's ``key_of``).
    """
    first: dict[str, int] = {}
    for e in history:
        if e.kind == "effect" and e.key is not None and e.key not in first:
            first[e.key] = e.seq
    groups: dict[str, list[str]] = {}
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        key = key_of(text)
        if key is not None:
            groups.setdefault(group_of(text), []).append(key)
    problems = []
    for group, keys in groups.items():
        for i, later in enumerate(keys):
            for earlier in keys[:i]:
                if later in first and earlier in first and first[later] < first[earlier]:
                    problems.append(Problem(
                        "out_of_order", later,
                        f"{later} ({group}) took effect before {earlier} ({group}), which was sent "
                        f"before it in the same message group"))
                    break
    return problems


_ORDER_HINT = ("A message of this group failed (or its consumer died) and the consumer went on with "
               "a later message of the same group. SQS keeps a group in order only if the consumer "
               "does too: when a message fails, handle no later message of its group in this step "
               "(leave them, undeleted, to come back after it), and carry on with the other groups.")


def _order_verdict(base: Verdict, problems: list[Problem], history, bodies, key_of, expect: str,
                   note: str) -> Verdict:
    lines = [note] if note else []
    lines.append(f"FAILED: expected {ORDER_EXPECTATION}, and {CHECK_EXPECTATIONS[expect]}.")
    lines.append(f"Seen: {problems[0].summary}.")
    for extra in (problems[1:] + [p for p in base.problems])[:3]:
        lines.append(f"Also: {extra.summary}.")
    if base.faults:
        lines.append("Injected: " + "; then ".join(f"{ff.actor} hit {ff.fault.describe(ff.key)}"
                                                  for ff in base.faults) + ".")
    else:
        lines.append("Injected: nothing (this run had no fault).")
    lines.append("Why: " + _ORDER_HINT)
    keys = {key_of(b if isinstance(b, str) else json.dumps(b)): group_of(b) for b in bodies}
    charged = [f"{e.key} ({keys.get(e.key, '?')})" for e in history if e.kind == "effect"]
    lines.append("Effects, in the order they were committed: " + ", ".join(charged) + ".")
    verdict = Verdict(False, expect, "\n".join(lines), problems + list(base.problems), history,
                      dict(base.effects), list(base.faults), base.runs)
    record_failure(verdict)
    return verdict


def run_in_order(consumer: Callable[[Process], Any], *, messages: Sequence[dict | str] | None = None,
                 faults: Iterable = (), expect: str = "at_least_once", visibility_timeout: int = 30,
                 lab: Lab | None = None, note: str = "", **scenario: Any) -> Outcome:
    """Run ``consumer`` on a FIFO queue of orders in customer groups; check order as well.

    Parameters
    ----------
    consumer:
        ``consumer(process)`` handles one step (see :class:`~sqslab.scenario.Process`).
    messages:
        The orders (default: ``fifo_orders("alice", "alice", "bob", "alice")``); each is sent in
        its customer's message group with its order id as MessageDeduplicationId.
    faults, expect, visibility_timeout, lab, note, scenario:
        As for :func:`sqslab.run_scenario`.

    Returns
    -------
    Outcome
        Its verdict fails if any invariant of :func:`sqslab.check` fails, or if a later order of
        a group took effect before an earlier one.
    """
    bodies = [m if isinstance(m, str) else json.dumps(m) for m in (messages or fifo_orders())]
    outcome = run_scenario(consumer, messages=bodies, faults=faults, expect=expect,
                           visibility_timeout=visibility_timeout, fifo=True, send=send_in_groups,
                           lab=lab, note=note, **scenario)
    key_of = (lab or current_lab() or _Keys()).key_of
    problems = group_order_problems(outcome.history, bodies, key_of)
    if problems:
        outcome.verdict = _order_verdict(outcome.verdict, problems, outcome.history, bodies, key_of,
                                         expect, note)
    return outcome


class _Keys:
    """The default key function, for a run whose private lab has already closed."""

    @staticmethod
    def key_of(body: str) -> str | None:
        from ..lab import default_key_of

        return default_key_of(body)


def explore_in_order(consumer: Callable[[Process], Any], *, messages: Sequence[dict | str] | None = None,
                     points: Iterable[str] = FIFO_POINTS, expect: str = "at_least_once",
                     max_runs: int = 30, double: bool = True, lab: Lab | None = None,
                     **scenario: Any) -> Verdict:
    """Every fault point at every message position (bounded by ``max_runs``), order checked too.

    The FIFO counterpart of :func:`sqslab.explore`: the same plans in the same order, each run
    through :func:`run_in_order`. Returns the first failing verdict, or a passing one saying how
    many runs were tried.
    """
    points = tuple(points)
    bodies = messages or fifo_orders()

    def run(plan, lab, note):
        return run_in_order(consumer, messages=bodies, faults=plan, expect=expect, lab=lab, note=note,
                            require_fired=False, **scenario)

    plans = fault_plans(points, len(bodies), double=double, visibility_timeout=scenario.get("visibility_timeout", 30))
    failed, runs = first_failure(run, plans, max_runs=max_runs, lab=lab)
    if failed is not None:
        return failed
    return Verdict(True, expect,
                   f"OK: {runs} runs, every fault point ({', '.join(points)}) at every message "
                   f"position{plan_kinds(double)}: {ORDER_EXPECTATION}; "
                   f"{CHECK_EXPECTATIONS[expect]}.", runs=runs)
