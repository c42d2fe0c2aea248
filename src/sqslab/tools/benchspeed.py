"""What each speed-up saves: ``python -m sqslab.tools.benchspeed`` (what ``make bench-speed`` runs).

A speed-up of :mod:`sqslab.moto.speed` is worth its code only if it pays: this measures, for each
one, three workloads with every speed-up on against every speed-up on but that one, and keeps a
speed-up that saves at least ``--threshold`` (5 %) of any of them:

* **the course**: every lesson notebook of ``solutions/`` executed headless, each in a fresh
  kernel, one after another (as ``make bench`` does);
* **the longest exploration**: the exhaustive crash exploration of any lesson that took the most
  CPU time in a warm-up execution of the course (:mod:`sqslab.tools.benchprobe` times them all).
  Its notebook is executed up to that cell, once; then, in that kernel, the cell is executed
  again and again, each time in a fresh lab with the speed-ups switched as ``SQSLAB_SPEED`` says,
  and the probe times that exploration. It takes seconds, so each side of a pair is the fastest
  of a few executions (``--exploration-repeats``), alternated;
* **grading a class**: ``autograder/grade.py --submissions`` on one learner who submits the
  reference solution of every graded lesson (``--force``, the grader's workers, no sandbox:
  bubblewrap would clear ``SQSLAB_SPEED`` from the kernel's environment and hide the kernels'
  CPU time from this process).

The kernels learn which speed-ups to leave out from ``SQSLAB_SPEED`` (``-name`` to leave one out,
``off`` for none at all). Every comparison is a run of pairs; within a pair the two sides run part
by part (notebook by notebook for the course), back to back, in an order that alternates, and the
pairs of every speed-up are interleaved (pair 1 of each, then pair 2...), so a machine that gets
busier slows both sides alike. A pair's saving is ``1 - with / without``; the table shows the
median of the pairs and their range. Times are CPU seconds of the whole process tree (this
process and every kernel or grader process it waited for; for the exploration, the kernel's),
which other people's work on the same cores disturbs far less than wall time; wall-clock savings
are shown beside them, and the decision is taken on CPU time.

The course and grading take minutes per pair, so grading is measured by default only for "all on
against all off" and for the speed-ups the other two workloads leave borderline (a saving of at
least a fifth of the threshold, but below it); ``--grading all`` measures every speed-up.

It prints the table and writes ``speedups.md``, ``speedups.csv`` and every execution's times
(``speedups-samples.csv``) under ``--out`` (default ``out/bench``), after every round of pairs, so
that a run stopped early leaves what it measured.

Usage::

    python -m sqslab.tools.benchspeed [--pairs 5] [--exploration-pairs 7] [--exploration-repeats 3]
                                      [--only NAME ...] [--grading borderline|all|none] [--threshold 0.05]
                                      [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import bench

REPO = bench.REPO
#: The row comparing every speed-up on with none at all (for the record; nothing is decided on it).
ALL = "(all of them)"
#: The row leaving out, together, every speed-up the exploration did not keep (``--course candidates``).
TOGETHER = "(the exploration's deletions, together)"
WORKLOADS = ("course", "grading", "exploration")


@dataclass
class Sample:
    """One execution of (a part of) a workload: wall and CPU seconds."""

    wall: float
    cpu: float


@dataclass
class Comparison:
    """Pairs of one workload: every speed-up on (``with_``) against one left out (``without``)."""

    with_: list[Sample] = field(default_factory=list)
    without: list[Sample] = field(default_factory=list)

    def savings(self, measure: str) -> list[float]:
        """``1 - with / without`` for each pair, in ``measure`` (``"cpu"`` or ``"wall"``)."""
        return [1 - getattr(a, measure) / getattr(b, measure) for a, b in zip(self.with_, self.without)]


_together: list[str] = []


def _setting(name: str) -> str:
    """``SQSLAB_SPEED`` for "every speed-up but ``name``" (``ALL``: none at all; ``TOGETHER``: the group)."""
    if name == TOGETHER:
        return ",".join(f"-{n}" for n in _together)
    return "off" if name == ALL else f"-{name}"


def _cpu_of_tree() -> float:
    """CPU seconds of this process and of every descendant it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(fn: Callable[[], object]) -> Sample:
    cpu, wall = _cpu_of_tree(), time.perf_counter()
    fn()
    return Sample(time.perf_counter() - wall, _cpu_of_tree() - cpu)


