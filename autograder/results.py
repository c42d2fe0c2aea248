"""Statuses, reasons, the class gradebook and grades.csv.

One row per learner and assignment: ``learner,assignment,score,max_score,status,reason``. The
status says what an instructor should look at; the reason is one plain sentence a person can act
on; neither contains a time, a path or anything else that changes between two runs on the same
input, so two runs give the same bytes.
"""

from __future__ import annotations

import csv
import io
import os

STATUSES = ("ok", "missing", "invalid_notebook", "kernel_died", "timeout", "tampered", "limit_exceeded", "review",
            "error")
# When several things went wrong, the row shows the one an instructor most needs to see.
_PRIORITY = ("error", "missing", "invalid_notebook", "tampered", "limit_exceeded", "kernel_died", "timeout", "review",
             "ok")
COLUMNS = ("learner", "assignment", "score", "max_score", "status", "reason")

#: Modules a file in a submission could shadow (the bench and what it stands on).
SHADOWED = ("sqslab", "moto", "boto3", "botocore", "IPython", "ipykernel", "nbgrader", "pytest")


def fmt(x: float) -> str:
    """A score as the CSV shows it: at most two decimals, no trailing zeros (``3``, ``2.5``)."""
    text = f"{round(float(x), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _sentence(parts: list[str]) -> str:
    text = "; ".join(p.rstrip(".") for p in parts if p)
    return (text[0].upper() + text[1:] + ".") if text else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def limit_hits(executed) -> list[tuple[str, int]]:
    """Limits a notebook ran into, read from its error outputs: (what, cell index)."""
    hits = []
    if executed is None:
        return hits
    for index, cell in enumerate(executed.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            ename, evalue = out.get("ename", ""), str(out.get("evalue", ""))
            if ename == "MemoryError":
                hits.append(("memory", index))
            elif ename in ("BlockingIOError", "OSError") and "Resource temporarily unavailable" in evalue:
                hits.append(("processes", index))
            elif "File too large" in evalue:
                hits.append(("file size", index))
    return hits


def _quote(text: str, limit: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def review_items(entry: dict) -> list[str]:
    """What the learner's code reached for, one phrase each (quoted lines), for ``review``."""
    run = entry.get("run") or {}
    items = []
    for f in run.get("flags", []):
        where = f"`{_quote(f['text'])}`" if f.get("text") else "a line of the notebook"
        items.append(f"{where} {f.get('what', 'reached into the bench or the kernel')}")
    for f in entry.get("review", []):
        cell = f"answer cell {f['grade_id']}" if f.get("grade_id") else f"cell {f['cell'] + 1}"
        items.append(f"`{_quote(f['text'])}` ({cell}, line {f['line']}) uses {f['what']}")
    for text in run.get("reviews", []):
        items.append(text)
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def notebook_status(entry: dict) -> tuple[str, str]:
    """The status and reason of one graded notebook (see :data:`STATUSES`)."""
    if entry["status"] in ("missing", "invalid_notebook", "error"):
        return entry["status"], entry["reason"]
    run = entry.get("run") or {}
    if run.get("kernel_error"):
        return "error", _sentence([f"The grader could not run the notebook: {run['kernel_error']}",
                                   "re-run it with --force; nothing was graded"])
    notes = entry.get("notes", [])
    tamper_notes = [n["text"] for n in notes if n.get("tampering")]
    repair_notes = [n["text"] for n in notes if not n.get("tampering")]
    shadow = [f for f in entry.get("ignored_files", [])
              if f.endswith(".py") and f[:-3] in SHADOWED or f in SHADOWED]
    tests = entry.get("cells", [])
    if entry.get("self_check"):
        # A learner's self-check cannot pass a test whose checks are all hidden: it is not counted.
        tests = [c for c in tests if not c.get("all_hidden")]
    passed = sum(1 for c in tests if c.get("passed"))
    graded = f"{passed} of {_plural(len(tests), 'behaviour')} passed"
    if entry.get("self_check"):
        graded = f"{passed} of the {_plural(len(tests), 'behaviour')} you can check passed"
    voided = run.get("voided", {})
    tampering = list(run.get("tampering", []))
    if run.get("canary_ok") is False and not tampering:
        tampering.append(run.get("canary_reason") or "the canary failed")
    if voided:
        return "tampered", _sentence([f"The notebook's code changed the bench or the kernel while tests ran "
                                      f"({_quote(next(iter(voided.values())), 160)}), so "
                                      f"{_plural(len(voided), 'test')} {'was' if len(voided) == 1 else 'were'} "
                                      "not counted", graded])
    if tampering:
        more = f" (and {len(tampering) - 1} more change{'s' if len(tampering) > 2 else ''})" if len(tampering) > 1 else ""
        return "tampered", _sentence([f"The notebook's code changed the bench or the grader: "
                                      f"{_quote(tampering[0], 220)}{more}", graded])
    if tamper_notes or shadow:
        parts = list(tamper_notes)
        if shadow:
            parts.append(f"it included {', '.join(shadow)}, which would shadow the course's own "
                         f"package and was ignored")
        return "tampered", _sentence([f"Graded with the course's own tests restored: {parts[0]}", *parts[1:],
                                      graded])
    incidents = run.get("incidents", [])
    limits = entry.get("limits", [])
    if run.get("output_dropped"):
        limits = limits + [("output", run.get("output_cell"))]
    for inc in incidents:
        if inc["kind"] == "limit_exceeded":
            limits = limits + [("CPU time", inc["cell"])]
    if limits:
        what, cell = limits[0]
        text = {"memory": "ran out of its memory limit", "processes": "hit its process limit (too many "
                "processes or threads)", "file size": "wrote a file larger than the limit",
                "output": "printed more output than the grader keeps; the rest was dropped",
                "CPU time": "used up its CPU-time limit and the kernel was stopped"}.get(what, what)
        return "limit_exceeded", _sentence([f"Cell {cell + 1 if cell is not None else '?'} {text}", graded])
    died = [i for i in incidents if i["kind"] == "kernel_died"]
    if died:
        first = died[0]
        where = f"test {first['grade_id']}" if first.get("grade_id") else f"cell {first['cell'] + 1}"
        return "kernel_died", _sentence([f"The kernel died in {where} ({first['detail']}); the notebook was "
                                         "run again without it", graded])
    timeouts = [i for i in incidents if i["kind"] == "timeout"]
    if timeouts:
        first = timeouts[0]
        where = f"test {first['grade_id']}" if first.get("grade_id") else f"cell {first['cell'] + 1}"
        detail = first["detail"].replace("budget: ", "")
        return "timeout", _sentence([f"{where[0].upper() + where[1:]} {detail}" if not detail.startswith("the ")
                                     else f"{detail[0].upper() + detail[1:]} (at {where})", graded])
    reviews = review_items(entry)
    if reviews:
        more = f" (and {len(reviews) - 1} more)" if len(reviews) > 1 else ""
        return "review", _sentence([f"Graded normally, but flagged for a look: {reviews[0]}{more}", graded])
    if repair_notes or entry.get("found_as"):
        return "ok", _sentence([f"Graded after repairs: {repair_notes[0]}" if repair_notes else "Graded",
                                *repair_notes[1:], graded])
    return "ok", _sentence([f"Graded: {graded}"])


def summarize(assignment, notebooks: list[dict], sandboxed: bool = True) -> dict:
    """Combine the notebooks of one assignment into one row's score, status and reason."""
    statuses = [notebook_status(nb) for nb in notebooks]
    max_score = assignment.max_score
    score = sum(nb.get("score", 0.0) for nb in notebooks)
    if all(s == "missing" for s, _ in statuses):
        return {"score": 0.0, "max_score": max_score, "status": "missing", "reason": statuses[0][1]}
    best = min(statuses, key=lambda s: _PRIORITY.index(s[0]))
    reason = best[1]
    if len(notebooks) > 1 and all(r.startswith("Graded: ") for _, r in statuses):
        # Every notebook of a split lesson graded plainly: one tally for the lesson, not the first's.
        tests = [c for nb in notebooks for c in nb.get("cells", [])
                 if not (nb.get("self_check") and c.get("all_hidden"))]
        passed = sum(1 for c in tests if c.get("passed"))
        mine = "you can check " if any(nb.get("self_check") for nb in notebooks) else ""
        reason = _sentence([f"Graded: {passed} of the {_plural(len(tests), 'behaviour')} {mine}of its "
                            f"{len(notebooks)} notebooks passed"])
    elif len(notebooks) > 1:
        name = notebooks[statuses.index(best)]["name"]
        reason = f"{name}.ipynb: {reason}"
    return {"score": round(score, 6), "max_score": max_score, "status": best[0], "reason": reason}


#: What a spreadsheet would run or read as a formula at the start of a field (OWASP's list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value) -> str:
    """A CSV field a spreadsheet shows as text: a leading formula character gets a ``'`` before it.

    Line breaks inside a field (a folder name can hold one) become spaces, so every row stays one line.
    """
    text = str(value)
    text = "'" + text if text.startswith(_FORMULA_START) else text
    return text.replace("\r", " ").replace("\n", " ")


def csv_text(rows: list[dict]) -> str:
    """grades.csv's bytes: sorted by learner then assignment, \\n line ends, fixed columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in sorted(rows, key=lambda r: (r["learner"], r["assignment"])):
        writer.writerow([cell_text(row["learner"]), cell_text(row["assignment"]), fmt(row["score"]),
                         fmt(row["max_score"]), row["status"], cell_text(" ".join(str(row["reason"]).split()))])
    return buf.getvalue()


class ClassGradebook:
    """The class's nbgrader gradebook (OUT/gradebook.db), written by one process only."""

    def __init__(self, path: str, course):
        import shutil

        from . import ensure_venv_on_path

        ensure_venv_on_path()
        self.path = path
        self.url = f"sqlite:///{path}"
        self.course = course
        stamp = path + ".course"
        current = open(stamp).read().strip() if os.path.exists(stamp) else None
        if current != course.source_key or not os.path.exists(path):
            # A new course build: start from its gradebook (assignments, cells) and re-merge.
            if os.path.exists(path):
                os.remove(path)
            shutil.copyfile(course.db_path, path)
            with open(stamp, "w") as f:
                f.write(course.source_key + "\n")
            self.fresh = True
        else:
            self.fresh = False

    def merge(self, result: dict) -> None:
        """Replace the learner's submission of the result's assignment with the result's grades."""
        import warnings

        from nbgrader.api import Gradebook, MissingEntry
        from sqlalchemy.exc import SAWarning

        # nbgrader's add_submission walks relationships mid-flush; SQLAlchemy warns, harmlessly.
        warnings.filterwarnings("ignore", category=SAWarning)
        learner, assignment = result["learner"], result["assignment"]
        # Removing and re-adding in one session trips SQLAlchemy's autoflush; two sessions do not.
        with Gradebook(self.url) as gb:
            gb.update_or_create_student(learner)
            try:
                gb.remove_submission(assignment, learner)
            except MissingEntry:
                pass
        if result["status"] == "missing":
            return
        with Gradebook(self.url) as gb:
            gb.add_submission(assignment, learner)
            for nb in result.get("notebooks", []):
                scores = {c["grade_id"]: c["score"] for c in nb.get("cells", [])}
                info = next(n for n in self.course.assignment(assignment).notebooks if n.name == nb["name"])
                for test in info.tests():
                    grade = gb.find_grade(test.grade_id, nb["name"], assignment, learner)
                    grade.auto_score = float(scores.get(test.grade_id, 0.0))
                    grade.needs_manual_grade = False
            gb.db.commit()

    def scores(self) -> dict[tuple[str, str], float]:
        """(learner, assignment) -> score, as nbgrader's gradebook computes it."""
        from nbgrader.api import Gradebook

        out = {}
        with Gradebook(self.url) as gb:
            for assignment in gb.assignments:
                for sub in assignment.submissions:
                    out[(sub.student.id, assignment.name)] = float(sub.score)
        return out
