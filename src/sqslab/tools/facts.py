"""The SQS facts of the course (``docs/sqs-facts.md``) as checks that run against any endpoint.

Each :class:`Fact` is one row of the "what is true" tables of ``docs/sqs-facts.md`` (delivery,
FIFO, dead-letter queues) or of the moto rows the bench corrects, checked with ordinary boto3 calls
on fresh queues of a lab. A check returns :class:`Seen`: honoured or not, and what the endpoint did,
in a sentence. The same checks serve three purposes:

* ``tests/tools/test_facts.py`` runs every one against moto in this process (with the bench's
  corrections) and against moto's server mode, and requires all honoured;
* ``python -m sqslab.tools.fidelity`` (``make fidelity``) runs them against whichever endpoint
  ``SQSLAB_ENDPOINT`` names and prints the table: which facts that endpoint honours;
* a lesson or a test can run one: ``check("stale_receipt_handle")``.

Timings are small (visibility timeouts of 1 or 2 s), so an endpoint with a real clock checks most
facts in a few seconds of real waiting; a fact that needs more real waiting than the lab allows
(the 5-minute deduplication window) is reported as not checked, with the setting that allows it.

Facts that are true of SQS but that no API call can show are not here: duplicates on standard
queues ("rare"), FIFO throughput quotas, and Lambda's partial batch responses.

The module is long because it is a catalogue: one small check per fact, all in one place, so the
list reads as the course's claims. ``python -m sqslab.tools.facts --markdown`` prints the table that
``docs/sqs-facts.md`` ends with.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..exceptions import LabError

__all__ = ["FACTS", "Fact", "FactBench", "Seen", "check", "run_facts"]


@dataclass(frozen=True)
class Seen:
    """What a check saw: ``honoured`` is True, False, or None (not checked here, and why)."""

    honoured: bool | None
    seen: str


@dataclass(frozen=True)
class Fact:
    """One SQS fact: its name, its topic in docs/sqs-facts.md, what is true, the AWS page, and its check."""

    name: str
    topic: str
    statement: str
    source: str
    check: Callable[["FactBench"], Seen]


_queue_numbers = itertools.count(1)


class NotCheckable(Exception):
    """The check cannot run here (it would wait too long in real time)."""


class FactBench:
    """What a check uses: a client, fresh queues, waiting, and a few readers.

    Parameters
    ----------
    lab:
        A running :class:`sqslab.Lab`; its endpoint is the one checked.
    """

    def __init__(self, lab):
        self.lab = lab
        self.sqs = lab.client(actor="fidelity")
        self.simulated = lab.in_process  # time moves at once; otherwise it is waited out

    # -- queues ----------------------------------------------------------------------------------
    def queue(self, stem: str, fifo: bool = False, **attributes: Any) -> tuple[str, str]:
        """A fresh queue with exactly these attributes (SQS's defaults for the rest): ``(url, arn)``."""
        # Numbered per process: labs in one process can share moto's state (a nested lab, a
        # server in this process), and a queue of an earlier check must never be reused.
        name = f"f{next(_queue_numbers)}-{stem}" + (".fifo" if fifo else "")
        attrs = {k: str(v) for k, v in attributes.items()}
        if fifo:
            attrs["FifoQueue"] = "true"
        queue = self.lab.bare_queue(name, attrs)
        return queue.url, queue.arn

    def attributes(self, url: str, *names: str) -> dict:
        """The queue's attributes (all of them when none are named)."""
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])["Attributes"]

    # -- calls -----------------------------------------------------------------------------------
    def receive(self, url: str, **kw: Any) -> list[dict]:
        """ReceiveMessage (no long poll unless asked); the messages."""
        kw.setdefault("WaitTimeSeconds", 0)
        return self.sqs.receive_message(QueueUrl=url, **kw).get("Messages", [])

    def fetch(self, url: str, **kw: Any) -> list[dict]:
        """ReceiveMessage where the answer should be certain: a 1 s long poll.

        A short poll samples some of SQS's servers and can miss the only message (Developer
        Guide, "Short and long polling"; the bench's moto samples too); a long poll asks them all
        and returns at once when messages are there (on the simulated clock no time passes then).
        """
        kw.setdefault("WaitTimeSeconds", 1)
        return self.receive(url, **kw)

    def send(self, url: str, body: str = "m", **kw: Any) -> dict:
        """SendMessage; the answer."""
        return self.sqs.send_message(QueueUrl=url, MessageBody=body, **kw)

    def error(self, call: Callable[[], Any]) -> str | None:
        """The error code ``call`` fails with, or None when it succeeds."""
        from botocore.exceptions import ClientError

        try:
            call()
        except ClientError as error:
            details = error.response.get("Error", {})
            code = details.get("QueryErrorCode") or details.get("Code") or "?"
            return code.rsplit(".", 1)[-1]
        return None

    # -- time ------------------------------------------------------------------------------------
    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass: at once on the simulated clock, really elsewhere."""
        clock = self.lab.clock
        if not self.simulated and seconds > getattr(clock, "max_wait", float("inf")):
            raise NotCheckable(f"needs {seconds:g} s of real waiting, more than SQSLAB_MAX_WAIT="
                               f"{clock.max_wait:g} allows (set SQSLAB_MAX_WAIT={int(seconds) + 5} to check it)")
        clock.advance(seconds)

    def past(self, timeout: float) -> None:
        """Wait until just past a timeout of ``timeout`` seconds counted from now."""
        self.wait(timeout + (0.01 if self.simulated else 0.6))

    def stopwatch(self) -> Callable[[], float]:
        """Seconds since now, on the lab's clock where simulated, on the wall where real."""
        if self.simulated:
            start = self.lab.clock.now()
            return lambda: self.lab.clock.now() - start
        start = time.monotonic()
        return lambda: time.monotonic() - start


