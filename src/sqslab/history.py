"""The append-only history of a lab run, and its queries.

Everything that happens in a lab is appended here, in order: each SQS call and its answer, each
business effect, each injected fault, each clock move, each consumer start and crash. The checker,
the timeline, the demo widget and the grader's feedback all read this one history instead of
keeping books of their own.

Event kinds (``Event.kind``) and what ``detail`` holds:

=================  ==========================================================================
``send``           a message accepted by SQS: ``body``, ``queue``, ``dedup_id``/``group_id``
                   on FIFO queues, ``delivered`` (False when FIFO deduplication dropped it)
``receive``        one message handed to a consumer: ``receipt_handle``, ``receive_count``,
                   ``visible_until`` (Unix seconds), ``queue``
``delete``         a DeleteMessage (or one batch entry) SQS answered: ``receipt_handle``,
                   ``applied`` (False when the handle was stale and SQS kept the message)
``visibility``     ChangeMessageVisibility: ``timeout``, ``visible_until``, ``ok``
``effect``         a business effect committed: ``effect`` (its kind), ``detail``
``rollback``       effects thrown away with their transaction: ``effects`` (a list of keys)
``fault``          an injected fault fired: ``point``, ``fatal``
``crash``          a consumer died: ``point`` (or ``error`` for an uncaught exception, and
                   ``where``, the line of the learner's code that raised it)
``error``          a learner's function that is not a consumer (an operator's script) raised:
                   ``function``, ``error``, ``where``
``start``/``stop`` a consumer process started / finished cleanly
``clock``          the clock moved: ``seconds``
``dlq_move``       SQS moved a message to its dead-letter queue: ``from``, ``to``
``move_task``      a message-move task moved a message: ``from``, ``to``
``note``           anything a lesson wants on the record: ``text``
=================  ==========================================================================
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

KINDS = (
    "send", "receive", "delete", "visibility", "effect", "rollback", "fault", "crash",
    "start", "stop", "clock", "dlq_move", "move_task", "note", "error",
)


@dataclass(frozen=True)
class Event:
    """One thing that happened, at one simulated instant.

    Attributes
    ----------
    seq: position in the history (0, 1, 2, ...).
    time: simulated seconds since the lab started.
    actor: who did it: ``"consumer-1"``, ``"producer"``, ``"sqs"`` (SQS on its own), ``"bench"``.
    kind: one of :data:`KINDS`.
    message_id: the SQS MessageId concerned, when there is one.
    key: the business key concerned (e.g. an order id), when known.
    detail: the kind's own fields (see the module docstring).
    """

    seq: int
    time: float
    actor: str
    kind: str
    message_id: str | None = None
    key: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line a learner can read, e.g. ``t=31.0s consumer-2 receive order-1 (2nd receive)``."""
        what = self.key or (self.message_id[:8] if self.message_id else "")
        extra = _DESCRIBE.get(self.kind, lambda d: "")(self.detail)
        parts = [f"t={self.time:7.3f}s", f"{self.actor:<11}", self.kind, what, extra]
        return " ".join(p for p in parts if p).rstrip()


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_DESCRIBE: dict[str, Callable[[dict], str]] = {
    "receive": lambda d: f"({_ordinal(d.get('receive_count', 1))} receive, invisible until t={d.get('visible_until_t', 0):.0f}s)",
    "delete": lambda d: ("" if d.get("applied", True) else "(stale receipt handle: SQS kept the message)")
    if d.get("ok", True) else f"failed: {d.get('error')} (SQS kept the message)",
    "visibility": lambda d: f"(timeout {d.get('timeout')}s)" + ("" if d.get("ok", True) else f" failed: {d.get('error')}"),
    "effect": lambda d: f"[{d.get('effect', 'effect')}]",
    "rollback": lambda d: f"(uncommitted: {', '.join(d.get('effects', []))})",
    "fault": lambda d: f"<{d.get('point')}>",
    "crash": lambda d: f"<{d.get('point') or d.get('error')}>" + (f" at {d['where']}" if d.get("where") else ""),
    "error": lambda d: f"{d.get('function', 'the function')}() raised {d.get('error')}"
                       + (f" at {d['where']}" if d.get("where") else ""),
    "clock": lambda d: f"+{d.get('seconds', 0):g}s",
    "send": lambda d: "" if d.get("delivered", True) else "(deduplicated: accepted, not delivered)",
    "dlq_move": lambda d: f"-> {d.get('to')}",
    "move_task": lambda d: f"{d.get('from')} -> {d.get('to')}",
    "note": lambda d: d.get("text", ""),
}


class History:
    """An append-only list of :class:`Event`, with the queries the checker and views need."""

    def __init__(self, now: Callable[[], float] = lambda: 0.0):
        self._events: list[Event] = []
        self._seq = itertools.count()
        self._now = now
        self._listeners: list[Callable[[Event], None]] = []

    def append(self, actor: str, kind: str, message_id: str | None = None,
               key: str | None = None, **detail: Any) -> Event:
        """Record one event at the current simulated time and return it."""
        event = Event(next(self._seq), round(self._now(), 6), actor, kind, message_id, key, detail)
        self._events.append(event)
        for listener in list(self._listeners):
            listener(event)
        return event

    def now(self) -> float:
        """The current time on this history's scale (simulated seconds since its start)."""
        return round(self._now(), 6)

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener(event)`` for every event appended from now on (live views)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Event], None]) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- queries -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Event]:
        return iter(list(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index):
        return self._events[index]

    @property
    def events(self) -> list[Event]:
        """A copy of every event, in order."""
        return list(self._events)

    def since(self, seq: int) -> list[Event]:
        """Events with ``seq >= seq``: what happened after a mark."""
        return [e for e in self._events if e.seq >= seq]

    def of_kind(self, *kinds: str) -> list[Event]:
        """Events of the given kinds, in order."""
        return [e for e in self._events if e.kind in kinds]

    def for_message(self, message_id: str) -> list[Event]:
        """Everything that happened to one message, in order."""
        return [e for e in self._events if e.message_id == message_id]

    def for_key(self, key: str) -> list[Event]:
        """Everything that happened under one business key, in order."""
        return [e for e in self._events if e.key == key]

    def effects_by_key(self) -> Counter:
        """How many committed effects each business key got."""
        return Counter(e.key for e in self._events if e.kind == "effect")

    def message_ids(self) -> list[str]:
        """Every MessageId the history mentions, in order of first appearance."""
        seen: dict[str, None] = {}
        for e in self._events:
            if e.message_id and e.message_id not in seen:
                seen[e.message_id] = None
        return list(seen)

    def keys(self) -> list[str]:
        """Every business key the history mentions, in order of first appearance."""
        seen: dict[str, None] = {}
        for e in self._events:
            if e.key and e.key not in seen:
                seen[e.key] = None
        return list(seen)

    def text(self, events: Iterable[Event] | None = None) -> str:
        """The history as readable lines, one per event (the timeline's text version)."""
        return "\n".join(e.describe() for e in (self._events if events is None else events))

    def clear(self) -> None:
        """Forget everything (a fresh scenario in the same lab)."""
        self._events.clear()
        self._seq = itertools.count()
