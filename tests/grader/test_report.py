"""The class report (OUT/report.html): right counts, every name escaped, pictures with alt text.

A made-up class run (grades.csv and the grader's result files, written here) checks what the page
says; the grader's corpus run (test_grader_corpus.py's session fixture: 30-odd bad submissions,
every status) checks that grade.py writes the report at the end of a real class run and that the
page shows each status that needs a look. Both pages are opened in Chromium, as the feedback pages
are, with screenshots in artifacts/screenshots/.
"""

from __future__ import annotations

import csv
import html
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # autograder/ is a folder of the repository

from autograder import behaviours as table  # noqa: E402
from autograder.report import page  # noqa: E402
from test_grader_corpus import corpus_run  # noqa: E402, F401 - the session's one corpus run, shared

SCREENSHOTS = REPO / "artifacts" / "screenshots"
#: A learner folder name that would run script if it reached the page unescaped.
EVIL = '<img src=x onerror="window.__sqslabPwned=1">&amp;'
LESSON = "01_naive_consumer"
IDS = ["handles_and_deletes_every_message", "returns_the_number_handled", "survives_crash_before_delete",
       "keeps_failed_messages_for_retry", "never_loses_a_message_under_any_crash"]
POINTS = [2, 1, 1, 2, 4]
STUB = {"ename": "NotImplementedError", "evalue": "Write your solution here, then run the checks below."}


def graded_ids() -> list[str]:
    ids = []
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and cell["cell_type"] == "code":
                ids.append(meta["grade_id"])
    return ids


def test_every_graded_behaviour_of_the_course_has_a_plain_name_and_a_misconception():
    ids = graded_ids()
    assert ids, "solutions/ has no graded cell"
    missing = [g for g in ids if g not in table.BEHAVIOURS]
    assert not missing, f"add these grade_ids to autograder/behaviours.py: {missing}"
    stale = sorted(set(table.BEHAVIOURS) - set(ids))
    assert not stale, f"behaviours.py names grade_ids no lesson has any more: {stale}"
    for grade_id, (name, misconception) in table.BEHAVIOURS.items():
        # A plain name starts with a capital, or with the exercise's function name (charge_once ...).
        assert name and (name[0].isupper() or "_" in name.split()[0]) and not name.endswith("."), grade_id
        assert misconception.endswith(".") and len(misconception) < 300, grade_id


def cells(passed: list[bool], error: dict | None = None) -> list[dict]:
    out = []
    for gid, pts, ok in zip(IDS, POINTS, passed):
        cell = {"grade_id": gid, "points": float(pts), "score": float(pts if ok else 0), "passed": ok}
        if not ok:
            cell["error"] = error or {"ename": "AssertionError", "evalue": "FAILED: order-1 was lost"}
        out.append(cell)
    return out


def write_class(out: Path) -> None:
    """A class of six: one full, two wrong the same way (one timed out), one untouched, one tampered, one missing."""
    learners = {
        "ada": ("ok", "Graded: 5 of 5 behaviours passed.", cells([True] * 5)),
        "bob": ("ok", "Graded: 3 of 5 behaviours passed.", cells([True, True, True, False, False])),
        EVIL: ("timeout", "Test never_loses_a_message_under_any_crash ran past its time; 3 of 5 behaviours passed.",
               cells([True, True, True, False, False])),
        "cy": ("ok", "Graded: 0 of 5 behaviours passed.", cells([False] * 5, STUB)),
        "dee": ("tampered", "The notebook's code changed the bench (the canary failed), so 1 test that ran after "
                "the change was not counted; 4 of 5 behaviours passed before it.",
                cells([True, True, True, True, False])),
        "fay": ("missing", "Nothing was submitted for this assignment.", []),
    }
    rows = []
    for learner, (status, reason, cs) in learners.items():
        score = sum(c["score"] for c in cs)
        if learner == "dee":
            cs[-1]["voided"] = "the canary failed"
        rows.append({"learner": learner, "assignment": LESSON, "score": score, "max_score": 10.0,
                     "status": status, "reason": reason})
        result = out / ".grader" / "results" / learner / f"{LESSON}.json"
        result.parent.mkdir(parents=True, exist_ok=True)
        nb = {"name": LESSON, "status": status, "cells": cs, "score": score, "max_score": 10.0}
        result.write_text(json.dumps({"learner": learner, "assignment": LESSON, "status": status,
                                      "notebooks": [nb] if status != "missing" else []}))
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["learner", "assignment", "score", "max_score", "status", "reason"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["learner"]))


