"""The one-line set-up: mocked AWS, the clock, moto's corrections, the effect store, recording.

>>> from sqslab import open_lab
>>> lab = open_lab()                       # moto + fake credentials + stopped clock
>>> orders = lab.queue("orders")           # a standard queue
>>> sqs = lab.client(actor="consumer-1")   # a boto3 SQS client whose calls are recorded
>>> lab.close()

Everything a client handed out by :meth:`Lab.client` does is appended to ``lab.history`` by
botocore's after-call hooks (one place, so no lesson logs anything by hand), and the same hooks
inject the faults armed in ``lab.faults``.

``SQSLAB_ENDPOINT`` (see :mod:`sqslab.endpoint`) points a lab at another SQS: moto's server mode in
this process (``lab.in_process`` stays True: the simulated clock, the corrections and every reader
of moto's internals still apply), or an endpoint elsewhere -- ElasticMQ, real AWS -- where the clock
is a :class:`~sqslab.clock.RealClock` and the readers fall back to the public API and to the lab's
own record of its calls (:class:`~sqslab.record.Ledger`).

The module is long because :class:`Lab` is the bench's one front door: every exercise and test
starts from it, so its methods (queues, clients, runs, faults, readers of the queue) are kept
together where a learner looks for them; the endpoint record, the snapshot and the hooks live in
their own modules.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from . import moto as moto_door
from .clock import EPOCH, Clock, RealClock
from .effects import EffectStore
from .endpoint import Endpoint
from .endpoint import from_environment as endpoint_from_environment
from .exceptions import Crash, EnvironmentProblem, LabError
from .faults import ClientHooks, Fault, FaultPlan, call_point
from .history import History
from .moto import backend, state
from .record import Ledger
from .recorder import ACCOUNT_ID, REGION, Recorder, queue_name_of

#: Fake credentials: with moto active no request leaves the process, and these would not sign a
#: real one anyway.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
#: Variables that could send a client somewhere real; removed while a lab is open.
_UNSAFE_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB",
               "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE")
#: On real AWS (SQSLAB_ENDPOINT=aws) only these are removed: SQSLAB_ENDPOINT alone says where
#: requests go, and the rest finds your credentials.
_ENDPOINT_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB")

#: The body fields tried, in order, to find a message's business key.
KEY_FIELDS = ("order_id", "event_id", "idempotency_key", "key", "id")

#: A consumer step that makes more AWS calls than this is looping instead of stepping.
MAX_CALLS_PER_STEP = 200

_current: "Lab | None" = None


@dataclass(frozen=True)
class Queue:
    """A queue the lab created: pass ``queue.url`` to boto3 calls."""

    name: str
    url: str
    arn: str
    fifo: bool = False
    dlq: "Queue | None" = None

    def __str__(self) -> str:
        return self.url


def default_key_of(body: str) -> str | None:
    """The business key of a message body: the first of :data:`KEY_FIELDS` in its JSON."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return None
    for name in KEY_FIELDS if isinstance(data, dict) else ():
        value = data.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


