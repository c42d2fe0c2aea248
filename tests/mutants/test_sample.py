"""CI's mutation sample: ten seeded mutants of each lesson, and no survivor that is not listed as equivalent.

A survivor is a wrong answer that keeps full marks: the message shows its diff, for the lesson's
author to write the test that kills it (or, if no test ever could, to list it in
tests/mutants/equivalent.toml with the argument). ``make mutants`` runs every mutant.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from mutants.equivalents import load_equivalents  # noqa: E402
from mutants.lessons import lesson_names, load_lesson  # noqa: E402
from mutants.runner import LessonRunner, sample  # noqa: E402

SOLUTIONS = REPO / "solutions"
#: The sample's size per lesson and its seed. The seed is a name, not a search result: change it
#: only for a reason that has nothing to do with which mutants survive.
SAMPLE = 10
SEED = "ci"


@pytest.mark.mutants
@pytest.mark.parametrize("lesson", lesson_names(SOLUTIONS))
def test_seeded_mutants_of_the_lesson_are_killed_by_its_graded_tests(lesson):
    began = time.monotonic()
    equivalents = load_equivalents()
    the_lesson = load_lesson(SOLUTIONS / lesson)
    chosen = sample(the_lesson.mutants(), SAMPLE, SEED, exclude=equivalents)
    run = LessonRunner(the_lesson, fast=True, equivalents=equivalents).run(chosen)
    phases = {k: round(v, 1) for nb in run.notebooks for k, v in nb.seconds.items()}
    print(f"{lesson}: {len(chosen)} mutants in {time.monotonic() - began:.1f} s {phases}")
    assert not run.broken, f"{lesson}: the reference solution fails its own graded cells: {run.broken}"
    assert len(run.results) == len(chosen)
    survivors = run.survivors
    assert not survivors, (
        f"{lesson}: {len(survivors)} of {len(chosen)} sampled mutants keep full marks on every graded cell "
        "(hidden tests included). Add a test that fails on each, or list it in tests/mutants/equivalent.toml "
        "with why no test could:\n\n" + "\n\n".join(f"{r.mutant.id}\n{r.mutant.diff()}" for r in survivors))
