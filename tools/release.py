"""Generate the learner's copy, course/, from the instructor's source, solutions/.

``make release`` runs this file. For every assignment folder in solutions/ it runs nbgrader's
``generate_assignment`` converter (the same class the ``nbgrader generate_assignment --force --no-db``
command runs, here in-process so that one import of nbgrader serves every assignment), with the
settings of the repository's nbgrader_config.py, in a scratch copy of the repository. It then
normalises every generated notebook (no outputs, no execution counts, no saved widget state, valid and
unique cell ids, nbformat's sorted-key JSON) and writes course/<assignment>/ only where bytes changed.

Same solutions/ in, same course/ bytes out: tests/course/test_notebooks.py regenerates into a temporary folder
with :func:`release` and compares with the committed course/.

It also writes the **learner bundle** (``--bundle``, default ``dist/learner``): what to hand learners
when grades count. It holds the course (``course/``), the bench (``src/sqslab``), the grader's code
for the self-check, the work-copy tool and a Makefile of its own (``make lab``, ``make grade``), and
nothing of ``solutions/``, ``tests/`` (the corpora of right answers), the grader's fixture or the
instructor's demos: no solution and no hidden test. Its self-check grades ``work/`` against the
tests a learner can see (``course/``).

Usage::

    python tools/release.py [--solutions solutions] [--course course] [--bundle dist/learner | --no-bundle]
    python tools/release.py --strip [NOTEBOOK_OR_FOLDER ...]   # normalise in place (make strip)
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "nbgrader_config.py"

#: Assignment folders look like ``00_getting_started``; anything else in solutions/ or course/
#: (a README, a scratch folder starting with "_" or ".") is not an assignment.
ASSIGNMENT_RE = re.compile(r"^\d\d_[a-z0-9_]+$")
CELL_ID_RE = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
#: Cell metadata that records what happened in someone's session rather than what the cell is.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime")
#: Notebook metadata of the same kind: ipywidgets' saved widget state is an output.
VOLATILE_NOTEBOOK_METADATA = ("widgets",)


def assignments(solutions: Path) -> list[str]:
    """Names of the assignment folders in ``solutions``, in teaching order."""
    if not solutions.is_dir():
        return []
    return sorted(p.name for p in solutions.iterdir() if p.is_dir() and ASSIGNMENT_RE.match(p.name))


def normalise(nb, name: str = ""):
    """Return ``nb`` (an nbformat NotebookNode, changed in place) in the form the repository stores.

    Outputs and execution counts go; session metadata goes; every cell gets a valid, unique id. Ids
    that are already valid are kept, so a cell keeps its id from solutions/ to course/ and across
    releases; a missing or duplicate id is derived from the notebook's name and the cell's position,
    never drawn at random, so two runs agree.
    """
    nb.nbformat = 4
    nb.nbformat_minor = max(int(nb.get("nbformat_minor", 0)), 5)
    for key in VOLATILE_NOTEBOOK_METADATA:
        nb.metadata.pop(key, None)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not CELL_ID_RE.match(cell_id) or cell_id in seen:
            cell_id = hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:12]
            while cell_id in seen:
                cell_id = hashlib.sha1(cell_id.encode()).hexdigest()[:12]
            cell.id = cell_id
        seen.add(cell_id)
    return nb


def normalised_bytes(path: Path) -> bytes:
    """The bytes the repository stores for the notebook at ``path``."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    normalise(nb, path.stem)
    text = nbformat.writes(nb)
    if not text.endswith("\n"):
        text += "\n"
    return text.encode("utf-8")


def leftovers(path: Path) -> list[str]:
    """What a session left in the notebook at ``path``: outputs, execution counts, widget state."""
    import json

    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("outputs"):
            found.append(f"cell {index} has outputs")
        if cell.get("execution_count") is not None:
            found.append(f"cell {index} has an execution count")
    if any(key in nb.get("metadata", {}) for key in VOLATILE_NOTEBOOK_METADATA):
        found.append("saved widget state in the notebook metadata")
    return found


def strip(paths: list[Path]) -> list[str]:
    """Normalise notebooks in place (folders are searched); return one line per file rewritten."""
    changed = []
    for path in _notebooks(paths):
        data = normalised_bytes(path)
        if path.read_bytes() != data:
            path.write_bytes(data)
            changed.append(f"stripped {path}")
    return changed