def _yes(ok: bool, seen: str) -> Seen:
    return Seen(bool(ok), seen)


def _ids(messages: Iterable[dict]) -> list[str]:
    return [m["MessageId"] for m in messages]


def _bodies(messages: Iterable[dict]) -> list[str]:
    return [m["Body"] for m in messages]


# -- delivery -------------------------------------------------------------------------------------------
def _visibility_default(fb: FactBench) -> Seen:
    url, _ = fb.queue("default")
    value = fb.attributes(url, "VisibilityTimeout").get("VisibilityTimeout")
    return _yes(value == "30", f"a new queue's VisibilityTimeout is {value}")


def _visibility_hides_until_timeout(fb: FactBench) -> Seen:
    url, _ = fb.queue("hide", VisibilityTimeout=1)
    fb.send(url)
    first = fb.fetch(url)
    during = fb.receive(url)
    fb.past(1)
    after = fb.fetch(url)
    ok = len(first) == 1 and during == [] and _ids(after) == _ids(first)
    return _yes(ok, f"received {len(first)}, then {len(during)} while hidden, then {len(after)} once the "
                    "1 s timeout ran out" + ("" if _ids(after) == _ids(first) else " (not the same message)"))


def _visibility_zero(fb: FactBench) -> Seen:
    url, _ = fb.queue("zero")
    fb.send(url)
    m = fb.fetch(url, VisibilityTimeout=30)[0]
    fb.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    again = fb.fetch(url)
    return _yes(_ids(again) == [m["MessageId"]],
                f"after ChangeMessageVisibility to 0 a receive at once got {len(again)} message(s)")


def _visibility_max(fb: FactBench) -> Seen:
    url, _ = fb.queue("max")
    fb.send(url)
    m = fb.fetch(url)[0]
    extend = fb.error(lambda: fb.sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=43201))
    at_max = fb.error(lambda: fb.sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=43200))
    queue = fb.error(lambda: fb.queue("max-queue", VisibilityTimeout=43201))
    ok = extend is not None and at_max is None and queue is not None
    return _yes(ok, f"ChangeMessageVisibility to 43,201 s: {extend or 'accepted'}; to 43,200 s: "
                    f"{at_max or 'accepted'}; a queue with VisibilityTimeout 43,201: {queue or 'created'}")