def _say(text: str) -> None:
    print(text, flush=True)


# -- the workloads: each a list of parts, a part a function of the SQSLAB_SPEED setting ----------------
def course_parts() -> list[Callable[[str], Sample]]:
    """Every lesson notebook, headless in a fresh kernel: one part each."""
    def part(path: Path) -> Callable[[str], Sample]:
        return lambda setting: _timed(lambda: bench._execute(path, {"SQSLAB_SPEED": setting}))

    return [part(path) for path in bench._lesson_notebooks()]


@dataclass
class Exploration:
    """An exploration the course runs: its notebook, its cell, its place among the cell's explorations."""

    notebook: Path
    cell: int
    position: int
    function: str
    runs: int | None
    cpu: float

    def __str__(self) -> str:
        runs = f", {self.runs} runs" if self.runs else ""
        return f"{self.notebook.stem}, cell {self.cell} ({self.function.rsplit('.', 1)[-1]}{runs})"


def longest_exploration() -> Exploration:
    """Execute the course once (a warm-up) and return the exploration that took the most CPU time."""
    found = []
    for path in bench._lesson_notebooks():
        run = bench._execute(path)
        records = (run.probe or {}).get("explorations")
        if records is None:
            raise RuntimeError(f"{path.stem}: the probe wrote nothing (did the kernel exit normally?)")
        for n, record in enumerate(records):
            position = sum(1 for earlier in records[:n] if earlier["cell"] == record["cell"])
            cell = run.cells[record["cell"]][0]
            found.append(Exploration(path, cell, position, record["function"], record.get("runs"), record["cpu"]))
    if not found:
        raise RuntimeError("no notebook of the course runs an exploration")
    return max(found, key=lambda e: e.cpu)


#: Executed in the exploration's kernel for each sample: switch the speed-ups as SQSLAB_SPEED says,
#: open a fresh lab as the notebook's first cell does (the runs of every earlier execution would
#: otherwise pile up in moto, each execution slower than the last), execute the exploration's cell
#: again, and print what the probe timed.
_REPLAY = """
import json as _json, os as _os, sys as _sys
from sqslab.moto import speed as _speed
from sqslab import open_lab as _open_lab
_os.environ["SQSLAB_SPEED"] = {setting!r}
_speed.remove()
_speed.apply()
lab = _open_lab()
_timed = _sys.modules["sqslab_benchprobe"]._findings["explorations"]
_before = len(_timed)
exec(compile({source!r}, "<the exploration's cell>", "exec"), globals())
print("bench-speed:", _json.dumps(_timed[_before + {position}]))
"""


class ExplorationReplay:
    """A kernel that has executed a notebook up to an exploration's cell, to execute it again on demand."""

    def __init__(self, exploration: Exploration, scratch: Path):
        import nbformat
        from nbclient import NotebookClient

        self.exploration = exploration
        self.nb = nbformat.read(exploration.notebook, as_version=4)
        self.source = self.nb.cells[exploration.cell].source
        os.environ["SQSLAB_BENCH_PROBE"] = str(scratch / "probe.json")  # the probe only starts with a path
        self.client = NotebookClient(
            self.nb, timeout=900, kernel_name="python3",
            resources={"metadata": {"path": str(exploration.notebook.parent)}},
            extra_arguments=["--IPKernelApp.log_level=ERROR",
                             f"--IPKernelApp.exec_lines={json.dumps([bench._probe_line()])}"])
        self._kernel = contextlib.ExitStack()
        self._kernel.enter_context(self.client.setup_kernel())
        for index, cell in enumerate(self.nb.cells[:exploration.cell + 1]):
            if cell.cell_type == "code":
                self.client.execute_cell(cell, index)

    def run(self, setting: str) -> Sample:
        """Execute the exploration's cell with ``SQSLAB_SPEED=setting``; the probe's times of that exploration."""
        import nbformat

        cell = nbformat.v4.new_code_cell(_REPLAY.format(setting=setting, source=self.source,
                                                        position=self.exploration.position))
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        line = next(line for line in text.splitlines() if line.startswith("bench-speed: "))
        record = json.loads(line.removeprefix("bench-speed: "))
        if record["function"] != self.exploration.function:
            raise RuntimeError(f"replaying {self.exploration} timed {record['function']} instead")
        return Sample(record["wall"], record["cpu"])

    def close(self) -> None:
        self._kernel.close()
        os.environ.pop("SQSLAB_BENCH_PROBE", None)


