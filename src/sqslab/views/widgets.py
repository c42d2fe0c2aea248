"""The demo widget: a :class:`~sqslab.views.demo.DemoSession` on screen, for the mouse and the keyboard.

>>> from sqslab.views.demo import DemoSession        # doctest: +SKIP
>>> from sqslab.views.widgets import DemoView
>>> demo = DemoSession(version="naive")
>>> DemoView(demo)                              # the last line of a cell shows it

Made for a room as much as for a laptop: the controls sit beside the messages and the timeline,
so all three are on one screen of a projector (1024 x 576 CSS px), in type that follows
JupyterLab's content size (larger in presentation mode and in ``make demo``'s layout); the
rarely used controls fold away under "More controls". The look is :mod:`.widget_look`.

The view holds no state of its own beyond which message is selected: every button calls one
method of the session, and after every action (a button, or a call from another cell) it redraws
itself from the session, which reads the mock's queues, the effect database, the checker and the
history. The lifecycle timeline is ``sqslab.views.timeline``'s own picture (light and dark), drawn
with the clock's "now" line; hovering a message's row shows that message's history (the text
version's line), and clicking the message's button selects it: its row is highlighted and its
story shown. A lane's crash lists show the crash armed for it, and go back to "no crash" once it
has fired.

For every learner:

* **Keyboard.** Every control is a native button, checkbox or drop-down list with a visible label
  and a tooltip: Tab and Shift+Tab move between them, Enter or Space presses a button or ticks a
  box, the arrow keys choose in a list. Controls are never disabled and never rebuilt while the
  view lives, so the keyboard focus stays where it was after an action; a button that does not
  apply says why in the status line.
* **Not by colour alone.** A state is a symbol and a word (``◐ in flight, 12 s left``), a count
  that turned red also says ``✗ TWICE`` or ``✗ LOST``, a lane says ``▶ running`` or ``■ stopped``.
* **Text.** The picture has alt text, a text version of the whole timeline is one toggle away,
  and :meth:`DemoSession.text` prints what the widget shows.
"""

from __future__ import annotations

import html
import itertools
from typing import Any

import ipywidgets as w

from ..faults import FAULT_POINTS
from . import timeline
from .cells import after_cell, cell_running
from .demo import FAULT_MENU, VERSIONS, DemoSession, MessageState
from .widget_look import CSS, charges_html, colour, state_html

__all__ = ["DemoView", "demo_view"]

#: The timeline's size in the widget: it shares the width with the controls, and its text is a
#: tenth larger than in a notebook (14 px or more), for the back of a room.
PICTURE_WIDTH = 420
PICTURE_SCALE = 1.1

_map_ids = itertools.count(1)


def _button(description: str, tooltip: str, handler, *, style: str = "", width: str = "auto") -> w.Button:
    b = w.Button(description=description, tooltip=tooltip, button_style=style,
                 layout=w.Layout(width=width, min_width="fit-content"))
    b.on_click(lambda _b: handler())
    return b


def _line(children: list, name: str = "") -> w.HBox:
    box = w.HBox(children, layout=w.Layout(flex_flow="row wrap", align_items="center", grid_gap="4px"))
    if name:
        box.add_class(name)
    return box


