"""The mutation runner on a toy lesson: kills, survivors, hangs, dead kernels, split lessons, kept functions."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from mutants import report  # noqa: E402
from mutants.__main__ import main  # noqa: E402
from mutants.equivalents import load_equivalents, toml_key  # noqa: E402
from mutants.lessons import load_lesson  # noqa: E402
from mutants.runner import LessonRunner  # noqa: E402

LESSON = "90_toy"


def cell(source: str, *, solution: str | None = None, graded: str | None = None, points: int = 1) -> dict:
    meta: dict = {}
    if solution:
        meta = {"grade": False, "grade_id": solution, "locked": False, "schema_version": 3, "solution": True,
                "task": False}
    if graded:
        meta = {"grade": True, "grade_id": graded, "locked": True, "points": points, "schema_version": 3,
                "solution": False, "task": False}
    return {"cell_type": "code", "execution_count": None, "metadata": {"nbgrader": meta} if meta else {},
            "outputs": [], "source": source}


def notebook(*cells: dict) -> dict:
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# A toy lesson"}, *cells],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


ADD = '''def add(a, b):
    """Add two numbers."""
    ### BEGIN SOLUTION
    return a + b
    ### END SOLUTION
'''

MUL = '''def mul(a, b):
    ### BEGIN SOLUTION
    return a * b
    ### END SOLUTION
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """solutions/90_toy/ with two notebooks: add (with a kept function and shared state) and mul."""
    root = tmp_path_factory.mktemp("solutions")
    folder = root / LESSON
    folder.mkdir()
    first = notebook(
        cell("box = []\nlog = []\nimport os"),
        cell(ADD, solution="add"),
        cell("keep = add               # a statement that keeps the solution function\nprint(keep(1, 2))"),
        cell("def twice(x):\n    return add(x, x)   # late-bound: needs no re-run"),
        cell("print(twice(21))         # a demonstration: skipped"),
        cell('"""add adds."""\nbox.append(add(2, 3))\nassert box == [5], box', graded="adds"),
        cell('"""the kept function adds too."""\nassert keep(1, 2) == 3', graded="kept"),
        cell('"""never twice zero."""\nassert twice(0) == 0\n### BEGIN HIDDEN TESTS\nassert twice(2) == 4\n'
             '### END HIDDEN TESTS', graded="twice_hidden"),
    )
    second = notebook(
        cell(MUL, solution="mul"),
        cell('"""mul multiplies."""\nassert mul(3, 2) == 6 and mul(0, 5) == 0\nassert "add" not in globals()',
             graded="muls"),
    )
    (folder / f"{LESSON}.ipynb").write_text(json.dumps(first))
    (folder / f"{LESSON}_b.ipynb").write_text(json.dumps(second))
    (folder / "notes.ipynb").write_text(json.dumps(notebook(cell("raise SystemExit('not part of the lesson')"))))
    return root


def variant(mutant, body: str, name: str):
    """A hand-made mutant of ``add``: its solution line replaced by ``body``."""
    return dataclasses.replace(mutant, source=mutant.original.replace("    return a + b\n", body),
                               change=name, operator="remove_statement")


@pytest.fixture(scope="module")
def run(toy):
    """Every generated mutant of the toy, plus a hanging one and one that kills the kernel."""
    lesson = load_lesson(toy / LESSON)
    mutants = lesson.mutants()
    add = next(m for m in mutants if m.grade_id == "add")
    extra = [variant(add, "    while True:\n        pass\n", "hang"),
             variant(add, "    os._exit(3)\n", "exit"),
             variant(add, "    return b + a\n", "commuted")]
    runner = LessonRunner(lesson, limit=6, equivalents={extra[2].id: "addition commutes"})
    return runner.run(mutants + extra)


def result(run, change):
    return next(r for r in run.results if r.mutant.change == change)


def test_the_lesson_is_read_from_its_notebooks_in_order(toy):
    lesson = load_lesson(toy / LESSON)
    assert [nb.name for nb in lesson.notebooks] == [LESSON, f"{LESSON}_b"]
    assert lesson.graded_ids == ["adds", "kept", "twice_hidden", "muls"]
    first = lesson.notebooks[0]
    per_mutant = [u.source.splitlines()[0] for u in first.per_mutant if u.kind == "other"]
    assert per_mutant == ["keep = add               # a statement that keeps the solution function"]
    assert all("print(twice(21))" not in u.source for u in first.setup + first.per_mutant)
    assert first.solution_names == {"add", "keep"}


def test_a_mutant_is_killed_by_every_graded_cell_that_fails_hidden_tests_included(run):
    minus = next(r for r in run.results if r.mutant.operator == "arith")     # return a - b
    assert minus.status == "killed"
    # twice(0) == 0 still holds: only the hidden twice(2) == 4 tells a - b from a + b
    assert set(minus.killers) == {"adds", "kept", "twice_hidden"}, minus.killers


def test_a_mutant_that_hangs_is_interrupted_and_counted_killed(run):
    hang = result(run, "hang")
    assert hang.status == "timeout" and hang.killed
    assert hang.seconds < 30


def test_a_mutant_that_kills_the_kernel_is_counted_killed(run):
    died = result(run, "exit")
    assert died.status == "died" and died.killed


def test_the_runner_recovers_after_a_hang_and_a_dead_kernel(run):
    after = [r for r in run.results if r.mutant.change == "commuted"]
    assert after and after[0].status == "survived"
    first = run.notebooks[0]
    assert first.kernel_starts >= 3, "a timeout and a death each restart the kernel"
    assert not first.leaked, first.leaked


def test_an_equivalent_survivor_is_not_counted_against_the_kill_rate(run):
    assert result(run, "commuted").verdict == "equivalent"
    assert run.count("equivalent") == 1
    assert run.kill_rate == 1.0, [r.mutant.id for r in run.survivors]


def test_a_split_lesson_grades_each_notebook_with_its_own_tests_in_its_own_kernel(run):
    mul = [r for r in run.results if r.mutant.grade_id == "mul"]
    assert mul and all(r.mutant.notebook == f"{LESSON}_b" for r in mul)
    for r in mul:
        assert set(r.killers) <= {"muls"}
    assert {r.status for r in mul} == {"killed"}
    assert [nb.notebook for nb in run.notebooks] == [LESSON, f"{LESSON}_b"]


def test_state_a_test_leaves_behind_is_rebuilt_before_each_mutant(run):
    # `adds` appends to a list made by setup: without the reset the second run would fail
    assert result(run, "commuted").status == "survived"
    assert run.notebooks[0].reset_statements >= 1


def test_the_report_lists_survivors_with_their_diff(run, tmp_path):
    survivor = dataclasses.replace(result(run, "commuted"), equivalent=None)
    fake = dataclasses.replace(run, results=[survivor])
    text = report.lesson_markdown(fake)
    assert "### Survivors (1)" in text and "+    return b + a" in text
    written = report.write([run], tmp_path, title="toy", seconds=1.0)
    assert (tmp_path / "summary.md").exists() and (tmp_path / f"{LESSON}.csv").exists() and len(written) == 4
    assert "kill rate" in report.table([run])


def test_confirm_grades_a_mutant_through_the_whole_notebook_in_a_fresh_kernel(toy, run):
    from mutants.runner import confirm
    lesson = load_lesson(toy / LESSON)
    commuted = result(run, "commuted").mutant
    assert confirm(lesson, commuted, limit=30).status == "survived"
    minus = next(r for r in run.results if r.mutant.operator == "arith").mutant
    again = confirm(lesson, minus, limit=30)
    assert again.status == "killed" and set(again.killers) == {"adds", "kept", "twice_hidden"}


def test_a_broken_reference_runs_no_mutant(toy, tmp_path):
    folder = tmp_path / LESSON
    folder.mkdir()
    (folder / f"{LESSON}.ipynb").write_text(json.dumps(notebook(
        cell(ADD, solution="add"), cell("assert add(1, 1) == 3", graded="wrong"))))
    lesson = load_lesson(folder)
    out = LessonRunner(lesson, limit=5).run(lesson.mutants()[:2])
    assert list(out.broken) == [LESSON] and list(out.broken[LESSON]) == ["wrong"]
    assert {r.status for r in out.results} == {"not_run"}


def test_list_prints_mutants_without_running(toy, capsys, tmp_path):
    assert main(["--solutions", str(toy), "--equivalents", str(tmp_path / "none.toml"), "--list"]) == 0
    out = capsys.readouterr().out
    assert f"== {LESSON}:" in out and f"{LESSON}:add:add:arith:a + b -> a - b#1" in out


def test_equivalents_file_reads_ids_by_lesson_with_one_line_arguments(tmp_path):
    path = tmp_path / "equivalent.toml"
    key = toml_key(f'{LESSON}:add:add:string:"x" -> y#1', LESSON)
    path.write_text(f'[{LESSON}]\n{key} = "no test can see it"\n')
    assert load_equivalents(path) == {f'{LESSON}:add:add:string:"x" -> y#1': "no test can see it"}
    path.write_text(f'[{LESSON}]\n"add:x#1" = ""\n')
    with pytest.raises(ValueError, match="one-line argument"):
        load_equivalents(path)


def test_the_fast_way_agrees_with_the_thorough_way(toy, run):
    lesson = load_lesson(toy / LESSON)
    picked = [m for m in lesson.mutants() if m.operator in ("arith", "return_none")]
    fast = LessonRunner(lesson, fast=True).run(picked)
    thorough = {r.mutant.id: r for r in run.results}
    assert [(r.mutant.id, r.status) for r in fast.results] == [(m.id, thorough[m.id].status) for m in picked]
    for r in fast.results:
        assert len(r.killers) <= 1 and set(r.killers) <= set(thorough[r.mutant.id].killers)
    assert all("reference" in nb.seconds for nb in fast.notebooks)


def test_a_lean_reset_that_is_not_enough_falls_back_to_the_whole_setup(tmp_path):
    folder = tmp_path / LESSON
    folder.mkdir()
    (folder / f"{LESSON}.ipynb").write_text(json.dumps(notebook(
        cell("box = []"),
        cell("print(box.append(1))     # looks like a display, changes the world"),
        cell(ADD, solution="add"),
        cell("assert box == [1] and add(1, 1) == 2", graded="sees_the_box"))))
    lesson = load_lesson(folder)
    mutants = [m for m in lesson.mutants() if m.operator == "arith"]
    for fast in (False, True):
        out = LessonRunner(lesson, fast=fast, limit=10).run(mutants)
        assert not out.broken, out.broken
        assert [r.status for r in out.results] == ["killed"], (fast, out.results)
        assert out.notebooks[-1].reset_note and "whole setup" in out.notebooks[-1].reset_note
