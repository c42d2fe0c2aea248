"""The timeline in words: the text version, the alt text, the rows as data, and time formats.

Everything here reads :mod:`.model`, so the words say what the picture shows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from ...history import Event, History
from .model import NO_MESSAGE, Model, Row, build, still_stored

__all__ = ["text", "alt_text", "stories", "Story", "tick", "duration", "ordinal", "crash_word",
           "queue_label", "join", "exact", "short_error"]


def exact(seconds: float) -> str:
    """Simulated seconds for the text version: ``30.001``, ``0``, ``7290.003``."""
    s = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def tick(seconds: float) -> str:
    """A time axis label, rounded: ``0 s``, ``30 s`` (for 30.001), ``2.5 s``, ``12m05s``, ``2h01m30s``.

    The bench moves the clock a millisecond past a boundary (a lease that ran out at t=30 is
    received again at t=30.001): on an axis that is "30 s"; the text version keeps every digit.
    "1h02m05s" cannot be misread the way "1:02:05" (hours or minutes?) can.
    """
    if seconds < 600:
        whole = round(seconds)
        if abs(seconds - whole) < 0.05 or seconds >= 100:
            return f"{whole} s"
        return f"{seconds:.1f} s"
    h, rest = divmod(round(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def duration(seconds: float) -> str:
    """A stretch of time in words: ``30 s``, ``10 min``, ``2 h 5 min``."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        m, s = divmod(round(seconds), 60)
        return f"{m} min" + (f" {s} s" if s else "")
    h, m = divmod(round(seconds / 60), 60)
    return f"{h} h" + (f" {m} min" if m else "")


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``11th``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def crash_word(detail: dict) -> str:
    """A crash in one or two words: its fault point, or the uncaught error's type."""
    if detail.get("point") == "caught":
        return "crash swallowed"
    if detail.get("point"):
        return str(detail["point"])
    # "ValueError: amount must be positive" -> "ValueError": the text version has the rest.
    return short_error(detail.get("error") or "crash")


def short_error(error: str) -> str:
    """``"OperationalError: database is locked"`` -> ``"database is locked"``;
    ``"InvalidOrder: order-3: amount must be ..."`` -> ``"InvalidOrder"``: what fits beside a mark."""
    kind, _, message = str(error).partition(":")
    message = message.strip()
    word = message if kind.strip() in ("OperationalError", "Exception") and message else kind.strip()
    return word if len(word) <= 24 else word[:23] + "…"


def _phrase(e: Event, model: Model, row: Row) -> str | None:
    d, at = e.detail, f"t={exact(e.time)}"
    if e.kind == "send":
        if d.get("delivered", True):
            return f"sent {at}"
        return f"sent again {at} (deduplicated: SQS accepted it and delivered nothing new)"
    if e.kind == "receive":
        extra = []
        if d.get("receive_count", 1) > 1:
            extra.append(f"{ordinal(d['receive_count'])} receive")
        if d.get("visible_until_t") is not None:
            extra.append(f"invisible until t={exact(d['visible_until_t'])}")
        return f"received by {e.actor} {at}" + (f" ({', '.join(extra)})" if extra else "")
    if e.kind == "visibility":
        if not d.get("ok", True):
            return f"{e.actor}'s visibility change {at} failed ({d.get('error', 'refused')})"
        if d.get("timeout") == 0:
            return f"released by {e.actor} {at} (visible again)"
        until = d.get("visible_until_t")
        if until is None and d.get("timeout") is not None:
            until = e.time + float(d["timeout"])
        return f"visibility extended by {e.actor} {at}" + (
            f" (invisible until t={exact(until)})" if until is not None else "")
    if e.kind == "effect":
        nth = model.effect_nth.get(e.seq, 1)
        dup = f" ({ordinal(nth)} time: duplicate!)" if nth > 1 else ""
        return f"effect {d.get('effect', 'effect')} {at}{dup}"
    if e.kind == "rollback":
        return f"uncommitted effect rolled back {at}"
    if e.kind == "fault":
        return f"injected fault {d.get('point', '?')} on {e.actor} {at}"
    if e.kind == "crash":
        if d.get("point") == "caught":
            return (f"{e.actor} caught the injected crash and carried on {at} (a dead process: "
                    "nothing it did afterwards counts)")
        if d.get("point"):
            return f"{e.actor} crashed at {d['point']} {at}"
        return f"{e.actor} died of an uncaught error {at} ({d.get('error', 'unknown error')})"
    if e.kind == "delete":
        if d.get("applied", True):
            return f"deleted {at}"
        if not d.get("ok", True):
            error = d.get("error") or "error"
            return f"{e.actor}'s delete {at} failed ({error}): SQS kept the message"
        return f"{e.actor}'s delete {at} was ignored (stale receipt handle: SQS kept the message)"
    if e.kind == "dlq_move":
        count = max((x.detail.get("receive_count", 0) for x in row.events
                     if x.kind == "receive" and x.seq < e.seq), default=0)
        after = f" after {count} receives" if count else ""
        return f"moved to the dead-letter queue {at}{after}"
    if e.kind == "move_task":
        to = f" to {queue_label(d['to'])}" if d.get("to") else ""
        return f"redriven{to} {at}"
    if e.kind == "note" and d.get("failure"):
        return f"{e.actor}'s work on it failed {at} ({d['failure']})"
    if e.kind == "note" and d.get("text"):
        return f"note: {d['text']} {at}"
    return None


