"""Build ``OUT/report.html``: the class at a glance, lesson by lesson.

Everything on the page is computed from ``OUT/grades.csv`` (one row per learner and assignment) and
``OUT/.grader/results/<learner>/<assignment>.json`` (the grader's per-behaviour results). Learner
names are folder names a learner chose: every one is escaped, in text and in links. The pictures are
PNG data URIs with alt text that says what they show, so the page is one file an instructor can mail.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import statistics
from dataclasses import dataclass, field
from urllib.parse import quote

from ..behaviours import describe

#: Statuses that are not a learner's result: left out of the score distribution.
NOT_GRADED = ("missing", "error")
#: What each status asks of the instructor, shortest first (the feedback page explains them to learners).
STATUS_HELP = {
    "review": "graded normally, but the notebook reaches into the bench's or IPython's internals: read it",
    "error": "the grader failed on this submission: re-run with --force, report it if it stays",
    "tampered": "the bench or a test's metadata was changed; talk to the learner before deciding",
    "limit_exceeded": "a cell hit a memory, process, time or output limit",
    "kernel_died": "a cell killed the kernel; the notebook was re-run without it",
    "timeout": "a cell ran past its time",
    "invalid_notebook": "the file is not a readable notebook: ask for it again",
    "missing": "nothing was submitted",
}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#1d2330;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.3rem;margin-top:2.5rem;border-top:1px solid #e3e6ec;padding-top:1rem} h3{font-size:1.05rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0} th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6ec;vertical-align:top;overflow-wrap:anywhere}
td.num,th.num{text-align:right;white-space:nowrap} th{white-space:nowrap} td.who{min-width:8rem} code{font-size:.88em} .muted{color:#5b6473}
figure{margin:1rem 0} figure img{max-width:100%;height:auto;display:block} figcaption{font-size:.9rem;color:#5b6473}
.status{display:inline-block;padding:.05rem .5rem;border-radius:.6rem;font-size:.85rem;background:#fde2e1;white-space:nowrap}
.status.review{background:#fff1c2} .status.missing{background:#e8ecf3}
"""


@dataclass
class Row:
    """One line of grades.csv, with the grader's per-notebook results when it kept them."""

    learner: str
    assignment: str
    score: float
    max_score: float
    status: str
    reason: str
    notebooks: list[dict] = field(default_factory=list)


@dataclass
class Behaviour:
    """How a class did on one graded behaviour of one lesson."""

    grade_id: str
    order: int
    passed: int = 0
    failed: int = 0
    unwritten: int = 0

    @property
    def answered(self) -> int:
        return self.passed + self.failed


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _fmt(x: float) -> str:
    text = f"{round(float(x), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def load(out: str) -> list[Row]:
    """The rows of ``out/grades.csv``, each with its result file's notebooks (if the grader kept one)."""
    path = os.path.join(out, "grades.csv")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no grades.csv in {out}: grade the class first (make grade SUBMISSIONS=... OUT=...)")
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            row = Row(r["learner"], r["assignment"], float(r["score"] or 0), float(r["max_score"] or 0),
                      r["status"], r["reason"])
            result = os.path.join(out, ".grader", "results", row.learner, row.assignment + ".json")
            # A learner's folder name is only a name here: never let it lead outside the results folder.
            inside = os.path.realpath(result).startswith(os.path.realpath(os.path.join(out, ".grader", "results")) + os.sep)
            if inside and os.path.isfile(result):
                with open(result, encoding="utf-8") as rf:
                    row.notebooks = json.load(rf).get("notebooks") or []
            rows.append(row)
    return rows


def unwritten(cell: dict) -> bool:
    """True when a behaviour failed only because the exercise still raises the stub's NotImplementedError."""
    err = cell.get("error") or {}
    return err.get("ename") == "NotImplementedError" or "NotImplementedError" in str(err.get("evalue", ""))