def _receipt_handles(fb: FactBench) -> Seen:
    url, _ = fb.queue("handles", VisibilityTimeout=1)
    fb.send(url)
    first = fb.fetch(url)[0]
    fb.past(1)
    second = fb.fetch(url)[0]
    ok = first["MessageId"] == second["MessageId"] and first["ReceiptHandle"] != second["ReceiptHandle"]
    return _yes(ok, "two receives of one message: same MessageId "
                    f"{'yes' if first['MessageId'] == second['MessageId'] else 'no'}, different handles "
                    f"{'yes' if first['ReceiptHandle'] != second['ReceiptHandle'] else 'no'}")


def _stale_handle(fb: FactBench) -> Seen:
    url, _ = fb.queue("stale", VisibilityTimeout=1)
    fb.send(url)
    first = fb.fetch(url)[0]
    fb.past(1)
    second = fb.fetch(url)[0]
    failure = fb.error(lambda: fb.sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"]))
    # Make the message visible at once with the newest handle, and look: still there?
    gone = fb.error(lambda: fb.sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0))
    still = [] if gone else fb.fetch(url)
    ok = failure is None and _ids(still) == [first["MessageId"]]
    where = "is still in the queue" if still else \
        "was deleted" + (f" (the newest handle then got {gone})" if gone else "")
    return _yes(ok, f"DeleteMessage with the older handle: {failure or 'succeeded'}; the message {where}")


def _bad_handle_code(fb: FactBench) -> Seen:
    url, _ = fb.queue("badhandle")
    code = fb.error(lambda: fb.sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle"))
    return _yes(code == "ReceiptHandleIsInvalid", f"DeleteMessage with a made-up handle: {code or 'succeeded'}")


def _message_ids(fb: FactBench) -> Seen:
    url, _ = fb.queue("ids")
    a, b = fb.send(url, "same")["MessageId"], fb.send(url, "same")["MessageId"]
    return _yes(a != b, f"two sends of the same body: {'two MessageIds' if a != b else 'one MessageId'}")


def _receive_count(fb: FactBench) -> Seen:
    url, _ = fb.queue("count", VisibilityTimeout=1)
    fb.send(url)
    counts = []
    for _ in range(2):
        m = fb.fetch(url, AttributeNames=["ApproximateReceiveCount"])
        counts.append(m[0]["Attributes"].get("ApproximateReceiveCount") if m else None)
        fb.past(1)
    return _yes(counts == ["1", "2"], f"ApproximateReceiveCount on two receives: {counts}")


def _long_poll_returns_early(fb: FactBench) -> Seen:
    url, _ = fb.queue("longpoll", VisibilityTimeout=1)
    fb.send(url)
    fb.fetch(url)
    took = fb.stopwatch()
    got = fb.receive(url, WaitTimeSeconds=10)
    seconds = took()
    ok = len(got) == 1 and seconds < 5
    return _yes(ok, f"a 10 s long poll on a queue whose message was in flight for 1 s returned "
                    f"{len(got)} message(s) after {seconds:.1f} s")


def _short_poll_samples(fb: FactBench) -> Seen:
    url, _ = fb.queue("shortpoll", VisibilityTimeout=0)
    for i in range(5):
        fb.send(url, f"m{i}")
    counts = [len(fb.receive(url, MaxNumberOfMessages=10, VisibilityTimeout=0)) for _ in range(20)]
    fewer = [n for n in counts if n < 5]
    return _yes(bool(fewer), f"20 short polls of a queue holding 5 visible messages returned {sorted(set(counts))} "
                             f"message(s) ({len(fewer)} returned fewer than 5)")


def _long_poll_empty(fb: FactBench) -> Seen:
    url, _ = fb.queue("empty")
    took = fb.stopwatch()
    got = fb.receive(url, WaitTimeSeconds=1)
    seconds = took()
    bad = fb.error(lambda: fb.receive(url, WaitTimeSeconds=21))
    ok = got == [] and 0.9 <= seconds < 5 and bad is not None
    return _yes(ok, f"a 1 s long poll on an empty queue returned empty after {seconds:.1f} s; "
                    f"WaitTimeSeconds=21: {bad or 'accepted'}")


def _batch_limits(fb: FactBench) -> Seen:
    url, _ = fb.queue("batch")
    send = fb.error(lambda: fb.sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": "m"} for i in range(11)]))
    receive = fb.error(lambda: fb.receive(url, MaxNumberOfMessages=11))
    ten = fb.error(lambda: fb.sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": "m"} for i in range(10)]))
    ok = send is not None and receive is not None and ten is None
    return _yes(ok, f"SendMessageBatch of 11: {send or 'accepted'}; of 10: {ten or 'accepted'}; "
                    f"ReceiveMessage of 11: {receive or 'accepted'}")


def _batch_failures(fb: FactBench) -> Seen:
    url, _ = fb.queue("batchfail")
    fb.send(url)
    m = fb.fetch(url)[0]
    answer = fb.sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "good", "ReceiptHandle": m["ReceiptHandle"]}, {"Id": "bad", "ReceiptHandle": "not-a-handle"}])
    ok_ids = [e["Id"] for e in answer.get("Successful", [])]
    failed = [e["Id"] for e in answer.get("Failed", [])]
    return _yes(ok_ids == ["good"] and failed == ["bad"],
                f"DeleteMessageBatch with one good and one made-up handle succeeded; Successful {ok_ids}, "
                f"Failed {failed}")