class DemoView:
    """The demo widget for one :class:`~sqslab.views.demo.DemoSession`.

    Parameters
    ----------
    session : DemoSession
        The session the buttons drive.
    title : str, optional
        A heading over the widget.
    picture : bool
        Draw the lifecycle timeline (turn off for a faster view on a slow machine).
    dpi : int
        The timeline's resolution (100: one image pixel per CSS pixel; 200 for a sharper
        picture of the same size on a high-density screen).
    width, scale : float
        The timeline's width in CSS px and its text's size (1: a notebook's).
    """

    def __init__(self, session: DemoSession, *, title: str | None = None, picture: bool = True,
                 dpi: int = 100, width: float = PICTURE_WIDTH, scale: float = PICTURE_SCALE):
        self.session = session
        self.title = title or "Live demo: one queue, its dead-letter queue, and the consumers"
        self.picture = picture
        self.dpi = dpi
        self.width, self.scale = width, scale
        self.selected: str | None = None
        self.last = "Ready. Use the buttons, or the keyboard: Tab moves between controls, Enter presses."
        self._acting = False
        self._pending = False
        self._build()
        session.on_change(self._session_changed)
        self.refresh()

    # -- building ----------------------------------------------------------------------------------
    def _build(self) -> None:
        s = self.session
        self.header = w.HTML()
        self.status = w.HTML(layout=w.Layout(width="100%"))
        self.status.add_class("sqslab-status-box")
        self.help = w.HTML(
            "<small>Keyboard: <kbd>Tab</kbd> / <kbd>Shift</kbd>+<kbd>Tab</kbd> move between controls, "
            "<kbd>Enter</kbd> or <kbd>Space</kbd> presses a button, the arrow keys choose in a list. "
            "Hover a message's row in the timeline, or press its button, to see its history.</small>")

        # the producer
        self.delay = w.Dropdown(options=[("no delay", 0), ("delay 10 s", 10), ("delay 60 s", 60)], value=0,
                                description="Delay", tooltip="DelaySeconds of the next sends (standard queues)",
                                layout=w.Layout(width="auto"), style={"description_width": "initial"})
        self.timeout = w.Checkbox(value=False, description="the first send times out (the producer retries)",
                                  indent=False, tooltip="inject send_timeout: SQS accepts the message, the "
                                  "producer hears nothing and sends it again",
                                  layout=w.Layout(width="auto"))
        self.dedup = w.Dropdown(options=[("same ID (from the order)", True), ("fresh ID per attempt", False)],
                                value=True, description="Retry's dedup ID",
                                tooltip="FIFO: the MessageDeduplicationId a retried send carries",
                                layout=w.Layout(width="auto"), style={"description_width": "initial"})
        producer = [
            _button("Send an order", "the producer sends one new order to the queue", lambda: self._send(1),
                    style="primary"),
            _button("Send 3 orders", "the producer sends three new orders to the queue", lambda: self._send(3)),
            _button('Poison ("20.00")', "the producer sends an order whose amount is a decimal string: poison to "
                    "parser version 1, fine for version 2", lambda: self._send(1, poison=True)),
        ]

        # the clock
        clock = []
        for seconds in (1, 10, 31):
            clock.append(_button(f"+{seconds} s", f"let {seconds} simulated seconds pass",
                                 lambda n=seconds: self._act(s.advance, n)))
        clock.append(_button("Next visible", "move the clock just past the moment the "
                             "next message in flight or delayed becomes visible",
                             lambda: self._act(s.advance_to_next)))

        # the lanes
        self.lane_rows = [_LaneRow(self, ln.number) for ln in s.lanes]
        everyone = [
            _button("Step every running lane", "one step of each running lane, in lane order",
                    lambda: self._act(s.step_all), style="primary"),
            _button("Run until empty", "step the running lanes in turn, moving the clock when nothing is "
                    "visible, until the queue is empty", lambda: self._act(s.run)),
        ]

        # the dead-letter queue
        dlq = [
            _button("Deploy parser v2", "deploy the parser fix (version 2): from now on an amount like \"20.00\" "
                    "is parsed, not poison",
                    lambda: self._act(s.deploy_fix)),
            _button("Redrive the DLQ", "StartMessageMoveTask: move every message of the dead-letter queue "
                    "back to the queue", lambda: self._act(s.redrive), style="warning"),
        ]

        # what a demo seldom needs, folded away
        more = [self.timeout, self.dedup if s.fifo else self.delay,
                *[r.version for r in self.lane_rows],
                _button("Use the naive consumer everywhere", VERSIONS["naive"], lambda: self._use_everywhere("naive")),
                _button("Use the idempotent consumer everywhere", VERSIONS["idempotent"],
                        lambda: self._use_everywhere("idempotent"))]
        self.more = w.VBox([_line([c]) for c in more], layout=w.Layout(display="none"))
        self.more_toggle = w.ToggleButton(value=False, description="More controls",
                                          tooltip="the producer's retry and delay, and one consumer for every lane",
                                          layout=w.Layout(width="auto"))
        self.more_toggle.observe(self._more_changed, names="value")

        # the messages
        self.grid = w.GridBox(layout=w.Layout(grid_template_columns="minmax(6em, max-content) minmax(0, 1fr) "
                                              "max-content max-content", grid_gap="1px 10px", align_items="center"))
        self._message_buttons: list[w.Button] = []
        self._message_cells: list[tuple[w.HTML, w.HTML, w.HTML]] = []
        self._shown: list[str] = []
        self._grid_header = [w.HTML(f"<b>{h}</b>") for h in ("Message", "State", "Receives", "Charges")]
        self.details = w.HTML()
        self.checker = w.HTML()
        self.timeline = w.HTML()
        self.timeline.add_class("sqslab-timeline-box")
        self.as_text = w.ToggleButton(value=False, description="Show the timeline as text",
                                      tooltip="the text version of the timeline: every message's lifecycle",
                                      layout=w.Layout(width="auto"))
        self.as_text.observe(lambda _c: self.refresh(), names="value")
        self.timeline_text = w.HTML()
        self.log = w.HTML()

        controls = w.VBox([_line(producer, "sqslab-group"), _line(clock, "sqslab-group"),
                           *[r.box for r in self.lane_rows], _line(everyone, "sqslab-group"),
                           _line(dlq + [self.more_toggle], "sqslab-group"), self.more],
                          layout=w.Layout(grid_gap="4px"))
        controls.add_class("sqslab-controls")
        view = w.VBox([self.grid, self.checker, self.timeline], layout=w.Layout(grid_gap="4px"))
        view.add_class("sqslab-view")
        columns = w.Box([controls, view])
        columns.add_class("sqslab-columns")
        self.widget = w.VBox([
            w.HTML(CSS), self.header, self.status, columns, self.details,
            self.as_text, self.timeline_text,
            w.HTML("<b>What happened</b>"), self.log, self.help,
        ], layout=w.Layout(border="1px solid var(--jp-border-color1, #bbbbbb)", padding="6px 8px", grid_gap="4px"))
        self.widget.add_class("sqslab-demo")

    def _more_changed(self, change: dict) -> None:
        self.more.layout.display = "flex" if change["new"] else "none"
        self.more_toggle.description = "Fewer controls" if change["new"] else "More controls"

    # -- actions -------------------------------------------------------------------------------------
    def _act(self, method, *args: Any, **kw: Any) -> None:
        self._acting = True  # one redraw per press, however many changes the action makes
        try:
            self.last = method(*args, **kw)
        except Exception as exc:  # noqa: BLE001 - a view reports, it never dies mid-lesson
            self.last = f"That did not work: {type(exc).__name__}: {exc}"
        finally:
            self._acting = False
        self.refresh()

    def _session_changed(self) -> None:
        # A change made from a notebook cell (demo.step(1) ...): the view redraws once when the
        # cell has run, not after every call in it; anywhere else (a script, a test), at once.
        if self._acting:
            return
        self.last = self.session.log[-1].split("  ", 1)[-1] if self.session.log else self.last
        if cell_running():
            if not self._pending:
                self._pending = True
                after_cell(self._redraw_pending)
        else:
            self.refresh()

    def _redraw_pending(self) -> None:
        self._pending = False
        self.refresh()

    def _send(self, count: int, *, poison: bool = False) -> None:
        kw: dict[str, Any] = {"poison": poison, "timeout_first": self.timeout.value}
        if self.session.fifo:
            kw["same_dedup_id"] = self.dedup.value
        else:
            kw["delay"] = self.delay.value
        self._act(self.session.send, count, **kw)

    def _use_everywhere(self, version: str) -> None:
        self._act(self.session.use, version)

    def select(self, message: str | None) -> None:
        """Select a message (its row ident, MessageId or order id); None clears the selection."""
        if message is not None:
            for m in self.session.messages():
                if message in (m.ident, m.message_id, m.key, m.label):
                    message = m.ident
                    break
        self.selected = None if message == self.selected else message
        self.refresh()

    # -- drawing -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw everything from the session (called after every action)."""
        s = self.session
        messages = s.messages()
        c = s.queue_counts()
        settings = (f"visibility timeout {s.visibility_timeout} s, maxReceiveCount {s.max_receive_count}"
                    + (f", each job takes {s.work_seconds:g} s" if s.work_seconds else ""))
        self.header.value = (
            f"<div class='sqslab-head' title='queue {html.escape(s.queue.name, quote=True)}: "
            f"{html.escape(settings, quote=True)}'><h2>{html.escape(self.title)}</h2> · "
            f"<b>t = {s.now():g} s</b> · queue: {c['visible']} visible, {c['in_flight']} in flight, "
            f"{c['delayed']} delayed · <span style='white-space:nowrap'>DLQ: {c['dlq']}</span></div>")
        self.status.value = (f"<div role='status' class='sqslab-status' title='{html.escape(self.last, quote=True)}'>"
                             f"<b>Last:</b> {html.escape(self.last)}</div>")
        keys = list(dict.fromkeys(m.key for m in messages if m.key))
        for row in self.lane_rows:
            row.refresh(keys)
        self._refresh_grid(messages)
        self._refresh_details(messages)
        summary = s.summary(short=True)
        self.checker.value = ("<div>" + colour("red" if summary.startswith("✗") else "green",
                                               f"Checker: {summary}", bold=True) + "</div>")
        self._refresh_timeline(messages)
        self.log.value = "<ol style='margin:0;padding-left:1.6em' reversed>" + "".join(
            f"<li><small>{html.escape(line)}</small></li>" for line in reversed(s.log[-6:])) + "</ol>"

    def _refresh_grid(self, messages: list[MessageState]) -> None:
        while len(self._message_buttons) < len(messages):
            i = len(self._message_buttons)
            b = w.Button(layout=w.Layout(width="auto"))
            b.on_click(lambda _b, i=i: self.select(self._shown[i] if i < len(self._shown) else None))
            self._message_buttons.append(b)
            self._message_cells.append((w.HTML(), w.HTML(), w.HTML()))
        self._shown = [m.ident for m in messages]
        for m, b, (state, receives, charges) in zip(messages, self._message_buttons, self._message_cells):
            chosen = m.ident == self.selected
            b.description = ("▶ " if chosen else "") + m.label
            b.button_style = "info" if chosen else ""
            b.tooltip = m.story
            state.value = state_html(m)
            receives.value = f"{m.receives}"
            charges.value = charges_html(m)
        children: list[Any] = list(self._grid_header)
        for b, cells in zip(self._message_buttons[:len(messages)], self._message_cells):
            children += [b, *cells]
        if not messages:
            children += [w.HTML("<i>no messages yet: send an order</i>")]
        if list(self.grid.children) != children:
            self.grid.children = children

    def _refresh_details(self, messages: list[MessageState]) -> None:
        m = next((m for m in messages if m.ident == self.selected), None)
        if m is None:
            self.details.value = ("<small>Press a message's button to see everything that happened to it "
                                  "and to highlight its row in the timeline.</small>")
            return
        lines = "".join(f"<li>{html.escape(part.strip())}</li>" for part in m.story.split(":", 1)[-1].split(";"))
        self.details.value = (f"<div style='border-left:4px solid var(--jp-brand-color1, #1976d2);padding-left:6px'>"
                              f"<b>{html.escape(m.label)}</b>: {html.escape(m.describe().split(': ', 1)[1])}"
                              f"<ol style='margin:2px 0'>{lines}</ol></div>")

    def _refresh_timeline(self, messages: list[MessageState]) -> None:
        s = self.session
        history = s.history
        text = timeline.text(history)
        self.timeline_text.value = (f"<pre style='white-space:pre-wrap;word-break:normal;font-size:85%'>"
                                    f"{html.escape(text)}</pre>" if self.as_text.value else "")
        self.as_text.description = "Hide the timeline as text" if self.as_text.value else "Show the timeline as text"
        if not self.picture:
            self.timeline.value = ""
            return
        # The picture and its key apart, so the picture fits beside the controls in a room; a run
        # too crowded for the text a tenth larger gets the laptop's size (12 px) rather than a
        # picture shown shrunk.
        kw = dict(dpi=self.dpi, dark=True, width=self.width, now=s.now(), compact=True,
                  highlight=[self.selected] if self.selected else None)
        scale = self.scale
        pic = timeline.picture(history, scale=scale, part="plot", **kw)
        if pic.width > self.width and scale > 1.0:
            scale = 1.0
            pic = timeline.picture(history, scale=scale, part="plot", **kw)
        key = timeline.picture(history, scale=scale, part="legend", key_width=self.width, **kw)
        alt = timeline.alt_text(history) + f" The clock shows t={s.now():g} s."
        if self.selected:
            label = next((m.label for m in messages if m.ident == self.selected), self.selected)
            alt += f" The row of {label} is highlighted."
        stories = {st.ident: st for st in timeline.stories(history)}
        name = f"sqslab-demo-map-{next(_map_ids)}"
        areas = "".join(
            f'<area shape="rect" coords="0,{top},{pic.width},{bottom}" '
            f'title="{html.escape(stories[ident].text, quote=True)}" '
            f'alt="{html.escape(stories[ident].text, quote=True)}">'
            for ident, (top, bottom) in pic.rows.items() if ident in stories)
        # The image map's coordinates are the PNG's pixels: the picture is made to fit its column,
        # so it is shown at (or very near) its own size.
        key_alt = "Key to the timeline: " + "; ".join(key.legend) + "."
        self.timeline.value = (pic.html(alt, img_class="sqslab-demo-timeline", img_attrs=f'usemap="#{name}"')
                               + f'<map name="{name}">{areas}</map>'
                               + key.html(key_alt, img_class="sqslab-demo-key"))

    # -- for tests and notebooks ------------------------------------------------------------------------
    def controls(self) -> list[w.DOMWidget]:
        """Every control a person can operate, in the order Tab reaches them."""
        out: list[w.DOMWidget] = []

        def walk(widget: Any) -> None:
            if isinstance(widget, (w.Button, w.ToggleButton, w.Dropdown, w.Checkbox)):
                out.append(widget)
            for child in getattr(widget, "children", ()):
                walk(child)

        walk(self.widget)
        return out

    def button(self, description: str) -> w.Button:
        """The button whose label is ``description`` (exactly, or without a leading "▶ ")."""
        for b in self.controls():
            if isinstance(b, w.Button) and b.description.removeprefix("▶ ") == description:
                return b
        raise KeyError(f"no button labelled {description!r}")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return self.session.text()


