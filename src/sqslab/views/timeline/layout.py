"""The timeline's picture, planned: every position in pixels, for a width and a text scale.

One row per message, time across (:mod:`.axis`). A thick hatched bar is a consumer holding the
message while time passes (the lease); inside one instant, where no time passes, the holding is
a thin line, so a bar's length is always a duration. After a consumer died, SQS keeps the message
invisible until the lease runs out: a hollow dashed box, nobody's. A consumer that works on after
its lease ran out gets a dashed line in its colour up to what it still did. Marks show what
happened on the way (:data:`.style.MARKS`); words beside them say who or why where it matters (a
duplicate names the consumer that charged again, a crash its fault point, a failure its error).

The plan (:func:`plan`) holds every position, so the light and the dark picture are painted from
one layout (:func:`.paint.paint`); it is sized for a width in CSS pixels (a notebook's output column,
a demo's panel) and a scale for the text (1 on a laptop, larger in a room). Everything is drawn on
a :class:`matplotlib.figure.Figure` in pixel coordinates (no pyplot and no global state), so it is
safe in the grader's worker threads and the same in a notebook.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any, Iterable

from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties

from ...history import Event
from . import style
from .axis import Axis, fit, ticks
from .model import Hold, Model, Row
from .words import crash_word, duration, short_error, tick

#: A notebook's output column on a laptop (JupyterLab, 1280 px window, file browser open) is
#: about 830 px wide: the picture is made a little narrower, so it is shown at its natural size.
DEFAULT_WIDTH = 800
#: Half a bar's height, as a share of a row's.
BAR = 0.26


class Measure:
    """Text widths in pixels, as matplotlib will draw them (DejaVu Sans), cached."""

    def __init__(self) -> None:
        self._renderer = RendererAgg(4, 4, 100)
        self._cache: dict[tuple[str, float, bool, bool], float] = {}

    def width(self, text: str, px: float, bold: bool = False, italic: bool = False) -> float:
        key = (text, px, bold, italic)
        if key not in self._cache:
            prop = FontProperties(size=px * 0.72, weight="bold" if bold else "normal",
                                  style="italic" if italic else "normal")
            self._cache[key] = self._renderer.get_text_width_height_descent(text, prop, ismath=False)[0]
        return self._cache[key]

    def wrap(self, text: str, px: float, width: float, bold: bool = False) -> list[str]:
        """``text`` in lines no wider than ``width`` px."""
        for chars in range(max(len(text), 1), 8, -1):
            lines = textwrap.wrap(text, chars) or [""]
            if all(self.width(line, px, bold) <= width for line in lines):
                return lines
        return textwrap.wrap(text, 8) or [""]


@dataclass
class Label:
    """Words beside a mark: where, what, and which colour of the palette (or a consumer's)."""

    x: float
    y: float
    text: str
    ha: str
    va: str
    size: float
    colour: str            # a Palette field name, or "consumer:<i>"
    bold: bool = False
    italic: bool = False
    gid: str = ""


@dataclass
class Plan:
    """Every position of the picture, in px from its top left corner."""

    width: float
    height: float
    scale: float
    title: list[Label] = field(default_factory=list)
    x0: float = 0.0                          # the plot's left edge
    plot_top: float = 0.0
    plot_bottom: float = 0.0
    row_h: float = 0.0
    rows: list[tuple[Row, float]] = field(default_factory=list)        # (row, centre y)
    stripes: list[tuple[float, float]] = field(default_factory=list)
    highlighted: list[tuple[float, float]] = field(default_factory=list)
    instants: list[tuple[float, float]] = field(default_factory=list)  # multi-column instants
    presence: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)
    thin: list[tuple[float, float, float, int]] = field(default_factory=list)   # x0, x1, y, consumer
    thick: list[tuple[float, float, float, int]] = field(default_factory=list)
    orphans: list[tuple[float, float, float]] = field(default_factory=list)
    overruns: list[tuple[float, float, float, int]] = field(default_factory=list)
    marks: list[tuple[str, float, float, int | None]] = field(default_factory=list)
    rings: list[tuple[float, float]] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    axis_y: float = 0.0
    axis_segments: list[tuple[float, float]] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    breaks: list[tuple[float, float, str]] = field(default_factory=list)
    now: tuple[float, str] | None = None
    legend: list[tuple[tuple, str, float, float]] = field(default_factory=list)
    entries: list[tuple[tuple, str]] = field(default_factory=list)   # the legend's, before layout
    consumers: list[str] = field(default_factory=list)
    empty: bool = False

    @property
    def min_text_px(self) -> float:
        """The smallest text of the picture, in px at its natural size."""
        return min([lb.size for lb in self.labels + self.title] + [style.SMALL * self.scale])