def _concurrent_receivers(fb: FactBench) -> Seen:
    url, _ = fb.queue("threads")
    for start in (0, 10):
        fb.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)])
    received: list[str] = []
    clients = [fb.lab.client(actor=f"fidelity-{i}") for i in range(4)]
    barrier = threading.Barrier(len(clients))

    def consume(client):
        barrier.wait()
        empty = 0
        while empty < 10:  # a short poll may come back empty while messages wait: stop after ten in a row
            batch = client.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=300,
                                           WaitTimeSeconds=0).get("Messages", [])
            empty = 0 if batch else empty + 1
            received.extend(_ids(batch))

    threads = [threading.Thread(target=consume, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for c in clients:
        fb.lab.release(c)
    ok = len(received) == len(set(received)) == 20
    return _yes(ok, f"4 threads receiving 20 messages (300 s timeout) got {len(received)}, "
                    f"{len(set(received))} different")


# -- FIFO ------------------------------------------------------------------------------------------------
def _fifo_send(fb: FactBench, url: str, body: str = "pay", dedup: str | None = "d1", group: str = "g1", **kw):
    if dedup is not None:
        kw["MessageDeduplicationId"] = dedup
    return fb.send(url, body, MessageGroupId=group, **kw)


def _drain(fb: FactBench, url: str) -> list[dict]:
    got = fb.fetch(url, MaxNumberOfMessages=10)
    for m in got:
        fb.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def _fifo_dedup(fb: FactBench) -> Seen:
    url, _ = fb.queue("dedup", fifo=True)
    _fifo_send(fb, url)
    again = fb.error(lambda: _fifo_send(fb, url))
    got = fb.fetch(url, MaxNumberOfMessages=10)
    return _yes(again is None and len(got) == 1,
                f"a second send with the same MessageDeduplicationId: {again or 'accepted'}; delivered: {len(got)}")


def _fifo_dedup_after_delete(fb: FactBench) -> Seen:
    url, _ = fb.queue("afterdelete", fifo=True)
    _fifo_send(fb, url)
    first = _drain(fb, url)
    _fifo_send(fb, url)
    got = fb.fetch(url, MaxNumberOfMessages=10)
    return _yes(len(first) == 1 and got == [],
                f"the same id sent again after the first was received and deleted: {len(got)} delivered")


def _fifo_dedup_window(fb: FactBench) -> Seen:
    url, _ = fb.queue("window", fifo=True)
    _fifo_send(fb, url)
    _drain(fb, url)
    fb.wait(290)
    _fifo_send(fb, url)
    inside = fb.fetch(url, MaxNumberOfMessages=10)
    fb.wait(11)
    _fifo_send(fb, url)
    outside = fb.fetch(url, MaxNumberOfMessages=10)
    return _yes(inside == [] and len(outside) == 1,
                f"resent 290 s after the first send: {len(inside)} delivered; 301 s after: {len(outside)}")


def _content_based(fb: FactBench) -> Seen:
    url, _ = fb.queue("cbd", fifo=True, ContentBasedDeduplication="true")
    tries = [{"try": {"DataType": "Number", "StringValue": str(n)}} for n in (1, 2)]
    _fifo_send(fb, url, "pay 10", dedup=None, MessageAttributes=tries[0])
    _fifo_send(fb, url, "pay 10", dedup=None, MessageAttributes=tries[1])
    _fifo_send(fb, url, "pay 10", dedup="explicit")
    got = _bodies(fb.fetch(url, MaxNumberOfMessages=10))
    return _yes(got == ["pay 10", "pay 10"],
                f"the same body twice with different attributes, then with an explicit id: {len(got)} "
                "delivered (2 expected: the attributes do not count, the explicit id overrides)")


def _dedup_per_queue(fb: FactBench) -> Seen:
    url, _ = fb.queue("scope", fifo=True)
    _fifo_send(fb, url, group="alice")
    _fifo_send(fb, url, group="bob")
    got = fb.fetch(url, MaxNumberOfMessages=10)
    return _yes(len(got) == 1, f"the same id in two message groups of a default queue: {len(got)} delivered")


def _dedup_per_group(fb: FactBench) -> Seen:
    url, _ = fb.queue("groupscope", fifo=True, DeduplicationScope="messageGroup",
                      FifoThroughputLimit="perMessageGroupId")
    _fifo_send(fb, url, group="alice")
    _fifo_send(fb, url, group="bob")
    _fifo_send(fb, url, group="bob")
    got = fb.fetch(url, MaxNumberOfMessages=10)
    return _yes(len(got) == 2, "DeduplicationScope=messageGroup: the same id in two groups, twice in one: "
                               f"{len(got)} delivered (2 expected)")


def _group_order(fb: FactBench) -> Seen:
    url, _ = fb.queue("order", fifo=True, VisibilityTimeout=30)
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        _fifo_send(fb, url, body, dedup=body, group=group)
    first = fb.fetch(url, MaxNumberOfMessages=1)
    held = _bodies(fb.fetch(url, MaxNumberOfMessages=10))
    if first:
        fb.sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    then = _bodies(fb.fetch(url, MaxNumberOfMessages=10))
    ok = _bodies(first) == ["a1"] and held == ["b1"] and then == ["a2"]
    return _yes(ok, f"first {_bodies(first)}; while a1 was in flight {held}; after deleting a1 {then}")


def _group_required(fb: FactBench) -> Seen:
    url, _ = fb.queue("nogroup", fifo=True)
    code = fb.error(lambda: fb.send(url, "x", MessageDeduplicationId="x"))
    return _yes(code in ("MissingParameter", "MissingRequiredParameterException"),
                f"a FIFO send without MessageGroupId: {code or 'accepted'}")


def _fifo_redelivers(fb: FactBench) -> Seen:
    url, _ = fb.queue("crash", fifo=True, VisibilityTimeout=1)
    _fifo_send(fb, url)
    first = fb.fetch(url)
    fb.past(1)  # the consumer died after its effect, before its delete
    again = fb.fetch(url)
    return _yes(len(first) == 1 and _ids(again) == _ids(first),
                "received, not deleted (a crash after the effect): delivered again after the timeout: "
                f"{'yes' if _ids(again) == _ids(first) and again else 'no'}")


# -- dead-letter queues and redrive ---------------------------------------------------------------------
def _with_dlq(fb: FactBench, stem: str, max_receives: int = 2, fifo: bool = False, **attributes):
    dlq_url, dlq_arn = fb.queue(stem + "-dlq", fifo=fifo)
    url, arn = fb.queue(stem, fifo=fifo, VisibilityTimeout=1, RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}), **attributes)
    return url, arn, dlq_url, dlq_arn


