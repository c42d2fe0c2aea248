"""The demo widget: labels and keyboard, states in words and symbols, the live timeline.

These drive the view the way its buttons do (``Button.click()`` runs the same handlers a mouse
click or a key press runs in the browser); ``tests/course/test_browser.py`` does it in Chromium.
"""

from __future__ import annotations

import base64
import html
import re

import ipywidgets as w
import pytest

from sqslab.views.demo import DemoSession
from sqslab.views.timeline.style import contrast
from sqslab.views.widget_look import BUTTONS, COLOURS, CSS
from sqslab.views.widgets import PICTURE_WIDTH, DemoView


@pytest.fixture
def view(lab):
    session = DemoSession(lab, version="naive")
    yield DemoView(session)
    session.close()


def grid_rows(view: DemoView) -> dict[str, tuple[str, str, str]]:
    """The messages table as text: label -> (state, receives, charges), markup removed."""
    cells = list(view.grid.children)[4:]
    plain = lambda widget: html.unescape(re.sub(r"<[^>]+>", "", widget.value)).strip()
    rows = {}
    for i in range(0, len(cells) - 3, 4):
        button, state, receives, charges = cells[i:i + 4]
        rows[button.description.removeprefix("▶ ")] = (plain(state), plain(receives), plain(charges))
    return rows


def arm(view: DemoView, lane: int, point: str, message: str = "") -> None:
    row = view.lane_rows[lane - 1]
    row.point.value = point
    row.message.value = message
    view.button(f"Arm lane {lane}'s crash").click()


def test_every_control_has_a_visible_label_and_a_tooltip_and_can_be_reached_with_tab(view):
    controls = view.controls()
    assert len(controls) >= 25
    for control in controls:
        assert control.description.strip(), f"{type(control).__name__} without a label"
        assert not control.disabled, f"{control.description!r} is disabled (a keyboard user loses focus)"
        assert control.tabbable is not False, f"{control.description!r} cannot be reached with Tab"
        if isinstance(control, (w.Button, w.ToggleButton)):
            assert control.tooltip and control.tooltip.strip(), f"{control.description!r} has no tooltip"
            assert not control.icon or control.description, "an icon-only button"
    labels = [c.description for c in controls if isinstance(c, w.Button)]
    for wanted in ("Send an order", "Start lane 1", "Step lane 1", "Arm lane 1's crash", "+31 s",
                   "Redrive the DLQ", "Run until empty", "Next visible", "Deploy parser v2"):
        assert wanted in labels


def test_the_view_says_how_to_use_it_from_the_keyboard(view):
    assert "Tab" in view.help.value and "Enter" in view.help.value and "Space" in view.help.value


def test_pressing_step_moves_a_message_from_visible_to_deleted(view):
    view.button("Send 3 orders").click()
    assert grid_rows(view)["order-1"][0] == "● visible"
    view.button("Start lane 1").click()
    view.button("Step lane 1").click()
    assert {label: row[0] for label, row in grid_rows(view).items()} == {
        "order-1": "✓ deleted", "order-2": "✓ deleted", "order-3": "✓ deleted"}
    assert grid_rows(view)["order-1"][2] == "✓ 1 — once"
    assert view.last.startswith("lane 1: consumer-1 received order-1, order-2, order-3")
    assert "order-1" in view.status.value


def test_a_crash_leaves_the_message_in_flight_with_its_lease_counting_down(view):
    view.button("Send an order").click()
    view.button("Start lane 1").click()
    arm(view, 1, "effect_committed", "order-1")
    view.button("Step lane 1").click()
    assert grid_rows(view)["order-1"][0] == "◐ in flight, 30 s left"
    assert "held by consumer-1, 30 s left" in view.grid.children[5].value     # the full words, on hover
    assert "✗ died" in view.lane_rows[0].words.value and "Start lane 1" == view.lane_rows[0].toggle.description
    view.button("+10 s").click()
    assert grid_rows(view)["order-1"][0] == "◐ in flight, 20 s left"


