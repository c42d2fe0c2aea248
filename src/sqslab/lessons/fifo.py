"""FIFO queues on the bench: orders in message groups, and a checker for the order within a group.

A FIFO queue keeps the messages of one MessageGroupId in order, and while a message of a group is
in flight it delivers no later message of that group (SQS Developer Guide, "FIFO delivery
logic"). SQS keeps its side of that promise; a consumer can still break it, by skipping a
message that failed and carrying on with the next one of the same group. This module runs a
consumer on a FIFO queue whose orders belong to several customers (one message group each), under
the same fault plans as :func:`sqslab.run_scenario`, and checks, besides the usual invariants,
that each customer's orders took effect in the order they were sent.

It also gives lesson 2's idempotent charge ready-made (:func:`idempotent_charge`), so that later
lessons plug it in rather than write it again, and :func:`run_steps`, which calls one consumer step
function directly, step after step, and states the per-step contract a FIFO consumer keeps.

>>> from sqslab.lessons.fifo import fifo_orders, run_in_order
>>> orders = fifo_orders("alice", "alice", "bob")   # order-1 and order-2 for alice, order-3 for bob
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ..check import EXPECTATIONS as CHECK_EXPECTATIONS
from ..check import Problem, Verdict, record_failure
from ..explore import fault_plans, first_failure, plan_kinds
from ..faults import CRASH_POINTS
from ..lab import Lab, Queue, default_key_of, lab_for
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
    key_of = lab.key_of if lab is not None else default_key_of
    problems = group_order_problems(outcome.history, bodies, key_of)
    if problems:
        outcome.verdict = _order_verdict(outcome.verdict, problems, outcome.history, bodies, key_of,
                                         expect, note)
    return outcome


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


# -- lesson 2's idempotent charge, given ------------------------------------------------------------
def idempotent_charge(process: Process) -> Callable[[str], None]:
    """Lesson 2's idempotent handler for ``process``: the charge and its "processed" mark commit together.

    ``handle(body)`` charges the order in ``body`` unless its order id is already in the
    ``processed`` table, and writes both in one transaction of the process's database, so a
    redelivery after a crash (between the charge and the delete) charges nothing. From lesson 3 on
    it is given, not written again.
    """
    process.db.execute("CREATE TABLE IF NOT EXISTS processed (order_id TEXT PRIMARY KEY)")
    process.db.commit()

    def handle(body: str) -> None:
        order_id = default_key_of(body)
        if order_id is None:
            raise ValueError(f"message body has no order id: {body[:60]!r}")
        with process.db:
            if process.db.execute("SELECT 1 FROM processed WHERE order_id = ?", (order_id,)).fetchone():
                return  # charged before: nothing to do
            process.db.apply_effect(order_id, "charge")
            process.db.execute("INSERT INTO processed (order_id) VALUES (?)", (order_id,))

    handle.__name__ = "idempotent_charge"
    return handle


# -- one consumer step function, called directly ---------------------------------------------------
_step_runs = itertools.count(1)


class PaymentFailed(Exception):
    """The payment service failed for one order (an ordinary, transient error)."""


@dataclass
class Step:
    """What one call of a consumer step did, by order id, in order."""

    received: list[str] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    returned: Any = None

    @property
    def succeeded(self) -> list[str]:
        """The orders whose handler returned."""
        return [k for k in self.tried if k not in self.failed]


@dataclass
class Steps:
    """The calls :func:`run_steps` made, what each did, and the problems with them."""

    steps: list[Step]
    groups: dict[str, str]
    sent: list[str]
    left: list[str]
    story: str
    problems: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> list[str]:
        """Every order whose handler returned, over all the steps, in order."""
        return [k for s in self.steps for k in s.succeeded]

    @property
    def tried(self) -> list[str]:
        """Every handler call, over all the steps, in order."""
        return [k for s in self.steps for k in s.tried]

    def report(self) -> str:
        """The problems, then each step and the story of the run, for an assertion message."""
        lines = list(self.problems)
        for i, s in enumerate(self.steps, 1):
            lines.append(f"step {i}: received {', '.join(s.received) or 'nothing'}; handled "
                         f"{', '.join(f'{k} (failed)' if k in s.failed else k for k in s.tried) or 'nothing'}; "
                         f"deleted {', '.join(s.deleted) or 'nothing'}; returned {s.returned!r}")
        return "\n".join(lines + ["What happened, in order:", self.story])


def run_steps(consume: Callable[[Any, str, Callable[[str], None]], Any], *, orders: Sequence[dict],
              failing: Iterable[str] = (), until: Callable[[Steps], bool] | None = None,
              max_steps: int = 6, visibility_timeout: int = 30) -> Steps:
    """Call ``consume(sqs, queue_url, handle)`` step after step on a FIFO queue of its own; check each step.

    The orders are sent in their customers' message groups to a fresh queue in a private lab; the
    handler fails (:class:`PaymentFailed`) for every order id in ``failing`` and succeeds for the
    others. Steps run until ``until(steps)`` is true or ``max_steps`` were made, however many
    messages each receive returned (a short poll may return fewer). The per-step contract checked
    (``Steps.problems``), each problem one sentence:

    - in a step, a message whose group had no failure before it in that step is handled (a failure
      holds back its own group only);
    - no order is handled while an earlier order of its group has not succeeded;
    - a message whose handler succeeded is deleted in that step; one that failed, or was held back,
      is not;
    - the step returns how many messages it handled and deleted.
    """
    failing = set(failing)
    with lab_for(None) as lab:
        queue = lab.queue(f"steps{next(_step_runs)}.fifo", visibility_timeout=visibility_timeout)
        for order in orders:
            lab.send(queue, order, MessageGroupId=group_of(order), MessageDeduplicationId=order["order_id"])
        sent = [o["order_id"] for o in orders]
        groups = {o["order_id"]: group_of(o) for o in orders}
        sqs = lab.client("sqs", actor="consumer-1")
        result = Steps([], groups, sent, [], "")
        try:
            for _ in range(max_steps):
                step = Step()

                def handle(body: str, step: Step = step) -> None:
                    key = default_key_of(body) or body[:40]
                    step.tried.append(key)
                    if key in failing:
                        step.failed.append(key)
                        raise PaymentFailed(f"payment service unavailable for {key} (try again later)")

                mark = len(lab.history)
                step.returned = consume(sqs, queue.url, handle)
                for e in lab.history.since(mark):
                    if e.kind == "receive" and e.key:
                        step.received.append(e.key)
                    elif e.kind == "delete" and e.key and e.detail.get("applied"):
                        step.deleted.append(e.key)
                result.steps.append(step)
                if until is not None and until(result):
                    break
        finally:
            lab.release(sqs)
        result.left = [k for k in (lab.key_of(m["body"]) for m in lab.snapshot(queue)["messages"]) if k]
        result.story = lab.history.text()
        result.problems = _step_problems(result)
    return result


def _step_problems(run: Steps) -> list[str]:
    problems: list[str] = []
    done: set[str] = set()
    position = {k: i for i, k in enumerate(run.sent)}
    for n, step in enumerate(run.steps, 1):
        blocked: dict[str, str] = {}  # group -> the order of it that failed (or was held) in this step
        for key in step.received:
            group = run.groups.get(key)
            earlier = [k for k in run.sent[:position.get(key, 0)] if run.groups.get(k) == group and k not in done]
            if key in step.tried:
                if earlier:
                    problems.append(f"step {n}: {key} ({group}) was handled while {earlier[0]} ({group}), sent "
                                    f"before it, had not succeeded: a failed message must hold back the rest of "
                                    "its group")
                if key in step.failed:
                    blocked.setdefault(group, key)
                    if key in step.deleted:
                        problems.append(f"step {n}: {key} failed and was deleted anyway: it is lost")
                else:
                    done.add(key)
                    if key not in step.deleted:
                        problems.append(f"step {n}: {key} was handled but not deleted: it will come back and be "
                                        "handled again")
            else:
                if group not in blocked and not earlier:
                    failed = next(iter(blocked.values()), None)
                    after = f" after {failed} ({run.groups.get(failed)}) failed" if failed else ""
                    problems.append(f"step {n}: {key} ({group}) was received but not handled{after}: a failure "
                                    "holds back only its own group, and the other groups carry on in the same step")
                blocked.setdefault(group, key)
                if key in step.deleted:
                    problems.append(f"step {n}: {key} was deleted without being handled: it is lost")
        succeeded_and_deleted = len([k for k in step.succeeded if k in step.deleted])
        if step.returned != succeeded_and_deleted:
            problems.append(f"step {n} returned {step.returned!r}, but it handled and deleted "
                            f"{succeeded_and_deleted} message(s): return how many it finished")
    return problems
