"""A long-lived grading worker: nbgrader imported once, one private course folder and gradebook.

The orchestrator (``grade.py``) starts one worker per core. Each worker owns a private nbgrader
course folder in a short temporary path (unix-socket paths are limited to 108 bytes) with its own
copy of the course's gradebook, so no two processes ever write one SQLite file. For each job
(one learner x one assignment) it runs intake, then nbgrader's own ``Autograde`` converter in
process (sanitize: ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
CheckCellMetadata; autograde: :class:`~autograder.executor.SandboxedExecute` in place of
Execute, then LimitOutput, SaveAutoGrades, ...), reads the scores nbgrader saved in its gradebook,
decides the status and writes the feedback page. The result goes back to the orchestrator as a
plain dict, which merges it into the class gradebook.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback

STUDENT = "learner"  # the one student id inside a worker's private gradebook


def fast_imports() -> None:
    """Skip one dependency's import that costs seconds and that grading never uses.

    nbgrader imports jupyter_server, whose event schemas make jsonschema import
    ``rfc3987_syntax``, which builds a parser at import time: most of nbgrader's start-up. With
    the module marked absent, jsonschema simply does not check the "iri" string format.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def submission_digest(folder: str) -> str:
    """A hash of everything in a submission folder (names and bytes), for the re-run cache."""
    h = hashlib.sha256()
    if not os.path.isdir(folder):
        return "absent"
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            h.update(os.path.relpath(path, folder).encode("utf-8", "surrogateescape") + b"\0")
            try:
                with open(path, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
            except OSError:
                h.update(b"unreadable")
    return h.hexdigest()


class Worker:
    """One worker's private nbgrader course and the sandbox settings of its kernels."""

    def __init__(self, index: int, course, settings: dict):
        from . import ensure_venv_on_path, sandbox

        import warnings

        from sqlalchemy.exc import SAWarning

        fast_imports()
        ensure_venv_on_path()
        # nbgrader's gradebook walks relationships mid-flush; SQLAlchemy warns, harmlessly, per job.
        warnings.filterwarnings("ignore", category=SAWarning)
        self.index = index
        self.course = course
        self.settings = settings
        self.base = tempfile.mkdtemp(prefix=f"sqg{index}-", dir=settings.get("tmp_root"))
        os.chmod(self.base, 0o711)
        self.root = os.path.join(self.base, "c")
        self.runtime = os.path.join(self.base, "r")
        for d in (self.root, self.runtime):
            os.makedirs(d)
        sandbox.mark(self.runtime)
        sandbox.mark(self.root)
        os.symlink(course.source_dir, os.path.join(self.root, "source"))
        shutil.copyfile(course.db_path, os.path.join(self.root, "gradebook.db"))
        sandbox.write_kernelspec(os.path.join(self.base, "j"))
        os.environ["JUPYTER_PATH"] = os.path.join(self.base, "j")
        os.environ["JUPYTER_RUNTIME_DIR"] = self.runtime
        os.environ["SQSLAB_SANDBOX"] = settings["sandbox_mode"]
        os.environ["SQSLAB_SANDBOX_UID"] = str(sandbox.UID_BASE + index + 1)
        os.environ["SQSLAB_SANDBOX_LIMITS"] = sandbox.Limits(**settings.get("limits", {})).to_env()
        os.environ.pop("JPY_PARENT_PID", None)
        self._log = logging.getLogger(f"sqslab.grader.w{index}")
        self._jobs = 0

    def close(self) -> None:
        """Remove the worker's private folder."""
        shutil.rmtree(self.base, ignore_errors=True)

    # ---------------------------------------------------------------------------------------
    def grade(self, job: dict) -> dict:
        """Grade one learner's assignment; never raises (an internal failure is status ``error``)."""
        started = time.monotonic()
        try:
            result = self._grade(job)
        except BaseException as exc:  # the grader must keep going whatever one job does
            if isinstance(exc, KeyboardInterrupt):
                raise
            result = {"status": "error", "reason": f"The grader failed on this submission "
                                                   f"({type(exc).__name__}: {str(exc)[:200]}).",
                      "notebooks": [], "score": 0.0, "max_score": self.course.assignment(job["assignment"]).max_score,
                      "trace": traceback.format_exc()[-4000:]}
        result.update({"learner": job["learner"], "assignment": job["assignment"], "digest": job["digest"],
                       "seconds": round(time.monotonic() - started, 2), "worker": self.index})
        return result

    def _grade(self, job: dict) -> dict:
        from . import feedback, intake, results

        assignment = self.course.assignment(job["assignment"])
        folder = job["folder"]
        notebooks = []
        for info in assignment.notebooks:
            release_path = os.path.join(self.course.release_dir, assignment.name, info.name + ".ipynb")
            taken = intake.intake(folder, info, release_path)
            entry = {"name": info.name, "status": taken.status, "reason": taken.reason,
                     "found_as": taken.found_as, "notes": [vars(n) for n in taken.notes],
                     "ignored_files": taken.ignored_files, "max_score": info.max_score,
                     "score": 0.0, "cells": [], "run": None}
            if taken.notebook is not None:
                self._autograde(assignment.name, info, taken.notebook, entry, job)
            notebooks.append(entry)
        result = results.summarize(assignment, notebooks, sandboxed=self.settings["sandbox_mode"] != "none")
        result["notebooks"] = notebooks
        for entry in notebooks:
            path = os.path.join(job["out"], "feedback", job["learner"], assignment.name, entry["name"] + ".html")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(feedback.render(job["learner"], assignment, entry, result))
        return result

    def _autograde(self, assignment: str, info, nb, entry: dict, job: dict) -> None:
        import nbformat
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.converters import Autograde
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config

        from . import executor

        self._jobs += 1
        submitted = os.path.join(self.root, "submitted", STUDENT, assignment)
        autograded = os.path.join(self.root, "autograded", STUDENT, assignment)
        for d in (submitted, autograded):
            shutil.rmtree(d, ignore_errors=True)
        os.makedirs(submitted)
        with open(os.path.join(submitted, info.name + ".ipynb"), "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        db_url = f"sqlite:///{os.path.join(self.root, 'gradebook.db')}"
        with Gradebook(db_url) as gb:
            try:
                gb.remove_submission(assignment, STUDENT)
            except MissingEntry:
                pass

        s = self.settings
        c = Config()
        c.CourseDirectory.root = self.root
        c.CourseDirectory.db_url = db_url
        c.CourseDirectory.assignment_id = assignment
        c.CourseDirectory.student_id = STUDENT
        grading_config(c, timeout=s["timeout"], cell_timeout=s["cell_timeout"], canary=s["canary"],
                       runtime_root=self.runtime)
        coursedir = CourseDirectory(config=c)
        converter = Autograde(coursedir=coursedir, config=c)
        converter.log.setLevel(logging.CRITICAL)
        executor.LAST_RUN = None
        error = None
        try:
            converter.start()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            error = f"{type(exc).__name__}: {exc}"
        run = executor.LAST_RUN
        out_nb = os.path.join(autograded, info.name + ".ipynb")
        executed = None
        if os.path.exists(out_nb):
            with open(out_nb, encoding="utf-8") as f:
                executed = nbformat.read(f, as_version=4)
            keep = os.path.join(job["out"], "autograded", job["learner"], assignment)
            os.makedirs(keep, exist_ok=True)
            shutil.copyfile(out_nb, os.path.join(keep, info.name + ".ipynb"))
        entry["run"] = _run_dict(run)
        if run is not None and run.kernel_error:
            entry["run"]["kernel_log"] = run.kernel_log
        if error and executed is None:
            entry["status"] = "error"
            entry["reason"] = (run.kernel_error if run and run.kernel_error else
                               f"nbgrader could not grade the notebook ({error[:200]})")
            return
        scores = {}
        with Gradebook(db_url) as gb:
            try:
                nb_sub = gb.find_submission_notebook(info.name, assignment, STUDENT)
                for grade in nb_sub.grades:
                    scores[grade.name] = (grade.score, grade.max_score)
            except MissingEntry:
                pass
        from .results import limit_hits

        entry["limits"] = limit_hits(executed)
        entry["cells"] = _cell_results(info, executed, scores, run)
        entry["score"] = round(sum(c["score"] for c in entry["cells"]), 6)


def grading_config(c, *, timeout: int = 300, cell_timeout: int = 300, canary: str = "sqslab:canary",
                   runtime_root: str = "") -> None:
    """nbgrader settings for grading this course, on a traitlets Config ``c``.

    nbgrader's own Autograde converter and preprocessors, with :class:`SandboxedExecute` in place
    of Execute, the sandboxed kernelspec, and unix-socket transport (the only one that crosses the
    sandbox's network namespace). Used by the workers and by ``autograder/nbgrader_config.py``.
    """
    from nbgrader.preprocessors import (
        AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, LimitOutput,
        OverwriteCells, OverwriteKernelspec, SaveAutoGrades,
    )

    from . import executor, sandbox

    c.Autograde.force = True
    c.Autograde.permissions = 644
    c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec,
                                          OverwriteCells, CheckCellMetadata]
    c.Autograde.autograde_preprocessors = [executor.SandboxedExecute, LimitOutput, SaveAutoGrades,
                                           AssignLatePenalties, CheckCellMetadata]
    c.SandboxedExecute.kernel_name = sandbox.KERNEL_NAME
    c.SandboxedExecute.submission_timeout = int(timeout)
    c.SandboxedExecute.cell_timeout = int(cell_timeout)
    c.SandboxedExecute.canary = canary
    c.SandboxedExecute.iopub_timeout = 4
    c.SandboxedExecute.runtime_root = runtime_root
    c.KernelManager.transport = "ipc"


def _run_dict(run) -> dict | None:
    if run is None:
        return None
    return {"attempts": run.attempts, "incidents": [vars(i) for i in run.incidents],
            "canary_ok": run.canary_ok, "canary_reason": run.canary_reason, "voided": run.voided,
            "not_run": run.not_run, "output_dropped": run.output_dropped, "output_cell": run.output_cell,
            "kernel_error": run.kernel_error, "elapsed": run.elapsed}


def _errors(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _cell_results(info, executed, scores: dict, run) -> list[dict]:
    """Per graded cell: points, and for a failure what the learner may see (never the source)."""
    outputs = {}
    if executed is not None:
        for cell in executed.cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid:
                outputs[gid] = cell
    cells = []
    for test in info.tests():
        score, max_score = scores.get(test.grade_id, (0.0, test.points))
        cell = outputs.get(test.grade_id)
        errs = _errors(cell) if cell is not None else []
        item = {"grade_id": test.grade_id, "description": test.description, "points": float(max_score),
                "score": float(score or 0.0), "passed": bool(score) and float(score) >= float(max_score)}
        if errs:
            err = errs[-1]
            item["error"] = {"ename": err.get("ename", ""), "evalue": str(err.get("evalue", ""))[:4000]}
        elif cell is not None and not item["passed"]:
            stderr = [o for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr"]
            if stderr:
                item["error"] = {"ename": "stderr", "evalue": "this test wrote to stderr, which nbgrader counts as a failure"}
        if run is not None:
            probe = run.probes.get(test.grade_id, {})
            if probe.get("timeline_html"):
                item["timeline_html"] = probe["timeline_html"]
            if test.grade_id in run.voided:
                item["voided"] = run.voided[test.grade_id]
            if test.grade_id in run.not_run:
                item["not_run"] = run.not_run[test.grade_id]
        cells.append(item)
    return cells


def serve(index: int, course_data: dict, settings: dict, tasks, results) -> None:
    """Process entry point: take jobs from ``tasks`` until None, put result dicts on ``results``."""
    import signal

    from .course import _read_manifest

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator decides when to stop
    logging.basicConfig(level=logging.CRITICAL)
    course = _read_manifest(course_data["root"])
    worker = Worker(index, course, settings)
    try:
        results.put({"ready": index})
        while True:
            job = tasks.get()
            if job is None:
                break
            results.put(worker.grade(job))
    finally:
        worker.close()
