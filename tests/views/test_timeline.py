"""The lifecycle timeline: what it draws, what it says, and how fast.

Histories are built by hand (a History with its own clock), so these tests need no mock and no
lab, and each one shows exactly the story it draws.
"""

from __future__ import annotations

import base64
import html
import re
import threading

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sqslab.history import History
from sqslab.views import timeline
from sqslab.views.timeline.axis import fit as fit_axis
from sqslab.views.timeline.words import tick


def fit(model):
    """The axis the picture uses at its default width."""
    from sqslab.views.timeline import style

    return fit_axis(model, 600, column=style.COLUMN, column_min=style.COLUMN_MIN, break_width=style.BREAK)


class Clock:
    """A hand-moved clock for building histories."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def new_history() -> tuple[History, Clock]:
    clock = Clock()
    return History(clock), clock


def receive(h: History, actor: str, mid: str, key: str, handle: str, count: int, until: float):
    return h.append(actor, "receive", mid, key, receipt_handle=handle, receive_count=count,
                    visible_until_t=until, queue="orders")


def crash_between_effect_and_delete() -> History:
    """The classic: the effect is committed, the consumer dies before deleting, SQS redelivers."""
    h, clock = new_history()
    h.append("producer", "send", "m-0001-aaaa", "order-1", queue="orders", delivered=True)
    h.append("consumer-1", "start")
    receive(h, "consumer-1", "m-0001-aaaa", "order-1", "rh-1", 1, 30.0)
    h.append("consumer-1", "effect", "m-0001-aaaa", "order-1", effect="charge")
    h.append("consumer-1", "fault", "m-0001-aaaa", "order-1", point="before_delete", fatal=True)
    h.append("consumer-1", "crash", point="before_delete")
    clock.t = 30.001
    h.append("clock", "clock", seconds=30.001)
    h.append("consumer-2", "start")
    receive(h, "consumer-2", "m-0001-aaaa", "order-1", "rh-2", 2, 60.001)
    h.append("consumer-2", "effect", "m-0001-aaaa", "order-1", effect="charge")
    h.append("consumer-2", "delete", "m-0001-aaaa", "order-1", receipt_handle="rh-2", applied=True)
    return h


def stale_handle_delete() -> History:
    """consumer-1 is too slow: its timeout runs out, consumer-2 takes over, its delete is stale."""
    h, clock = new_history()
    h.append("producer", "send", "m-0002-bbbb", "order-2")
    receive(h, "consumer-1", "m-0002-bbbb", "order-2", "rh-1", 1, 30.0)
    clock.t = 10.0
    h.append("consumer-1", "visibility", "m-0002-bbbb", "order-2", receipt_handle="rh-1",
             timeout=30, ok=True, visible_until_t=40.0)
    clock.t = 40.5
    receive(h, "consumer-2", "m-0002-bbbb", "order-2", "rh-2", 2, 70.5)
    clock.t = 41.0
    h.append("consumer-1", "delete", "m-0002-bbbb", "order-2", receipt_handle="rh-1",
             applied=False, ok=True)
    h.append("consumer-2", "effect", "m-0002-bbbb", "order-2", effect="ship")
    h.append("consumer-2", "delete", "m-0002-bbbb", "order-2", receipt_handle="rh-2", applied=True)
    return h


def poison_to_dlq_and_redrive() -> History:
    """A poison message fails three times, goes to the DLQ, is redriven two hours later."""
    h, clock = new_history()
    h.append("producer", "send", "m-0009-poison", "order-9")
    for n in (1, 2, 3):
        receive(h, "consumer-1", "m-0009-poison", "order-9", f"rh-{n}", n, clock.t + 30)
        h.append("consumer-1", "fault", "m-0009-poison", "order-9", point="handler_error",
                 fatal=False)
        clock.t += 30.001
    h.append("sqs", "dlq_move", "m-0009-poison", "order-9",
             **{"from": "orders", "to": "orders-dlq"})
    clock.t += 7200
    h.append("sqs", "move_task", "m-0010-again", "order-9", original_message_id="m-0009-poison",
             **{"from": "orders-dlq", "to": "orders"})
    receive(h, "consumer-2", "m-0010-again", "order-9", "rh-4", 1, clock.t + 30)
    h.append("consumer-2", "effect", "m-0010-again", "order-9", effect="ship")
    h.append("consumer-2", "delete", "m-0010-again", "order-9", receipt_handle="rh-4", applied=True)
    return h


def busy_run(messages: int = 30, events: int = 300) -> History:
    """Batches of ten, three consumers, crashes, redeliveries, heartbeats and an idle hour."""
    h, clock = new_history()
    ids = [f"{i:04d}-{(i * 7919) % 10007:05d}-msg" for i in range(messages)]
    for i, mid in enumerate(ids):
        h.append("producer", "send", mid, f"order-{i + 1}")
    receives = dict.fromkeys(ids, 0)
    pending = list(ids)
    step = 0
    while len(h) < events:
        consumer = f"consumer-{step % 3 + 1}"
        h.append(consumer, "start")
        batch, pending = pending[:10], pending[10:]
        for mid in batch:
            receives[mid] += 1
            receive(h, consumer, mid, None, f"rh-{step}-{mid}", receives[mid], clock.t + 30)
        for n, mid in enumerate(batch):
            key = f"order-{ids.index(mid) + 1}"
            h.append(consumer, "visibility", mid, key, timeout=30, ok=True,
                     visible_until_t=clock.t + 30)
            h.append(consumer, "effect", mid, key, effect="charge")
            if (step + n) % 7 == 3:
                h.append(consumer, "crash", point="before_delete")
                pending += batch[n:]
                break
            h.append(consumer, "delete", mid, key, receipt_handle=f"rh-{step}-{mid}",
                     applied=True)
        if not pending:
            pending = list(ids[: messages // 3])  # the producer sends a second wave
        clock.t += 3600.0 if step == 4 else 30.001
        step += 1
    return h


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def row_gids(fig: Figure) -> list[str]:
    return [t.get_gid() for t in fig.axes[0].texts if (t.get_gid() or "").startswith("row:")]


def marker_points(ax: Axes, gid: str) -> list[tuple[float, float]]:
    return [(x, y) for line in ax.lines if line.get_gid() == gid
            for x, y in zip(line.get_xdata(), line.get_ydata())]


# -- the picture ---------------------------------------------------------------------------------
def test_one_row_per_message_labelled_by_key_in_order_of_first_appearance():
    h = crash_between_effect_and_delete()
    for event in stale_handle_delete():
        h.append(event.actor, event.kind, event.message_id, event.key, **event.detail)
    h.append("producer", "send", "f00dfeed-1234-5678", None)
    fig = timeline.draw(h)
    rows = [t.get_text() for t in fig.axes[0].texts if (t.get_gid() or "").startswith("row:")]
    assert [r.split()[0] for r in rows] == ["order-1", "order-2", "f00dfeed"]


def collections(fig: Figure, prefix: str) -> dict:
    return {c.get_gid(): c for c in fig.axes[0].collections if (c.get_gid() or "").startswith(prefix)}


def spans(fig: Figure, gid: str) -> list[tuple[float, float, float]]:
    """The (x0, x1, y) of each bar or line of a collection: bars by their outline, lines by their ends."""
    out = []
    for c in fig.axes[0].collections:
        if c.get_gid() == gid:
            for path in c.get_paths():
                xs, ys = path.vertices[:, 0], path.vertices[:, 1]
                out.append((float(xs.min()), float(xs.max()), float(ys.mean())))
    return sorted(out)


def test_each_consumer_has_a_colour_and_a_hatch_and_its_full_name_on_its_holds():
    fig = timeline.draw(stale_handle_delete())
    bars = collections(fig, "bars:")
    assert set(bars) == {"bars:consumer-1", "bars:consumer-2"}
    hatches = {c.get_hatch() for c in bars.values()}
    assert len(hatches) == 2 and None not in hatches
    names = [t.get_text() for t in fig.axes[0].texts if (t.get_gid() or "").startswith("holder:")]
    assert {"consumer-1", "consumer-2"} <= set(names)
    assert not [n for n in texts(fig) if re.fullmatch(r"c\d+", n)], "abbreviated consumer names"


def test_a_hold_within_one_instant_is_a_thin_line_and_time_passing_a_bar():
    # Three orders handled at t=0 take no time: no bar may suggest that one took longer.
    h, clock = new_history()
    for n in (1, 2, 3):
        h.append("producer", "send", f"m-{n}", f"order-{n}")
    for n in (1, 2, 3):
        receive(h, "consumer-1", f"m-{n}", f"order-{n}", f"rh-{n}", 1, 30.0)
    for n in (1, 2, 3):
        h.append("consumer-1", "effect", f"m-{n}", f"order-{n}", effect="charge")
        h.append("consumer-1", "delete", f"m-{n}", f"order-{n}", receipt_handle=f"rh-{n}", applied=True)
    fig = timeline.draw(h)
    assert not collections(fig, "bars:") and set(collections(fig, "thin:")) == {"thin:consumer-1"}
    legend = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "legend"]
    assert "consumer-1 holds it (within one instant)" in legend
    assert "one instant: its events in order" in legend


def test_bars_over_time_are_as_long_as_the_time_they_last():
    # Two leases of 30 s each run out, one after the other: the same length on one linear scale.
    h, clock = new_history()
    h.append("producer", "send", "m-1", "order-1")
    receive(h, "consumer-1", "m-1", "order-1", "rh-1", 1, 30.0)
    clock.t = 30.001
    receive(h, "consumer-2", "m-1", "order-1", "rh-2", 2, 60.001)
    clock.t = 61.0
    receive(h, "consumer-3", "m-1", "order-1", "rh-3", 3, 91.0)
    h.append("consumer-3", "delete", "m-1", "order-1", receipt_handle="rh-3", applied=True)
    fig = timeline.draw(h)
    (a,), (b,) = spans(fig, "bars:consumer-1"), spans(fig, "bars:consumer-2")
    assert abs((a[1] - a[0]) - (b[1] - b[0])) < 2


def test_a_lease_ends_where_its_consumer_died_and_the_wait_for_the_timeout_belongs_to_nobody():
    h = crash_between_effect_and_delete()
    model = timeline.build(h)
    first, second = model.holds
    assert first.how == "died" and first.end.kind == "crash" and first.orphan_until == 30.0
    assert second.how == "deleted"
    fig = timeline.draw(h)
    (crash_x, _), = marker_points(fig.axes[0], "crash")
    (held,) = spans(fig, "thin:consumer-1")
    assert held[1] <= crash_x + 1                                  # consumer-1 holds it no further
    (orphan,) = spans(fig, "orphans")
    assert orphan[0] == pytest.approx(crash_x, abs=1) and orphan[1] > crash_x + 100
    assert "holder gone: hidden until the lease runs out" in texts(fig)


def test_the_second_effect_for_a_key_is_flagged_in_red_and_names_who_did_it():
    fig = timeline.draw(crash_between_effect_and_delete())
    ax = fig.axes[0]
    duplicates = [t for t in ax.texts if t.get_gid() == "duplicate"]
    assert [t.get_text() for t in duplicates] == ["2x! by consumer-2"]
    row = next(t for t in ax.texts if t.get_gid() == "row:m-0001-aaaa")
    assert row.get_text() == "order-1  2x!" and row.get_color() == timeline.style.LIGHT.red
    (dup,) = [line for line in ax.lines if line.get_gid() == "effect_dup"]
    assert dup.get_color() == timeline.style.LIGHT.red
    (first,), (second,) = marker_points(ax, "effect"), marker_points(ax, "effect_dup")
    assert first[0] < second[0]


def test_a_consumer_working_on_after_its_lease_ran_out_is_drawn_and_named_on_its_late_effect():
    # consumer-1's job outlasts its lease; consumer-2 takes the message; consumer-1 charges anyway.
    h, clock = new_history()
    h.append("producer", "send", "m-1", "order-1")
    receive(h, "consumer-1", "m-1", "order-1", "rh-1", 1, 30.0)
    clock.t = 31.0
    receive(h, "consumer-2", "m-1", "order-1", "rh-2", 2, 61.0)
    h.append("consumer-2", "effect", "m-1", "order-1", effect="charge")
    h.append("consumer-2", "delete", "m-1", "order-1", receipt_handle="rh-2", applied=True)
    clock.t = 40.0
    h.append("consumer-1", "effect", "m-1", "order-1", effect="charge")
    h.append("consumer-1", "delete", "m-1", "order-1", receipt_handle="rh-1", applied=False, ok=True)
    first = timeline.build(h).holds[0]
    assert first.how == "expired" and first.overrun.kind == "delete"
    fig = timeline.draw(h)
    (late,) = spans(fig, "overrun:consumer-1")
    (dup_x, _), = marker_points(fig.axes[0], "effect_dup")
    assert late[1] >= dup_x
    assert "2x! by consumer-1" in texts(fig) and "works on after its lease ran out" in texts(fig)


def test_an_effect_by_someone_else_than_the_holder_says_who():
    h, clock = new_history()
    h.append("producer", "send", "m-1", "order-1")
    receive(h, "consumer-1", "m-1", "order-1", "rh-1", 1, 30.0)
    h.append("producer", "effect", "m-1", "order-1", effect="save")
    fig = timeline.draw(h)
    assert "producer" in [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "effect-by"]


def test_a_business_failure_is_marked_with_its_error_and_a_release_as_handed_back():
    h, clock = new_history()
    h.append("producer", "send", "m-1", "order-1", body="{}")
    receive(h, "consumer-1", "m-1", "order-1", "rh-1", 1, 30.0)
    h.append("consumer-1", "note", "m-1", "order-1", text="failed",
             failure="OperationalError: database is locked")
    h.append("consumer-1", "visibility", "m-1", "order-1", receipt_handle="rh-1", timeout=0, ok=True,
             visible_until_t=0.0)
    fig = timeline.draw(h)
    assert len(marker_points(fig.axes[0], "failure")) == 1 and len(marker_points(fig.axes[0], "released")) == 1
    assert "database is locked" in texts(fig)
    assert {"the work failed (an error)", "handed back (visible at once)"} <= set(texts(fig))
    assert "consumer-1's work on it failed t=0 (OperationalError: database is locked)" in timeline.text(h)
    assert "the work failed 1 time (database is locked)" in timeline.alt_text(h)


def test_every_mark_drawn_is_in_the_legend_and_nothing_else():
    histories = [crash_between_effect_and_delete(), stale_handle_delete(), poison_to_dlq_and_redrive(),
                 busy_run(messages=6, events=80)]
    words = dict(timeline.style.MARKS)
    for h in histories:
        fig = timeline.draw(h, highlight=[next(iter(h)).seq], now=h.now())
        ax = fig.axes[0]
        legend = {t.get_text() for t in ax.texts if t.get_gid() == "legend"}
        drawn = {line.get_gid() for line in ax.lines if line.get_gid() in words}
        assert {words[g] for g in drawn} == legend & set(words.values())
        for gid, entry in (("same-instant", "one instant: its events in order"), ("queue", "stored in the queue"),
                           ("dlq", "stored in the DLQ"), ("orphans", "holder gone: hidden until the lease runs out")):
            assert (gid in {c.get_gid() for c in ax.collections}) == (entry in legend), (gid, entry)
        assert ("break" in {p.get_gid() for p in ax.patches}) == ("idle time left out (its length above)" in legend)
        assert "look here" in legend and "now (the clock)" in legend


def test_a_stale_delete_is_hollow_and_says_stale():
    fig = timeline.draw(stale_handle_delete())
    ax = fig.axes[0]
    (stale,) = [line for line in ax.lines if line.get_gid() == "delete_stale"]
    (applied,) = [line for line in ax.lines if line.get_gid() == "delete"]
    assert stale.get_markerfacecolor() == timeline.style.LIGHT.background
    assert applied.get_markerfacecolor() != timeline.style.LIGHT.background
    assert "stale" in texts(fig)


def test_dlq_move_and_redrive_are_labelled_arrows_on_the_same_row():
    fig = timeline.draw(poison_to_dlq_and_redrive())
    ax = fig.axes[0]
    (down,) = marker_points(ax, "dlq_move")
    (up,) = marker_points(ax, "move_task")
    assert down[1] == up[1] and down[0] < up[0]
    assert {"DLQ", "redrive"} <= set(texts(fig))
    assert row_gids(fig) == ["row:m-0009-poison"]


def test_simultaneous_events_are_spread_out_in_the_order_they_happened():
    model = timeline.build(crash_between_effect_and_delete())
    axis = fit(model)
    at_zero = [axis.x[(e.seq, r.ident)] for e, r in model.items if e.time == 0]
    assert at_zero == sorted(at_zero) and len(set(at_zero)) == len(at_zero)


def test_a_batch_receive_shares_one_column_and_its_work_follows_in_order():
    model = timeline.build(busy_run())
    axis = fit(model)
    first_batch = [e for e, _ in model.items if e.kind == "receive"][:10]
    assert len({axis.x[(e.seq, e.message_id)] for e in first_batch}) == 1
    work = [axis.x[(e.seq, r.ident)] for e, r in model.items
            if e.actor == "consumer-1" and e.kind in ("effect", "delete") and e.time == 0]
    assert work == sorted(work) and len(set(work)) == len(work)


def test_an_idle_hour_is_a_labelled_break_and_the_rest_keeps_one_linear_scale():
    fig = timeline.draw(poison_to_dlq_and_redrive())
    assert "2 h" in [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "break-label"]
    axis = fit(timeline.build(poison_to_dlq_and_redrive()))
    (gap,) = axis.breaks
    assert gap.end - gap.start == pytest.approx(7200, abs=1)
    # Before the break, 30 s of time passing is the same width wherever it is.
    instants = [s for s in axis.stops if s.columns and s.time <= gap.start]
    steps = [b.first - a.last for a, b in zip(instants, instants[1:])]
    assert len(steps) == 3 and max(steps) - min(steps) < 1
    ticks = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "tick"]
    assert ticks[0] == "0 s" and ticks[-1].startswith("2h")


def test_regular_heartbeats_keep_a_linear_axis_without_breaks():
    h, clock = new_history()
    h.append("producer", "send", "m-1", "order-1")
    receive(h, "worker", "m-1", "order-1", "rh-1", 1, 30.0)
    for n in range(1, 17):
        clock.t = 15.0 * n
        h.append("worker", "visibility", "m-1", "order-1", receipt_handle="rh-1", timeout=30, ok=True,
                 visible_until_t=clock.t + 30)
    h.append("worker", "delete", "m-1", "order-1", receipt_handle="rh-1", applied=True)
    fig = timeline.draw(h)
    assert not [p for p in fig.axes[0].patches if p.get_gid() == "break"]
    assert not [t for t in fig.axes[0].texts if "later" in t.get_text()]
    axis = fit(timeline.build(h))
    xs = [axis.at(15.0 * n) for n in range(1, 16)]
    steps = [b - a for a, b in zip(xs, xs[1:])]
    assert max(steps) - min(steps) < 1


def test_time_only_moves_rightwards():
    model = timeline.build(busy_run())
    axis = fit(model)
    xs = [axis.x[(e.seq, r.ident)] for e, r in model.items]
    times = [e.time for e, _ in model.items]
    for (t1, x1), (t2, x2) in zip(zip(times, xs), zip(times[1:], xs[1:])):
        if t2 > t1:
            assert x2 > x1


def test_words_never_cover_one_another_and_stay_inside_the_picture():
    for h in (busy_run(), crash_between_effect_and_delete(), delete_first_loses_order_2(),
              poison_to_dlq_and_redrive()):
        fig = timeline.draw(h, title="A title long enough to be wrapped over two lines of the picture, "
                                     "as a feedback page's might be: " + "words " * 12, now=h.now())
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        width, height = fig.bbox.width, fig.bbox.height
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.axes[0].texts]
        for text, box in boxes:
            assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height, f"{text!r} is cut"
        free = [(text, b) for text, b in boxes]
        assert len(free) > 10
        for i, (ta, a) in enumerate(free):
            for tb, b in free[i + 1:]:
                assert not a.overlaps(b), (ta, tb)


def test_the_picture_fits_a_laptops_output_column_with_text_of_twelve_pixels_at_least():
    for h in (busy_run(messages=3, events=30), crash_between_effect_and_delete(), poison_to_dlq_and_redrive()):
        pic = timeline.picture(h, title="Fits")
        assert pic.width == timeline.DEFAULT_WIDTH and pic.min_text_px >= 12
        fig = timeline.draw(h)
        assert min(t.get_fontsize() for t in fig.axes[0].texts) / 0.72 >= 12
    room = timeline.picture(crash_between_effect_and_delete(), width=560, scale=1.3)
    assert room.width == 560 and room.min_text_px >= 15


def test_a_run_too_crowded_for_the_width_gets_a_wider_picture_not_unreadable_columns():
    pic = timeline.picture(busy_run(30, 300), width=400)
    assert pic.width > 400 and pic.min_text_px >= 12


def test_a_crash_without_a_message_gets_its_own_row_but_is_not_counted_as_a_message():
    h = crash_between_effect_and_delete()
    h.append("consumer-3", "start")
    h.append("consumer-3", "crash", error="ValueError: amount must be positive")
    fig = timeline.draw(h)
    assert row_gids(fig) == ["row:m-0001-aaaa", f"row:{timeline.NO_MESSAGE}"]
    assert "ValueError" in texts(fig)
    assert timeline.text(h).splitlines()[1] == (
        "(no message): consumer-3 died of an uncaught error t=30.001 "
        "(ValueError: amount must be positive)")
    assert timeline.alt_text(h).startswith("Timeline of 1 message (order-1)")


def test_a_crash_lands_on_the_message_its_fatal_fault_named_not_the_last_one_received():
    h, _ = new_history()
    for n in (1, 2, 3):
        h.append("producer", "send", f"m-{n}", f"order-{n}")
    for n in (1, 2, 3):
        receive(h, "consumer-1", f"m-{n}", f"order-{n}", f"rh-{n}", 1, 30)
    h.append("consumer-1", "fault", "m-2", "order-2", point="before_effect", fatal=True)
    h.append("consumer-1", "crash", point="before_effect")
    fig = timeline.draw(h)
    rows = {t.get_gid(): t.get_position()[1] for t in fig.axes[0].texts if (t.get_gid() or "").startswith("row:")}
    assert [y for _, y in marker_points(fig.axes[0], "crash")] == [rows["row:m-2"]]
    assert "crashed at before_effect" in timeline.text(h).splitlines()[1]
    # Every message the process held stops being held where it died.
    assert {hd.how for hd in timeline.build(h).holds} == {"died"}


def test_a_deduplicated_send_is_a_hollow_dot_and_explained():
    h, _ = new_history()
    h.append("producer", "send", "m-1", "order-1", delivered=True)
    h.append("producer", "send", "m-1", "order-1", delivered=False)
    fig = timeline.draw(h)
    assert len(marker_points(fig.axes[0], "send")) == 1
    assert len(marker_points(fig.axes[0], "send_dropped")) == 1
    assert "sent again t=0 (deduplicated" in timeline.text(h)


def test_messages_selects_rows_by_key_or_message_id():
    h = crash_between_effect_and_delete()
    for event in stale_handle_delete():
        h.append(event.actor, event.kind, event.message_id, event.key, **event.detail)
    by_key = timeline.draw(h, messages=["order-2"])
    by_id = timeline.draw(h, messages=["m-0001-aaaa"])
    assert row_gids(by_key) == ["row:m-0002-bbbb"]
    assert row_gids(by_id) == ["row:m-0001-aaaa"]


def test_highlight_marks_a_row_and_rings_an_event():
    h = crash_between_effect_and_delete()
    duplicate = [e for e in h if e.kind == "effect"][-1]
    fig = timeline.draw(h, highlight=["order-1", duplicate.seq])
    ax = fig.axes[0]
    assert any(c.get_gid() == "highlight" for c in ax.collections)
    assert len(marker_points(ax, "ring")) == 1


def test_draws_into_a_given_axes_and_returns_its_figure():
    fig = Figure(figsize=(8, 3))
    ax = fig.add_subplot()
    assert timeline.draw(crash_between_effect_and_delete(), ax=ax, title="mine") is fig
    assert ax.get_title(loc="left") == "mine"


def test_an_empty_history_still_draws_and_says_so():
    h, _ = new_history()
    assert "no messages" in " ".join(texts(timeline.draw(h)))
    assert timeline.text(h) == "(no messages)"
    assert timeline.alt_text(h)


def test_the_same_history_gives_the_same_png_bytes():
    h = poison_to_dlq_and_redrive()
    assert timeline.to_png(h, dpi=50) == timeline.to_png(h, dpi=50)


def test_the_dark_variant_has_a_dark_background_and_every_text_readable_on_it():
    from sqslab.views.timeline.style import DARK, LIGHT, contrast

    h = crash_between_effect_and_delete()
    for pal in (LIGHT, DARK):
        fig = timeline.draw(h, theme=pal.name, title="Readable", now=h.now(), highlight=["order-1"])
        assert fig.get_facecolor()[:3] == pytest.approx(timeline.style.rgb(pal.background), abs=0.01)
        for t in fig.axes[0].texts:
            colour = "#" + "".join(f"{round(c * 255):02X}" for c in matplotlib_rgb(t.get_color()))
            assert contrast(colour, pal.background) >= 4.5, (pal.name, t.get_text(), colour)
    pic = timeline.picture(h, dark=True)
    assert pic.dark and pic.dark != pic.png


def matplotlib_rgb(colour):
    from matplotlib.colors import to_rgb

    return to_rgb(colour)


def test_drawing_from_several_threads_at_once_gives_the_same_pictures():
    histories = [crash_between_effect_and_delete(), stale_handle_delete(),
                 poison_to_dlq_and_redrive()]
    expected = [timeline.to_png(h, dpi=40) for h in histories]
    results: dict[int, bytes] = {}

    def work(i: int) -> None:
        results[i] = timeline.to_png(histories[i], dpi=40)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(3)] == expected


def test_thirty_messages_and_three_hundred_events_render_with_every_row():
    # How fast is a benchmark's question (`make bench`, "timeline" row), not a test's.
    h = busy_run(30, 300)
    assert len(h) >= 300 and len(h.message_ids()) == 30
    pic = timeline.picture(h)
    assert pic.png.startswith(b"\x89PNG")
    assert len(pic.rows) == 30


# -- the text version, the alt text, HTML --------------------------------------------------------
def test_text_tells_the_classic_crash_in_order():
    assert timeline.text(crash_between_effect_and_delete()) == (
        "order-1: sent t=0; received by consumer-1 t=0 (invisible until t=30); effect charge t=0; "
        "consumer-1 crashed at before_delete t=0; received by consumer-2 t=30.001 "
        "(2nd receive, invisible until t=60.001); effect charge t=30.001 (2nd time: duplicate!); "
        "deleted t=30.001")


def test_text_explains_a_stale_delete_and_a_heartbeat():
    story = timeline.text(stale_handle_delete())
    assert "visibility extended by consumer-1 t=10 (invisible until t=40)" in story
    assert ("consumer-1's delete t=41 was ignored (stale receipt handle: SQS kept the message)"
            in story)
    assert story.index("received by consumer-2") < story.index("consumer-1's delete")


def test_text_follows_a_message_into_the_dlq_and_back():
    story = timeline.text(poison_to_dlq_and_redrive())
    assert story.count("\n") == 0
    parts = ["injected fault handler_error on consumer-1 t=0",
             "moved to the dead-letter queue t=90.003 after 3 receives",
             "redriven to orders t=7290.003", "deleted t=7290.003"]
    assert [story.index(p) for p in parts] == sorted(story.index(p) for p in parts)


def test_text_says_when_a_message_is_still_in_the_queue_at_the_end():
    h, _ = new_history()
    h.append("producer", "send", "m-1", "order-1")
    receive(h, "consumer-1", "m-1", "order-1", "rh", 1, 30)
    h.append("consumer-1", "crash", point="after_receive")
    assert timeline.text(h).endswith("still in the queue at the end (t=0)")


def test_an_effect_recorded_by_key_alone_joins_the_message_being_worked_on():
    h, _ = new_history()
    h.append("producer", "send", "m-1", "order-1")
    h.append("producer", "send", "m-2", "order-1")  # the same order sent twice
    receive(h, "consumer-1", "m-1", "order-1", "rh", 1, 30)
    h.append("consumer-1", "effect", None, "order-1", effect="charge")
    h.append("consumer-1", "rollback", effects=["order-1"])
    lines = timeline.text(h).splitlines()
    assert lines[0].startswith("order-1 (m-1): ") and "effect charge" in lines[0]
    assert "rolled back" in lines[0] and "effect" not in lines[1]


def test_effects_of_an_order_sent_twice_land_on_the_message_being_handled():
    # The effect store knows keys, not messages: it names the latest message with the key.
    h, _ = new_history()
    h.append("producer", "send", "m-1", "order-1")
    h.append("producer", "send", "m-2", "order-1")
    receive(h, "consumer-1", "m-1", "order-1", "rh-1", 1, 30)
    receive(h, "consumer-1", "m-2", "order-1", "rh-2", 1, 30)
    h.append("consumer-1", "effect", "m-2", "order-1", effect="charge")
    h.append("consumer-1", "delete", "m-1", "order-1", receipt_handle="rh-1", applied=True)
    h.append("consumer-1", "effect", "m-2", "order-1", effect="charge")
    h.append("consumer-1", "delete", "m-2", "order-1", receipt_handle="rh-2", applied=True)
    first, second = timeline.text(h).splitlines()
    assert first == ("order-1 (m-1): sent t=0; received by consumer-1 t=0 (invisible until t=30); "
                     "effect charge t=0; deleted t=0")
    assert second.endswith("effect charge t=0 (2nd time: duplicate!); deleted t=0")


def test_alt_text_summarises_in_at_most_two_sentences():
    alt = timeline.alt_text(crash_between_effect_and_delete())
    assert len(re.findall(r"[.!?](?:\s|$)", alt)) <= 2
    for fact in ("1 message", "consumer-1 and consumer-2", "before_delete",
                 "duplicate effect for order-1"):
        assert fact in alt


def test_to_html_embeds_the_png_with_alt_text_and_the_text_version():
    h = crash_between_effect_and_delete()
    page = timeline.to_html(h, title="Lesson 1 <crash>")
    assert page.startswith("<figure") and page.endswith("</figure>")
    src = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(src) == timeline.to_png(h, title="Lesson 1 <crash>")
    alt = re.search(r'alt="([^"]*)"', page).group(1)
    assert html.unescape(alt) == timeline.alt_text(h)
    details = re.search(r"<details>(.*)</details>", page, re.S).group(1)
    assert html.escape(timeline.text(h)) in details
    assert "Lesson 1 &lt;crash&gt;" in page and "<crash>" not in page


def test_to_png_writes_the_file_when_given_a_path(tmp_path):
    path = tmp_path / "timeline.png"
    data = timeline.to_png(stale_handle_delete(), path)
    assert path.read_bytes() == data


def test_show_displays_html_with_a_plain_text_fallback(monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    assert timeline.show(crash_between_effect_and_delete()) is None
    ((bundle, raw),) = shown
    assert raw and "<details>" in bundle["text/html"]
    assert bundle["text/plain"].startswith("order-1: sent t=0")


@pytest.mark.parametrize("seconds, label", [(0, "0 s"), (30.001, "30 s"), (60.002999, "60 s"), (2.5, "2.5 s"),
                                            (125.4, "125 s"), (725, "12m05s"), (7290.003, "2h01m30s")])
def test_tick_labels_are_rounded_short_and_unambiguous(seconds, label):
    assert tick(seconds) == label


# -- for live views (the demo widget) -------------------------------------------------------------
def test_stories_are_the_rows_of_the_picture_with_every_message_id_of_a_redriven_message():
    h = poison_to_dlq_and_redrive()
    (story,) = timeline.stories(h)
    assert story.ident == "m-0009-poison" and story.key == "order-9"
    assert story.message_ids == ("m-0009-poison", "m-0010-again")
    assert story.message_id == "m-0010-again"
    assert story.text == timeline.text(h)
    assert [e.kind for e in story.events][-1] == "delete"


def test_stories_flag_the_duplicate_the_picture_flags():
    (story,) = timeline.stories(crash_between_effect_and_delete())
    assert story.duplicate and story.effects == 2


def test_now_draws_a_labelled_dashed_line_right_of_the_events_of_that_instant():
    h = crash_between_effect_and_delete()
    fig = timeline.draw(h, now=30.001)
    ax = fig.axes[0]
    (line,) = [l for l in ax.lines if l.get_gid() == "now"]
    assert line.get_linestyle() == "--"
    assert "now t=30 s" in " ".join(texts(fig))
    last_delete = max(x for x, _ in marker_points(ax, "delete"))
    assert line.get_xdata()[0] > last_delete
    later = timeline.draw(h, now=50.0)
    (moved,) = [l for l in later.axes[0].lines if l.get_gid() == "now"]
    delete_later = max(x for x, _ in marker_points(later.axes[0], "delete"))
    assert moved.get_xdata()[0] - delete_later > line.get_xdata()[0] - last_delete + 50


def test_without_now_nothing_marks_the_present():
    fig = timeline.draw(crash_between_effect_and_delete())
    assert not [l for l in fig.axes[0].lines if l.get_gid() == "now"]


def test_picture_measures_each_row_band_in_image_pixels_from_the_top():
    h = busy_run(messages=3, events=40)
    pic = timeline.picture(h, dpi=72)
    assert pic.png == timeline.to_png(h, dpi=72)
    assert pic.png[:8] == b"\x89PNG\r\n\x1a\n"
    bands = [pic.rows[st.ident] for st in timeline.stories(h)]
    assert len(bands) == 3
    tops = [top for top, _ in bands]
    assert tops == sorted(tops)                            # first row on top
    for (top, bottom), (next_top, _) in zip(bands, bands[1:]):
        assert 0 <= top < bottom <= pic.height and bottom == next_top   # bands touch, never overlap


# -- a lost message, and the names of the scenario runner's queues --------------------------------
def delete_first_loses_order_2() -> History:
    """Delete, then charge: the consumer dies between the two for order-2, which is never charged."""
    h, clock = new_history()
    for n in (1, 2):
        h.append("producer", "send", f"m-000{n}", f"order-{n}", queue="run3-orders")
    receive(h, "consumer-1", "m-0001", "order-1", "rh-1", 1, 30.0)
    h.append("consumer-1", "delete", "m-0001", "order-1", receipt_handle="rh-1", applied=True)
    h.append("consumer-1", "effect", "m-0001", "order-1", effect="charge")
    receive(h, "consumer-1", "m-0002", "order-2", "rh-2", 1, 30.0)
    h.append("consumer-1", "delete", "m-0002", "order-2", receipt_handle="rh-2", applied=True)
    h.append("consumer-1", "crash", point="after_delete")
    return h


def test_a_message_deleted_without_its_effect_is_marked_lost_in_words_and_picture():
    h = delete_first_loses_order_2()
    lines = timeline.text(h).splitlines()
    assert lines[1].endswith("its effect never happened: lost") and "lost" not in lines[0]
    assert "order-2 lost (deleted without its effect)" in timeline.alt_text(h)
    labels = [t.get_text() for t in timeline.draw(h).axes[0].texts if (t.get_gid() or "").startswith("row:")]
    assert labels == ["order-1", "order-2  lost!"]


def test_nothing_is_called_lost_in_a_run_without_effects():
    h, _ = new_history()
    h.append("producer", "send", "m-1", "order-1")
    receive(h, "consumer-1", "m-1", "order-1", "rh-1", 1, 30.0)
    h.append("consumer-1", "delete", "m-1", "order-1", receipt_handle="rh-1", applied=True)
    assert "lost" not in timeline.text(h) and "lost" not in timeline.alt_text(h)


def test_a_redrive_names_the_queue_as_the_lesson_does_not_as_the_runner_made_it():
    h, _ = new_history()
    h.append("producer", "send", "m-1", "order-9")
    h.append("sqs", "dlq_move", "m-1", "order-9", **{"from": "run6-orders", "to": "run6-dlq"})
    h.append("sqs", "move_task", "m-2", "order-9", original_message_id="m-1",
             **{"from": "run6-dlq", "to": "run6-orders"})
    told = timeline.text(h)
    assert "redriven to orders t=0" in told and "run6" not in told
