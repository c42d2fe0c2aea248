"""The lifecycle timeline: a picture, and a text version, of a lab run's history.

One row per message, time across. A bar shows a receive: the consumer that holds the message,
from the receive until the message becomes visible again (or is deleted, or received again).
Markers show what happened on the way: the send, each business effect (a second effect for the
same key is flagged in red), each delete (hollow when SQS ignored a stale receipt handle), each
crash with its fault point, each non-fatal fault, a move to the dead-letter queue and a redrive.

How to read the time axis
-------------------------
A lab run has bursts in which many things happen at the same simulated instant (the clock only
moves when the bench moves it) separated by idle stretches of seconds to hours. A linear axis
would pile a burst onto one spot and spend the width on idle time, so the axis is a *story axis*:

- time only moves left to right, and the ticks are simulated seconds since the lab started;
- events at the same instant are spread over columns in the order they happened, so receive,
  effect, crash and delete of one message never sit on top of one another. An event goes one
  column after the previous event of the same message and the previous event of the same actor
  (a happens-before order), and consecutive events of one call (a batch receive, a batch delete)
  share a column;
- an idle stretch gets a width that grows with the logarithm of its length and is shaded and
  labelled with its duration (``30 s later``), so a run spanning hours stays legible.

Everything is drawn on a :class:`matplotlib.figure.Figure` (no pyplot and no global state), so it
is safe in the grader's worker threads and the same in a notebook.
"""

from __future__ import annotations

import base64
import bisect
import html
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from ..history import Event, History

__all__ = ["draw", "text", "alt_text", "to_png", "to_html", "show", "stories", "picture", "Story",
           "Picture"]

#: Kinds that appear on a message's row in the picture.
DRAWN = ("send", "receive", "delete", "visibility", "effect", "rollback", "fault", "crash",
         "dlq_move", "move_task")

#: The row for crashes and faults that cannot be tied to any message.
NO_MESSAGE = "(no message)"

# Okabe-Ito: distinguishable with the common colour-vision deficiencies. Vermillion is left out
# because red means "duplicate effect" here. Hatches repeat on a different cycle length than the
# colours, so colour and hatch together stay distinct for 30 consumers.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#8C6D1F")
_HATCHES = ("//", "\\\\", "..", "xx", "||", "--", "++", "oo", "**", "OO")
_INK = "#222222"
_RED = "#D1001F"
_GREY = "#8A8A8A"
_HIGHLIGHT = "#FFE680"
_LINE = "#9A9A9A"
_GREEN = "#1B6E3A"
_ORANGE = "#B35C00"
_PURPLE = "#5A2D82"


def _check_path() -> Path:
    # A closed, thick check mark, so a delete can be drawn filled (applied) or hollow (ignored).
    verts = [(-0.95, 0.05), (-0.72, 0.27), (-0.32, -0.16), (0.74, 0.92), (0.98, 0.70),
             (-0.32, -0.62), (-0.95, 0.05)]
    return Path(verts, [Path.MOVETO] + [Path.LINETO] * 5 + [Path.CLOSEPOLY])


def _arrow_path(down: bool) -> Path:
    s = -1.0 if down else 1.0
    verts = [(-0.28, -s), (0.28, -s), (0.28, 0.05 * s), (0.75, 0.05 * s), (0.0, s),
             (-0.75, 0.05 * s), (-0.28, 0.05 * s), (-0.28, -s)]
    return Path(verts, [Path.MOVETO] + [Path.LINETO] * 6 + [Path.CLOSEPOLY])


#: The ring around a highlighted event.
_RING = dict(marker="o", markersize=20, markerfacecolor="none", markeredgecolor="#E07000",
             markeredgewidth=2.2)

_CHECK = _check_path()
_DOWN = _arrow_path(down=True)
_UP = _arrow_path(down=False)

#: Marker styles, one per thing a learner must tell apart; the legend shows the ones present.
_STYLES: dict[str, dict[str, Any]] = {
    "send": dict(marker="o", markersize=5, color=_INK, label="sent"),
    "send_dropped": dict(marker="o", markersize=5, color=_INK, markerfacecolor="white",
                         label="sent, deduplicated"),
    "effect": dict(marker="*", markersize=13, color=_INK, markeredgecolor="white",
                   markeredgewidth=0.6, label="effect"),
    "effect_dup": dict(marker="*", markersize=16, color=_RED, markeredgecolor="white",
                       markeredgewidth=0.6, label="effect again: duplicate!"),
    "rollback": dict(marker="*", markersize=12, color=_GREY, markerfacecolor="white",
                     label="effect rolled back"),
    "delete": dict(marker=_CHECK, markersize=11, color=_GREEN, markeredgewidth=0.8,
                   label="deleted"),
    "delete_stale": dict(marker=_CHECK, markersize=11, color=_GREEN, markerfacecolor="white",
                         markeredgewidth=1.2, label="delete not applied"),
    "crash": dict(marker="X", markersize=12, color=_INK, markeredgecolor="white",
                  markeredgewidth=0.6, label="crash (fault point)"),
    "fault": dict(marker="^", markersize=7, color=_ORANGE, label="fault (not fatal)"),
    "visibility": dict(marker="|", markersize=13, markeredgewidth=2.2, color=_INK,
                       label="visibility changed"),
    "dlq_move": dict(marker=_DOWN, markersize=12, color=_PURPLE, label="moved to DLQ"),
    "move_task": dict(marker=_UP, markersize=12, color=_PURPLE, label="redriven from DLQ"),
}


