"""The producer's side: run producer code under crashes, and check what reached the queue.

"Lose nothing" starts before the queue. A producer that saves an order in its database and
sends an event about it does two things that nothing makes atomic, just as a consumer's effect
and its delete are two things. This module runs producer code the way
:func:`sqslab.run_scenario` runs consumers: one request per order, a crash wherever a fault plan
says (the effect store's points, ``before:SendMessage`` / ``after:SendMessage``, and the
non-fatal ``send_timeout`` and ``throttle``), a fresh process after each crash (its open
transaction rolled back, nothing kept in memory), and an outbox relay when there is one. Then it
compares the queue with the database:

- ``expect="consistent"`` (the default): every order the database committed has exactly one
  event in the queue (none **lost**, none **duplicated**), there is no event for an order the
  database does not have (no **ghost** event), and no request failed except by an injected crash;
- ``expect="every_order"`` (for a producer without a database): every order's request succeeded
  and its event is in the queue exactly once.

The business change is an effect in the bench's effect store (``producer.save_order(order)``,
then ``producer.db.commit()``), so the checker reads the truth from the database itself. The
bench creates an ``outbox`` table (:data:`OUTBOX_SCHEMA`) in the same database, so an order and
its event can be written in one transaction.

A timeout is slow: when ``send_timeout`` fires the clock moves on by ``read_timeout`` seconds
(botocore waits 60 s by default before it gives up on a read), so a retry is sent later than the
first attempt, as it would be for real. A restart is slow too: a fault with ``restart_after``
makes the next process (a retried request, a restarted relay) start that many simulated seconds
later, so whatever a producer derives from the time changes across it.

The relay is an operator's script: the harness restarts it after a crash, as a person would, and
the checks must hold whichever of its steps it died between (reading the outbox, sending, marking
the row sent). :func:`relay_using` builds the lesson's relay on a learner's ``publish``.

A copy sent again **after** SQS's 5-minute deduplication interval, with the same deduplication ID,
is delivered again whatever the producer does (Developer Guide, FIFO key terms): the verdict
tolerates such a copy and says so (only the consumer's idempotency can absorb it), while a copy
with another deduplication ID, or one sent within the interval, is a duplicate.

The module is long because it holds everything the producer's lesson needs, one module per lesson
(the package's rule): the producer runner, the outbox relay, the verdicts and their explanations,
and the producer's fault plans.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..check import Problem, Verdict, record_failure
from ..effects import EffectDB
from ..exceptions import Crash, LabError, RunawayConsumer
from ..explore import first_failure
from ..faults import Fault, is_fatal
from ..lab import Lab, lab_for, learner_code
from ..moto.backend import DEDUPLICATION_SECONDS
from ..timers import ProcessClock
from .fifo import fifo_orders, group_of

#: The effect that stands for "the order is saved in the shop's database".
SAVE_ORDER = "save order"

#: The outbox table the bench creates in the producer's database.
OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id  TEXT NOT NULL,
    body      TEXT NOT NULL,
    sent      INTEGER NOT NULL DEFAULT 0
);
"""

#: What :func:`explore_producer` tries by default: dying around the database commit and around
#: SendMessage, a send that times out after SQS accepted it, and a throttled send.
PRODUCER_POINTS: tuple[str, ...] = (
    "before_effect", "effect_uncommitted", "effect_committed", "before:SendMessage",
    "after:SendMessage", "send_timeout", "throttle",
)

EXPECTATIONS = {
    "consistent": "every order the database committed has exactly one event in the queue, and no "
                  "event exists for an order the database does not have",
    "every_order": "every order's request succeeds and its event is in the queue exactly once",
}

#: After each request the relay gets this many steps (a restart after each crash) to empty the
#: outbox; a relay that still has not managed is given up on for that request.
RELAY_STEPS_PER_REQUEST = 5

_run_ids = itertools.count(1)


