"""What the corrections of moto share, and the lab's hold on moto's clock and events.

Process-wide state that every patch of moto's SQS reads or writes: the lock around the backend
(moto is not thread-safe), the clock long polls wait on, the listeners that hear what SQS does on
its own (a dead-letter move, a move task, a dropped FIFO duplicate), and small helpers for reading
moto's clock and models the way moto itself does.
"""

from __future__ import annotations

import functools
import os
import random
import threading
from typing import Any, Callable

#: FIFO deduplication interval, fixed by SQS.
DEDUPLICATION_SECONDS = 300

#: moto counts a message visible only when ``now > visible_at``; moving the clock this far past
#: the boundary makes it receivable.
PAST_BOUNDARY = 0.001

# -- process-wide state ---------------------------------------------------------------------------
#: One lock around the whole SQS backend: moto is not thread-safe (docs/sqs-facts.md, "thread safety").
LOCK = threading.RLock()

_listeners: list[Callable[[dict], None]] = []
_clock = None  # the sqslab.clock.Clock long polls wait on, or None
_applied: set[str] = set()
_apply_lock = threading.Lock()
# What the current thread is doing inside moto, so a patched Queue.add_message can tell a fresh
# send from a dead-letter move.
_context = threading.local()


def sqs_models():
    from moto.sqs import models

    return models


def moto_now() -> float:
    """Simulated Unix time, read the way moto reads it."""
    from moto.core.utils import unix_time

    return unix_time()


def emit(event: dict) -> None:
    event.setdefault("at", moto_now())
    for listener in list(_listeners):
        listener(event)


def once(name: str) -> bool:
    """True the first time ``name`` is seen: each correction patches moto only once."""
    if name in _applied:
        return False
    _applied.add(name)
    return True



def locked(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return fn(*args, **kwargs)

    locked._sqslab_locked = True  # type: ignore[attr-defined]
    return locked



#: Short polls sample (see :func:`short_poll_count`), as SQS's do; the corrections' tests turn it off
#: to compare moto's answers exactly, and SQSLAB_SAMPLE_SHORT_POLLS=0 turns it off to rule it out when
#: something looks wrong.
SHORT_POLL_SAMPLING = {"on": os.environ.get("SQSLAB_SAMPLE_SHORT_POLLS", "1") != "0"}
#: The seeded draw of how many messages a short poll returns (reseeded with moto's ids per run).
_sampler = random.Random(0)


def seed_sampler(seed: int) -> None:
    """Make the short polls' sampling repeat: the same seed, the same answers."""
    _sampler.seed(seed)


def short_poll_count(asked: int) -> int:
    """How many of up to ``asked`` visible messages one short poll returns: a seeded sample, often fewer.

    AWS (Developer Guide, "Short and long polling"): a short poll queries a subset of SQS's servers
    and returns messages from those only, so it can return fewer messages than are available, or
    none even when some are ("most likely fewer" with few messages). A third of short polls come back
    empty; the others return between one and ``asked`` messages, evenly drawn.
    """
    if not SHORT_POLL_SAMPLING["on"] or asked <= 0:
        return asked
    if _sampler.random() < 1 / 3:
        return 0
    return _sampler.randint(1, asked)


def deleted_archive(queue) -> dict:
    """Messages deleted from a moto ``queue``, kept aside so a duplicate delivery can bring one back."""
    return vars(queue).setdefault("_sqslab_deleted", {})


def use_clock(clock) -> None:
    """Make long polls wait on ``clock`` (a running :class:`sqslab.clock.Clock`); None to stop.

    While a clock is registered, a ReceiveMessage with WaitTimeSeconds > 0 that finds nothing
    moves that clock (never real time) to the first moment something could arrive, and returns
    as SQS would: with messages as soon as one is available, or empty at the end of the wait.
    """
    global _clock
    _clock = clock


def current_clock():
    """The clock registered by :func:`use_clock`, or None."""
    return _clock


def next_receivable_at(queue) -> float | None:
    """Unix time at which the first not-yet-receivable message of a moto ``queue`` becomes receivable.

    "Receivable" means past its visibility timeout (moto: ``now > visible_at``, hence a
    millisecond past the boundary) and past its delay. None when every message is already past
    both (or the queue is empty).
    """
    now = moto_now()
    times = []
    for message in list(queue._messages):
        ready = max(message.visible_at / 1000 + PAST_BOUNDARY, message.delayed_until / 1000 + PAST_BOUNDARY)
        if not message.visible or message.delayed:
            times.append(max(ready, now + PAST_BOUNDARY))
    return min(times) if times else None



def add_listener(fn: Callable[[dict], None]) -> None:
    """Call ``fn(event)`` whenever SQS itself moves or drops a message.

    Events (each also carries ``"at"``, the simulated Unix time):

    * ``{"kind": "dlq_move", "message_id", "from", "to", "body"}``: moto moved a message to the
      source queue's dead-letter queue during a receive;
    * ``{"kind": "move_task", "message_id", "original_message_id", "from", "to", "body"}``: a
      message-move task moved a message (``message_id`` is the new message's id);
    * ``{"kind": "deduplicated", "queue", "dedup_id", "message_id"}``: a FIFO send was accepted
      but dropped as a duplicate (``message_id`` is the id returned to the sender);
    * ``{"kind": "stale_delete", "queue", "message_id", "receipt_handle"}``: a DeleteMessage with
      an outdated receipt handle succeeded without deleting.

    Listeners run inside the SQS call, under the backend lock: keep them quick.
    """
    if fn not in _listeners:
        _listeners.append(fn)


def remove_listener(fn: Callable[[dict], None]) -> None:
    """Stop calling ``fn``; no error if it was not registered."""
    if fn in _listeners:
        _listeners.remove(fn)