@pytest.fixture
def made_up(tmp_path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    write_class(out)
    page.write_report(str(out))
    return out


def test_the_report_counts_failures_apart_from_exercises_not_written_yet(made_up):
    rows = [r for r in page.load(str(made_up)) if r.assignment == LESSON]
    counts = {b.grade_id: (b.passed, b.failed, b.unwritten) for b in page.behaviours(rows)}
    # ada, bob, EVIL, dee pass the first three; cy left the stub; fay (missing) is not counted.
    assert counts["survives_crash_before_delete"] == (4, 0, 1)
    assert counts["keeps_failed_messages_for_retry"] == (2, 2, 1)  # ada and dee passed it; bob and EVIL did not
    # dee's last test ran after the bench was changed: not counted, as for dee's own score.
    assert counts["never_loses_a_message_under_any_crash"] == (1, 2, 1)


def test_an_untouched_notebook_counts_as_not_written_even_where_a_test_caught_the_stub():
    stub = cells([False] * 5, STUB)
    stub[1]["error"] = {"ename": "AssertionError", "evalue": "consume_once was called 0 times"}
    wrong = cells([False] * 5, {"ename": "AssertionError", "evalue": "order-1 was lost"})
    rows = [page.Row("cy", LESSON, 0, 10, "ok", "Graded.", [{"name": LESSON, "cells": stub}]),
            page.Row("dan", LESSON, 0, 10, "ok", "Graded.", [{"name": LESSON, "cells": wrong}])]
    counts = {b.grade_id: (b.passed, b.failed, b.unwritten) for b in page.behaviours(rows)}
    assert counts["returns_the_number_handled"] == (0, 1, 1)  # dan failed it; cy never wrote it


def test_the_report_lists_the_most_failed_behaviours_first_with_their_misconception(made_up):
    text = (made_up / "report.html").read_text()
    lesson = text[text.index(f'id="lesson-{LESSON}"'):]
    table_rows = re.findall(r"<tr><td>(.*?)<br><code", lesson)
    names = [html.unescape(n) for n in table_rows]
    # Both failed by two learners: the one failed by a larger share of those who answered comes first.
    assert names[:2] == [table.BEHAVIOURS["never_loses_a_message_under_any_crash"][0],
                         table.BEHAVIOURS["keeps_failed_messages_for_retry"][0]]
    assert html.escape(table.BEHAVIOURS["keeps_failed_messages_for_retry"][1]) in lesson
    assert "2 of 3" in lesson and "2 of 4" in lesson and "not written by 1" in lesson


def test_the_report_asks_for_a_look_at_every_status_but_ok_and_names_who_submitted_nothing(made_up):
    text = (made_up / "report.html").read_text()
    look = text[text.index("<h3>Needs a look</h3>"):]
    assert 'class="status tampered"' in look and ">dee<" in look and 'class="status timeout"' in look
    assert 'href="feedback/dee/01_naive_consumer/01_naive_consumer.html"' in look
    assert ">ada<" not in look and ">bob<" not in look
    assert '>page</a>' in look
    assert "Submitted nothing (1): fay." in look


def test_the_report_escapes_learner_names_everywhere(made_up):
    text = (made_up / "report.html").read_text()
    assert EVIL not in text and "<img src=x" not in text
    assert f'<td class="who">{html.escape(EVIL)}</td>' in text  # in the list to look at, as text
    href = "feedback/%3Cimg%20src%3Dx%20onerror%3D%22window.__sqslabPwned%3D1%22%3E%26amp%3B/"
    assert f'href="{href}' in text
    assert len(re.findall(r"<img\b", text)) == 2  # the two figures, nothing a learner smuggled in


def test_the_report_figures_have_alt_text_that_says_what_they_show(made_up):
    text = (made_up / "report.html").read_text()
    alts = [html.unescape(a) for a in re.findall(r'<img\b[^>]*\balt="([^"]*)"', text)]
    assert len(alts) == 2
    assert alts[0].startswith(f"Bar chart of the scores in {LESSON}, out of 10 points, for 5 graded learners")
    assert "1 at 10 points" in alts[0] and "1 at 0 points" in alts[0]
    assert (f"{table.BEHAVIOURS['keeps_failed_messages_for_retry'][0]}: failed by 2 of the 4 who wrote an answer, "
            "not written by 1") in alts[1]


def test_the_same_results_give_the_same_report_bytes(made_up):
    assert page.build(str(made_up)) == (made_up / "report.html").read_text()


def test_a_learner_name_cannot_lead_the_report_outside_the_results_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "grades.csv").write_text("learner,assignment,score,max_score,status,reason\n"
                                    "../../secret,01_naive_consumer,0,10,ok,Graded.\n")
    (tmp_path / "secret.json").write_text(json.dumps({"notebooks": [{"name": "x", "cells": [
        {"grade_id": "leaked", "passed": False, "score": 0, "points": 1}]}]}))
    (rows,) = page.load(str(out))
    assert rows.notebooks == []