# -- the model: rows, bars and the story axis ----------------------------------------------------
@dataclass
class _Row:
    ident: str
    message_id: str | None
    key: str | None
    label: str = ""
    events: list[Event] = field(default_factory=list)
    duplicate: bool = False
    most: int = 0                             # the most effects any of its keys got
    lost: bool = False                        # deleted for good while its key had no effect


@dataclass
class _Bar:
    row: _Row
    actor: str
    start: Event
    visible_until: float | None
    handle: str | None
    end_event: Event | None = None
    end_time: float | None = None


@dataclass
class _Model:
    rows: list[_Row]
    items: list[tuple[Event, _Row]]          # drawn events on their rows, in time order
    bars: list[_Bar]
    effect_nth: dict[int, int]               # effect event seq -> nth effect of its key
    quiet: set[int]                           # duplicate effects drawn without their "Nx!"
    hidden: set[int]                          # fatal faults already shown by their crash
    consumers: list[str]
    end: float


def _short(message_id: str) -> str:
    return message_id[:8]


def _model(history: History | Iterable[Event], messages: Iterable[str] | None = None) -> _Model:
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

    rows: dict[str, _Row] = {}
    current: dict[str, str] = {}             # actor -> the message it touched last
    held: dict[str, list[str]] = {}          # actor -> messages received and not yet deleted
    effected: set[tuple[str, str]] = set()   # (actor, message) with an effect in this hold
    latest_for_key: dict[str, str] = {}

    def row(ident: str, message_id: str | None, key: str | None) -> _Row:
        if ident not in rows:
            rows[ident] = _Row(ident, message_id, key)
        return rows[ident]

    def row_for_key(key: str, e: Event) -> _Row:
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
        elif e.kind in ("effect", "fault") and e.key in ambiguous:
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
            r.label = r.key if per_key[r.key] == 1 else f"{r.key} ({_short(r.message_id)})"
        else:
            r.label = _short(r.message_id)

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
                    if e.kind in DRAWN and e.seq not in hidden),
                   key=lambda item: (item[0].time, item[0].seq))
    bars = [b for r in chosen for b in _bars(r)]
    consumers = list(dict.fromkeys(b.actor for b in sorted(bars, key=lambda b: b.start.seq)))
    end = max((e.time for e in events), default=0.0)
    return _Model(chosen, items, bars, effect_nth, quiet, hidden, consumers, end)


def _lost(row: _Row, effects: Counter) -> bool:
    """Deleted for good, while its key never had an effect, in a run where effects happen."""
    if not row.key or effects.get(row.key) or not sum(effects.values()):
        return False
    deleted = False
    for e in row.events:
        if e.kind == "delete" and e.detail.get("applied", True):
            deleted = True
        elif e.kind in ("receive", "move_task", "dlq_move"):
            deleted = False
    return deleted and not _still_stored(row)


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


def _bars(row: _Row) -> list[_Bar]:
    """The in-flight stretches of one message: one per receive."""
    bars: list[_Bar] = []
    current: _Bar | None = None

    def close(at: Event) -> None:
        nonlocal current
        if current is None:
            return
        if current.visible_until is not None and current.visible_until < at.time:
            current.end_time = current.visible_until
        else:
            current.end_event = at
        current = None

    for e in row.events:
        if e.kind == "receive":
            close(e)
            current = _Bar(row, e.actor, e, e.detail.get("visible_until_t"),
                           e.detail.get("receipt_handle"))
            bars.append(current)
        elif e.kind == "visibility" and current is not None and e.detail.get("ok", True):
            handle = e.detail.get("receipt_handle")
            same = (current.handle == handle if current.handle and handle
                    else current.actor == e.actor)
            expired = current.visible_until is not None and current.visible_until < e.time
            if same and not expired:
                until = e.detail.get("visible_until_t")
                if until is None and e.detail.get("timeout") is not None:
                    until = e.time + float(e.detail["timeout"])
                if until is not None:
                    current.visible_until = until
                    if until <= e.time:
                        current.end_event = e
                        current = None
        elif (e.kind == "delete" and e.detail.get("applied", True)) or e.kind == "dlq_move":
            close(e)
    if current is not None and current.visible_until is not None:
        current.end_time = current.visible_until  # still invisible when the history ends
    return bars


def _h(seconds: float) -> float:
    return math.log10(1.0 + max(seconds, 0.0) / 0.1)


@dataclass
class _Axis:
    """The story axis: where each drawn event sits, and where any simulated time falls."""

    x: dict[tuple[int, str], float]
    times: list[float]
    first: list[float]
    last: list[float]
    has_events: list[bool]

    def at(self, t: float) -> float:
        if not self.times:
            return 0.0
        i = bisect.bisect_right(self.times, t) - 1
        if i < 0:
            return self.first[0] - 1.0 - _h(self.times[0] - t)
        if self.times[i] == t:
            return self.first[i]
        if i == len(self.times) - 1:
            return self.last[i] + 1.0 + _h(t - self.times[i])
        span = self.first[i + 1] - self.last[i]
        return self.last[i] + span * _h(t - self.times[i]) / _h(self.times[i + 1] - self.times[i])

    def after(self, t: float) -> float:
        """Where ``t`` falls once everything that happened at ``t`` has happened (for "now")."""
        if t in self.times:
            i = self.times.index(t)
            return self.last[i] + (0.5 if self.has_events[i] else 0.0)
        return self.at(t)

    @property
    def width(self) -> float:
        return self.last[-1] if self.last else 0.0


