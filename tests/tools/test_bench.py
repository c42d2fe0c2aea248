"""make bench's probe inside a kernel: it finds every exploration, the simulated time and real sleeps.

The benchmark's figures are not tested here (performance targets live in ``make bench``); what is
tested is that the probe sees what a notebook does, so the figures are about the right things.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sqslab.tools import bench

NOTEBOOK_CODE = """
{probe}
import time
from sqslab import explore
from sqslab.lessons.fifo import explore_in_order, fifo_orders
from sqslab.selftest import _naive
explore(_naive, expect="at_least_once", max_runs=5)
explore_in_order(_naive, messages=fifo_orders("a", "b"), expect="at_least_once", max_runs=3, double=False)
time.sleep(0.05)
"""


@pytest.mark.parametrize("imported_first", [False, True], ids=["probe first", "sqslab imported first"])
def test_the_probe_times_every_exploration_and_counts_simulated_and_slept_time(tmp_path, imported_first):
    found = tmp_path / "probe.json"
    probe = ("import sqslab\n" if imported_first else "") + bench._probe_line()
    subprocess.run([sys.executable, "-c", NOTEBOOK_CODE.format(probe=probe)], check=True, timeout=120,
                   env={**__import__("os").environ, "SQSLAB_BENCH_PROBE": str(found)})
    result = json.loads(found.read_text())
    assert [(e["function"], e["runs"], e["ok"]) for e in result["explorations"]] == [
        ("sqslab.explore.explore", 5, True), ("sqslab.lessons.fifo.explore_in_order", 3, True)]
    assert result["simulated"] > 30  # crashes wait out 30 s visibility timeouts, in simulated time
    assert result["sleeps"] == 1 and result["slept"] >= 0.05
    assert result["cpu"] > 0


def test_every_lesson_folder_is_benchmarked():
    folders = sorted(p.name for p in (bench.REPO / "solutions").iterdir() if (p / f"{p.name}.ipynb").exists())
    notebooks = bench._lesson_notebooks()
    assert sorted({p.parent.name for p in notebooks}) == folders and "06_capstone" in folders
    every = sorted(p.stem for p in (bench.REPO / "solutions").glob("*/*.ipynb"))
    assert sorted(p.stem for p in notebooks) == every, "every notebook of a split lesson is benchmarked too"
    assert [p.stem for p in notebooks if p.parent.name == notebooks[0].parent.name][0] == notebooks[0].parent.name


# -- make bench as a good citizen ---------------------------------------------------------------------
REPO = bench.REPO


def test_an_error_with_an_empty_message_is_described_by_its_name():
    assert bench.describe_error(RuntimeError()) == "RuntimeError"
    assert bench.describe_error(ValueError("\n\nthe kernel died\nmore")) == "ValueError: the kernel died"


def _kernels_below(pid: int) -> list[int]:
    import pathlib

    return [p for p in bench._descendants(pid)
            if b"ipykernel" in (pathlib.Path(f"/proc/{p}/cmdline").read_bytes() if pathlib.Path(f"/proc/{p}").exists() else b"")]


def _wait_for_a_kernel(pid: int, proc) -> list[int]:
    import time

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the benchmark ended before a kernel started: {proc.communicate()}"
        kernels = _kernels_below(pid)
        if kernels:
            return bench._descendants(pid)
        time.sleep(0.2)  # real time: a real kernel starting
    pytest.fail("no kernel started within 240 s")


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_benchmark_at_once_and_leaves_nothing_running(tmp_path, how):
    import os
    import signal

    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "sqslab.tools.bench", "--only", "notebooks",
                             "--notebook-runs", "1", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    started = _wait_for_a_kernel(proc.pid, proc)
    proc.send_signal(getattr(signal, how))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err[-2000:]
    assert f"stopped by {how}" in err and "nothing is left running" in err
    assert "Traceback" not in out + err, err[-3000:]
    assert not [p for p in started if bench._alive(p)], "processes of the benchmark outlived it"
    assert not (tmp_path / "bench.md").exists()


def test_stopping_make_bench_stops_the_benchmark_it_started(tmp_path):
    import os
    import signal

    import shutil

    # The Makefile alone, its setup counted as done (the stamp newer than pyproject.toml), as the
    # packaging tests do: `make bench` here runs this interpreter's bench and touches no venv.
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / "venv").mkdir()
    stamp = tmp_path / "venv" / ".stamp-sqslab-setup"
    stamp.touch()
    os.utime(stamp, (2_000_000_000, 2_000_000_000))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    make = subprocess.Popen(["make", "-s", "bench", f"VENV={tmp_path / 'venv'}", f"PY={sys.executable}",
                             f"BENCH_ARGS=--only notebooks --notebook-runs 1 --out {tmp_path / 'out'}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            start_new_session=True, env=env)
    started = _wait_for_a_kernel(make.pid, make)
    os.kill(make.pid, signal.SIGTERM)  # make only, as `kill <make>` does: its child must notice
    make.communicate(timeout=30)
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and [p for p in started if bench._alive(p)]:
        time.sleep(0.2)  # real time: the benchmark's watchdog notices within half a second
    assert not [p for p in started if bench._alive(p)], "the benchmark or its kernels outlived make"