@dataclass(eq=False)
class Producer:
    """One producer process (a shop's request handler, or an outbox relay): what its code may use.

    Like a consumer's :class:`~sqslab.scenario.Process`, it holds no handle to the lab, its fault
    plan or its clock's controls.

    Attributes
    ----------
    name: ``"producer-1"``, ``"relay-1"``, ... (a new number after every crash).
    sqs: a boto3 SQS client (recorded, faultable).
    queue_url: the queue to send to.
    db: this process's connection to the shop's database (an :class:`~sqslab.effects.EffectDB`:
        ``execute``, ``commit``, ``with db:``), which also holds the ``outbox`` table.
    clock: the process's clock (:class:`~sqslab.timers.ProcessClock`: ``now()``, ``sleep(seconds)`` to
        back off).
    state: a dict for whatever the process keeps in memory (gone when it dies).
    """

    name: str
    sqs: Any
    queue_url: str
    db: EffectDB
    clock: Any
    state: dict = field(default_factory=dict)

    def save_order(self, order: dict) -> None:
        """The business change: store ``order`` in the current transaction (commit it yourself)."""
        key = _labs[self].key_of(json.dumps(order))
        if key is None:
            raise ValueError(f"the order has no order_id: {order!r}")
        self.db.apply_effect(key, SAVE_ORDER, detail=json.dumps(order, sort_keys=True))

    def die(self) -> None:
        """Process death: roll back what was not committed, drop the client, stop its timers."""
        self.db.crash()
        _labs[self].release(self.sqs)
        self.clock.kill()


#: Each producer's lab, out of the producer's reach.
_labs: "weakref.WeakKeyDictionary[Producer, Lab]" = weakref.WeakKeyDictionary()


@dataclass
class ProducerOutcome:
    """What one producer run produced."""

    verdict: Verdict
    history: Any
    saved: dict[str, int]
    delivered: dict[str, int]
    requests: dict[str, str]
    faults: list


def run_producer(place_order: Callable[[Producer, dict], Any], *, orders: int | Sequence[dict] = 3,
                 relay: Callable[[Producer], Any] | None = None, faults: Iterable[Fault | str] = (),
                 expect: str = "consistent", content_based_dedup: bool = False, fifo: bool = True,
                 read_timeout: float = 60.0, relay_restart_delay: float = 30.0,
                 retry_requests: int = 0, queue_attributes: dict | None = None,
                 lab: Lab | None = None, note: str = "", require_fired: bool = True) -> ProducerOutcome:
    """Place orders with ``place_order`` under ``faults``, run the relay, and check the queue.

    Parameters
    ----------
    place_order:
        ``place_order(producer, order)``: one request of the shop (see :class:`Producer`).
    orders:
        How many orders (alice, bob, alice, ...), or the orders themselves.
    relay:
        ``relay(producer)``: one step of an outbox relay (send what the outbox holds, mark it
        sent). After each request the bench runs relay steps until no outbox row is left unsent;
        a relay that dies is restarted ``relay_restart_delay`` simulated seconds later (or the
        ``restart_after`` of the fault that killed it), as an operator would re-run it.
    faults:
        Faults to inject (each fires once), matched by order position. A fatal fault's
        ``restart_after`` delays the next process (a retried request, a restarted relay).
    expect:
        ``"consistent"`` or ``"every_order"`` (see the module's docstring).
    content_based_dedup, fifo, queue_attributes:
        The queue's settings (a FIFO queue by default).
    read_timeout:
        Simulated seconds a ``send_timeout`` takes before the error reaches the caller.
    retry_requests:
        How many times the shop's caller retries a request that failed (the process crashed or
        raised), each time on a fresh process: the same order is placed again. A request's
        outcome is its last attempt's.
    lab:
        The lab to run in (default: a private one for this run, never the notebook's).
    require_fired:
        A fault of ``faults`` that never fires fails the run (it was armed where every design the
        test means to check passes). Explorations pass False.
    """
    if expect not in EXPECTATIONS:
        raise ValueError(f"expect must be one of {', '.join(EXPECTATIONS)}")
    with lab_for(lab) as lab:
        saved = lab.begin_run()
        try:
            return _run(lab, place_order, orders, relay, list(faults), expect, content_based_dedup, fifo,
                        read_timeout, relay_restart_delay, retry_requests, queue_attributes or {}, note,
                        require_fired)
        finally:
            lab.end_run(saved)


