"""Named fault points, the fault plan, and the botocore hooks that inject faults into AWS calls.

A consumer can die anywhere; the lessons care about a handful of places where dying changes the
outcome. Each has a name (``FAULT_POINTS``). A :class:`Fault` says "at this point, for this message,
the n-th time"; a :class:`FaultPlan` holds the armed faults of a run and fires each one once.

AWS calls are faulted through botocore's event hooks on the client under test, in the pattern of
botocore's own Stubber: failing in ``before-call`` models "the request never reached AWS"; failing
in ``after-call`` models "AWS applied it, then the consumer died". Hooks are registered with unique
ids and always removed. The effect store (``sqslab.effects``) owns its commit and calls
:meth:`FaultPlan.hit` itself, so a crash can also land between an effect and its commit.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .exceptions import Crash, LabError

if TYPE_CHECKING:  # pragma: no cover
    from .history import History


@dataclass(frozen=True)
class FaultPoint:
    """A place in a consumer's life where the bench can inject a fault."""

    name: str
    fatal: bool
    where: str
    description: str


_POINTS = [
    FaultPoint("after_receive", True, "after:ReceiveMessage",
               "SQS handed the message over, then the consumer died before doing anything with it"),
    FaultPoint("before_effect", True, "effect store: effect begins",
               "the consumer died just before the business effect"),
    FaultPoint("effect_uncommitted", True, "effect store: after the effect's statements",
               "the consumer died after the business effect's statements, before they were committed"),
    FaultPoint("effect_committed", True, "effect store: after commit",
               "the consumer died right after the business effect was committed, before anything else"),
    FaultPoint("before_delete", True, "before:DeleteMessage",
               "the consumer died before DeleteMessage: the request never reached SQS"),
    FaultPoint("after_delete", True, "after:DeleteMessage",
               "SQS deleted the message, then the consumer died before learning so"),
    FaultPoint("visibility_expires", False, "effect store: effect begins",
               "the visibility timeout ran out while the work was still running, "
               "and another consumer received the message"),
    FaultPoint("duplicate_delivery", False, "after:ReceiveMessage",
               "SQS delivered the message a second time (standard queues are at-least-once)"),
    FaultPoint("handler_error", False, "effect store: effect begins",
               "the business handler failed with an ordinary exception (a transient error)"),
    FaultPoint("send_timeout", False, "after:SendMessage",
               "SendMessage timed out after SQS had accepted the message"),
    FaultPoint("batch_entry_failure", False, "batch calls",
               "one entry of a batch call failed while the call itself succeeded"),
    FaultPoint("throttle", False, "before: any call",
               "the call was throttled by AWS (ThrottlingException) and not applied"),
]

#: Every named fault point, by name.
FAULT_POINTS: dict[str, FaultPoint] = {p.name: p for p in _POINTS}

#: The fatal points of a consumer's life, in the order a message meets them.
CRASH_POINTS: tuple[str, ...] = (
    "after_receive", "before_effect", "effect_uncommitted", "effect_committed",
    "before_delete", "after_delete",
)

#: What :func:`sqslab.explore` tries by default: every crash point and the faults a consumer
#: must survive without crashing.
DEFAULT_POINTS: tuple[str, ...] = CRASH_POINTS + ("handler_error", "visibility_expires", "duplicate_delivery")

#: The points a fault can aim at one AWS operation (``Fault.call``).
_AIMED = ("batch_entry_failure", "throttle")

# Named points that are really "before/after this AWS operation".
_CALL_ALIASES = {
    "after_receive": ("after", ("ReceiveMessage",)),
    "duplicate_delivery": ("after", ("ReceiveMessage",)),
    "before_delete": ("before", ("DeleteMessage", "DeleteMessageBatch")),
    "after_delete": ("after", ("DeleteMessage", "DeleteMessageBatch")),
    "send_timeout": ("after", ("SendMessage",)),
}


def describe_point(point: str) -> str:
    """A sentence saying what happens at ``point`` (named or ``before:Op``/``after:Op``)."""
    if point in FAULT_POINTS:
        return FAULT_POINTS[point].description
    when, _, op = point.partition(":")
    if when == "before" and op:
        return f"the process died before {op}: the request never reached AWS"
    if when == "after" and op:
        return f"AWS applied {op}, then the process died before learning so"
    return point


