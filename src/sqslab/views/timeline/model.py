"""The timeline's model: a history turned into rows (one per message), holds and marks.

Nothing here draws or writes: :mod:`.draw` turns the model into a picture and :mod:`.words` into
text, so the picture, the text version, the alt text and the demo widget's rows all say the same.

A *hold* is one receive of a message and what became of it: who held it, until when, and how the
holding ended (deleted, handed back, its lease ran out, its consumer died or stopped, moved to the
dead-letter queue, received again). After a consumer dies, SQS keeps the message invisible until
its lease runs out: that stretch belongs to nobody and is kept apart (``orphan_until``). A holder
that carries on after its lease ran out (a job longer than its visibility timeout) *overruns*:
what it does then (a second charge, a stale delete) is drawn on its own line, so whoever charged
twice is visible.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from ...history import Event, History

#: Kinds that appear on a message's row in the picture (a ``note`` only when it reports a business
#: failure: ``detail["failure"]``, the error the bench's business work raised).
DRAWN = ("send", "receive", "delete", "visibility", "effect", "rollback", "fault", "crash",
         "dlq_move", "move_task", "note")

#: The row for crashes and faults that cannot be tied to any message.
NO_MESSAGE = "(no message)"


@dataclass
class Row:
    """One message's row: its events in order, and what the checker would say about it."""

    ident: str
    message_id: str | None
    key: str | None
    label: str = ""
    events: list[Event] = field(default_factory=list)
    duplicate: bool = False
    most: int = 0                             # the most effects any of its keys got
    lost: bool = False                        # deleted for good while its key had no effect


@dataclass
class Hold:
    """One receive of a message by one consumer, and how the holding ended.

    ``how`` is one of ``"deleted"``, ``"released"`` (handed back: visibility set to 0),
    ``"expired"`` (the lease ran out), ``"died"`` / ``"stopped"`` (its process ended while holding
    it), ``"moved"`` (to the dead-letter queue), ``"taken"`` (delivered again while still
    invisible: a duplicate delivery) or ``"open"`` (still held when the history ends).
    """

    row: Row
    actor: str
    start: Event
    lease_until: float | None
    handle: str | None
    end: Event | None = None                  # the event that ended it (None: the lease ran out)
    end_time: float | None = None             # when it ended without an event of its own
    how: str = "open"
    orphan_until: float | None = None         # after its process ended: invisible until then
    overrun: Event | None = None              # the holder's last act on it after the lease ran out
    effect: bool = False                      # an effect of the holder's happened during the hold

    @property
    def ended_at(self) -> float | None:
        """When the holding ended, in simulated seconds (None while it is open)."""
        if self.end is not None:
            return self.end.time
        return self.end_time


@dataclass
class Model:
    """Everything a view needs: rows, the drawn events on them, holds and effect counts."""

    rows: list[Row]
    items: list[tuple[Event, Row]]           # drawn events on their rows, in time order
    holds: list[Hold]
    effect_nth: dict[int, int]               # effect event seq -> nth effect of its key
    quiet: set[int]                          # duplicate effects drawn without their "Nx!"
    hidden: set[int]                         # fatal faults already shown by their crash
    consumers: list[str]
    end: float
    events: list[Event]

    def anchors(self) -> set[float]:
        """Times without an event of their own that the picture marks: leases that ran out."""
        times = {h.end_time for h in self.holds if h.end_time is not None}
        times |= {h.orphan_until for h in self.holds if h.orphan_until is not None}
        return times


def short_id(message_id: str) -> str:
    """The first eight characters of a MessageId: enough to tell two messages apart."""
    return message_id[:8]


def is_failure(e: Event) -> bool:
    """A ``note`` that reports a business failure (the bench's handler raised)."""
    return e.kind == "note" and bool(e.detail.get("failure"))