def _layout(model: _Model, extra: Iterable[float] = ()) -> _Axis:
    # Times a bar ends on its own (the visibility timeout ran out) become anchors of the axis,
    # so "visible again at t=30" has a place of its own (and a tick, when there is room); so
    # does ``extra`` (the demo's "now").
    event_times = {e.time for e, _ in model.items}
    anchors = ({b.end_time for b in model.bars if b.end_time is not None} | set(extra)) - event_times
    by_time: dict[float, list[tuple[Event, _Row]]] = {}
    for item in model.items:
        by_time.setdefault(item[0].time, []).append(item)

    axis = _Axis({}, [], [], [], [])
    last_row: dict[str, float] = {}
    last_actor: dict[str, float] = {}
    batch: dict[str, tuple[str, float, float]] = {}
    for t in sorted(event_times | anchors):
        here = by_time.get(t, [])
        if axis.times:
            both = axis.has_events[-1] and bool(here)
            base = axis.last[-1] + (1.0 if both else 0.6) + _h(t - axis.times[-1])
        else:
            base = 0.0
        right = base
        for e, r in here:
            col = max(base, last_row.get(r.ident, -math.inf) + 1)
            kind, btime, bcol = batch.get(e.actor, ("", math.nan, math.nan))
            if kind == e.kind and btime == t and col <= bcol:
                col = bcol
            else:
                col = max(col, last_actor.get(e.actor, -math.inf) + 1)
                batch[e.actor] = (e.kind, t, col)
            axis.x[(e.seq, r.ident)] = col
            last_row[r.ident] = col
            last_actor[e.actor] = max(col, last_actor.get(e.actor, -math.inf))
            right = max(right, col)
        axis.times.append(t)
        axis.first.append(base)
        axis.last.append(right)
        axis.has_events.append(bool(here))
    return axis


