"""Lesson 2's bench pieces: a claims table in DynamoDB, its story on the record, and comparisons.

The idempotent consumer of lesson 2 comes in two kinds:

* the **mark in the same transaction**: the consumer records the business key in its own SQLite
  table in the same transaction as the effect (nothing here is needed for that: the effect store
  is SQLite already);
* the **claim**: the consumer claims the key in a DynamoDB table with a conditional write (an
  ``INPROGRESS`` record with an expiry), does the effect elsewhere, then marks the record
  ``COMPLETED``, the states Powertools for AWS Lambda uses.

The first kind, :func:`idempotent_charge` (with :func:`order_key` and :func:`payload_fingerprint`),
is lesson 2's answer given to the lessons after it. :func:`conflict_verdict` checks the policy for
an order id that comes back with another payload (the dead-letter queue), and :func:`lambda_batch`
runs Powertools' own idempotency utility and batch processor on the bench, as Lambda's SQS event
source mapping would.

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
import hashlib
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

__all__ = ["CLAIMS_TABLE", "COMPLETED", "IN_PROGRESS", "LambdaContext", "claims", "claims_client",
           "conflict_verdict", "crash_matrix", "dead_letter_verdict", "idempotent_charge", "lambda_batch", "order_key",
           "payload_fingerprint", "reset_claims_table"]

#: The claims table's name; its partition key is the string attribute ``id`` (Powertools' default).
CLAIMS_TABLE = "idempotency"
#: The status of a claim whose work is under way (Powertools: ``INPROGRESS``).
IN_PROGRESS = "INPROGRESS"
#: The status of a claim whose work is done (Powertools: ``COMPLETED``).
COMPLETED = "COMPLETED"

#: The item calls written on the history.
_RECORDED = {"put_item": "PutItem", "update_item": "UpdateItem", "delete_item": "DeleteItem",
             "get_item": "GetItem"}


# -- the key and the idempotent charge (lesson 2's answers, given to the lessons after it) ------------
def order_key(body: str) -> str | None:
    """The idempotency key of a message body: its ``order_id`` when that is a non-empty string, else None.

    Lesson 2's first exercise; its second part and the lessons after it are given this one. Never raises.
    """
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return None
    key = data.get("order_id") if isinstance(data, dict) else None
    return key if isinstance(key, str) and key else None


def payload_fingerprint(body: str) -> str:
    """A SHA-256 of the body's JSON with its keys sorted: two copies of the same order have the same one.

    Whitespace and the order of the fields do not change it; any value does (another amount is
    another payload). A body that is not JSON is hashed as it is.
    """
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        canonical = str(body)
    return hashlib.sha256(canonical.encode()).hexdigest()


#: The table :func:`idempotent_charge` keeps its records in (one per order: its key and payload fingerprint).
PROCESSED_TABLE = "processed"


def idempotent_charge(db: Any, body: str) -> str:
    """Charge the order in ``body`` once, whatever the deliveries: lesson 2's idempotent charge, given.

    In **one transaction** on ``db`` (a process's :class:`~sqslab.effects.EffectDB`), record the
    order's key with its payload fingerprint (``processed``, key as PRIMARY KEY) and, only if the key
    was new, charge. Commit once: a crash before the commit undoes both, a crash after it keeps both.

    Returns
    -------
    str
        ``"charged"`` (new order, charged and committed); ``"duplicate"`` (recorded before with the
        same payload: nothing to do, delete the message); ``"conflict"`` (recorded before with
        another payload: not the same order, so neither charge nor delete: leave it for the
        dead-letter queue); ``"no_key"`` (no usable order id: leave it too).

    Raises
    ------
    Exception
        Whatever the charge or the database raised (the transaction is rolled back first): the work
        failed, so leave the message for another delivery.
    """
    key = order_key(body)
    if key is None:
        return "no_key"
    fingerprint = payload_fingerprint(body)
    db.execute(f"CREATE TABLE IF NOT EXISTS {PROCESSED_TABLE} (key TEXT PRIMARY KEY, payload TEXT)")
    try:
        new = db.execute(f"INSERT OR IGNORE INTO {PROCESSED_TABLE} (key, payload) VALUES (?, ?)",
                         (key, fingerprint)).rowcount
        if new:
            db.apply_effect(key, "charge")
            db.commit()
            return "charged"
        seen = db.execute(f"SELECT payload FROM {PROCESSED_TABLE} WHERE key = ?", (key,)).fetchone()
        db.rollback()
    except Exception:
        db.rollback()
        raise
    return "duplicate" if seen is None or seen[0] in (None, fingerprint) else "conflict"


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


def conflict_verdict(outcome: "Outcome", conflicting: Sequence[str]) -> Verdict:
    """Did every conflicting message (an order id seen before with another payload) end in the DLQ, uncharged?

    Lesson 2's policy for a payload that differs under a key already recorded: it is not a copy of
    the order recorded, so it must not be deleted as a duplicate; nor is it a new order, so it must
    not be charged under a key already used. It is left, and the redrive policy moves it to the
    dead-letter queue for a person to look at (Powertools for AWS Lambda raises
    ``IdempotencyValidationError`` there). Run the scenario with
    ``max_receive_count`` set, then pass its outcome and the conflicting bodies here.
    """
    wanted = {json.dumps(b) if isinstance(b, dict) else b for b in conflicting}
    sends = [e for e in outcome.history.of_kind("send") if e.detail.get("body") in wanted]
    if not sends:
        raise LabError("This run sent none of the conflicting bodies: there is nothing to check here.")
    problems = []
    for send in sends:
        story = outcome.history.for_message(send.message_id)
        if any(e.kind == "dlq_move" for e in story):
            continue
        deleted = [e for e in story if e.kind == "delete" and e.detail.get("applied", True)]
        seen = (f"{deleted[0].actor} deleted it at t={deleted[0].time:g}s as if it were a duplicate: the order "
                "with the new payload is gone, and nobody will know") if deleted else \
            "it was neither deleted nor moved to the dead-letter queue by the end of the run"
        problems.append("\n".join([
            f"The message {send.detail.get('body', '')[:60]!r} carries order id {send.key} with a payload that "
            "differs from the one recorded for it.",
            "Expected: not charged, not deleted: a conflict, left for the dead-letter queue.",
            f"Seen: {seen}.", "What happened to it, in order:", *["  " + e.describe() for e in story[:20]]]))
    if problems:
        return Verdict(False, outcome.verdict.expect, "FAILED: " + "\n\n".join(problems), history=outcome.history)
    return Verdict(True, outcome.verdict.expect, f"OK: {len(sends)} conflicting message(s) went to the dead-letter "
                   "queue, uncharged.", history=outcome.history)


# -- the field's own tool: Powertools for AWS Lambda, run by the bench ------------------------------------
class LambdaContext:
    """Enough of a Lambda context for Powertools: a function that times out ``timeout`` seconds after it started.

    Powertools' idempotency utility sets a record's ``in_progress_expiration`` to the moment the
    function would time out, read from the context's remaining time; without a context it sets none.
    The time is the lab's simulated clock (``clock.now()``).
    """

    function_name = "charge-orders"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:charge-orders"
    aws_request_id = "sqslab-request"
    log_group_name = "/aws/lambda/charge-orders"
    log_stream_name = "sqslab"

    def __init__(self, timeout: float, clock: Any):
        self._deadline = clock.now() + timeout
        self._clock = clock

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the function would time out (0 once it has)."""
        return max(0, int((self._deadline - self._clock.now()) * 1000))


def lambda_batch(process: "Process", record_handler: Callable[[Any], Any], *, config: Any = None,
                 timeout: float | None = None) -> list[str]:
    """One invocation of a Lambda function on an SQS batch, as the event source mapping runs it, with Powertools.

    Receives up to 10 messages (a long poll), hands them to Powertools' ``BatchProcessor`` as an SQS
    event (``process_partial_response``, ``record_handler(record)`` for each record), deletes the
    messages it did not report in ``batchItemFailures`` (what Lambda does with
    ReportBatchItemFailures on), and leaves the others for their retry. When every record fails,
    Powertools raises, and Lambda returns the whole batch: so does this. With ``timeout`` the
    function gets a :class:`LambdaContext` of that many seconds, registered with the idempotency
    ``config`` (Powertools then sets an in-progress expiry); without it, none.

    Returns the MessageIds left for a retry.
    """
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    messages = process.sqs.receive_message(QueueUrl=process.queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=20, AttributeNames=["All"]).get("Messages", [])
    if not messages:
        return []
    context = LambdaContext(timeout, process.clock) if timeout is not None else None
    if context is not None and config is not None:
        config.register_lambda_context(context)
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{process.queue_url.rsplit('/', 1)[-1]}"
    event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                          "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": REGION} for m in messages]}
    try:
        response = process_partial_response(event=event, record_handler=record_handler,
                                            processor=BatchProcessor(event_type=EventType.SQS), context=context)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    except BatchProcessingError:
        failed = {m["MessageId"] for m in messages}  # every record failed: Lambda returns the whole batch
    for m in messages:
        if m["MessageId"] not in failed:
            process.sqs.delete_message(QueueUrl=process.queue_url, ReceiptHandle=m["ReceiptHandle"])
    return sorted(failed)
