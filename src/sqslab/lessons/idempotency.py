"""Lesson 2's bench pieces: a claims table in DynamoDB, its story on the record, and comparisons.

The idempotent consumer of lesson 2 comes in two kinds:

* the **mark in the same transaction**: the consumer records the business key in its own SQLite
  table in the same transaction as the effect (nothing here is needed for that: the effect store
  is SQLite already);
* the **claim**: the consumer claims the key in a DynamoDB table with a conditional write (an
  ``INPROGRESS`` record with an expiry), does the effect elsewhere, then marks the record
  ``COMPLETED``, the states Powertools for AWS Lambda uses.

For the claim, every run needs a fresh, empty table (the bench's runs reuse the order ids
``order-1``, ``order-2``, ...), and a learner needs to see the claims in the story of a run.
:func:`claims_client` gives a consumer process its DynamoDB client, empties the table at the start
of each run, and writes every item call on the run's history as a note, so a failed verdict's
explanation shows what the claims did. :func:`crash_matrix` runs consumers under each crash point
and tabulates what became of the message, for the lesson's side-by-side comparisons.

>>> from sqslab.lessons.idempotency import CLAIMS_TABLE, claims_client
>>> def my_claim_consumer(p):
...     consume_with_claim(p.sqs, p.queue_url, claims_client(p), p.db, p.clock.now)
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..check import Verdict
from ..exceptions import Crash, LabError
from ..faults import CRASH_POINTS, Fault
from ..lab import ACCOUNT_ID, REGION
from ..moto import state
from ..scenario import lab_of

if TYPE_CHECKING:  # pragma: no cover
    from ..lab import Lab
    from ..scenario import Outcome, Process

__all__ = ["CLAIMS_TABLE", "COMPLETED", "IN_PROGRESS", "claims", "claims_client", "crash_matrix",
           "dead_letter_verdict", "reset_claims_table"]

#: The claims table's name; its partition key is the string attribute ``id`` (Powertools' default).
CLAIMS_TABLE = "idempotency"
#: The status of a claim whose work is under way (Powertools: ``INPROGRESS``).
IN_PROGRESS = "INPROGRESS"
#: The status of a claim whose work is done (Powertools: ``COMPLETED``).
COMPLETED = "COMPLETED"

#: The item calls written on the history.
_RECORDED = {"put_item": "PutItem", "update_item": "UpdateItem", "delete_item": "DeleteItem",
             "get_item": "GetItem"}


# -- the table --------------------------------------------------------------------------------------
def reset_claims_table(lab: "Lab", name: str = CLAIMS_TABLE) -> None:
    """Create the claims table, or empty it if it exists (a fresh run starts with no claims).

    The table has one key, the string attribute ``id``, and on-demand capacity, like the table
    Powertools for AWS Lambda expects by default.
    """
    lab._require_running()
    if state.empty_table(name, ACCOUNT_ID, REGION):
        return
    admin = lab._session.client("dynamodb", region_name=REGION)
    admin.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                       KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])


def claims(lab: "Lab", name: str = CLAIMS_TABLE) -> list[dict]:
    """The claims in the table right now, as plain dicts sorted by id (times on the run's clock).

    A number that reads as a Unix time (an expiry) is shown as ``t=...s`` on the same scale as the
    history, so it can be compared with the times in ``lab.history``.
    """
    offset = lab.clock.now() - lab.history.now()
    out = []
    for item in state.table_items(name, ACCOUNT_ID, REGION):
        record = {k: _plain(v) for k, v in item.items()}
        out.append({k: _as_time(v, offset) for k, v in record.items()})
    return sorted(out, key=lambda r: str(r.get("id")))


# -- the client a consumer process gets --------------------------------------------------------------
def claims_client(process: "Process") -> Any:
    """The DynamoDB client of ``process`` (recorded and faultable), with an empty table per run.

    The first call in a run empties the claims table (the runs of an exploration reuse the same
    order ids). The client is made once per process and kept in ``process.state``, so a crashed
    process's successor gets a new one, as a restarted process would. Each ``PutItem``,
    ``UpdateItem``, ``DeleteItem`` and ``GetItem`` is written on the run's history as a note
    under the consumer's name and the order id, so it appears in a verdict's explanation.
    """
    lab = lab_of(process)
    # Every run gets a new effect store: it tells one run from the next (kept by reference, so
    # it cannot be mistaken for a later store the way a recycled id() could).
    if getattr(lab, "_claims_run", None) is not lab.effects:
        reset_claims_table(lab)
        lab._claims_run = lab.effects
    client = process.state.get("_claims_client")
    if client is None:
        client = _RecordedClient(process.client("dynamodb"), lab, process.name)
        process.state["_claims_client"] = client
    return client


class _RecordedClient:
    """A boto3 DynamoDB client that also notes its item calls on the lab's history."""

    def __init__(self, client: Any, lab: "Lab", actor: str):
        self._client = client
        self._lab = lab
        self._actor = actor

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name not in _RECORDED:
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **params: Any) -> Any:
            try:
                result = attr(*args, **params)
            except Crash as crash:
                # A crash after the call (``after:PutItem``): DynamoDB applied it, then the
                # process died. Before the call: nothing was applied, nothing to note.
                if crash.point.startswith("after:"):
                    self._note(_RECORDED[name], params, "applied (then the process died)", None)
                raise
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
                self._note(_RECORDED[name], params, code, getattr(exc, "response", None))
                raise
            self._note(_RECORDED[name], params, "ok", result)
            return result

        return call

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._client)) | set(vars(self)))

    def __repr__(self) -> str:
        return f"<DynamoDB client of {self._actor} (item calls noted on the history)>"

    def _note(self, operation: str, params: dict, outcome: str, response: Any) -> None:
        try:
            key = _item_key(params)
            offset = self._lab.clock.now() - self._lab.history.now()
            text = f"dynamodb {operation} {key or '?'}{_describe(operation, params, offset)}: {outcome}"
            if operation == "GetItem" and outcome == "ok":
                item = (response or {}).get("Item")
                text += " " + (_fields(item, offset) if item else "(no item)")
            elif isinstance(response, dict) and response.get("Item") and outcome != "ok":
                text += " (the item: " + _fields(response["Item"], offset) + ")"
            position, message_id = self._lab.locate(key) if key and _known(self._lab, key) else (None, None)
            self._lab.history.append(self._actor, "note", message_id, key if message_id else None,
                                     text=text)
        except Exception:  # noting is best effort: it must never change what the call did
            pass


