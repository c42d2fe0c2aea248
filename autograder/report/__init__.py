"""The class report: ``OUT/report.html`` after a class run, for the instructor.

Per lesson: the distribution of scores, the behaviours the class most often failed with the
misconception each failure reveals (:mod:`autograder.behaviours`, the one table the feedback pages also use), and the rows that need
a look (any status but ``ok``). Built from ``OUT/grades.csv`` and the per-submission results the
grader keeps in ``OUT/.grader/results/``; ``grade.py`` writes it at the end of every class run, and

    .venv/bin/python -m autograder.report OUT

rebuilds it from an OUT folder without grading again. It is a package of its own, outside the files
``grade.py`` hashes into its cache key, so a change of the report's page never re-grades a class (the
behaviours' names and misconceptions live in ``autograder/behaviours.py``, which the feedback pages share).
"""

from __future__ import annotations

from .page import build, write_report

__all__ = ["build", "write_report"]