# -- the plan ------------------------------------------------------------------------------------
def plan(model: Model, *, width: float | None = None, scale: float = 1.0, title: str | None = None,
         highlight: Iterable[str | int] | str | int | None = None, now: float | None = None,
         height: float | None = None, compact: bool = False, part: str = "all",
         key_width: float | None = None) -> Plan:
    """Lay out the picture of ``model`` for ``width`` px at ``scale`` (1 on a laptop).

    ``height`` fixes the height (drawing into a given Axes); otherwise the picture is as tall as
    its rows and legend need. When even the narrowest columns do not fit ``width``, the picture
    is made wider rather than crowded (its width says so). ``compact`` saves height for a live
    view that shares the screen (the demo): lower rows, a legend of short words, no caption.
    ``part`` is ``"all"``, ``"plot"`` (the picture without its legend) or ``"legend"`` (the legend
    alone, ``key_width`` px wide): a view short of height puts the key beside the picture.
    """
    m = Measure()
    k = scale
    small, big = style.SMALL * k, style.LABEL * k
    width = float(width or DEFAULT_WIDTH)
    pad = (6 if compact else 10) * k
    if isinstance(highlight, (str, int)):
        highlight = [highlight]
    marked = set(highlight or ())

    n = len(model.rows)
    # A live view short of room says "2x!" beside the mark only (its table says TWICE); the row's
    # label is still red and bold.
    flags = [_flag(r) if not compact else "" for r in model.rows]
    alarm = [bool(_flag(r)) for r in model.rows]
    label_w = max([m.width(r.label + f, big, bold=a) for r, f, a in zip(model.rows, flags, alarm)] + [40 * k])
    label_w = min(label_w, width * 0.4)
    x0 = pad + label_w + 10 * k
    plot_w = width - x0 - pad
    axis = fit(model, plot_w, column=style.COLUMN * k,
               column_min=(style.COLUMN_MIN_COMPACT if compact else style.COLUMN_MIN) * k,
               break_width=style.BREAK * k, extra=() if now is None else (now,), pad=(10 if compact else 14) * k,
               right=_right_room(model, m, small) * (0.5 if compact else 1.0))
    width = max(width, x0 + axis.width + pad)
    p = Plan(width, 0.0, k, consumers=list(model.consumers))

    y = pad
    if title:
        for line in m.wrap(title, style.TITLE * k, width - 2 * pad, bold=True):
            p.title.append(Label(pad, y, line, "left", "top", style.TITLE * k, "ink", bold=True, gid="title"))
            y += style.TITLE * k * 1.3
        y += 4 * k
    top_strip = small * 1.75 + 5 * k         # "now", the lengths of breaks, above the first row's words
    p.plot_top = y + top_strip
    row = style.ROW_COMPACT if compact else style.ROW
    p.row_h = row_h = max(style.ROW_MIN * k, min(row * k, row * k * (1.15 - 0.015 * n)))
    p.x0 = x0
    ys = [p.plot_top + row_h * (i + 0.5) for i in range(n)]
    p.rows = list(zip(model.rows, ys))
    p.plot_bottom = p.plot_top + row_h * max(n, 1)
    p.empty = not model.rows
    for i, (r, yc) in enumerate(p.rows):
        band = (yc - row_h / 2, yc + row_h / 2)
        if marked & {r.ident, r.message_id, r.key}:
            p.highlighted.append(band)
        elif i % 2:
            p.stripes.append(band)
        p.labels.append(Label(x0 - 10 * k, yc, r.label + flags[i], "right", "center", big,
                              "red" if alarm[i] else "ink", bold=alarm[i], gid=f"row:{r.ident}"))

    X = lambda px: x0 + px  # noqa: E731 - plot px to figure px
    for s in axis.stops:
        if s.columns > 1:
            p.instants.append((X(s.first) - axis.column * 0.4, X(s.last) + axis.column * 0.4))
    rows_y = {r.ident: yc for r, yc in p.rows}
    placer = _Placer(p, m, x0, width - pad)
    _plan_presence(p, model, axis, rows_y, X)
    _plan_holds(p, model, axis, rows_y, X, placer, small)
    _plan_marks(p, model, axis, rows_y, X, placer, marked, small)
    placer.place()

    # The axis, its ticks, breaks and "now".
    p.axis_y = p.plot_bottom + 10 * k   # below the last row's words
    edges = [(X(0), None)]
    for b in axis.breaks:
        edges[-1] = (edges[-1][0], X(b.x0) + 3 * k)
        edges.append((X(b.x1) - 3 * k, None))
        p.breaks.append((X(b.x0), X(b.x1), duration(b.end - b.start)))
        p.labels.append(Label((X(b.x0) + X(b.x1)) / 2, p.plot_top - 8 * k, duration(b.end - b.start),
                              "center", "bottom", small, "muted", italic=True, gid="break-label"))
    edges[-1] = (edges[-1][0], X(axis.width))
    p.axis_segments = [(a, b) for a, b in edges if b is not None and b > a]
    chosen = ticks(axis, tick, lambda s: m.width(s, small), 10 * k)
    p.ticks = [(X(x), text) for x, text, _ in chosen]
    for x, text, ha in chosen:
        p.labels.append(Label(X(x), p.axis_y + 8 * k, text, ha, "top", small, "muted", gid="tick"))
    if now is not None:
        x = X(axis.after(now))
        words = f"now t={tick(now)}"
        w = m.width(words, small, bold=True)
        p.now = (x, words)
        tops = [(lb, lb.x - m.width(lb.text, small, italic=True) / 2, lb.x + m.width(lb.text, small, italic=True) / 2)
                for lb in p.labels if lb.gid == "break-label"]
        free = lambda a, b: all(b + 6 * k <= l or r + 6 * k <= a for _, l, r in tops)  # noqa: E731
        right = x + 4 * k + w <= width - pad and (free(x + 4 * k, x + 4 * k + w) or not free(x - 4 * k - w, x - 4 * k))
        span = (x + 4 * k, x + 4 * k + w) if right else (x - 4 * k - w, x - 4 * k)
        # "now" matters more than the length of a break it would cover.
        p.labels = [lb for lb in p.labels if lb.gid != "break-label"
                    or not any(lb is t and not (span[1] + 6 * k <= l or r + 6 * k <= span[0]) for t, l, r in tops)]
        p.labels.append(Label(x + (4 * k if right else -4 * k), p.plot_top - 8 * k, words,
                              "left" if right else "right", "bottom", small, "ink", bold=True, gid="now-label"))
    y = p.axis_y + 8 * k + small * 1.35
    if not compact:
        p.labels.append(Label(X(0), y, "simulated time", "left", "top", small, "muted", gid="caption"))
        y += small * 1.6

    p.entries = _legend_entries(p, model, axis, marked, compact)
    y = y if part == "plot" else _plan_legend(p, p.entries, m, small, y + 4 * k, pad, flow=compact)
    p.height = float(height) if height else y + pad
    if part == "legend":
        return key_plan(p, width if key_width is None else key_width, flow=compact)
    return p


