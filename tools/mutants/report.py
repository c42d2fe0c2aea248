"""Tables and files: a row per lesson (mutants, killed, survived, equivalent, kill rate, time); survivors with diffs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .runner import LessonRun, Result

COLUMNS = ("lesson", "mutants", "run", "killed", "survived", "equivalent", "kill_rate", "seconds")


def _rate(run: LessonRun) -> str:
    rate = run.kill_rate
    return "n/a" if rate is None else f"{100 * rate:.1f}%"


def summary_rows(runs: list[LessonRun]) -> list[dict[str, str]]:
    rows = []
    for run in runs:
        rows.append({
            "lesson": run.lesson,
            "mutants": str(run.total),
            "run": str(sum(1 for r in run.results if r.status != "not_run")),
            "killed": str(run.count("killed")),
            "survived": str(run.count("survived")),
            "equivalent": str(run.count("equivalent")),
            "kill_rate": _rate(run),
            "seconds": f"{run.seconds:.0f}",
        })
    return rows


def table(runs: list[LessonRun]) -> str:
    """The summary as a fixed-width text table (for the terminal)."""
    rows = summary_rows(runs)
    heads = {"lesson": "lesson", "mutants": "mutants", "run": "run", "killed": "killed", "survived": "survived",
             "equivalent": "equivalent", "kill_rate": "kill rate", "seconds": "time (s)"}
    widths = {c: max(len(heads[c]), *(len(r[c]) for r in rows)) if rows else len(heads[c]) for c in COLUMNS}
    line = "  ".join(heads[c].ljust(widths[c]) if c == "lesson" else heads[c].rjust(widths[c]) for c in COLUMNS)
    out = [line, "-" * len(line)]
    for r in rows:
        out.append("  ".join(r[c].ljust(widths[c]) if c == "lesson" else r[c].rjust(widths[c]) for c in COLUMNS))
    return "\n".join(out)


def markdown_table(runs: list[LessonRun]) -> str:
    rows = summary_rows(runs)
    heads = ["lesson", "mutants", "run", "killed", "survived", "equivalent", "kill rate (non-equivalent)", "time (s)"]
    out = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in rows:
        out.append("| " + " | ".join(r[c] for c in COLUMNS) + " |")
    return "\n".join(out)


def _survivor(result: Result) -> str:
    m = result.mutant
    return "\n".join([
        f"#### `{m.id}`",
        "",
        f"{m.grade_id}, line {m.line} of the cell, operator `{m.operator}` ({m.kind})"
        + ("" if result.confirmed is None else
           "; confirmed in a fresh kernel running the whole notebook" if result.confirmed == "survived" else
           f"; **{result.confirmed} when the whole notebook ran in a fresh kernel**: the runner's shortcut was wrong"),
        "",
        "```diff",
        m.diff(),
        "```",
        "",
    ])


def lesson_markdown(run: LessonRun) -> str:
    """One lesson's report: its row, notes on its notebooks, each survivor with its diff, timeouts, equivalents."""
    out = [f"## {run.lesson}", "", markdown_table([run]), ""]
    for nb in run.notebooks:
        notes = []
        if nb.reference_failures:
            notes.append(f"- **the reference solution fails its own graded cells** {nb.reference_failures}: "
                         "no mutant was run")
        if nb.setup_errors:
            notes.append("- setup errors: " + "; ".join(nb.setup_errors))
        if nb.reset_note:
            notes.append(f"- {nb.reset_note}")
        if nb.leaked:
            notes.append(f"- **{nb.leaked}**")
        notes.append(f"- {nb.notebook}: the reference ran in {nb.reference_seconds:.1f} s; a mutant's limit was "
                     f"{nb.limit:.0f} s; {nb.reset_statements} setup statements rebuilt the world before each mutant; "
                     f"the kernel started {nb.kernel_starts} time(s)")
        if nb.seconds:
            notes.append("- time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in nb.seconds.items()))
        out.extend(notes)
    out.append("")
    survivors = run.survivors
    by_cell: dict[str, list[Result]] = {}
    for r in survivors:
        by_cell.setdefault(r.mutant.grade_id, []).append(r)
    out.append(f"### Survivors ({len(survivors)})")
    out.append("")
    if not survivors:
        out.append("None.")
        out.append("")
    for grade_id, rs in by_cell.items():
        out.append(f"Solution cell `{grade_id}`: {len(rs)}")
        out.append("")
        for r in rs:
            out.append(_survivor(r))
    slow = [r for r in run.results if r.status in ("timeout", "died")]
    if slow:
        out.append(f"### Killed by a timeout or a dead kernel ({len(slow)})")
        out.append("")
        for r in slow:
            out.append(f"- `{r.mutant.id}`: {r.status} after {r.seconds:.0f} s")
        out.append("")
    listed = [r for r in run.results if r.equivalent is not None]
    if listed:
        out.append(f"### Listed as equivalent ({len(listed)})")
        out.append("")
        for r in listed:
            flag = "" if r.verdict == "equivalent" else f" — **but it was {r.status}: {r.killers}**"
            out.append(f"- `{r.mutant.id}`: {r.equivalent}{flag}")
        out.append("")
    return "\n".join(out)


def mutants_csv(runs: list[LessonRun]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["lesson", "notebook", "grade_id", "id", "operator", "kind", "line", "verdict", "status",
                "killers", "seconds"])
    for run in runs:
        for r in run.results:
            m = r.mutant
            w.writerow([m.lesson, m.notebook, m.grade_id, m.id, m.operator, m.kind, m.line, r.verdict, r.status,
                        " ".join(sorted(r.killers)), f"{r.seconds:.2f}"])
    return buf.getvalue()


def summary_csv(runs: list[LessonRun]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(summary_rows(runs))
    return buf.getvalue()


def write_lesson(run: LessonRun, out: Path) -> list[Path]:
    """``<lesson>.md`` (the report) and ``<lesson>.csv`` (a row per mutant)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{run.lesson}.md").write_text(f"# Mutants of {run.lesson}\n\n" + lesson_markdown(run), encoding="utf-8")
    (out / f"{run.lesson}.csv").write_text(mutants_csv([run]), encoding="utf-8")
    return [out / f"{run.lesson}.md", out / f"{run.lesson}.csv"]


def write(runs: list[LessonRun], out: Path, *, title: str, seconds: float) -> list[Path]:
    """``summary.md``/``summary.csv`` for the lessons run, and ``<lesson>.md``/``<lesson>.csv`` for each."""
    written = []
    for run in runs:
        written += write_lesson(run, out)
    body = [f"# {title}", "", markdown_table(runs), "", f"Total time: {seconds:.0f} s.", ""]
    body += [lesson_markdown(run) for run in runs]
    (out / "summary.md").write_text("\n".join(body), encoding="utf-8")
    (out / "summary.csv").write_text(summary_csv(runs), encoding="utf-8")
    written += [out / "summary.md", out / "summary.csv"]
    return written