def queue_label(name: str) -> str:
    """A queue's name as a reader knows it: the scenario runner's ``run6-orders`` is ``orders``."""
    return re.sub(r"^run\d+-", "", str(name))


def text(history: History | Iterable[Event], messages: Iterable[str] | None = None) -> str:
    """The timeline as text: one line per message telling its lifecycle in order.

    Parameters
    ----------
    history : History or iterable of Event
        The run to tell.
    messages : iterable of str, optional
        Only these messages (MessageIds or business keys); all by default.

    Returns
    -------
    str
        Lines such as ``order-1: sent t=0; received by consumer-1 t=0 (invisible until t=30);
        effect charge t=0; consumer-1 crashed at before_delete t=0; ...``.
    """
    model = build(history, messages)
    if not model.rows:
        return "(no messages)"
    return "\n".join(_row_text(r, model) for r in model.rows)


def _row_text(r: Row, model: Model) -> str:
    parts = [p for e in r.events if e.seq not in model.hidden
             for p in [_phrase(e, model, r)] if p]
    if r.message_id and still_stored(r):
        parts.append(f"still in the queue at the end (t={exact(model.end)})")
    if r.lost:
        parts.append("its effect never happened: lost")
    return f"{r.label}: " + "; ".join(parts)


@dataclass(frozen=True)
class Story:
    """One message's row of the timeline, for views that list messages (the demo widget).

    Attributes
    ----------
    ident : str
        The row's identity: the message's first MessageId (or ``"key:..."``, ``"(no message)"``).
    label : str
        The row's label in the picture (the business key, or a short MessageId).
    key : str or None
        The business key.
    message_ids : tuple of str
        Every MessageId the message had, first one first (a redrive gives it a new one).
    events : tuple of Event
        Everything that happened to it, in order.
    duplicate : bool
        True when its key's effect happened more than once.
    effects : int
        The most effects any of its keys got by the end of the history.
    text : str
        Its line of :func:`text`.
    """

    ident: str
    label: str
    key: str | None
    message_ids: tuple[str, ...]
    events: tuple[Event, ...]
    duplicate: bool
    effects: int
    text: str

    @property
    def message_id(self) -> str | None:
        """The MessageId it has now (the newest)."""
        return self.message_ids[-1] if self.message_ids else None


