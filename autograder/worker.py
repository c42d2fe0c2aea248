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
    if os.path.islink(folder):
        return "link:" + hashlib.sha256(os.readlink(folder).encode("utf-8", "surrogateescape")).hexdigest()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for fn in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, fn)
            h.update(os.path.relpath(path, folder).encode("utf-8", "surrogateescape") + b"\0")
            if os.path.islink(path):
                # A link is never followed (intake refuses it): its target's name is what changed.
                h.update(b"link:" + os.readlink(path).encode("utf-8", "surrogateescape"))
                continue
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
        # A uid no other grader on this machine holds (the process limit counts per uid).
        self._uid_lock = None
        if settings["sandbox_mode"] == "bwrap-root":
            uid, self._uid_lock = sandbox.allocate_uid(settings.get("uid_lock_dir"))
        else:
            uid = os.getuid()
        os.environ["SQSLAB_SANDBOX_UID"] = str(uid)
        os.environ["SQSLAB_SANDBOX_LIMITS"] = sandbox.Limits(**settings.get("limits", {})).to_env()
        os.environ.pop("JPY_PARENT_PID", None)
        self._log = logging.getLogger(f"sqslab.grader.w{index}")
        self._jobs = 0

    def close(self) -> None:
        """Remove the worker's private folder and give its uid back."""
        shutil.rmtree(self.base, ignore_errors=True)
        if self._uid_lock is not None:
            self._uid_lock.close()

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
            taken = intake.intake(folder, info, release_path, root=os.path.dirname(os.path.abspath(folder)),
                                  max_bytes=self.settings.get("max_notebook_bytes"))
            entry = {"name": info.name, "status": taken.status, "reason": taken.reason,
                     "self_check": bool(self.settings.get("self_check")),
                     "found_as": taken.found_as, "notes": [vars(n) for n in taken.notes],
                     "ignored_files": taken.ignored_files, "max_score": info.max_score,
                     "score": 0.0, "cells": [], "run": None}
            if taken.notebook is not None:
                entry["stubs"] = unwritten_exercises(taken.notebook, release_path, os.path.join(
                    self.course.source_dir, assignment.name, info.name + ".ipynb"))
                self._autograde(assignment.name, info, taken.notebook, entry, job)
            notebooks.append(entry)
        result = results.summarize(assignment, notebooks, sandboxed=self.settings["sandbox_mode"] != "none")
        result["notebooks"] = notebooks
        for entry in notebooks:
            path = os.path.join(job["out"], "feedback", job["learner"], assignment.name, entry["name"] + ".html")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(feedback.render(job["learner"], assignment, entry, result,
                                        self_check=bool(self.settings.get("self_check"))))
            # The events were for the timeline drawn above: the result cache keeps no copy.
            for cell in entry.get("cells", []):
                if cell.get("failure"):
                    cell["failure"].pop("events", None)
            entry.pop("secrets", None)
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
                       runtime_root=self.runtime, release_root=self.course.release_dir,
                       clean_run=s.get("clean_run", True))
        c.SandboxedExecute.always_two_runs = bool(s.get("two_runs"))
        if s.get("clean_cache_dir"):
            c.SandboxedExecute.clean_cache_dir = s["clean_cache_dir"]
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
        if error and executed is None:
            entry["status"] = "error"
            kernel_error = entry["run"].get("kernel_error") if entry["run"] else None
            entry["reason"] = (f"The grader could not run the notebook: {kernel_error}." if kernel_error else
                               f"nbgrader could not grade the notebook ({error[:200]}).")
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
        source_path = os.path.join(self.course.source_dir, assignment, info.name + ".ipynb")
        release_path = os.path.join(self.course.release_dir, assignment, info.name + ".ipynb")
        hidden = hidden_tests(source_path, release_path)
        entry["secrets"] = hidden.get("*", [])
        entry["cells"] = _cell_results(info, executed, scores, run, hidden)
        entry["score"] = round(sum(c["score"] for c in entry["cells"]), 6)
        entry["review"] = learner_findings(nb, self.course.release_dir, assignment, info.name)


def grading_config(c, *, timeout: int = 300, cell_timeout: int = 60, canary: str = "sqslab:canary",
                   runtime_root: str = "", release_root: str = "", clean_run: bool = True) -> None:
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
    c.SandboxedExecute.release_root = release_root
    c.SandboxedExecute.clean_run = bool(clean_run)
    c.KernelManager.transport = "ipc"


