"""Grade notebooks through the real nbgrader CLI, for tests.

A *case* is a submission built from the released (learner's) copy of an assignment with its
solution cells replaced by some code: the reference solution, a wrong solution, an alternative
right one, or nothing at all (the untouched learner copy). All cases of one assignment are graded
by one ``nbgrader autograde`` run, and the scores are read back from nbgrader's own gradebook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
CORPUS = ROOT / "tests" / "corpus"
BIN = Path(sys.executable).parent

CONFIG = """
c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "corpus"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
c.ExecutePreprocessor.timeout = 300
c.Execute.timeout = 300
"""


@dataclass
class Case:
    """One submission to grade: ``code`` maps a solution cell's grade_id to its replacement."""

    name: str
    code: dict[str, str] | None          # None: the untouched learner copy
    expect: str = "full"                 # "full" | "zero" | "lose"
    lose: tuple[str, ...] = ()           # graded cells that must lose points
    path: Path | None = None


@dataclass
class Graded:
    """Scores per graded cell: ``cells[grade_id] = (score, max_score)``."""

    cells: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(s for s, _ in self.cells.values())

    @property
    def max_score(self) -> float:
        return sum(m for _, m in self.cells.values())


def notebook_names(assignment: str, folder: Path | None = None) -> list[str]:
    """The notebooks of ``assignment`` in teaching order: ``<a>``, then ``<a>_b``, ``<a>_c``, ...

    A lesson too long for one sitting is split into several notebooks in its folder; graded and
    solution cells are addressed by grade_id, in whichever of them they sit.
    """
    folder = folder or SOLUTIONS / assignment
    names = [p.stem for p in folder.glob("*.ipynb") if p.stem == assignment or p.stem.startswith(assignment + "_")]
    return sorted(names, key=lambda n: (n != assignment, n))


def source_notebooks(assignment: str) -> dict[str, dict]:
    """Each instructor's notebook of ``assignment`` as JSON, by name, in teaching order."""
    return {name: json.loads((SOLUTIONS / assignment / f"{name}.ipynb").read_text())
            for name in notebook_names(assignment)}


def source_notebook(assignment: str) -> dict:
    """The instructor's notebooks of ``assignment`` as one notebook's JSON: every cell, in order."""
    notebooks = list(source_notebooks(assignment).values())
    return {**notebooks[0], "cells": [cell for nb in notebooks for cell in nb["cells"]]}