class GradingClass:
    """One learner submitting every graded lesson's reference solution, built once, graded many times."""

    def __init__(self, work: Path):
        self.work = work
        # bench_grading.py builds the course and the class, and grades it once (a warm-up).
        subprocess.run([sys.executable, str(REPO / "autograder" / "bench_grading.py"), "--learners", "1",
                        "--skip-nbgrader", "--keep", str(work)], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
        self.submissions = work / "submissions"
        self.lessons = sorted(p.name for p in (self.submissions / "learner01").iterdir())

    def grade(self, setting: str) -> Sample:
        """Grade the class afresh with ``SQSLAB_SPEED=setting``; every submission must come out ``ok``."""
        out = self.work / "out-speed"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, str(REPO / "autograder" / "grade.py"), "--submissions", str(self.submissions),
               "--out", str(out), "--force", "--source", str(REPO / "solutions"),
               "--course-cache", str(self.work / "build"), "--sandbox", "none", "--no-progress", "--quiet"]
        env = {**os.environ, "SQSLAB_SPEED": setting}

        def grade() -> None:
            # stderr too: the grader's banner about grading without a sandbox, at every run.
            subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        sample = _timed(grade)
        rows = (out / "grades.csv").read_text().splitlines()[1:]
        if len(rows) != len(self.lessons) or not all(",ok," in row for row in rows):
            raise RuntimeError(f"grading with SQSLAB_SPEED={setting} did not grade every lesson ok: {rows}")
        return sample


# -- pairs --------------------------------------------------------------------------------------------
def measure_pairs(names: list[str], pairs: int, parts: list[Callable[[str], Sample]], workload: str = "",
                  samples: list | None = None, repeats: int = 1,
                  after_round: Callable[[dict[str, Comparison]], None] | None = None) -> dict[str, Comparison]:
    """``pairs`` alternated pairs of the workload ``parts`` for each name, pair 1 of every name first.

    Within a pair, each part runs with every speed-up (``on``) and without the one named, in an
    order that alternates from part to part and from pair to pair; with ``repeats``, the two sides
    alternate that many times and each side counts its fastest execution (other work on the cores
    only ever adds time). A side's sample is the sum of its parts. ``samples``, if given, receives
    ``(workload, name, pair, side, part, Sample)`` for every execution; ``after_round`` is called
    with the comparisons so far after each round of pairs.
    """
    out = {name: Comparison() for name in names}
    for i in range(pairs):
        if workload:
            _say(f"  {workload}: pair {i + 1} of {pairs} for each of {len(names)}")
        for j, name in enumerate(names):
            sides: dict[str, list[Sample]] = {"with": [], "without": []}
            for k, part in enumerate(parts):
                order = ("with", "without") if (i + j + k) % 2 == 0 else ("without", "with")
                tries: dict[str, list[Sample]] = {"with": [], "without": []}
                for _ in range(repeats):
                    for side in order:
                        sample = part("on" if side == "with" else _setting(name))
                        tries[side].append(sample)
                        if samples is not None:
                            samples.append((workload, name, i + 1, side, k, sample))
                for side, got in tries.items():
                    sides[side].append(Sample(min(s.wall for s in got), min(s.cpu for s in got)))
            for side, into in (("with", out[name].with_), ("without", out[name].without)):
                into.append(Sample(sum(s.wall for s in sides[side]), sum(s.cpu for s in sides[side])))
        if after_round is not None:
            after_round(out)
    return out


