"""Put the grader's feedback pages where ``nbgrader release_feedback`` returns them to the learners.

After ``make grade SUBMISSIONS=~/course/submitted OUT=dir`` (nbgrader's ``collect`` made
``submitted/``), this copies ``dir/feedback/<learner>/<assignment>/*.html`` into the course's
``feedback/<learner>/<assignment>/``, with the two files nbgrader's exchange needs beside them
(``timestamp.txt`` and ``submission_secret.txt``, from the learner's submission: nbgrader files each
page under a hash of the secret, so only that learner's ``fetch_feedback`` finds it). Then, from the
course folder, ``nbgrader release_feedback <assignment>``. Run as the instructor; no root.

Only the grader's pages are copied: they never contain a hidden test. ``dir/autograded/`` (the
executed notebooks, hidden tests included) is never touched.

Usage::

    python tools/hub/return_feedback.py --out dir --course ~/course --assignment 01_naive_consumer
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

#: What nbgrader's exchange keeps beside a submission and needs beside its feedback.
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")


def return_feedback(out: Path, course: Path, assignment: str) -> list[Path]:
    """Copy each learner's feedback pages of ``assignment`` into ``course/feedback``; return the pages copied.

    Parameters
    ----------
    out : Path
        The OUT folder of ``make grade`` (its ``feedback/`` is read).
    course : Path
        The nbgrader course folder (its ``submitted/`` is read, its ``feedback/`` written).
    assignment : str
        The assignment whose feedback is returned.

    Returns
    -------
    list of Path
        The pages now in ``course/feedback/<learner>/<assignment>/``; a learner without a collected
        submission (nothing to return it against) is skipped with a message on stderr.
    """
    copied = []
    pages = Path(out) / "feedback"
    for learner_dir in sorted(p for p in pages.iterdir() if p.is_dir()) if pages.is_dir() else []:
        src = learner_dir / assignment
        submitted = Path(course) / "submitted" / learner_dir.name / assignment
        if not src.is_dir():
            continue
        if not all((submitted / name).is_file() for name in EXCHANGE_FILES):
            print(f"return_feedback: {learner_dir.name}: no submission collected through the exchange, "
                  "nothing to return against", file=sys.stderr)
            continue
        dest = Path(course) / "feedback" / learner_dir.name / assignment
        dest.mkdir(parents=True, exist_ok=True)
        for name in EXCHANGE_FILES:
            shutil.copyfile(submitted / name, dest / name)
        for page in sorted(src.glob("*.html")):
            shutil.copyfile(page, dest / page.name)
            copied.append(dest / page.name)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the OUT folder of make grade")
    parser.add_argument("--course", type=Path, default=Path(os.path.expanduser("~/course")),
                        help="the nbgrader course folder (default ~/course)")
    parser.add_argument("--assignment", required=True)
    args = parser.parse_args(argv)
    copied = return_feedback(args.out, args.course, args.assignment)
    for page in copied:
        print(f"return_feedback: {page}")
    print(f"return_feedback: {len(copied)} page(s); now, in {args.course}: nbgrader release_feedback {args.assignment}")
    return 0 if copied else 1


if __name__ == "__main__":
    sys.exit(main())
