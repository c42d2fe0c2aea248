"""The grader on the real lessons: the learner's self-check, the learner bundle, and a class run.

* The self-check (``make grade``) grades a learner's ``work/`` against the course as released: the
  reference solution of lesson 1 passes everything a learner can check and exits 0; the untouched
  learner copy says what to do next and also exits 0 (``--strict`` exits 1). The untouched copy is
  self-checked from the learner bundle that ``make release`` writes, which holds no solution and no
  hidden test.
* A class run of every lesson's right answers (the corpora of ``tests/corpus``): each gets full
  marks, and none is flagged (status ``ok``, never ``review``). In the same run, lesson 1's
  "switch the bench's faults off" trick, tried from a cell the tests never call (left out of the
  clean run, which decides the points) and from the answer cell (the bench fails a run whose
  injection was switched off), earns no more than the honest delete-first consumer, and is flagged.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tools"))

from autograder.bench_grading import solved_copy  # noqa: E402
from autograder.course import build_course, graded_assignments  # noqa: E402

LESSON = "01_naive_consumer"
SOLUTIONS = os.path.join(REPO, "solutions")
GRADE = os.path.join(REPO, "autograder", "grade.py")

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


def self_check(nb, work_root: Path, *extra, grade=GRADE) -> tuple[subprocess.CompletedProcess, dict, Path]:
    work = work_root / "work"
    (work / LESSON).mkdir(parents=True)
    nbformat.write(nb, str(work / LESSON / (LESSON + ".ipynb")))
    out = work_root / "out"
    done = subprocess.run([sys.executable, grade, "--work", str(work), "--out", str(out), "--assignment", LESSON,
                           "--no-progress", *extra], capture_output=True, text=True, timeout=900)
    with open(out / "grades.csv", newline="") as f:
        row = next(csv.DictReader(f))
    return done, row, out / "feedback" / "self" / LESSON / (LESSON + ".html")


def test_self_check_passes_the_reference_solution_and_exits_zero(lesson, tmp_path):
    done, row, page = self_check(lesson["solved"], tmp_path, "--course-cache", str(tmp_path / "build"))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert row["status"] == "ok" and row["score"] == row["max_score"], row
    assert "Everything you can check passed." in done.stdout
    # A test whose checks are all hidden is "checked when graded", never "passed".
    html = page.read_text()
    assert "checked when graded" in html and "checked when graded" in done.stdout


@pytest.fixture(scope="module")
def learner_bundle(tmp_path_factory):
    import release

    dest = tmp_path_factory.mktemp("bundle") / "learner"
    files = release.bundle(Path(REPO) / "course", dest)
    return dest, files


def test_the_learner_bundle_has_the_course_the_bench_and_the_self_check_but_no_answers(learner_bundle):
    dest, files = learner_bundle
    assert any(f.startswith(f"course/{LESSON}/") for f in files) and "src/sqslab/__init__.py" in files
    assert "autograder/grade.py" in files and "Makefile" in files
    assert not any(f.startswith(("solutions/", "tests/", "demos/", "autograder/testdata/")) for f in files)
    assert "autograder/corpus.py" not in files and "autograder/bench_grading.py" not in files
    # No hidden test anywhere in it (a line the visible tests share is no secret)...
    released = "".join(p.read_text() for p in (Path(REPO) / "course").glob("*/*.ipynb"))
    hidden, answers = set(), []
    for path in Path(SOLUTIONS).glob("*/*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END", cell.source, re.S):
                hidden |= {line.strip() for line in block.splitlines() if len(line.strip()) >= 30}
            for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END", cell.source, re.S):
                lines = [line.strip() for line in block.splitlines() if len(line.strip()) >= 20]
                if lines:
                    answers.append((f"{path.parent.name}:{cell.metadata['nbgrader']['grade_id']}", lines))
    # An import statement tells nothing about a test, and the bench imports the same modules.
    hidden = {line for line in hidden if line not in released and not line.startswith(("import ", "from "))}
    assert hidden and answers
    texts = {rel: (dest / rel).read_text(errors="replace") for rel in files}
    for rel, text in texts.items():
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{rel} holds hidden tests: {leaked[:2]}"
    # ...and no reference answer: no file holds half or more of a solution's lines. The bench itself
    # shares two answers' code today (its capstone helpers redrive as lesson 5's answer does; its
    # lessons/idempotency.py parses order ids as lesson 2's idempotency_key does); they are known
    # and listed here.
    known = {("05_dlq_redrive:redrive", "src/sqslab/lessons/capstone.py"),
             ("02_idempotent_consumer:idempotency_key", "src/sqslab/lessons/idempotency.py")}
    for answer, lines in answers:
        for rel, text in texts.items():
            share = sum(1 for line in lines if line in text) / len(lines)
            if share >= 0.5 and (answer, rel) not in known:
                pytest.fail(f"{rel} holds {share:.0%} of the answer {answer}")


def test_self_check_from_the_bundle_says_what_to_do_and_exits_zero_unless_strict(learner_bundle, tmp_path):
    dest, _ = learner_bundle
    grade = str(dest / "autograder" / "grade.py")
    done, row, page = self_check(nbformat.read(str(dest / "course" / LESSON / (LESSON + ".ipynb")), as_version=4),
                                 tmp_path, grade=grade)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert float(row["score"]) < float(row["max_score"])
    # One table a learner reads at a glance: the lesson, its score, what to do, where the feedback is.
    assert re.search(rf"{LESSON}\s+0 / \d+\s+not written yet: consume_once", done.stdout), done.stdout
    assert "00_getting_started" in done.stdout and "not graded" in done.stdout
    assert "Feedback, one page per lesson" in done.stdout and "FAIL" not in done.stdout
    html = page.read_text()
    assert "BEGIN HIDDEN TESTS" not in html and "Traceback" not in html
    assert html.count("NotImplementedError") == 1  # one line, not one explanation per test
    assert "died" not in html
    strict = subprocess.run([sys.executable, grade, "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out"),
                             "--assignment", LESSON, "--no-progress", "--strict"],
                            capture_output=True, text=True, timeout=900)
    assert strict.returncode == 1 and "--strict" in strict.stdout


# -- a class of right answers, and lesson 1's trick -------------------------------------------------------

def _write_submission(course, assignment: str, folder: Path, code: dict[str, str]) -> None:
    """Every notebook of ``assignment`` (a split lesson has several), its solution cells from ``code``."""
    from support.nbgrading import build_submission

    folder.mkdir(parents=True)
    for nbinfo in next(a for a in course.assignments if a.name == assignment).notebooks:
        release = nbformat.read(os.path.join(course.release_dir, assignment, nbinfo.name + ".ipynb"), as_version=4)
        own = {gid: text for gid, text in code.items()
               if any(c.metadata.get("nbgrader", {}).get("grade_id") == gid
                      and c.metadata.get("nbgrader", {}).get("solution") for c in release.cells)}
        nbformat.write(nbformat.from_dict(build_submission(release, own)), str(folder / (nbinfo.name + ".ipynb")))


def _right_answer_class(dest: Path, course) -> dict[tuple[str, str], str]:
    """learner/assignment folders of each lesson's right answers (one per lesson in ``make test``, by a
    stable hash; all of them in ``make corpus``); returns (learner, assignment) -> case."""
    from support.nbgrading import load_corpus, sample

    made = {}
    for a in course.assignments:
        for case in sample(load_corpus(a.name), "full", 1):
            _write_submission(course, a.name, dest / "subs" / case.name / a.name, case.code)
            made[(case.name, a.name)] = case.name
    return made


# Lesson 1's tests call consume_once through their own wrapper, never a cell of the learner's, and a
# consumer's Process carries no lab: the trick of switching the bench's faults off now needs a way
# in. Two are tried, each on the honest delete-first consumer: a cell the tests never call (the
# my_consumer demo cell) that switches injection off for every fault plan, which the clean run
# leaves out; and the answer cell itself, reaching the lab of the running test through the bench's
# private registry, which the bench sees (a run whose injection was switched off fails).
TRICK_IN_DEMO_CELL = (
    "import sqslab.faults as _faults\n"
    "_faults.FaultPlan.hit = lambda self, *a, **k: None   # the bench injects nothing more\n"
    "_faults.FaultPlan.wants = lambda self, *a, **k: False\n")
TRICK_IN_ANSWER = (
    "import sqslab.scenario as _scenario\n"
    "def _no_faults():\n"
    "    for _lab in list(_scenario._labs.values()):\n"
    "        if _lab.faults.armed:\n"
    "            _lab.faults.enabled = False   # the bench injects nothing more\n")


def _lesson_one_tricks(course, wrong: dict[str, str], dest: Path) -> None:
    """honest_delete_first, trick_demo_cell and trick_in_answer: lesson 1 with the same wrong consume_once."""
    _write_submission(course, LESSON, dest / "honest_delete_first" / LESSON, wrong)
    _write_submission(course, LESSON, dest / "trick_demo_cell" / LESSON, wrong)
    path = dest / "trick_demo_cell" / LESSON / (LESSON + ".ipynb")
    nb = nbformat.read(str(path), as_version=4)
    demo = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("def my_consumer(p")]
    assert demo, "lesson 1 has no my_consumer demo cell any more: re-anchor the trick"
    demo[0].source = TRICK_IN_DEMO_CELL + demo[0].source
    nbformat.write(nb, str(path))
    answer = wrong["consume_once"].replace("    for m in messages:\n", "    _no_faults()\n    for m in messages:\n", 1)
    assert answer != wrong["consume_once"], "the wrong answer changed shape: re-anchor the trick"
    _write_submission(course, LESSON, dest / "trick_in_answer" / LESSON, {**wrong, "consume_once": TRICK_IN_ANSWER + answer})


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    from support.nbgrading import load_corpus

    dest = tmp_path_factory.mktemp("right-answers")
    course = build_course(SOLUTIONS, str(dest / "build"))
    made = _right_answer_class(dest, course)
    wrong = next(c for c in load_corpus(LESSON) if c.name == "wrong_delete_before_processing").code
    _lesson_one_tricks(course, wrong, dest / "subs")
    out = dest / "out"
    done = subprocess.run([sys.executable, GRADE, "--submissions", str(dest / "subs"), "--out", str(out),
                           "--course-cache", str(dest / "build"), "--no-progress", "--jobs", "2"],
                          capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "grades.csv", newline="") as f:
        rows = {(r["learner"], r["assignment"]): r for r in csv.DictReader(f)}
    return {"rows": rows, "made": made, "out": out}


def test_no_right_answer_of_any_lesson_is_flagged_and_each_gets_full_marks(class_run):
    assert class_run["made"], "tests/corpus has no right answer to grade"
    for key in class_run["made"]:
        row = class_run["rows"][key]
        assert row["status"] == "ok", f"{key}: {row['status']}: {row['reason']}"
        assert row["score"] == row["max_score"], f"{key}: {row['score']} of {row['max_score']}: {row['reason']}"


def test_switching_the_benchs_faults_off_earns_nothing_the_honest_code_would_not(class_run):
    honest = class_run["rows"][("honest_delete_first", LESSON)]
    assert honest["status"] == "ok" and float(honest["score"]) < float(honest["max_score"]), honest
    for trick in ("trick_demo_cell", "trick_in_answer"):
        row = class_run["rows"][(trick, LESSON)]
        assert float(row["score"]) <= float(honest["score"]), (trick, row, honest)
        # The bench was changed (a cell the tests never call) or reached into (the answer): never a plain ok.
        assert row["status"] in ("tampered", "review"), (trick, row)