def _run(lab: Lab, place_order, orders, relay, faults, expect, content_based_dedup, fifo, read_timeout,
         relay_restart_delay, retry_requests, queue_attributes, note, require_fired) -> ProducerOutcome:
    run_id = next(_run_ids)
    queue = lab.queue(f"producer{run_id}-orders" + (".fifo" if fifo else ""), fifo=fifo,
                      content_based_dedup=content_based_dedup, **queue_attributes)
    orders = fifo_orders(*[("alice", "bob")[i % 2] for i in range(orders)]) if isinstance(orders, int) \
        else [dict(o) for o in orders]
    keys = [lab.key_of(json.dumps(o)) for o in orders]
    if None in keys:
        raise LabError("every order needs an order_id")
    for key in keys:
        lab.position_of(key)
    setup = sqlite3.connect(lab.effects.path)
    try:
        setup.executescript(OUTBOX_SCHEMA)
    finally:
        setup.close()
    lab.faults.arm(*faults)
    armed = tuple(lab.faults.armed)

    def slow_timeout(event) -> None:
        if event.kind == "fault" and event.detail.get("point") == "send_timeout" and read_timeout:
            lab.clock.advance(read_timeout)

    lab.history.subscribe(slow_timeout)
    counters = {"producer": itertools.count(1), "relay": itertools.count(1)}
    live: dict[str, Producer] = {}

    def spawn(role: str) -> Producer:
        name = f"{role}-{next(counters[role])}"
        db = lab.effects.connect(name)
        clock = ProcessClock(lab.clock, owner=name, alive=lambda: not db.closed and name not in lab.faults.dead,
                             note=lambda actor, text: lab.history.append(actor, "note", text=text),
                             record=lambda action, timer: lab.history.append(name, "timer", action=action,
                                                                             timer=timer.id))
        p = Producer(name, lab.client("sqs", actor=name), queue.url, db, clock)
        _labs[p] = lab
        lab.history.append(name, "start")
        live[name] = p
        return p

    def call(p: Producer, fn: Callable, *args) -> tuple[bool, str]:
        """Run one request or relay step; (still alive?, "ok" or what went wrong)."""
        p.sqs._sqslab_state["calls"] = 0
        p.sqs._sqslab_state["budget"] = 50
        try:
            with learner_code():
                fn(p, *args)
            if p.name not in lab.faults.dead:
                return True, "ok"
            lab.history.append(p.name, "crash", point="caught",
                               error="the code caught the injected crash and carried on; the process "
                                     "was dead, so nothing it did after counts")
            status = "crashed"
        except Crash as crash:
            lab.history.append(p.name, "crash", point=crash.point)
            status = "crashed"
        except RunawayConsumer as runaway:
            lab.history.append(p.name, "crash", error=str(runaway))
            status = f"failed: {runaway}"
        except LabError:
            raise
        except Exception as exc:  # an uncaught error ends the request; its transaction rolls back
            lab.history.append(p.name, "crash", error=f"{type(exc).__name__}: {exc}")
            status = f"failed: {type(exc).__name__}: {exc}"
        p.die()
        live.pop(p.name, None)
        return False, status

    def restart_delay(dead: str, default: float) -> float:
        """How long until the next process starts: the killing fault's ``restart_after``, or ``default``."""
        asked = [ff.fault.restart_after for ff in lab.faults.fired
                 if ff.actor == dead and ff.fault.fatal and ff.fault.restart_after]
        delay = max(asked) if asked else default
        if delay:
            lab.history.append("bench", "note", text=f"the next process starts {delay:g} s after {dead} died")
            lab.clock.advance(delay)
        return delay

    requests: dict[str, str] = {}
    producer: Producer | None = None
    relayer: Producer | None = None
    try:
        for key, order in zip(keys, orders):
            for _attempt in range(1 + max(0, retry_requests)):
                if producer is None:
                    producer = spawn("producer")
                alive, requests[key] = call(producer, place_order, dict(order))
                if alive:
                    break
                restart_delay(producer.name, 0.0)  # the next process (a retry, the relay) starts later
                producer = None
            if relay is None:
                continue
            for _ in range(RELAY_STEPS_PER_REQUEST):
                if not _unsent(lab):
                    break
                if relayer is None:
                    relayer = spawn("relay")
                alive, _status = call(relayer, relay)
                if not alive:
                    restart_delay(relayer.name, relay_restart_delay)
                    relayer = None
    finally:
        for p in list(live.values()):
            p.die()
        lab.history.unsubscribe(slow_timeout)

    rows = lab.effects.rows()
    saved_orders = Counter(k for k, effect, _, _ in rows if effect == SAVE_ORDER)
    delivered = Counter(k for k in (lab.key_of(m["body"]) for m in lab.snapshot(queue)["messages"]) if k)
    interference = lab.faults.interference(armed)
    unreached = lab.faults.unfired(armed) if require_fired else []
    verdict = _verdict(lab.history, keys, saved_orders, delivered, requests, expect,
                       list(lab.faults.fired), note, _unsent(lab), interference, unreached)
    return ProducerOutcome(verdict, lab.history, dict(saved_orders), dict(delivered), requests,
                           list(lab.faults.fired))