def _known(lab: "Lab", key: str) -> bool:
    return lab.recorder.knows(key)


def _item_key(params: dict) -> str | None:
    for field in ("Key", "Item"):
        value = (params.get(field) or {}).get("id")
        if isinstance(value, dict) and "S" in value:
            return value["S"]
    return None


def _describe(operation: str, params: dict, offset: float) -> str:
    parts = []
    if operation == "PutItem":
        item = {k: v for k, v in (params.get("Item") or {}).items() if k != "id"}
        parts.append(" " + _fields(item, offset))
    elif operation == "UpdateItem" and params.get("UpdateExpression"):
        values = params.get("ExpressionAttributeValues") or {}
        shown = ", ".join(f"{k}={_show(_plain(v), offset)}" for k, v in values.items())
        parts.append(f" {params['UpdateExpression']}" + (f" [{shown}]" if shown else ""))
    if params.get("ConditionExpression"):
        parts.append(f" if {params['ConditionExpression']}")
    return "".join(parts)


def _fields(item: Mapping[str, Any], offset: float) -> str:
    return "{" + ", ".join(f"{k}: {_show(_plain(v), offset)}" for k, v in item.items()) + "}"


def _plain(value: Any) -> Any:
    """A DynamoDB attribute value (``{"S": "x"}``, ``{"N": "1"}``) as a plain Python value."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    (kind, v), = value.items()
    if kind == "N":
        number = float(v)
        return int(number) if number.is_integer() else number
    if kind in ("S", "BOOL", "B"):
        return v
    if kind == "NULL":
        return None
    if kind == "L":
        return [_plain(x) for x in v]
    if kind == "M":
        return {k: _plain(x) for k, x in v.items()}
    return v


def _as_time(value: Any, offset: float) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1e9 < value < 1e11:
        return f"t={_seconds(value - offset)}s"
    return value


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _show(value: Any, offset: float) -> str:
    shown = _as_time(value, offset)
    return shown if isinstance(shown, str) else json.dumps(shown)


# -- side by side ------------------------------------------------------------------------------------
@dataclass
class CrashMatrix:
    """What became of one message under each crash point, for several consumers side by side."""

    points: list[str]
    names: list[str]
    cells: dict[tuple[str, str], str]
    verdicts: dict[tuple[str, str], Verdict]

    def __str__(self) -> str:
        width = max(len(p) for p in self.points + ["crash point"]) + 2
        cols = [max(len(n), *(len(self.cells[(p, n)]) for p in self.points)) + 2 for n in self.names]
        lines = ["crash point".ljust(width) + "".join(n.ljust(c) for n, c in zip(self.names, cols))]
        lines.append("-" * (width + sum(cols)))
        for p in self.points:
            lines.append(p.ljust(width) + "".join(self.cells[(p, n)].ljust(c) for n, c in zip(self.names, cols)))
        return "\n".join(line.rstrip() for line in lines)

    def __repr__(self) -> str:
        return str(self)


def crash_matrix(consumers: Mapping[str, Callable[["Process"], Any]], *,
                 points: Sequence[str] = CRASH_POINTS, messages: int = 1, message: int = 0,
                 **scenario: Any) -> CrashMatrix:
    """Run each consumer once per crash point (at ``message``) and say what became of it.

    Each cell reads ``ok`` (charged exactly once, nothing left), ``TWICE`` (charged more than once),
    ``LOST`` (never charged, gone from the queue) or ``STUCK`` (never charged, still in the
    queue). Costs ``len(consumers) * len(points)`` runs.

    Parameters
    ----------
    consumers:
        Column title -> consumer step.
    points:
        The crash points to try (default: every crash point, in the order a message meets them).
    messages, message:
        How many orders each run sends, and the position of the one the crash hits.
    scenario:
        Passed on to :func:`~sqslab.scenario.run_scenario`.
    """
    from ..scenario import run_scenario

    if not 0 <= message < messages:
        raise LabError("message must be a position among the messages sent (0-based).")
    cells: dict[tuple[str, str], str] = {}
    verdicts: dict[tuple[str, str], Verdict] = {}
    for point in points:
        for name, consumer in consumers.items():
            outcome = run_scenario(consumer, messages=messages, faults=[Fault(point, message)],
                                   expect="exactly_once", require_fired=False, **scenario)
            verdicts[(point, name)] = outcome.verdict
            cells[(point, name)] = _summary(outcome.verdict)
    return CrashMatrix(list(points), list(consumers), cells, verdicts)


def _summary(verdict: Verdict) -> str:
    if verdict.ok:
        return "ok"
    kinds = {p.kind for p in verdict.problems}
    for kind, word in (("duplicate", "TWICE"), ("lost", "LOST"), ("dead_lettered", "LOST (DLQ)"),
                       ("not_drained", "STUCK"), ("unexpected", "WRONG KEY")):
        if kind in kinds:
            return word
    return "FAILED"


# -- messages without a key ----------------------------------------------------------------------------
def dead_letter_verdict(outcome: "Outcome", *, key_of: Callable[[str], str | None] | None = None) -> Verdict:
    """Did every message without a usable key end in the dead-letter queue, untouched?

    The policy lesson 2 teaches for a message whose key is missing or malformed: do not guess a
    key, do not crash, do not delete it; leave it, and the queue's redrive policy moves it to the
    dead-letter queue after ``maxReceiveCount`` receives, where a person can look at it. Run the
    scenario with ``max_receive_count`` set, then pass its outcome here.

    Parameters
    ----------
    outcome:
        What :func:`~sqslab.scenario.run_scenario` returned.
    key_of:
        How to read a body's key (default: the lab's, which reads ``order_id`` and friends).
    """
    history = outcome.history
    if key_of is None:
        from ..lab import default_key_of as key_of  # noqa: N813
    keyless = [e for e in history.of_kind("send") if key_of(e.detail.get("body", "")) is None]
    if not keyless:
        raise LabError("This run sent no message without a key: there is nothing to check here.")
    problems = []
    for send in keyless:
        story = history.for_message(send.message_id)
        body = send.detail.get("body", "")
        moved = any(e.kind == "dlq_move" for e in story)
        deleted = [e for e in story if e.kind == "delete" and e.detail.get("applied", True)]
        if moved:
            continue
        if deleted:
            seen = (f"{deleted[0].actor} deleted it at t={deleted[0].time:g}s, so nobody will ever see it "
                    "again: an order nobody can find")
        else:
            seen = "it was neither deleted nor moved to the dead-letter queue by the end of the run"
        lines = [f"The message {body[:50]!r} has no usable order id.",
                 "Expected: no charge, no delete: SQS's redrive policy moves it to the dead-letter queue "
                 "after maxReceiveCount receives, where a person can look at it.",
                 f"Seen: {seen}.", "What happened to it, in order:"]
        lines += ["  " + e.describe() for e in story[:20]]
        problems.append("\n".join(lines))
    if problems:
        return Verdict(False, outcome.verdict.expect, "FAILED: " + "\n\n".join(problems), history=history)
    return Verdict(True, outcome.verdict.expect,
                   f"OK: {len(keyless)} message(s) without a usable order id went to the dead-letter "
                   "queue, uncharged.", history=history)