def _run_dict(report) -> dict | None:
    """What the executor saw, as plain data (cached between runs, read by statuses and feedback)."""
    if report is None:
        return None
    runs = report.runs
    points = report.clean or report.full
    full = report.full or report.clean

    def unique(items):
        out = []
        for item in items:
            if item not in out:
                out.append(item)
        return out

    incidents, seen = [], set()
    for run in ([full] + [r for r in runs if r is not full]):
        for inc in run.incidents:
            key = (inc.kind, inc.grade_id or f"cell {inc.cell}" if run is full else inc.grade_id or "", inc.detail)
            if key in seen:
                continue
            seen.add(key)
            incidents.append(vars(inc))
    flags = []
    for run in runs:
        for f in run.flags:
            item = {"what": f.get("what", ""), "text": f.get("text", ""), "line": f.get("line"),
                    "run": run.role}
            if not any(x["what"] == item["what"] and x["text"] == item["text"] for x in flags):
                flags.append(item)
    canary_bad = [r for r in runs if r.canary_ok is False]
    kernel_errors = [r.kernel_error for r in runs if r.kernel_error]
    return {"same": report.same, "runs": [r.role for r in runs], "attempts": sum(r.attempts for r in runs),
            "incidents": incidents,
            "canary_ok": False if canary_bad else (True if any(r.canary_ok for r in runs) else None),
            "canary_reason": canary_bad[0].canary_reason if canary_bad else "",
            "voided": dict(points.voided), "not_run": dict(points.not_run),
            "tampering": unique([t for r in runs for t in r.tampering])[:12],
            "reviews": unique([t for r in runs for t in r.reviews])[:12], "flags": flags[:20],
            "output_dropped": sum(r.output_dropped for r in runs),
            "output_cell": next((r.output_cell for r in runs if r.output_cell is not None), None),
            "kernel_error": kernel_errors[0] if kernel_errors else None,
            "kernel_log": next((r.kernel_log for r in runs if r.kernel_log), "")[-1500:],
            "elapsed": report.elapsed,
            "seconds": {r.role: r.elapsed for r in runs}}


def hidden_tests(source_path: str, release_path: str | None = None) -> dict[str, list[str]]:
    """grade_id -> what of its hidden tests must never reach a learner's page.

    The hidden lines themselves, and every string literal of them (six characters or more) that
    the released notebook does not show anyway: a learner's code that got hold of a hidden test
    (through frames, which are flagged) could otherwise raise it back, piece by piece, as an
    error message. The key ``"*"`` holds the union, for text that belongs to no test in particular.
    """
    import ast
    import io
    import tokenize

    import nbformat

    out: dict[str, list[str]] = {}
    try:
        nb = nbformat.read(source_path, as_version=4)
    except (OSError, ValueError):
        return out
    shown = ""
    if release_path:
        try:
            with open(release_path, encoding="utf-8") as f:
                shown = f.read()
        except OSError:
            pass
    union: list[str] = []
    code_lines: list[str] = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        text = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if not gid or "BEGIN HIDDEN TESTS" not in text:
            continue
        lines, inside = [], False
        for line in text.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) >= 6:
                lines.append(line.strip())
        literals = []
        try:
            for tok in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
                if tok.type == tokenize.STRING:
                    try:
                        value = ast.literal_eval(tok.string)
                    except (ValueError, SyntaxError):
                        continue
                    if isinstance(value, str) and len(value) >= 6 and value not in shown:
                        literals.append(value)
        except (tokenize.TokenError, IndentationError, SyntaxError):
            pass
        # A line the released notebook shows (the visible part says it too) is no secret.
        lines = [line for line in lines if line not in shown]
        out[gid] = lines + [lit for lit in literals if lit not in lines]
        union += [x for x in out[gid] if x not in union]
        code_lines += [line for line in lines if line not in code_lines]
    if union:
        out["*"] = union
        out["*lines"] = code_lines
    return out


def redact(text: str, hidden: list[str], lines: list[str] | None = None) -> str:
    """``text`` without any line that quotes a hidden test's ``lines``, and with every other hidden
    text (a literal) replaced by ``[hidden]``."""
    if not hidden or not text:
        return text
    whole = [h for h in (lines or []) if len(h) >= 12]
    kept = []
    for line in text.splitlines():
        if any(h in line for h in whole):
            kept.append("[a line of a hidden test, not shown]")
            continue
        for h in hidden:
            if h in line:
                line = line.replace(h, "[hidden]")
        kept.append(line)
    return "\n".join(kept)


def redact_data(value, hidden: list[str], lines: list[str] | None = None):
    """Every string inside ``value`` (events of a run) redacted like :func:`redact`."""
    if not hidden:
        return value
    if isinstance(value, str):
        return redact(value, hidden, lines)
    if isinstance(value, list):
        return [redact_data(v, hidden, lines) for v in value]
    if isinstance(value, dict):
        return {k: redact_data(v, hidden, lines) for k, v in value.items()}
    return value