def build(history: History | Iterable[Event], messages: Iterable[str] | None = None) -> Model:
    """The model of a history, restricted to ``messages`` (MessageIds or keys) when given."""
    events = list(history)
    # A redrive gives the message a new MessageId; it is still the same message's story, so
    # the new id continues the original's row.
    same_as: dict[str, str] = {}
    for e in events:
        old = e.detail.get("original_message_id") if e.kind == "move_task" else None
        if old and e.message_id and e.message_id != old:
            same_as[e.message_id] = same_as.get(old, old)
    key_of: dict[str, str] = {}
    for e in events:
        if e.message_id and e.key:
            key_of.setdefault(same_as.get(e.message_id, e.message_id), e.key)

    # The effect store knows a business key, not a message: when one key has several messages
    # (a producer that sent an order twice), the MessageId on an effect or a fault is only a
    # guess, and the message the consumer is holding tells the truth.
    ambiguous = {k for k, n in Counter(key_of.values()).items() if n > 1}

    rows: dict[str, Row] = {}
    current: dict[str, str] = {}             # actor -> the message it touched last
    held: dict[str, list[str]] = {}          # actor -> messages received and not yet deleted
    effected: set[tuple[str, str]] = set()   # (actor, message) with an effect in this hold
    latest_for_key: dict[str, str] = {}

    def row(ident: str, message_id: str | None, key: str | None) -> Row:
        if ident not in rows:
            rows[ident] = Row(ident, message_id, key)
        return rows[ident]

    def row_for_key(key: str, e: Event) -> Row:
        actor = e.actor
        mine = [m for m in held.get(actor, []) if rows[m].key == key]
        if mine:
            if e.kind != "effect" and current.get(actor) in mine:
                return rows[current[actor]]  # a fault or rollback about the work in hand
            # Consumers handle a batch in the order it came: the next one without an effect.
            return rows[next((m for m in mine if (actor, m) not in effected), mine[-1])]
        if e.message_id:
            mid = same_as.get(e.message_id, e.message_id)
            return row(mid, mid, key_of.get(mid))
        if key in latest_for_key:
            return rows[latest_for_key[key]]
        return row("key:" + key, None, key)

    for e in events:
        if e.kind == "rollback":
            keys = list(dict.fromkeys(e.detail.get("effects") or ([e.key] if e.key else [])))
            targets = [row_for_key(k, e) for k in keys]
        elif e.kind in ("effect", "fault", "note") and e.key in ambiguous:
            targets = [row_for_key(e.key, e)]
        elif e.message_id:
            mid = same_as.get(e.message_id, e.message_id)
            targets = [row(mid, mid, key_of.get(mid))]
        elif e.key:
            targets = [row_for_key(e.key, e)]
        elif e.kind in ("crash", "fault"):
            # A crash names no message: it belongs to the one its fatal fault named, else to
            # the one the consumer touched last.
            mine = current.get(e.actor)
            targets = [rows[mine] if mine is not None else row(NO_MESSAGE, None, None)]
        else:
            targets = []
        for r in targets:
            r.events.append(e)
            if r.message_id and r.key:
                latest_for_key[r.key] = r.ident
        actor = e.actor
        if targets and (e.kind in ("receive", "visibility", "effect", "delete")
                        or (e.kind == "fault" and (e.message_id or e.key))):
            current[actor] = targets[0].ident
        if e.kind == "receive" and targets:
            held.setdefault(actor, []).append(targets[0].ident)
            effected.discard((actor, targets[0].ident))
        elif e.kind == "effect" and targets:
            effected.add((actor, targets[0].ident))
        elif e.kind == "delete" and targets and targets[0].ident in held.get(actor, []):
            held[actor].remove(targets[0].ident)
        elif e.kind in ("crash", "start", "stop"):
            current.pop(actor, None)
            held.pop(actor, None)
            effected = {(a, m) for a, m in effected if a != actor}

    # A producer saves an order before it sends the order's event, so the effect came before any
    # message with that key existed: it belongs on the row of the first message sent for the key.
    for ident in [i for i in rows if i.startswith("key:")]:
        first = next((r for r in rows.values() if r.message_id and r.key == rows[ident].key), None)
        if first is not None:
            first.events = sorted(rows.pop(ident).events + first.events, key=lambda e: e.seq)

    if isinstance(messages, str):
        messages = [messages]
    wanted = None if messages is None else set(messages)
    aliases: dict[str, set[str]] = {}
    for new, old in same_as.items():
        aliases.setdefault(old, set()).add(new)
    chosen = [r for r in rows.values()
              if wanted is None
              or wanted & ({r.ident, r.message_id, r.key} | aliases.get(r.ident, set()))]

    per_key = Counter(r.key for r in rows.values() if r.message_id and r.key)
    for r in chosen:
        if r.ident == NO_MESSAGE or r.message_id is None:
            r.label = r.key or r.ident
        elif r.key:
            r.label = r.key if per_key[r.key] == 1 else f"{r.key} ({short_id(r.message_id)})"
        else:
            r.label = short_id(r.message_id)

    effect_nth: dict[int, int] = {}
    counts: Counter = Counter()
    for e in events:
        if e.kind == "effect":
            k = e.key or e.message_id or ""
            counts[k] += 1
            effect_nth[e.seq] = counts[k]
    quiet: set[int] = set()
    for r in chosen:
        dups = [e.seq for e in r.events if effect_nth.get(e.seq, 0) > 1]
        r.duplicate = bool(dups)
        r.most = max((effect_nth.get(e.seq, 0) for e in r.events), default=0)
        # Past two repeats a "Nx!" on every star is clutter: the last one carries the count.
        if len(dups) > 2:
            quiet.update(dups[:-1])
        r.lost = _lost(r, counts)

    hidden = _fatal_faults_shown_by_crash(events)
    items = sorted(((e, r) for r in chosen for e in r.events
                    if e.kind in DRAWN and e.seq not in hidden and (e.kind != "note" or is_failure(e))),
                   key=lambda item: (item[0].time, item[0].seq))
    ends = _process_ends(events)
    end = max((e.time for e in events), default=0.0)
    holds = [h for r in chosen for h in _holds(r, ends, end)]
    consumers = list(dict.fromkeys(h.actor for h in sorted(holds, key=lambda h: h.start.seq)))
    return Model(chosen, items, holds, effect_nth, quiet, hidden, consumers, end, events)