def outbox_relay(relay: Producer) -> int:
    """The bench's own outbox relay: one step, the order id as deduplication ID.

    Sends every unsent ``outbox`` row (its ``body`` is the order as JSON) to the relay's queue in
    the order's customer group, and marks each row sent once SQS answered. It does not retry: a
    send that fails kills the step, and the restarted relay sends the row again, which FIFO
    deduplication drops. Returns how many rows it sent.
    """
    rows = relay.db.execute("SELECT id, order_id, body FROM outbox WHERE sent = 0 ORDER BY id").fetchall()
    for row_id, order_id, body in rows:
        relay.sqs.send_message(QueueUrl=relay.queue_url, MessageBody=body, MessageGroupId=group_of(body),
                               MessageDeduplicationId=str(order_id))
        with relay.db:
            relay.db.execute("UPDATE outbox SET sent = 1 WHERE id = ?", (row_id,))
    return len(rows)


def relay_using(publish: Callable[[Any, str, dict, Any], Any]) -> Callable[[Producer], int]:
    """The lesson's outbox relay, sending with ``publish(sqs, queue_url, order, clock)``.

    One step: read every unsent ``outbox`` row, send its order with ``publish``, then mark the row
    sent. Send first, mark after: a relay that dies between the two sends the row again when it
    is restarted (at least once), and ``publish``'s deduplication ID is what makes SQS drop that
    copy. A graded test uses this relay, built on the learner's ``publish``, rather than a relay
    defined in the notebook (which a learner could change).
    """

    def relay_step(relay: Producer) -> int:
        rows = relay.db.execute("SELECT id, body FROM outbox WHERE sent = 0 ORDER BY id").fetchall()
        for row_id, body in rows:
            publish(relay.sqs, relay.queue_url, json.loads(body), relay.clock)
            with relay.db:
                relay.db.execute("UPDATE outbox SET sent = 1 WHERE id = ?", (row_id,))
        return len(rows)

    relay_step.__name__ = f"relay_using_{getattr(publish, '__name__', 'publish')}"
    return relay_step


def _unsent(lab: Lab) -> int:
    con = sqlite3.connect(lab.effects.path)
    try:
        return con.execute("SELECT COUNT(*) FROM outbox WHERE sent = 0").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        con.close()