def test_a_missing_grades_csv_is_reported_plainly(tmp_path):
    from autograder.report.__main__ import main

    assert main([str(tmp_path)]) == 1


@pytest.mark.xdist_group("grader_corpus")
def test_grade_py_writes_the_report_at_the_end_of_a_class_run(corpus_run):  # noqa: F811 - the fixture
    report = Path(corpus_run["out"]) / "report.html"
    assert report.exists(), "grade.py did not write OUT/report.html"
    text = report.read_text()
    look = text[text.index("<h3>Needs a look</h3>"):]
    rows = corpus_run["rows"]
    for status in {r["status"] for r in rows.values()} - {"ok", "missing"}:
        assert f'class="status {status}"' in look, f"no {status} row in the report's list to look at"
    for learner, row in rows.items():
        if row["status"] not in ("ok", "missing"):
            assert f'<td class="who">{html.escape(learner)}</td>' in look, learner


# --- in the browser -----------------------------------------------------------------------------

def open_report(path: Path, shot: str, full_page: bool = True) -> dict:
    from support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip

    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            view = browser.new_page(viewport={"width": 1200, "height": 900})
            view.goto(path.as_uri())
            view.wait_for_load_state("load")
            seen = view.evaluate("""() => ({
                pwned: window.__sqslabPwned === 1,
                headings: [...document.querySelectorAll('h2')].map(h => h.innerText),
                images: [...document.images].map(i => ({alt: i.alt, w: i.naturalWidth, shown: i.getBoundingClientRect().width})),
                scrollWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
                look: [...document.querySelectorAll('.status')].map(s => s.innerText)})""")
            view.screenshot(path=str(SCREENSHOTS / shot), full_page=full_page)
            # The page is all the grader's: any violation of any impact is ours to fix.
            from axe_playwright_python.sync_playwright import Axe

            axe = Axe().run(view, options={"resultTypes": ["violations", "passes"]}).response
            seen["axe_checked"] = sum(len(r["nodes"]) for kind in ("violations", "passes") for r in axe[kind])
            seen["axe"] = [f"{v['id']} ({v['impact']}) at {[n['target'] for n in v['nodes'][:3]]}"
                           for v in axe["violations"]]
        finally:
            browser.close()
    return seen


def test_the_report_renders_in_the_browser_and_runs_no_learner_script(made_up):
    seen = open_report(made_up / "report.html", "class_report.png")
    assert not seen["pwned"], "a learner's folder name ran as script in the report"
    assert seen["headings"] == [LESSON]
    assert len(seen["images"]) == 2 and all(i["w"] > 0 and i["alt"].strip() for i in seen["images"]), seen["images"]
    # Pictures drawn for the page's width: shown at least at 800 CSS px, so their 11-point text stays legible.
    assert all(i["shown"] >= 800 for i in seen["images"]), seen["images"]
    assert seen["scrollWidth"] <= seen["viewport"], "the report scrolls sideways"
    assert seen["look"] == ["tampered", "timeout"]
    assert seen["axe_checked"] > 0 and not seen["axe"], seen["axe"]


@pytest.mark.xdist_group("grader_corpus")
def test_the_corpus_class_report_renders_in_the_browser(corpus_run):  # noqa: F811 - the fixture
    seen = open_report(Path(corpus_run["out"]) / "report.html", "class_report_corpus.png")
    assert not seen["pwned"]
    assert seen["headings"] == ["fx_consumer"]
    assert all(i["w"] > 0 and i["alt"].strip() for i in seen["images"]) and len(seen["images"]) == 2
    assert {"tampered", "timeout", "kernel_died", "limit_exceeded", "invalid_notebook"} <= set(seen["look"])
