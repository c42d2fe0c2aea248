"""The timeline's picture, painted: a :class:`~.layout.Plan` drawn in a palette (light or dark).

Everything is drawn on a :class:`matplotlib.figure.Figure` in pixel coordinates (no pyplot and no
global state), so it is safe in the grader's worker threads and the same in a notebook.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from . import style
from .layout import BAR, Plan


def paint(p: Plan, theme: str | style.Palette = "light", ax=None) -> Figure:
    """The figure of plan ``p`` in a palette (``"light"``, ``"dark"``), or drawn into ``ax``."""
    pal = style.palette(theme)
    k = p.scale
    if ax is None:
        fig = Figure(figsize=(p.width / 100, p.height / 100), dpi=100, facecolor=pal.background)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
    else:
        fig = ax.figure
    ax.set_xlim(0, p.width)
    ax.set_ylim(p.height, 0)
    ax.set_axis_off()
    ax.set_facecolor(pal.background)
    colours = {i: style.consumer_style(pal, i) for i in range(len(p.consumers))}
    text_colour = {i: style.readable(c, pal.background) for i, (c, _) in colours.items()}
    right = p.width

    def band(spans, colour, gid, z, x0=0.0, x1=right, vertical=False):
        if not spans:
            return
        if vertical:
            verts = [[(a, p.plot_top), (b, p.plot_top), (b, p.plot_bottom), (a, p.plot_bottom)] for a, b in spans]
        else:
            verts = [[(x0, a), (x1, a), (x1, b), (x0, b)] for a, b in spans]
        coll = PolyCollection(verts, facecolors=[colour], linewidths=0, zorder=z)
        coll.set_gid(gid)
        ax.add_collection(coll, autolim=False)

    band(p.stripes, pal.stripe, "stripes", 0, x0=p.x0 - 6 * k)
    band(p.highlighted, pal.highlight, "highlight", 0.1, x0=p.x0 - 6 * k)
    band(p.instants, pal.instant, "instant", 0.2, vertical=True)
    half = p.row_h * BAR
    for kind, segs in p.presence.items():
        if segs:
            coll = LineCollection([[(a, y), (b, y)] for a, b, y in segs], colors=[pal.line], linewidths=1.4 * k,
                                  linestyles="-" if kind == "queue" else (0, (1.5, 2.5)), zorder=1)
            coll.set_gid(kind)
            ax.add_collection(coll, autolim=False)
    for i, (colour, hatch) in colours.items():
        bars = [[(a, y - half), (b, y - half), (b, y + half), (a, y + half)] for a, b, y, j in p.thick if j == i]
        if bars:
            coll = PolyCollection(bars, facecolors=[style.tint(colour, pal.background, 0.72)],
                                  edgecolors=[colour], linewidths=1.2 * k, hatch=hatch, zorder=2)
            coll.set_hatchcolor(style.tint(colour, pal.background, 0.3))
            coll.set_hatch_linewidth(0.8 * k)
            coll.set_gid(f"bars:{p.consumers[i]}")
            ax.add_collection(coll, autolim=False)
        thin = [[(a, y), (b, y)] for a, b, y, j in p.thin if j == i]
        if thin:
            coll = LineCollection(thin, colors=[colour], linewidths=3.2 * k, zorder=2.1, capstyle="butt")
            coll.set_gid(f"thin:{p.consumers[i]}")
            ax.add_collection(coll, autolim=False)
        # Below the bars: the row's next holder may hold it meanwhile (that is the point).
        low = half + 2.5 * k + 2.5 * k * (i % 2)
        over = [[(a, y + low), (b, y + low)] for a, b, y, j in p.overruns if j == i]
        if over:
            coll = LineCollection(over, colors=[colour], linewidths=2.4 * k, linestyles=(0, (4, 3)), zorder=2.1)
            coll.set_gid(f"overrun:{p.consumers[i]}")
            ax.add_collection(coll, autolim=False)
    if p.orphans:
        coll = PolyCollection([[(a, y - half), (b, y - half), (b, y + half), (a, y + half)] for a, b, y in p.orphans],
                              facecolors=["none"], edgecolors=[pal.muted], linewidths=1.2 * k,
                              linestyles=(0, (3, 2)), zorder=2)
        coll.set_gid("orphans")
        ax.add_collection(coll, autolim=False)

    # Marks: one Line2D per style (and per consumer for the consumer-coloured ones).
    groups: dict[tuple[str, int | None], tuple[list[float], list[float]]] = {}
    for kind, x, y, who in p.marks:
        key = (kind, who if kind in ("visibility", "released") else None)
        xs, ys = groups.setdefault(key, ([], []))
        xs.append(x)
        ys.append(y)
    order = {kind: n for n, (kind, _) in enumerate(style.MARKS)}
    for (kind, who), (xs, ys) in sorted(groups.items(), key=lambda g: (order[g[0][0]], g[0][1] or 0)):
        colour = colours[who][0] if who is not None else None
        ax.plot(xs, ys, linestyle="none", zorder=5 if kind not in ("visibility",) else 4, gid=kind,
                **style.mark(kind, pal, k, colour))
    if p.rings:
        ax.plot(*zip(*p.rings), linestyle="none", marker="o", markersize=26 * 0.72 * k, markerfacecolor="none",
                markeredgecolor=pal.orange, markeredgewidth=2.2 * k, zorder=6, gid="ring")

    # Breaks cut through the rows; the axis is drawn in pieces with "//" at each break.
    for a, b, _ in p.breaks:
        ax.add_patch(Rectangle((a + 4 * k, p.plot_top), b - a - 8 * k, p.plot_bottom - p.plot_top,
                               facecolor=pal.background, edgecolor="none", zorder=3, gid="break"))
        for xx in (a + 4 * k, b - 4 * k):
            ax.plot([xx, xx], [p.plot_top, p.plot_bottom], color=pal.line, lw=1.0 * k,
                    linestyle=(0, (2, 3)), zorder=3.1)
        for xx in (a + 1 * k, b - 7 * k):
            ax.plot([xx, xx + 6 * k], [p.axis_y + 5 * k, p.axis_y - 5 * k], color=pal.muted, lw=1.4 * k, zorder=7)
    ax.add_collection(LineCollection([[(a, p.axis_y), (b, p.axis_y)] for a, b in p.axis_segments],
                                     colors=[pal.muted], linewidths=1.2 * k, zorder=6), autolim=False)
    if p.ticks:
        ax.add_collection(LineCollection([[(x, p.axis_y), (x, p.axis_y + 5 * k)] for x, _ in p.ticks],
                                         colors=[pal.muted], linewidths=1.2 * k, zorder=6), autolim=False)
    brackets = [[(a + axis_pad(k), p.axis_y + 2.5 * k), (b - axis_pad(k), p.axis_y + 2.5 * k)] for a, b in p.instants]
    if brackets:
        coll = LineCollection(brackets, colors=[pal.muted], linewidths=4 * k, zorder=6.5, capstyle="butt")
        coll.set_gid("same-instant")
        ax.add_collection(coll, autolim=False)
    if p.now is not None:
        ax.plot([p.now[0]] * 2, [p.plot_top - 2 * k, p.plot_bottom], color=pal.ink, lw=1.4 * k,
                linestyle=(0, (5, 3)), zorder=6.5, gid="now")
    if p.empty:
        ax.text((p.x0 + right) / 2, (p.plot_top + p.plot_bottom) / 2, "nothing happened yet: no messages",
                ha="center", va="center", color=pal.muted, fontsize=style.LABEL * k * 0.72)

    for lb in p.title + p.labels:
        colour = (text_colour[int(lb.colour.split(":")[1])] if lb.colour.startswith("consumer:")
                  else style.readable(getattr(pal, lb.colour), pal.background))
        ax.text(lb.x, lb.y, lb.text, ha=lb.ha, va=lb.va, fontsize=lb.size * 0.72, color=colour,
                fontweight="bold" if lb.bold else "normal", fontstyle="italic" if lb.italic else "normal",
                zorder=8, gid=lb.gid or None)
    _paint_legend(ax, p, pal, colours)
    return fig


def axis_pad(k: float) -> float:
    return 6 * k


def _paint_legend(ax, p: Plan, pal: style.Palette, colours: dict[int, tuple[str, str]]) -> None:
    k = p.scale
    w, h = 28 * k, 13 * k
    for key, _, x, y in p.legend:
        kind = key[0]
        mid = (x + w / 2, y)
        if kind == "hold":
            colour, hatch = colours[key[1]]
            patch = Rectangle((x, y - h / 2), w, h, facecolor=style.tint(colour, pal.background, 0.72),
                              edgecolor=colour, hatch=hatch, linewidth=1.2 * k, zorder=9)
            patch.set_hatchcolor(style.tint(colour, pal.background, 0.3))
            ax.add_patch(patch)
        elif kind == "thin":
            colour = colours[key[1]][0] if key[1] is not None else pal.ink
            ax.add_line(Line2D([x, x + w], [y, y], color=colour, lw=3.2 * k, zorder=9, solid_capstyle="butt"))
        elif kind == "overrun":
            ax.add_line(Line2D([x, x + w], [y, y], color=pal.ink, lw=2.4 * k, linestyle=(0, (4, 3)), zorder=9))
        elif kind == "orphan":
            ax.add_patch(Rectangle((x, y - h / 2), w, h, facecolor="none", edgecolor=pal.muted,
                                   linewidth=1.2 * k, linestyle=(0, (3, 2)), zorder=9))
        elif kind in ("queue", "dlq"):
            ax.add_line(Line2D([x, x + w], [y, y], color=pal.line, lw=1.4 * k,
                               linestyle="-" if kind == "queue" else (0, (1.5, 2.5)), zorder=9))
        elif kind == "mark":
            ax.add_line(Line2D([mid[0]], [y], linestyle="none", zorder=9, **style.mark(key[1], pal, k)))
        elif kind == "instant":
            ax.add_patch(Rectangle((x, y - h / 2), w, h, facecolor=pal.instant, edgecolor="none", zorder=9))
            ax.add_line(Line2D([x + 3 * k, x + w - 3 * k], [y + h / 2, y + h / 2], color=pal.muted, lw=4 * k,
                               zorder=9, solid_capstyle="butt"))
        elif kind == "break":
            for xx in (x + 6 * k, x + w - 12 * k):
                ax.add_line(Line2D([xx, xx + 6 * k], [y + 5 * k, y - 5 * k], color=pal.muted, lw=1.4 * k, zorder=9))
        elif kind == "ring":
            ax.add_line(Line2D([mid[0]], [y], linestyle="none", marker="o", markersize=18 * 0.72 * k,
                               markerfacecolor="none", markeredgecolor=pal.orange, markeredgewidth=2.2 * k, zorder=9))
        elif kind == "highlight":
            ax.add_patch(Rectangle((x, y - h / 2), w, h, facecolor=pal.highlight, edgecolor="none", zorder=9))
        elif kind == "now":
            ax.add_line(Line2D([mid[0], mid[0]], [y - h / 2 - 2 * k, y + h / 2 + 2 * k], color=pal.ink, lw=1.4 * k,
                               linestyle=(0, (5, 3)), zorder=9))