def _notebooks(paths: list[Path]) -> list[Path]:
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += [p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
        elif path.suffix == ".ipynb":
            found.append(path)
    return sorted(found)


def _generate(solutions: Path, scratch: Path, names: list[str]) -> Path:
    """Run nbgrader's generate_assignment for ``names``; return the folder it released into."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.converters import GenerateAssignment
    from nbgrader.converters.base import NbGraderException
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config.merge(PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config())
    overrides = Config()
    overrides.CourseDirectory.root = str(scratch)
    overrides.CourseDirectory.source_directory = "solutions"
    overrides.CourseDirectory.release_directory = "course"
    # What nbgrader's --force --no-db flags set: replace an earlier release, keep no gradebook.
    overrides.BaseConverter.force = True
    overrides.GenerateAssignment.no_database = True
    overrides.SaveCells.enabled = False
    config.merge(overrides)

    shutil.copytree(solutions, scratch / "solutions", dirs_exist_ok=True)
    for name in names:
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = name
        converter = GenerateAssignment(coursedir=coursedir, config=config)
        try:
            converter.start()
        except NbGraderException as exc:
            raise SystemExit(f"release: nbgrader could not generate {name}: {exc}") from exc
    return scratch / "course"


def _sync(generated: Path, course: Path, names: list[str]) -> list[str]:
    """Make ``course`` hold exactly the generated assignments; return what changed."""
    changes = []
    course.mkdir(parents=True, exist_ok=True)
    for stale in sorted(p for p in course.iterdir() if p.is_dir() and ASSIGNMENT_RE.match(p.name)):
        if stale.name not in names:
            shutil.rmtree(stale)
            changes.append(f"removed {stale.name}/ (no longer in solutions/)")
    for name in names:
        src_dir, dest_dir = generated / name, course / name
        wanted = {p.relative_to(src_dir) for p in src_dir.rglob("*") if p.is_file()}
        if dest_dir.is_dir():
            for old in sorted(p for p in dest_dir.rglob("*") if p.is_file()):
                if old.relative_to(dest_dir) not in wanted:
                    old.unlink()
                    changes.append(f"removed {old.relative_to(course)}")
        for rel in sorted(wanted):
            src, dest = src_dir / rel, dest_dir / rel
            data = normalised_bytes(src) if src.suffix == ".ipynb" else src.read_bytes()
            if dest.is_file() and dest.read_bytes() == data:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            changes.append(f"wrote {dest.relative_to(course)}")
        for folder in sorted((p for p in dest_dir.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
    return changes


def release(solutions: Path = REPO / "solutions", course: Path = REPO / "course") -> list[str]:
    """Regenerate ``course`` from ``solutions``; return one line per file written or removed."""
    solutions, course = Path(solutions).resolve(), Path(course).resolve()
    names = assignments(solutions)
    if not names:
        raise SystemExit(f"release: no assignment folders (like 00_getting_started/) in {solutions}")
    with tempfile.TemporaryDirectory(prefix="sqslab-release-") as tmp:
        generated = _generate(solutions, Path(tmp), names)
        return _sync(generated, course, names)


#: What of the repository a learner gets (files and folders, relative to the repository).
BUNDLE_PATHS = ("src/sqslab", "pyproject.toml", "LICENSE", "tools/workcopy.py", "tools/jupyter-config",
                "autograder/__init__.py", "autograder/grade.py", "autograder/worker.py", "autograder/executor.py",
                "autograder/kernel_boot.py", "autograder/sandbox.py", "autograder/intake.py",
                "autograder/course.py", "autograder/results.py", "autograder/feedback.py",
                "autograder/behaviours.py", "autograder/scan.py")

BUNDLE_README = """# sqs-reliability-course: your copy

A hands-on JupyterLab course in writing Amazon SQS consumers that lose nothing and never do the same
work twice, against an in-process mock of SQS (no AWS account, no network). You need Python 3.11,
pip and make.

```sh
make lab      # first time: installs everything into .venv, then opens JupyterLab on work/
make grade    # self-check: runs the tests you can see in each lesson and writes feedback pages
```

`make lab` copies the lessons from `course/` into `work/` once; `work/` is yours and is never
overwritten. `make grade` prints a table (lesson, score, what to do next, where the feedback is) and
exits 0 whenever it could grade, whatever the score (`make grade STRICT=1` exits 1 while anything
is left to do). The grader also runs hidden tests, so a check that passes here can still fail when
graded: a check whose tests are all hidden says "checked when graded".

Hand in `work/<lesson>/<lesson>.ipynb` as your course asks. The grading sandbox needs bubblewrap on
Linux (`apt-get install bubblewrap`); without it the self-check still works, and says so.

License: MIT (LICENSE).
"""

BUNDLE_MAKEFILE = """# sqs-reliability-course, the learner's copy. `make help` lists the targets.
#   make lab LAB_ARGS="--port 9999"   extra arguments for `jupyter lab`
#   make grade STRICT=1               exit non-zero while anything is left to do
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV ?= .venv
PY ?= $(VENV)/bin/python
STAMP := $(VENV)/.stamp-sqslab-setup
LAB_ARGS ?=
STRICT ?=
GRADE_ARGS ?=

.PHONY: help setup lab grade clean-work

help: ## List the targets
\t@grep -E '^[a-zA-Z_-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\\n", $$1, $$2}'

setup: $(STAMP) ## Create the venv (Python 3.11) and install the course

$(STAMP): pyproject.toml
\t@if [ ! -x "$(PY)" ]; then "$(PYTHON)" -m venv "$(VENV)"; fi
\t"$(PY)" -m pip install --quiet --disable-pip-version-check -e .
\t@touch "$@"

lab: setup ## Copy course/ into work/ (never overwriting your files) and open JupyterLab there
\t"$(PY)" tools/workcopy.py --course course --work work
\tJUPYTER_CONFIG_PATH="$(CURDIR)/tools/jupyter-config$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \\
\t  "$(PY)" -m jupyter lab --ip=127.0.0.1 --LabApp.news_url=None \\
\t  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \\
\t  $$( [ "$$(id -u)" -eq 0 ] && echo --allow-root ) --notebook-dir=work $(LAB_ARGS)

grade: setup ## Self-check work/ with the tests you can see: a table, and a feedback page per lesson
\t@if [ ! -d work ]; then echo "grade: no work/ folder yet; 'make lab' creates it." >&2; exit 1; fi
\t@"$(PY)" autograder/grade.py --work work $(if $(strip $(STRICT)),--strict) $(GRADE_ARGS)

clean-work: ## Delete work/, your own copies of the notebooks (your answers are lost)
\trm -rf work
"""


def bundle(course: Path, dest: Path, repo: Path = REPO) -> list[str]:
    """Write the learner bundle into ``dest`` (replacing it); return the files written, sorted.

    The course comes from ``course`` (already generated); the rest from the repository. Nothing
    else is copied: what is not listed in :data:`BUNDLE_PATHS` is not a learner's to have.
    """
    course, dest = Path(course).resolve(), Path(dest).resolve()
    if dest == repo or repo.is_relative_to(dest):
        raise SystemExit(f"release: refusing to write the learner bundle over {dest}")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
    shutil.copytree(course, dest / "course", ignore=ignore)
    for rel in BUNDLE_PATHS:
        src = repo / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=ignore)
        elif src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    (dest / "README.md").write_text(BUNDLE_README)
    (dest / "Makefile").write_text(BUNDLE_MAKEFILE)
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solutions", type=Path, default=REPO / "solutions")
    parser.add_argument("--course", type=Path, default=REPO / "course")
    parser.add_argument("--strip", nargs="*", type=Path, metavar="PATH",
                        help="normalise these notebooks (or every notebook under solutions/) in place"
                             " instead of releasing")
    parser.add_argument("--bundle", type=Path, default=REPO / "dist" / "learner",
                        help="where the learner bundle goes (default dist/learner): the course, the bench and "
                             "the self-check, without solutions or hidden tests")
    parser.add_argument("--no-bundle", action="store_true", help="regenerate course/ only")
    args = parser.parse_args(argv)
    if args.strip is not None:
        changed = strip(args.strip or [args.solutions])
        for line in changed:
            print(f"strip: {line}")
        print(f"strip: {len(changed)} notebook(s) rewritten")
        return 0
    for path in _notebooks([args.solutions]):
        if leftovers(path):
            print(f"release: warning: {path} is stored with outputs ({leftovers(path)[0]}, ...);"
                  " run `make strip` before committing it", file=sys.stderr)
    changes = release(args.solutions, args.course)
    for line in changes:
        print(f"release: {line}")
    names = assignments(args.solutions.resolve())
    print(f"release: {len(names)} assignment(s) from {args.solutions} -> {args.course}"
          f" ({len(changes)} change(s))")
    if not args.no_bundle:
        files = bundle(args.course, args.bundle)
        print(f"release: learner bundle ({len(files)} files, no solutions, no hidden tests) -> {args.bundle}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