def _dead_letter(fb: FactBench, url: str, receives: int) -> list[dict]:
    got = []
    for _ in range(receives):
        got.append(fb.fetch(url, AttributeNames=["All"]))
        fb.past(1)
    got.append(fb.fetch(url))
    return got


def _max_receive_count(fb: FactBench) -> Seen:
    url, _, dlq_url, _ = _with_dlq(fb, "redrive")
    fb.send(url, "poison")
    rounds = _dead_letter(fb, url, 2)
    moved = fb.fetch(dlq_url, AttributeNames=["All"])
    ok = [len(r) for r in rounds] == [1, 1, 0] and _bodies(moved) == ["poison"]
    return _yes(ok, f"maxReceiveCount 2: receives got {[len(r) for r in rounds]}; in the DLQ: {_bodies(moved)}")


def _dlq_keeps_timestamp(fb: FactBench) -> Seen:
    url, _, dlq_url, _ = _with_dlq(fb, "stamp", max_receives=1)
    fb.send(url, "poison")
    rounds = _dead_letter(fb, url, 1)
    moved = fb.fetch(dlq_url, AttributeNames=["All"])
    sent = rounds[0][0]["Attributes"].get("SentTimestamp") if rounds[0] else None
    now = moved[0]["Attributes"].get("SentTimestamp") if moved else None
    return _yes(sent is not None and sent == now,
                f"SentTimestamp before the move {sent}, in the DLQ {now}")