def behaviours(rows: list[Row]) -> list[Behaviour]:
    """Per graded behaviour of one lesson: how many passed, failed with an answer, or were not written.

    A failure counts as "not written" when the stub's NotImplementedError caused it, and every
    failure of a notebook that passed nothing and still raises the stub somewhere counts so too (some
    tests catch the stub's error and fail on what it left undone: an untouched copy reveals no
    misconception).
    """
    found: dict[str, Behaviour] = {}
    for row in rows:
        if row.status in NOT_GRADED:
            continue
        for nb_index, nb in enumerate(row.notebooks):
            cells = nb.get("cells", [])
            untouched = not any(c.get("passed") for c in cells) and any(unwritten(c) for c in cells)
            for index, cell in enumerate(cells):
                b = found.setdefault(cell["grade_id"], Behaviour(cell["grade_id"], nb_index * 1000 + index))
                if cell.get("voided"):
                    continue  # not counted for the learner either (the bench was changed)
                if cell.get("passed"):
                    b.passed += 1
                elif untouched or unwritten(cell):
                    b.unwritten += 1
                else:
                    b.failed += 1
    return sorted(found.values(), key=lambda b: b.order)


# --- pictures ---------------------------------------------------------------------------------

def _png(fig) -> str:
    buf = io.BytesIO()
    # No "Software" stamp: the same results give the same bytes.
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    fig.patch.set_facecolor("white")
    return fig