@dataclass
class Figure:
    """A workload's saving for one speed-up: the median of the pairs and their range (CPU); wall's median."""

    median: float
    low: float
    high: float
    wall: float
    pairs: int

    @classmethod
    def of(cls, comparison: Comparison) -> "Figure":
        cpu, wall = comparison.savings("cpu"), comparison.savings("wall")
        return cls(statistics.median(cpu), min(cpu), max(cpu), statistics.median(wall), len(cpu))

    def __str__(self) -> str:
        return f"{100 * self.median:+.1f}% ({100 * self.low:+.1f}..{100 * self.high:+.1f})"


def decide(figures: dict[str, Figure | None], threshold: float) -> str:
    """``keep`` when some workload's median saving reaches ``threshold``, else ``delete``."""
    return "keep" if any(f is not None and f.median >= threshold for f in figures.values()) else "delete"


def borderline(figures: dict[str, Figure | None], threshold: float) -> bool:
    """Not kept by the workloads measured, but within a factor of five of the threshold."""
    best = max((f.median for f in figures.values() if f is not None), default=0.0)
    return threshold / 5 <= best < threshold


# -- output ------------------------------------------------------------------------------------------
def table(results: dict[str, dict[str, Figure | None]], threshold: float) -> list[list[str]]:
    """Rows of the table: speed-up, each workload's CPU saving, each one's wall saving, the decision."""
    header = ["speed-up"] + [f"{w}: CPU saved (min..max)" for w in WORKLOADS] \
        + [f"{w}: wall" for w in WORKLOADS] + ["decision"]
    rows = [header]
    for name, figures in results.items():
        cells = [str(figures[w]) if figures.get(w) else "not measured" for w in WORKLOADS]
        walls = [f"{100 * figures[w].wall:+.1f}%" if figures.get(w) else "" for w in WORKLOADS]
        if name == TOGETHER:
            decision = "(bounds each one's saving)"
        else:
            decision = "(for the record)" if name == ALL else decide(figures, threshold)
            group = results.get(TOGETHER)
            if name in _together and group and decide(group, threshold) == "keep":
                # Together they save enough on some workload: which of them does needs its own pairs.
                decision = "undecided (measure it alone: --course each --only NAME)"
        rows.append([name] + cells + walls + [decision])
    return rows