def learner_findings(nb, release_root: str, assignment: str, name: str) -> list[dict]:
    """The static scan of the learner's own cells: solution cells and cells not in the release."""
    import nbformat

    from . import scan

    release_sources = set()
    try:
        release = nbformat.read(os.path.join(release_root, assignment, name + ".ipynb"), as_version=4)
        release_sources = {c.source for c in release.cells if c.get("cell_type") == "code"}
    except (OSError, ValueError):
        pass
    out = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if meta.get("grade") and not meta.get("solution"):
            continue  # a test cell: the course's own (nbgrader restores it)
        if not meta.get("solution") and cell.source in release_sources:
            continue
        for f in scan.scan(cell.source):
            out.append({"cell": index, "grade_id": meta.get("grade_id"), "line": f.line, "text": f.text,
                        "what": f.what})
            if len(out) >= 20:
                return out
    return out


def unwritten_exercises(nb, release_path: str, source_path: str | None = None) -> list[str]:
    """Functions of solution cells the learner left as released (the stub raising NotImplementedError)."""
    import ast

    import nbformat

    stubs: dict[str, set] = {}
    for path in (release_path, source_path):
        try:
            book = nbformat.read(path, as_version=4) if path else None
        except (OSError, ValueError):
            book = None
        for cell in book.cells if book is not None else []:
            meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
            if meta.get("solution") and cell.get("cell_type") == "code" and "NotImplementedError" in cell.source:
                stubs.setdefault(meta.get("grade_id"), set()).add(cell.source.strip())
    names = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        gid = meta.get("grade_id")
        if gid in stubs and cell.source.strip() in stubs[gid]:
            try:
                tree = ast.parse(cell.source)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            names += [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return names


def _errors(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _cell_results(info, executed, scores: dict, report, hidden: dict | None = None) -> list[dict]:
    """Per graded cell: points, and for a failure what the learner may see (never a test's source)."""
    hidden = hidden or {}
    outputs = {}
    if executed is not None:
        for cell in executed.cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid:
                outputs[gid] = cell
    points = (report.clean or report.full) if report is not None else None
    full = (report.full or report.clean) if report is not None else None
    cells = []
    everything = hidden.get("*", [])
    code = hidden.get("*lines", [])
    for test in info.tests():
        gid = test.grade_id
        secret = everything
        score, max_score = scores.get(gid, (0.0, test.points))
        cell = outputs.get(gid)
        item = {"grade_id": gid, "description": test.description, "points": float(max_score),
                "score": float(score or 0.0), "passed": bool(score) and float(score) >= float(max_score),
                "hidden": bool(hidden.get(gid)), "all_hidden": bool(getattr(test, "all_hidden", False))}
        clean_rec = points.tests.get(gid) if points is not None else None
        full_rec = full.tests.get(gid) if full is not None else None
        if not item["passed"]:
            rec = full_rec if (full_rec and full_rec.get("outcome") == "fail") else clean_rec
            if clean_rec and clean_rec.get("outcome") == "fail" and full_rec and full_rec.get("outcome") == "pass" \
                    and points is not full:
                item["clean_only"] = True
                rec = clean_rec
            err = (rec or {}).get("error")
            if err is None:
                errs = _errors(cell) if cell is not None else []
                if errs:
                    err = {"ename": errs[-1].get("ename", ""), "evalue": str(errs[-1].get("evalue", ""))}
                elif cell is not None:
                    stderr = [o for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                              and o.get("name") == "stderr"]
                    if stderr:
                        err = {"ename": "stderr", "evalue": "this test wrote to stderr, which nbgrader counts "
                                                            "as a failure"}
            if err is not None:
                item["error"] = {"ename": str(err.get("ename", ""))[:100],
                                 "evalue": redact(str(err.get("evalue", ""))[:6000], secret, code)}
            failure = (rec or {}).get("failure")
            if failure:
                item["failure"] = {
                    "explanation": redact(str(failure.get("explanation", ""))[:6000], secret, code),
                    "problems": redact_data(failure.get("problems", [])[:12], secret, code),
                    "fired": redact_data(failure.get("fired", [])[:12], secret, code),
                    "expect": failure.get("expect", ""),
                    "events": redact_data(failure.get("events", [])[:3000], secret, code)}
        if points is not None:
            if gid in points.voided:
                item["voided"] = points.voided[gid]
            if gid in points.not_run:
                item["not_run"] = points.not_run[gid]
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