# -- the checker -------------------------------------------------------------------------------------
def _verdict(history, keys: list[str], saved: Counter, delivered: Counter, requests: dict[str, str],
             expect: str, fired: list, note: str, unsent: int, interference: Iterable[str] = (),
             unreached: Iterable[Fault] = ()) -> Verdict:
    problems: list[Problem] = [Problem("interfered", None, text) for text in interference]
    for fault in unreached:
        problems.append(Problem("not_reached", None, f"the test armed {fault.describe()}, and no process "
                                                     "ever got there"))
    tolerated: list[str] = []
    for key in keys:
        n_saved, n_sent, status = saved.get(key, 0), delivered.get(key, 0), requests.get(key, "ok")
        if expect == "every_order":
            if status != "ok":
                problems.append(Problem("failed", key, f"the request for {key} did not succeed ({status})"))
            if n_sent == 0:
                problems.append(Problem("lost", key, f"{key}'s event never reached the queue"))
        else:
            if n_saved > 1:
                problems.append(Problem("duplicate", key, f"{key} was saved {n_saved} times"))
            if n_saved and not n_sent:
                problems.append(Problem("lost", key, f"{key} was saved (committed) but its event never "
                                                     "reached the queue: a lost event"))
            if n_sent and not n_saved:
                problems.append(Problem("ghost", key, f"{key}'s event is in the queue, but the order was "
                                                      "never saved (rolled back): a ghost event"))
            if status == "ok" and not n_saved:
                problems.append(Problem("not_saved", key, f"the request for {key} succeeded but the order "
                                                          "was never committed"))
            if status.startswith("failed"):
                # Only an injected crash may end a request: an error the code let escape is a bug.
                problems.append(Problem("failed", key, f"the request for {key} did not succeed ({status})"))
        if n_sent > 1:
            copies = delivered_copies(history, key)
            if beyond_the_window(copies):
                gap = copies[-1][0] - copies[0][0]
                tolerated.append(f"{key}'s event is in the queue {n_sent} times: the copy was sent {gap:.0f} s "
                                 "after the first, past SQS's 5-minute deduplication interval, with the same "
                                 "deduplication ID. No producer can stop that copy; the consumer's "
                                 "idempotency must absorb it (lesson 2).")
            else:
                problems.append(Problem("duplicate", key, f"{key}'s event is in the queue {n_sent} times "
                                                          "(expected once)"))
    for key in sorted(set(delivered) - set(keys)):
        problems.append(Problem("unexpected", key, f"an event for {key}, which was never placed, is in the queue"))
    order = {k: i for i, k in enumerate(keys)}
    problems.sort(key=lambda p: -1 if p.key is None else order.get(p.key, len(order)))
    ok = not problems
    if ok:
        lines = [note] if note else []
        lines.append(f"OK: {EXPECTATIONS[expect]} ({len(keys)} order(s)).")
        lines.extend(f"  survived: {ff.actor} hit {describe_fault(ff)}" for ff in fired)
        lines.extend(f"  beyond the window: {t}" for t in tolerated)
        return Verdict(True, expect, "\n".join(lines), [], history, dict(saved), fired)
    verdict = Verdict(False, expect, _explain(history, expect, problems, fired, note, unsent),
                      problems, history, dict(saved), fired)
    record_failure(verdict)
    return verdict


def delivered_copies(history: Iterable, key: str) -> list[tuple[float, str, str | None]]:
    """Each delivered send of ``key``'s event: ``(time, deduplication key, MessageDeduplicationId)``.

    The deduplication key is the explicit MessageDeduplicationId, or the SHA-256 of the body that
    content-based deduplication would use.
    """
    out = []
    for e in history:
        if e.kind == "send" and e.key == key and e.detail.get("delivered", True):
            dedup_id = e.detail.get("dedup_id")
            body = e.detail.get("body", "")
            out.append((e.time, dedup_id or "sha256:" + hashlib.sha256(body.encode()).hexdigest(), dedup_id))
    return out


