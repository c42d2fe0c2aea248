"""The instructor's demo notebooks (demos/): each runs headless, never in real time, and `make demo`
opens them the way `make lab` opens the course.

The demos run one after the other in one kernel (started once for the module: a kernel start and
the bench's imports cost more than a demo), each after ``%reset -f``, so a demo that forgets to
import or define something fails as it would in a fresh kernel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.util import run_sync
from nbformat.v4 import new_code_cell

REPO = Path(__file__).resolve().parents[2]
DEMOS = sorted((REPO / "demos").glob("*.ipynb"))
# The demos share one kernel: keep them on one xdist worker.
pytestmark = pytest.mark.xdist_group("demos")
TOPICS = ("naive_double_charge", "idempotent_fix", "fifo_retry", "heartbeat_rescue", "poison_message", "redrive")

#: Put in front of a demo run: a sleep in real time from the demo's own code (its cells, or the
#: bench it calls) fails the demo. The bench's clock is simulated; a demo that needs a real second
#: would stall in class. (The kernel's own short sleeps between messages are left alone.)
NO_REAL_TIME = '''
import sys, time
if not getattr(time.sleep, "sqslab_guard", False):  # once per kernel: the demos share one
    def _no_real_sleep(seconds, _real=time.sleep, _frame=sys._getframe):  # survives %reset -f
        caller = _frame(1).f_globals.get("__name__", "")
        if seconds > 0 and (caller == "__main__" or caller.split(".")[0] in ("sqslab", "moto", "botocore", "boto3")):
            raise AssertionError(f"{caller} slept {seconds} s of real time in a demo; use the lab's clock")
        return _real(seconds)
    _no_real_sleep.sqslab_guard = True
    time.sleep = _no_real_sleep
'''


def test_there_is_one_demo_per_lesson_topic():
    names = [p.stem for p in DEMOS]
    assert [n.split("_", 1)[1] for n in names] == list(TOPICS), names


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """One python3 kernel for every demo of the module, working in a scratch folder."""
    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(kernel_name="python3")
    run_sync(km.start_kernel)(cwd=str(tmp_path_factory.mktemp("demos")))
    try:
        yield km
    finally:
        run_sync(km.shutdown_kernel)(now=True)


@pytest.mark.parametrize("path", DEMOS, ids=lambda p: p.name)
def test_demo_runs_headless_without_an_error_and_without_real_time(path, kernel):
    nb = nbformat.read(path, as_version=4)
    nb.cells[:0] = [new_code_cell("%reset -f"), new_code_cell(NO_REAL_TIME)]
    NotebookClient(nb, km=kernel, timeout=120, kernel_name="python3").execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: {errors}"
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) == 1, f"{path.name} should show the demo widget once"
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "lane 1:" in printed and "producer sent" in printed, f"{path.name} prints no story"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_opens_jupyterlab_on_a_copy_of_the_demos_with_the_learners_settings(tmp_path):
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / "demos").mkdir()
    (tmp_path / "demos" / "01_x.ipynb").write_text("{}")
    (tmp_path / "pyproject.toml").touch()
    venv = tmp_path / "venv"
    venv.mkdir()
    stamp = venv / ".stamp-sqslab-setup"
    stamp.touch()
    os.utime(stamp, (2_000_000_000, 2_000_000_000))  # newer than pyproject.toml: setup is done
    result = subprocess.run(["make", "--no-print-directory", "-n", "demo", f"VENV={venv}", f"PY={sys.executable}"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.replace("\\\n", " ").splitlines()   # one command a line
    copy = next(i for i, line in enumerate(lines) if "tools/workcopy.py --course demos --work demo-work" in line)
    lab = next(i for i, line in enumerate(lines) if "-m jupyter lab" in line and "--notebook-dir" in line)
    assert copy < lab
    assert "--notebook-dir=demo-work" in lines[lab] and "tools/jupyter-config" in lines[lab]
    assert "--ip=127.0.0.1" in lines[lab] and "NeverCheckForUpdate" in lines[lab]
    # The presentation layout: its settings, a workspace of the demos' own (seeded once), the simple interface.
    assert "--LabApp.app_settings_dir=" in lines[lab] and "tools/jupyter-config/demo" in lines[lab]
    assert "--LabApp.workspaces_dir=" in lines[lab] and '--LabApp.default_url="/doc/tree/01_x.ipynb"' in lines[lab]
    seed = next(i for i, line in enumerate(lines) if "workspaces import" in line)
    assert seed < lab and "tools/jupyter-config/demo/workspace.json" in lines[seed]


def test_the_presentation_layout_is_the_simple_interface_with_large_text_and_nothing_around():
    settings = json.loads((REPO / "tools" / "jupyter-config" / "demo" / "overrides.json").read_text())
    assert settings["@jupyterlab/application-extension:shell"]["startMode"] == "single"
    assert settings["@jupyterlab/statusbar-extension:plugin"]["visible"] is False
    # The font sizes of JupyterLab's own presentation mode, set by the demo widget's style sheet.
    from sqslab.views.widget_look import CSS
    assert ".jp-Notebook:has(.sqslab-demo){--jp-content-font-size1:var(--jp-content-presentation-font-size1)" in CSS
    layout = json.loads((REPO / "tools" / "jupyter-config" / "demo" / "workspace.json").read_text())
    restorer = layout["data"]["layout-restorer:data"]
    assert restorer["left"]["collapsed"] and restorer["top"]["simpleVisibility"] is False
    first = sorted(p.name for p in DEMOS)[0]
    assert restorer["main"]["current"] == f"notebook:{first}"
