"""The picture of retries (lesson 4): one panel per run, a dot per receive."""

from __future__ import annotations

from sqslab.lessons.heartbeat import retry_demo
from sqslab.views.receives import plot_receives


def test_plot_receives_draws_one_panel_per_run(lab):
    outcome = retry_demo(lambda attempt, rng: None, messages=2, down_for=10, lab=lab)
    fig = plot_receives({"a": outcome.history, "b": outcome.history}, shade=(0, 10), title="t")
    assert len(fig.axes) == 2 and fig.axes[0].get_title(loc="left") == "a: 4 receives"