class _LaneRow:
    """The controls of one lane: start/stop, step, its consumer version, a crash to arm."""

    def __init__(self, view: DemoView, number: int):
        self.view = view
        self.number = number
        s = view.session
        ln = s.lane(number)
        self.words = w.HTML(layout=w.Layout(width="100%"))
        self.toggle = _button(f"Start lane {number}", f"start or stop lane {number}'s consumer process",
                              lambda: view._act(s.toggle, number))
        self.step = _button(f"Step lane {number}", f"one step of lane {number}'s consumer: receive once, "
                            "handle what came, return", lambda: view._act(s.step, number), style="primary")
        self.version = w.Dropdown(options=[(name, name) for name in VERSIONS], value=ln.version,
                                  description=f"Lane {number} runs", tooltip="the consumer's code: " + "; ".join(
                                      f"{k}: {v}" for k, v in VERSIONS.items()),
                                  layout=w.Layout(width="auto"), style={"description_width": "initial"})
        self.version.observe(self._version_changed, names="value")
        self.point = w.Dropdown(options=[("no crash", "")] + [(p, p) for p in FAULT_MENU], value="",
                                description="Crash", tooltip="a fault point of the bench: " + "; ".join(
                                    f"{p}: {FAULT_POINTS[p].description}" for p in FAULT_MENU),
                                layout=w.Layout(width="auto"), style={"description_width": "initial"})
        self.message = w.Dropdown(options=[("any message", "")], value="", description="for",
                                  tooltip="the order whose handling the fault hits",
                                  layout=w.Layout(width="auto"), style={"description_width": "initial"})
        self.arm = _button(f"Arm lane {number}'s crash", f"lane {number}'s consumer meets the chosen "
                           "fault point (for the chosen message) in its next steps; 'no crash' disarms",
                           self._arm, style="danger")
        self._shown_crash: tuple[str, int | None] | None = None
        self.words.add_class("sqslab-lane-words")
        self.box = w.VBox([self.words, _line([self.toggle, self.step, self.arm]), _line([self.point, self.message])],
                          layout=w.Layout(grid_gap="2px"))
        self.box.add_class("sqslab-group")

    def _version_changed(self, change: dict) -> None:
        if change["new"] != self.view.session.lane(self.number).version:
            self.view._act(self.view.session.use, change["new"], self.number)

    def _arm(self) -> None:
        s = self.view.session
        if not self.point.value:
            self.view._act(s.cancel_crash, self.number)
        else:
            self.view._act(s.crash, self.number, self.point.value, self.message.value or None)

    def refresh(self, keys: list[str]) -> None:
        s = self.view.session
        ln = s.lane(self.number)
        if ln.running:
            mark, tone = "▶ running", "green"
        elif "died" in ln.last:
            mark, tone = "✗ died", "red"
        else:
            mark, tone = "■ stopped", "grey"
        words = s.lane_words(ln).split(": ", 1)[1].removeprefix("stopped ")
        self.words.value = f"<b>Lane {self.number}</b> {colour(tone, mark, bold=True)} — {html.escape(words)}"
        self.toggle.description = f"Stop lane {self.number}" if ln.running else f"Start lane {self.number}"
        if self.version.value != ln.version:
            self.version.value = ln.version
        options = [("any message", "")] + [(k, k) for k in keys]
        if list(self.message.options) != options:
            keep = self.message.value
            self.message.options = options
            self.message.value = keep if keep in keys else ""
        # The crash lists show the crash armed for the lane; once it has fired (or was disarmed)
        # they go back to "no crash", so they never show a crash that is no longer coming.
        if ln.crash != self._shown_crash:
            if ln.crash is None:
                self.point.value, self.message.value = "", ""
            else:
                point, position = ln.crash
                self.point.value = point
                label = s._label_of(position) if position is not None else ""
                self.message.value = label if label in keys else ""
            self._shown_crash = ln.crash


def demo_view(**session: Any) -> DemoView:
    """A :class:`DemoView` on a new :class:`~sqslab.views.demo.DemoSession` (``session`` passed on)."""
    title = session.pop("title", None)
    return DemoView(DemoSession(**session), title=title)