def beyond_the_window(copies: Sequence[tuple[float, str, str | None]]) -> bool:
    """True when every copy after the first carries the same deduplication ID and came after the interval.

    Such copies are delivered whatever the producer does: SQS deduplicates for 5 minutes only.
    """
    return (len(copies) > 1 and len({c[1] for c in copies}) == 1
            and all(b[0] - a[0] >= DEDUPLICATION_SECONDS for a, b in zip(copies, copies[1:])))


_HINTS = {
    ("lost", "effect_committed"): "The order was committed, then the process died before SendMessage. "
                                  "Nothing remembers that the event is still owed. Write the event to "
                                  "an outbox table in the same transaction as the order, and let a "
                                  "relay send it.",
    ("lost", "before:SendMessage"): "The order was committed, then the process died before SendMessage "
                                    "reached SQS. Nothing remembers that the event is still owed. Write "
                                    "the event to an outbox table in the same transaction as the "
                                    "order, and let a relay send it.",
    ("lost", "throttle"): "SQS throttled the send (ThrottlingException): it was not applied, and nobody "
                          "tried again. Retry a throttled send, with the same deduplication ID.",
    ("lost", "send_timeout"): "SendMessage timed out and the error ended the request, so nothing sent "
                              "the event. Retry the send, with the same deduplication ID.",
    ("ghost", "after:SendMessage"): "The event was sent inside the transaction, then the process died "
                                    "before the commit: the database rolled the order back, but SQS "
                                    "already had the event, about an order that does not exist. Never "
                                    "send before the commit: write the event to an outbox in the "
                                    "same transaction instead.",
    ("ghost", "effect_uncommitted"): "The event was sent before the order was committed, then the "
                                     "process died: the order was rolled back, the event was not. "
                                     "Write the event to an outbox in the same transaction instead.",
    ("ghost", "send_timeout"): "The send timed out after SQS had accepted the event; the error rolled "
                               "the order back, but the event was already out. Write the event to an "
                               "outbox in the same transaction instead.",
    ("duplicate", "send_timeout"): "SendMessage timed out after SQS had accepted the message, and the "
                                   "retry was delivered as a second message. A timeout does not mean "
                                   "the send failed. Retry with the same MessageDeduplicationId "
                                   "(derived from the order, never generated per attempt), so SQS "
                                   "accepts the copy and delivers nothing new.",
    ("duplicate", "after:SendMessage"): "The event was sent, then the process died before recording "
                                        "that it had been; after the restart it was sent again, and "
                                        "SQS delivered the copy. Derive the MessageDeduplicationId "
                                        "from the order alone (not a random value, not the time, "
                                        "which has moved on by the restart), so the resend is "
                                        "deduplicated.",
    ("failed", "send_timeout"): "SendMessage timed out and the error reached the caller. A timeout "
                                "does not tell you whether SQS got the message: retry it, with the "
                                "same MessageDeduplicationId.",
    ("failed", "throttle"): "SQS throttled the send (ThrottlingException) and the error reached the "
                            "caller. Throttling is transient: back off a little and retry.",
    ("not_saved", None): "The request returned, but its order was never committed: commit the "
                         "transaction (or use `with db:`).",
    ("failed", None): "The request raised an error that was not injected: read the error above.",
}


#: The effect store's fault points, told from a producer's side (its effect is saving the order).
_PRODUCER_WORDS = {
    "before_effect": "the producer died just before saving the order",
    "effect_uncommitted": "the producer died after saving the order, before the commit (so it was rolled back)",
    "effect_committed": "the producer died right after the order was committed, before anything else",
    "handler_error": "saving the order failed with an ordinary exception (a transient error)",
}


def describe_fault(fired) -> str:
    """A fired fault in a producer's words: where, for which order, what it means."""
    fault = fired.fault
    which = "" if fault.message is None else f" on order {fault.message + 1}"
    if fired.key:
        which += f" ({fired.key})"
    nth = "" if fault.occurrence == 1 else f" (the {fault.occurrence}th time)"
    from ..faults import describe_point

    return f"'{fault.point}'{which}{nth}: {_PRODUCER_WORDS.get(fault.point) or describe_point(fault.point)}"