def write_outputs(rows: list[list[str]], samples: list, out: Path, preamble: str) -> None:
    """``speedups.md``, ``speedups.csv`` and every execution's times in ``speedups-samples.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "speedups.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with open(out / "speedups-samples.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["workload", "left out", "pair", "side", "part", "wall", "cpu"])
        for workload, name, pair, side, part, sample in samples:
            writer.writerow([workload, name, pair, side, part, f"{sample.wall:.3f}", f"{sample.cpu:.3f}"])
    lines = ["# What each speed-up saves", "", preamble, "",
             "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    (out / "speedups.md").write_text("\n".join(lines) + "\n")


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


# -- the whole measurement -----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Measure every speed-up (or those named) on the three workloads; returns the exit status."""
    from ..moto import speed

    parser = argparse.ArgumentParser(prog="python -m sqslab.tools.benchspeed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5,
                        help="alternated pairs per comparison, course and grading (default 5)")
    parser.add_argument("--exploration-pairs", type=int, default=7,
                        help="alternated pairs per comparison, the longest exploration (default 7)")
    parser.add_argument("--exploration-repeats", type=int, default=3,
                        help="executions of each side of an exploration pair, the fastest counting (default 3)")
    parser.add_argument("--only", action="append", metavar="NAME", choices=[s.name for s in speed.SPEED_UPS],
                        help="measure only this speed-up (repeatable; default: every one)")
    parser.add_argument("--grading", choices=("borderline", "all", "none"), default="borderline",
                        help="for which speed-ups to grade a class (default: all on/off and the borderline ones)")
    parser.add_argument("--course", choices=("each", "candidates"), default="each",
                        help="the course and grading for every speed-up (each), or only for all of them and for "
                             "the exploration's deletions left out together (candidates: if those together save "
                             "less than the threshold, none of them alone saves more; minutes instead of hours)")
    parser.add_argument("--threshold", type=float, default=0.05, help="the saving that keeps a speed-up (default 0.05)")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench", help="where to write the results")
    args = parser.parse_args(argv)

    os.environ.pop("SQSLAB_SPEED", None)
    names = [ALL] + (args.only or [s.name for s in speed.SPEED_UPS])
    started = time.perf_counter()
    meta = bench._meta()
    _say(f"sqslab bench-speed: {meta['cpus']} CPUs, load average {meta['load']}; {len(names) - 1} speed-up(s); "
         f"{args.pairs} pairs for the course and grading, {args.exploration_pairs} for the exploration "
         f"(fastest of {args.exploration_repeats} a side)")
    samples: list = []
    results: dict[str, dict[str, Figure | None]] = {name: dict.fromkeys(WORKLOADS) for name in names}
    longest: Exploration | None = None

    def report(final: bool = False) -> None:
        # Written after every workload, so that hours of measuring survive a failure in the next one.
        rows = table(results, args.threshold)
        preamble = (
            f"{meta['when']}, {meta['cpus']} CPUs, load average {meta['load']} at the start, Python "
            f"{meta['python']}, moto {meta['moto']}. Each figure: the share of a workload's time that the "
            f"speed-up saves, `1 - with/without`, in CPU seconds; the median of alternated pairs in one run "
            f"({args.pairs} for the course and grading; {args.exploration_pairs} for the exploration, each side "
            f"the fastest of {args.exploration_repeats}), with their range; wall-clock medians beside. Kept: a saving of at least {100 * args.threshold:.0f}% "
            f"on some workload. The course: {len(bench._lesson_notebooks())} notebooks headless. The longest "
            f"exploration: {longest}. Grading: 1 learner x every graded lesson, `grade.py --force --sandbox "
            f"none`, for the speed-ups shown. {time.perf_counter() - started:.0f} s in all"
            + ("." if final else " so far (not finished)."))
        write_outputs(rows, samples, args.out, preamble)
        if final:
            print()
            print(preamble)
            print()
            print_table(rows)
            print(f"\nWritten: {args.out / 'speedups.md'}, speedups.csv, speedups-samples.csv "
                  f"({time.perf_counter() - started:.0f} s)")

    def record(workload: str) -> Callable[[dict[str, Comparison]], None]:
        def after_round(comparisons: dict[str, Comparison]) -> None:
            for name, comparison in comparisons.items():
                results[name][workload] = Figure.of(comparison)
            report()
        return after_round

    _say("Warm-up: the course once, every speed-up on, to find the longest exploration...")
    longest = longest_exploration()
    _say(f"  the longest exploration: {longest}, {longest.cpu:.2f} s CPU")
    with tempfile.TemporaryDirectory(prefix="sqslab-bench-speed-") as tmp:
        replay = ExplorationReplay(longest, Path(tmp))
        try:
            for _ in range(2):
                replay.run("on")  # warm-up: the first executions of a cell are the slowest
            measure_pairs(names, args.exploration_pairs, [replay.run], "exploration", samples,
                          args.exploration_repeats, record("exploration"))
        finally:
            replay.close()

    course_names = names
    if args.course == "candidates":
        _together[:] = [n for n in names if n != ALL and decide(results[n], args.threshold) == "delete"]
        course_names = [ALL] + ([TOGETHER] if _together else [])
        results[TOGETHER] = dict.fromkeys(WORKLOADS)
        _say(f"  left out together for the course and grading: {', '.join(_together) or 'none'}")
    measure_pairs(course_names, args.pairs, course_parts(), "course", samples, after_round=record("course"))

    if args.course == "candidates":
        graded = course_names if args.grading != "none" else []
    else:
        graded = [name for name in names if args.grading == "all" or name == ALL
                  or (args.grading == "borderline" and borderline(results[name], args.threshold))]
    if args.grading != "none" and graded:
        with tempfile.TemporaryDirectory(prefix="sqslab-bench-speed-") as tmp:
            _say("Grading: building the class and grading it once (a warm-up)...")
            klass = GradingClass(Path(tmp))
            _say(f"  1 learner x {len(klass.lessons)} lessons; with and without {', '.join(graded)}")
            measure_pairs(graded, args.pairs, [klass.grade], "grading", samples, after_round=record("grading"))

    report(final=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
