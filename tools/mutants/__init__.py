"""Mutation analysis of every lesson's graded tests (``make mutants``).

Each lesson's reference solution cells are mutated (:mod:`mutants.operators`: generic operators in
the spirit of mutmut and cosmic-ray, plus the mistakes this course is about) and the lesson's graded
cells, hidden tests included, run against every mutant in one kernel per notebook
(:mod:`mutants.runner`). A mutant no graded cell kills is a wrong answer that would get full marks:
either a test is missing, or the mutant is equivalent to the reference, with a one-line argument
in ``tests/mutants/equivalent.toml``.

Run it as ``python -m mutants`` with ``tools/`` on the path (the Makefile does), or ``make mutants``.
"""

from .equivalents import load_equivalents
from .lessons import Lesson, load_lesson, lesson_names
from .operators import OPERATORS, Mutant, mutate
from .runner import LessonRun, LessonRunner, Result, sample

__all__ = ["OPERATORS", "Lesson", "LessonRun", "LessonRunner", "Mutant", "Result", "lesson_names",
           "load_equivalents", "load_lesson", "mutate", "sample"]