def _lost(row: Row, effects: Counter) -> bool:
    """Deleted for good, while its key never had an effect, in a run where effects happen."""
    if not row.key or effects.get(row.key) or not sum(effects.values()):
        return False
    deleted = False
    for e in row.events:
        if e.kind == "delete" and e.detail.get("applied", True):
            deleted = True
        elif e.kind in ("receive", "move_task", "dlq_move"):
            deleted = False
    return deleted and not still_stored(row)


def still_stored(row: Row) -> bool:
    """True when the message is still in a queue (or its DLQ) when the history ends."""
    stored = False
    for e in row.events:
        if e.kind == "receive" or (e.kind == "send" and e.detail.get("delivered", True)):
            stored = True
        elif e.kind == "delete" and e.detail.get("applied", True):
            stored = False
        elif e.kind == "dlq_move":
            stored = False
        elif e.kind == "move_task":
            stored = True
    return stored


def _fatal_faults_shown_by_crash(events: list[Event]) -> set[int]:
    hidden: set[int] = set()
    for i, e in enumerate(events):
        if e.kind == "fault" and e.detail.get("fatal"):
            for later in events[i + 1:]:
                if later.actor == e.actor:
                    if later.kind == "crash" and later.detail.get("point") == e.detail.get("point"):
                        hidden.add(e.seq)
                    break
    return hidden


def _process_ends(events: list[Event]) -> dict[str, list[Event]]:
    """Each actor's crashes and clean stops, in order: a process holds nothing after them."""
    ends: dict[str, list[Event]] = {}
    for e in events:
        if e.kind in ("crash", "stop"):
            ends.setdefault(e.actor, []).append(e)
    return ends


def _holds(row: Row, ends: dict[str, list[Event]], end: float) -> list[Hold]:
    """The holds of one message: one per receive, each ended by what ended it."""
    holds: list[Hold] = []
    current: Hold | None = None

    def death(h: Hold, before: Event | None) -> Event | None:
        # The holder's process ended (a crash, a clean stop) before ``before`` (or ever).
        for d in ends.get(h.actor, []):
            if d.seq > h.start.seq and (before is None or d.seq < before.seq):
                return d
        return None

    def close(at: Event | None) -> None:
        nonlocal current
        h = current
        if h is None:
            return
        current = None
        limit = at.time if at is not None else end
        lease = h.lease_until
        d = death(h, at)
        if d is not None and (lease is None or d.time <= lease):
            h.end, h.how = d, "died" if d.kind == "crash" else "stopped"
            if lease is not None and lease > d.time:
                h.orphan_until = min(lease, at.time) if at is not None else lease
        elif lease is not None and (lease < limit or (at is None and lease <= limit)):
            h.end_time, h.how = lease, "expired"
        elif at is not None:
            h.end = at
            h.how = {"receive": "taken", "dlq_move": "moved", "delete": "deleted",
                     "visibility": "released"}.get(at.kind, "open")
        elif lease is not None:
            h.end_time = lease                # still held when the history ends
        if h.how == "expired":
            _find_overrun(h, row, death(h, None))

    for e in row.events:
        if e.kind == "receive":
            close(e)
            current = Hold(row, e.actor, e, e.detail.get("visible_until_t"), e.detail.get("receipt_handle"))
            holds.append(current)
        elif current is None:
            continue
        elif e.kind == "effect" and e.actor == current.actor:
            current.effect = True
        elif e.kind == "visibility" and e.detail.get("ok", True):
            handle = e.detail.get("receipt_handle")
            same = (current.handle == handle if current.handle and handle else current.actor == e.actor)
            expired = current.lease_until is not None and current.lease_until < e.time
            if same and not expired:
                until = e.detail.get("visible_until_t")
                if until is None and e.detail.get("timeout") is not None:
                    until = e.time + float(e.detail["timeout"])
                if until is not None:
                    current.lease_until = until
                    if until <= e.time:
                        close(e)
        elif (e.kind == "delete" and e.detail.get("applied", True)) or e.kind == "dlq_move":
            close(e)
    close(None)
    return holds


def _find_overrun(h: Hold, row: Row, died: Event | None) -> None:
    """The holder's last act on the message after its lease ran out (before it received it again)."""
    again = next((e.seq for e in row.events if e.kind == "receive" and e.actor == h.actor
                  and e.seq > h.start.seq), None)
    acts = [e for e in row.events if e.actor == h.actor and e.seq > h.start.seq
            and e.kind in ("effect", "delete", "visibility", "rollback", "fault", "crash")
            and e.time > (h.lease_until or 0.0)
            and (again is None or e.seq < again) and (died is None or e.seq <= died.seq)]
    if acts:
        h.overrun = acts[-1]
