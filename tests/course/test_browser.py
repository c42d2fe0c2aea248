"""The course in a real browser: JupyterLab in headless Chromium, driven by Playwright.

Two screens define "fits": a learner's **laptop** (a 1280 x 800 window, JupyterLab's default layout,
file browser open) and a **room** (1024 x 576 CSS px: 1280 x 720 at 125% zoom, the demos in the
presentation layout ``make demo`` opens). Both are looked at in JupyterLab's light and dark themes.

One JupyterLab server (a real ``jupyter lab`` subprocess on 127.0.0.1, a free port, a token, the
learner's settings from ``tools/jupyter-config`` as ``make lab`` uses them) serves a copy of every
lesson's solutions and of the demos; a second one serves the demos as ``make demo`` does
(``tools/jupyter-config/demo``: the simple interface, a workspace of its own). One Chromium
(Debian's, ``/usr/bin/chromium``; Playwright never downloads a browser) drives both.

Every figure output is measured as shown (its smallest text, recorded by the bench in
``data-sqslab-min-text-px``, times its shown width over its natural width: at least 11 px, and the
figure at least 90% of its natural width), and axe-core (``axe-playwright-python``) checks the
notebooks' output areas, the demo widget and a feedback page in both themes: more than zero nodes
checked, no serious or critical violation (colour contrast is one: 4.5:1). JupyterLab's own chrome
is left out. Screenshots go to ``artifacts/screenshots/`` (``{laptop,room}-{light,dark}-*.png``),
axe's results to ``artifacts/axe/``.

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
from support.servers import wait_until_up

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
AXE_RESULTS = REPO / "artifacts" / "axe"
LESSONS = sorted(p.parent.name for p in (REPO / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)
#: Every lesson's notebooks (a lesson in two sittings has ``<a>.ipynb`` and ``<a>_b.ipynb``), as ``<a>/<notebook>``.
NOTEBOOKS = sorted(f"{p.parent.name}/{p.stem}" for p in (REPO / "solutions").glob("*/*.ipynb")
                   if p.parent.name in LESSONS)
DEMOS = sorted(p.name for p in (REPO / "demos").glob("*.ipynb"))
#: The two screens (CSS px) and their zoom.
LAPTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}
ROOM = {"viewport": {"width": 1024, "height": 576}, "device_scale_factor": 1.25}
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
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

    def api(self, path: str, method: str = "GET", body: dict | None = None, prefix: str = "api"):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/{prefix}/{path}", method=method, data=data,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """End every notebook session, so the next test starts its kernel afresh."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")

    def set_theme(self, theme: str) -> None:
        """Make ``theme`` ("light" or "dark") JupyterLab's theme for the pages opened from now on."""
        self.api("settings/@jupyterlab/apputils-extension:themes", method="PUT", prefix="lab/api",
                 body={"raw": json.dumps({"theme": THEMES[theme]})})

    def open(self, path: str) -> str:
        # ?reset: a fresh workspace, so no tab of an earlier test is restored beside this one.
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"


def start_lab(base: Path, root: Path, *extra: str, settings: dict | None = None) -> tuple[subprocess.Popen, Server]:
    """A real ``jupyter lab`` on ``root`` with the learner's settings, answering on a free port.

    ``settings`` are user settings for this run only (``{"plugin-id": {...}}``)."""
    port, token = free_port(), os.urandom(16).hex()
    env = {**os.environ,
           "JUPYTER_CONFIG_PATH": str(REPO / "tools" / "jupyter-config"),  # the learner's settings
           # Nothing of this run lands in the user's own Jupyter folders.
           "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
           "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"), "IPYTHONDIR": str(base / "ipython")}
    # The answer a learner gives to JupyterLab's "notified about news?" toast, given in advance so
    # the toast does not cover the screenshots (the lab's own settings stay the learner's).
    answered = base / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    answered.parent.mkdir(parents=True, exist_ok=True)
    answered.write_text(json.dumps({"fetchNews": "false"}))
    for plugin, values in (settings or {}).items():
        package, name = plugin.rsplit(":", 1)
        path = base / "settings" / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *extra]
    if os.getuid() == 0:
        command.append("--allow-root")
    log = base / "jupyter.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, f"{url}/api/status?token={token}", log, "jupyter lab")
    except BaseException:
        stop_lab(proc)
        raise
    return proc, Server(url, token, root, log)


