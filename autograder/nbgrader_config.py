"""nbgrader configuration for grading this course with nbgrader's own command line.

``make grade`` (``autograder/grade.py``) is the way to grade: it adds intake repairs, parallel
workers, statuses and feedback pages. This file gives plain nbgrader the same grading machinery,
for an instructor who wants nbgrader's commands or its formgrader on one course folder:

    cd COURSE_FOLDER            # holds submitted/<learner>/<assignment>/..., gets autograded/, gradebook.db
    echo "load_subconfig('/path/to/repo/autograder/nbgrader_config.py')" > nbgrader_config.py
    nbgrader generate_assignment 01_naive_consumer
    nbgrader autograde 01_naive_consumer

What it sets: the source is the repository's ``solutions/``; nbgrader's Autograde runs with
``SandboxedExecute`` (time budget, re-runs around cells that kill or hang the kernel, output cap,
the bench's canary) on the sandboxed kernelspec over unix sockets; learner kernels run as one
unprivileged uid no other grader on the machine holds (root) or as the instructor (non-root).
``SQSLAB_GRADE_TIMEOUT`` (seconds per run of a notebook, default 300), ``SQSLAB_GRADE_CELL_TIMEOUT``
(seconds per cell, default 60), ``SQSLAB_SANDBOX`` (``auto``, ``bwrap``, ``none``) and ``SQSLAB_SOURCE``
(another source folder, e.g. private hidden tests outside the repository) adjust it. Points come
from a clean run of the release (``release/``, written by ``generate_assignment``) with only the
submission's solution cells, as with grade.py. Without grade.py's intake, a renamed notebook or a stripped test cell is
handled as nbgrader handles it.
"""

import atexit
import os
import shutil
import sys
import tempfile

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from autograder import ensure_venv_on_path, sandbox  # noqa: E402
from autograder.worker import fast_imports, grading_config  # noqa: E402

fast_imports()
ensure_venv_on_path()

c = get_config()  # noqa: F821 - injected by traitlets when nbgrader loads this file

_root = os.path.abspath(os.environ.get("SQSLAB_COURSE_ROOT", os.getcwd()))
c.CourseDirectory.root = _root
c.CourseDirectory.course_id = "sqs-reliability-course"
c.CourseDirectory.source_directory = os.path.abspath(os.environ.get("SQSLAB_SOURCE", os.path.join(_REPO, "solutions")))
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".sqslab-grading"]

_info = sandbox.detect(os.environ.get("SQSLAB_SANDBOX", "auto"))
if not _info.sandboxed:
    print(f"!! nbgrader_config: GRADING WITHOUT A SANDBOX ({_info.detail})", file=sys.stderr)
# The launcher only binds folders the grader marked: this course folder and a private runtime root.
sandbox.mark(_root)
_runtime = tempfile.mkdtemp(prefix="sqg-nbg-")
atexit.register(shutil.rmtree, _runtime, True)
sandbox.mark(_runtime)
sandbox.write_kernelspec(os.path.join(_runtime, "jupyter"))
os.environ["JUPYTER_PATH"] = os.path.join(_runtime, "jupyter") + os.pathsep + os.environ.get("JUPYTER_PATH", "")
os.environ["SQSLAB_SANDBOX"] = _info.mode
if _info.mode == "bwrap-root":
    # A uid no other grader holds, kept (with its lock) for as long as nbgrader runs.
    _uid, _uid_lock = sandbox.allocate_uid()
    os.environ["SQSLAB_SANDBOX_UID"] = str(_uid)
os.environ["SQSLAB_SANDBOX_LIMITS"] = sandbox.Limits().to_env()
os.environ.pop("JPY_PARENT_PID", None)

_timeout = int(os.environ.get("SQSLAB_GRADE_TIMEOUT", "300"))
_cell_timeout = int(os.environ.get("SQSLAB_GRADE_CELL_TIMEOUT", "60"))
# The clean run's notebook is the release nbgrader generate_assignment writes into this folder.
grading_config(c, timeout=_timeout, cell_timeout=min(_cell_timeout, _timeout), runtime_root=_runtime,
               release_root=os.path.join(_root, "release"))