def is_fatal(point: str) -> bool:
    """True when the point kills the process (named fatal points and every ``before:``/``after:``)."""
    if point in FAULT_POINTS:
        return FAULT_POINTS[point].fatal
    return point.partition(":")[0] in ("before", "after")


def _validate_point(point: str) -> None:
    if point in FAULT_POINTS:
        return
    when, _, op = point.partition(":")
    if when in ("before", "after") and op:
        return
    names = ", ".join(FAULT_POINTS)
    raise LabError(f"Unknown fault point {point!r}. Use one of: {names}, or 'before:Operation' / "
                   "'after:Operation' for any AWS call (e.g. 'after:PutItem').")


@dataclass(frozen=True)
class Fault:
    """One fault to inject.

    Parameters
    ----------
    point:
        A name from :data:`FAULT_POINTS`, or ``"before:Operation"`` / ``"after:Operation"``.
    message:
        The position (0-based, in send order) of the message it concerns; None for any message.
    occurrence:
        Fire on the n-th time the point is reached for that message (1 = the first time).
    actor:
        Only this process (``"consumer-2"``) triggers it, and ``occurrence`` counts its own
        arrivals at the point; None (the default) for any process. The demo uses it to crash
        the consumer the instructor chose.
    call:
        The AWS operation it aims at, for the points that could hit several: ``batch_entry_failure``
        fails an entry of this batch call (default ``"DeleteMessageBatch"``, never a heartbeat's
        ``ChangeMessageVisibilityBatch`` by accident); ``throttle`` throttles this call (default:
        the first call that reaches it).
    restart_after:
        For a fatal fault: simulated seconds between the crash and the next process's start (a
        real restart takes seconds or minutes, so whatever the consumer derives from the time
        changes across it). 0 restarts at once.
    sender_fault:
        For ``batch_entry_failure``: the entry fails with ``SenderFault: true`` (the entry itself is
        wrong, ``ReceiptHandleIsInvalid`` for a receipt handle), and, as on SQS, sending the same
        entry again fails the same way; False (the default): a failure on SQS's side
        (``InternalError``), which a retry may cure.
    """

    point: str
    message: int | None = None
    occurrence: int = 1
    actor: str | None = None
    call: str | None = None
    restart_after: float = 0.0
    sender_fault: bool = False

    def __post_init__(self):
        _validate_point(self.point)
        if self.occurrence < 1:
            raise LabError("Fault.occurrence counts from 1.")
        if self.call is None and self.point == "batch_entry_failure":
            object.__setattr__(self, "call", "DeleteMessageBatch")
        if self.call is not None and self.point not in _AIMED:
            raise LabError(f"Fault.call aims {', '.join(_AIMED)} at one AWS operation; '{self.point}' "
                           "already names where it strikes.")
        if self.call is not None and self.point == "batch_entry_failure" and not self.call.endswith("Batch"):
            raise LabError(f"batch_entry_failure fails an entry of a batch call; {self.call} is not one.")
        if self.restart_after < 0:
            raise LabError("Fault.restart_after is a number of simulated seconds, 0 or more.")
        if self.restart_after and not self.fatal:
            raise LabError(f"'{self.point}' does not kill the process, so nothing restarts after it.")
        if self.sender_fault and self.point != "batch_entry_failure":
            raise LabError(f"sender_fault is about one entry of a batch call (batch_entry_failure), not '{self.point}'.")

    @property
    def fatal(self) -> bool:
        """True when this fault kills the process."""
        return is_fatal(self.point)

    def describe(self, key: str | None = None) -> str:
        """A sentence for a learner: where, for which message, what it means."""
        which = "" if self.message is None else f" while handling message {self.message + 1}"
        if key:
            which += f" ({key})"
        nth = "" if self.occurrence == 1 else f" (the {self.occurrence}th time it got there)"
        who = "" if self.actor is None else f" in {self.actor}"
        on = "" if self.call is None else f" on {self.call}"
        if self.sender_fault:
            on += " (SenderFault: the entry as sent is wrong)"
        later = f"; the next process started {self.restart_after:g} s later" if self.restart_after else ""
        return f"'{self.point}'{on}{who}{which}{nth}: {describe_point(self.point)}{later}"


