"""Intake: find a learner's notebook, read it, and put the course's graded cells back in place.

nbgrader trusts the submission's cell metadata: a test cell whose nbgrader metadata was stripped,
deleted, or given another grade_id is simply not graded (or the whole notebook fails), and a
renamed notebook is skipped. Intake runs before nbgrader and hands it a notebook in which every
graded cell of the release is present, under its own grade_id, in its place, so that nbgrader's
OverwriteCells then restores each test's source (hidden tests included) from the gradebook.

What the learner wrote is never thrown away: their solution cells and any cells they added stay
where they were. Only copies of test cells the learner cannot own are dropped (a test cell whose
metadata was stripped, or whose grade_id was changed): the course's original is put back instead.

Each repair is recorded as a :class:`Note`; ``tampering=True`` marks changes nobody makes by
accident (points or grade_id of a test cell edited in the metadata).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import nbformat

from .course import NotebookInfo


@dataclass
class Note:
    """One thing intake found and repaired."""

    text: str
    tampering: bool = False


@dataclass
class IntakeResult:
    """Either a notebook ready for nbgrader, or why there is none."""

    notebook: nbformat.NotebookNode | None = None
    status: str = "ok"           # ok | missing | invalid_notebook
    reason: str = ""
    found_as: str | None = None  # the file name, when it was not the expected one
    notes: list[Note] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)


#: The largest notebook the grader reads (bytes); grade.py's --max-notebook-mb changes it.
MAX_NOTEBOOK_BYTES = 20 * 2**20


def find_notebook(folder: str, expected: str, known_ids: set[str]) -> tuple[str | None, list[str]]:
    """The submitted file to grade for ``expected`` (a notebook name without .ipynb).

    The expected name wins; otherwise, of the other notebooks in the folder, the one holding the
    most of this notebook's grade_ids (a learner's "Copy1" or a renamed file), then the only one.
    A link is never read to choose (a renamed notebook found only through a link is refused later).
    Returns ``(path or None, other files in the folder)``.
    """
    if not os.path.isdir(folder):
        return None, []
    names = sorted(os.listdir(folder))
    # nbgrader's exchange puts these beside every submission it collects: not the learner's files.
    others = [n for n in names if n != f"{expected}.ipynb" and not n.startswith(".")
              and n not in ("timestamp.txt", "submission_secret.txt")]
    if f"{expected}.ipynb" in names:
        return os.path.join(folder, f"{expected}.ipynb"), others
    candidates = [n for n in names if n.endswith(".ipynb") and not n.startswith(".")]
    if not candidates:
        return None, others

    def overlap(name: str) -> int:
        path = os.path.join(folder, name)
        if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > MAX_NOTEBOOK_BYTES:
            return -2
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            return sum(1 for c in data.get("cells", [])
                       if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in known_ids)
        except (OSError, ValueError, AttributeError):
            return -1

    best = max(candidates, key=lambda n: (overlap(n), n == candidates[0]))
    return os.path.join(folder, best), [n for n in others if n != best]


def untrusted_path(path: str, root: str) -> str | None:
    """Why ``path`` must not be read as the learner's notebook (None when it may be).

    Every part from the learner's folder ``root`` down to the file must be a real folder or file
    of the submission: a link (to the course's solutions, to a classmate's notebook) or a path that
    resolves outside ``root`` is refused, whatever it points to.
    """
    root = os.path.abspath(root)
    path = os.path.abspath(path)
    if os.path.islink(root):
        return "the submission folder is a link to another place"
    rel = os.path.relpath(path, root)
    if rel.startswith(os.pardir + os.sep) or rel == os.pardir or os.path.isabs(rel):
        return "the notebook is outside the submission folder"
    current = root
    for part in rel.split(os.sep):
        current = os.path.join(current, part)
        if os.path.islink(current):
            what = "the notebook" if current == path else f"the folder {part!r}"
            return f"{what} is a link to another file, not a file of the submission"
    real_root = os.path.realpath(root)
    if not os.path.realpath(path).startswith(real_root.rstrip(os.sep) + os.sep):
        return "the notebook resolves to a file outside the submission folder"
    if not os.path.isfile(path):
        return "the notebook is not a regular file"
    return None


def read_notebook(path: str, max_bytes: int | None = None) -> tuple[nbformat.NotebookNode | None, str]:
    """Parse and validate ``path``; returns ``(notebook, "")`` or ``(None, one-sentence reason)``."""
    limit = MAX_NOTEBOOK_BYTES if max_bytes is None else max_bytes
    try:
        # O_NOFOLLOW: a link swapped in after the checks is still not followed.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        return None, f"The notebook file could not be read ({exc.strerror})."
    if len(raw) > limit:
        return None, (f"The notebook is larger than the {limit / 2**20:g} MB the grader accepts; clear its "
                      "outputs (Edit, Clear Outputs of All Cells), save and submit again.")
    if not raw.strip():
        return None, "The notebook file is empty (0 cells, not even JSON), so there was nothing to grade."
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "The notebook file is not UTF-8 text, so it cannot be opened as a notebook."
    try:
        data = json.loads(text)
    except RecursionError:
        return None, "The notebook file nests its JSON too deeply to be a notebook."
    except ValueError as exc:
        line = getattr(exc, "lineno", "?")
        col = getattr(exc, "colno", "?")
        return None, (f"The notebook file is not valid JSON (line {line}, column {col}: "
                      f"{getattr(exc, 'msg', exc)}), so it cannot be opened; re-download it from Jupyter and resubmit.")
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None, "The file is JSON but not a notebook (it has no list of cells)."
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb, relax_add_props=True)
    except Exception as exc:  # nbformat raises several unrelated types for broken notebooks
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, f"The notebook does not follow the notebook format ({first[:160]})."
    return nb, ""


def _grade_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def repair(nb: nbformat.NotebookNode, info: NotebookInfo, release: nbformat.NotebookNode) -> list[Note]:
    """Put every graded cell of the release back into ``nb``, in place; return what was done."""
    notes: list[Note] = []
    release_cells = {_grade_meta(c).get("grade_id"): c for c in release.cells if _grade_meta(c).get("grade_id")}
    order = [c.grade_id for c in info.cells]
    kinds = {c.grade_id: c.kind for c in info.cells}
    points = {c.grade_id: c.points for c in info.cells}
    test_sources = {_norm(c.release_source): c.grade_id for c in info.cells if c.kind == "test"}
    by_source = {(c.cell_type, _norm(c.release_source)): c.grade_id for c in info.cells}

    kept: list = []
    explained: set[str] = set()
    present: set[str] = set()
    unclaimed_solutions: list = []
    # A second cell under a test's grade_id (a copy placed early, say) is tampering: nbgrader
    # would grade whichever it met first. Keep the copy that is the course's test (else the last).
    chosen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        gid = _grade_meta(cell).get("grade_id")
        if gid in kinds and kinds[gid] == "test":
            earlier_matches = gid in chosen and _norm(_source(nb.cells[chosen[gid]])) == _norm(info_source(info, gid))
            if not earlier_matches:
                chosen[gid] = index
    duplicated = {gid for gid in chosen
                  if sum(1 for c in nb.cells if _grade_meta(c).get("grade_id") == gid) > 1}
    for gid in sorted(duplicated):
        notes.append(Note(f"a second cell carried the grade_id of test {gid}; only the course's test was "
                          "graded", tampering=True))
    for index, cell in enumerate(nb.cells):
        meta = _grade_meta(cell)
        gid = meta.get("grade_id")
        if gid in duplicated and chosen.get(gid) != index:
            continue  # the copy: dropped (noted above)
        if gid in kinds and gid not in present:
            if kinds[gid] in ("test", "answer") and meta.get("grade"):
                claimed = float(meta.get("points", 0) or 0)
                if claimed != points[gid]:
                    notes.append(Note(f"the points of test cell {gid} were changed from "
                                      f"{points[gid]:g} to {claimed:g}", tampering=True))
                if kinds[gid] == "test" and _norm(_source(cell)) != _norm(info_source(info, gid)):
                    notes.append(Note(f"test cell {gid} had been edited"))
            present.add(gid)
            kept.append(cell)
            continue
        if gid is not None and gid in present:
            # A second cell under a grade_id already seen: nbgrader would reject the notebook.
            if meta.get("grade") and not meta.get("solution"):
                notes.append(Note(f"a second cell carried the grade_id of {gid} and was dropped", tampering=True))
                continue
            cell.metadata.pop("nbgrader", None)
            kept.append(cell)
            continue
        if meta.get("grade") and not meta.get("solution"):
            # A test cell under an unknown grade_id: the learner's copy of a test. The original
            # goes back below; this copy must not run as if it were the learner's code.
            match = test_sources.get(_norm(_source(cell)))
            if match:
                explained.add(match)
            notes.append(Note(f"a test cell's grade_id was changed to {gid!r}"
                              + (f" (it is {match})" if match else ""), tampering=True))
            continue
        if meta.get("solution"):
            # A solution cell under another grade_id (or none): still the learner's answer.
            unclaimed_solutions.append(cell)
            kept.append(cell)
            continue
        if "nbgrader" in cell.get("metadata", {}):
            cell.metadata.pop("nbgrader", None)
        match = by_source.get((cell.get("cell_type"), _norm(_source(cell))))
        if match is not None and match not in present and kinds[match] != "solution":
            # A course cell that lost its nbgrader metadata (copied into a new notebook, or
            # stripped by a tool): give it back its identity where the learner has it.
            cell.metadata["nbgrader"] = dict(_grade_meta(release_cells[match]))
            present.add(match)
            explained.add(match)
            if kinds[match] in ("test", "answer"):
                notes.append(Note(f"test cell {match} had lost its nbgrader metadata"))
            kept.append(cell)
            continue
        kept.append(cell)

    # Give unclaimed solution cells the grade_ids of missing solution cells, in order.
    missing_solutions = [g for g in order if kinds[g] == "solution" and g not in present]
    for cell, gid in zip(unclaimed_solutions, missing_solutions):
        cell.metadata["nbgrader"] = dict(_grade_meta(release_cells[gid]))
        present.add(gid)
        notes.append(Note(f"solution cell {gid} had lost or changed its grade_id"))
    for cell in unclaimed_solutions:
        if _grade_meta(cell).get("grade_id") not in present:
            cell.metadata.pop("nbgrader", None)
    # A solution cell that lost all its metadata (a copy into a new notebook) is the learner's cell
    # that defines what the release's stub defines; the last such cell is their final answer. The
    # clean run takes solution cells by grade_id, so it must be found again.
    for gid in [g for g in order if kinds[g] == "solution" and g not in present]:
        wanted = _defined_names(_source(release_cells[gid]))
        if not wanted:
            continue
        found = [c for c in kept if c.get("cell_type") == "code" and not _grade_meta(c)
                 and wanted & _defined_names(_source(c))]
        if found:
            found[-1].metadata["nbgrader"] = dict(_grade_meta(release_cells[gid]))
            present.add(gid)
            notes.append(Note(f"solution cell {gid} had lost its nbgrader metadata (found by what it defines)"))

    # Re-insert every missing course cell after the cell of its predecessor in the release. A
    # missing solution cell is not re-inserted: the release's stub would replace whatever the
    # learner defined elsewhere, and a truly missing answer fails its tests anyway.
    for index, gid in enumerate(order):
        if gid in present:
            continue
        if kinds[gid] == "solution":
            notes.append(Note(f"solution cell {gid} was not found (graded as submitted)"))
            continue
        if gid not in explained:
            what = {"test": "test cell", "answer": "graded answer cell"}.get(kinds[gid], "read-only cell")
            notes.append(Note(f"{what} {gid} had been deleted"))
        fresh = nbformat.from_dict(json.loads(json.dumps(release_cells[gid])))
        if fresh.get("cell_type") == "code":
            fresh["outputs"], fresh["execution_count"] = [], None
        if fresh.get("id") in {c.get("id") for c in kept}:
            fresh["id"] = f"restored-{gid}"[:64]
        position = 0
        for previous in reversed(order[:index]):
            at = _position(kept, previous)
            if at is not None:
                position = at + 1
                break
        kept.insert(position, fresh)
        present.add(gid)
    # Points come only from the release's graded cells: every cell under a release grade_id gets
    # the release's nbgrader metadata back (a solution cell marked as graded earns nothing), and a
    # cell under any other grade_id is an ordinary cell.
    for cell in kept:
        meta = _grade_meta(cell)
        gid = meta.get("grade_id")
        if not meta:
            cell.get("metadata", {}).pop("nbgrader", None)
            continue
        if gid in release_cells:
            wanted = dict(_grade_meta(release_cells[gid]))
            if kinds.get(gid) == "solution" and meta.get("grade"):
                notes.append(Note(f"solution cell {gid} was marked as graded; it earns no points of its own"))
            cell.metadata["nbgrader"] = wanted
        else:
            if meta.get("grade"):
                notes.append(Note(f"a cell marked as graded under the unknown grade_id {str(gid)[:40]!r} was "
                                  "graded as an ordinary cell"))
            cell.metadata.pop("nbgrader", None)
    nb.cells = kept
    return notes


def _defined_names(source: str) -> set[str]:
    """Top-level functions and classes a cell defines."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def info_source(info: NotebookInfo, gid: str) -> str:
    """The released source of ``gid`` in ``info``."""
    for c in info.cells:
        if c.grade_id == gid:
            return c.release_source
    return ""


