"""How the demo widget looks: one style sheet for the laptop and the room, light and dark.

Text is 14 CSS px (17.5 device px in a room at 125% zoom) and the timeline's at least 13 px; two
columns, the controls beside the messages and the timeline, so all three are on one screen of a
1024 x 576 room with JupyterLab's simple interface; on a narrow output area the columns stack. Colours come in a
light and a dark set (JupyterLab marks its theme with ``data-jp-theme-light`` on the body), each
with a contrast of at least 4.5:1 on its background, and a meaning is never told by colour alone
(a symbol and a word go with it).
"""

from __future__ import annotations

import html

from .demo import STATES, MessageState

__all__ = ["CSS", "colour", "state_html", "charges_html"]

#: Text colours: (on a light background, on a dark one).
COLOURS = {
    "red": ("#B00020", "#FF8A80"), "green": ("#1B6E3A", "#7CDB9C"), "grey": ("#5F5F5F", "#B8B8B8"),
    "orange": ("#8A4B00", "#FFB74D"), "purple": ("#5A2D82", "#D1A6F0"), "blue": ("#0B5394", "#8CB8FF"),
}
#: The colour of each state; the symbol and the word (``sqslab.views.demo.STATES``) carry the meaning.
STATE_COLOURS = {"visible": "blue", "in_flight": "orange", "delayed": "grey", "deleted": "green",
                 "dlq": "purple", "gone": "grey"}
#: Button backgrounds under white text (ipywidgets' own are below 4.5:1).
BUTTONS = {"primary": "#0B5394", "info": "#0B5394", "danger": "#B00020", "warning": "#8A4B00", "success": "#1B6E3A"}


def _css() -> str:
    dark = "body[data-jp-theme-light='false'] "
    rules = [
        # A notebook that shows a demo is shown to a room: its prose and code at the sizes of
        # JupyterLab's presentation mode (without that mode's wider prompts, which would take
        # width from the widget).
        ".jp-Notebook:has(.sqslab-demo){--jp-content-font-size1:var(--jp-content-presentation-font-size1);"
        "--jp-code-font-size:var(--jp-code-presentation-font-size)}",
        ".sqslab-demo{container-type:inline-size;font-size:14px;"
        "line-height:1.35;color:var(--jp-content-font-color1,#1f1f1f);"
        "--jp-widgets-font-size:14px;--jp-widgets-inline-height:28px;--jp-widgets-inline-label-width:auto}",
        ".sqslab-demo .widget-html-content,.sqslab-demo .widget-label,.sqslab-demo .widget-dropdown select,"
        ".sqslab-demo .widget-checkbox label,.sqslab-demo .jupyter-button{font-size:14px}",
        ".sqslab-demo .widget-html-content{line-height:1.35}",
        ".sqslab-demo h2{margin:0;font-size:1.2em;display:inline}",
        ".sqslab-demo .sqslab-head{margin:0}",
        ".sqslab-demo .sqslab-status{background:var(--jp-layout-color2,#eeeeee);"
        "color:var(--jp-content-font-color1,#1f1f1f);padding:2px 6px;border-radius:3px;"
        "white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:100%}",
        ".sqslab-demo .sqslab-status-box{overflow:hidden;width:100%;min-width:0}",
        ".sqslab-demo .sqslab-status-box .widget-html-content{min-width:0;overflow:hidden}",
        ".sqslab-demo .sqslab-lane-words .widget-html-content{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
        ".sqslab-demo .widget-dropdown select{padding-right:1.6em}",
        ".sqslab-demo .sqslab-columns{display:grid!important;grid-template-columns:minmax(0,400px) minmax(0,1fr);"
        "gap:4px 12px;align-items:start;width:100%}",
        "@container (max-width: 760px){.sqslab-demo .sqslab-columns{grid-template-columns:minmax(0,1fr)}}",
        ".sqslab-demo .sqslab-group{border-left:3px solid var(--jp-border-color2,#dddddd);padding-left:6px}",
        ".sqslab-demo .sqslab-timeline-box img{max-width:100%;height:auto}",
        ".sqslab-demo .sqslab-view .jupyter-button{height:26px}",
        ".sqslab-demo kbd{font-size:.9em}",
    ]
    for name, (light, on_dark) in COLOURS.items():
        rules.append(f".sqslab-demo .sq-{name}{{color:{light}}}")
        rules.append(f"{dark}.sqslab-demo .sq-{name}{{color:{on_dark}}}")
    for style, background in BUTTONS.items():
        rules.append(f".sqslab-demo .jupyter-button.mod-{style}{{background-color:{background};color:#ffffff}}")
    return "<style>" + "".join(rules) + "</style>"


#: The widget's style sheet, put in the widget once (the same rules in every view on a page).
CSS = _css()


def colour(name: str, text: str, *, bold: bool = False) -> str:
    """``text`` (escaped) in a theme-aware colour class."""
    weight = " style='font-weight:bold'" if bold else ""
    return f"<span class='sq-{name}'{weight}>{html.escape(text)}</span>"


def state_html(m: MessageState) -> str:
    """A message's state as its symbol, coloured, and its words."""
    symbol, _ = STATES[m.state]
    return (f"<span class='sq-{STATE_COLOURS[m.state]}' title='{html.escape(m.state_words(), quote=True)}'>"
            f"{symbol}</span> {html.escape(m.state_words(short=True))}")


def charges_html(m: MessageState) -> str:
    """The charge count of a message's order: a cross and a word where the checker would fail it."""
    if m.verdict == "twice":
        return colour("red", f"✗ {m.effects} — TWICE", bold=True)
    if m.verdict == "lost":
        return colour("red", f"✗ {m.effects} — LOST", bold=True)
    if m.verdict == "once":
        return colour("green", "✓ 1 — once")
    if m.verdict == "unkeyed":
        return colour("grey", "? no order id")
    return colour("grey", "… 0 — not yet")