# -- formatting ----------------------------------------------------------------------------------
def _t(seconds: float) -> str:
    s = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _tick(seconds: float) -> str:
    # Milliseconds matter in a burst at t=30.001, not three hours in; "1h02m05s" cannot be
    # misread the way "1:02:05" (hours or minutes?) can.
    if seconds < 600:
        return _t(seconds) + " s"
    h, rest = divmod(round(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        m, s = divmod(round(seconds), 60)
        return f"{m} min" + (f" {s} s" if s else "")
    h, m = divmod(round(seconds / 60), 60)
    return f"{h} h" + (f" {m} min" if m else "")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# -- the picture ---------------------------------------------------------------------------------
def _consumer_style(index: int) -> tuple[str, str]:
    return _COLOURS[index % len(_COLOURS)], _HATCHES[index % len(_HATCHES)]


def _tint(colour: str, amount: float = 0.78) -> tuple[float, float, float]:
    rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return tuple(c + (1 - c) * amount for c in rgb)  # type: ignore[return-value]


def _abbrev(actor: str) -> str:
    # "consumer-12" -> "c12": short enough to sit inside a narrow bar.
    head, _, tail = actor.rpartition("-")
    return (head[:1] + tail) if head and tail.isdigit() else actor[:3]


def draw(history: History | Iterable[Event], *, title: str | None = None,
         messages: Iterable[str] | None = None, ax=None,
         highlight: Iterable[str | int] | str | int | None = None,
         now: float | None = None) -> Figure:
    """Draw the lifecycle timeline of a lab run.

    Parameters
    ----------
    history : History or iterable of Event
        The run to draw.
    title : str, optional
        A title over the picture.
    messages : iterable of str, optional
        Draw only these messages (MessageIds or business keys); all by default.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes instead of a new figure sized to the run.
    highlight : str, int or iterable of them, optional
        Message ids or keys whose rows get a yellow band, and event ``seq`` numbers whose markers
        get a ring: what the checker wants a learner to look at.
    now : float, optional
        The clock's reading (simulated seconds, as in the history): a dashed line marked "now",
        so a live view shows where time is, and how much of a lease is left.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (``ax.figure`` when ``ax`` was given). Nothing is registered with pyplot.
    """
    model = _model(history, messages)
    axis = _layout(model, () if now is None else (now,))
    n = len(model.rows)
    if isinstance(highlight, (str, int)):
        highlight = [highlight]
    marked = set(highlight or ())
    legend = _legend_handles(model, marked)
    if now is not None:
        legend.append(Line2D([], [], color=_INK, lw=1.2, linestyle="--", label="now"))

    span = max(axis.width, 1.0)
    label_in = 0.075 * max((len(r.label) + (5 if r.duplicate else 0) for r in model.rows),
                           default=8)
    own = ax is None
    if own:
        # Sized by hand, not by a layout engine: we know every margin, and it saves a full
        # extra draw of the figure (half the rendering time of a large run).
        plot_w = min(max(span * 0.42, 5.5), 15.0)
        row_h = min(max(0.75 - 0.015 * n, 0.32), 0.7)
        left, right_m = label_in + 0.35, 0.35
        width = max(left + plot_w + right_m, 7.5)
        plot_w = width - left - right_m
        ncols = max(1, min(4, int((width - 0.4) / _legend_entry_width(legend))))
        legend_h = 0.17 * math.ceil(len(legend) / ncols) + 0.08
        two_lines = plot_w < 5.6
        top = 0.3 + (0.3 if title else 0.0)
        bottom = 0.55 + (0.13 if two_lines else 0.0) + legend_h
        height = top + (max(n, 1) + 0.5) * row_h + bottom
        fig = Figure(figsize=(width, height), dpi=100, facecolor="white")
        FigureCanvasAgg(fig)
        ax = fig.add_axes((left / width, bottom / height, plot_w / width,
                           1 - (top + bottom) / height))
    else:
        fig = ax.figure
        plot_w = ax.get_position().width * fig.get_figwidth()
        two_lines = plot_w < 5.6

    xmin = -0.9
    xmax = span + 1.2
    xmax = max([xmax] + [axis.at(b.end_time) + 0.6 for b in model.bars if b.end_time is not None]
               + ([axis.after(now) + 0.6] if now is not None else []))
    cols_per_inch = (xmax - xmin) / plot_w
    xmax += 0.45 * cols_per_inch  # room for "redrive", "2x!" beside the last markers
    cols_per_inch = (xmax - xmin) / plot_w
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(max(n, 1) - 0.3, -0.8)  # room for the labels above the first row, below the last
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(_GREY)

    _draw_rows(ax, model, marked)
    if not model.rows:
        ax.text(0.5, 0.5, "nothing happened yet: no messages", transform=ax.transAxes,
                ha="center", va="center", color=_GREY)
    _draw_gaps(ax, axis, cols_per_inch, (xmin, xmax))
    _draw_presence(ax, model, axis, xmax)
    labels = _Labels(ax, cols_per_inch)
    _draw_bars(ax, model, axis, labels)
    _draw_markers(ax, model, axis, marked, labels)
    labels.place()
    _draw_ticks(ax, axis, cols_per_inch)
    if now is not None:
        _draw_now(ax, axis.after(now), now)
    ax.set_xlabel("simulated time" + ("\n" if two_lines else "  ·  ") + "events of one instant "
                  "spread out in order  ·  idle time compressed", fontsize=8, color="#555555",
                  labelpad=7)
    if title:
        ax.set_title(title, loc="left", fontsize=12, fontweight="bold", pad=15)
    if legend:
        if own:
            fig.legend(handles=legend, loc="lower center", bbox_to_anchor=(0.5, 0.0),
                       ncols=ncols, fontsize=8, frameon=False, handlelength=2.2,
                       columnspacing=1.4, borderaxespad=0.3)
        else:
            ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                      ncols=min(4, len(legend)), fontsize=8, frameon=False)
    return fig


def _draw_now(ax, x: float, now: float) -> None:
    """A dashed line at the clock's reading, named in words (not by its dashes alone)."""
    ax.axvline(x, color=_INK, linestyle="--", linewidth=1.2, zorder=6.5, gid="now")
    top = blended_transform_factory(ax.transData, ax.transAxes)
    ax.text(x, 0.0, f" now t={_t(now)}", transform=top, ha="left", va="bottom", fontsize=7.5,
            fontweight="bold", color=_INK, zorder=7, gid="now-label",
            bbox=dict(facecolor="white", edgecolor="none", pad=0.6, alpha=0.85))


def _style_of(e: Event, model: _Model) -> str:
    if e.kind == "send":
        return "send" if e.detail.get("delivered", True) else "send_dropped"
    if e.kind == "effect":
        return "effect_dup" if model.effect_nth.get(e.seq, 1) > 1 else "effect"
    if e.kind == "delete":
        return "delete" if e.detail.get("applied", True) else "delete_stale"
    return e.kind


def _legend_handles(model: _Model, marked: set) -> list[Any]:
    handles: list[Any] = []
    for i, actor in enumerate(model.consumers):
        colour, hatch = _consumer_style(i)
        patch = Patch(facecolor=_tint(colour), edgecolor=colour, hatch=hatch,
                      label=f"{actor} holds it (invisible)")
        patch.set_hatchcolor(_tint(colour, 0.35))
        handles.append(patch)
    if any(r.message_id for r in model.rows):
        handles.append(Line2D([], [], color=_LINE, lw=1.3, label="stored in the queue"))
    if any(e.kind == "dlq_move" for e, _ in model.items):
        handles.append(Line2D([], [], color=_LINE, lw=1.3, linestyle=":",
                              label="stored in the DLQ"))
    present = {_style_of(e, model) for e, _ in model.items} - {"receive"}
    for style in _STYLES:
        if style in present:
            handles.append(Line2D([], [], linestyle="none", **_STYLES[style]))
    if any(e.seq in marked for e, _ in model.items):
        handles.append(Line2D([], [], linestyle="none", **_RING, label="look here"))
    return handles


def _legend_entry_width(handles: list[Any]) -> float:
    longest = max((len(h.get_label()) for h in handles), default=10)
    return 0.062 * longest + 0.55


def _band(ax, spans: list[tuple[float, float]], colour: str, *, vertical: bool, zorder: float,
          gid: str):
    """Full-height (or full-width) bands as one collection: one artist, however many bands."""
    if not spans:
        return None
    if vertical:
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        verts = [[(a, 0), (b, 0), (b, 1), (a, 1)] for a, b in spans]
    else:
        trans = blended_transform_factory(ax.transAxes, ax.transData)
        verts = [[(0, a), (1, a), (1, b), (0, b)] for a, b in spans]
    coll = PolyCollection(verts, facecolors=[colour], linewidths=0, zorder=zorder,
                          transform=trans)
    coll.set_gid(gid)
    ax.add_collection(coll, autolim=False)
    return coll


def _draw_rows(ax, model: _Model, marked: set) -> None:
    stripes, marks = [], []
    label_at = blended_transform_factory(ax.transAxes, ax.transData)
    for y, r in enumerate(model.rows):
        if marked & {r.ident, r.message_id, r.key}:
            marks.append((y - 0.5, y + 0.5))
        elif y % 2:
            stripes.append((y - 0.5, y + 0.5))
        style = dict(color=_RED, fontweight="bold") if r.duplicate or r.lost else dict(color=_INK)
        flag = f"  {r.most}x!" if r.duplicate else "  lost!" if r.lost else ""
        ax.text(-0.012, y, r.label + flag, transform=label_at,
                ha="right", va="center", fontsize=9, gid=f"row:{r.ident}", **style)
    # Faint: darker stripes were read as a highlight of rows 2 and 4.
    _band(ax, stripes, "#FAFAFA", vertical=False, zorder=0, gid="stripes")
    _band(ax, marks, _HIGHLIGHT, vertical=False, zorder=0.1, gid="highlight")


def _draw_gaps(ax, axis: _Axis, cols_per_inch: float, xlim: tuple[float, float]) -> None:
    """Shade each idle stretch between instants with events, and say how long it was."""
    top = blended_transform_factory(ax.transData, ax.transAxes)
    busy = [i for i, has in enumerate(axis.has_events) if has]
    gaps = []
    for i, j in zip(busy, busy[1:]):
        dt = axis.times[j] - axis.times[i]
        x0, x1 = axis.last[i] + 0.35, axis.first[j] - 0.35
        if dt >= 1.0 and x1 > x0:
            gaps.append((dt, x0, x1))
    _band(ax, [(x0, x1) for _, x0, x1 in gaps], "#EBEBEB", vertical=True, zorder=0.5, gid="idle")
    # The longest waits are named first; a label may overhang its band but never another label.
    placed: list[tuple[float, float]] = []
    for dt, x0, x1 in sorted(gaps, key=lambda g: -g[0]):
        label = f"{_duration(dt)} later"
        half = (0.06 * len(label) + 0.04) * cols_per_inch / 2
        mid = (x0 + x1) / 2
        if mid - half < xlim[0] or mid + half > xlim[1]:
            continue
        if any(mid - half < b and a < mid + half for a, b in placed):
            continue
        placed.append((mid - half, mid + half))
        ax.text(mid, 1.0, label, transform=top, ha="center", va="bottom", fontsize=7.5,
                color="#666666", style="italic", gid="idle-label")


def _draw_presence(ax, model: _Model, axis: _Axis, right: float) -> None:
    """A thin line while the message is stored in its queue (dotted while in the DLQ)."""
    queue: list[tuple[float, float, float]] = []
    dlq: list[tuple[float, float, float]] = []
    for y, r in enumerate(model.rows):
        if r.message_id is None:
            continue
        state, since = None, 0.0
        for e in r.events:
            if (e.seq, r.ident) not in axis.x:
                continue
            x = axis.x[(e.seq, r.ident)]
            # Stored from its first delivered send (a producer's effect can come before it).
            if state is None and e.kind not in ("effect", "rollback", "fault", "crash") \
                    and not (e.kind == "send" and not e.detail.get("delivered", True)):
                state, since = "queue", x
            if e.kind == "delete" and e.detail.get("applied", True) and state in ("queue", "dlq"):
                (queue if state == "queue" else dlq).append((since, x, y))
                state = "gone"
            elif e.kind == "dlq_move" and state == "queue":
                queue.append((since, x, y))
                state, since = "dlq", x
            elif e.kind == "move_task":
                if state == "dlq":
                    dlq.append((since, x, y))
                state, since = "queue", x
        if state in ("queue", "dlq"):
            (queue if state == "queue" else dlq).append((since, right, y))
    for segs, style, gid in ((queue, "-", "queue"), (dlq, ":", "dlq")):
        if segs:
            coll = LineCollection([[(x0, y), (x1, y)] for x0, x1, y in segs], colors=[_LINE],
                                  linewidths=1.3, linestyles=style, zorder=1)
            coll.set_gid(gid)
            ax.add_collection(coll, autolim=False)


class _Labels:
    """Small texts beside markers, placed only where they do not cover one another.

    Labels go in the strip between two rows (above one row's bars is below the previous row's)
    or through a row's centre. A label that would overlap one already placed in its strip is
    left out: a crowded run keeps its markers and loses words that would be unreadable anyway
    (the text version has every detail), which also keeps rendering fast (each text costs about
    2 ms to render).
    """

    def __init__(self, ax, cols_per_inch: float):
        self.ax = ax
        self.cpi = cols_per_inch
        self.taken: dict[tuple[float, str], list[tuple[float, float]]] = {}
        self.wanted: list[tuple[int, int, float, list, float, dict]] = []

    def cols(self, points: float) -> float:
        return points / 72.0 * self.cpi

    def add(self, priority: int, y: float, places: list[tuple[str, float, str, str]],
            fontsize: float, **kw: Any) -> None:
        """Ask for a label on row ``y``: the first free one of ``places`` (lane, x, text, ha)."""
        self.wanted.append((priority, len(self.wanted), y, places, fontsize, kw))

    def place(self) -> None:
        for _, _, y, places, size, kw in sorted(self.wanted, key=lambda w: w[:2]):
            for lane, x, label, ha in places:
                # 0.62 em: a generous average glyph width of DejaVu Sans.
                width = self.cols(len(label) * size * 0.62 + 2)
                left = x - width / 2 if ha == "center" else x
                strip = {"above": (y, "gap"), "below": (y + 1, "gap"), "centre": (y, "row")}[lane]
                spans = self.taken.setdefault(strip, [])
                if any(left < b and a < left + width for a, b in spans):
                    continue
                spans.append((left, left + width))
                yy = {"above": y - 0.3, "centre": y, "below": y + 0.31}[lane]
                va = {"above": "bottom", "centre": "center", "below": "top"}[lane]
                self.ax.text(x, yy, label, fontsize=size, va=va, ha=ha, zorder=6, **kw)
                break


def _draw_bars(ax, model: _Model, axis: _Axis, labels: _Labels) -> None:
    half = 0.27
    verts: dict[str, list[list[tuple[float, float]]]] = {a: [] for a in model.consumers}
    rows = {r.ident: y for y, r in enumerate(model.rows)}
    starts = {(rows[b.row.ident], b.actor, axis.x[(b.start.seq, b.row.ident)]) for b in model.bars}
    for b in model.bars:
        y = rows[b.row.ident]
        x0 = axis.x[(b.start.seq, b.row.ident)]
        if b.end_event is not None:
            x1 = axis.x.get((b.end_event.seq, b.row.ident), x0)
        elif b.end_time is not None:
            x1 = axis.at(b.end_time)
        else:
            x1 = axis.width + 0.6
        x1 = max(x1, x0 + 0.3)
        verts[b.actor].append([(x0, y - half), (x1, y - half), (x1, y + half), (x0, y + half)])
        if (y - 1, b.actor, x0) in starts:
            continue  # one label names a stack of bars from one batch receive: the top one
        colour = _consumer_style(model.consumers.index(b.actor))[0]
        at = x0 + labels.cols(2.5)
        names = [n for n in (b.actor, _abbrev(b.actor))
                 if labels.cols(len(n) * 7 * 0.62 + 5) <= x1 - x0]
        if names:
            labels.add(0, y, [("above", at, n, "left") for n in names], 7, color=colour,
                       fontweight="bold", gid=f"bar-label:{b.actor}")
    for i, actor in enumerate(model.consumers):
        colour, hatch = _consumer_style(i)
        # One collection per consumer: fast for hundreds of bars.
        coll = PolyCollection(verts[actor], facecolors=[_tint(colour)], edgecolors=[colour],
                              linewidths=1.0, hatch=hatch, zorder=2, label=actor)
        coll.set_hatchcolor(_tint(colour, 0.35))
        coll.set_hatch_linewidth(0.8)
        coll.set_gid(f"bars:{actor}")
        ax.add_collection(coll, autolim=False)


def _draw_markers(ax, model: _Model, axis: _Axis, marked: set, labels: _Labels) -> None:
    points: dict[str, tuple[list[float], list[float]]] = {}
    beats: dict[str, tuple[list[float], list[float]]] = {}
    rings: tuple[list[float], list[float]] = ([], [])
    rows = {r.ident: y for y, r in enumerate(model.rows)}
    for e, r in model.items:
        x, y = axis.x[(e.seq, r.ident)], rows[r.ident]
        style = _style_of(e, model)
        if e.seq in marked:
            rings[0].append(x)
            rings[1].append(y)
        if style == "receive":
            continue
        xs, ys = (beats.setdefault(e.actor, ([], [])) if style == "visibility"
                  else points.setdefault(style, ([], [])))
        xs.append(x)
        ys.append(y)
        _annotate(labels, e, x, y, style, model)
    for actor, (xs, ys) in beats.items():
        colour = (_consumer_style(model.consumers.index(actor))[0]
                  if actor in model.consumers else _INK)
        ax.plot(xs, ys, linestyle="none", zorder=4, gid="visibility",
                **dict(_STYLES["visibility"], color=colour))
    for style, kw in _STYLES.items():
        if style in points and style != "visibility":
            ax.plot(*points[style], linestyle="none", zorder=5, gid=style, **kw)
    if rings[0]:
        ax.plot(*rings, linestyle="none", zorder=6, gid="highlight", **_RING)


def _annotate(labels: _Labels, e: Event, x: float, y: float, style: str, model: _Model) -> None:
    beside = x + labels.cols(7)
    if style == "effect_dup" and e.seq not in model.quiet:
        word = f"{model.effect_nth[e.seq]}x!"
        labels.add(1, y, [("above", beside - labels.cols(2), word, "left"),
                          ("below", x, word, "center")], 9, color=_RED, fontweight="bold",
                   gid="duplicate")
    elif style == "crash":
        labels.add(1, y, [("below", x, _crash_word(e.detail), "center")], 7, color=_INK,
                   gid="crash-point")
    elif style == "fault":
        labels.add(2, y, [("below", x, str(e.detail.get("point", "fault")), "center")], 7,
                   color=_ORANGE, gid="fault-point")
    elif style == "delete_stale":
        word = "stale" if e.detail.get("ok", True) else "failed"
        labels.add(2, y, [("below", x, word, "center")], 7, color=_GREEN, gid=word)
    elif style in ("dlq_move", "move_task"):
        word = "DLQ" if style == "dlq_move" else "redrive"
        labels.add(1, y, [("centre", beside, word, "left"), ("above", x, word, "center")], 8,
                   fontweight="bold", color=_PURPLE, gid=word.lower())


def _crash_word(detail: dict) -> str:
    if detail.get("point") == "caught":
        return "crash swallowed"
    if detail.get("point"):
        return str(detail["point"])
    # "ValueError: amount must be positive" -> "ValueError": the text version has the rest.
    error = str(detail.get("error") or "crash").split(":")[0]
    return error if len(error) <= 24 else error[:23] + "…"


def _draw_ticks(ax, axis: _Axis, cols_per_inch: float) -> None:
    chosen: list[tuple[float, str]] = []
    # Instants with events win over instants where only a visibility timeout ran out.
    for with_events in (True, False):
        for t, x, has in zip(axis.times, axis.first, axis.has_events):
            if has != with_events:
                continue
            label = _tick(t)
            # Centred labels at 8 pt: about 0.07 in a character, plus a gap between them.
            if all(abs(x - cx) >= (0.07 * (len(label) + len(cl)) / 2 + 0.15) * cols_per_inch
                   for cx, cl in chosen):
                chosen.append((x, label))
    chosen.sort()
    ax.set_xticks([x for x, _ in chosen], [label for _, label in chosen], fontsize=8)
    ax.tick_params(axis="x", colors="#444444", length=6)
    # A dark stretch just under the time axis spans the columns that share one instant.
    same = [[(a, 0), (b, 0)] for a, b in zip(axis.first, axis.last) if b > a]
    if same:
        under = blended_transform_factory(ax.transData, ax.transAxes) + ScaledTranslation(
            0, -3 / 72, ax.figure.dpi_scale_trans)
        coll = LineCollection(same, colors=["#444444"], linewidths=2.5, zorder=7, clip_on=False,
                              transform=under, capstyle="butt")
        coll.set_gid("same-instant")
        ax.add_collection(coll, autolim=False)


# -- the text version ----------------------------------------------------------------------------
def _phrase(e: Event, model: _Model, row: _Row) -> str | None:
    d, at = e.detail, f"t={_t(e.time)}"
    if e.kind == "send":
        if d.get("delivered", True):
            return f"sent {at}"
        return f"sent again {at} (deduplicated: SQS accepted it and delivered nothing new)"
    if e.kind == "receive":
        extra = []
        if d.get("receive_count", 1) > 1:
            extra.append(f"{_ordinal(d['receive_count'])} receive")
        if d.get("visible_until_t") is not None:
            extra.append(f"invisible until t={_t(d['visible_until_t'])}")
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
            f" (invisible until t={_t(until)})" if until is not None else "")
    if e.kind == "effect":
        nth = model.effect_nth.get(e.seq, 1)
        dup = f" ({_ordinal(nth)} time: duplicate!)" if nth > 1 else ""
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
        to = f" to {_queue_label(d['to'])}" if d.get("to") else ""
        return f"redriven{to} {at}"
    if e.kind == "note" and d.get("text"):
        return f"note: {d['text']} {at}"
    return None


