"""A picture of retries: a dot for every receive of every message, one panel per run, time across.

Lesson 4 uses it to compare retry policies during an outage (``sqslab.lessons.heartbeat.retry_demo``):
fixed delays that make every consumer retry at once, against backoff with jitter.
"""

from __future__ import annotations

from typing import Any


def _receive_times(history: Any) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    for e in history:
        if e.kind == "receive" and e.key:
            rows.setdefault(e.key, []).append(e.time)
    return rows


def plot_receives(runs: dict[str, Any], *, title: str | None = None, until: float | None = None,
                  shade: tuple[float, float] | None = None):
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
        ``(start, end)`` of a stretch to shade in every panel (e.g. an outage).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    data = {label: _receive_times(h) for label, h in runs.items()}
    last = max((t for rows in data.values() for ts in rows.values() for t in ts), default=1.0)
    right = until if until is not None else last * 1.04 + 1
    height = 0.9 + 1.35 * len(data)
    fig = Figure(figsize=(8.5, height))
    # Fixed margins rather than a constrained layout: the same picture, drawn several times faster.
    fig.subplots_adjust(left=0.11, right=0.98, top=1 - (0.55 if title else 0.3) / height,
                        bottom=0.55 / height, hspace=0.55)
    axes = fig.subplots(len(data), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (label, rows) in zip(axes, data.items()):
        keys = sorted(rows, key=lambda k: (len(k), k))
        for y, key in enumerate(keys):
            ax.plot(rows[key], [y] * len(rows[key]), "o", markersize=4, color="#0072B2")
        total = sum(len(v) for v in rows.values())
        ax.set_title(f"{label}: {total} receives", loc="left", fontsize=10)
        ax.set_yticks(range(len(keys)), keys, fontsize=7)
        ax.set_ylim(-0.7, len(keys) - 0.3)
        ax.set_xlim(0, right)
        if shade:
            ax.axvspan(shade[0], shade[1], color="#E69F00", alpha=0.15, lw=0)
        ax.grid(axis="x", color="#dddddd", lw=0.6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[-1].set_xlabel("simulated seconds")
    if title:
        fig.suptitle(title, fontsize=11)
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
    """Display :func:`plot_receives` in a notebook, with alt text and a text summary."""
    import base64
    import html
    import io

    from IPython.display import display

    fig = plot_receives(runs, **kw)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, facecolor="white", metadata={"Software": None})
    lines = []
    for label, h in runs.items():
        rows = _receive_times(h)
        counts = ", ".join(f"{k}: {len(v)}" for k, v in sorted(rows.items(), key=lambda kv: (len(kv[0]), kv[0])))
        lines.append(f"{label}: receives per message: {counts}")
    summary = "\n".join(lines)
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = html.escape(receives_alt_text(runs, title=kw.get("title")), quote=True)
    # An <img> with alt text (a bare image output has none), and the numbers as text beside it.
    display({"text/html": (f'<figure style="margin:0"><img src="data:image/png;base64,{png}" alt="{alt}" '
                           f'style="max-width:100%;height:auto"><figcaption><pre>{html.escape(summary)}</pre>'
                           "</figcaption></figure>"),
             "text/plain": summary}, raw=True)
