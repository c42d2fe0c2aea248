"""The timeline's time axis: an honest one, fitted to a width in pixels.

A lab run has bursts in which many things happen at the same simulated instant (the clock only
moves when the bench moves it), separated by idle stretches of seconds to hours. The axis has
three kinds of stretch, each drawn so that it cannot be mistaken for another:

- **an instant**: everything that happened at one simulated time, spread over columns in the
  order it happened (an event goes one column after the previous event of the same message and
  the previous event of the same actor; consecutive events of one call share a column). No time
  passes inside it: the picture brackets it under the axis and draws holds inside it thin;
- **time passing**: between instants, at one linear scale for the whole picture (so 15 s is
  always the same width, and a bar's length over it is a duration);
- **a break**: an idle stretch so long that drawing it at that scale would squeeze everything
  else is left out and drawn as a break, labelled with its length.

Widths are in pixels from the left edge of the plot.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable

from .model import Model


@dataclass
class Stop:
    """One point of the axis: an instant with events (``columns`` > 0) or a bare time."""

    time: float
    columns: int               # 0 for a time without events (a lease that ran out, "now")
    first: float = 0.0         # x of its first column
    last: float = 0.0          # x of its last column


@dataclass
class Break:
    """A stretch of idle time left out of the picture."""

    start: float               # simulated seconds
    end: float
    x0: float
    x1: float


@dataclass
class Axis:
    """Where each drawn event sits, and where any simulated time falls."""

    x: dict[tuple[int, str], float]
    stops: list[Stop]
    breaks: list[Break]
    scale: float                # px per simulated second where time passes
    column: float               # px between two columns of an instant
    width: float                # px used, from 0
    seq_x: dict[int, float] = field(default_factory=dict)  # any drawn event's x (its first row)

    @property
    def times(self) -> list[float]:
        return [s.time for s in self.stops]

    def at(self, t: float) -> float:
        """Where simulated time ``t`` falls (the first column of an instant at ``t``)."""
        if not self.stops:
            return 0.0
        times = self.times
        i = bisect.bisect_right(times, t) - 1
        if i < 0:
            return max(0.0, self.stops[0].first - (times[0] - t) * self.scale)
        s = self.stops[i]
        if times[i] == t:
            return s.first
        if i == len(self.stops) - 1:
            return s.last + (t - s.time) * self.scale
        nxt = self.stops[i + 1]
        # Inside a break: proportionally across its width; elsewhere linearly.
        frac = (t - s.time) / (nxt.time - s.time)
        return s.last + (nxt.first - s.last) * frac

    def after(self, t: float) -> float:
        """Where ``t`` falls once everything that happened at ``t`` has happened (for "now")."""
        for s in self.stops:
            if s.time == t:
                return s.last + (self.column * 0.6 if s.columns else 0.0)
        return self.at(t)

    def instant_of(self, t: float) -> Stop | None:
        """The instant (with events) at simulated time ``t``."""
        for s in self.stops:
            if s.time == t and s.columns:
                return s
        return None


def columns(model: Model) -> tuple[dict[tuple[int, str], int], dict[float, int]]:
    """Each drawn event's column inside its instant, and each instant's number of columns."""
    col: dict[tuple[int, str], int] = {}
    count: dict[float, int] = {}
    by_time: dict[float, list] = {}
    for item in model.items:
        by_time.setdefault(item[0].time, []).append(item)
    for t, here in by_time.items():
        last_row: dict[str, int] = {}
        last_actor: dict[str, int] = {}
        batch: dict[str, tuple[str, int]] = {}
        right = 0
        for e, r in here:
            c = last_row.get(r.ident, -1) + 1
            kind, bcol = batch.get(e.actor, ("", -1))
            if kind == e.kind and c <= bcol:
                c = bcol
            else:
                c = max(c, last_actor.get(e.actor, -1) + 1)
                batch[e.actor] = (e.kind, c)
            col[(e.seq, r.ident)] = c
            last_row[r.ident] = c
            last_actor[e.actor] = max(c, last_actor.get(e.actor, -1))
            right = max(right, c)
        count[t] = right + 1
    return col, count


def fit(model: Model, width: float, *, column: float, column_min: float, break_width: float,
        extra: Iterable[float] = (), pad: float = 12.0, right: float = 40.0) -> Axis:
    """Lay the run out over ``width`` px (or more, when even the narrowest columns do not fit).

    ``extra`` are times to give a place of their own (the demo's "now"); ``right`` is room kept
    after the last event for the words beside it.
    """
    col, count = columns(model)
    times = sorted(set(count) | model.anchors() | set(extra))
    stops = [Stop(t, count.get(t, 0)) for t in times]
    gaps = [b.time - a.time for a, b in zip(stops, stops[1:])]

    def minimum(i: int, c: float) -> float:
        a, b = stops[i], stops[i + 1]
        if a.columns and b.columns:
            if a.columns > 1 or b.columns > 1:
                return c                        # a spread instant: a column apart from the next
            return c * 0.5                      # two single events (heartbeats): half a column
        if a.columns or b.columns:
            return c * 0.45                     # an instant and a bare time
        return 3.0

    # Columns narrow (down to ``column_min``) until the minimum gaps fit, and until time passing
    # gets a fair share of the width when a second or more passes: a 30 s lease must not look
    # like nothing beside an instant spread over ten columns.
    passing = sum(1 for g in gaps if g >= 1.0)
    c = column
    while True:
        fixed = pad + right + sum(max(s.columns - 1, 0) * c for s in stops)
        room = width - fixed
        fits = sum(minimum(i, c) for i in range(len(gaps))) <= room
        fair = not passing or room >= 0.4 * (width - pad - right)
        if (fits and fair) or c <= column_min:
            break
        c = max(column_min, c - 1.0)
    broken = _choose_breaks(stops, gaps, [minimum(i, c) for i in range(len(gaps))], room, break_width)
    scale = _solve(gaps, [minimum(i, c) for i in range(len(gaps))], broken, room - len(broken) * break_width)

    x = pad
    breaks: list[Break] = []
    for i, s in enumerate(stops):
        s.first = x
        s.last = x + max(s.columns - 1, 0) * c
        x = s.last
        if i < len(gaps):
            if i in broken:
                breaks.append(Break(s.time, stops[i + 1].time, x, x + break_width))
                x += break_width
            else:
                x += max(minimum(i, c), scale * gaps[i])
    by_time = {s.time: s for s in stops}
    index = {(e.seq, r.ident): e for e, r in model.items}
    placed = {key: by_time[index[key].time].first + n * c for key, n in col.items()}
    seq_x: dict[int, float] = {}
    for (seq, _), px in placed.items():
        seq_x.setdefault(seq, px)
    return Axis(placed, stops, breaks, scale, c, x + right, seq_x)


def _widths(gaps: list[float], minima: list[float], broken: set[int], scale: float) -> float:
    return sum(max(m, scale * g) for i, (g, m) in enumerate(zip(gaps, minima)) if i not in broken)


def _solve(gaps: list[float], minima: list[float], broken: set[int], room: float) -> float:
    """The linear scale (px per second) at which the unbroken gaps fill ``room``."""
    if _widths(gaps, minima, broken, 0.0) >= room:
        return 0.0
    lo, hi = 0.0, 1.0
    while _widths(gaps, minima, broken, hi) < room and hi < 1e9:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if _widths(gaps, minima, broken, mid) < room:
            lo = mid
        else:
            hi = mid
    return lo


def _choose_breaks(stops: list[Stop], gaps: list[float], minima: list[float], room: float,
                   break_width: float) -> set[int]:
    """Leave out the idle stretches that would squeeze the rest of the run.

    Waits are measured between instants with events (a lease that runs out in between is part
    of the wait). The longest wait is cut, at its longest stretch, when it lasts a minute or more,
    at least three times as long as any other wait of a second or more, and those others would
    get fewer than 30 px each at a linear scale: a run of regular 15 s heartbeats stays linear, a
    lone 30 s lease stays whole, and a two-hour wait before a redrive is left out.
    """
    busy = [i for i, s in enumerate(stops) if s.columns]
    waits = [(stops[b].time - stops[a].time, a, b) for a, b in zip(busy, busy[1:])]
    broken: set[int] = set()
    open_waits = list(waits)
    while open_waits:
        longest = max(open_waits, key=lambda w: w[0])
        others = [w[0] for w in open_waits if w is not longest and w[0] >= 1.0]
        if longest[0] < 60 or not others or longest[0] < 3 * max(others) \
                or room - (len(broken) + 1) * break_width <= 0:
            return broken
        scale = _solve(gaps, minima, broken, room - len(broken) * break_width)
        if min(others) * scale >= 30.0:
            return broken
        _, a, b = longest
        broken.add(max(range(a, b), key=lambda i: gaps[i]))
        open_waits.remove(longest)
    return broken


def ticks(axis: Axis, label, width_of, gap: float) -> list[tuple[float, str, str]]:
    """The instants to label on the axis, as ``(x, label, ha)``, left to right, none overlapping.

    Instants with events win over bare times; of two with the same rounded label only the first
    is kept. Beside a break, the label before it ends at its instant and the one after it starts
    there (``ha`` "right" and "left"), so both fit. ``width_of(text)`` measures a label in px.
    """
    before = {min((s for s in axis.stops if s.time <= b.start), key=lambda s: b.start - s.time).time
              for b in axis.breaks}
    after = {min((s for s in axis.stops if s.time >= b.end), key=lambda s: s.time - b.end).time
             for b in axis.breaks}
    chosen: list[tuple[float, float, float, str, str]] = []      # (x, left, right, text, ha)
    seen: set[str] = set()
    for with_events in (True, False):
        for s in axis.stops:
            if bool(s.columns) != with_events:
                continue
            text = label(s.time)
            if text in seen:
                continue
            w = width_of(text)
            ha = "right" if s.time in before else "left" if s.time in after else "center"
            left = {"center": s.first - w / 2, "right": s.first - w, "left": s.first}[ha]
            if left < -4:
                continue
            if all(left + w + gap <= a or b + gap <= left for _, a, b, _, _ in chosen):
                chosen.append((s.first, left, left + w, text, ha))
                seen.add(text)
    return sorted((x, text, ha) for x, _, _, text, ha in chosen)