def _queue_label(name: str) -> str:
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
    model = _model(history, messages)
    if not model.rows:
        return "(no messages)"
    return "\n".join(_row_text(r, model) for r in model.rows)


def _row_text(r: _Row, model: _Model) -> str:
    parts = [p for e in r.events if e.seq not in model.hidden
             for p in [_phrase(e, model, r)] if p]
    if r.message_id and _still_stored(r):
        parts.append(f"still in the queue at the end (t={_t(model.end)})")
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
    model = _model(history, messages)
    out = []
    for r in model.rows:
        ids = [r.message_id] if r.message_id else []
        ids += [e.message_id for e in r.events
                if e.kind == "move_task" and e.message_id and e.message_id not in ids]
        out.append(Story(r.ident, r.label, r.key, tuple(ids), tuple(r.events), r.duplicate, r.most,
                         _row_text(r, model)))
    return out


def _still_stored(row: _Row) -> bool:
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
    model = _model(history)
    names = [r.label for r in model.rows if r.ident != NO_MESSAGE]
    if not names:
        return "Timeline of a lab run in which no message was sent or received."
    n = len(names)
    shown = ", ".join(names[:3]) + (f" and {n - 3} more" if n > 3 else "")
    who = _join(model.consumers) if model.consumers else "no consumer"
    span = (f"{_t(model.end)} simulated seconds" if model.end < 600
            else f"{_duration(model.end)} of simulated time")
    first = f"Timeline of {n} message{'s' * (n != 1)} ({shown}) over {span}, handled by {who}."
    kinds = Counter(e.kind for e, _ in model.items)
    facts = [", ".join(f"{kinds[k]} {k}{'s' * (kinds[k] != 1)}"
                       for k in ("receive", "effect", "delete") if kinds[k])]
    crashes = [e for e, _ in model.items if e.kind == "crash"]
    if crashes:
        points = _join(list(dict.fromkeys(_crash_word(e.detail) for e in crashes)))
        facts.append(f"{len(crashes)} crash{'es' * (len(crashes) != 1)} ({points})")
    dups = [r.label for r in model.rows if r.duplicate]
    if dups:
        named = dups[:3] + ([f"{len(dups) - 3} more"] if len(dups) > 3 else [])
        facts.append(f"duplicate effect for {_join(named)}")
    lost = [r.label for r in model.rows if r.lost]
    if lost:
        named = lost[:3] + ([f"{len(lost) - 3} more"] if len(lost) > 3 else [])
        facts.append(f"{_join(named)} lost (deleted without its effect)")
    unapplied = [e for e, _ in model.items
                 if e.kind == "delete" and not e.detail.get("applied", True)]
    stale = sum(1 for e in unapplied if e.detail.get("ok", True))
    if stale:
        facts.append(f"{stale} delete{'s' * (stale != 1)} ignored for a stale receipt handle")
    if len(unapplied) > stale:
        failed = len(unapplied) - stale
        facts.append(f"{failed} delete{'s' * (failed != 1)} failed")
    moved = sum(1 for e, _ in model.items if e.kind == "dlq_move")
    if moved:
        facts.append(f"{moved} moved to the dead-letter queue")
    left = sum(1 for r in model.rows if r.message_id and _still_stored(r))
    facts.append(f"{left} still in the queue at the end" if left else "none left in the queue")
    facts = [f for f in facts if f]
    second = "; ".join(facts)
    return f"{first} {second[:1].upper()}{second[1:]}." if second else first


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# -- outputs -------------------------------------------------------------------------------------
def to_png(history: History | Iterable[Event], path: str | None = None, *, dpi: int = 100,
           **kw: Any) -> bytes:
    """Render the timeline as PNG bytes, and write them to ``path`` when given.

    Parameters
    ----------
    history : History or iterable of Event
        The run to draw.
    path : str or path-like, optional
        Where to write the PNG as well.
    dpi : int
        Resolution; 100 suits feedback pages, 200 suits slides.
    **kw
        Passed to :func:`draw` (``title``, ``messages``, ``highlight``).

    Returns
    -------
    bytes
        The PNG. The same history gives the same bytes (no timestamp, no metadata).
    """
    data = picture(history, dpi=dpi, **kw).png
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)
    return data


