"""The course's grader: nbgrader's machinery, a sandboxed kernel, class runs and feedback.

Entry point: ``autograder/grade.py`` (``make grade``). See ``autograder/README.md``.
"""

import os
import sys


def ensure_venv_on_path() -> None:
    """Put this interpreter's ``bin`` first on PATH.

    nbgrader shells out to ``alembic`` when it creates a gradebook; run as ``.venv/bin/python``
    without activating the venv, that command would not be found.
    """
    bindir = os.path.dirname(os.path.abspath(sys.executable))
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if not parts or parts[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir] + [p for p in parts if p != bindir])
