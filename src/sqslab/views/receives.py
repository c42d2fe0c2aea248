"""A picture of retries: a dot for every receive of every message, one panel per run, time across.

Lesson 4 uses it to compare retry policies during an outage (``sqslab.lessons.heartbeat.retry_demo``):
fixed delays that make every consumer retry at once, against backoff with jitter. Like the
timeline it is drawn for a laptop's output column (800 CSS px, text of 12 px and more) in a light
and a dark variant (:mod:`sqslab.views.figures`).
"""

from __future__ import annotations

from typing import Any

from .timeline import style

__all__ = ["plot_receives", "receives_alt_text", "show_receives"]


def _receive_times(history: Any) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    for e in history:
        if e.kind == "receive" and e.key:
            rows.setdefault(e.key, []).append(e.time)
    return rows


def plot_receives(runs: dict[str, Any], *, title: str | None = None, until: float | None = None,
                  shade: tuple[float, float] | None = None, theme: str = "light", width: float = 800,
                  scale: float = 1.0, shade_label: str = "the outage"):
    """One panel per run: a dot for every receive of every message, time across.

    Parameters
    ----------
    runs:
        ``{label: history}``, drawn top to bottom.
    title:
        A title over the panels.
    until:
        The right end of the time axis (default: the last receive of any run).
    shade:
        ``(start, end)`` of a stretch to shade in every panel (e.g. an outage), named in the legend
        by ``shade_label``.
    theme:
        ``"light"`` or ``"dark"``.
    width, scale:
        The width in CSS px, and the text's size as a multiple of a laptop's.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    pal = style.palette(theme)
    k = scale
    small, label = style.SMALL * k * 0.72, style.LABEL * k * 0.72   # in points at 100 dpi
    data = {name: _receive_times(h) for name, h in runs.items()}
    last = max((t for rows in data.values() for ts in rows.values() for t in ts), default=1.0)
    right = until if until is not None else last * 1.04 + 1
    most = max((len(rows) for rows in data.values()), default=1)
    panel = (16 * max(most, 1) + 40) * k                      # px per panel
    top = (50 if title else 26) * k
    bottom = 84 * k
    height = top + panel * len(data) + bottom
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor=pal.background)
    # Fixed margins rather than a constrained layout: the same picture, drawn several times faster.
    fig.subplots_adjust(left=90 * k / width, right=1 - 16 * k / width, top=1 - top / height,
                        bottom=bottom / height, hspace=34 * k / (panel - 34 * k))
    axes = fig.subplots(len(data), 1, sharex=True, squeeze=False)[:, 0]
    dot = style.readable(pal.consumers[0], pal.background, 3.0)
    band = style.tint(pal.consumers[1], pal.background, 0.75)
    for ax, (name, rows) in zip(axes, data.items()):
        ax.set_facecolor(pal.background)
        keys = sorted(rows, key=lambda key: (len(key), key))
        for y, key in enumerate(keys):
            ax.plot(rows[key], [y] * len(rows[key]), "o", markersize=6 * k * 0.72, color=dot)
        total = sum(len(v) for v in rows.values())
        ax.set_title(f"{name}: {total} receives", loc="left", fontsize=label, color=pal.ink, pad=4 * k)
        ax.set_yticks(range(len(keys)), keys, fontsize=small, color=pal.ink)
        ax.set_ylim(-0.7, len(keys) - 0.3)
        ax.set_xlim(0, right)
        if shade:
            ax.axvspan(shade[0], shade[1], color=band, lw=0, zorder=0)
        ax.grid(axis="x", color=style.tint(pal.line, pal.background, 0.6), lw=0.6)
        ax.tick_params(colors=pal.muted, labelsize=small, labelcolor=pal.ink)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(pal.muted)
    axes[-1].set_xlabel("simulated seconds", fontsize=small, color=pal.ink)
    handles = [Line2D([], [], linestyle="none", marker="o", markersize=6 * k * 0.72, color=dot,
                      label="a receive of that message")]
    if shade:
        handles.append(Patch(facecolor=band, edgecolor="none", label=shade_label))
    fig.legend(handles=handles, loc="lower center", ncols=len(handles), fontsize=small, frameon=False,
               labelcolor=pal.ink, bbox_to_anchor=(0.5, 0.0))
    if title:
        fig.suptitle(title, fontsize=style.TITLE * k * 0.72, color=pal.ink, fontweight="bold",
                     x=10 * k / width, ha="left", y=1 - 8 * k / height, va="top")
    return fig


def receives_alt_text(runs: dict[str, Any], *, title: str | None = None) -> str:
    """The alt text of :func:`plot_receives`: what each panel shows, in words."""
    parts = []
    for label, h in runs.items():
        rows = _receive_times(h)
        total = sum(len(v) for v in rows.values())
        last = max((t for ts in rows.values() for t in ts), default=0.0)
        parts.append(f"{label}: {total} receives of {len(rows)} message(s), the last at {last:.0f} s")
    head = f"{title}. " if title else ""
    return (f"{head}Receives over simulated time, one panel per run, one dot per receive. "
            + "; ".join(parts) + ".")


def show_receives(runs: dict[str, Any], **kw: Any) -> None:
    """Display :func:`plot_receives` in a notebook (light and dark), with alt text and the counts as text."""
    import html

    from IPython.display import display

    from .figures import figure_html, min_text_px, png_of

    variants, smallest, size = [], 0.0, (0, 0)
    for theme in ("light", "dark"):
        fig = plot_receives(runs, theme=theme, **kw)
        smallest = smallest or min_text_px(fig)
        png, w, h = png_of(fig, 100)
        variants.append((theme, png))
        size = (w, h)
    lines = []
    for label, h in runs.items():
        rows = _receive_times(h)
        counts = ", ".join(f"{k}: {len(v)}" for k, v in sorted(rows.items(), key=lambda kv: (len(kv[0]), kv[0])))
        lines.append(f"{label}: receives per message: {counts}")
    summary = "\n".join(lines)
    # An <img> with alt text (a bare image output has none), and the numbers as text beside it.
    page = figure_html(variants, width=size[0], height=size[1], alt=receives_alt_text(runs, title=kw.get("title")),
                       min_text=smallest, classes="sqslab-receives",
                       caption=f'<pre style="white-space:pre-wrap;word-break:normal">{html.escape(summary)}</pre>')
    display({"text/html": page, "text/plain": summary}, raw=True)
