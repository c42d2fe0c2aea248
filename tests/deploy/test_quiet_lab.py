"""`make lab` is quiet: opening a notebook leaves no traceback and no warning in the terminal.

A learner reads the terminal `make lab` runs in; a traceback or a warning there looks like their
fault, and they can do nothing about any of these:

- "Uncaught exception GET /api/kernels/.../channels ... 'NoneType' object has no attribute
  'kernel_ws_protocol'" (500): the browser dropped a kernel websocket while the kernel was still
  starting (jupyter_server issue 1265), answered in ``tools/jupyter-config/jupyter_server_config.py``;
- "Notebook ... is not trusted": ``tools/workcopy.py`` signs the learner's copies when it makes them;
- "Kernel is running over TCP without encryption": the server gives kernels CurveZMQ keys;
- "websocket_ping_timeout ... cannot be longer than ... interval": the local lab sends no pings.

The server is started by ``make lab`` itself, from a copy of the Makefile, tools/ and course/ in a
temporary folder (so the repository's own work/ is never touched), with the learner's settings.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.servers import wait_until_up

REPO = Path(__file__).resolve().parents[2]
LESSON = "01_naive_consumer"
#: What a learner must never see in the terminal `make lab` runs in.
NOISE = re.compile(r"Traceback|Uncaught exception|kernel_ws_protocol|is not trusted|without encryption|"
                   r"websocket_ping_timeout|^\[[WEC] |WARNING", re.MULTILINE)

pytestmark = [pytest.mark.xdist_group("quiet_lab"),
              pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    work: Path
    log: Path
    env: dict

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method, data=data,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def mark(self) -> int:
        """Where the server's output ends now (for :meth:`noise`)."""
        return self.log.stat().st_size

    def noise(self, since: int = 0) -> list[str]:
        """The lines of the server's output after ``since`` that a learner should not see."""
        with open(self.log, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        return [line for line in text.splitlines() if NOISE.search(line)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("quietlab")
    repo = base / "repo"
    repo.mkdir()
    shutil.copy(REPO / "Makefile", repo / "Makefile")
    shutil.copytree(REPO / "tools", repo / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "course", repo / "course")
    (repo / "pyproject.toml").touch()
    venv = Path(sys.prefix)
    port, token = free_port(), os.urandom(16).hex()
    home = base / "home"
    env = {**os.environ, "HOME": str(home),
           # Everything Jupyter keeps for the learner in a folder of this test's own.
           "JUPYTER_DATA_DIR": str(base / "data"), "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"), "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
           "IPYTHONDIR": str(base / "ipython"), "BROWSER": "true"}
    env.pop("JUPYTER_CONFIG_PATH", None)
    env.pop("JUPYTER_PATH", None)
    command = ["make", "--no-print-directory", "lab", f"PY={venv / 'bin' / 'python'}", f"VENV={base / 'venv'}",
               f"LAB_ARGS=--no-browser --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"]
    # `make setup` counts as done: the stamp in VENV is newer than pyproject.toml.
    (base / "venv").mkdir()
    fake_stamp = base / "venv" / ".stamp-sqslab-setup"
    fake_stamp.touch()
    os.utime(fake_stamp, (2_000_000_000, 2_000_000_000))
    log = base / "make-lab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=repo, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, f"{url}/api/status?token={token}", log, "make lab")
        yield Lab(url, token, repo / "work", log, env)
    finally:
        # make and the server it started share a process group of their own: end just those.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_idle(lab: Lab, kernel_id: str, timeout: float = 180) -> None:
    """Wait until the server has seen the kernel answer: a client that completes its handshake nudges it.

    The server learns that a kernel is idle from the kernel's answer to a kernel_info request, which it
    sends when a websocket to the kernel opens; a handshake the browser dropped early may never get
    that far, so a websocket of our own, opened and closed properly, makes sure of it.
    """
    import asyncio

    from tornado.websocket import websocket_connect

    async def nudge():
        socket = await websocket_connect(
            f"{lab.url.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels?session_id=nudge&token={lab.token}",
            subprotocols=["v1.kernel.websocket.jupyter.org"], connect_timeout=timeout)
        # Read until the kernel has answered (its replies come over the socket), then close as a
        # browser tab does: closing mid-answer leaves the server "events for closed stream" to log.
        try:
            while await asyncio.wait_for(socket.read_message(), timeout) is not None:
                if lab.api(f"kernels/{kernel_id}")["execution_state"] == "idle":
                    break
        finally:
            socket.close()
            await asyncio.sleep(1)  # real time: the server finishes with the socket before the check

    asyncio.run(nudge())
    deadline = time.monotonic() + timeout
    while lab.api(f"kernels/{kernel_id}")["execution_state"] != "idle":
        assert time.monotonic() < deadline, "the kernel never became idle"
        time.sleep(0.2)  # real time: a real kernel starting


def test_make_lab_makes_the_learners_copies_trusted(lab):
    import nbformat
    from nbformat.sign import NotebookNotary

    copies = sorted(lab.work.glob("*/*.ipynb"))
    assert len(copies) == len(list((REPO / "course").glob("*/*.ipynb"))) > 0
    notary = NotebookNotary(data_dir=lab.env["JUPYTER_DATA_DIR"])
    untrusted = [p.name for p in copies if not notary.check_signature(nbformat.read(p, as_version=4))]
    assert not untrusted, f"make lab left these copies untrusted: {untrusted}"


def test_a_kernel_websocket_dropped_while_the_kernel_starts_leaves_no_traceback(lab):
    # What a reload or a closed tab does on first opening a notebook: the websocket handshake is held
    # while the kernel starts, and the browser is gone before it ends.
    since = lab.mark()
    kernel = lab.api("kernels", method="POST", body={"name": "python3"})
    host, port = lab.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        key = base64.b64encode(os.urandom(16)).decode()
        raw.sendall((f"GET /api/kernels/{kernel['id']}/channels?session_id=early&token={lab.token} HTTP/1.1\r\n"
                     f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: v1.kernel.websocket.jupyter.org\r\n\r\n").encode())
        time.sleep(0.05)  # real time: the request reaches the server before the socket closes
    wait_idle(lab, kernel["id"])
    time.sleep(1)  # real time: the server logs what became of the dropped handshake
    lab.api(f"kernels/{kernel['id']}", method="DELETE")
    assert not lab.noise(since), "make lab's terminal shows:\n" + "\n".join(lab.noise(since))


def test_opening_a_notebook_in_the_browser_leaves_the_terminal_quiet(lab, tmp_path):
    from support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip

    chromium_or_skip()
    since = lab.mark()
    from playwright.sync_api import sync_playwright

    screenshots = REPO / "artifacts" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            sockets = []
            page.on("websocket", lambda ws: sockets.append(ws.url))
            # As a learner does it: the lab's front page, then the notebook from the file browser.
            page.goto(f"{lab.url}/lab?token={lab.token}")
            page.locator(".jp-DirListing-item", has_text=LESSON).dblclick()
            page.locator(".jp-DirListing-item", has_text=f"{LESSON}.ipynb").dblclick()
            page.wait_for_function(
                """() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator'); if (!s) return false;
                           const now = s.getAttribute('data-status');
                           if (now && now !== 'idle') window.__sqslabKernelSeen = true;
                           return now === 'idle' && window.__sqslabKernelSeen === true; }""",
                polling=50, timeout=90_000)
            # Run the first cell (the lab's one-line setup), then save: both talk to the server.
            page.locator(".jp-NotebookPanel .jp-CodeCell").first.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            page.wait_for_function("() => /\\[\\d+\\]/.test(document.querySelector("
                                   "'.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt').textContent)", timeout=90_000)
            page.keyboard.press("Control+s")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(screenshots / "quiet_lab_first_open.png"))
        finally:
            browser.close()
    assert any("/channels" in url for url in sockets), f"no kernel websocket was opened: {sockets}"
    assert not lab.noise(since), "make lab's terminal shows:\n" + "\n".join(lab.noise(since))
