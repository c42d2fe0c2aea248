"""The bench's speed-ups change nothing but speed.

Each speed-up (sqslab.moto.speed) replaces a piece of moto or botocore with one that does less work.
These tests run the same battery of SQS work with and without each of them, and compare, bit for
bit, everything that is not a timing: every request moto received (method, URL, headers, body),
every answer it gave, and the lab's history of every scenario run. They also check each
replacement against the original directly, on many inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sqslab.moto import speed

ROOT = Path(__file__).resolve().parents[2]

#: Request headers that differ between any two runs, sped up or not: botocore puts a fresh
#: ``uuid.uuid4()`` (not moto's seeded random) in every request.
UNSEEDED_HEADERS = {"amz-sdk-invocation-id"}


@pytest.fixture(autouse=True)
def all_speed_ups_afterwards():
    """Whatever a test switches off, every speed-up is back in force after it."""
    yield
    speed.apply()


# -- the battery ------------------------------------------------------------------------------------
def _event(e):
    return json.dumps([e.seq, e.time, e.actor, e.kind, e.message_id, e.key, e.detail], sort_keys=True, default=str)


def _battery(monkeypatch, *, runs: int = 12) -> dict:
    """Run a fixed mix of SQS work in a fresh lab; return everything observable about it."""
    from moto.core import botocore_stubber

    from sqslab import explore, run_scenario, scenario
    from sqslab.faults import Fault
    from sqslab.lab import Lab
    from sqslab.selftest import _delete_first, _naive

    wire: list = []
    original_call = botocore_stubber.BotocoreStubber.__call__

    def recording_call(self, event_name, request, **kwargs):
        headers = sorted((k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()
                         if k.lower() not in UNSEEDED_HEADERS)
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        response = original_call(self, event_name, request, **kwargs)
        answer = None if response is None else (response.status_code, sorted(response.headers.items()),
                                                response.content.decode())
        wire.append((json.dumps([request.method, request.url, headers, body, answer], default=str)))
        return response

    monkeypatch.setattr(botocore_stubber.BotocoreStubber, "__call__", recording_call)
    # The scenario runner names its queues with a process-wide counter (run17-orders): start it
    # again, so both batteries send the same bytes.
    monkeypatch.setattr(scenario, "_run_ids", iter(range(1, 10**9)))
    out: dict = {}
    lab = Lab(seed=11).start()
    try:
        verdict = explore(_naive, max_runs=runs, expect="at_least_once", lab=lab)
        out["explore"] = (verdict.ok, verdict.runs, (verdict.explanation))
        outcomes = [
            run_scenario(_naive, lab=lab, messages=3, faults=[Fault("effect_committed", 1)]),
            run_scenario(_delete_first, lab=lab, messages=2, faults=[Fault("after_delete", 0)],
                         expect="at_least_once"),
            run_scenario(_naive, lab=lab, messages=4, fifo=True, expect="at_least_once",
                         faults=[Fault("after_receive", 2)]),
            run_scenario(_naive, lab=lab, messages=[{"order_id": "a"}, "not json", {"order_id": "b"}],
                         max_receive_count=2, expect="at_least_once", max_steps=12),
            run_scenario(_naive, lab=lab, messages=3, expect="at_least_once",
                         faults=[Fault("duplicate_delivery", 0), Fault("visibility_expires", 1)]),
        ]
        out["runs"] = [([_event(e) for e in o.history], o.effects, o.steps, o.drained,
                        (o.verdict.explanation)) for o in outcomes]
        out["direct"] = _direct_calls(lab)
    finally:
        lab.close()
    out["wire"] = wire
    return out


def _direct_calls(lab) -> list:
    """Calls a lesson makes outside the scenario runner, answers and errors included."""
    from botocore.exceptions import ClientError

    answers: list = []
    sqs = lab.client("sqs", actor="learner")
    dlq = lab.queue("direct-dlq")
    q = lab.queue("direct", dlq=dlq, max_receive_count=2, visibility_timeout=10)
    fifo = lab.queue("direct.fifo", content_based_dedup=True)

    def call(fn, **kw):
        try:
            answer = fn(**kw)
            answer.pop("ResponseMetadata", None)  # its HTTP headers are on the wire record already
            answers.append(json.dumps(answer, sort_keys=True, default=str))
            return answer
        except ClientError as error:
            answers.append(json.dumps(error.response.get("Error"), sort_keys=True))
            return None

    call(sqs.send_message_batch, QueueUrl=q.url,
         Entries=[{"Id": str(i), "MessageBody": json.dumps({"order_id": f"b{i}"}),
                   "MessageAttributes": {"n": {"DataType": "Number", "StringValue": str(i)}}}
                  for i in range(4)])
    got = call(sqs.receive_message, QueueUrl=q.url, MaxNumberOfMessages=2, AttributeNames=["All"],
               MessageAttributeNames=["All"])
    first = got["Messages"][0]["ReceiptHandle"]
    call(sqs.change_message_visibility, QueueUrl=q.url, ReceiptHandle=first, VisibilityTimeout=0)
    call(sqs.change_message_visibility, QueueUrl=q.url, ReceiptHandle=first, VisibilityTimeout=5)  # not in flight
    again = call(sqs.receive_message, QueueUrl=q.url, MaxNumberOfMessages=10, VisibilityTimeout=5)
    call(sqs.delete_message, QueueUrl=q.url, ReceiptHandle=first)  # stale: kept
    for m in again["Messages"][:2]:
        call(sqs.delete_message, QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
    call(sqs.change_message_visibility, QueueUrl=q.url, ReceiptHandle=again["Messages"][0]["ReceiptHandle"],
         VisibilityTimeout=3)  # deleted: an error
    call(sqs.get_queue_attributes, QueueUrl=q.url, AttributeNames=["All"])
    call(sqs.get_queue_attributes, QueueUrl=q.url,
         AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                         "MessageRetentionPeriod", "KmsMasterKeyId"])
    call(sqs.get_queue_attributes, QueueUrl=q.url, AttributeNames=["NoSuchAttribute"])
    lab.clock.advance(6)
    call(sqs.receive_message, QueueUrl=q.url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
    call(sqs.receive_message, QueueUrl=dlq.url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    for _ in range(3):
        lab.clock.advance(11)
        call(sqs.receive_message, QueueUrl=q.url, MaxNumberOfMessages=10)
    call(sqs.start_message_move_task, SourceArn=dlq.arn)
    lab.clock.advance(1)
    call(sqs.list_message_move_tasks, SourceArn=dlq.arn)
    for body in ("same", "same", "other"):
        call(sqs.send_message, QueueUrl=fifo.url, MessageBody=body, MessageGroupId="g")
    call(sqs.receive_message, QueueUrl=fifo.url, MaxNumberOfMessages=10)
    call(sqs.list_queues, QueueNamePrefix="direct")
    call(sqs.get_queue_url, QueueName="no-such-queue")
    call(sqs.send_message, QueueUrl=q.url + "-missing", MessageBody="x")

    ddb = lab.client("dynamodb", actor="learner")
    call(ddb.create_table, TableName="claims", BillingMode="PAY_PER_REQUEST",
         KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
         AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    for _ in range(2):
        call(ddb.put_item, TableName="claims", Item={"k": {"S": "order-1"}, "state": {"S": "INPROGRESS"}},
             ConditionExpression="attribute_not_exists(k)")
    call(ddb.get_item, TableName="claims", Key={"k": {"S": "order-1"}})
    lab.release(ddb)
    lab.release(sqs)
    answers.extend(_event(e) for e in lab.history)
    return answers


@pytest.fixture(scope="module")
def reference():
    """The battery with no speed-up at all: moto and botocore as shipped."""
    mp = pytest.MonkeyPatch()
    try:
        with speed.disabled():
            assert speed.active() == ()
            result = _battery(mp)
    finally:
        mp.undo()
        speed.apply()
    return result


def _assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for part in want:
        if got[part] != want[part]:
            for i, (a, b) in enumerate(zip(got[part], want[part])):
                assert a == b, f"{part}[{i}] differs"
            assert len(got[part]) == len(want[part]), f"{part}: {len(got[part])} vs {len(want[part])} items"
            assert got[part] == want[part], part


def test_the_battery_exercises_what_lessons_use(reference):
    wire = "\n".join(reference["wire"])
    for action in ("SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
                   "GetQueueAttributes", "StartMessageMoveTask", "ListMessageMoveTasks", "CreateQueue",
                   "DynamoDB_20120810.PutItem", "ConditionalCheckFailed", "QueueDoesNotExist", "MessageNotInflight",
                   "InvalidAttributeName"):
        assert action in wire, action
    kinds = {json.loads(e)[3] for run in reference["runs"] for e in run[0]}
    assert {"receive", "delete", "effect", "crash", "dlq_move", "clock"} <= kinds
    assert reference["explore"][1] == 12


def test_every_speed_up_together_changes_nothing(reference, monkeypatch):
    assert speed.apply() == tuple(s.name for s in speed.SPEED_UPS)
    _assert_same(_battery(monkeypatch), reference)


@pytest.mark.parametrize("name", [s.name for s in speed.SPEED_UPS])
def test_each_speed_up_alone_changes_nothing(name, reference, monkeypatch):
    speed.remove()
    speed.apply([name])
    assert speed.active() == (name,)
    _assert_same(_battery(monkeypatch), reference)


# -- each replacement against its original, directly ------------------------------------------------
def test_camelcase_conversions_match_the_original():
    from moto.core import utils
    from moto.sqs.models import Queue

    speed.apply()
    cached = utils.camelcase_to_underscores
    original = cached._sqslab_original
    words = Queue.BASE_ATTRIBUTES + Queue.FIFO_ATTRIBUTES + Queue.KMS_ATTRIBUTES + [
        "", "A", "ABC", "receiveMessage", "DynamoDB_20120810.PutItem", "ListQueues", "queueURL", "x1Y2z3",
        "MessageAttributeNames", "ÄÖü", "already_snake"]
    for word in words * 2:
        assert cached(word) == original(word)
    assert cached(None) == original(None)


def test_user_agent_strings_are_the_ones_botocore_builds():
    import boto3
    from botocore import useragent
    from botocore.config import Config
    from botocore.context import start_as_current_context

    speed.apply()
    fast = useragent.UserAgentString.to_string
    with speed.disabled(["user_agent_cache"]):
        slow = useragent.UserAgentString.to_string
    assert fast is not slow
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    configs = [None, Config(retries={"mode": "standard"}), Config(user_agent_extra="course/1"),
               Config(user_agent_appid="grader"), Config(user_agent="legacy/1.0"),
               Config(retries={"total_max_attempts": 1, "mode": "adaptive"})]
    for config in configs:
        client = session.client("sqs", config=config)
        creator = client._user_agent_creator
        for features in (set(), {"b", "E"}):
            with start_as_current_context():
                for f in features:
                    useragent.get_context().features.add(f)
                assert fast(creator) == slow(creator) == fast(creator)


def test_signatures_are_the_ones_botocore_computes():
    from botocore import auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    speed.apply()
    fast = auth.SigV4Auth.add_auth
    with speed.disabled(["sigv4_once"]):
        slow = auth.SigV4Auth.add_auth
    assert fast is not slow
    import time_machine

    cases = [
        dict(method="POST", url="https://sqs.us-east-1.amazonaws.com/", data=b'{"QueueUrl": "q"}',
             headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage"}),
        dict(method="POST", url="https://monitoring.us-east-1.amazonaws.com/", data=b"Action=ListMetrics&Version=1",
             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}),
        dict(method="GET", url="https://example.amazonaws.com:8443/a%20b/c?z=1&a=2&a=1", data=b"",
             headers={"X-Spaced": "  several   spaces  ", "connection": "keep-alive"}),
        dict(method="PUT", url="http://localhost:5000/path", data=b"body",
             headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "Host": "custom.example"}),
        dict(method="POST", url="https://sqs.us-east-1.amazonaws.com/", data=b"x",
             headers={"X-Unicode": "caf\u00e9"}),
    ]
    for token in (None, "session-token"):
        credentials = Credentials("AKIDEXAMPLE", "secret", token)
        for case in cases:
            signed = []
            for add_auth in (fast, slow):
                request = AWSRequest(**case)
                request.context["payload_signing_enabled"] = case["method"] != "PUT"
                with time_machine.travel("2026-01-05 09:00:00+00:00", tick=False):
                    add_auth(auth.SigV4Auth(credentials, "sqs", "us-east-1"), request)
                signed.append(sorted(request.headers.items()))
            assert signed[0] == signed[1], case


def test_request_environs_are_the_ones_werkzeug_builds():
    from botocore.awsrequest import AWSPreparedRequest, HeadersDict
    from moto.core.request import Request

    speed.apply()
    fast = Request.from_primitives
    with speed.disabled(["direct_environ"]):
        slow = Request.from_primitives
    json_headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage",
                    "User-Agent": b"Boto3/1.44.5", "Content-Length": "17", "x-amz-meta-my_key": "v"}
    cases = [
        ("POST", "https://sqs.us-east-1.amazonaws.com/", json_headers, b'{"QueueUrl": "q"}'),
        ("POST", "https://sqs.us-east-1.amazonaws.com/123456789012/q", json_headers, '{"text": "caf\u00e9"}'),
        ("POST", "https://monitoring.us-east-1.amazonaws.com/?x=1&y=%20",
         {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, b"Action=ListMetrics"),
        ("PUT", "http://localhost:5000/a%20b/caf\u00e9;p?q=1#frag", {"X-Dup": "1", "x-dup": "2"}, b"body"),
        ("POST", "https://host.example:8443/", {}, b"x"),
        ("POST", "https://host.example:notaport/", {"Content-Length": "1"}, b"x"),
        ("GET", "https://sqs.us-east-1.amazonaws.com/", {"Content-Type": "application/x-www-form-urlencoded"}, b""),
        ("GET", "https://sqs.us-east-1.amazonaws.com/", {}, None),
        ("POST", "https://sqs.us-east-1.amazonaws.com/", {"X-Bad": "a\nb"}, b"x"),
    ]

    def built(from_primitives, method, url, headers, body, wrap):
        prepared = AWSPreparedRequest(method, url, wrap(headers), body, stream_output=False)
        try:
            request = from_primitives(prepared.method, prepared.url, prepared.headers, prepared.body)
        except ValueError as error:
            return ("ValueError", str(error))
        environ = dict(request.environ)
        environ["wsgi.input"] = environ["wsgi.input"].getvalue()
        environ["werkzeug.request"] = type(environ["werkzeug.request"])
        return list(environ.items()), request.data, list(request.headers.items()), request.raw_url

    for case in cases:
        for wrap in (dict, HeadersDict):  # botocore hands moto a HeadersDict
            assert built(fast, *case, wrap) == built(slow, *case, wrap), (case, wrap)


def test_request_bodies_and_headers_read_as_botocore_reads_them():
    from botocore.awsrequest import AWSRequest
    from botocore.compat import HTTPHeaders

    speed.apply()
    fast_body, fast_items = AWSRequest.body, HTTPHeaders.items
    with speed.disabled(["direct_body_and_headers"]):
        slow_body, slow_items = AWSRequest.body, HTTPHeaders.items
    for data in (b"bytes", "text \u00e9", {"Action": "List", "N": 1, "L": ["a", "b"]}, b"", None, [("a", "1")]):
        for params in ({}, {"x": "1"}):
            request = AWSRequest(method="POST", url="https://sqs.us-east-1.amazonaws.com/", data=data,
                                 params=params, headers={"A": "1"})
            assert fast_body.fget(request) == slow_body.fget(request)
    headers = HTTPHeaders()
    for name, value in (("A", "1"), ("a", "2"), ("X-Caf", "caf\u00e9"), ("X-Sur", "bad\udce9"), ("X-Bytes", b"raw"),
                        ("Host", "h")):
        headers[name] = value
    assert fast_items(headers) == slow_items(headers)


# -- installing and removing ------------------------------------------------------------------------
def test_remove_puts_every_original_back_and_apply_is_idempotent():
    from botocore import auth, useragent
    from moto.core import utils
    from moto.sqs import models

    def snapshot():
        from botocore.awsrequest import AWSRequest
        from botocore.compat import HTTPHeaders
        from moto.core.request import Request

        return (utils.camelcase_to_underscores, models.camelcase_to_underscores, vars(AWSRequest)["body"],
                vars(HTTPHeaders).get("items"), vars(Request)["from_primitives"],
                vars(models.SQSBackend)["get_queue_attributes"],
                vars(models.SQSBackend)["is_message_valid_based_on_retention_period"],
                vars(useragent.UserAgentString)["to_string"], vars(auth.SigV4Auth)["add_auth"])

    speed.apply()
    on = snapshot()
    speed.remove()
    off = snapshot()
    assert speed.active() == ()
    assert all(a is not b for a, b in zip(on, off))
    assert not any(hasattr(f, "_sqslab_original") for f in off)
    speed.apply()
    speed.apply()
    assert speed.active() == tuple(s.name for s in speed.SPEED_UPS)
    again = snapshot()
    speed.remove()
    assert snapshot() == off
    assert again != off
    with pytest.raises(ValueError, match="unknown speed-up"):
        speed.apply(["warp_drive"])


def test_every_speed_up_says_what_it_skips_and_why_nothing_changes():
    for s in speed.SPEED_UPS:
        doc = s.install.__doc__ or ""
        assert "Skips:" in doc and "Unchanged because:" in doc, s.name


def test_the_corrections_of_moto_still_hold_with_every_speed_up():
    """tests/moto/test_fixes.py, in a process where the speed-ups are in force from the start."""
    code = ("import sys, pytest; from sqslab.moto import speed; speed.apply(); "
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/moto/test_fixes.py']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_sqslab_speed_off_installs_nothing(monkeypatch):
    speed.remove()
    monkeypatch.setenv("SQSLAB_SPEED", "off")
    assert speed.apply() == ()
    monkeypatch.delenv("SQSLAB_SPEED")
    assert speed.apply() == tuple(s.name for s in speed.SPEED_UPS)


def test_sqslab_speed_leaves_out_the_speed_ups_it_names(monkeypatch):
    every = tuple(s.name for s in speed.SPEED_UPS)
    first, last = every[0], every[-1]
    speed.remove()
    monkeypatch.setenv("SQSLAB_SPEED", f"-{first}, -{last}")
    assert speed.apply() == every[1:-1]
    assert speed.apply([first]) == every[1:-1]  # named or not, what the environment leaves out stays out
    speed.remove()
    monkeypatch.setenv("SQSLAB_SPEED", "on")
    assert speed.apply() == every
    for wrong in (f"-{first},-warp_drive", first):
        monkeypatch.setenv("SQSLAB_SPEED", wrong)
        with pytest.raises(ValueError):
            speed.apply()


def test_a_speed_up_whose_target_changed_is_left_out_with_a_warning(monkeypatch):
    def broken() -> None:
        raise speed._NotAsShipped("moto changed")

    monkeypatch.setattr(speed, "SPEED_UPS", speed.SPEED_UPS + (speed.SpeedUp("broken", "nothing", broken),))
    with pytest.warns(RuntimeWarning, match="broken left out"):
        active = speed.apply()
    assert "broken" not in active and len(active) == len(speed.SPEED_UPS) - 1