class Lab:
    """Mocked AWS (or the endpoint asked for), a stopped clock and the recording hooks, for one notebook or test.

    Parameters
    ----------
    seed:
        Seeds moto's random ids (MessageIds, receipt handles) so runs repeat exactly.
    start:
        The instant the clock shows at the start.
    endpoint:
        Where SQS is (default: what ``SQSLAB_ENDPOINT`` says when the lab starts; unset, moto in
        this process).
    """

    def __init__(self, *, seed: int = 0, start=EPOCH, endpoint: "Endpoint | None" = None):
        self.seed = seed
        self._endpoint_asked = endpoint
        self.endpoint: Endpoint | None = None
        self.clock: Clock = Clock(start)
        self.history = History(now=self.clock.elapsed)
        self.faults = FaultPlan(self.history)
        self.key_of: Callable[[str], str | None] = default_key_of
        self.effects: EffectStore | None = None
        self._mock = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._saved_env: dict[str, str | None] = {}
        self._session = None
        self._hooks: dict[int, ClientHooks] = {}
        self._idle: dict[str, list] = {}
        self._queues: dict[str, Queue] = {}
        self._runs = 0
        self.visibility_expired: Callable[[str, str], None] | None = None
        self._started = False
        self._url: str | None = None      # the endpoint URL clients use (None: botocore's default)
        #: True while the queues live in this process's moto (the mock, or a moto server in this
        #: process): the simulated clock, the corrections and the moto-internal readers apply.
        self.in_process = True
        self._ledger: "Ledger | None" = None  # what the bench saw, where moto is not in this process
        self._real_names: dict[str, str] = {}   # a queue's name on the endpoint -> the name asked for
        self._token = ""
        self.recorder = Recorder(self)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "Lab":
        """Start the mock (or connect to ``SQSLAB_ENDPOINT``), the clock and the corrections; returns the lab."""
        global _current
        check_environment()
        self.endpoint = self._endpoint_asked or endpoint_from_environment()
        moto_door.install()  # corrections and speed-ups, on the moto and botocore they were written for
        aws = self.endpoint.real_aws
        for name in _UNSAFE_ENV + tuple(FAKE_CREDENTIALS):
            self._saved_env[name] = os.environ.get(name)
        for name in (_ENDPOINT_ENV if aws else _UNSAFE_ENV):
            os.environ.pop(name, None)
        if not aws:
            os.environ.update(FAKE_CREDENTIALS)
        import boto3

        if aws:  # your own credentials and region, found the way the AWS CLI finds them
            self._session = boto3.session.Session(region_name=self.endpoint.region)
        else:
            self._session = _fake_session()
        outer = _current if _current is not self and _current is not None and _current.running else None
        if self.endpoint.in_process_mock:
            from moto import mock_aws

            self._mock = mock_aws()
            self._mock.start()
        else:
            try:
                self._connect(outer)
            except BaseException:
                self._restore_env()
                raise
            if not aws:
                # Every client of the process goes there too (the lesson modules' own, a learner's
                # boto3.client("sqs")), so none can reach for AWS with the fake credentials.
                os.environ["AWS_ENDPOINT_URL"] = self._url
        if self.in_process:
            self.clock.start()
            self._seed_ids(self.seed)
            backend.use_clock(self.clock)
            backend.add_listener(self._on_sqs_event)
        else:
            self.clock = RealClock(self.endpoint.max_wait, self.endpoint.describe()).start()
            self.history = History(now=self.clock.elapsed)
            self.faults = FaultPlan(self.history)
            self._ledger = Ledger()
        self.clock.on_advance(self._on_clock)
        self._started = True
        # Effect databases are small and short-lived: on tmpfs when there is one (no disk syncs).
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self._tmp = tempfile.TemporaryDirectory(prefix="sqslab-", dir=shm)
        self.effects = self._new_effect_store()
        # Labs nest (the grader's canary opens one inside a learner's lab): remember the outer
        # one so closing this lab hands the clock back to it.
        self._outer = _current if _current is not self else None
        _current = self
        if not self.endpoint.in_process_mock and outer is None:
            print(self.endpoint_notice())
        return self

    def _connect(self, outer: "Lab | None") -> None:
        from .endpoint import connect

        connect(self, outer)

    def endpoint_notice(self) -> str:
        """What changes on this lab's endpoint, in a few lines (printed when such a lab opens)."""
        from .endpoint import notice

        return notice(self)

    def close(self) -> None:
        """Stop everything and give the process its real clock and environment back."""
        global _current
        for hooks in list(self._hooks.values()):
            hooks.remove()
        self._hooks.clear()
        self._idle.clear()
        if self._started and not self.in_process:
            self._delete_own_queues()
        self._admin_client = None
        backend.remove_listener(self._on_sqs_event)
        outer = getattr(self, "_outer", None)
        outer = outer if outer is not None and outer.running else None
        if self.in_process:
            backend.use_clock(outer.clock if outer and outer.in_process else None)
        self.clock.stop()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self._started = False
        self._restore_env()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if _current is self:
            _current = outer
        self._outer = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`close`."""
        return self._started

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()

    def _delete_own_queues(self) -> None:
        # Queues on a shared endpoint are this lab's only: leave nothing behind.
        admin = self._admin()
        for queue in list(self._queues.values()):
            try:
                admin.delete_queue(QueueUrl=queue.url)
            except Exception:  # noqa: BLE001 - already gone, or the endpoint is gone: nothing to clean
                pass

    def __enter__(self) -> "Lab":
        return self if self.running else self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"t={self.clock.elapsed():.3f}s, {len(self.history)} events" if self.running else "closed"
        return f"<Lab {state}>"

    # -- queues ------------------------------------------------------------------------------
    def queue(self, name: str, *, fifo: bool | None = None, visibility_timeout: int = 30,
              content_based_dedup: bool = False, delay_seconds: int = 0,
              dlq: "Queue | None" = None, max_receive_count: int | None = None,
              retention_seconds: int | None = None, **attributes: Any) -> Queue:
        """Create a queue (FIFO when the name ends in ``.fifo``) and return it.

        ``dlq`` with ``max_receive_count`` sets the RedrivePolicy: after that many receives a
        message goes to the dead-letter queue instead of being delivered again.
        """
        self._require_running()
        fifo = name.endswith(".fifo") if fifo is None else fifo
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attrs: dict[str, str] = {"VisibilityTimeout": str(visibility_timeout),
                                 "DelaySeconds": str(delay_seconds)}
        if fifo:
            attrs["FifoQueue"] = "true"
            if content_based_dedup:
                attrs["ContentBasedDeduplication"] = "true"
        if retention_seconds is not None:
            attrs["MessageRetentionPeriod"] = str(retention_seconds)
        if dlq is not None:
            if fifo != dlq.fifo:
                raise LabError("A FIFO queue's dead-letter queue must also be FIFO (and a standard "
                               "queue's must be standard).")
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": str(max_receive_count or 5)})
        attrs.update({k: str(v) for k, v in attributes.items()})
        return self._create(name, attrs, fifo=fifo, dlq=dlq)

    def bare_queue(self, name: str, attributes: dict[str, str] | None = None) -> Queue:
        """Create a queue with exactly ``attributes`` (SQS's own defaults for the rest).

        :meth:`queue` always sets a visibility timeout and a delay; the fidelity checks
        (:mod:`sqslab.tools.facts`) need SQS's defaults, and its answers to values out of range.
        """
        self._require_running()
        attrs = dict(attributes or {})
        return self._create(name, attrs, fifo=attrs.get("FifoQueue") == "true", dlq=None)

    def _create(self, name: str, attrs: dict[str, str], *, fifo: bool, dlq: "Queue | None") -> Queue:
        admin = self._admin()
        real_name = self._name_on_endpoint(name)
        url = admin.create_queue(QueueName=real_name, Attributes=attrs)["QueueUrl"]
        if self.in_process:
            arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        else:
            arn = admin.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self._real_names[real_name] = name
            # Outside this process the lab keeps its own books of what it cannot read from moto.
            self._ledger.visibility[name] = int(attrs.get("VisibilityTimeout", 30))
            self._ledger.delay[name] = int(attrs.get("DelaySeconds", 0))
            policy = json.loads(attrs["RedrivePolicy"]) if attrs.get("RedrivePolicy") else {}
            target = next((q for q in self._queues.values() if q.arn == policy.get("deadLetterTargetArn")), None)
            if target is not None:
                self._ledger.redrive[name] = (target.name, int(policy.get("maxReceiveCount", 5)))
        queue = Queue(name, url, arn, fifo, dlq)
        self._queues[name] = queue
        return queue

    def _name_on_endpoint(self, name: str) -> str:
        """The queue's name on the endpoint: as asked in this process's moto, prefixed elsewhere."""
        if self.in_process:
            return name
        real = f"{self.endpoint.prefix}{self._token}-{name}"
        if len(real) > 80:
            raise LabError(f"The queue name {real!r} is longer than SQS's 80 characters: use a shorter "
                           "name or a shorter SQSLAB_QUEUE_PREFIX.")
        return real

    def dead_letter_queue(self, name: str, *, fifo: bool | None = None, **kw: Any) -> Queue:
        """Create a queue meant to be a DLQ (the same as :meth:`queue`, named for readability)."""
        return self.queue(name, fifo=fifo, **kw)

    def send(self, queue: Queue | str, body: str | dict, *, actor: str = "producer", **kw: Any) -> str:
        """Send one message as ``actor`` (dicts become JSON); returns its MessageId."""
        if isinstance(body, dict):
            body = json.dumps(body)
        url = queue.url if isinstance(queue, Queue) else queue
        client = self.client("sqs", actor=actor)
        try:
            return client.send_message(QueueUrl=url, MessageBody=body, **kw)["MessageId"]
        finally:
            self.release(client)

    def snapshot(self, queue: Queue | str) -> dict:
        """What is in a queue right now, message by message (see :func:`sqslab.moto.state.queue_snapshot`).

        Where the queue is not in this process, this is the bench's own record of what its clients
        sent, received and deleted (``"source": "record"``), emptied when SQS says the queue is
        empty: messages SQS moves by itself (to a dead-letter queue, by a redrive task) are not
        on it.
        """
        if not self.in_process:
            return self._recorded_snapshot(queue)
        return state.queue_snapshot(queue.url if isinstance(queue, Queue) else queue,
                                       account_id=ACCOUNT_ID, region=REGION)

    def depth(self, queue: Queue | str) -> dict[str, int]:
        """How many messages are visible, in flight and delayed (SQS's own counts off this process)."""
        if not self.in_process:
            return self._counts(queue)
        counts = {"visible": 0, "in_flight": 0, "delayed": 0}
        for m in self.snapshot(queue)["messages"]:
            counts[m["state"]] = counts.get(m["state"], 0) + 1
        return counts

    def long_poll_wait(self, queue: Queue | str) -> int:
        """The WaitTimeSeconds for a receive by the bench's own helpers that must neither miss nor wait.

        20 (a long poll, which returns every visible message at once) while a message is visible;
        0 otherwise (a short poll, which returns nothing and lets no time pass). The course's
        consumers long-poll; a helper that asks on a learner's behalf (a test fixture, a demo lane)
        must not move the simulated clock just to find the queue empty.
        """
        return 20 if self.depth(queue)["visible"] else 0

    def _url_of(self, queue: Queue | str) -> str:
        if isinstance(queue, Queue):
            return queue.url
        known = self._queues.get(self._logical(queue_name_of(queue)))
        return known.url if known is not None else queue

    def _counts(self, queue: Queue | str) -> dict[str, int]:
        # The public API's counts (GetQueueAttributes): exact on ElasticMQ and moto, approximate
        # (eventually consistent, for about a minute) on real SQS.
        names = {"visible": "ApproximateNumberOfMessages", "in_flight": "ApproximateNumberOfMessagesNotVisible",
                 "delayed": "ApproximateNumberOfMessagesDelayed"}
        attrs = self._admin().get_queue_attributes(QueueUrl=self._url_of(queue),
                                                   AttributeNames=list(names.values()))["Attributes"]
        return {state: int(attrs.get(name, 0)) for state, name in names.items()}

    def _recorded_snapshot(self, queue: Queue | str) -> dict:
        url = self._url_of(queue)
        name = self._logical(queue_name_of(url))
        known = self._queues.get(name)
        empty = bool(self._ledger.messages.get(name)) and sum(self._counts(url).values()) == 0
        return self._ledger.snapshot(name, known.arn if known else None, self.clock.now(), empty)

    def _logical(self, real_name: str) -> str:
        return self._real_names.get(real_name, real_name)

    # -- clients -----------------------------------------------------------------------------
    def client(self, service: str = "sqs", *, actor: str = "consumer-1") -> Any:
        """A boto3 client for ``service`` whose calls are recorded and can be faulted."""
        self._require_running()
        pool = self._pool(service)
        # A released client carries nothing over (its hooks are gone and moto keeps no
        # per-client state), so reusing one is the same as building one, at a fraction of
        # the cost (about 10 ms each).
        client = pool.pop() if pool else self._new_client(service)
        self._hooks[id(client)] = self.recorder.instrument(client, actor)
        return client

    def _new_client(self, service: str) -> Any:
        from botocore.config import Config

        # No retries: a retry would hide an injected fault and sleep in real time.
        return self._session.client(service, region_name=self._region(), endpoint_url=self._url,
                                     config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    def release(self, client: Any) -> None:
        """Remove the lab's hooks from a client (a process that stopped or died)."""
        hooks = self._hooks.pop(id(client), None)
        if hooks is not None:
            hooks.remove()
            self._pool(client.meta.service_model.service_name).append(client)

    def _pool(self, service: str) -> list:
        # With the fake credentials every lab of the process shares one session and its idle
        # clients (a new session reads botocore's JSON models again: about 100 ms a lab); with
        # your own credentials (real AWS) they stay the lab's.
        if self._session is _FAKE[0]:
            return _IDLE.setdefault((service, self._url), [])
        return self._idle.setdefault(service, [])

    def _admin(self) -> Any:
        # The bench's own calls are not part of anyone's story: an unhooked client.
        if getattr(self, "_admin_client", None) is None:
            if self._session is _FAKE[0]:
                if self._url not in _ADMINS:
                    _ADMINS[self._url] = self._session.client("sqs", region_name=REGION, endpoint_url=self._url)
                self._admin_client = _ADMINS[self._url]
            else:
                self._admin_client = self._session.client("sqs", region_name=self._region(), endpoint_url=self._url)
        return self._admin_client

    def _region(self) -> str:
        return self.endpoint.region if self.endpoint is not None and self.endpoint.real_aws else REGION

    # -- who is who (the run's recorder knows) ---------------------------------------------------
    def position_of(self, key: str | None) -> int | None:
        """The position (0-based, in order of first send) of a business key."""
        return self.recorder.position_of(key)

    def locate(self, key: str) -> tuple[int | None, str | None]:
        """``(position, latest MessageId)`` of a business key."""
        return self.recorder.locate(key)

    def key_for(self, message_id: str | None = None, receipt_handle: str | None = None) -> str | None:
        """The business key of a message, by MessageId or receipt handle."""
        return self.recorder.key_for(message_id, receipt_handle)

    def _on_sqs_event(self, event: dict) -> None:
        self.recorder.on_sqs_event(event)

    def _on_clock(self, before: float, after: float) -> None:
        self.history.append("clock", "clock", seconds=round(after - before, 6))

    def note(self, text: str, actor: str = "bench") -> None:
        """Put a line of your own on the record (shown in the history and the timeline)."""
        self.history.append(actor, "note", text=text)

    def expire_visibility(self, key: str, actor: str = "bench") -> None:
        """Move the clock just past the moment ``key``'s message becomes visible again."""
        mid = self.recorder.message_of(key)
        for queue in self._queues.values():
            for m in self.snapshot(queue)["messages"]:
                if m["message_id"] == mid and m["state"] == "in_flight":
                    self.clock.advance_to(m["visible_at"] + 0.001)
                    return

    # -- runs ------------------------------------------------------------------------------------
    def _new_effect_store(self) -> EffectStore:
        self._runs += 1
        path = Path(self._tmp.name) / f"effects-{self._runs}.db"
        return EffectStore(path, self.history, self.faults, self.locate, self.clock.now,
                           on_visibility_expired=self._visibility_expired)

    def _visibility_expired(self, key: str, actor: str) -> None:
        if self.visibility_expired is not None:
            self.visibility_expired(key, actor)
        else:
            self.expire_visibility(key, actor)

    def begin_run(self) -> dict:
        """Start a fresh run in this lab: new history, fault plan, effect store and id maps.

        Returns what :meth:`end_run` needs to put the previous ones back.
        """
        saved = {"history": self.history, "faults": self.faults, "effects": self.effects,
                 "recorder": self.recorder,
                 "visibility_expired": self.visibility_expired}
        start = self.clock.elapsed()
        self.history = History(now=lambda: self.clock.elapsed() - start)
        self.faults = FaultPlan(self.history)
        self.recorder = Recorder(self)
        self._seed_ids(self.seed + self._runs)
        self.effects = self._new_effect_store()
        return saved

    def end_run(self, saved: dict) -> None:
        """Restore what :meth:`begin_run` replaced."""
        self.history, self.faults, self.effects = saved["history"], saved["faults"], saved["effects"]
        self.recorder = saved["recorder"]
        self.visibility_expired = saved["visibility_expired"]

    @staticmethod
    def _seed_ids(seed: int) -> None:
        state.seed_ids(seed)

    def _require_running(self) -> None:
        if not self.running:
            raise LabError("The lab is closed: run `lab = open_lab()` first.")


#: The one session with the fake credentials, its idle clients (by service and endpoint URL) and its
#: unhooked admin clients (by endpoint URL): shared by every lab of the process.
_FAKE: list = [None]
_IDLE: dict[tuple[str, str | None], list] = {}
_ADMINS: dict[str | None, Any] = {}


def _fake_session():
    if _FAKE[0] is None:
        import boto3

        _FAKE[0] = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                         aws_session_token="testing", region_name=REGION)
    return _FAKE[0]


def check_environment() -> None:
    """Fail with a message that says exactly what to fix when the lab cannot run here."""
    import sys

    if sys.version_info < (3, 11):
        raise EnvironmentProblem(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}. "
                                 "Run `make lab` from the course folder: it sets up the right Python.")
    missing = []
    for module in ("moto", "boto3", "time_machine"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise EnvironmentProblem(f"Missing packages: {', '.join(missing)}. Open the course with `make lab` "
                                 "(it installs everything into .venv), or run `pip install -e .` in the "
                                 "course folder.")
    moto_door.check_versions()


@contextlib.contextmanager
def crash_at(client: Any, point: str, *, plan: FaultPlan | None = None,
             actor: str | None = None) -> Iterator[FaultPlan]:
    """Crash ``client``'s next call at a call point, e.g. ``with crash_at(sqs, "before_delete"):``.

    A stand-alone helper for notebooks and tests outside a lab scenario: hooks are registered on
    this client only and always removed when the block ends. Only call points work here
    (``after_receive``, ``before_delete``, ``after_delete``, ``before:Op``, ``after:Op``). When a
    lab is open, the fault and the crash go into its history.
    """
    lab = current_lab()
    actor = actor or getattr(client, "_sqslab_actor", None) or "consumer"
    # A private plan: the client stays usable after the block (in a notebook, the "process" that
    # crashed is only pretend), unlike a scenario run, where a crashed process is dead for good.
    plan = plan or FaultPlan(lab.history if lab is not None else None)
    when, ops = call_point(point)
    plan.arm(Fault(point))
    hooks = ClientHooks(client)
    service = client.meta.service_model.endpoint_prefix

    def handler(model=None, **kwargs):
        if model is not None and model.name in ops:
            plan.hit(point, actor)

    hooks.register(f"{when}-call.{service}", handler)
    try:
        yield plan
    except Crash as crash:
        if plan.history is not None:
            plan.history.append(actor, "crash", point=crash.point)
        raise
    finally:
        hooks.remove()


@contextlib.contextmanager
def lab_for(lab: "Lab | None") -> Iterator[Lab]:
    """``lab`` itself; or, for None, a private lab started for the block and closed after it.

    Runs and explorations use a private lab unless they are given one: a verdict must never depend
    on a lab that the notebook opened (and that a learner's code may have changed).
    """
    if lab is not None:
        yield lab
        return
    with Lab() as private:
        yield private


def open_lab(*, seed: int = 0) -> Lab:
    """Start a lab (closing any earlier one in this process) and return it: the notebook one-liner."""
    if _current is not None:
        _current.close()
    return Lab(seed=seed).start()


def current_lab() -> Lab | None:
    """The lab opened last in this process, if it is still running.

    Raises
    ------
    LabError
        When called from code the bench runs as the learner's (a consumer step): a consumer gets
        its process and nothing else of the bench.
    """
    if _learner_code[0]:
        raise LabError("A consumer cannot reach the lab: it gets only its process (process.sqs, "
                       "process.queue_url, process.handle, process.db, process.clock, ...). Use those.")
    return _current if _current is not None and _current.running else None


#: How deep the bench is inside code it runs on a learner's behalf (a consumer step, a script).
_learner_code = [0]


@contextlib.contextmanager
def learner_code() -> Iterator[None]:
    """Run the learner's code (a consumer step, an operator script) with the lab out of its reach."""
    _learner_code[0] += 1
    try:
        yield
    finally:
        _learner_code[0] -= 1
