"""The graded course: nbgrader's gradebook and release copies, built once from ``solutions/``.

nbgrader learns what to grade from ``nbgrader generate_assignment``: it records every graded cell
(with its hidden tests, points and checksum) in a gradebook and writes the learner's copy. The
grader does the same, in process, into a build folder keyed by a hash of the source, so an
unchanged course is not rebuilt. The manifest it writes beside the gradebook is what the rest of
the grader reads: assignments with graded cells (in teaching order), each notebook's graded cells
with points and the one-line description a learner sees (taken from the *released* cell, so it
never contains a hidden test).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field

MANIFEST = "manifest.json"


@dataclass
class GradedCell:
    """One nbgrader cell of the release copy."""

    grade_id: str
    kind: str            # "test" | "solution" | "answer" (graded solution) | "locked"
    points: float = 0.0
    description: str = ""
    cell_type: str = "code"
    release_source: str = ""
    #: The test's visible part checks nothing (its checks are all hidden): a self-check cannot pass it.
    all_hidden: bool = False


@dataclass
class NotebookInfo:
    """One notebook of an assignment, as released."""

    name: str
    cells: list[GradedCell] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        """Points available in this notebook."""
        return sum(c.points for c in self.cells if c.kind in ("test", "answer"))

    def tests(self) -> list[GradedCell]:
        """The graded cells, in notebook order."""
        return [c for c in self.cells if c.kind in ("test", "answer")]


@dataclass
class AssignmentInfo:
    """One assignment with graded cells."""

    name: str
    notebooks: list[NotebookInfo] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        """Points available in this assignment."""
        return sum(nb.max_score for nb in self.notebooks)


@dataclass
class Course:
    """A built course: where its nbgrader folders are and what it grades."""

    root: str
    source_key: str
    assignments: list[AssignmentInfo]

    @property
    def db_path(self) -> str:
        """The master gradebook (assignments and cells, no learners)."""
        return os.path.join(self.root, "gradebook.db")

    @property
    def source_dir(self) -> str:
        """nbgrader's ``source`` folder (a snapshot of solutions/)."""
        return os.path.join(self.root, "source")

    @property
    def release_dir(self) -> str:
        """nbgrader's ``release`` folder: what learners got."""
        return os.path.join(self.root, "release")

    def assignment(self, name: str) -> AssignmentInfo:
        """The assignment called ``name``."""
        for a in self.assignments:
            if a.name == name:
                return a
        raise KeyError(name)

    def names(self) -> list[str]:
        """Graded assignment names, in teaching order."""
        return [a.name for a in self.assignments]


def _is_graded_notebook(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, ValueError):
        return False
    return any(c.get("metadata", {}).get("nbgrader", {}).get("grade") for c in nb.get("cells", []))


def graded_assignments(source_root: str) -> list[str]:
    """Assignment folders of ``source_root`` whose notebooks have graded cells, sorted."""
    names = []
    for name in sorted(os.listdir(source_root)):
        folder = os.path.join(source_root, name)
        if not os.path.isdir(folder) or name.startswith("."):
            continue
        if any(n.endswith(".ipynb") and _is_graded_notebook(os.path.join(folder, n))
               for n in sorted(os.listdir(folder))):
            names.append(name)
    return names


def source_hash(source_root: str, names: list[str]) -> str:
    """A hash of every file of the given assignments (and of this module's format)."""
    h = hashlib.sha256(b"sqslab-course-v2\n")
    for name in names:
        folder = os.path.join(source_root, name)
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
            for fn in sorted(filenames):
                if fn.startswith(".") or fn.endswith(".pyc"):
                    continue
                path = os.path.join(dirpath, fn)
                h.update(os.path.relpath(path, source_root).encode() + b"\0")
                with open(path, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:16]


def describe(source: str) -> str:
    """The one line a learner sees for a graded cell: its docstring or first comment."""
    for line in source.splitlines():
        text = line.strip()
        if not text:
            continue
        for quote in ('"""', "'''"):
            if text.startswith(quote):
                return text.strip(quote).strip() or ""
        if text.startswith("#"):
            return text.lstrip("#").strip()
        return ""
    return ""


