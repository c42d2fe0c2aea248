"""The grader on a real lesson: `make grade`'s self-check of a learner's work/ folder.

The reference solution of lesson 1 typed into the learner's copy passes every behaviour and the
self-check exits 0; the untouched learner copy fails and the self-check exits non-zero (unlike
``nbgrader validate``, which exits 0 either way).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import nbformat
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from autograder.bench_grading import solved_copy  # noqa: E402
from autograder.course import build_course, graded_assignments  # noqa: E402

LESSON = "01_naive_consumer"
SOLUTIONS = os.path.join(REPO, "solutions")

pytestmark = pytest.mark.skipif(LESSON not in (graded_assignments(SOLUTIONS) if os.path.isdir(SOLUTIONS) else []),
                                reason=f"solutions/{LESSON} has no graded cells yet")


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    build = tmp_path_factory.mktemp("lesson-build")
    course = build_course(SOLUTIONS, str(build), [LESSON])
    path = os.path.join(course.release_dir, LESSON, LESSON + ".ipynb")
    release = nbformat.read(path, as_version=4)
    source = nbformat.read(os.path.join(course.source_dir, LESSON, LESSON + ".ipynb"), as_version=4)
    return {"course": course, "build": str(build), "release": release, "solved": solved_copy(release, source)}


def self_check(lesson, tmp_path, nb) -> tuple[subprocess.CompletedProcess, dict]:
    work = tmp_path / "work"
    (work / LESSON).mkdir(parents=True)
    nbformat.write(nb, str(work / LESSON / (LESSON + ".ipynb")))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, os.path.join(REPO, "autograder", "grade.py"), "--work", str(work),
                           "--out", str(out), "--assignment", LESSON, "--course-cache", lesson["build"],
                           "--no-progress"], capture_output=True, text=True, timeout=900)
    with open(out / "grades.csv", newline="") as f:
        row = next(csv.DictReader(f))
    return done, row


def test_self_check_passes_the_reference_solution_and_exits_zero(lesson, tmp_path):
    done, row = self_check(lesson, tmp_path, lesson["solved"])
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert row["status"] == "ok" and row["score"] == row["max_score"], row
    assert "PASS" in done.stdout and "Everything passed." in done.stdout
    page = tmp_path / "out" / "feedback" / "self" / LESSON / (LESSON + ".html")
    assert page.exists()


def test_self_check_of_the_untouched_copy_fails_and_exits_non_zero(lesson, tmp_path):
    done, row = self_check(lesson, tmp_path, lesson["release"])
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    assert float(row["score"]) < float(row["max_score"])
    assert "FAIL" in done.stdout
    html = (tmp_path / "out" / "feedback" / "self" / LESSON / (LESSON + ".html")).read_text()
    assert "BEGIN HIDDEN TESTS" not in html and "Traceback" not in html
    assert "NotImplementedError" in html  # what the learner's stub raised, named for them
