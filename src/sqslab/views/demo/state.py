"""What the demo shows: the consumer versions, the states of a message, a lane, a message's row.

Plain data, shared by the session (:mod:`.session`) and the widget (``sqslab.views.widgets``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...faults import DEFAULT_POINTS, Fault
from ...scenario import Process

__all__ = ["VERSIONS", "STATES", "FAULT_MENU", "Lane", "MessageState"]

#: The consumer versions a lane can run, with what each one teaches.
VERSIONS: dict[str, str] = {
    "naive": "lesson 1: receive, charge, delete; a crash between the charge and the delete charges twice",
    "delete_first": "lesson 1's tempting fix: delete, then charge; a crash in between loses the order",
    "idempotent": "lesson 2: records the order's key in the charge's own transaction; charges once",
    "heartbeat": "lesson 4: extends the visibility timeout while the work runs; no second consumer gets it",
}

#: What a message can be doing, with the word and the symbol a view shows for it (never colour alone).
STATES: dict[str, tuple[str, str]] = {
    "visible": ("●", "visible"),
    "in_flight": ("◐", "in flight"),
    "delayed": ("◷", "delayed"),
    "deleted": ("✓", "deleted"),
    "dlq": ("▼", "in the DLQ"),
    "gone": ("○", "gone"),
}

#: The fault points a lane can be crashed at, in the order a message meets them.
FAULT_MENU: tuple[str, ...] = DEFAULT_POINTS


@dataclass
class Lane:
    """One consumer slot of the demo: the process running in it (if any) and what it runs.

    Attributes
    ----------
    number : int
        1, 2, ...
    version : str
        A key of :data:`VERSIONS`.
    process : Process or None
        The consumer process running in the lane; None while the lane is stopped.
    crash : tuple or None
        ``(point, message position or None)``: the fault armed for this lane until it fires.
    last : str
        What the lane did last, as a sentence.
    """

    number: int
    version: str
    process: Process | None = None
    crash: tuple[str, int | None] | None = None
    last: str = "stopped"
    busy: bool = False
    _armed: Fault | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        """True while a consumer process runs in the lane."""
        return self.process is not None

    @property
    def name(self) -> str:
        """``"lane 1"``."""
        return f"lane {self.number}"


@dataclass(frozen=True)
class MessageState:
    """Where one message is now, and how many times its order was charged.

    Attributes
    ----------
    ident, label, key : str
        The message's row in the timeline (:class:`sqslab.views.timeline.Story`).
    message_id : str or None
        Its MessageId now (a redrive gives it a new one).
    state : str
        A key of :data:`STATES`.
    seconds_left : float or None
        In flight: until its lease runs out; delayed: until it becomes visible.
    holder : str or None
        In flight: the consumer process holding it.
    receives : int
        How many times it was received (its ApproximateReceiveCount).
    effects : int
        Committed charges of its order, read from the effect database.
    verdict : str
        ``"once"``, ``"twice"`` (charged more than once), ``"lost"`` (never charged and gone),
        ``"waiting"`` (not charged yet, still somewhere) or ``"unkeyed"`` (no order id).
    story : str
        Its line of the timeline's text version.
    """

    ident: str
    label: str
    key: str | None
    message_id: str | None
    state: str
    seconds_left: float | None
    holder: str | None
    receives: int
    effects: int
    verdict: str
    story: str

    @property
    def bad(self) -> bool:
        """True when the checker would fail this message: charged twice, or lost."""
        return self.verdict in ("twice", "lost")

    def state_words(self, short: bool = False) -> str:
        """The state in words, e.g. ``"in flight, held by consumer-1, 12 s left"`` (``short``:
        ``"in flight, 12 s left"``, for a table cell; the timeline shows who holds it)."""
        words = STATES[self.state][1]
        if self.state == "in_flight":
            if short:
                return f"{words}, {seconds_words(self.seconds_left)} left"
            holder = f", held by {self.holder}" if self.holder else ""
            return f"{words}{holder}, {seconds_words(self.seconds_left)} left"
        if self.state == "delayed":
            return f"{words}, visible in {seconds_words(self.seconds_left)}"
        return words

    def count_words(self) -> str:
        """The charge count in words, e.g. ``"charged 2 times: TWICE"``."""
        n = self.effects
        times = f"charged {n} time{'s' * (n != 1)}"
        return {"twice": f"{times}: TWICE", "lost": f"{times}: LOST", "once": f"{times}: once",
                "waiting": "not charged yet", "unkeyed": "no order id"}[self.verdict]

    def describe(self) -> str:
        """One line for the text version: ``order-2: in flight, ...; charged 1 time: once``."""
        return f"{self.label}: {self.state_words()}; {self.count_words()}"


def seconds_words(value: float | None) -> str:
    if value is None:
        return "?"
    value = max(value, 0.0)
    return f"{value:.0f} s" if value >= 10 or value == int(value) else f"{value:.1f} s"


