"""Copy the course into the learner's work folder without ever overwriting the learner's files.

``make lab`` runs this before it opens JupyterLab. course/ is generated and stays pristine; the learner
edits work/ (git-ignored). A file already in work/ is never touched, whatever its content, so updating
the course (``git pull``) cannot destroy anyone's work; what is missing from work/ (a newly released
assignment, or a notebook the learner deleted to start an assignment over) is copied in.

Usage::

    python tools/workcopy.py [--course course] [--work work]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SKIP = {".ipynb_checkpoints", "__pycache__"}


def copy_missing(course: Path, work: Path) -> list[Path]:
    """Copy every file of ``course`` that ``work`` lacks; return the paths copied (inside ``work``)."""
    course, work = Path(course), Path(work)
    if not course.is_dir():
        raise FileNotFoundError(f"{course} does not exist: run `make release` first")
    copied = []
    for src in sorted(course.rglob("*")):
        rel = src.relative_to(course)
        if not src.is_file() or SKIP.intersection(rel.parts) or rel.name.startswith("."):
            continue
        dest = work / rel
        if dest.exists() or dest.is_symlink():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        copied.append(dest)
    return copied


def trust(paths: list[Path]) -> list[Path]:
    """Sign the notebooks among ``paths`` as ``jupyter trust`` does; return those signed.

    A notebook the learner made on this machine is theirs to trust; unsigned, the server logs
    "Notebook ... is not trusted" each time one is opened. The signature goes into the learner's own
    Jupyter data folder (the server checks it there), never into the file.
    """
    import nbformat
    from nbformat.sign import NotebookNotary

    notary = NotebookNotary()
    signed = []
    for path in paths:
        if path.suffix != ".ipynb":
            continue
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # not a notebook after all: nothing to trust, and nothing to stop for
            continue
        notary.sign(nb)
        signed.append(path)
    return signed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=REPO / "course")
    parser.add_argument("--work", type=Path, default=REPO / "work")
    args = parser.parse_args(argv)
    try:
        copied = copy_missing(args.course, args.work)
    except FileNotFoundError as exc:
        print(f"workcopy: {exc}", file=sys.stderr)
        return 1
    trust(copied)
    for path in copied:
        print(f"workcopy: new in your work folder: {path}")
    if not copied:
        print(f"workcopy: {args.work} is up to date (your files are never overwritten)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