def stories(history: History | Iterable[Event], messages: Iterable[str] | None = None) -> list[Story]:
    """The timeline's rows as data: one :class:`Story` per message, in the picture's order.

    Parameters
    ----------
    history : History or iterable of Event
        The run.
    messages : iterable of str, optional
        Only these messages (MessageIds or business keys); all by default.

    Returns
    -------
    list of Story
        The same rows, labels and duplicate flags the picture and :func:`text` show.
    """
    model = build(history, messages)
    out = []
    for r in model.rows:
        ids = [r.message_id] if r.message_id else []
        ids += [e.message_id for e in r.events
                if e.kind == "move_task" and e.message_id and e.message_id not in ids]
        out.append(Story(r.ident, r.label, r.key, tuple(ids), tuple(r.events), r.duplicate, r.most,
                         _row_text(r, model)))
    return out


def alt_text(history: History | Iterable[Event]) -> str:
    """A one- or two-sentence summary of the run, for the picture's alt text.

    Parameters
    ----------
    history : History or iterable of Event
        The run to summarise.

    Returns
    -------
    str
        For example ``"Timeline of 1 message (order-1) over 30.001 simulated seconds, handled by
        consumer-1 and consumer-2. 2 receives, 2 effects, 1 delete; 1 crash (before_delete);
        duplicate effect for order-1."``
    """
    model = build(history)
    names = [r.label for r in model.rows if r.ident != NO_MESSAGE]
    if not names:
        return "Timeline of a lab run in which no message was sent or received."
    n = len(names)
    shown = ", ".join(names[:3]) + (f" and {n - 3} more" if n > 3 else "")
    who = join(model.consumers) if model.consumers else "no consumer"
    span = (f"{exact(model.end)} simulated seconds" if model.end < 600
            else f"{duration(model.end)} of simulated time")
    first = f"Timeline of {n} message{'s' * (n != 1)} ({shown}) over {span}, handled by {who}."
    kinds = Counter(e.kind for e, _ in model.items)
    facts = [", ".join(f"{kinds[k]} {k}{'s' * (kinds[k] != 1)}"
                       for k in ("receive", "effect", "delete") if kinds[k])]
    crashes = [e for e, _ in model.items if e.kind == "crash"]
    if crashes:
        points = join(list(dict.fromkeys(crash_word(e.detail) for e in crashes)))
        facts.append(f"{len(crashes)} crash{'es' * (len(crashes) != 1)} ({points})")
    dups = [r.label for r in model.rows if r.duplicate]
    if dups:
        named = dups[:3] + ([f"{len(dups) - 3} more"] if len(dups) > 3 else [])
        facts.append(f"duplicate effect for {join(named)}")
    lost = [r.label for r in model.rows if r.lost]
    if lost:
        named = lost[:3] + ([f"{len(lost) - 3} more"] if len(lost) > 3 else [])
        facts.append(f"{join(named)} lost (deleted without its effect)")
    unapplied = [e for e, _ in model.items
                 if e.kind == "delete" and not e.detail.get("applied", True)]
    stale = sum(1 for e in unapplied if e.detail.get("ok", True))
    if stale:
        facts.append(f"{stale} delete{'s' * (stale != 1)} ignored for a stale receipt handle")
    if len(unapplied) > stale:
        failed = len(unapplied) - stale
        facts.append(f"{failed} delete{'s' * (failed != 1)} failed")
    failures = [e for e, _ in model.items if e.kind == "note"]
    if failures:
        words = join(list(dict.fromkeys(short_error(e.detail["failure"]) for e in failures)))
        facts.append(f"the work failed {len(failures)} time{'s' * (len(failures) != 1)} ({words})")
    moved = sum(1 for e, _ in model.items if e.kind == "dlq_move")
    if moved:
        facts.append(f"{moved} moved to the dead-letter queue")
    left = sum(1 for r in model.rows if r.message_id and still_stored(r))
    facts.append(f"{left} still in the queue at the end" if left else "none left in the queue")
    facts = [f for f in facts if f]
    second = "; ".join(facts)
    return f"{first} {second[:1].upper()}{second[1:]}." if second else first


def join(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# -- outputs -------------------------------------------------------------------------------------