def test_a_count_that_turns_red_also_says_twice_and_shows_a_cross(view):
    view.button("Send 3 orders").click()
    view.button("Start lane 1").click()
    arm(view, 1, "effect_committed", "order-2")
    view.button("Step lane 1").click()
    view.button("+31 s").click()
    view.button("Start lane 1").click()
    view.button("Step lane 1").click()
    charges = [c for c in view.grid.children if isinstance(c, w.HTML) and "TWICE" in c.value]
    assert len(charges) == 1
    assert "class='sq-red'" in charges[0].value and "✗ 2 — TWICE" in charges[0].value
    assert ".sqslab-demo .sq-red{color:#B00020}" in CSS
    assert grid_rows(view)["order-1"][2] == "✓ 1 — once"   # one bad order, not all
    assert "✗ order-2's effect happened 2 times" in html.unescape(view.checker.value)


def test_a_lost_order_says_lost(view):
    view.lane_rows[0].version.value = "delete_first"
    view.button("Send an order").click()
    view.button("Start lane 1").click()
    arm(view, 1, "after_delete")
    view.button("Step lane 1").click()
    assert grid_rows(view)["order-1"][2] == "✗ 0 — LOST"


def test_pressing_a_message_shows_its_history_and_highlights_its_row(view):
    view.button("Send 3 orders").click()
    view.button("Start lane 1").click()
    view.button("Step lane 1").click()
    before = view.timeline.value
    view.button("order-2").click()
    assert view.button("order-2").description == "▶ order-2"
    assert view.button("order-2").button_style == "info"
    details = html.unescape(view.details.value)
    assert "order-2" in details and "received by consumer-1 t=0" in details and "deleted t=0" in details
    assert view.timeline.value != before and "The row of order-2 is highlighted." in html.unescape(view.timeline.value)
    view.button("order-2").click()                    # pressing again clears the selection
    assert view.selected is None and view.button("order-2").description == "order-2"


def test_hovering_a_row_of_the_timeline_shows_that_messages_history(view):
    view.button("Send 3 orders").click()
    view.button("Start lane 1").click()
    view.button("Step lane 1").click()
    areas = re.findall(r'<area shape="rect" coords="([^"]+)" title="([^"]*)"', view.timeline.value)
    assert [html.unescape(title).split(":")[0] for _, title in areas] == ["order-1", "order-2", "order-3"]
    stories = {m.label: m.story for m in view.session.messages()}
    assert all(html.unescape(title) == stories[html.unescape(title).split(":")[0]] for _, title in areas)
    tops = [int(c.split(",")[1]) for c, _ in areas]
    assert tops == sorted(tops) and len(set(tops)) == 3


def test_the_timeline_follows_the_clock_and_its_alt_text_says_the_time(view):
    view.button("Send an order").click()

    def picture_and_alt():
        src, alt = re.search(r'src="data:image/png;base64,([^"]+)" alt="([^"]+)"', view.timeline.value).groups()
        return base64.b64decode(src), html.unescape(alt)

    first, alt = picture_and_alt()
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert alt.startswith("Timeline of 1 message (order-1)") and alt.endswith("The clock shows t=0 s.")
    view.button("+10 s").click()
    later, alt = picture_and_alt()
    assert later != first and alt.endswith("The clock shows t=10 s.")
    assert "t = 10 s" in view.header.value


def test_the_text_version_of_the_timeline_is_one_toggle_away(view):
    view.button("Send an order").click()
    assert view.timeline_text.value == ""
    view.as_text.value = True
    assert "order-1: sent t=0" in html.unescape(view.timeline_text.value)
    assert view.as_text.description == "Hide the timeline as text"


def test_controls_stay_the_same_widgets_so_the_keyboard_focus_survives_an_action(view):
    before = [c.model_id for c in view.controls()]
    view.button("Send 3 orders").click()
    view.button("Start lane 1").click()
    view.button("Step lane 1").click()
    after = [c.model_id for c in view.controls()]
    assert set(before) <= set(after) and len(after) == len(before) + 3   # three message buttons more
    assert view.lane_rows[0].toggle.description == "Stop lane 1"


