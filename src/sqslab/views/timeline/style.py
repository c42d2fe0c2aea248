"""How the timeline looks: two palettes (light and dark), the sizes, and the marks.

Sizes are in CSS pixels at scale 1 (one image pixel per CSS pixel when the picture is shown at its
natural size), so "text at least 11 px as displayed" can be checked against the numbers here: the
smallest text is :data:`SMALL` (12 px). Colours come in a light and a dark palette because a
picture does not follow the page's CSS: each is drawn on its own background, and every text
colour is checked against it for a contrast of at least 4.5:1 (:func:`readable`).

Consumers are told apart by colour *and* hatch (Okabe-Ito colours, distinguishable with the
common colour-vision deficiencies; vermillion is left out because red means "duplicate effect").
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Any

from matplotlib.path import Path

#: Text sizes in CSS px at scale 1.
SMALL = 12.0          # ticks, annotations, the legend: the smallest text of the picture
LABEL = 13.5          # row labels (the messages)
TITLE = 16.0
#: Geometry in CSS px at scale 1.
COLUMN = 24.0         # between two events of one instant
COLUMN_MIN = 15.0     # ... when the run is crowded
COLUMN_MIN_COMPACT = 9.0    # ... in a live view short of room (demo 4: eight heartbeats in a room's column)
BREAK = 30.0          # the width of a gap of time left out
ROW = 36.0            # one message's row
ROW_COMPACT = 26.0    # ... in a live view short of room (the demo: a room shows it with the controls)
ROW_MIN = 24.0

_HATCHES = ("//", "\\\\", "..", "xx", "||", "--", "++", "oo", "**", "OO")


@dataclass(frozen=True)
class Palette:
    """The colours of one theme. ``consumers`` are the bars' colours, in order of appearance."""

    name: str
    background: str
    ink: str
    muted: str            # secondary text: axis labels, the caption
    line: str             # "stored in the queue", the axis
    stripe: str           # every other row
    highlight: str        # a row the checker points at
    instant: str          # the band behind the events of one instant
    red: str
    green: str
    orange: str
    purple: str
    failure: str
    consumers: tuple[str, ...]


LIGHT = Palette(
    name="light", background="#FFFFFF", ink="#1F1F1F", muted="#555555", line="#8F8F8F",
    stripe="#F5F5F5", highlight="#FFE680", instant="#EEF3F8", red="#C8102E", green="#1B7A3E",
    orange="#A85400", purple="#6A3D9A", failure="#8A3B00",
    consumers=("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#8C6D1F"),
)

DARK = Palette(
    name="dark", background="#111111", ink="#E6E6E6", muted="#B3B3B3", line="#8A8A8A",
    stripe="#1A1A1A", highlight="#4D4100", instant="#17202A", red="#FF7070", green="#5BD08A",
    orange="#FFAA4D", purple="#C9A3F2", failure="#FF9E66",
    consumers=("#4FA8E0", "#E69F00", "#2EC49A", "#E08DC0", "#9AD8F7", "#C9A24A"),
)

PALETTES = {"light": LIGHT, "dark": DARK}


def palette(theme: str | Palette) -> Palette:
    """The palette named ``theme`` (``"light"`` or ``"dark"``), or ``theme`` itself."""
    if isinstance(theme, Palette):
        return theme
    if theme not in PALETTES:
        raise ValueError(f"theme must be one of {', '.join(PALETTES)}, not {theme!r}")
    return PALETTES[theme]


# -- colour arithmetic ---------------------------------------------------------------------------
def rgb(colour: str) -> tuple[float, float, float]:
    """``"#RRGGBB"`` as three floats in 0..1."""
    return tuple(int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def hex_of(values: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, v)) * 255):02X}" for v in values)


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable(colour: str, background: str, ratio: float = 4.5) -> str:
    """``colour``, darkened (on a light background) or lightened (on a dark one) until text in it
    has at least ``ratio`` contrast against ``background``; the hue stays."""
    if contrast(colour, background) >= ratio:
        return colour
    h, lightness, s = colorsys.rgb_to_hls(*rgb(colour))
    step = -0.02 if luminance(background) > 0.5 else 0.02
    while 0.0 < lightness < 1.0:
        lightness = min(1.0, max(0.0, lightness + step))
        candidate = hex_of(colorsys.hls_to_rgb(h, lightness, s))
        if contrast(candidate, background) >= ratio:
            return candidate
    return hex_of(colorsys.hls_to_rgb(h, lightness, s))


