"""The lifecycle timeline: a picture, and a text version, of a lab run's history.

One row per message, time across; one renderer for notebooks, the demo widget and the grader's
feedback pages. The package is split by job:

- :mod:`.model`: the history as rows, holds (who held a message, until when, how it ended) and marks;
- :mod:`.axis`: an honest time axis fitted to a width (instants spread out in order, time passing
  at one linear scale, long idle stretches left out as labelled breaks);
- :mod:`.layout` and :mod:`.paint`: the picture, planned in pixels for a width and a text scale,
  then painted in a light or a dark palette (:mod:`.style`);
- :mod:`.words`: the text version, the alt text and the rows as data.

This module is the public face: :func:`show`, :func:`to_html`, :func:`to_png`, :func:`picture`,
:func:`draw`, :func:`text`, :func:`alt_text`, :func:`stories`.

>>> from sqslab.views import timeline            # doctest: +SKIP
>>> timeline.show(outcome.history, title="Crash between the charge and the delete")
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Iterable

from matplotlib.figure import Figure

from ...history import Event, History
from ..figures import figure_html, min_text_px, png_of
from . import style
from .layout import DEFAULT_WIDTH, plan
from .paint import paint
from .model import DRAWN, NO_MESSAGE, build
from .words import Story, alt_text, stories, text

__all__ = ["draw", "text", "alt_text", "to_png", "to_html", "show", "stories", "picture", "Story",
           "Picture", "NO_MESSAGE", "DRAWN", "DEFAULT_WIDTH", "build", "style"]

def draw(history: History | Iterable[Event], *, title: str | None = None,
         messages: Iterable[str] | None = None, ax=None,
         highlight: Iterable[str | int] | str | int | None = None,
         now: float | None = None, width: float | None = None, scale: float = 1.0,
         theme: str = "light") -> Figure:
    """Draw the lifecycle timeline of a lab run.

    Parameters
    ----------
    history : History or iterable of Event
        The run to draw.
    title : str, optional
        A title over the picture (wrapped to its width).
    messages : iterable of str, optional
        Draw only these messages (MessageIds or business keys); all by default.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes (its size in pixels at 100 dpi is the picture's) instead of a new figure.
    highlight : str, int or iterable of them, optional
        Message ids or keys whose rows get a yellow band, and event ``seq`` numbers whose marks get
        a ring: what the checker wants a learner to look at.
    now : float, optional
        The clock's reading (simulated seconds, as in the history): a dashed line marked "now".
    width : float, optional
        The picture's width in CSS px (default :data:`DEFAULT_WIDTH`, a laptop's output column).
        A run too crowded for it gets a wider picture rather than unreadable columns.
    scale : float
        Text and marks at this multiple of their laptop size (1.25 or so for a room).
    theme : str
        ``"light"`` or ``"dark"``: the palette and background.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (``ax.figure`` when ``ax`` was given). Nothing is registered with pyplot.
    """
    model = build(history, messages)
    if ax is None:
        return paint(plan(model, width=width, scale=scale, title=title, highlight=highlight,
                                      now=now), theme)
    fig = ax.figure
    box = ax.get_position()
    w, h = box.width * fig.get_figwidth() * 100, box.height * fig.get_figheight() * 100
    if title:
        ax.set_title(title, loc="left", fontsize=16 * scale * 0.72, fontweight="bold")
    paint(plan(model, width=w, scale=scale, highlight=highlight, now=now, height=h), theme, ax=ax)
    return fig


@dataclass(frozen=True)
class Picture:
    """A rendered timeline and where its rows are, for views that react to the pointer.

    Attributes
    ----------
    png : bytes
        The PNG on a light background (the same bytes :func:`to_png` gives).
    width, height : int
        Its size in image pixels.
    rows : dict
        ``{row ident: (top, bottom)}``: each message's band, in image pixels from the top (the
        idents of :func:`stories`).
    dark : bytes or None
        The same picture on a dark background, when asked for.
    min_text_px : float
        Its smallest text, in CSS px at its natural size (``width / density`` CSS px wide).
    density : float
        Image pixels per CSS pixel (``dpi / 100``).
    legend : tuple of str
        The words of its legend (of the picture's key, when drawn apart), in order.
    """

    png: bytes
    width: int
    height: int
    rows: dict[str, tuple[int, int]]
    dark: bytes | None = None
    min_text_px: float = 0.0
    density: float = 1.0
    legend: tuple[str, ...] = ()

    def html(self, alt: str, *, caption: str = "", classes: str = "", img_attrs: str = "",
             img_class: str = "") -> str:
        """A ``<figure>`` holding both variants (see :mod:`sqslab.views.figures`)."""
        variants = [("light", self.png)] + ([("dark", self.dark)] if self.dark else [])
        return figure_html(variants, width=self.width / self.density, height=self.height / self.density,
                           alt=alt, min_text=self.min_text_px, density=self.density, caption=caption,
                           classes=classes, img_attrs=img_attrs, img_class=img_class)


def picture(history: History | Iterable[Event], *, dpi: float = 100, dark: bool = False,
            **kw: Any) -> Picture:
    """Render the timeline (and its dark variant, with ``dark=True``) and measure its rows.

    Parameters
    ----------
    history : History or iterable of Event
        The run to draw.
    dpi : float
        Resolution: 100 is one image pixel per CSS pixel; 200 gives a sharper picture of the same
        size on a high-density screen or a slide.
    dark : bool
        Draw the dark variant too (one layout, painted twice).
    **kw
        Passed to :func:`draw` (``title``, ``messages``, ``highlight``, ``now``, ``width``, ``scale``),
        ``compact=True`` for a live view short of room (shorter rows and legend words), and
        ``part="plot"`` / ``part="legend"`` (with ``key_width``) for the picture and its key apart.
    """
    kw.pop("theme", None)
    model = build(history, kw.pop("messages", None))
    p = plan(model, width=kw.get("width"), scale=kw.get("scale", 1.0), title=kw.get("title"),
             highlight=kw.get("highlight"), now=kw.get("now"), compact=kw.get("compact", False),
             part=kw.get("part", "all"), key_width=kw.get("key_width"))
    light = paint(p, "light")
    smallest = min_text_px(light)
    png, width, height = png_of(light, dpi)
    other = png_of(paint(p, "dark"), dpi)[0] if dark else None
    density = dpi / 100
    rows = {}
    for r, yc in p.rows:
        top, bottom = (yc - p.row_h / 2) * density, (yc + p.row_h / 2) * density
        rows[r.ident] = (max(0, int(round(top))), min(height, int(round(bottom))))
    return Picture(png, width, height, rows, other, smallest, density, tuple(words for _, words in p.entries))


def to_png(history: History | Iterable[Event], path: str | None = None, *, dpi: float = 100,
           theme: str = "light", **kw: Any) -> bytes:
    """Render the timeline as PNG bytes, and write them to ``path`` when given.

    Parameters
    ----------
    history : History or iterable of Event
        The run to draw.
    path : str or path-like, optional
        Where to write the PNG as well.
    dpi : float
        Resolution; 100 suits notebooks and feedback pages, 200 suits slides.
    theme : str
        ``"light"`` or ``"dark"``.
    **kw
        Passed to :func:`draw` (``title``, ``messages``, ``highlight``, ``now``, ``width``, ``scale``).

    Returns
    -------
    bytes
        The PNG. The same history gives the same bytes (no timestamp, no metadata).
    """
    data = png_of(draw(history, theme=theme, **kw), dpi)[0]
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)
    return data


def to_html(history: History | Iterable[Event], **kw: Any) -> str:
    """The timeline as a self-contained HTML ``<figure>`` for notebooks and feedback pages.

    Parameters
    ----------
    history : History or iterable of Event
        The run to draw.
    **kw
        Passed to :func:`picture` and :func:`draw` (``title``, ``messages``, ``highlight``,
        ``dpi``, ``width``, ``scale``).

    Returns
    -------
    str
        A ``<figure>`` holding the picture twice as an inline PNG (light and dark: the page shows
        the one of its theme, :mod:`sqslab.views.figures`) with alt text, and a ``<details>`` block
        with the text version (for screen readers, copying, and searching).
    """
    pic = picture(history, dark=True, **kw)
    story = html.escape(text(history, kw.get("messages")))
    caption = html.escape(kw["title"]) if kw.get("title") else "Message timeline"
    return pic.html(alt_text(history), classes="sqslab-timeline", caption=(
        f"<details><summary>{caption} as text</summary>"
        f'<pre style="white-space:pre-wrap;overflow-wrap:break-word;word-break:normal">{story}</pre></details>'))


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
