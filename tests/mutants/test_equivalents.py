"""The committed list of equivalent mutants stays true: every entry names a mutant, and there are few."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from mutants.equivalents import EQUIVALENTS, load_equivalents  # noqa: E402
from mutants.lessons import lesson_names, load_lesson  # noqa: E402

SOLUTIONS = REPO / "solutions"
LESSONS = lesson_names(SOLUTIONS)
#: Issue 15's bound: equivalents are at most a tenth of a lesson's mutants.
MAX_EQUIVALENT_SHARE = 0.10


@pytest.fixture(scope="module")
def mutant_ids() -> dict[str, set[str]]:
    return {name: {m.id for m in load_lesson(SOLUTIONS / name).mutants()} for name in LESSONS}


def test_the_equivalents_file_parses_with_an_argument_for_every_entry():
    assert EQUIVALENTS.is_relative_to(REPO) and EQUIVALENTS.exists()
    load_equivalents()   # raises on an entry without its one-line argument


def test_every_listed_equivalent_is_still_a_mutant(mutant_ids):
    known = set().union(*mutant_ids.values())
    stale = sorted(i for i in load_equivalents() if i not in known)
    assert not stale, ("tests/mutants/equivalent.toml lists mutants that no longer exist (the code changed: "
                       "check whether the argument still holds, then update or remove the entry):\n  "
                       + "\n  ".join(stale))


@pytest.mark.parametrize("lesson", LESSONS)
def test_equivalents_are_at_most_a_tenth_of_the_lessons_mutants(lesson, mutant_ids):
    listed = [i for i in load_equivalents() if i in mutant_ids[lesson]]
    total = len(mutant_ids[lesson])
    assert len(listed) <= MAX_EQUIVALENT_SHARE * total, (
        f"{lesson}: {len(listed)} of {total} mutants are listed as equivalent (at most "
        f"{MAX_EQUIVALENT_SHARE:.0%}): look for tests that can tell them apart instead")


def test_every_lesson_with_an_exercise_has_mutants(mutant_ids):
    assert LESSONS and all(mutant_ids[name] for name in LESSONS)