@dataclass(frozen=True)
class Picture:
    """A rendered timeline and where its rows are, for views that react to the pointer.

    Attributes
    ----------
    png : bytes
        The PNG (the same bytes :func:`to_png` gives).
    width, height : int
        Its size in pixels.
    rows : dict
        ``{row ident: (top, bottom)}``: each message's band, in pixels from the image's top (the
        idents of :func:`stories`).
    """

    png: bytes
    width: int
    height: int
    rows: dict[str, tuple[int, int]]


def picture(history: History | Iterable[Event], *, dpi: int = 100, **kw: Any) -> Picture:
    """Render the timeline and measure where each message's row landed.

    Parameters
    ----------
    history : History or iterable of Event
        The run to draw.
    dpi : int
        Resolution.
    **kw
        Passed to :func:`draw` (``title``, ``messages``, ``highlight``, ``now``).

    Returns
    -------
    Picture
    """
    from PIL import Image  # matplotlib's own dependency

    fig = draw(history, **kw)
    fig.set_dpi(dpi)
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    rgba = canvas.buffer_rgba()
    height, width = rgba.shape[0], rgba.shape[1]
    # Saved by hand rather than by savefig: the picture is opaque, so RGB is enough, and
    # zlib level 3 saves a fifth of the rendering time for a file a few percent larger.
    image = Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="png", compress_level=3)
    rows: dict[str, tuple[int, int]] = {}
    ax = fig.axes[0] if fig.axes else None
    if ax is not None:
        labels = [t for t in ax.texts if str(t.get_gid() or "").startswith("row:")]
        for y, label in enumerate(labels):
            # Display coordinates count from the bottom; image rows from the top.
            _, upper = ax.transData.transform((0, y - 0.5))
            _, lower = ax.transData.transform((0, y + 0.5))
            top, bottom = sorted((height - upper, height - lower))
            rows[label.get_gid()[4:]] = (max(0, int(round(top))), min(height, int(round(bottom))))
    return Picture(buffer.getvalue(), width, height, rows)