def stop_lab(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The learner's lab: every lesson's solutions and the demos."""
    chromium_or_skip()
    base = tmp_path_factory.mktemp("browser")
    root = base / "root"
    for lesson in LESSONS:
        shutil.copytree(REPO / "solutions" / lesson, root / lesson)
    shutil.copytree(REPO / "demos", root / "demos")
    # Every cell attached and drawn, not only those on screen, so axe-core sees every output
    # (content-visibility leaves cells off screen unrendered); nothing on screen looks different.
    proc, lab = start_lab(base, root, settings={"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}})
    try:
        yield lab
    finally:
        stop_lab(proc)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """The demos as ``make demo`` opens them: a copy, the presentation layout, a workspace of its own."""
    chromium_or_skip()
    base = tmp_path_factory.mktemp("demo")
    root = base / "demo-work"
    root.mkdir()
    for name in DEMOS:
        shutil.copy(REPO / "demos" / name, root / name)
    workspaces = root / ".workspaces"
    workspaces.mkdir()
    subprocess.run([sys.executable, "-m", "jupyter", "lab", "workspaces", "import",
                    f"--LabWorkspaceImportApp.workspaces_dir={workspaces}",
                    str(REPO / "tools" / "jupyter-config" / "demo" / "workspace.json")],
                   check=True, capture_output=True, timeout=120)
    proc, lab = start_lab(base, root, f"--LabApp.app_settings_dir={REPO / 'tools' / 'jupyter-config' / 'demo'}",
                          f"--LabApp.workspaces_dir={workspaces}", f"--LabApp.default_url=/doc/tree/{DEMOS[0]}")
    try:
        yield lab
    finally:
        stop_lab(proc)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    AXE_RESULTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser, screen: dict, request, servers: list):
    context = browser.new_context(**screen)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.console_errors = errors
    try:
        yield page
    finally:
        # How the page looked when the test ended (passed or not): the first thing to look at.
        page.screenshot(path=str(SCREENSHOTS / f"end-{request.node.name.removeprefix('test_')[:60]}.png"))
        context.close()
        for lab in servers:
            lab.shut_down_kernels()
            lab.set_theme("light")


@pytest.fixture
def page(browser, server, request):
    """A laptop's window on the learner's lab."""
    yield from new_page(browser, LAPTOP, request, [server])


@pytest.fixture
def room(browser, demo_server, request):
    """A room's screen on the demos' lab."""
    yield from new_page(browser, ROOM, request, [demo_server])


INDICATOR = f"{PANEL} .jp-Notebook-ExecutionIndicator"


def open_notebook(page, server: Server, path: str, url: str | None = None) -> None:
    """Open a notebook (at ``url``, by default the learner's lab with a fresh workspace) and wait
    until its kernel is connected and idle."""
    page.goto(url or server.open(path))
    page.wait_for_selector(f"{PANEL} .jp-Cell", state="visible", timeout=60_000)
    # The indicator says "idle" before any kernel exists, then initializing, connecting, busy,
    # and idle again: ready means idle after having been something else.
    page.wait_for_function(
        """(sel) => { const s = document.querySelector(sel); if (!s) return false;
                      const now = s.getAttribute('data-status');
                      if (now && now !== 'idle') window.__sqslabKernelSeen = true;
                      return now === 'idle' && window.__sqslabKernelSeen === true; }""",
        arg=INDICATOR, polling=50, timeout=60_000)


def run_all_and_wait(page, timeout: int = 300_000) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    wait_until_all_ran(page, timeout)


def show_in_viewport(page, locator) -> None:
    """Scroll ``locator`` into view and wait until the notebook has painted it (JupyterLab draws
    only the cells on screen, so a screenshot right after scrolling can catch blank space)."""
    from playwright.sync_api import Error, expect

    # The widget replaces its picture when it redraws (after the last click's echo, too): an
    # element caught mid-replacement is detached, so look the locator up again.
    for attempt in range(5):
        try:
            reveal(page, locator)
            expect(locator).to_be_in_viewport()
            locator.evaluate("img => img.complete || new Promise(done => img.addEventListener('load', done))")
            break
        except Error:
            if attempt == 4:
                raise
            page.wait_for_timeout(200)
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def reveal(page, locator) -> None:
    """Scroll ``locator`` to the middle of the screen. Cells off screen are laid out at a guessed
    height (content-visibility), so one scroll can land short: scroll again until it is there."""
    for _ in range(4):
        locator.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        if locator.evaluate("e => { const b = e.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight "
                            "|| (b.top <= 0 && b.bottom >= innerHeight); }"):
            return


def error_outputs(page) -> list[str]:
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'],"
                        " .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").all_inner_texts()


def switch_theme(page, theme: str) -> None:
    """Choose JupyterLab's theme from its Settings menu, as a learner would."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{THEMES[theme]}$")).click()
    wait_for_theme(page, theme)


#: The theme is on screen when JupyterLab says so and its stylesheet has painted the notebook: the
#: ``data-jp-theme-light`` flag changes before the new CSS arrives (a screenshot or an axe check taken
#: in between sees the dark figures on the light page).
THEME_PAINTED_JS = r"""(light) => {
  if (document.body.dataset.jpThemeLight !== light) return false;
  let e = document.querySelector('.jp-Notebook') || document.querySelector('.jp-LabShell') || document.body;
  let bg = null;
  for (; e; e = e.parentElement) {
    bg = getComputedStyle(e).backgroundColor;
    if (bg && bg !== 'transparent' && !/^rgba\(.*,\s*0\)$/.test(bg)) break;
  }
  if (!e) return false;
  const [r, g, b] = bg.match(/[\d.]+/g).map(Number);
  const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  return light === 'true' ? luminance > 0.5 : luminance < 0.5;
}"""


def wait_for_theme(page, theme: str) -> None:
    page.wait_for_function(THEME_PAINTED_JS, arg="true" if theme == "light" else "false", timeout=30_000)


#: The figures of one output as shown: per figure (a ``<figure>`` of the bench, or a loose ``<img>``), the
#: variants on display, with their natural and shown widths and smallest text. The demo widget's output
#: holds two figures (the timeline and its key, apart so the picture fits beside the controls).
MEASURE_JS = """(output) => {
  const figures = output.matches('figure.sqslab-figure') ? [output] : [...output.querySelectorAll('figure.sqslab-figure')];
  const groups = figures.map(f => [...f.querySelectorAll('img')]);
  const loose = [...output.querySelectorAll('img')].filter(i => !i.closest('figure.sqslab-figure'));
  return groups.concat(loose.map(i => [i])).map(imgs => imgs
    .filter(i => getComputedStyle(i).display !== 'none')
    .map(i => ({natural: i.naturalWidth, width: i.getBoundingClientRect().width,
                min: parseFloat(i.dataset.sqslabMinTextPx || 'NaN'), variant: i.className,
                alt: i.getAttribute('alt') || ''})));
}"""


def measure_figures(page, outputs, theme: str, where: str) -> list[dict]:
    """Every figure of every output of ``outputs`` (a locator), scrolled into view and measured as shown.

    Fails when one is shown below 90% of its natural width or its smallest text below 11 px, when
    it shows another theme's variant (or both, or none), or when its picture cannot be measured.
    Every output must hold at least one figure: the outputs measured are the figure outputs."""
    figures, problems = [], []
    for i in range(outputs.count()):
        output = outputs.nth(i)
        reveal(page, output)
        output.evaluate("o => Promise.all([...o.querySelectorAll('img')].map(i => i.complete || "
                        "new Promise(done => i.addEventListener('load', done))))")
        groups = output.evaluate(MEASURE_JS)
        if not groups:
            problems.append(f"{where} output {i + 1}: no figure in it")
        for j, shown in enumerate(groups):
            label = f"{where} figure {i + 1}" + (f".{j + 1}" if len(groups) > 1 else "")
            if len(shown) != 1:
                problems.append(f"{label}: {len(shown)} pictures on display, not one")
                continue
            f = shown[0]
            f["output"] = i
            f["ratio"] = f["width"] / f["natural"] if f["natural"] else 0.0
            f["text_px"] = f["min"] * f["ratio"]
            figures.append(f)
            name = f"{label} ({f['natural']} px)"
            if not f["min"] == f["min"]:  # NaN: a picture the bench did not draw, or one that does not say
                problems.append(f"{name}: no data-sqslab-min-text-px, so its text cannot be measured")
            elif f["ratio"] < 0.9:
                problems.append(f"{name} is shown at {f['ratio']:.0%} of its natural width")
            elif f["text_px"] < 11:
                problems.append(f"{name}: its smallest text is {f['text_px']:.1f} px as shown")
            if f"sqslab-on-{theme}" not in f["variant"]:
                problems.append(f"{name} shows {f['variant']!r} in the {theme} theme")
            if not f["alt"].strip():
                problems.append(f"{name} has no alt text")
    assert not problems, "\n".join(problems)
    return figures


def axe_check(page, include: list[str], name: str, every_impact: bool = False) -> dict:
    """axe-core on the elements ``include`` selects (JupyterLab's own chrome left out).

    Records the result in ``artifacts/axe/<name>.json``; fails when no node was checked, when the
    contrast rule did not run, or on any serious or critical violation (on any violation at all with
    ``every_impact``: the grader's own pages, where nothing is JupyterLab's)."""
    from axe_playwright_python.sync_playwright import Axe

    # JupyterLab's <body> is 0 px high (its shell is positioned absolutely), and axe-core takes an
    # element clipped by an overflow-hidden ancestor of no height for hidden: every output would be
    # "inapplicable" to the contrast rule. Give the page its full height first (nothing on screen moves).
    page.evaluate("() => { document.documentElement.style.height = '100%'; document.body.style.height = '100%'; }")
    result = Axe().run(page, context={"include": include},
                       options={"resultTypes": ["violations", "passes", "incomplete"]}).response
    nodes = {kind: sum(len(rule["nodes"]) for rule in result[kind]) for kind in ("passes", "violations", "incomplete")}
    rules = {rule["id"] for kind in ("passes", "violations", "incomplete") for rule in result[kind]}
    bad = [v for v in result["violations"] if every_impact or v["impact"] in ("serious", "critical")]
    summary = {"page": name, "nodes_checked": sum(nodes.values()), **{f"{k}_nodes": v for k, v in nodes.items()},
               "violations": {v["id"]: {"impact": v["impact"], "nodes": len(v["nodes"])} for v in result["violations"]},
               "serious_or_critical": len(bad)}
    (AXE_RESULTS / f"{name}.json").write_text(json.dumps({"summary": summary, "violations": result["violations"]},
                                                         indent=1))
    assert summary["nodes_checked"] > 0, f"axe checked nothing on {name}: {include}"
    assert "color-contrast" in rules, f"axe's contrast rule did not run on {name}"
    assert not bad, f"axe on {name}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in bad)
    return summary


def wait_until_all_ran(page, timeout: int = 300_000) -> None:
    # Done when no code cell waits or runs ("[*]") and the kernel is idle again.
    page.wait_for_function(
        "(panel) => { const p = document.querySelector(panel); if (!p) return false;"
        " const prompts = [...p.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];"
        " const s = p.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return prompts.length > 0 && prompts.every(x => /\\[\\d+\\]/.test(x.textContent))"
        " && (!s || s.getAttribute('data-status') === 'idle'); }", arg=PANEL, timeout=timeout)


def test_lesson_1_solutions_run_in_the_browser_without_an_error_and_validate_passes(page, server):
    open_notebook(page, server, f"{LESSON}/{LESSON}.ipynb")
    run_all_and_wait(page)
    errors = [e for e in error_outputs(page) if "Traceback" in e or "Error" in e]
    assert not errors, "error output in lesson 1's solutions:\n" + "\n---\n".join(errors)[:3000]
    page.wait_for_selector("figure.sqslab-timeline img")
    alts = page.eval_on_selector_all(".jp-OutputArea img", "imgs => imgs.map(i => i.getAttribute('alt') || '')")
    assert alts and all(a.strip() for a in alts), f"a figure without alt text: {alts}"
    # The second timeline: the crash between the charge and the delete, drawn in the browser.
    show_in_viewport(page, page.locator(f"{PANEL} figure.sqslab-timeline img.sqslab-on-light").nth(1))
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
    assert page.locator(".sqslab-demo img.sqslab-demo-timeline").first.get_attribute("alt").startswith("Timeline of 3 messages")
    page.screenshot(path=str(SCREENSHOTS / "demo_widget_after_step.png"))
    # A click on a message: its history is shown and its row of the timeline is highlighted.
    widget.locator("button", has_text=re.compile(r"^order-2$")).click()
    page.wait_for_function("() => document.querySelector('.sqslab-demo').innerText.includes('▶ order-2')")
    page.wait_for_function("() => document.querySelector('.sqslab-demo img.sqslab-demo-timeline')"
                           ".alt.includes('The row of order-2 is highlighted.')")
    assert "received by consumer-1 t=0" in widget.inner_text()
    show_in_viewport(page, page.locator(".sqslab-demo img.sqslab-demo-timeline.sqslab-on-light"))
    page.screenshot(path=str(SCREENSHOTS / "demo_widget_selected_timeline.png"))

    # Lesson 1's story with the lists and buttons: a crash after order-4's charge, a redelivery.
    widget.locator("button", has_text="Send an order").click()
    wait_for_rows(page, {"order-1": "✓ deleted", "order-2": "✓ deleted", "order-3": "✓ deleted",
                         "order-4": "● visible"})
    lane = widget.locator(".widget-vbox", has=page.locator("button", has_text="Step lane 1")).last
    lane.locator("select").nth(0).select_option("effect_committed")
    lane.locator("select").nth(1).select_option("order-4")
    widget.locator("button", has_text="Arm lane 1's crash").click()
    page.wait_for_function("() => document.querySelector('.sqslab-demo').innerText.includes('armed: effect_committed on order-4')")
    widget.locator("button", has_text="Step lane 1").click()
    page.wait_for_function("() => document.querySelector('.sqslab-demo').innerText.includes('✗ died')")
    # The crash fired: the lane's crash lists are back to "no crash" (they never show a crash to come
    # that is not coming).
    page.wait_for_function("(sel) => [...document.querySelectorAll(sel)].slice(0, 2).every(s => s.value === '' || "
                           "s.selectedIndex === 0)", arg=".sqslab-demo .sqslab-group select")
    for label in ("+31 s", "Start lane 1", "Step lane 1"):
        widget.locator("button", has_text=re.compile(rf"^{re.escape(label)}$")).click()
        page.wait_for_function("(t) => document.querySelector('.sqslab-demo').innerText.includes(t)",
                               arg={"+31 s": "t = 31 s", "Start lane 1": "▶ running", "Step lane 1": "TWICE"}[label])
    twice = widget.locator("span", has_text="✗ 2 — TWICE")
    assert twice.count() == 1 and twice.evaluate("e => getComputedStyle(e).color") == "rgb(176, 0, 32)"
    show_in_viewport(page, page.locator(".sqslab-demo img.sqslab-demo-timeline.sqslab-on-light"))
    page.screenshot(path=str(SCREENSHOTS / "demo_widget_twice.png"))

    # The same widget on a laptop, in both themes: its picture measured as shown, axe on the widget.
    widget_output = page.locator(f"{PANEL} .jp-OutputArea-output:has(.sqslab-demo)")
    for theme in ("light", "dark"):
        if theme == "dark":
            switch_theme(page, "dark")
        measure_figures(page, widget_output, theme, f"demo widget ({theme})")
        axe_check(page, [".sqslab-demo"], f"laptop-{theme}-demo-widget")
        page.evaluate("() => document.querySelector('.sqslab-demo').scrollIntoView({block: 'start'})")
        page.screenshot(path=str(SCREENSHOTS / f"laptop-{theme}-demo-widget.png"))


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


# -- figures that fit, in both themes; axe on the output areas -------------------------------------
FIGURE_CALLS = re.compile(r"\btimeline\.show\(|\bshow_receives\(|\bshow_polls\(|\bt\.show\(|\.verdict\.show\(")


def figure_calls(notebook: str) -> int:
    """How many figure calls the notebook's code makes (each shows one figure output, or more in a loop)."""
    nb = json.loads((REPO / "solutions" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    return sum(len(FIGURE_CALLS.findall("".join(c["source"]))) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_figure_of_a_lesson_fits_a_laptop_and_reads_in_light_and_dark(page, server, notebook):
    stem = notebook.split("/")[1]
    figures_outputs = page.locator(f"{PANEL} .jp-OutputArea-output:has(img)")
    open_notebook(page, server, f"{notebook}.ipynb")
    run_all_and_wait(page)
    errors = [e for e in error_outputs(page) if "Traceback" in e or "Error" in e]
    assert not errors, f"error output in {notebook}:\n" + "\n---\n".join(errors)[:2000]
    record = {"notebook": notebook, "screen": "laptop", "figure_outputs": figures_outputs.count(), "themes": {}}
    for theme in ("light", "dark"):
        if theme == "dark":
            switch_theme(page, "dark")
        figures = measure_figures(page, figures_outputs, theme, f"{notebook} ({theme})")
        # The number measured is the number of figure outputs, and no figure call went unseen.
        measured = len({f["output"] for f in figures})
        assert measured == len(figures) == figures_outputs.count() >= figure_calls(notebook), \
            (notebook, measured, len(figures), figures_outputs.count(), figure_calls(notebook))
        if figures:
            smallest = min(range(len(figures)), key=lambda i: figures[i]["text_px"])
            record["themes"][theme] = {"measured": len(figures),
                                       "smallest_text_px": round(figures[smallest]["text_px"], 2),
                                       "smallest_in": figures[smallest]["alt"][:80],
                                       "narrowest_ratio": round(min(f["ratio"] for f in figures), 3)}
            widest = max(range(len(figures)), key=lambda i: figures[i]["natural"])
            show_in_viewport(page, figures_outputs.nth(figures[widest]["output"]).locator(f"img.sqslab-on-{theme}").first)
        record.setdefault("axe", {})[theme] = axe_check(page, [f"{PANEL} .jp-OutputArea-output"],
                                                        f"laptop-{theme}-{stem}")["nodes_checked"]
        page.screenshot(path=str(SCREENSHOTS / f"laptop-{theme}-{stem}.png"))
    (AXE_RESULTS / f"figures-{stem}.json").write_text(json.dumps(record, indent=1))


def test_a_feedback_page_reads_in_light_and_dark_on_a_laptop_and_in_a_room(page, browser, tmp_path):
    """A grader's feedback page, built with autograder/feedback.py's render as the grader does."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # autograder/ is a folder of the repository, not a package
    from autograder import feedback
    from sqslab import Fault, run_scenario
    from sqslab.selftest import _naive
    from sqslab.views import timeline

    failing = run_scenario(_naive, messages=2, faults=[Fault("effect_committed", 0)])
    cell = {"grade_id": "charges_each_order_once", "description": "Each order once.", "score": 0, "points": 2,
            "passed": False, "error": {"ename": "AssertionError", "evalue": failing.verdict.explanation},
            "timeline_html": timeline.to_html(failing.history, title="charges_each_order_once: the failing run")}
    entry = {"name": "02_idempotent_consumer", "score": 0, "max_score": 2, "status": "ok", "cells": [cell]}
    from types import SimpleNamespace

    html_page = feedback.render("ada", SimpleNamespace(name="02_idempotent_consumer"), entry,
                                {"status": "ok", "reason": "Graded."})
    path = tmp_path / "feedback.html"
    path.write_text(html_page, encoding="utf-8")
    room = browser.new_context(**ROOM).new_page()
    try:
        for screen, view in (("laptop", page), ("room", room)):
            for theme in ("light", "dark"):
                view.emulate_media(color_scheme=theme)
                view.goto(path.as_uri())
                # The page has no dark style of its own (autograder/feedback.py's): its picture stays
                # the light one, on its white page, whatever the reader's system prefers.
                measure_figures(view, view.locator("figure.sqslab-figure"), "light", f"feedback page ({screen}, {theme})")
                axe_check(view, ["body"], f"{screen}-{theme}-feedback-page", every_impact=True)
                view.locator("figure.sqslab-figure").scroll_into_view_if_needed()
                view.screenshot(path=str(SCREENSHOTS / f"{screen}-{theme}-feedback-page.png"), full_page=True)
    finally:
        room.context.close()


# -- a room: the demos in the presentation layout ---------------------------------------------------
def in_view(page, selector: str) -> dict | None:
    """Where the first displayed element ``selector`` selects is, and the part of the screen the
    notebook shows (below its toolbar: what is scrolled under the toolbar is not on screen)."""
    return page.evaluate("""([sel, panel]) => { const e = [...document.querySelectorAll(sel)].find(x => x.offsetParent);
        if (!e) return null; const b = e.getBoundingClientRect();
        const p = document.querySelector(panel);
        const s = (p && (p.querySelector('.jp-WindowedPanel-outer') || p.querySelector('.jp-Notebook'))) || document.body;
        const v = s.getBoundingClientRect();
        return {left: b.left, top: b.top, right: b.right, bottom: b.bottom,
                view_top: Math.max(v.top, 0), view_bottom: Math.min(v.bottom, innerHeight),
                view_right: Math.min(v.right, innerWidth)}; }""", [selector, PANEL])


def room_boxes(room, theme: str) -> dict:
    """The controls, the message table and the timeline of the demo widget, with the widget's top at
    the top of the notebook's view."""
    room.evaluate("() => document.querySelector('.sqslab-demo').scrollIntoView({block: 'start'})")
    room.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    return {what: in_view(room, sel) for what, sel in (
        ("controls", ".sqslab-demo .sqslab-controls"), ("messages", ".sqslab-demo .widget-gridbox"),
        ("timeline", f".sqslab-demo img.sqslab-demo-timeline.sqslab-on-{theme}"))}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_demo_in_a_room_shows_controls_messages_and_timeline_together(room, demo_server, theme):
    demo_server.set_theme(theme)
    shown = DEMOS if theme == "light" else [DEMOS[0], DEMOS[3]]
    for name in shown:
        open_notebook(room, demo_server, name, url=f"{demo_server.url}/doc/tree/{name}?token={demo_server.token}")
        wait_for_theme(room, theme)
        # The presentation layout: no header, file browser or status bar; presentation-size text.
        assert room.locator("#jp-top-panel").is_hidden() and room.locator("#jp-main-statusbar").is_hidden()
        assert room.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").count() == 0   # no file browser
        run_all_and_wait(room)
        # A notebook that shows a demo has presentation-size text (the widget's style sheet says so).
        assert room.evaluate(f"() => getComputedStyle(document.querySelector('{PANEL} .jp-Notebook'))"
                             ".getPropertyValue('--jp-content-font-size1').trim()") == "17px"
        boxes = room_boxes(room, theme)
        for what, box in boxes.items():
            assert box, f"{name}: no {what} on screen"
            assert box["top"] >= box["view_top"] - 0.5 and box["bottom"] <= box["view_bottom"] + 0.5 \
                and box["right"] <= box["view_right"] + 0.5, \
                f"{name} in a room: the {what} is not all on screen together with the others: {box}"
        stem = name.removesuffix(".ipynb")
        room.screenshot(path=str(SCREENSHOTS / f"room-{theme}-{stem}.png"))
        figures = measure_figures(room, room.locator(f"{PANEL} .jp-OutputArea-output:has(.sqslab-demo)"), theme,
                                  f"{name} in a room ({theme})")
        (AXE_RESULTS / f"figures-room-{theme}-{stem}.json").write_text(json.dumps(
            {"demo": stem, "screen": "room", "theme": theme, "measured": len(figures),
             "smallest_text_px": round(min(f["text_px"] for f in figures), 2),
             "narrowest_ratio": round(min(f["ratio"] for f in figures), 3)}, indent=1))
        axe_check(room, [".sqslab-demo"], f"room-{theme}-{stem}")
        demo_server.shut_down_kernels()