def _fifo_dlq_fifo(fb: FactBench) -> Seen:
    _, std_arn = fb.queue("std-dlq")
    code = fb.error(lambda: fb.queue("mixed", fifo=True, RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": std_arn, "maxReceiveCount": "2"})))
    return _yes(code is not None, f"a FIFO queue with a standard DLQ: {code or 'created'}")


def _retention(fb: FactBench) -> Seen:
    url, _ = fb.queue("retention")
    default = fb.attributes(url, "MessageRetentionPeriod").get("MessageRetentionPeriod")
    low = fb.error(lambda: fb.queue("ret-low", MessageRetentionPeriod=59))
    high = fb.error(lambda: fb.queue("ret-high", MessageRetentionPeriod=1209601))
    edges = [fb.error(lambda v=v: fb.queue(f"ret-{v}", MessageRetentionPeriod=v)) for v in (60, 1209600)]
    ok = default == "345600" and low is not None and high is not None and edges == [None, None]
    return _yes(ok, f"default {default} s; 59 s: {low or 'accepted'}; 1,209,601 s: {high or 'accepted'}; "
                    f"60 s and 14 days: {'accepted' if edges == [None, None] else edges}")


def _wait_until(fb: FactBench, ready: Callable[[], bool], seconds: float) -> bool:
    for _ in range(int(seconds)):
        if ready():
            return True
        fb.wait(1)
    return ready()


def _redrive_back(fb: FactBench) -> Seen:
    url, _, dlq_url, dlq_arn = _with_dlq(fb, "back", max_receives=1)
    fb.send(url, "poison")
    _dead_letter(fb, url, 1)
    task = fb.sqs.start_message_move_task(SourceArn=dlq_arn)
    listed = fb.sqs.list_message_move_tasks(SourceArn=dlq_arn).get("Results", [])
    back: list[dict] = []

    def returned():
        back.extend(fb.fetch(url))
        return bool(back)

    _wait_until(fb, returned, 20)
    ok = bool(task.get("TaskHandle")) and bool(listed) and _bodies(back) == ["poison"]
    return _yes(ok, f"StartMessageMoveTask from the DLQ with no destination: task listed "
                    f"{'yes' if listed else 'no'}; back in the source queue: {_bodies(back)}")


def _one_task_per_queue(fb: FactBench) -> Seen:
    url, _, dlq_url, dlq_arn = _with_dlq(fb, "tasks", max_receives=1)
    for i in range(3):
        fb.send(dlq_url, f"m{i}")
    first = fb.error(lambda: fb.sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=fb.queue(
        "tasks-dest")[1], MaxNumberOfMessagesPerSecond=1))
    second = fb.error(lambda: fb.sqs.start_message_move_task(SourceArn=dlq_arn))
    fast = fb.error(lambda: fb.sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=501))
    ok = first is None and second is not None and fast is not None
    return _yes(ok, f"a move task at 1 message/s: {first or 'started'}; a second while it runs: "
                    f"{second or 'started'}; a rate of 501/s: {fast or 'accepted'}")