def solution_cells(nb: dict) -> dict[str, str]:
    """grade_id -> source of each solution cell, with nbgrader's markers removed."""
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            src = "\n".join(line for line in src.splitlines()
                            if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
            out[meta["grade_id"]] = src
    return out


def graded_cells(nb: dict) -> dict[str, float]:
    """grade_id -> points of each autograded test cell."""
    return {c["metadata"]["nbgrader"]["grade_id"]: float(c["metadata"]["nbgrader"].get("points", 0))
            for c in nb["cells"]
            if c.get("metadata", {}).get("nbgrader", {}).get("grade") and c["cell_type"] == "code"}


def load_corpus(assignment: str) -> list[Case]:
    """Read ``tests/corpus/<assignment>/*.py``; each case is the reference solution, changed.

    Each file starts with ``# expect: full`` (an alternative right solution) or
    ``# expect: lose grade_id [grade_id ...]`` (a wrong one, with the cells it must lose points
    on), then says how it differs from the reference solution, cell by cell:

    - ``# --- cell: <grade_id>`` then the whole cell, replacing that solution cell;
    - ``# --- edit: <grade_id>`` then one or more edits of the reference's cell, each
      ``# replace:`` then lines that occur exactly once in it, then ``# with:`` and their
      replacement (or ``# with nothing``), so the reference lives in one place;
    - an assignment with one solution cell may give that cell alone, without a header.

    Solution cells a case does not name keep the reference solution.
    """
    reference = solution_cells(source_notebook(assignment))
    cases = []
    for path in sorted((CORPUS / assignment).glob("*.py")):
        text = path.read_text()
        m = re.search(r"^# expect: (full|lose)(.*)$", text, re.M)
        if not m:
            raise ValueError(f"{path}: first lines need '# expect: full' or '# expect: lose <grade_id> ...'")
        sections = re.split(r"^# --- (cell|edit): (\S+)\s*$", text, flags=re.M)
        if len(sections) == 1:
            if len(reference) != 1:
                raise ValueError(f"{path}: this assignment has several solution cells: name each with "
                                 "'# --- cell: <grade_id>' or '# --- edit: <grade_id>'")
            code = {next(iter(reference)): text}
        else:
            code = dict(reference)
            for i in range(1, len(sections), 3):
                kind, grade_id, body = sections[i], sections[i + 1], sections[i + 2]
                if grade_id not in reference:
                    raise ValueError(f"{path}: no solution cell {grade_id!r}; there are {sorted(reference)}")
                code[grade_id] = body if kind == "cell" else apply_edits(reference[grade_id], body, f"{path}: {grade_id}")
        cases.append(Case(path.stem, code, m.group(1), tuple(m.group(2).split()), path))
    return cases


def apply_edits(cell: str, edits: str, where: str) -> str:
    """``cell`` with each ``# replace:`` ... ``# with:`` ... edit of ``edits`` applied (see load_corpus)."""
    parts = re.split(r"^# (replace:|with:|with nothing)\s*$", edits, flags=re.M)
    if parts[0].strip():
        raise ValueError(f"{where}: an edit starts with '# replace:', not {parts[0].strip()[:40]!r}")
    if len(parts) < 3:
        raise ValueError(f"{where}: an edit section needs '# replace:' and '# with:' (or '# with nothing')")
    for i in range(1, len(parts), 4):
        if parts[i] != "replace:" or i + 2 >= len(parts) or parts[i + 2] not in ("with:", "with nothing"):
            raise ValueError(f"{where}: each '# replace:' needs a '# with:' (or '# with nothing') after it")
        old = parts[i + 1].strip("\n")
        new = "" if parts[i + 2] == "with nothing" else parts[i + 3].strip("\n")
        if parts[i + 2] == "with nothing" and parts[i + 3].strip():
            raise ValueError(f"{where}: '# with nothing' must not be followed by code")
        found = cell.count(old)
        if found != 1:
            raise ValueError(f"{where}: the lines to replace occur {found} times in the reference, not once "
                             f"(has the reference changed?):\n{old}")
        if not new and old + "\n" in cell:
            old += "\n"  # a removed block takes its line break with it
        cell = cell.replace(old, new, 1)
    return cell


def _set_source(cell: dict, text: str) -> None:
    cell["source"] = text
    cell["outputs"] = [] if cell["cell_type"] == "code" else cell.get("outputs")
    if cell["cell_type"] == "code":
        cell["execution_count"] = None


def build_submission(release_nb: dict, code: dict[str, str] | None) -> dict:
    """A copy of the learner's notebook with its solution cells replaced by ``code``."""
    nb = json.loads(json.dumps(release_nb))
    if code is None:
        return nb
    sol = [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")
           and c["cell_type"] == "code"]
    if "*" in code:
        if len(sol) != 1:
            raise ValueError("this assignment has several solution cells: mark sections with '# --- cell: <id>'")
        _set_source(sol[0], code["*"])
        return nb
    by_id = {c["metadata"]["nbgrader"]["grade_id"]: c for c in sol}
    for grade_id, text in code.items():
        if grade_id not in by_id:
            raise ValueError(f"no solution cell {grade_id!r}; there are {sorted(by_id)}")
        _set_source(by_id[grade_id], text)
    return nb


def grade(assignment: str, cases: list[Case], workdir: Path, *, timeout: int | None = None) -> dict[str, Graded]:
    """Grade every case of ``assignment`` with one real ``nbgrader autograde``; scores per case.

    ``autograde`` grades the cases one after another, so its time limit (unless given) grows with
    their number: 900 s, plus 60 s for each case past ten (a lesson of 17 cases in two notebooks
    overran a flat 900 s on a loaded 2-core machine).

    An assignment of several notebooks is submitted whole: each case's code goes into whichever
    notebook holds the solution cell of that grade_id, and its scores add up over the notebooks.
    When the cases include ``reference``, a case's notebook that is byte for byte the reference's
    submission is not submitted again (nbgrader scores a missing notebook 0, and it is not read):
    it takes the reference's scores, which grading the same bytes again would give (the grader is
    deterministic; ``autograder/grade.py`` reuses unchanged results the same way).
    """
    if timeout is None:
        timeout = 900 + 60 * max(0, len(cases) - 10)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "nbgrader_config.py").write_text(CONFIG.format(root=str(workdir)))
    src = workdir / "source" / assignment
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    names = notebook_names(assignment)
    for name in names:
        shutil.copy(SOLUTIONS / assignment / f"{name}.ipynb", src)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = lambda *args: subprocess.run([str(BIN / "nbgrader"), *args], cwd=workdir, env=env,
                                       capture_output=True, text=True, timeout=timeout)
    done = run("generate_assignment", assignment, "--force")
    if done.returncode:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{done.stderr[-3000:]}")
    releases = {name: json.loads((workdir / "release" / assignment / f"{name}.ipynb").read_text()) for name in names}
    submissions: dict[str, dict[str, str]] = {}
    for case in cases:
        code = case.code
        if code is not None and "*" in code:
            code = _single_cell(releases, code["*"])
        submissions[case.name] = {}
        for name, release_nb in releases.items():
            own = None if code is None else {g: c for g, c in code.items() if g in _solution_ids(release_nb)}
            submissions[case.name][name] = json.dumps(build_submission(release_nb, own))
        if code is not None:
            unknown = set(code) - {g for nb in releases.values() for g in _solution_ids(nb)}
            if unknown:
                raise ValueError(f"{case.name}: no solution cell {sorted(unknown)} in {assignment}")
    reference = submissions.get("reference", {})
    as_reference = {case: {name for name, text in nbs.items() if case != "reference" and reference.get(name) == text}
                    for case, nbs in submissions.items()}
    for case, nbs in submissions.items():
        if as_reference[case] == set(nbs):
            raise ValueError(f"{assignment}: the case {case} is the reference solution, unchanged")
        dest = workdir / "submitted" / case / assignment
        dest.mkdir(parents=True, exist_ok=True)
        for name, text in nbs.items():
            if name not in as_reference[case]:
                (dest / f"{name}.ipynb").write_text(text)
    done = run("autograde", assignment, "--force")
    if done.returncode:
        raise RuntimeError(f"nbgrader autograde failed:\n{done.stderr[-3000:]}")
    from nbgrader.api import Gradebook

    results: dict[str, Graded] = {}
    with Gradebook(f"sqlite:///{workdir}/gradebook.db") as gb:
        for case in cases:
            graded = Graded()
            for name in names:
                owner = "reference" if name in as_reference[case.name] else case.name
                nb = gb.find_submission_notebook(name, assignment, owner)
                for g in nb.grades:
                    if g.max_score:
                        graded.cells[g.name] = (float(g.score), float(g.max_score))
            results[case.name] = graded
    return results