def to_html(history: History | Iterable[Event], **kw: Any) -> str:
    """The timeline as a self-contained HTML ``<figure>`` for feedback pages.

    Parameters
    ----------
    history : History or iterable of Event
        The run to draw.
    **kw
        Passed to :func:`to_png` and :func:`draw` (``title``, ``messages``, ``highlight``,
        ``dpi``).

    Returns
    -------
    str
        A ``<figure>`` holding an inline base64 PNG with alt text, and a ``<details>`` block
        with the text version (for screen readers, copying, and searching).
    """
    png = base64.b64encode(to_png(history, **kw)).decode("ascii")
    alt = html.escape(alt_text(history), quote=True)
    story = html.escape(text(history, kw.get("messages")))
    caption = html.escape(kw["title"]) if kw.get("title") else "Message timeline"
    return (
        '<figure class="sqslab-timeline" style="margin:0">'
        f'<img src="data:image/png;base64,{png}" alt="{alt}" style="max-width:100%;height:auto">'
        f"<figcaption><details><summary>{caption} as text</summary>"
        f'<pre style="white-space:pre-wrap">{story}</pre></details></figcaption>'
        "</figure>"
    )


def show(history: History | Iterable[Event], **kw: Any) -> None:
    """Display the timeline in a notebook, with the text version in a collapsible block.

    Parameters
    ----------
    history : History or iterable of Event
        The run to draw.
    **kw
        Passed to :func:`to_html`.
    """
    from IPython.display import display

    # A plain-text alternative keeps the output useful in a terminal or a text-only frontend.
    display({"text/html": to_html(history, **kw), "text/plain": text(history, kw.get("messages"))},
            raw=True)