def checks_nothing(source: str) -> bool:
    """True when a test's source (as released) only describes or prints: its checks are all hidden."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in tree.body:
        if isinstance(node, ast.Pass):
            continue
        if isinstance(node, ast.Expr):
            value = node.value
            if isinstance(value, ast.Constant):
                continue
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "print":
                continue
        return False
    return True


def _cell_kind(meta: dict) -> str | None:
    if not meta:
        return None
    if meta.get("grade") and meta.get("solution"):
        return "answer"
    if meta.get("grade"):
        return "test"
    if meta.get("solution"):
        return "solution"
    if meta.get("locked"):
        return "locked"
    return None


def _read_manifest(root: str) -> Course | None:
    path = os.path.join(root, MANIFEST)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        data = json.load(f)
    assignments = [AssignmentInfo(a["name"], [NotebookInfo(n["name"], [GradedCell(**c) for c in n["cells"]])
                                              for n in a["notebooks"]]) for a in data["assignments"]]
    return Course(root, data["source_key"], assignments)


def build_course(source_root: str, build_parent: str, only: list[str] | None = None) -> Course:
    """Build (or reuse) the graded course for ``source_root`` under ``build_parent``.

    Parameters
    ----------
    source_root:
        nbgrader's source: ``solutions/`` with one folder per assignment.
    build_parent:
        Where builds live; each source hash gets its own folder, reused while unchanged.
    only:
        Restrict to these assignments (default: every assignment with graded cells).
    """
    names = graded_assignments(source_root)
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise SystemExit(f"no graded assignment called {', '.join(unknown)} in {source_root} "
                             f"(graded: {', '.join(names) or 'none'})")
        names = [n for n in names if n in only]
    key = source_hash(source_root, names)
    root = os.path.join(build_parent, f"course-{key}")
    course = _read_manifest(root)
    if course is not None:
        return course
    # A private scratch folder, renamed into place at the end: two graders (or test workers)
    # building the same course at once both succeed, and one build wins.
    tmp = f"{root}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "source"))
    for name in names:
        shutil.copytree(os.path.join(source_root, name), os.path.join(tmp, "source", name),
                        ignore=shutil.ignore_patterns(".*", "__pycache__", "*.pyc"))
    _generate(tmp, names)
    assignments = [_describe_assignment(tmp, name) for name in names]
    course = Course(root, key, assignments)
    with open(os.path.join(tmp, MANIFEST), "w") as f:
        json.dump({"source_key": key, "assignments": [asdict(a) for a in assignments]}, f,
                  indent=1, sort_keys=True)
    try:
        os.rename(tmp, root)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        built = _read_manifest(root)
        if built is None:
            raise
        return built
    return course


def _generate(root: str, names: list[str]) -> None:
    """nbgrader generate_assignment, in process, for each assignment."""
    import logging

    from . import ensure_venv_on_path

    ensure_venv_on_path()

    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    for name in names:
        c = Config()
        c.CourseDirectory.root = root
        c.CourseDirectory.source_directory = "source"
        c.CourseDirectory.release_directory = "release"
        c.CourseDirectory.db_url = f"sqlite:///{os.path.join(root, 'gradebook.db')}"
        c.CourseDirectory.assignment_id = name
        c.GenerateAssignment.create_assignment = True
        c.GenerateAssignment.force = True
        coursedir = CourseDirectory(config=c)
        converter = GenerateAssignment(coursedir=coursedir, config=c)
        converter.log.setLevel(logging.ERROR if not os.environ.get("SQSLAB_GRADER_DEBUG") else logging.DEBUG)
        converter.start()


def _describe_assignment(root: str, name: str) -> AssignmentInfo:
    folder = os.path.join(root, "release", name)
    notebooks = []
    for fn in sorted(os.listdir(folder)):
        if not fn.endswith(".ipynb"):
            continue
        with open(os.path.join(folder, fn), encoding="utf-8") as f:
            nb = json.load(f)
        cells = []
        for cell in nb["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            kind = _cell_kind(meta)
            if kind is None or "grade_id" not in meta:
                continue
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cells.append(GradedCell(meta["grade_id"], kind, float(meta.get("points", 0) or 0),
                                    describe(source) if kind in ("test", "answer") else "",
                                    cell["cell_type"], source,
                                    kind == "test" and cell["cell_type"] == "code" and checks_nothing(source)))
        notebooks.append(NotebookInfo(fn[:-len(".ipynb")], cells))
    return AssignmentInfo(name, notebooks)