def _explain(history, expect: str, problems: list[Problem], fired: list, note: str, unsent: int) -> str:
    first = problems[0]
    lines = [note] if note else []
    lines.append(f"FAILED: expected {EXPECTATIONS[expect]}.")
    lines.append(f"Seen: {first.summary}.")
    lines.extend(f"Also: {p.summary}." for p in problems[1:4])
    if len(problems) > 4:
        lines.append(f"(and {len(problems) - 4} more problem(s))")
    if fired:
        lines.append("Injected: " + "; then ".join(f"{ff.actor} hit {describe_fault(ff)}"
                                                  for ff in fired) + ".")
    else:
        lines.append("Injected: nothing (this run had no fault).")
    hint = next((_HINTS[(first.kind, ff.fault.point)] for ff in fired
                 if (first.kind, ff.fault.point) in _HINTS), None) or _HINTS.get((first.kind, None))
    if first.kind == "duplicate":
        copies = delivered_copies(history, first.key)
        if len({c[1] for c in copies}) > 1:
            shown = ", then ".join(f"{_shown_id(c[2])} at t={c[0]:g}s" for c in copies[:3])
            hint = (f"The copies carry different deduplication IDs ({shown}), so SQS could not tell "
                    "they were the same event. " + (hint or "Derive the ID from the order alone: not from "
                    "the time, a counter or a random value, which change between attempts (a retry comes "
                    "a minute later, a restart seconds to days later)."))
    if first.kind in ("interfered", "not_reached"):
        hint = ("This run did not test what it was meant to: " + first.summary + ". Leave the bench's "
                "fault injection alone, and make sure the code reaches the point the test names.")
    if unsent and first.kind == "lost":
        hint = (hint + " " if hint else "") + f"({unsent} outbox row(s) were never marked sent.)"
    if hint:
        lines.append("Why: " + hint)
    story = _story(history, first.key)
    if story:
        lines.append(f"What happened to {first.key}, in order:")
        lines.extend("  " + e.describe() for e in story[:30])
    return "\n".join(lines)


def _shown_id(dedup_id: str | None) -> str:
    return "a body hash (content-based)" if dedup_id is None else repr(dedup_id)


def _story(history, key: str | None) -> list:
    if key is None:
        return []
    story, last_key = [], {}
    for e in history:
        if e.key:
            last_key[e.actor] = e.key
        if e.key == key or (e.kind == "crash" and last_key.get(e.actor) == key):
            story.append(e)
    return story


# -- exploration ---------------------------------------------------------------------------------------
#: How long a crashed producer or relay takes to come back, in the late-restart plans: a few seconds, a
#: minute (whatever is derived from the clock changes), and past FIFO's 5-minute deduplication window.
PRODUCER_RESTART_DELAYS = (5.0, 61.0, 301.0)


def producer_plans(points: Sequence[str], orders: int, *, double: bool = False) -> Iterator[tuple[Fault, ...]]:
    """Every plan :func:`explore_producer` tries, in order.

    None; each point at each order; then, when ``double``, three kinds taking turns (so that a
    small run budget still tries each): a second fatal fault on the same order (the restarted
    process dies again), a late restart (:data:`PRODUCER_RESTART_DELAYS`), and two faults on two
    orders in one run.
    """
    yield ()
    for point in points:
        for position in range(orders):
            yield (Fault(point, position),)
    if not double:
        return
    fatal = [p for p in points if is_fatal(p)]

    def again() -> Iterator[tuple[Fault, ...]]:
        for position in range(orders):
            for first in fatal:
                for second in fatal:
                    yield (Fault(first, position), Fault(second, position, occurrence=2 if first == second else 1))

    def late() -> Iterator[tuple[Fault, ...]]:
        for delay in PRODUCER_RESTART_DELAYS:
            for point in fatal:
                for position in range(orders):
                    yield (Fault(point, position, restart_after=delay),)

    def two_orders() -> Iterator[tuple[Fault, ...]]:
        pairs = [(a, b) for a in range(orders) for b in range(a + 1, orders)]
        for a, b in pairs:
            for point in points:
                yield (Fault(point, a), Fault(point, b))
        for a, b in pairs:
            for one in points:
                for other in points:
                    if one != other:
                        yield (Fault(one, a), Fault(other, b))

    kinds = [again(), late(), two_orders()]
    while kinds:
        for kind in list(kinds):
            plan = next(kind, None)
            if plan is None:
                kinds.remove(kind)
            else:
                yield plan


