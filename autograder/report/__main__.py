"""``python -m autograder.report OUT``: rebuild OUT/report.html from a class run's results."""

from __future__ import annotations

import argparse
import sys

from .page import write_report


def main(argv: list[str] | None = None) -> int:
    """Write ``OUT/report.html`` from ``OUT/grades.csv`` and ``OUT/.grader/results/``; print its path."""
    parser = argparse.ArgumentParser(prog="python -m autograder.report", description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("out", help="the OUT folder of a class run (make grade SUBMISSIONS=... OUT=...)")
    args = parser.parse_args(argv)
    try:
        path = write_report(args.out)
    except FileNotFoundError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