def score_histogram(assignment: str, scores: list[float], max_score: float) -> tuple[str, str]:
    """A bar per point (0 to the maximum): how many learners scored it. Returns (data URI, alt text)."""
    top = int(max_score) if max_score == int(max_score) else int(max_score) + 1
    counts = [0] * (top + 1)
    for s in scores:
        counts[min(top, max(0, int(s)))] += 1
    fig = _figure(8.6, 2.9)
    ax = fig.subplots()
    ax.bar(range(top + 1), counts, width=0.8, color="#2f5f98", label="learners with this score")
    for x, n in enumerate(counts):
        if n:
            ax.annotate(str(n), (x, n), ha="center", va="bottom", fontsize=11, xytext=(0, 2), textcoords="offset points")
    ax.set_xlim(-0.6, top + 0.6)
    ax.set_xticks(range(top + 1) if top <= 30 else range(0, top + 1, 5))
    ax.set_ylim(0, max(counts + [1]) * 1.2)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(f"score (points, of {_fmt(max_score)}; a fractional score is counted in the point below)", fontsize=11)
    ax.set_ylabel("learners", fontsize=11)
    ax.tick_params(labelsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.suptitle(f"{assignment}: scores of {_plural(len(scores), 'graded learner')}", fontsize=12, x=0.01, ha="left")
    parts = [f"{n} at {x} point{'s' if x != 1 else ''}" for x, n in reversed(list(enumerate(counts))) if n]
    alt = (f"Bar chart of the scores in {assignment}, out of {_fmt(max_score)} points, for "
           f"{_plural(len(scores), 'graded learner')}: " + (", ".join(parts) if parts else "none") + ".")
    return _png(fig), alt


def failure_chart(assignment: str, items: list[Behaviour]) -> tuple[str, str]:
    """Horizontal bars: per behaviour, learners who failed it with an answer and who left it unwritten."""
    items = list(reversed(items))  # matplotlib draws the first bar at the bottom
    names = [describe(b.grade_id)[0] for b in items]
    fig = _figure(8.6, 1.1 + 0.42 * len(items))
    ax = fig.subplots()
    y = range(len(items))
    ax.barh(y, [b.failed for b in items], color="#b4432f", label="failed, with an answer written")
    ax.barh(y, [b.unwritten for b in items], left=[b.failed for b in items], color="#d5d9e0", hatch="//",
            edgecolor="#8a929e", linewidth=0, label="not written yet (the exercise's stub)")
    for i, b in enumerate(items):
        ax.annotate(f"{b.failed} of {b.answered}", (b.failed + b.unwritten, i), va="center", fontsize=11,
                    xytext=(4, 0), textcoords="offset points")
    ax.set_yticks(list(y), names, fontsize=11)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlim(0, max([b.failed + b.unwritten for b in items] + [1]) * 1.25)
    ax.set_xlabel("learners (the label: failed of those who wrote an answer)", fontsize=11)
    ax.tick_params(axis="x", labelsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    # Above the bars, where it can cover none of them.
    fig.legend(loc="outside upper left", ncols=2, fontsize=11, frameon=False)
    ordered = list(reversed(items))
    alt = (f"Bar chart of the behaviours of {assignment} the class failed, most often failed first: "
           + "; ".join(f"{describe(b.grade_id)[0]}: failed by {b.failed} of the {b.answered} who wrote an answer"
                       + (f", not written by {b.unwritten}" if b.unwritten else "") for b in ordered) + ".")
    return _png(fig), alt


# --- the page ---------------------------------------------------------------------------------

def _feedback_links(row: Row) -> str:
    links = []
    notebooks = row.notebooks or [{"name": row.assignment}]
    for nb in notebooks:
        href = "/".join(quote(part, safe="") for part in ("feedback", row.learner, row.assignment, nb["name"] + ".html"))
        # One page per notebook: named only when a lesson has several.
        text = "page" if len(notebooks) == 1 else nb["name"]
        links.append(f'<a href="{_e(href)}">{_e(text)}</a>')
    return " ".join(links)


def _lesson(assignment: str, rows: list[Row]) -> list[str]:
    anchor = _e("lesson-" + assignment)
    max_score = max((r.max_score for r in rows), default=0.0)
    graded = [r for r in rows if r.status not in NOT_GRADED]
    missing = [r for r in rows if r.status == "missing"]
    look = [r for r in rows if r.status not in ("ok", "missing")]
    parts = [f'<h2 id="{anchor}">{_e(assignment)}</h2>']
    if not graded:
        parts.append(f"<p>No graded submission ({_plural(len(missing), 'learner')} submitted nothing).</p>")
    else:
        scores = [r.score for r in graded]
        full = sum(1 for s in scores if s >= max_score > 0)
        zero = sum(1 for s in scores if s == 0)
        parts.append(f"<p>{_plural(len(graded), 'learner')} graded: median <strong>{_fmt(statistics.median(scores))}</strong> "
                     f"of {_fmt(max_score)} points, mean {_fmt(statistics.fmean(scores))}; "
                     f"{full} with full marks, {zero} with none.</p>")
        uri, alt = score_histogram(assignment, scores, max_score)
        parts.append(f'<figure><img src="{uri}" alt="{_e(alt)}" width="860"><figcaption>Scores of the graded '
                     f'learners; those who submitted nothing are not counted.</figcaption></figure>')
        items = [b for b in behaviours(rows) if b.failed or b.unwritten]
        items.sort(key=lambda b: (-b.failed, -(b.failed / b.answered if b.answered else 0), -b.unwritten, b.order))
        parts.append("<h3>Behaviours most often failed, and what a failure often reveals</h3>")
        if not items:
            parts.append("<p>Every graded learner passed every behaviour.</p>")
        else:
            uri, alt = failure_chart(assignment, items)
            parts.append(f'<figure><img src="{uri}" alt="{_e(alt)}" width="860"></figure>')
            parts.append('<table><thead><tr><th>Behaviour</th><th class="num">Failed</th>'
                         "<th>The misconception a failure often reveals</th></tr></thead><tbody>")
            for b in items:
                name, misconception = describe(b.grade_id)
                share = f"{b.failed} of {b.answered}" if b.answered else "0"
                extra = f'<br><span class="muted">not written by {b.unwritten}</span>' if b.unwritten else ""
                parts.append(f"<tr><td>{_e(name)}<br><code class=\"muted\">{_e(b.grade_id)}</code></td>"
                             f'<td class="num">{share}{extra}</td><td>{_e(misconception) or "–"}</td></tr>')
            parts.append("</tbody></table>")
    parts.append("<h3>Needs a look</h3>")
    if look:
        parts.append('<table><thead><tr><th>Learner</th><th>Status</th><th class="num">Score</th><th>Reason</th>'
                     "<th>Feedback</th></tr></thead><tbody>")
        order = list(STATUS_HELP)
        for r in sorted(look, key=lambda r: (order.index(r.status) if r.status in order else len(order), r.learner)):
            parts.append(f"<tr><td class=\"who\">{_e(r.learner)}</td><td><span class=\"status {_e(r.status)}\" "
                         f"title=\"{_e(STATUS_HELP.get(r.status, ''))}\">{_e(r.status)}</span></td>"
                         f'<td class="num">{_fmt(r.score)} / {_fmt(r.max_score)}</td><td>{_e(r.reason)}</td>'
                         f"<td>{_feedback_links(r)}</td></tr>")
        parts.append("</tbody></table>")
    else:
        parts.append("<p>Nothing: every submission was graded normally.</p>")
    if missing:
        parts.append(f"<p>Submitted nothing ({len(missing)}): " + ", ".join(_e(r.learner) for r in missing) + ".</p>")
    return parts


def build(out: str) -> str:
    """The whole report page for the class run in ``out``, as HTML text.

    Parameters
    ----------
    out : str
        The OUT folder of a class run: ``grades.csv`` and ``.grader/results/``.

    Returns
    -------
    str
        A standalone HTML page; the same results give the same bytes.
    """
    rows = load(out)
    lessons: dict[str, list[Row]] = {}
    for row in sorted(rows, key=lambda r: (r.assignment, r.learner)):
        lessons.setdefault(row.assignment, []).append(row)
    learners = sorted({r.learner for r in rows})
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>Class report</title>", f"<style>{_CSS}</style></head><body><main>",
             "<h1>Class report</h1>",
             f'<p class="muted">{_plural(len(learners), "learner")}, {_plural(len(lessons), "lesson")}; '
             "statuses: " + ", ".join(f"{n} {_e(s)}" for s, n in sorted(counts.items())) + ". "
             "Scores and statuses are those of <code>grades.csv</code>; each learner's page is in "
             "<code>feedback/</code>.</p>",
             '<table><thead><tr><th>Lesson</th><th class="num">Graded</th><th class="num">Median</th>'
             '<th class="num">Full marks</th><th class="num">Needs a look</th><th class="num">Submitted nothing</th>'
             "</tr></thead><tbody>"]
    for assignment, lrows in lessons.items():
        graded = [r for r in lrows if r.status not in NOT_GRADED]
        max_score = max((r.max_score for r in lrows), default=0.0)
        median = f"{_fmt(statistics.median([r.score for r in graded]))} / {_fmt(max_score)}" if graded else "–"
        parts.append(f'<tr><td><a href="#{_e("lesson-" + assignment)}">{_e(assignment)}</a></td>'
                     f'<td class="num">{len(graded)}</td><td class="num">{median}</td>'
                     f'<td class="num">{sum(1 for r in graded if r.score >= r.max_score > 0)}</td>'
                     f'<td class="num">{sum(1 for r in lrows if r.status not in ("ok", "missing"))}</td>'
                     f'<td class="num">{sum(1 for r in lrows if r.status == "missing")}</td></tr>')
    parts.append("</tbody></table>")
    for assignment, lrows in lessons.items():
        parts.extend(_lesson(assignment, lrows))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def write_report(out: str) -> str:
    """Write ``out/report.html`` (see :func:`build`) and return its path."""
    text = build(out)
    path = os.path.join(out, "report.html")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    return path