def _solution_ids(nb: dict) -> set[str]:
    return {c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
            if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c["cell_type"] == "code"}


def _single_cell(releases: dict[str, dict], text: str) -> dict[str, str]:
    ids = {g for nb in releases.values() for g in _solution_ids(nb)}
    if len(ids) != 1:
        raise ValueError("this assignment has several solution cells: mark sections with '# --- cell: <id>'")
    return {ids.pop(): text}


#: ``make corpus`` sets it: every case of every corpus is graded, not the sample ``make test`` grades.
ALL_CASES = os.environ.get("SQSLAB_CORPUS", "sample") == "all"


def sample(cases: list[Case], expect: str, count: int) -> list[Case]:
    """``count`` of the cases that expect ``expect`` (all of them under ``make corpus``), picked by a
    stable hash of their names, so a run always grades the same ones."""
    chosen = [c for c in cases if c.expect == expect]
    if ALL_CASES:
        return chosen
    return sorted(chosen, key=lambda c: zlib.crc32(c.name.encode()))[:count]


def reference_case(assignment: str) -> Case:
    """The instructor's own solution, submitted as a learner would."""
    return Case("reference", solution_cells(source_notebook(assignment)), "full")


def untouched_case() -> Case:
    """The learner's copy as released, with nothing written."""
    return Case("untouched", None, "zero")
