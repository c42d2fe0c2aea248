"""Proof that the grader discriminates: every lesson's corpus, graded by the real nbgrader.

For each assignment with graded cells: the instructor's solution gets full marks, the untouched
learner copy gets zero on every graded cell, every alternative right solution gets full marks,
and every wrong solution loses points on the cells about its mistake. All cases of one
assignment go through one ``nbgrader autograde`` run (see tests/support/nbgrading.py).

Grading every case of every lesson takes about half an hour of CPU, so ``make test`` grades a
fixed sample: each lesson's reference, its untouched copy and ``SAMPLE`` of its wrong cases,
picked by a stable hash of their names (right cases are graded through ``autograder/grade.py`` in
tests/grader/test_grader_lessons.py). ``make corpus`` (``SQSLAB_CORPUS=all``) grades them all.
"""

from __future__ import annotations

import pytest

from support.nbgrading import (ALL_CASES, SOLUTIONS, graded_cells, grade, load_corpus, reference_case, sample,
                               source_notebook, untouched_case)

ASSIGNMENTS = sorted(p.name for p in SOLUTIONS.iterdir()
                     if p.is_dir() and (p / f"{p.name}.ipynb").exists() and graded_cells(source_notebook(p.name)))


#: Wrong cases per lesson in the sample ``make test`` grades.
SAMPLE = 3


def _cases(assignment):
    return [reference_case(assignment), untouched_case(), *load_corpus(assignment)]


def _graded_here(assignment):
    """The cases this run grades: all of them under ``make corpus``, else the fixed sample."""
    cases = _cases(assignment)
    return cases if ALL_CASES else cases[:2] + sample(cases, "lose", SAMPLE)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    cache = {}

    def get(assignment):
        if assignment not in cache:
            cache[assignment] = grade(assignment, _graded_here(assignment), tmp_path_factory.mktemp(assignment))
        return cache[assignment]

    return get


PARAMS = [pytest.param(a, c.name, marks=pytest.mark.xdist_group(a), id=f"{a}:{c.name}")
          for a in ASSIGNMENTS for c in _graded_here(a)]


@pytest.mark.parametrize("assignment, case_name", PARAMS)
def test_corpus_case_gets_the_grade_it_deserves(graded, assignment, case_name):
    case = next(c for c in _cases(assignment) if c.name == case_name)
    cells = graded(assignment)[case_name].cells
    expected_cells = graded_cells(source_notebook(assignment))
    assert set(cells) == set(expected_cells), f"graded cells differ: {sorted(cells)} vs {sorted(expected_cells)}"
    if case.expect == "full":
        short = {k: v for k, v in cells.items() if v[0] < v[1]}
        assert not short, f"{case_name} is right but lost points on {short}"
    elif case.expect == "zero":
        scored = {k: v for k, v in cells.items() if v[0] > 0}
        assert not scored, f"{case_name} should score nothing but got {scored}"
    else:
        unknown = set(case.lose) - set(cells)
        assert not unknown, f"{case.path.name} names cells that do not exist: {sorted(unknown)}"
        kept = {k: cells[k] for k in case.lose if cells[k][0] >= cells[k][1]}
        assert not kept, f"{case_name} is wrong but kept full marks on {kept}"
        assert graded(assignment)[case_name].score < graded(assignment)[case_name].max_score


@pytest.mark.parametrize("assignment", [a for a in ASSIGNMENTS if a != "01_naive_consumer"])
def test_lesson_corpus_has_at_least_four_wrong_and_two_right(assignment):
    corpus = load_corpus(assignment)
    wrong = [c for c in corpus if c.expect == "lose"]
    right = [c for c in corpus if c.expect == "full"]
    assert len(wrong) >= 4 and len(right) >= 2, (assignment, len(wrong), len(right))


def test_lesson_one_corpus_covers_the_three_classic_mistakes():
    names = {c.name for c in load_corpus("01_naive_consumer")}
    assert {"wrong_delete_before_processing", "wrong_swallow_failure_and_delete", "wrong_no_delete"} <= names