def _flag(r: Row) -> str:
    return f"  {r.most}x!" if r.duplicate else "  lost!" if r.lost else ""


def _right_room(model: Model, m: Measure, small: float) -> float:
    # Room after the last event for the words that go right of the last marks.
    words = ["redrive", "DLQ"] + [f"{n}x! by consumer-00" for n in (2,)]
    return min(max(m.width(w, small, bold=True) for w in words) * 0.6, 90.0 * small / style.SMALL) + 10


class _Placer:
    """Words beside marks, placed only where they do not cover one another.

    Words go in the strip between two rows (above one row's bars is below the previous row's)
    or through a row's centre. One that would overlap words already placed in its strip is
    left out: a crowded run keeps its marks and loses words that would be unreadable anyway (the
    text version has every detail).
    """

    def __init__(self, p: Plan, m: Measure, left: float, right: float):
        self.p, self.m, self.left, self.right = p, m, left, right
        self.wanted: list[tuple[int, int, float, list[tuple[str, float, str, str]], dict]] = []
        self.taken: dict[tuple[float, str], list[tuple[float, float]]] = {}

    def add(self, priority: int, y: float, places: list[tuple[str, float, str, str]], **kw: Any) -> None:
        """Ask for words at row centre ``y``: the first free one of ``places`` (lane, x, text, ha)."""
        self.wanted.append((priority, len(self.wanted), y, places, kw))

    def occupy(self, y: float, x: float, w: float) -> None:
        """A mark at ``x`` on the row at ``y``: words through the row's centre keep off it."""
        self.taken.setdefault((round(y, 1), "row"), []).append((x - w / 2, x + w / 2))

    def place(self) -> None:
        p, half = self.p, self.p.row_h / 2
        for _, _, y, places, kw in sorted(self.wanted, key=lambda w: w[:2]):
            size = kw.get("size", style.SMALL * p.scale)
            for lane, x, text, ha in places:
                w = self.m.width(text, size, bold=kw.get("bold", False)) + 3
                left = x - w / 2 if ha == "center" else x if ha == "left" else x - w
                left = max(self.left - 4, min(left, self.right - w))
                strip = {"above": (round(y - half, 1), "gap"), "below": (round(y + half, 1), "gap"),
                         "centre": (round(y, 1), "row")}[lane]
                spans = self.taken.setdefault(strip, [])
                if any(left < b and a < left + w for a, b in spans):
                    continue
                spans.append((left, left + w))
                bar = p.row_h * BAR
                yy = {"above": y - bar - 3 * p.scale, "centre": y, "below": y + bar + 5 * p.scale}[lane]
                va = {"above": "bottom", "centre": "center", "below": "top"}[lane]
                p.labels.append(Label(left, yy, text, "left", va, size, kw["colour"],
                                      bold=kw.get("bold", False), gid=kw.get("gid", "")))
                break


