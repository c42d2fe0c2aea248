"""Every figure a learner sees has alt text and a text version; nothing is told by colour alone.

The demo widget's own checks are in test_widgets.py; the browser test checks every <img> of lesson
1 as the browser shows it. These cover the other places figures come from: the lessons' code
cells, the bench's display helpers, and the grader's feedback page.
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from sqslab import Fault, run_scenario
from sqslab.views import timeline

REPO = Path(__file__).resolve().parents[2]
LESSONS = sorted((REPO / "solutions").glob("*/*.ipynb"))
DEMOS = sorted((REPO / "demos").glob("*.ipynb"))

#: Ways to put a picture in a notebook that carry no alt text: a lesson must use the bench's
#: helpers instead (timeline.show, Verdict.show, Trial.show, views.receives.show_receives, DemoView).
BARE_FIGURES = re.compile(r"\bplt\.|pyplot|\bdisplay\(\s*Image|\bImage\(|\.savefig\(|\bplot_receives\(|"
                          r"\btimeline\.draw\(|\.to_png\(")


def code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == "code"]


def alts(page: str) -> list[str]:
    return [html.unescape(a) for a in re.findall(r"<img\b[^>]*\balt=\"([^\"]*)\"", page)]


def images(page: str) -> int:
    return len(re.findall(r"<img\b", page))


@pytest.mark.parametrize("path", LESSONS + DEMOS, ids=lambda p: p.name)
def test_a_notebook_draws_figures_only_through_helpers_that_give_alt_text(path):
    found = [m.group(0) for code in code_cells(path) for m in BARE_FIGURES.finditer(code)]
    assert not found, f"{path.name} draws a figure without alt text: {found}"


def captured(monkeypatch) -> list[dict]:
    import IPython.display

    shown: list[dict] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    return shown


def test_show_receives_gives_its_figure_alt_text_and_the_counts_as_text(lab, monkeypatch):
    from sqslab.lessons.heartbeat import retry_demo
    from sqslab.views.receives import show_receives

    shown = captured(monkeypatch)
    at_once = retry_demo(lambda attempt, rng: 0)
    show_receives({"release at once": at_once.history}, shade=(0, 60), title="Five orders")
    (bundle,) = shown
    page = bundle["text/html"]
    # One picture in two variants (light and dark: the page shows the one of its theme), each with alt text.
    assert images(page) == 2 and len(set(alts(page))) == 1 and "sqslab-on-dark" in page
    alt = alts(page)[0]
    total = sum(1 for e in at_once.history if e.kind == "receive")
    assert alt.startswith("Five orders. Receives over simulated time")
    assert f"release at once: {total} receives of 5 message(s)" in alt
    assert "receives per message: order-1:" in bundle["text/plain"]


def test_timeline_show_gives_alt_text_and_a_text_version(lab, monkeypatch):
    shown = captured(monkeypatch)
    outcome = run_scenario(lambda p: None, messages=1, max_steps=1, expect="at_least_once")
    timeline.show(outcome.history, title="nothing consumed")
    (bundle,) = shown
    assert alts(bundle["text/html"]) == [timeline.alt_text(outcome.history)] * 2   # light and dark
    assert bundle["text/plain"] == timeline.text(outcome.history)


def test_the_feedback_page_gives_every_timeline_alt_text_and_a_text_version(lab):
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # autograder/ is a folder of the repository, not a package
    from autograder import feedback
    from sqslab.selftest import _naive

    failing = run_scenario(_naive, messages=2, faults=[Fault("effect_committed", 0)])
    assert not failing.verdict.ok
    cell = {"grade_id": "charges_each_order_once", "description": "Each order once.", "score": 0, "points": 2,
            "passed": False, "error": {"ename": "AssertionError", "evalue": failing.verdict.explanation},
            "timeline_html": timeline.to_html(failing.history, title="charges_each_order_once: the failing run")}
    entry = {"name": "02_idempotent_consumer", "score": 0, "max_score": 2, "status": "ok", "cells": [cell]}
    page = feedback.render("ada", SimpleNamespace(name="02_idempotent_consumer"), entry,
                           {"status": "ok", "reason": "Graded."})
    assert images(page) == len(alts(page)) == 2 and alts(page)[0].strip()   # the picture, light and dark
    assert "as text</summary>" in page and html.escape(timeline.text(failing.history)) in page
    # The result is a word, not a colour alone.
    assert '<span class="fail">failed</span>' in page


def test_a_figure_shows_the_variant_of_the_theme_and_says_how_small_its_text_is():
    from sqslab.views.figures import THEME_CSS

    outcome = run_scenario(lambda p: None, messages=1, max_steps=1, expect="at_least_once")
    page = timeline.to_html(outcome.history)
    assert THEME_CSS in page and "body[data-jp-theme-light='false'] .sqslab-figure img.sqslab-on-dark" in THEME_CSS
    sizes = [float(x) for x in re.findall(r'data-sqslab-min-text-px="([\d.]+)"', page)]
    assert len(sizes) == 2 and min(sizes) >= 12
    assert re.findall(r'<img[^>]*width="(\d+)"', page) == [str(timeline.DEFAULT_WIDTH)] * 2