def tint(colour: str, background: str, amount: float) -> str:
    """``colour`` mixed with ``background``: ``amount`` 0 is the colour, 1 the background."""
    c, b = rgb(colour), rgb(background)
    return hex_of(tuple(x + (y - x) * amount for x, y in zip(c, b)))  # type: ignore[arg-type]


def consumer_style(p: Palette, index: int) -> tuple[str, str]:
    """The colour and hatch of the ``index``-th consumer."""
    return p.consumers[index % len(p.consumers)], _HATCHES[index % len(_HATCHES)]


# -- marks ---------------------------------------------------------------------------------------
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


def _back_path() -> Path:
    # A hook pointing back left: "handed back" (visibility set to 0, visible again at once).
    verts = [(0.85, 0.9), (0.85, -0.25), (-0.25, -0.25), (-0.25, -0.75), (-0.95, 0.0),
             (-0.25, 0.75), (-0.25, 0.25), (0.35, 0.25), (0.35, 0.9), (0.85, 0.9)]
    return Path(verts, [Path.MOVETO] + [Path.LINETO] * 8 + [Path.CLOSEPOLY])


CHECK, DOWN, UP, BACK = _check_path(), _arrow_path(down=True), _arrow_path(down=False), _back_path()

#: The marks a learner must tell apart, in legend order: (style, label). Sizes are in px.
MARKS: tuple[tuple[str, str], ...] = (
    ("send", "sent"),
    ("send_dropped", "sent again, deduplicated"),
    ("effect", "effect (the charge)"),
    ("effect_dup", "effect again: duplicate!"),
    ("rollback", "effect rolled back"),
    ("failure", "the work failed (an error)"),
    ("fault", "injected fault (not fatal)"),
    ("crash", "crash (the process died)"),
    ("visibility", "lease extended"),
    ("released", "handed back (visible at once)"),
    ("delete", "deleted"),
    ("delete_stale", "delete not applied"),
    ("dlq_move", "moved to the DLQ"),
    ("move_task", "redriven from the DLQ"),
)


def mark(style: str, p: Palette, scale: float, colour: str | None = None) -> dict[str, Any]:
    """Keyword arguments of ``Line2D`` (markers only) for one mark, in points for a 100 dpi figure."""
    pt = 0.72 * scale  # px -> points at 100 dpi
    bg = p.background
    table: dict[str, dict[str, Any]] = {
        "send": dict(marker="o", markersize=8 * pt, color=p.ink, markeredgewidth=0),
        "send_dropped": dict(marker="o", markersize=8 * pt, color=p.ink, markerfacecolor=bg,
                             markeredgewidth=1.3 * pt),
        "effect": dict(marker="*", markersize=17 * pt, color=p.ink, markeredgecolor=bg,
                       markeredgewidth=0.7 * pt),
        "effect_dup": dict(marker="*", markersize=21 * pt, color=p.red, markeredgecolor=bg,
                           markeredgewidth=0.7 * pt),
        "rollback": dict(marker="*", markersize=16 * pt, color=p.muted, markerfacecolor=bg,
                         markeredgewidth=1.2 * pt),
        "failure": dict(marker="D", markersize=10 * pt, color=p.failure, markeredgecolor=bg,
                        markeredgewidth=0.7 * pt),
        "fault": dict(marker="^", markersize=11 * pt, color=p.orange, markeredgecolor=bg,
                      markeredgewidth=0.7 * pt),
        "crash": dict(marker="X", markersize=16 * pt, color=p.ink, markeredgecolor=bg,
                      markeredgewidth=0.7 * pt),
        "visibility": dict(marker="|", markersize=17 * pt, markeredgewidth=3 * pt, color=colour or p.ink),
        "released": dict(marker=BACK, markersize=15 * pt, color=colour or p.ink, markeredgecolor=bg,
                         markeredgewidth=0.6 * pt),
        "delete": dict(marker=CHECK, markersize=15 * pt, color=p.green, markeredgecolor=p.green,
                       markeredgewidth=0.8 * pt),
        "delete_stale": dict(marker=CHECK, markersize=15 * pt, color=p.green, markerfacecolor=bg,
                             markeredgewidth=1.4 * pt),
        "dlq_move": dict(marker=DOWN, markersize=16 * pt, color=p.purple, markeredgewidth=0),
        "move_task": dict(marker=UP, markersize=16 * pt, color=p.purple, markeredgewidth=0),
    }
    return table[style]
