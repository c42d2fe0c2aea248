"""The course in a real browser: JupyterLab in headless Chromium, driven by Playwright.

One JupyterLab server (a real ``jupyter lab`` subprocess on 127.0.0.1, a free port, a token, the
learner's settings from ``tools/jupyter-config`` as ``make lab`` uses them) serves a copy of lesson
1's solutions and of the demos for the whole module; one Chromium (Debian's, ``/usr/bin/chromium``;
Playwright never downloads a browser) drives it. Screenshots go to ``artifacts/screenshots/``.

Without Chromium these tests are skipped, loudly; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
LESSON = "01_naive_consumer"
DEMO = "01_naive_double_charge"
#: The notebook on show (JupyterLab hides the others' panels).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# Every test here shares one server and one browser: keep them on one xdist worker.
pytestmark = pytest.mark.xdist_group("browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str
    root: Path
    log: Path

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """End every notebook session, so the next test starts its kernel afresh."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")

    def open(self, path: str) -> str:
        # ?reset: a fresh workspace, so no tab of an earlier test is restored beside this one.
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    chromium_or_skip()
    base = tmp_path_factory.mktemp("browser")
    root = base / "root"
    shutil.copytree(REPO / "solutions" / LESSON, root / LESSON)
    shutil.copytree(REPO / "demos", root / "demos")
    port, token = free_port(), os.urandom(16).hex()
    env = {**os.environ,
           "JUPYTER_CONFIG_PATH": str(REPO / "tools" / "jupyter-config"),  # the learner's settings
           # Nothing of this run lands in the user's own Jupyter folders.
           "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
           "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"), "IPYTHONDIR": str(base / "ipython")}
    # The answer a learner gives to JupyterLab's "notified about news?" toast, given in advance so
    # the toast does not cover the screenshots (the lab's own settings stay the learner's).
    answered = base / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    answered.parent.mkdir(parents=True)
    answered.write_text(json.dumps({"fetchNews": "false"}))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.getuid() == 0:
        command.append("--allow-root")
    log = base / "jupyter.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)  # real time: waiting for a real server to start
        yield Server(url, token, root, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        # How the page looked when the test ended (passed or not): the first thing to look at.
        page.screenshot(path=str(SCREENSHOTS / f"end-{request.node.name.removeprefix('test_')[:60]}.png"))
        context.close()
        server.shut_down_kernels()


INDICATOR = f"{PANEL} .jp-Notebook-ExecutionIndicator"


def open_notebook(page, server: Server, path: str) -> None:
    """Open a notebook and wait until its kernel is connected and idle."""
    page.goto(server.open(path))
    page.wait_for_selector(f"{PANEL} .jp-Cell", state="visible")
    # The indicator says "idle" before any kernel exists, then initializing, connecting, busy,
    # and idle again: ready means idle after having been something else.
    page.wait_for_function(
        """(sel) => { const s = document.querySelector(sel); if (!s) return false;
                      const now = s.getAttribute('data-status');
                      if (now && now !== 'idle') window.__sqslabKernelSeen = true;
                      return now === 'idle' && window.__sqslabKernelSeen === true; }""",
        arg=INDICATOR, polling=50, timeout=60_000)


def run_all_and_wait(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    # Done when no code cell waits or runs ("[*]") and the kernel is idle again.
    page.wait_for_function(
        "() => { const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];"
        " const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent))"
        " && s && s.getAttribute('data-status') === 'idle'; }", timeout=90_000)


def show_in_viewport(page, locator) -> None:
    """Scroll ``locator`` into view and wait until the notebook has painted it (JupyterLab draws
    only the cells on screen, so a screenshot right after scrolling can catch blank space)."""
    from playwright.sync_api import Error, expect

    # The widget replaces its picture when it redraws (after the last click's echo, too): an
    # element caught mid-replacement is detached, so look the locator up again.
    for attempt in range(5):
        try:
            locator.scroll_into_view_if_needed(timeout=5_000)
            expect(locator).to_be_in_viewport()
            locator.evaluate("img => img.complete || new Promise(done => img.addEventListener('load', done))")
            break
        except Error:
            if attempt == 4:
                raise
            page.wait_for_timeout(200)
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def error_outputs(page) -> list[str]:
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'],"
                        " .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").all_inner_texts()


def test_lesson_1_solutions_run_in_the_browser_without_an_error_and_validate_passes(page, server):
    open_notebook(page, server, f"{LESSON}/{LESSON}.ipynb")
    run_all_and_wait(page)
    errors = [e for e in error_outputs(page) if "Traceback" in e or "Error" in e]
    assert not errors, "error output in lesson 1's solutions:\n" + "\n---\n".join(errors)[:3000]
    page.wait_for_selector("figure.sqslab-timeline img")
    alts = page.eval_on_selector_all(".jp-OutputArea img", "imgs => imgs.map(i => i.getAttribute('alt') || '')")
    assert alts and all(a.strip() for a in alts), f"a figure without alt text: {alts}"
    # The second timeline: the crash between the charge and the delete, drawn in the browser.
    show_in_viewport(page, page.locator(f"{PANEL} figure.sqslab-timeline img").nth(1))
    page.screenshot(path=str(SCREENSHOTS / "lesson1_solutions_ran.png"))

    # nbgrader's JupyterLab extension: the learner's Validate button is there and works.
    validate = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button")
    validate.wait_for(state="visible")
    validate.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(state="visible", timeout=120_000)
    page.screenshot(path=str(SCREENSHOTS / "lesson1_validate.png"))
    text = dialog.inner_text()
    assert "Success! Your notebook passes all the tests." in text, text[:2000]


def test_the_learners_lab_loads_nbgrader_but_hides_the_instructors_panels(page, server):
    # (The Validate button itself is pressed in the lesson test above.)
    page.goto(f"{server.url}/lab?reset&token={server.token}")
    page.locator(".jp-DirListing-item", has_text=LESSON).wait_for(state="visible")
    menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    assert "Nbgrader" not in menus, menus  # the formgrader / course list / assignment list menu
    tabs = page.locator(".lm-TabBar-tabLabel").all_inner_texts()
    assert not {"Formgrader", "Assignments", "Courses"} & set(tabs), tabs
    extensions = json.loads(page.locator("#jupyter-config-data").inner_text())
    disabled = set(extensions.get("disabledExtensions", {}) if isinstance(extensions.get("disabledExtensions"), dict)
                   else extensions.get("disabledExtensions", []))
    assert "@jupyter/nbgrader:assignment-list" in disabled and "@jupyter/nbgrader:validate-assignment" not in disabled


def run_first_cell(page) -> None:
    page.locator(f"{PANEL} .jp-CodeCell").first.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


ROWS_JS = """() => { const grid = document.querySelector('.sqslab-demo .widget-gridbox');
                     const out = {}; if (!grid) return out; const cells = [...grid.children];
                     for (let i = 4; i + 3 < cells.length; i += 4) {
                       out[cells[i].innerText.replace('▶ ', '').trim()] = cells[i + 1].innerText.trim(); }
                     return out; }"""


def demo_rows(page) -> dict[str, str]:
    """The demo widget's messages table: order -> its state, as the page shows it."""
    return page.evaluate(ROWS_JS)


def wait_for_rows(page, expected: dict[str, str]) -> None:
    """Wait until the table shows ``expected`` (widget updates arrive one message at a time)."""
    try:
        page.wait_for_function(f"(want) => JSON.stringify(({ROWS_JS})()) === JSON.stringify(want)",
                               arg=expected, timeout=20_000)
    except Exception:
        pass  # the assertion below says what the page shows instead
    assert demo_rows(page) == expected


def test_the_demo_widget_renders_and_a_click_changes_a_messages_state(page, server):
    open_notebook(page, server, f"demos/{DEMO}.ipynb")
    run_first_cell(page)
    widget = page.locator(".sqslab-demo")
    widget.wait_for(state="visible")
    widget.locator("button", has_text="Send 3 orders").click()
    wait_for_rows(page, {"order-1": "● visible", "order-2": "● visible", "order-3": "● visible"})
    widget.locator("button", has_text="Start lane 1").click()
    page.wait_for_function("() => document.querySelector('.sqslab-demo').innerText.includes('▶ running')")
    widget.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "demo_widget_before_step.png"))
    widget.locator("button", has_text="Step lane 1").click()   # the click: a step of lane 1's consumer
    wait_for_rows(page, {"order-1": "✓ deleted", "order-2": "✓ deleted", "order-3": "✓ deleted"})
    assert "✓ 1 — once" in widget.inner_text()
    areas = page.eval_on_selector_all(".sqslab-demo map area", "a => a.map(x => x.getAttribute('title'))")
    assert [a.split(":")[0] for a in areas] == ["order-1", "order-2", "order-3"]
    assert page.locator(".sqslab-demo img.sqslab-demo-timeline").get_attribute("alt").startswith("Timeline of 3 messages")
    page.screenshot(path=str(SCREENSHOTS / "demo_widget_after_step.png"))
    # A click on a message: its history is shown and its row of the timeline is highlighted.
    widget.locator("button", has_text=re.compile(r"^order-2$")).click()
    page.wait_for_function("() => document.querySelector('.sqslab-demo').innerText.includes('▶ order-2')")
    page.wait_for_function("() => document.querySelector('.sqslab-demo img.sqslab-demo-timeline')"
                           ".alt.includes('The row of order-2 is highlighted.')")
    assert "received by consumer-1 t=0" in widget.inner_text()
    show_in_viewport(page, page.locator(".sqslab-demo img.sqslab-demo-timeline"))
    page.screenshot(path=str(SCREENSHOTS / "demo_widget_selected_timeline.png"))

    # Lesson 1's story with the lists and buttons: a crash after order-4's charge, a redelivery.
    widget.locator("button", has_text="Send an order").click()
    wait_for_rows(page, {"order-1": "✓ deleted", "order-2": "✓ deleted", "order-3": "✓ deleted",
                         "order-4": "● visible"})
    lane = widget.locator(".widget-vbox", has=page.locator("button", has_text="Step lane 1")).last
    lane.locator("select").nth(1).select_option("effect_committed")
    lane.locator("select").nth(2).select_option("order-4")
    widget.locator("button", has_text="Arm the crash for lane 1").click()
    page.wait_for_function("() => document.querySelector('.sqslab-demo').innerText.includes('armed: effect_committed on order-4')")
    widget.locator("button", has_text="Step lane 1").click()
    page.wait_for_function("() => document.querySelector('.sqslab-demo').innerText.includes('✗ died')")
    for label in ("+31 s", "Start lane 1", "Step lane 1"):
        widget.locator("button", has_text=re.compile(rf"^{re.escape(label)}$")).click()
        page.wait_for_function("(t) => document.querySelector('.sqslab-demo').innerText.includes(t)",
                               arg={"+31 s": "t = 31 s", "Start lane 1": "▶ running", "Step lane 1": "TWICE"}[label])
    twice = widget.locator("span", has_text="✗ 2 — TWICE")
    assert twice.count() == 1 and twice.evaluate("e => getComputedStyle(e).color") == "rgb(176, 0, 32)"
    show_in_viewport(page, page.locator(".sqslab-demo img.sqslab-demo-timeline"))
    page.screenshot(path=str(SCREENSHOTS / "demo_widget_twice.png"))