def _position(cells: list, gid: str) -> int | None:
    for i, cell in enumerate(cells):
        if _grade_meta(cell).get("grade_id") == gid:
            return i
    return None


def intake(folder: str, info: NotebookInfo, release_path: str, root: str | None = None,
           max_bytes: int | None = None) -> IntakeResult:
    """Find, read and repair the learner's copy of ``info`` in ``folder`` (inside ``root``, the learner's folder)."""
    known = {c.grade_id for c in info.cells}
    root = root or os.path.dirname(os.path.abspath(folder))
    if os.path.islink(root) or os.path.islink(folder):
        what = "submission" if os.path.islink(root) else "assignment"
        return IntakeResult(status="invalid_notebook", reason=(
            f"The {what} folder is a link to another place, so it was not read; submit the notebook itself."))
    path, others = find_notebook(folder, info.name, known)
    if path is None:
        if not os.path.isdir(folder):
            return IntakeResult(status="missing", reason="Nothing was submitted for this assignment.")
        return IntakeResult(status="missing", reason=(f"The assignment folder has no notebook "
                                                      f"(expected {info.name}.ipynb)."), ignored_files=others)
    found_as = os.path.basename(path) if os.path.basename(path) != f"{info.name}.ipynb" else None
    problem = untrusted_path(path, root)
    if problem:
        return IntakeResult(status="invalid_notebook", found_as=found_as, ignored_files=others, reason=(
            f"Not graded: {problem}; submit the notebook file itself (File, Download in Jupyter)."))
    nb, problem = read_notebook(path, max_bytes)
    if nb is None:
        return IntakeResult(status="invalid_notebook", reason=problem, found_as=found_as, ignored_files=others)
    with open(release_path, encoding="utf-8") as f:
        release = nbformat.read(f, as_version=4)
    notes = repair(nb, info, release)
    if found_as:
        notes.insert(0, Note(f"the notebook was submitted as {found_as!r} and graded as {info.name}.ipynb"))
    return IntakeResult(notebook=nb, notes=notes, found_as=found_as, ignored_files=others)