def test_a_button_that_does_not_apply_says_why_instead_of_being_disabled(view):
    view.button("Step lane 2").click()
    assert view.last == "lane 2 is stopped: start it first"
    assert "lane 2 is stopped: start it first" in view.status.value


def test_a_change_made_from_code_redraws_the_view(view):
    view.session.send(1)
    assert "order-1" in grid_rows(view)
    assert [o[0] for o in view.lane_rows[0].message.options] == ["any message", "order-1"]


def test_the_view_of_a_fifo_demo_offers_the_retry_dedup_choice_instead_of_a_delay(lab):
    with DemoSession(lab, fifo=True) as session:
        view = DemoView(session)
        labels = [c.description for c in view.controls()]
        assert "Retry's dedup ID" in labels and "Delay" not in labels
        view.timeout.value = True
        view.dedup.value = False
        view.button("Send an order").click()
        assert len(grid_rows(view)) == 2                  # the retry became a second message


def test_redrive_button_brings_a_dead_lettered_order_back(lab):
    with DemoSession(lab, version="idempotent") as session:
        view = DemoView(session, picture=False)
        view.button('Poison ("20.00")').click()
        view.button("Start lane 1").click()
        view.button("Run until empty").click()
        assert grid_rows(view)["order-1"][0] == "▼ in the DLQ"
        view.button("Deploy parser v2").click()
        view.button("Redrive the DLQ").click()
        assert grid_rows(view)["order-1"][0] == "● visible"
        view.button("Step lane 1").click()
        assert grid_rows(view)["order-1"] == ("✓ deleted", "1", "✓ 1 — once")


def test_a_crash_list_shows_the_armed_crash_and_goes_back_to_no_crash_once_it_fired(view):
    view.button("Send 3 orders").click()
    view.button("Start lane 1").click()
    arm(view, 1, "effect_committed", "order-2")
    row = view.lane_rows[0]
    assert (row.point.value, row.message.value) == ("effect_committed", "order-2")
    assert "will die right after the charge of order-2 is committed" in view.last   # not yet happened
    view.button("Step lane 1").click()                                  # it fires
    assert (row.point.value, row.message.value) == ("", "")
    assert "armed" not in row.words.value and "✗ died" in row.words.value


def test_a_crash_chosen_but_not_armed_yet_survives_a_redraw(view):
    view.button("Send an order").click()
    row = view.lane_rows[0]
    row.point.value = "before_delete"
    view.button("+1 s").click()
    assert row.point.value == "before_delete"


def test_the_timeline_comes_light_and_dark_sized_for_its_column(view):
    view.button("Send an order").click()
    value = view.timeline.value
    assert 'class="sqslab-on-light sqslab-demo-timeline"' in value and 'class="sqslab-on-dark sqslab-demo-timeline"' in value
    sizes = {int(x) for x in re.findall(r'<img[^>]*width="(\d+)"', value)}
    assert sizes == {PICTURE_WIDTH}
    assert min(float(x) for x in re.findall(r'data-sqslab-min-text-px="([\d.]+)"', value)) >= 13


def test_every_colour_of_the_widget_reads_on_its_theme_background():
    for light, dark in COLOURS.values():
        assert contrast(light, "#FFFFFF") >= 4.5 and contrast(dark, "#111111") >= 4.5
        assert f"{light}" in CSS and f"{dark}" in CSS
    for background in BUTTONS.values():
        assert contrast("#FFFFFF", background) >= 4.5
    assert "body[data-jp-theme-light='false'] .sqslab-demo .sq-red{color:" in CSS
    assert "var(--jp-layout-color2" in CSS and "var(--jp-content-font-color1" in CSS   # the "Last:" bar


def test_the_seldom_used_controls_fold_away_and_come_back(view):
    assert view.more.layout.display == "none"
    view.more_toggle.value = True
    assert view.more.layout.display == "flex" and view.more_toggle.description == "Fewer controls"
    assert view.timeout in [c for box in view.more.children for c in box.children]
