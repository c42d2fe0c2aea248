"""Lesson 1's polling bench: what an almost-empty queue costs a consumer that short-polls, and one that long-polls.

A consumer's main loop asks SQS for messages over and over. A **short poll** (``WaitTimeSeconds=0``)
answers at once, usually with nothing when the queue is almost empty; a **long poll** (up to 20 s)
waits until a message is available and answers then (Developer Guide, "Amazon SQS short and long
polling"). Every request is a request, empty or not: :func:`poll_costs` runs a receive function in a
consumer's loop for a few simulated minutes on a queue where a few orders arrive now and then, and
counts the ``ReceiveMessage`` requests, the empty ones, and how long each order waited before a
consumer got it.

>>> from sqslab.lessons.polling import poll_costs, show_polls
>>> report = poll_costs(lambda sqs, url: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", []))
>>> report.requests, report.empty
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..exceptions import LabError
from ..faults import ClientHooks
from ..lab import Lab, lab_for, learner_code

__all__ = ["ARRIVALS", "Poll", "PollReport", "poll_costs", "show_polls"]

#: When the orders of :func:`poll_costs` arrive, in simulated seconds from the start: an almost-empty queue.
ARRIVALS = (15.0, 50.0, 95.0)
#: A loop that polls thousands of times a minute is not a loop the bench will run to the end.
MAX_REQUESTS = 2000
#: Numbers each run's queue across the process. A private lab opened inside another in this process
#: shares its moto (a nested mock keeps the data), so a name taken from the private lab's own count
#: came back on every call, and with the ids every lab seeds alike the fourth call in one kernel met
#: messages of earlier calls (a graded cell that passed three times failed the fourth).
_QUEUE_NUMBERS = itertools.count(1)


@dataclass
class Poll:
    """One ``ReceiveMessage`` request: when it was asked and answered (seconds from the start), its wait, what came."""

    start: float
    end: float
    wait: int
    messages: int


@dataclass
class PollReport:
    """What one polling loop cost on the almost-empty queue."""

    label: str
    seconds: float
    polls: list[Poll] = field(default_factory=list)
    arrivals: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)
    pause: float = 1.0
    #: The run's history: every request is on it as a note (``detail["poll"]``), with the receives and deletes.
    history: Any = None

    @property
    def requests(self) -> int:
        """How many ``ReceiveMessage`` requests the loop made."""
        return len(self.polls)

    @property
    def empty(self) -> int:
        """How many of them came back with no message."""
        return sum(1 for p in self.polls if not p.messages)

    @property
    def missed(self) -> list[str]:
        """Orders that arrived but were never received."""
        return [k for k in self.arrivals if k not in self.received]

    @property
    def longest_wait(self) -> float:
        """The longest time an order waited in the queue, visible, before a receive returned it (seconds, to 0.1 s)."""
        return round(max((self.received[k] - t for k, t in self.arrivals.items() if k in self.received),
                         default=0.0), 1)

    def __str__(self) -> str:
        got = (f"all {len(self.arrivals)} orders received" if not self.missed
               else f"{len(self.missed)} of {len(self.arrivals)} orders never received ({', '.join(self.missed)})")
        return (f"{self.label}: {self.requests} ReceiveMessage requests in {self.seconds / 60:g} simulated minutes, "
                f"{self.empty} of them empty; {got}, the longest wait {self.longest_wait:.1f} s")

    def __repr__(self) -> str:
        return f"<PollReport {self}>"


def poll_costs(receive: Callable[[Any, str], Sequence[dict]], *, label: str = "receive", seconds: float = 120,
               arrivals: Sequence[float] = ARRIVALS, pause: float = 1.0, lab: Lab | None = None) -> PollReport:
    """Run ``receive`` in a consumer's loop on an almost-empty queue for ``seconds``; count its requests.

    Parameters
    ----------
    receive:
        ``receive(sqs, queue_url)`` makes one receive and returns the messages it got (a list of
        message dicts, as in ``response.get("Messages", [])``).
    label:
        The loop's name in the report.
    seconds:
        How long the loop runs, in simulated seconds.
    arrivals:
        When orders arrive (sent at the start with ``DelaySeconds``, so SQS makes each visible then).
    pause:
        What the loop does after a receive that came back empty without any time passing (a short
        poll): it waits this long before asking again, as most short-polling loops do (one without a
        pause asks as fast as the network lets it). After messages, or after a long poll, it asks again
        at once.
    lab:
        The lab to run in (default: a private one, never the notebook's).

    Returns
    -------
    PollReport
        Every request (when, how long it waited, how many messages), when each order arrived and
        when it was first received.
    """
    if any(not 0 <= t <= 900 for t in arrivals):
        raise LabError("arrivals are seconds from the start, between 0 and 900 (SQS's longest DelaySeconds).")
    with lab_for(lab) as lab:
        saved = lab.begin_run()
        try:
            return _run(lab, receive, label, float(seconds), [float(t) for t in arrivals], float(pause))
        finally:
            lab.end_run(saved)


def _run(lab: Lab, receive, label: str, seconds: float, arrivals: list[float], pause: float) -> PollReport:
    queue = lab.queue(f"polls-{next(_QUEUE_NUMBERS)}")
    report = PollReport(label, seconds, pause=pause, history=lab.history)
    start = lab.clock.now()
    elapsed = lambda: round(lab.clock.now() - start, 6)  # noqa: E731
    for i, t in enumerate(arrivals):
        key = f"order-{i + 1}"
        lab.send(queue, {"order_id": key, "amount": 10 * (i + 1)}, DelaySeconds=int(t))
        report.arrivals[key] = t
    sqs = lab.client("sqs", actor="consumer-1")
    hooks = ClientHooks(sqs)
    asked: dict[str, Any] = {}

    def before(params=None, **_):
        asked["start"], asked["wait"] = elapsed(), int((params or {}).get("WaitTimeSeconds") or 0)

    def after(parsed=None, **_):
        got = (parsed or {}).get("Messages") or []
        report.polls.append(Poll(asked.get("start", elapsed()), elapsed(), asked.get("wait", 0), len(got)))
        lab.history.append("consumer-1", "note", text=f"ReceiveMessage (WaitTimeSeconds={asked.get('wait', 0)}): "
                           f"{len(got)} message(s)", poll=True, messages=len(got))
        for m in got:
            key = json.loads(m["Body"]).get("order_id")  # the bench's own orders
            report.received.setdefault(key, elapsed())

    hooks.register("before-parameter-build.sqs.ReceiveMessage", before)
    hooks.register("after-call.sqs.ReceiveMessage", after)
    try:
        while elapsed() < seconds:
            if report.requests > MAX_REQUESTS:
                raise LabError(f"{label} made more than {MAX_REQUESTS} requests in {elapsed():g} simulated seconds: "
                               "is it polling in a loop of its own? One call, one receive.")
            before_call = elapsed()
            sqs._sqslab_state["calls"], sqs._sqslab_state["budget"] = 0, 50  # one call, one receive
            with learner_code():
                got = receive(sqs, queue.url)
            if got is None or not all(isinstance(m, dict) and "ReceiptHandle" in m for m in got):
                raise LabError(f"{label} should return the list of messages it received (response.get('Messages', "
                               f"[])), not {got!r:.80}.")
            for m in got:
                sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=m["ReceiptHandle"])
            if not got and elapsed() == before_call:
                lab.clock.advance(pause)
    finally:
        hooks.remove()
        lab.release(sqs)
    return report


def show_polls(*reports: PollReport) -> None:
    """Display the requests of several loops, one strip each (a tick per request), with alt text and a text summary.

    Drawn light and dark (the page shows the one of its theme) at 800 px, the laptop's output column.
    """
    import html

    from IPython.display import HTML, display

    from ..views.figures import figure_html, min_text_px, png_of

    variants, smallest, size = [], 0.0, (0, 0)
    for theme in ("light", "dark"):
        fig = plot_polls(*reports, theme=theme)
        smallest = min_text_px(fig)
        png, width, height = png_of(fig, 100)
        variants.append((theme, png))
        size = (width, height)
    summary = html.escape("\n".join(str(r) for r in reports))
    display(HTML(figure_html(variants, width=size[0], height=size[1], alt=polls_alt_text(*reports),
                             min_text=smallest)
                 # Wrapped between words (JupyterLab's own style for outputs breaks them anywhere).
                 + f"<pre style='white-space:pre-wrap;word-break:normal;overflow-wrap:break-word'>{summary}</pre>"))


def polls_alt_text(*reports: PollReport) -> str:
    """The alt text of :func:`plot_polls`: what each strip shows, in words."""
    parts = [f"{r.label}: {r.requests} requests, {r.empty} empty" for r in reports]
    return ("ReceiveMessage requests over simulated time, one strip per loop, a tick per request (hollow when it "
            "came back empty, filled when it brought an order), triangles where orders arrived. " + "; ".join(parts) + ".")


def plot_polls(*reports: PollReport, theme: str = "light"):
    """One strip per loop: a tick per request at the moment it was answered; arrivals marked above.

    Returns a matplotlib Figure (no pyplot state), 800 px wide at 100 dpi, on ``theme``'s background
    (``"light"`` or ``"dark"``: the timeline's palettes, every colour 4.5:1 or more on its background).
    """
    from matplotlib.figure import Figure

    from ..views.timeline.style import palette

    colours = palette(theme)
    height = 1.1 + 0.9 * len(reports)
    fig = Figure(figsize=(8.0, height), facecolor=colours.background)
    fig.subplots_adjust(left=0.22, right=0.97, top=1 - 0.3 / height, bottom=0.95 / height)
    ax = fig.subplots()
    ax.set_facecolor(colours.background)
    right = max((r.seconds for r in reports), default=1.0)
    for y, r in enumerate(reversed(reports)):
        empty = [p.end for p in r.polls if not p.messages]
        full = [p.end for p in r.polls if p.messages]
        ax.plot(empty, [y] * len(empty), "|", markersize=14, color=colours.line, markeredgewidth=0.8)
        ax.plot(full, [y] * len(full), "|", markersize=18, color=colours.consumers[0], markeredgewidth=2.5)
        ax.plot(list(r.arrivals.values()), [y + 0.38] * len(r.arrivals), "v", markersize=6, color=colours.orange)
    ax.set_yticks(range(len(reports)), [f"{r.label}\n{r.requests} requests" for r in reversed(reports)], fontsize=11,
                  color=colours.ink)
    ax.set_ylim(-0.6, len(reports) - 0.3)
    ax.set_xlim(0, right)
    ax.set_xlabel("simulated seconds\ngrey tick: an empty answer;  blue tick: an order came;  orange ▼: an order arrived",
                  fontsize=11, color=colours.ink)
    ax.tick_params(axis="x", labelsize=11, colors=colours.ink)
    ax.tick_params(axis="y", colors=colours.ink)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(colours.line)
    return fig