def _x_of(axis: Axis, e: Event, row: str, X) -> float:
    if (e.seq, row) in axis.x:
        return X(axis.x[(e.seq, row)])
    if e.seq in axis.seq_x:
        return X(axis.seq_x[e.seq])
    return X(axis.after(e.time))


def _plan_presence(p: Plan, model: Model, axis: Axis, rows_y: dict[str, float], X) -> None:
    """A thin line while the message is stored in its queue (dotted while in the DLQ)."""
    queue: list[tuple[float, float, float]] = []
    dlq: list[tuple[float, float, float]] = []
    right = X(axis.width)
    for r in model.rows:
        if r.message_id is None:
            continue
        y = rows_y[r.ident]
        state, since = None, 0.0
        for e in r.events:
            if (e.seq, r.ident) not in axis.x:
                continue
            x = X(axis.x[(e.seq, r.ident)])
            # Stored from its first delivered send (a producer's effect can come before it).
            if state is None and e.kind not in ("effect", "rollback", "fault", "crash", "note") \
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
    p.presence = {"queue": queue, "dlq": dlq}


def _plan_holds(p: Plan, model: Model, axis: Axis, rows_y: dict[str, float], X, placer: _Placer,
                small: float) -> None:
    k = p.scale
    previous: dict[str, str] = {}
    named: set[tuple[float, str, float]] = set()
    for h in sorted(model.holds, key=lambda h: h.start.seq):
        ident = h.row.ident
        y = rows_y[ident]
        i = model.consumers.index(h.actor)
        xs = X(axis.x[(h.start.seq, ident)])
        start = axis.instant_of(h.start.time)
        start_right = X(start.last) if start else xs
        if h.end is not None:
            xe = _x_of(axis, h.end, ident, X)
            end = axis.instant_of(h.end.time)
            end_left = X(end.first) if end and end.time != h.start.time else xe
        elif h.end_time is not None:
            xe = end_left = X(axis.at(h.end_time))
        else:
            xe = end_left = X(axis.width)
        if xe <= start_right + 0.5:
            p.thin.append((xs, max(xe, xs + 2 * k), y, i))
        else:
            if start_right > xs:
                p.thin.append((xs, start_right, y, i))
            p.thick.append((start_right, max(end_left, start_right + 2 * k), y, i))
            if xe > end_left + 0.5:
                p.thin.append((end_left, xe, y, i))
        if h.orphan_until is not None:
            p.orphans.append((xe, max(X(axis.at(h.orphan_until)), xe + 2 * k), y))
        if h.overrun is not None and h.end_time is not None:
            p.overruns.append((X(axis.at(h.end_time)), _x_of(axis, h.overrun, ident, X), y, i))
        # The holder's name where its hold starts (one name for the stack of holds of a batch
        # receive: the top one), first of all where the holder changes.
        batch = (h.start.time, h.actor, round(xs, 1))
        if batch in named:
            continue
        named.add(batch)
        first = previous.get(ident) != h.actor
        previous[ident] = h.actor
        placer.add(1 if first else 3, y, [("above", xs - 2 * k, h.actor, "left")],
                   colour=f"consumer:{i}", bold=True, size=small, gid=f"holder:{h.actor}")


