"""Generate the learner's copy, course/, from the instructor's source, solutions/.

``make release`` runs this file. For every assignment folder in solutions/ it runs nbgrader's
``generate_assignment`` converter (the same class the ``nbgrader generate_assignment --force --no-db``
command runs, here in-process so that one import of nbgrader serves every assignment), with the
settings of the repository's nbgrader_config.py, in a scratch copy of the repository. It then
normalises every generated notebook (no outputs, no execution counts, no saved widget state, valid and
unique cell ids, nbformat's sorted-key JSON) and writes course/<assignment>/ only where bytes changed.

Same solutions/ in, same course/ bytes out: tests/course/test_notebooks.py regenerates into a temporary folder
with :func:`release` and compares with the committed course/.

Usage::

    python tools/release.py [--solutions solutions] [--course course]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solutions", type=Path, default=REPO / "solutions")
    parser.add_argument("--course", type=Path, default=REPO / "course")
    parser.add_argument("--strip", nargs="*", type=Path, metavar="PATH",
                        help="normalise these notebooks (or every notebook under solutions/) in place"
                             " instead of releasing")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