def explore_producer(place_order: Callable[[Producer, dict], Any], *, orders: int | Sequence[dict] = 2,
                     relay: Callable[[Producer], Any] | None = None,
                     points: Iterable[str] = PRODUCER_POINTS, expect: str = "consistent",
                     max_runs: int = 20, double: bool = False, lab: Lab | None = None,
                     **options: Any) -> Verdict:
    """Try ``place_order`` (and ``relay``) under every fault plan, up to ``max_runs`` runs.

    ``double=True`` adds, after the single faults, a second crash of the restarted process, late
    restarts and two faults on two orders (:func:`producer_plans`). Returns the first failing
    verdict, or a passing one saying how many runs were tried.
    """
    points = tuple(points)
    count = orders if isinstance(orders, int) else len(orders)

    def run(plan, lab, note):
        return run_producer(place_order, orders=orders, relay=relay, faults=plan, expect=expect, lab=lab,
                            note=note, require_fired=False, **options)

    failed, runs = first_failure(run, producer_plans(points, count, double=double), max_runs=max_runs, lab=lab,
                                 unit="order")
    if failed is not None:
        return failed
    more = ", then crashes on restart, late restarts and two faults in one run" if double else ""
    return Verdict(True, expect, f"OK: {runs} runs, every fault point ({', '.join(points)}) at every "
                                 f"order{more}: {EXPECTATIONS[expect]}.", runs=runs)


# -- a producer's retry loop, tried without SQS ------------------------------------------------------------
class KeptRetrying(BaseException):
    """Stops a send loop that would retry forever (a BaseException: ``except Exception`` cannot hide it)."""


@dataclass
class Attempts:
    """What :func:`attempts_until_raised` saw: how many sends, the sleeps asked for, what was raised."""

    calls: int
    sleeps: list[float]
    raised: BaseException | None


def attempts_until_raised(publish: Callable[[Any, str, dict, Any], Any], error: BaseException, *,
                          order: dict | None = None, limit: int = 20) -> Attempts:
    """Call ``publish`` against an SQS whose every SendMessage raises ``error``; report what it did.

    ``publish(sqs, queue_url, order, clock)`` gets a stand-in client that fails every send with
    ``error`` (and stops the loop after ``limit`` sends) and a stand-in clock that only writes down
    the sleeps asked for. Nothing waits in real or simulated time.
    """
    sends: list[dict] = []
    sleeps: list[float] = []

    class FailingSQS:
        def send_message(self, **request: Any) -> dict:
            sends.append(request)
            if len(sends) > limit:
                raise KeptRetrying(f"still sending after {limit} failed attempts")
            raise error

    class SleepLog:
        def sleep(self, seconds: float) -> None:
            sleeps.append(seconds)

        def now(self) -> float:
            return 1_767_603_600.0 + sum(sleeps)

    raised: BaseException | None = None
    try:
        publish(FailingSQS(), "https://sqs.us-east-1.amazonaws.com/123456789012/graded.fifo",
                dict(order or {"order_id": "order-51", "customer": "dave", "amount": 5}), SleepLog())
    except KeptRetrying as stop:
        raised = stop
    except BaseException as exc:  # noqa: BLE001 - what the loop raised is the answer
        raised = exc
    return Attempts(len(sends), sleeps, raised)