def _not_in_flight(fb: FactBench) -> Seen:
    url, _ = fb.queue("inflight", VisibilityTimeout=1)
    fb.send(url)
    m = fb.fetch(url)[0]
    fb.past(1)
    code = fb.error(lambda: fb.sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=60))
    still = fb.fetch(url)
    return _yes(code == "MessageNotInflight" and len(still) == 1,
                f"ChangeMessageVisibility after the timeout ran out: {code or 'accepted'}; the message "
                f"{'stayed visible' if still else 'was hidden again'}")


_DELIVERY = "Developer Guide / API Reference"
FACTS: tuple[Fact, ...] = (
    Fact("visibility_default", "visibility timeout", "a new queue's visibility timeout is 30 s",
         "API Reference, ChangeMessageVisibility", _visibility_default),
    Fact("visibility_hides_until_timeout", "visibility timeout",
         "a received message stays hidden until its timeout, counted from the receive, runs out",
         "API Reference, ChangeMessageVisibility", _visibility_hides_until_timeout),
    Fact("visibility_zero", "visibility timeout", "a visibility timeout of 0 makes the message visible at once",
         "API Reference, ChangeMessageVisibility", _visibility_zero),
    Fact("visibility_max_12_hours", "visibility timeout", "at most 12 hours (43,200 s), per message and per queue",
         "API Reference, ChangeMessageVisibility", _visibility_max),
    Fact("receipt_handles", "receipt handles",
         "each receive gives a different receipt handle; the MessageId stays the same",
         "API Reference, ReceiveMessage", _receipt_handles),
    Fact("stale_receipt_handle", "receipt handles",
         "DeleteMessage with an outdated handle can succeed without deleting the message",
         "API Reference, DeleteMessage", _stale_handle),
    Fact("bad_handle_error", "receipt handles", "a handle never issued is ReceiptHandleIsInvalid",
         "API Reference, DeleteMessage", _bad_handle_code),
    Fact("two_sends_two_ids", "MessageId", "a producer that sends twice creates two MessageIds",
         "API Reference, SendMessage", _message_ids),
    Fact("receive_count", "ApproximateReceiveCount", "ApproximateReceiveCount counts the receives",
         "API Reference, ReceiveMessage", _receive_count),
    Fact("long_poll_returns_early", "long polling", "a long poll returns as soon as a message is available",
         "Developer Guide, Short and long polling", _long_poll_returns_early),
    Fact("short_poll_samples", "long polling",
         "a short poll (WaitTimeSeconds 0) samples servers: it can return fewer messages than are visible, or none",
         "Developer Guide, Short and long polling", _short_poll_samples),
    Fact("long_poll_empty", "long polling", "an empty long poll returns at the end of its wait; at most 20 s",
         "Developer Guide, Short and long polling", _long_poll_empty),
    Fact("batch_limit_10", "batches", "at most 10 messages per batch call and per receive",
         "API Reference, SendMessageBatch / ReceiveMessage", _batch_limits),
    Fact("batch_entry_failures", "batches", "a batch call reports per-entry failures in Failed and succeeds",
         "API Reference, DeleteMessageBatch", _batch_failures),
    Fact("concurrent_receivers", "thread safety",
         "concurrent receivers never get the same message within its visibility timeout",
         "Developer Guide, Visibility timeout", _concurrent_receivers),
    Fact("fifo_dedup", "deduplication interval", "a duplicate send is accepted but not delivered",
         "Developer Guide, FIFO key terms; API Reference, SendMessage", _fifo_dedup),
    Fact("fifo_dedup_after_delete", "dedup after delete",
         "deduplication holds after the first message was received and deleted",
         "Developer Guide, FIFO key terms", _fifo_dedup_after_delete),
    Fact("fifo_dedup_five_minutes", "deduplication interval", "the deduplication interval is 5 minutes",
         "Developer Guide, FIFO key terms", _fifo_dedup_window),
    Fact("content_based_dedup", "content-based dedup",
         "the id is a hash of the body only; an explicit MessageDeduplicationId overrides it",
         "API Reference, SendMessage", _content_based),
    Fact("dedup_per_queue", "dedup scope", "by default deduplication is per queue, not per message group",
         "Developer Guide, High throughput for FIFO queues", _dedup_per_queue),
    Fact("dedup_per_group_high_throughput", "dedup scope",
         "with DeduplicationScope=messageGroup deduplication is per message group",
         "Developer Guide, High throughput for FIFO queues", _dedup_per_group),
    Fact("fifo_group_order", "ordering",
         "in order within a group; while a message is in flight, later ones of its group wait",
         "Developer Guide, FIFO delivery logic", _group_order),
    Fact("fifo_group_required", "ordering", "MessageGroupId is required on a FIFO send",
         "API Reference, SendMessage", _group_required),
    Fact("fifo_not_exactly_once_processing", "exactly-once",
         "FIFO dedup does not make processing exactly-once: an undeleted message comes back",
         "Developer Guide, Exactly-once processing", _fifo_redelivers),
    Fact("max_receive_count", "maxReceiveCount",
         "after maxReceiveCount receives the message goes to the dead-letter queue",
         "Developer Guide, Dead-letter queues", _max_receive_count),
    Fact("fifo_dlq_is_fifo", "FIFO DLQ", "a FIFO queue's dead-letter queue must be FIFO",
         "Developer Guide, Dead-letter queues", _fifo_dlq_fifo),
    Fact("dlq_keeps_enqueue_timestamp", "retention",
         "a standard queue's message keeps its original enqueue timestamp in the DLQ",
         "Developer Guide, Dead-letter queues", _dlq_keeps_timestamp),
    Fact("retention_range", "retention", "retention: default 4 days, 60 s to 14 days",
         "API Reference, SetQueueAttributes", _retention),
    Fact("redrive_back_to_source", "redrive back",
         "StartMessageMoveTask from a DLQ moves messages back to their source queue by default",
         "API Reference, StartMessageMoveTask", _redrive_back),
    Fact("one_move_task_per_queue", "redrive back", "one active move task per queue; at most 500 messages/s",
         "API Reference, StartMessageMoveTask", _one_task_per_queue),
    Fact("message_not_inflight", "visibility timeout",
         "ChangeMessageVisibility on a message not in flight is MessageNotInflight",
         "API Reference, ChangeMessageVisibility", _not_in_flight),
)


