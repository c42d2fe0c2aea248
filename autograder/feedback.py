"""The feedback page a learner gets for one notebook: score per behaviour, explanations, timelines.

nbgrader's own feedback is the executed notebook as HTML, hidden tests and their tracebacks
included. This page is built from the grader's results instead and never contains a test cell's
source or a traceback: for each graded behaviour it shows its name, its one-line description
(from the released notebook), the points, and for a failure the error's message (for the course's
tests, the bench's explanation, since graded cells ``assert verdict.ok, verdict.explanation``)
and the lifecycle timeline of the failing run when the bench kept one.
"""

from __future__ import annotations

import html

from .results import fmt

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem}
.score{font-size:1.25rem;margin:.3rem 0 1rem} .status{display:inline-block;padding:.05rem .5rem;border-radius:.6rem;font-size:.85rem;background:#e8ecf3}
.status.ok{background:#dcf3e3} .status.bad{background:#fde2e1}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e3e6ec;vertical-align:top}
td.pts{white-space:nowrap;text-align:right} .pass{color:#17753a;font-weight:600} .fail{color:#b42318;font-weight:600} .void{color:#8a5a00;font-weight:600}
pre{background:#f6f8fa;padding:.75rem;border-radius:.4rem;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85rem}
.behaviour{border:1px solid #e3e6ec;border-radius:.5rem;padding:.25rem 1rem 1rem;margin:1rem 0}
code{font-size:.9em} .muted{color:#5b6473}
"""


_STATUS_HELP = {
    "ok": "The grader ran your notebook normally; the points say how it did.",
    "missing": "Nothing was found to grade.",
    "invalid_notebook": "The file could not be read as a notebook.",
    "kernel_died": "Your code stopped the kernel; the notebook was run again without that cell.",
    "timeout": "A cell ran too long and was interrupted.",
    "tampered": "The bench or a test's metadata was changed; see the notes below.",
    "limit_exceeded": "A cell hit a memory, process, time or output limit.",
    "error": "The grader itself failed on this notebook; your instructor will look at it.",
}


def _e(text) -> str:
    return html.escape(str(text), quote=True)


#: Words a grade_id spells in lower case that a title writes as the course does.
_ACRONYMS = {"dlq": "DLQ", "dlqs": "DLQs", "fifo": "FIFO", "sqs": "SQS", "id": "ID", "ids": "IDs",
             "aws": "AWS", "http": "HTTP", "sqlite": "SQLite", "dynamodb": "DynamoDB", "sigterm": "SIGTERM"}


def _title(grade_id: str) -> str:
    words = grade_id.replace("_", " ").split()
    words = [_ACRONYMS.get(w.lower(), w) for w in words]
    if words and words[0] == words[0].lower():
        words[0] = words[0].capitalize()
    return " ".join(words)


def render(learner: str, assignment, entry: dict, row: dict) -> str:
    """The whole HTML page for ``learner``'s notebook ``entry`` of ``assignment``."""
    full = float(entry.get("score", 0) or 0) >= float(entry.get("max_score", 0) or 0) > 0
    # Green only for full marks: "ok" says the notebook was graded normally, not that it passed.
    badge = "bad" if row["status"] != "ok" else ("ok" if full else "")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(assignment.name)}: feedback for {_e(learner)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(assignment.name)} <span class=\"muted\">/ {_e(entry['name'])}.ipynb</span></h1>",
        f"<p class=\"muted\">Feedback for <strong>{_e(learner)}</strong></p>",
        f"<p class=\"score\"><strong>{fmt(entry.get('score', 0))}</strong> of {fmt(entry['max_score'])} points "
        f"<span class=\"status {badge}\" title=\"{_e(_STATUS_HELP.get(row['status'], ''))}\">"
        f"grading status: {_e(row['status'])}</span></p>",
        f"<p>{_e(row['reason'])}</p>",
    ]
    cells = entry.get("cells", [])
    if entry["status"] in ("missing", "invalid_notebook"):
        parts.append("<p>Nothing could be run, so no behaviour was graded. "
                     + ("Submit the notebook again from Jupyter (File, Download) without editing it in another program."
                        if entry["status"] == "invalid_notebook" else
                        f"Submit <code>{_e(entry['name'])}.ipynb</code> in the folder <code>{_e(assignment.name)}</code>.")
                     + "</p>")
    if cells:
        parts.append("<h2>Behaviours</h2><table><thead><tr><th>Behaviour</th><th>Result</th>"
                     "<th class=\"pts\">Points</th></tr></thead><tbody>")
        for c in cells:
            if c.get("voided"):
                verdict = '<span class="void">not counted</span>'
            elif c.get("passed"):
                verdict = '<span class="pass">passed</span>'
            elif c.get("not_run"):
                verdict = '<span class="fail">not run</span>'
            else:
                verdict = '<span class="fail">failed</span>'
            desc = f"<br><span class=\"muted\">{_e(c['description'])}</span>" if c.get("description") else ""
            name = _e(_title(c["grade_id"]))
            # Only failures have a section below to jump to.
            name = name if c.get("passed") else f"<a href=\"#{_e(c['grade_id'])}\">{name}</a>"
            parts.append(f"<tr><td>{name}{desc}</td>"
                         f"<td>{verdict}</td><td class=\"pts\">{fmt(c['score'])} / {fmt(c['points'])}</td></tr>")
        parts.append("</tbody></table>")
        failing = [c for c in cells if not c.get("passed")]
        if failing:
            parts.append("<h2>What went wrong</h2>")
        for c in failing:
            parts.append(f"<div class=\"behaviour\" id=\"{_e(c['grade_id'])}\"><h3>{_e(_title(c['grade_id']))}</h3>")
            if c.get("description"):
                parts.append(f"<p>{_e(c['description'])}</p>")
            if c.get("voided"):
                parts.append(f"<p>This test passed or failed with the bench already changed by your notebook's code "
                             f"({_e(c['voided'])}), so it was not counted. Remove the code that patches or replaces "
                             f"the bench and submit again.</p>")
            elif c.get("not_run"):
                parts.append(f"<p>{_e(c['not_run'])}.</p>")
            err = c.get("error")
            if err and not c.get("voided"):
                ename, evalue = err.get("ename", ""), err.get("evalue", "")
                if ename == "AssertionError":
                    parts.append("<p>The check failed. Its explanation:</p>" if evalue else
                                 "<p>The check failed (it gave no explanation).</p>")
                    if evalue:
                        parts.append(f"<pre>{_e(evalue)}</pre>")
                elif ename in ("NotRun", "GraderSkipped"):
                    parts.append(f"<p>{_e(evalue)}</p>")
                elif ename == "CellTimeoutError":
                    parts.append("<p>The test did not finish in time and was interrupted: look for a loop "
                                 "that never ends in your code.</p>")
                else:
                    parts.append(f"<p>Your code raised <code>{_e(ename)}</code> while this test ran:</p>"
                                 f"<pre>{_e(ename)}: {_e(evalue)}</pre>")
            if c.get("timeline_html"):
                parts.append("<p>The failing run, message by message:</p>")
                # The bench renders this figure itself (an inline PNG with alt text and a text version).
                parts.append(c["timeline_html"])
            parts.append("</div>")
    notes = entry.get("notes", [])
    run = entry.get("run") or {}
    extra = []
    for n in notes:
        extra.append(_e(n["text"][0].upper() + n["text"][1:]) + ": the course's original was used for grading.")
    for f in entry.get("ignored_files", []):
        extra.append(f"<code>{_e(f)}</code> was in your folder and was not used (only the notebook is graded).")
    for inc in run.get("incidents", []):
        where = f"test {inc['grade_id']}" if inc.get("grade_id") else f"cell {inc['cell'] + 1}"
        extra.append(f"In {_e(where)}: {_e(inc['detail'])}.")
    if run.get("output_dropped"):
        extra.append(f"Your notebook printed more than the grader keeps; {run['output_dropped']} lines were dropped.")
    for what, cell in entry.get("limits", []):
        extra.append(f"Cell {cell + 1} ran into the {_e(what)} limit.")
    if run.get("canary_ok") is False:
        extra.append(f"The grader's check of the bench failed after your code ran: {_e(run.get('canary_reason', ''))}. "
                     "Do not patch, replace or re-import the bench (sqslab) in your notebook.")
    if extra:
        parts.append("<h2>Notes from the grader</h2><ul>" + "".join(f"<li>{x}</li>" for x in extra) + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