def style_of(e: Event, model: Model) -> str:
    """The mark an event is drawn with (a key of :data:`.style.MARKS`), or "" for none."""
    d = e.detail
    if e.kind == "send":
        return "send" if d.get("delivered", True) else "send_dropped"
    if e.kind == "effect":
        return "effect_dup" if model.effect_nth.get(e.seq, 1) > 1 else "effect"
    if e.kind == "delete":
        return "delete" if d.get("applied", True) else "delete_stale"
    if e.kind == "visibility":
        return "released" if d.get("ok", True) and d.get("timeout") == 0 else "visibility"
    if e.kind == "note":
        return "failure"
    if e.kind == "receive":
        return ""
    return e.kind


def _covered(e: Event, holds: list[Hold]) -> bool:
    """True when ``e`` lies on the latest hold of the row and that hold is its own actor's: the
    colour it sits on says who did it. Otherwise (a producer's effect, a consumer that works on
    while another holds the message) the words beside it must."""
    before = [h for h in holds if h.start.seq < e.seq]
    if not before:
        return False
    h = max(before, key=lambda h: h.start.seq)
    if h.actor != e.actor:
        return False
    if h.end is not None:
        return e.seq <= h.end.seq
    return h.end_time is None or e.time <= h.end_time or (h.overrun is not None and e.seq <= h.overrun.seq)


def _plan_marks(p: Plan, model: Model, axis: Axis, rows_y: dict[str, float], X, placer: _Placer,
                marked: set, small: float) -> None:
    k = p.scale
    holds_of: dict[str, list[Hold]] = {}
    for h in model.holds:
        holds_of.setdefault(h.row.ident, []).append(h)
    for e, r in model.items:
        x, y = X(axis.x[(e.seq, r.ident)]), rows_y[r.ident]
        kind = style_of(e, model)
        if e.seq in marked:
            p.rings.append((x, y))
        if not kind:
            continue
        who = model.consumers.index(e.actor) if e.actor in model.consumers else None
        p.marks.append((kind, x, y, who))
        placer.occupy(y, x, 16 * k)
        beside = x + 9 * k
        if kind == "effect_dup" and e.seq not in model.quiet:
            word = f"{model.effect_nth[e.seq]}x! by {e.actor}"
            placer.add(0, y, [("above", beside - 2 * k, word, "left"), ("below", x, word, "center"),
                              ("above", x, word, "center")], colour="red", bold=True, size=small, gid="duplicate")
        elif kind in ("effect", "rollback") and not _covered(e, holds_of.get(r.ident, [])):
            colour = f"consumer:{who}" if who is not None else "muted"
            placer.add(1, y, [("below", x, e.actor, "center"), ("above", x, e.actor, "center")],
                       colour=colour, bold=who is not None, size=small, gid="effect-by")
        elif kind == "crash":
            placer.add(1, y, [("below", x, crash_word(e.detail), "center")], colour="ink", size=small,
                       gid="crash-point")
        elif kind == "failure":
            placer.add(1, y, [("below", x, short_error(e.detail["failure"]), "center"),
                              ("above", x, short_error(e.detail["failure"]), "center")],
                       colour="failure", size=small, gid="failure")
        elif kind == "fault":
            placer.add(2, y, [("below", x, str(e.detail.get("point", "fault")), "center")], colour="orange",
                       size=small, gid="fault-point")
        elif kind == "delete_stale":
            word = "stale" if e.detail.get("ok", True) else "failed"
            placer.add(2, y, [("below", x, word, "center")], colour="green", size=small, gid=word)
        elif kind in ("dlq_move", "move_task"):
            word = "DLQ" if kind == "dlq_move" else "redrive"
            placer.add(1, y, [("centre", beside, word, "left"), ("above", x, word, "center"),
                              ("below", x, word, "center")], colour="purple", bold=True, size=small,
                       gid=word.lower())


#: The legend's words when a view is short of room (``compact``): the same marks, fewer words.
SHORT = {
    "holds it (invisible to others)": "holds it", "holds it (within one instant)": "holds it",
    "thin: held within one instant": "thin: one instant", "works on after its lease ran out": "works on, lease gone",
    "holder gone: hidden until the lease runs out": "holder gone, hidden", "stored in the queue": "in the queue",
    "stored in the DLQ": "in the DLQ", "effect (the charge)": "charged", "effect again: duplicate!": "charged again!",
    "the work failed (an error)": "work failed", "injected fault (not fatal)": "injected fault",
    "crash (the process died)": "crash", "handed back (visible at once)": "handed back",
    "sent again, deduplicated": "sent again, dropped", "delete not applied": "delete ignored",
    "redriven from the DLQ": "redriven", "one instant: its events in order": "one instant, in order",
    "idle time left out (its length above)": "time left out", "the message in question": "selected",
    "now (the clock)": "now",
}


