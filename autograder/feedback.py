"""The feedback page a learner gets for one notebook: score per behaviour, explanations, timelines.

nbgrader's own feedback is the executed notebook as HTML, hidden tests and their tracebacks
included. This page is built by the grader from data instead: the points per behaviour, the
bench's verdict as the kernel's hook recorded it (what was expected, what was seen, what the
bench injected, why), and the timeline of the failing run, drawn here, in the grader's process,
by the bench's own renderer from the run's events. Nothing the kernel sent is pasted in as HTML:
every text is escaped, and any line that quotes a hidden test is left out.
"""

from __future__ import annotations

import html
import re

from .behaviours import name as behaviour_name
from .behaviours import title as _title  # noqa: F401 - kept for callers of the old helper
from .results import fmt, review_items

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330;line-height:1.5}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem} h3{font-size:1.05rem;margin:.6rem 0 .3rem}
.score{font-size:1.25rem;margin:.3rem 0 1rem} .status{display:inline-block;padding:.05rem .5rem;border-radius:.6rem;font-size:.85rem;background:#e8ecf3}
.status.ok{background:#dcf3e3} .status.bad{background:#fde2e1} .status.look{background:#fff1c2}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e3e6ec;vertical-align:top}
td.pts{white-space:nowrap;text-align:right} .pass{color:#17753a;font-weight:600} .fail{color:#b42318;font-weight:600}
.void{color:#8a5a00;font-weight:600} .later{color:#4a5568;font-weight:600}
.behaviour{border:1px solid #e3e6ec;border-radius:.5rem;padding:.25rem 1rem 1rem;margin:1rem 0}
.notice{border-left:4px solid #c98a00;background:#fff8e6;padding:.6rem 1rem;margin:1rem 0}
dl.verdict{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.5rem 0}
dl.verdict dt{font-weight:600;color:#3b4456} dl.verdict dd{margin:0;overflow-wrap:break-word}
.story{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.82rem;background:#f6f8fa;
 padding:.5rem .75rem;border-radius:.4rem;overflow-x:auto;white-space:pre;margin:.4rem 0}
code{font-size:.9em;overflow-wrap:break-word} .muted{color:#5b6473}
"""

_STATUS_HELP = {
    "ok": "The grader ran your notebook normally; the points say how it did.",
    "missing": "Nothing was found to grade.",
    "invalid_notebook": "The file could not be read as a notebook, or was refused (a link, too large).",
    "kernel_died": "Your code stopped the kernel; the notebook was run again without that cell.",
    "timeout": "A cell ran too long and was interrupted.",
    "tampered": "The bench, the grader or a test's metadata was changed; see the notes below.",
    "limit_exceeded": "A cell hit a memory, process, time or output limit.",
    "review": "Graded normally; your instructor will look at something your code does (see the notes).",
    "error": "The grader itself failed on this notebook; your instructor will look at it.",
}


def _e(text) -> str:
    return html.escape(str(text), quote=True)


_LABELS = (("FAILED: expected ", "Expected"), ("Seen: ", "Seen"), ("Also: ", "Also"), ("Injected: ", "The bench injected"),
           ("Why: ", "Why"))
_RAISED = re.compile(r"^Raised by your code(?: \([^)]*\))?: (.*)$")


_INJECTED = re.compile(r"\(injected\b[^()]*\)")


def parse_explanation(text: str) -> dict:
    """The bench's explanation, in parts: note, expected, seen (list), raised, injected_raised, injected, why, story.

    Anything the parser does not know stays in ``other`` (shown as plain paragraphs).
    """
    parts: dict = {"note": "", "expected": "", "seen": [], "raised": [], "unhandled": [], "injected": "",
                   "why": "", "story_title": "", "story": [], "other": []}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        m = _RAISED.match(stripped)
        if m:
            for item in _split_items(m.group(1).rstrip(".")):
                # The bench's own injected error that the code let through is not the learner's error.
                # The bench marks its errors' messages "(injected ...)"; a learner's message that
                # merely says "injected" somewhere (a dump of the bench's text) stays the learner's.
                (parts["unhandled"] if _INJECTED.search(item) else parts["raised"]).append(item)
            i += 1
            continue
        if stripped.startswith("What happened to ") and stripped.endswith(":"):
            parts["story_title"] = stripped[:-1]
            i += 1
            while i < len(lines) and (lines[i].startswith("  ") or not lines[i].strip()):
                if lines[i].strip():
                    parts["story"].append(lines[i].strip())
                i += 1
            continue
        for prefix, label in _LABELS:
            if stripped.startswith(prefix):
                value = stripped[len(prefix):]
                if label == "Expected":
                    parts["expected"] = value.rstrip(".")
                elif label in ("Seen", "Also"):
                    parts["seen"].append(value.rstrip("."))
                elif label == "The bench injected":
                    parts["injected"] = value.rstrip(".")
                else:
                    parts["why"] = value
                break
        else:
            if not parts["expected"] and not parts["note"] and stripped.endswith(":") and i == 0:
                parts["note"] = stripped.rstrip(":")
            elif stripped.startswith("(and ") and parts["seen"]:
                parts["seen"].append(stripped.strip("()"))
            else:
                parts["other"].append(stripped)
        i += 1
    return parts


def _split_items(text: str) -> list[str]:
    # "A at line 3 of f() (2 times); B (1 time)": split on "; " outside parentheses.
    items, depth, current = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        if ch == ";" and depth == 0:
            items.append(current.strip())
            current = ""
            continue
        current += ch
    if current.strip():
        items.append(current.strip())
    return items


def _verdict_html(text: str) -> str:
    p = parse_explanation(text)
    if not (p["expected"] or p["seen"] or p["why"] or p["injected"] or p["raised"]):
        paras = [line for line in text.splitlines() if line.strip()]
        return "".join(f"<p>{_e(line)}</p>" for line in paras[:12]) or "<p>The check failed.</p>"
    rows = []
    if p["note"]:
        rows.append(("Which run", p["note"]))
    if p["expected"]:
        rows.append(("Expected", p["expected"]))
    for n, seen in enumerate(p["seen"]):
        rows.append(("Seen" if n == 0 else "", seen))
    for item in p["raised"]:
        rows.append(("Your code raised", item))
    for item in p["unhandled"]:
        rows.append(("Not handled", f"the bench's injected error reached your code and was not caught: {item}"))
    if p["injected"]:
        rows.append(("The bench injected", p["injected"]))
    if p["why"]:
        rows.append(("Why", p["why"]))
    out = ['<dl class="verdict">']
    for label, value in rows:
        out.append(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>")
    out.append("</dl>")
    for line in p["other"][:6]:
        out.append(f"<p>{_e(line)}</p>")
    if p["story"]:
        out.append(f"<details><summary>{_e(p['story_title'] or 'What happened, in order')}</summary>"
                   f"<div class=\"story\">{_e(chr(10).join(p['story'][:40]))}</div></details>")
    return "".join(out)


def timeline_html(events: list[dict], title: str) -> str:
    """The bench's timeline of a failing run, drawn here from the run's events ("" if it cannot be)."""
    if not events:
        return ""
    try:
        from sqslab.history import Event
        from sqslab.views.timeline import to_html
    except Exception:
        return ""
    fields = ("seq", "time", "actor", "kind", "message_id", "key", "detail")
    rebuilt = []
    try:
        for e in events[:3000]:
            if not isinstance(e, dict):
                continue
            data = {k: e.get(k) for k in fields}
            data["seq"] = int(data.get("seq") or 0)
            data["time"] = float(data.get("time") or 0.0)
            for k in ("actor", "kind"):
                data[k] = str(data.get(k) or "")[:60]
            for k in ("message_id", "key"):
                data[k] = str(data[k])[:120] if data.get(k) is not None else None
            data["detail"] = data["detail"] if isinstance(data.get("detail"), dict) else {}
            rebuilt.append(Event(**data))
        return to_html(rebuilt, title=title)
    except Exception:
        return ""


def not_written(cells: list[dict]) -> list[dict]:
    """The failing behaviours whose exercise still raises NotImplementedError (not written yet)."""
    out = []
    for c in cells:
        if c.get("passed") or c.get("voided"):
            continue
        err = c.get("error") or {}
        text = str(err.get("evalue", "")) + "\n" + str((c.get("failure") or {}).get("explanation", ""))
        if err.get("ename") == "NotImplementedError" or "NotImplementedError" in text:
            out.append(c)
    return out


def _score_line(entry: dict, self_check: bool) -> str:
    cells = entry.get("cells", [])
    later = [c for c in cells if c.get("all_hidden")] if self_check else []
    if not later:
        return f"<strong>{fmt(entry.get('score', 0))}</strong> of {fmt(entry['max_score'])} points"
    seen = [c for c in cells if not c.get("all_hidden")]
    return (f"<strong>{fmt(sum(c.get('score', 0) for c in seen))}</strong> of "
            f"{fmt(sum(c.get('points', 0) for c in seen))} points you can check "
            f"<span class=\"muted\">({fmt(sum(c.get('points', 0) for c in later))} more checked when graded)</span>")


def render(learner: str, assignment, entry: dict, row: dict, *, self_check: bool = False) -> str:
    """The whole HTML page for ``learner``'s notebook ``entry`` of ``assignment``."""
    full = float(entry.get("score", 0) or 0) >= float(entry.get("max_score", 0) or 0) > 0
    if self_check:
        seen = [c for c in entry.get("cells", []) if not c.get("all_hidden")]
        full = bool(seen) and all(c.get("passed") for c in seen)
    # Green only for full marks: "ok" says the notebook was graded normally, not that it passed.
    badge = ("look" if row["status"] == "review" else "bad") if row["status"] != "ok" else ("ok" if full else "")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(assignment.name)}: feedback for {_e(learner)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(assignment.name)} <span class=\"muted\">/ {_e(entry['name'])}.ipynb</span></h1>",
        f"<p class=\"muted\">Feedback for <strong>{_e(learner)}</strong></p>",
        f"<p class=\"score\">{_score_line(entry, self_check)} "
        f"<span class=\"status {badge}\" title=\"{_e(_STATUS_HELP.get(row['status'], ''))}\">"
        f"grading status: {_e(row['status'])}</span></p>",
        f"<p>{_e(row['reason'])}</p>",
    ]
    if self_check:
        parts.append("<p class=\"muted\">Self-check: only the tests you can see in your notebook ran. The grader "
                     "also runs hidden tests, so a behaviour passed here can still fail when graded.</p>")
    cells = entry.get("cells", [])
    if entry["status"] in ("missing", "invalid_notebook"):
        parts.append("<p>Nothing could be run, so no behaviour was graded. "
                     + ("Submit the notebook again from Jupyter (File, Download) without editing it in another program."
                        if entry["status"] == "invalid_notebook" else
                        f"Submit <code>{_e(entry['name'])}.ipynb</code> in the folder <code>{_e(assignment.name)}</code>.")
                     + "</p>")
    todo = {c["grade_id"] for c in not_written(cells)}
    if todo:
        names = ", ".join(behaviour_name(g) for g in [c["grade_id"] for c in cells if c["grade_id"] in todo])
        stubs = entry.get("stubs") or []
        which = (" (" + ", ".join(f"<code>{_e(s)}</code>" for s in stubs) + ")") if stubs else ""
        parts.append(f"<div class=\"notice\"><strong>Not written yet.</strong> Your answer still raises "
                     f"<code>NotImplementedError</code>{which}, so {len(todo)} "
                     f"behaviour{'s' if len(todo) != 1 else ''} could not pass: {_e(names)}. "
                     "Write the exercise, then check again.</div>")
    if cells:
        parts.append("<h2>Behaviours</h2><table><thead><tr><th>Behaviour</th><th>Result</th>"
                     "<th class=\"pts\">Points</th></tr></thead><tbody>")
        for c in cells:
            checked_later = self_check and c.get("all_hidden")
            if c.get("voided"):
                verdict = '<span class="void">not counted</span>'
            elif checked_later:
                verdict = '<span class="later">checked when graded</span>'
            elif c.get("passed"):
                verdict = '<span class="pass">passed</span>'
            elif c["grade_id"] in todo:
                verdict = '<span class="fail">not written yet</span>'
            elif c.get("not_run"):
                verdict = '<span class="fail">not run</span>'
            else:
                verdict = '<span class="fail">failed</span>'
            desc = f"<br><span class=\"muted\">{_e(c['description'])}</span>" if c.get("description") else ""
            title = _e(behaviour_name(c["grade_id"]))
            # Only failures explained below have a section to jump to.
            explained = not c.get("passed") and c["grade_id"] not in todo and not checked_later
            title = f"<a href=\"#{_e(c['grade_id'])}\">{title}</a>" if explained else title
            points = "–" if checked_later else f"{fmt(c['score'])} / {fmt(c['points'])}"
            parts.append(f"<tr><td>{title}{desc}</td><td>{verdict}</td><td class=\"pts\">{points}</td></tr>")
        parts.append("</tbody></table>")
        failing = [c for c in cells if not c.get("passed") and c["grade_id"] not in todo
                   and not (self_check and c.get("all_hidden"))]
        if failing:
            parts.append("<h2>What went wrong</h2>")
        for c in failing:
            parts.append(_behaviour_section(c))
    parts.extend(_notes(entry, row))
    parts.append("</main></body></html>\n")
    page = "\n".join(parts)
    # Last line of defence: whatever the kernel sent, no hidden test's text is on the page.
    for secret in entry.get("secrets") or []:
        for form in {secret, _e(secret), html.escape(secret, quote=False)}:
            if form and form in page:
                page = page.replace(form, "[hidden]")
    return page


def _behaviour_section(c: dict) -> str:
    out = [f"<section class=\"behaviour\" id=\"{_e(c['grade_id'])}\"><h3>{_e(behaviour_name(c['grade_id']))}</h3>"]
    if c.get("description"):
        out.append(f"<p class=\"muted\">{_e(c['description'])}</p>")
    if c.get("voided"):
        out.append(f"<p>This test ran while the bench was being changed by your notebook's code "
                   f"({_e(c['voided'])}), so it was not counted. Remove the code that patches or replaces "
                   f"the bench and submit again.</p></section>")
        return "".join(out)
    if c.get("not_run"):
        out.append(f"<p>{_e(c['not_run'])}.</p>")
    if c.get("clean_only"):
        out.append("<p>This passed in your notebook, but not in the grader's clean run, which runs only your "
                   "answer cells with the lesson's own cells (that is where the points come from). Everything your "
                   "answer needs (imports, helpers) must be inside the answer cells.</p>")
    err = c.get("error")
    failure = c.get("failure") or {}
    if err:
        ename, evalue = err.get("ename", ""), err.get("evalue", "")
        if ename == "AssertionError":
            text = failure.get("explanation") or evalue
            out.append(_verdict_html(text) if text else "<p>The check failed (it gave no explanation).</p>")
        elif ename in ("NotRun", "GraderSkipped", "NoResult"):
            if not c.get("not_run"):
                out.append(f"<p>{_e(evalue)}</p>")
        elif ename in ("CellTimeoutError", "KeyboardInterrupt"):
            out.append("<p>The test did not finish in time and was interrupted: look for a loop that never ends "
                       "in your code, or a wait that never returns.</p>")
        elif ename == "stderr":
            out.append(f"<p>{_e(evalue)}.</p>")
        else:
            out.append(f"<p>Your code raised an error while this test ran:</p>"
                       f"<dl class=\"verdict\"><dt>Error</dt><dd><code>{_e(ename)}</code>: {_e(evalue)}</dd></dl>")
    if not c.get("voided"):
        # Drawn here from the run's events; ``timeline_html`` is for a caller (never the kernel) that
        # drew the figure itself with the bench's renderer.
        figure = (timeline_html(failure["events"], f"{behaviour_name(c['grade_id'])}: the failing run")
                  if failure.get("events") else c.get("timeline_html", ""))
        if figure:
            out.append("<p>The failing run, message by message:</p>")
            out.append(figure)
    if c.get("hidden"):
        out.append("<p class=\"muted\">Part of this check is hidden: it is not in your notebook, and runs when "
                   "your notebook is graded.</p>")
    out.append("</section>")
    return "".join(out)


def _notes(entry: dict, row: dict) -> list[str]:
    notes = entry.get("notes", [])
    run = entry.get("run") or {}
    extra = []
    for n in notes:
        extra.append(_e(n["text"][0].upper() + n["text"][1:]) + ": the course's original was used for grading.")
    for f in entry.get("ignored_files", []):
        extra.append(f"<code>{_e(f)}</code> was in your folder and was not used (only the notebook is graded).")
    for inc in run.get("incidents", []):
        where = f"test {behaviour_name(inc['grade_id'])}" if inc.get("grade_id") else f"cell {inc['cell'] + 1}"
        clean = " (in the grader's clean run of your answer cells)" if inc.get("run") == "clean" else ""
        extra.append(f"In {_e(where)}{clean}: {_e(inc['detail'])}.")
    if run.get("output_dropped"):
        extra.append(f"Your notebook printed more than the grader keeps; {run['output_dropped']} lines were dropped.")
    for what, cell in entry.get("limits", []):
        extra.append(f"Cell {cell + 1} ran into the {_e(what)} limit.")
    for text in run.get("tampering", [])[:6]:
        extra.append(f"The grader saw the bench or the grader changed: {_e(text)}. Do not patch, replace or "
                     "re-import the bench (sqslab) or the grader's machinery in your notebook.")
    if run.get("canary_ok") is False and not run.get("tampering"):
        extra.append(f"The grader's check of the bench failed after your code ran: {_e(run.get('canary_reason', ''))}. "
                     "Do not patch, replace or re-import the bench (sqslab) in your notebook.")
    items = review_items(entry)
    for item in items[:8]:
        extra.append(f"Flagged for your instructor to look at (your score is not changed): {_e(item)}.")
    if extra:
        return ["<h2>Notes from the grader</h2><ul>" + "".join(f"<li>{x}</li>" for x in extra) + "</ul>"]
    return []
