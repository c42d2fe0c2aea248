"""A class on a real JupyterHub, end to end: release, fetch, answer, submit, collect, grade, feedback.

A real JupyterHub (configurable-http-proxy from npm, PAM, one server per user started as that
user's uid) from ``tools/hub/`` and ``tools/hub/hubenv.py``'s environment; real local users created
here and removed afterwards: an instructor and three learners. nbgrader's exchange is a temporary
folder named to every server through its environment. The instructor works on the command line, as
their own uid (release, collect, ``make grade`` from their own copy of the repository, return the
feedback); two learners work through the hub's REST API and their servers' APIs with tokens of
their own (one answers right, one wrong); the third logs in with a password and works in Chromium
(fetches, opens the notebook and runs its first cell in a kernel of their uid, submits without
answering, fetches the feedback and reads it).

Needs root (it creates users; the hub starts servers as them): skipped loudly without it, and
failed under CI=true. Each step's time goes to ``artifacts/hub-test-steps.json``; screenshots to
``artifacts/screenshots/hub_*.png``. ``make hub-test`` runs it (``.ci/run`` after ``make test``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import pwd
import re
import secrets
import shutil
import stat
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "hub"))
sys.path.insert(0, str(REPO))  # autograder/ is a folder of the repository, not an installed package

import classroom  # noqa: E402
from autograder import behaviours  # noqa: E402
import hubenv  # noqa: E402
from support.nbgrading import (build_submission, graded_cells, load_corpus, solution_cells,  # noqa: E402
                               source_notebook)

LESSON = "01_naive_consumer"
COURSE = classroom.COURSE_ID
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

pytestmark = [pytest.mark.hub, pytest.mark.xdist_group("hub")]


def hub_or_skip() -> None:
    """Skip loudly when this machine cannot run a hub with local users; fail instead under CI=true."""
    problem = None
    if os.geteuid() != 0:
        problem = "it needs root (it creates local users and the hub starts each one's server as that user)"
    elif not shutil.which("useradd"):
        problem = "useradd is missing (Debian: apt-get install passwd)"
    elif not (shutil.which("npm") or (hubenv.DEFAULT_PREFIX / "node" / "node_modules" / ".bin" /
                                      "configurable-http-proxy").exists()):
        problem = "npm is missing for configurable-http-proxy (Debian: apt-get install nodejs npm)"
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the hub test cannot run: {problem} (CI=true: it is required)")
    pytest.skip(f"HUB TEST SKIPPED: {problem}")


class Steps:
    """Times each step of the class and writes them down, so the report can say where time goes."""

    def __init__(self):
        self.times: list[dict] = []
        self.t0 = time.monotonic()

    @contextmanager
    def step(self, name: str, checks: str):
        start = time.monotonic()
        try:
            yield
        finally:
            self.times.append({"step": name, "seconds": round(time.monotonic() - start, 1), "checks": checks})
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "hub-test-steps.json").write_text(json.dumps(
                {"total_seconds": round(time.monotonic() - self.t0, 1), "steps": self.times}, indent=2))


def hidden_test_lines() -> list[str]:
    """Lines of lesson 1's hidden tests long enough to be recognised in a page."""
    lines = []
    for cell in source_notebook(LESSON)["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", src, re.S):
            lines += [line.strip() for line in block.splitlines() if len(line.strip()) > 25]
    assert lines, "lesson 1 has no hidden test to look for"
    return lines


def owner(path: Path) -> int:
    return path.stat().st_uid


def learner_api(room, name: str, token: str):
    """Calls on a learner's own server, through the hub's proxy, with that learner's token."""
    def call(method: str, path: str, **kw):
        return room.request(method, f"/user/{name}/{path}", token=token, **kw)
    return call