def test_the_demo_widget_works_from_the_keyboard_alone(page, server):
    open_notebook(page, server, f"demos/{DEMO}.ipynb")
    run_first_cell(page)
    widget = page.locator(".sqslab-demo")
    widget.wait_for(state="visible")
    # Tab from the first button to the next ones, as a keyboard user would, and press with Enter/Space.
    widget.locator("button", has_text="Send an order").focus()
    page.keyboard.press("Enter")
    wait_for_rows(page, {"order-1": "● visible"})
    assert page.evaluate("() => document.activeElement.innerText") == "Send an order"  # focus stayed
    labels = []
    for _ in range(12):
        page.keyboard.press("Tab")
        labels.append(page.evaluate("() => document.activeElement.innerText || document.activeElement.title || "
                                    "document.activeElement.tagName"))
        if labels[-1] == "Start lane 1":
            break
    assert labels[-1] == "Start lane 1", f"Tab never reached 'Start lane 1': {labels}"
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('.sqslab-demo').innerText.includes('▶ running')")
    page.wait_for_function("() => document.activeElement.innerText === 'Stop lane 1'", timeout=10_000)
    # The same button, relabelled: the keyboard focus did not move.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.innerText") == "Step lane 1"
    page.keyboard.press("Enter")
    wait_for_rows(page, {"order-1": "✓ deleted"})
    page.screenshot(path=str(SCREENSHOTS / "demo_widget_keyboard.png"))
