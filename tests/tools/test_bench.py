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
    assert [p.stem for p in bench._lesson_notebooks()] == folders
    assert "06_capstone" in folders