@pytest.fixture(scope="module")
def room():
    hub_or_skip()
    steps = Steps()
    with steps.step("environment", "the hub's environment exists (or is made), every uid can read it"):
        env = hubenv.ensure()
    tag = "sqh" + secrets.token_hex(2)
    names = {"instructor": f"{tag}-teach", "right": f"{tag}-ada", "wrong": f"{tag}-bob", "browser": f"{tag}-cy"}
    state = Path(tempfile.mkdtemp(prefix="sqslab-hub-test-"))
    with steps.step("hub", "users created, exchange and course folder made, the hub answers"):
        opened = classroom.open_classroom(env, state, names["instructor"],
                                          [names["right"], names["wrong"], names["browser"]])
    with opened as running:
        running.steps, running.names, running.env_paths = steps, names, env
        yield running
    for name in names.values():
        with pytest.raises(KeyError):
            pwd.getpwnam(name)  # the class's users are gone again


def test_a_class_on_a_real_hub_from_release_to_feedback(room):
    steps, names, env = room.steps, room.names, room.env_paths
    teach, ada, bob, cy = (names[k] for k in ("instructor", "right", "wrong", "browser"))
    learners = {n: room.learners[n] for n in (ada, bob, cy)}

    with steps.step("users", "real local users with private homes; the hub's Python runs as a learner's uid"):
        for user in [room.instructor, *learners.values()]:
            entry = pwd.getpwnam(user.name)
            assert entry.pw_uid == user.uid and user.uid != 0
            assert stat.S_IMODE(user.home.stat().st_mode) == 0o700
        done = classroom.run_as(learners[ada], [str(env["python"]), "-c", "import sqslab, nbgrader; print('ok')"])
        assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
        assert not str(room.exchange).startswith("/etc") and stat.S_IMODE(room.exchange.stat().st_mode) == 0o777

    with steps.step("release", "the instructor (their uid) releases lesson 1 into the exchange"):
        done = room.as_instructor(["nbgrader", "release_assignment", LESSON])
        assert done.returncode == 0, done.stdout + done.stderr
        outbound = room.exchange / COURSE / "outbound" / LESSON / f"{LESSON}.ipynb"
        assert outbound.exists() and owner(outbound) == room.instructor.uid

    with steps.step("servers", "the hub starts each API learner's server, as that learner's uid"):
        for name in (ada, bob):
            room.start_server(name)
        for name in (ada, bob):
            room.wait_ready(name)
            pid = room.request("GET", f"/hub/api/users/{name}?include_stopped_servers=0")["servers"][""]["state"]["pid"]
            assert Path(f"/proc/{pid}").stat().st_uid == learners[name].uid, f"{name}'s server is not {name}'s"

    answers = {ada: solution_cells(source_notebook(LESSON)),
               bob: next(c for c in load_corpus(LESSON) if c.name == "wrong_delete_before_processing").code}
    with steps.step("api learners", "two learners list, fetch, answer (right, wrong) and submit through the API"):
        for name, code in answers.items():
            api = learner_api(room, name, room.user_token(name))
            listed = api("GET", f"assignments?course_id={COURSE}")["value"]
            assert [(a["assignment_id"], a["status"]) for a in listed] == [(LESSON, "released")]
            fetched = api("POST", "assignments/fetch", form={"assignment_id": LESSON, "course_id": COURSE})
            assert fetched["success"], fetched
            path = f"api/contents/{LESSON}/{LESSON}.ipynb"
            nb = build_submission(api("GET", path)["content"], code)
            api("PUT", path, body={"type": "notebook", "format": "json", "content": nb})
            submitted = api("POST", "assignments/submit", form={"assignment_id": LESSON, "course_id": COURSE})
            assert submitted["success"], submitted

    from playwright.sync_api import sync_playwright
    from support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip

    chromium_or_skip()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        try:
            with steps.step("browser learner", "a learner logs in with a password, fetches in the Assignments "
                            "panel, runs the notebook's first cell in a kernel of their uid, submits unanswered"):
                page.goto(f"{room.url}/hub/login")
                page.fill("#username_input", cy)
                page.fill("#password_input", learners[cy].password)
                page.click("#login_submit")
                page.wait_for_url(f"**/user/{cy}/lab**", timeout=180_000)
                page.wait_for_selector(".jp-DirListing-content")
                page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
                page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
                released = page.locator("#released_assignments_list .list_item", has_text=LESSON)
                released.locator("button", has_text="Fetch").click()
                fetched = page.locator("#fetched_assignments_list .list_item", has_text=LESSON).first
                fetched.wait_for(state="visible")
                page.screenshot(path=str(SCREENSHOTS / "hub_learner_fetched.png"))
                page.goto(f"{room.url}/user/{cy}/lab/tree/{LESSON}/{LESSON}.ipynb")
                first = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first
                first.wait_for(state="visible")
                page.wait_for_function(
                    """() => { const s = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) '
                                 + '.jp-Notebook-ExecutionIndicator'); if (!s) return false;
                               const now = s.getAttribute('data-status');
                               if (now && now !== 'idle') window.__seen = true;
                               return now === 'idle' && window.__seen === true; }""", polling=100, timeout=120_000)
                first.locator(".jp-InputArea-editor").click()
                page.keyboard.press("Shift+Enter")
                page.wait_for_function("() => /\\[\\d+\\]/.test(document.querySelector("
                                       "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt').textContent)",
                                       timeout=120_000)
                errors = first.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
                                       ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").all_inner_texts()
                assert not [e for e in errors if "Error" in e], f"the lab's setup cell failed on the hub: {errors}"
                kernels = room.request("GET", f"/user/{cy}/api/kernels", token=room.user_token(cy))
                assert kernels, "no kernel runs for the browser learner"
                page.screenshot(path=str(SCREENSHOTS / "hub_learner_notebook.png"))
                page.goto(f"{room.url}/user/{cy}/lab?reset")
                page.wait_for_selector(".jp-DirListing-content")
                page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
                page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
                page.locator("#fetched_assignments_list .list_item", has_text=LESSON).first \
                    .locator("button", has_text="Submit").click()
                page.locator("#submitted_assignments_list .list_item", has_text=LESSON).first.wait_for(state="visible")
                page.screenshot(path=str(SCREENSHOTS / "hub_learner_submitted.png"))

            with steps.step("exchange", "one submission per learner in the exchange, each owned by that learner's uid"):
                inbound = sorted((room.exchange / COURSE / "inbound").iterdir())
                assert sorted(p.name.split("+")[0] for p in inbound) == sorted(learners)
                for sub in inbound:
                    uid = learners[sub.name.split("+")[0]].uid
                    assert {owner(f) for f in [sub, *sub.iterdir()]} == {uid}, sub.name

            out = room.instructor.home / "course" / "graded"
            with steps.step("collect and grade", "the instructor collects and grades with make grade (their uid, "
                            "their own clone, the sandbox as they get it)"):
                done = room.as_instructor(["nbgrader", "collect", LESSON])
                assert done.returncode == 0, done.stderr
                assert sorted(p.name for p in (room.instructor.home / "course" / "submitted").iterdir()) == sorted(learners)
                done = room.as_instructor(["make", "--no-print-directory", "-C",
                                           str(room.instructor.home / "sqs-reliability-course"), "grade",
                                           f"SUBMISSIONS={room.instructor.home}/course/submitted", f"OUT={out}",
                                           f"VENV={env['venv']}", f"GRADE_ARGS=--assignment {LESSON} --no-progress"],
                                          timeout=900)
                assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
                rows = {r["learner"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
                # The lesson's points, from its own graded cells: right full marks, wrong some, untouched none.
                points = sum(graded_cells(source_notebook(LESSON)).values())
                scores = {n: (float(r["score"]), float(r["max_score"]), r["status"]) for n, r in rows.items()}
                assert set(scores) == {ada, bob, cy} and points > 0, rows
                assert all(m == points and status == "ok" for _, m, status in scores.values()), (points, rows)
                assert scores[ada][0] == points and 0 < scores[bob][0] < points and scores[cy][0] == 0, (points, rows)
                assert (out / "report.html").exists()
                for name in learners:
                    fb = (out / "feedback" / name / LESSON / f"{LESSON}.html").read_text()
                    # nbgrader's own files beside a collected submission are not the learner's strays.
                    assert "was in your folder and was not used" not in fb, name

            with steps.step("return feedback", "the instructor returns the grader's pages with nbgrader release_feedback"):
                done = room.as_instructor([str(env["python"]),
                                           str(room.instructor.home / "sqs-reliability-course" / "tools" / "hub" /
                                               "return_feedback.py"), "--out", str(out), "--assignment", LESSON])
                assert done.returncode == 0, done.stdout + done.stderr
                done = room.as_instructor(["nbgrader", "release_feedback", LESSON])
                assert done.returncode == 0, done.stdout + done.stderr
                assert len(list((room.exchange / COURSE / "feedback").glob("*.html"))) == 3

            hidden = hidden_test_lines()
            with steps.step("api feedback", "each API learner fetches their feedback and sees their score; no hidden test"):
                expect = {n: f"<strong>{rows[n]['score']}</strong> of {rows[n]['max_score']} points" for n in (ada, bob)}
                for name, score in expect.items():
                    api = learner_api(room, name, room.user_token(name))
                    listed = api("POST", "assignments/fetch_feedback", form={"assignment_id": LESSON, "course_id": COURSE})
                    sub = next(a for a in listed["value"] if a["status"] == "submitted")
                    local = sub["submissions"][0]["local_feedback_path"]
                    page_text = api("GET", quote(f"files/{local}/{LESSON}.html"))
                    assert score in page_text, f"{name}'s feedback does not say {score!r}"
                    assert not [line for line in hidden if line in page_text], f"a hidden test reached {name}"
                    if name == bob:
                        # The behaviour its mistake breaks, by the name the feedback gives it.
                        assert behaviours.name("keeps_failed_messages_for_retry") in page_text, page_text[-3000:]
                        assert "order-1 was lost" in page_text, page_text[-3000:]

            with steps.step("browser feedback", "the browser learner fetches the feedback in the Assignments panel "
                            "and reads it: 0 points, the stub's NotImplementedError named, no hidden test"):
                page.goto(f"{room.url}/user/{cy}/lab?reset")
                page.wait_for_selector(".jp-DirListing-content")
                page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
                page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
                submitted = page.locator("#submitted_assignments_list .list_item", has_text=LESSON).first
                submitted.locator("button", has_text="Fetch Feedback").click()
                page.locator("#submitted_assignments_list a", has_text="view feedback").first.wait_for(state="visible")
                page.screenshot(path=str(SCREENSHOTS / "hub_learner_feedback_fetched.png"))
                feedback = next((learners[cy].home / LESSON / "feedback").glob(f"*/{LESSON}.html"))
                assert owner(feedback) == learners[cy].uid
                stamp = feedback.parent.name
                page.goto(f"{room.url}/user/{cy}/files/{LESSON}/feedback/{quote(stamp)}/{LESSON}.html")
                body = page.locator("body").inner_text()
                assert f"0 of {rows[cy]['max_score']} points" in body and "NotImplementedError" in body, body[:1000]
                assert not [line for line in hidden if line in page.content()], "a hidden test reached the browser learner"
                page.screenshot(path=str(SCREENSHOTS / "hub_learner_feedback.png"), full_page=True)

            with steps.step("class report", "the instructor's class report shows the three learners' lesson"):
                page.goto((out / "report.html").as_uri())
                assert page.locator("h2").all_inner_texts() == [LESSON]
                assert "3 learners graded" in page.locator("body").inner_text()
                page.screenshot(path=str(SCREENSHOTS / "hub_class_report.png"), full_page=True)
        finally:
            browser.close()
    log = room.log_tail(200_000)
    assert "Traceback" not in log, f"the hub's log has a traceback:\n{log[-4000:]}"