@dataclass
class FiredFault:
    """A fault that fired, with where and to whom."""

    fault: Fault
    actor: str
    position: int | None
    key: str | None
    message_id: str | None


class FaultPlan:
    """The faults armed for a run; each fires once, when its point is reached for its message."""

    def __init__(self, history: "History | None" = None):
        self.history = history
        self.armed: list[Fault] = []
        self.fired: list[FiredFault] = []
        self._counts: Counter = Counter()
        self._enabled = True
        #: True once injection was switched off: a run in which that happened proves nothing.
        self.switched_off = False
        #: Actors whose process was killed. A learner's code may catch the Crash (it is only an
        #: exception in the end), but a dead process can do nothing more: every later fault
        #: point it reaches kills it again, so catching the crash gains nothing and costs nothing.
        self.dead: set[str] = set()

    @property
    def enabled(self) -> bool:
        """Whether armed faults fire. Switching it off is remembered (:attr:`switched_off`)."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if not value and self._enabled:
            self.switched_off = True
            if self.history is not None:
                self.history.append("bench", "note", text="fault injection was switched off")
        self._enabled = bool(value)

    def interference(self, armed: Iterable[Fault]) -> list[str]:
        """What was done to this plan since ``armed`` were armed, in sentences (empty when nothing).

        A run's verdict is only as good as its faults: one whose injection was switched off, or
        whose armed faults were taken away or swapped, proves nothing and must fail.
        """
        problems = []
        if self.switched_off or not self._enabled:
            problems.append("fault injection was switched off during the run")
        if [id(f) for f in self.armed] != [id(f) for f in armed]:
            problems.append("the run's armed faults were changed during the run")
        return problems

    def unfired(self, faults: Iterable[Fault]) -> list[Fault]:
        """Those of ``faults`` that never fired."""
        fired = {id(ff.fault) for ff in self.fired}
        return [f for f in faults if id(f) not in fired]

    def arm(self, *faults: Fault | str) -> None:
        """Arm faults (a bare point name means: that point, any message, first time)."""
        for f in faults:
            self.armed.append(Fault(f) if isinstance(f, str) else f)

    def reset(self) -> None:
        """Disarm everything and forget counts (a fresh run)."""
        self.armed.clear()
        self.fired.clear()
        self._counts.clear()
        self.dead.clear()

    @contextlib.contextmanager
    def armed_with(self, *faults: Fault | str) -> Iterator["FaultPlan"]:
        """Arm faults for the duration of a ``with`` block, and always disarm them after."""
        before = list(self.armed)
        self.arm(*faults)
        try:
            yield self
        finally:
            self.armed[:] = before

    def hit(self, point: str, actor: str, targets: Iterable[tuple[int | None, str | None, str | None]] = ((None, None, None),),
            call: str | None = None) -> FiredFault | None:
        """Report that ``actor`` reached ``point`` for some messages; fire a matching fault.

        ``targets`` holds ``(position, key, message_id)`` for each message concerned; ``call`` names
        the AWS operation being made, for faults aimed at one (:attr:`Fault.call`). A fatal fault
        raises :class:`~sqslab.exceptions.Crash`; a non-fatal one is returned for the caller to act
        on. Returns None when nothing fires.
        """
        self.check_alive(actor, point)
        if not self.enabled:
            return None
        for position, key, message_id in targets:
            for who in ((None,) if actor is None else (None, actor)):
                for on in ((None,) if call is None else (None, call)):  # arrivals on any call, and on this one
                    self._counts[(point, position, who, on)] += 1
                    self._counts[(point, "*", who, on)] += 1
            for fault in self.armed:
                if fault.point != point or any(ff.fault is fault for ff in self.fired):
                    continue
                if fault.actor is not None and fault.actor != actor:
                    continue
                if fault.call is not None and fault.call != call:
                    continue
                if fault.message is None:
                    count = self._counts[(point, "*", fault.actor, fault.call)]
                elif fault.message == position:
                    count = self._counts[(point, position, fault.actor, fault.call)]
                else:
                    continue
                if count != fault.occurrence:
                    continue
                fired = FiredFault(fault, actor, position, key, message_id)
                self.fired.append(fired)
                if self.history is not None:
                    self.history.append(actor, "fault", message_id, key, point=point,
                                        fatal=fault.fatal, position=position)
                if fault.fatal:
                    self.dead.add(actor)
                    raise Crash(point, f"{actor} crashed: {fault.describe(key)}")
                return fired
        return None

    def reached(self, point: str, message: int | None = None, actor: str | None = None) -> int:
        """How many times ``point`` was reached so far (for one message position, by one actor).

        A fault armed in the middle of a run fires on the *next* arrival with
        ``occurrence=plan.reached(...) + 1``.
        """
        return self._counts[(point, "*" if message is None else message, actor, None)]

    def check_alive(self, actor: str, point: str = "after its crash") -> None:
        """Raise :class:`Crash` again if ``actor``'s process already died."""
        if actor in self.dead:
            raise Crash(point, f"{actor} already crashed: a dead process cannot carry on")

    def wants(self, point: str, call: str | None = None) -> bool:  # noqa: D401
        """True if an unfired fault is armed at ``point`` (for ``call``, when given; lets hooks skip work)."""
        fired = {id(ff.fault) for ff in self.fired}
        return self.enabled and any(f.point == point and id(f) not in fired
                                    and (call is None or f.call is None or f.call == call) for f in self.armed)