def _legend_entries(p: Plan, model: Model, axis: Axis, marked: set, compact: bool = False) -> list[tuple[tuple, str]]:
    out = _legend_words(p, model, marked)
    if not compact:
        return out
    short = []
    for key, words in out:
        for long, brief in SHORT.items():
            if words.endswith(long):
                words = words[: len(words) - len(long)] + brief
                break
        short.append((key, words))
    return short


def _legend_words(p: Plan, model: Model, marked: set) -> list[tuple[tuple, str]]:
    out: list[tuple[tuple, str]] = []
    thick, thin = {i for *_, i in p.thick}, {i for *_, i in p.thin}
    for i, actor in enumerate(model.consumers):
        if i in thick:
            out.append((("hold", i), f"{actor} holds it (invisible to others)"))
        elif i in thin:
            out.append((("thin", i), f"{actor} holds it (within one instant)"))
    if p.thin and thick:
        out.append((("thin", None), "thin: held within one instant"))
    if p.overruns:
        out.append((("overrun",), "works on after its lease ran out"))
    if p.orphans:
        out.append((("orphan",), "holder gone: hidden until the lease runs out"))
    if p.presence.get("queue"):
        out.append((("queue",), "stored in the queue"))
    if p.presence.get("dlq"):
        out.append((("dlq",), "stored in the DLQ"))
    present = {kind for kind, *_ in p.marks}
    out += [(("mark", kind), words) for kind, words in style.MARKS if kind in present]
    if p.instants:
        out.append((("instant",), "one instant: its events in order"))
    if p.breaks:
        out.append((("break",), "idle time left out (its length above)"))
    if p.rings:
        out.append((("ring",), "look here"))
    if p.highlighted:
        out.append((("highlight",), "the message in question"))
    if p.now is not None:
        out.append((("now",), "now (the clock)"))
    return out


def _plan_legend(p: Plan, entries: list[tuple[tuple, str]], m: Measure, small: float, top: float,
                 pad: float, flow: bool = False) -> float:
    """The legend under the picture: in columns when they fit (easier to scan), else (or when
    ``flow``: a live view's picture must fit a screen) flowing line by line like words."""
    if not entries:
        return top
    k = p.scale
    handle, gap, spacing = 30 * k, 6 * k, 18 * k
    widths = [handle + gap + m.width(words, small) for _, words in entries]
    avail = p.width - 2 * pad
    line = small * 1.65
    cols: list[float] = []
    for ncols in range(0 if flow else min(5, len(entries)), 1, -1):
        nrows = -(-len(entries) // ncols)
        cols = [max(widths[c * nrows:(c + 1) * nrows]) for c in range(ncols) if widths[c * nrows:(c + 1) * nrows]]
        if sum(cols) + spacing * (len(cols) - 1) <= avail:
            break
        cols = []
    if cols:
        x = pad + max(0.0, (avail - sum(cols) - spacing * (len(cols) - 1)) / 2)
        for c, cw in enumerate(cols):
            for r, (key, words) in enumerate(entries[c * nrows:(c + 1) * nrows]):
                y = top + r * line + line / 2
                p.legend.append((key, words, x, y))
                p.labels.append(Label(x + handle + gap, y, words, "left", "center", small, "ink", gid="legend"))
            x += cw + spacing
        return top + nrows * line
    x, y = pad, top + line / 2
    for (key, words), wd in zip(entries, widths):
        if x > pad and x + wd > pad + avail:
            x, y = pad, y + line
        p.legend.append((key, words, x, y))
        p.labels.append(Label(x + handle + gap, y, words, "left", "center", small, "ink", gid="legend"))
        x += wd + spacing
    return y + line / 2


def key_plan(p: Plan, width: float, flow: bool = False) -> Plan:
    """The legend of plan ``p`` alone, laid out over ``width`` px: a picture's key, shown apart."""
    m = Measure()
    k = p.scale
    pad = 6 * k
    key = Plan(width, 0.0, k, consumers=p.consumers, entries=p.entries)
    key.height = _plan_legend(key, p.entries, m, style.SMALL * k, pad, pad, flow=flow) + pad
    return key