def _by_name(name: str) -> Fact:
    for fact in FACTS:
        if fact.name == name:
            return fact
    raise LabError(f"No fact named {name!r}; the facts are: {', '.join(f.name for f in FACTS)}.")


def check(name: str | Fact, lab=None) -> Seen:
    """Run one fact's check in ``lab`` (default: the open lab); never raises for the endpoint's sake."""
    from ..lab import current_lab

    fact = name if isinstance(name, Fact) else _by_name(name)
    lab = lab or current_lab()
    if lab is None:
        raise LabError("check() needs a lab: open one with open_lab(), or pass lab=.")
    bench = FactBench(lab)
    try:
        return fact.check(bench)
    except NotCheckable as why:
        return Seen(None, f"not checked: {why}")
    except Exception as error:  # the endpoint failed a call the fact needs: that is what it did
        text = " ".join(str(error).split())[:160]
        return Seen(False, f"{type(error).__name__}: {text}")
    finally:
        lab.release(bench.sqs)


def run_facts(lab=None, names: Iterable[str] | None = None) -> list[tuple[Fact, Seen]]:
    """Every fact (or those named), checked in ``lab`` (default: a lab on ``SQSLAB_ENDPOINT``)."""
    from ..lab import Lab

    facts = FACTS if names is None else tuple(_by_name(n) for n in names)
    own = None
    if lab is None:
        own = lab = Lab().start()
    try:
        return [(fact, check(fact, lab)) for fact in facts]
    finally:
        if own is not None:
            own.close()


def markdown() -> str:
    """The checked facts as a markdown table: the last section of ``docs/sqs-facts.md``."""
    lines = ["| fact | topic | what is checked | AWS page |", "|---|---|---|---|"]
    lines += [f"| `{f.name}` | {f.topic} | {f.statement} | {f.source} |" for f in FACTS]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m sqslab.tools.facts --markdown   (make fidelity runs the checks)")
    print(markdown())