# -- botocore hooks ----------------------------------------------------------------------------
_hook_ids = itertools.count(1)


@dataclass
class ClientHooks:
    """The hooks registered on one client; :meth:`remove` unregisters all of them."""

    client: Any
    registrations: list[tuple[str, str]] = field(default_factory=list)

    def register(self, event: str, handler: Callable) -> None:
        """Register ``handler`` for ``event`` under a unique id."""
        unique_id = f"sqslab-{next(_hook_ids)}"
        self.client.meta.events.register(event, handler, unique_id=unique_id)
        self.registrations.append((event, unique_id))

    def remove(self) -> None:
        """Unregister every hook this object registered (idempotent)."""
        for event, unique_id in self.registrations:
            self.client.meta.events.unregister(event, unique_id=unique_id)
        self.registrations.clear()


def throttled_response(operation: str) -> tuple[Any, dict]:
    """A (http_response, parsed) pair that botocore turns into a ThrottlingException ClientError."""
    parsed = {
        "Error": {"Code": "ThrottlingException", "Message": f"Rate exceeded (injected on {operation})"},
        "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 0},
    }
    return _FakeHttpResponse(400), parsed


def all_entries_failed_response() -> tuple[Any, dict]:
    """A (http_response, parsed) pair for a batch call none of whose entries is sent on (HTTP 200).

    The failed entries are added to ``Failed`` after the call, as for any injected entry failure;
    SQS itself would refuse a request with no entries (EmptyBatchRequest), so it is not asked.
    """
    return _FakeHttpResponse(200), {"Successful": [], "Failed": [],
                                    "ResponseMetadata": {"HTTPStatusCode": 200, "RetryAttempts": 0}}


class _FakeHttpResponse:
    def __init__(self, status_code: int):
        self.status_code = status_code
        self.headers: dict = {}
        self.content = b""
        self.text = ""
        self.raw = None


def call_point(point: str) -> tuple[str, tuple[str, ...]]:
    """``("before"|"after", operations)`` of a point on an AWS call; LabError for any other point."""
    if point in _CALL_ALIASES:
        return _CALL_ALIASES[point]
    when, _, op = point.partition(":")
    if when in ("before", "after") and op:
        return when, (op,)
    raise LabError(f"{point!r} is not a point on an AWS call; crash_at() needs one of "
                   f"{', '.join(_CALL_ALIASES)} or 'before:Op' / 'after:Op'.")


def call_points_for(operation: str, when: str) -> list[str]:
    """The point names that fire on ``when`` ("before"/"after") ``operation``."""
    names = [name for name, (w, ops) in _CALL_ALIASES.items() if w == when and operation in ops]
    names.append(f"{when}:{operation}")
    return names
