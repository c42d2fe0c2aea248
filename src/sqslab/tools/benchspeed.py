"""What each speed-up saves: ``python -m sqslab.tools.benchspeed`` (what ``make bench-speed`` runs).

A speed-up of :mod:`sqslab.moto.speed` is worth its code only if it pays: this measures, for each
one, three workloads with every speed-up on against every speed-up on but that one, and keeps a
speed-up that saves at least ``--threshold`` (5 %) of any of them:

* **the course**: every lesson notebook of ``solutions/`` executed headless, each in a fresh
  kernel, one after another (as ``make bench`` does);
* **the longest exploration**: the exhaustive crash exploration that takes longest in the course,
  timed inside its kernel by :mod:`sqslab.tools.benchprobe` during those same executions (chosen
  once, in the warm-up run, by its CPU time; named by its notebook and its place there);
* **grading a class**: ``autograder/grade.py --submissions`` on one learner who submits the
  reference solution of every graded lesson (``--force``, the grader's workers, no sandbox:
  bubblewrap would clear ``SQSLAB_SPEED`` from the kernel's environment and hide the kernels'
  CPU time from this process).

The kernels learn which speed-ups to leave out from ``SQSLAB_SPEED`` (``-name`` to leave one out,
``off`` for none at all). Every comparison is a run of pairs; within a pair the two sides run
notebook by notebook, back to back, in an order that alternates, and the pairs of every speed-up
are interleaved (pair 1 of each, then pair 2...), so a machine that gets busier slows both sides
alike. A pair's saving is ``1 - with / without``;
the table shows the median of the pairs and their range. Times are CPU seconds of the whole
process tree (this process and every kernel or grader process it waited for), which work of other
people on the same cores hardly changes; wall-clock savings are shown beside them, and the
decision is taken on CPU time.

Grading takes about as long as the course per pair, so by default it is measured only for "all
on against all off" and for speed-ups left borderline by the other two workloads (a saving of at
least a fifth of the threshold but below it); ``--grading all`` measures it for every speed-up.

It prints the table and writes ``speedups.md``, ``speedups.csv`` and every execution's times
(``speedups-samples.csv``) under ``--out`` (default ``out/bench``).

Usage::

    python -m sqslab.tools.benchspeed [--pairs 5] [--only NAME ...] [--grading borderline|all|none]
                                      [--threshold 0.05] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
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

from . import bench

REPO = bench.REPO
#: The row comparing every speed-up on with none at all (for the record; nothing is decided on it).
ALL = "(all of them)"


@dataclass
class Sample:
    """One execution of a workload: wall and CPU seconds, and the course's explorations."""

    wall: float
    cpu: float
    explorations: dict = field(default_factory=dict)  # (notebook, index) -> probe's record


@dataclass
class Comparison:
    """Pairs of one workload: every speed-up on (``with``) against some left out (``without``)."""

    with_: list[Sample] = field(default_factory=list)
    without: list[Sample] = field(default_factory=list)

    def savings(self, measure: str) -> list[float]:
        """``1 - with / without`` for each pair, in ``measure`` (``"cpu"`` or ``"wall"``)."""
        return [1 - getattr(a, measure) / getattr(b, measure) for a, b in zip(self.with_, self.without)]


def _setting(name: str) -> str:
    """``SQSLAB_SPEED`` for "every speed-up but ``name``" (``ALL``: none at all)."""
    return "off" if name == ALL else f"-{name}"


def _cpu_of_tree() -> float:
    """CPU seconds of this process and of every descendant it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _say(text: str) -> None:
    print(text, flush=True)


# -- the workloads -----------------------------------------------------------------------------------
# A workload is a list of parts, each a function of the SQSLAB_SPEED setting returning a Sample;
# a pair runs every part on both sides, back to back, before the next part, so the two sides of a
# pair of course executions are never more than one notebook apart in time.
def _timed(fn) -> Sample:
    cpu, wall = _cpu_of_tree(), time.perf_counter()
    explorations = fn() or {}
    return Sample(time.perf_counter() - wall, _cpu_of_tree() - cpu, explorations)


def course_parts() -> list:
    """Every lesson notebook, headless in a fresh kernel: one part each."""
    def part(path: Path):
        def run(setting: str) -> Sample:
            def execute() -> dict:
                found = (bench._execute(path, {"SQSLAB_SPEED": setting}).probe or {}).get("explorations")
                if found is None:
                    raise RuntimeError(f"{path.stem}: the probe wrote nothing (did the kernel exit normally?)")
                return {(path.stem, index): record for index, record in enumerate(found)}
            return _timed(execute)
        return run

    return [part(path) for path in bench._lesson_notebooks()]


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
            # stderr too: the grader's banner about running without a sandbox, at every run.
            subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        sample = _timed(grade)
        rows = (out / "grades.csv").read_text().splitlines()[1:]
        if len(rows) != len(self.lessons) or not all(",ok," in row for row in rows):
            raise RuntimeError(f"grading with SQSLAB_SPEED={setting} did not grade every lesson ok: {rows}")
        return sample


def _sum(samples: list[Sample]) -> Sample:
    explorations = {}
    for s in samples:
        explorations.update(s.explorations)
    return Sample(sum(s.wall for s in samples), sum(s.cpu for s in samples), explorations)


def _exploration(sample: Sample, key: tuple) -> Sample:
    record = sample.explorations[key]
    return Sample(record["wall"], record["cpu"])


# -- pairs --------------------------------------------------------------------------------------------
def measure_pairs(names: list[str], pairs: int, parts: list, samples: list | None = None) -> dict[str, Comparison]:
    """``pairs`` alternated pairs of the workload ``parts`` for each name, pair 1 of every name first.

    Within a pair, each part runs with every speed-up (``on``) and without the one named, in an
    order that alternates from part to part and from pair to pair. ``samples``, if given, receives
    ``(name, pair, side, part, Sample)`` for every execution.
    """
    out = {name: Comparison() for name in names}
    for i in range(pairs):
        for j, name in enumerate(names):
            _say(f"  pair {i + 1}/{pairs}: {name}")
            sides: dict[str, list[Sample]] = {"with": [], "without": []}
            for k, part in enumerate(parts):
                order = ("with", "without") if (i + j + k) % 2 == 0 else ("without", "with")
                for side in order:
                    sample = part("on" if side == "with" else _setting(name))
                    sides[side].append(sample)
                    if samples is not None:
                        samples.append((name, i + 1, side, k, sample))
            out[name].with_.append(_sum(sides["with"]))
            out[name].without.append(_sum(sides["without"]))
    return out


@dataclass
class Figure:
    """A workload's saving for one speed-up: the median of the pairs and their range."""

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


WORKLOADS = ("course", "grading", "exploration")


def decide(figures: dict[str, Figure | None], threshold: float) -> str:
    """``keep`` when some workload's median saving reaches ``threshold``, else ``delete``."""
    return "keep" if any(f is not None and f.median >= threshold for f in figures.values()) else "delete"


def borderline(figures: dict[str, Figure | None], threshold: float) -> bool:
    """Not kept by the workloads measured, but within a factor of five of the threshold."""
    best = max((f.median for f in figures.values() if f is not None), default=0.0)
    return threshold / 5 <= best < threshold


# -- output ------------------------------------------------------------------------------------------
def table(results: dict[str, dict[str, Figure | None]], threshold: float) -> list[list[str]]:
    """Rows of the table: speed-up, each workload's CPU saving (and wall), the decision."""
    header = ["speed-up"] + [f"{w}: CPU saved, median (min..max)" for w in WORKLOADS] \
        + [f"{w}: wall saved" for w in WORKLOADS] + ["decision"]
    rows = [header]
    for name, figures in results.items():
        cells = [str(figures[w]) if figures.get(w) else "not measured" for w in WORKLOADS]
        walls = [f"{100 * figures[w].wall:+.1f}%" if figures.get(w) else "" for w in WORKLOADS]
        decision = "(for the record)" if name == ALL else decide(figures, threshold)
        rows.append([name] + cells + walls + [decision])
    return rows


def write_outputs(rows: list[list[str]], samples: list, out: Path, preamble: str) -> None:
    """``speedups.md``, ``speedups.csv`` and every execution's times in ``speedups-samples.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "speedups.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with open(out / "speedups-samples.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["left out", "pair", "side", "part", "wall", "cpu"])
        for name, pair, side, part, sample in samples:
            writer.writerow([name, pair, side, part, f"{sample.wall:.3f}", f"{sample.cpu:.3f}"])
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
    parser.add_argument("--pairs", type=int, default=5, help="alternated pairs per comparison (default 5)")
    parser.add_argument("--only", action="append", metavar="NAME", choices=[s.name for s in speed.SPEED_UPS],
                        help="measure only this speed-up (repeatable; default: every one)")
    parser.add_argument("--grading", choices=("borderline", "all", "none"), default="borderline",
                        help="for which speed-ups to grade a class (default: all on/off and the borderline ones)")
    parser.add_argument("--threshold", type=float, default=0.05, help="the saving that keeps a speed-up (default 0.05)")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench", help="where to write the results")
    args = parser.parse_args(argv)

    os.environ.pop("SQSLAB_SPEED", None)
    names = [ALL] + (args.only or [s.name for s in speed.SPEED_UPS])
    started = time.perf_counter()
    meta = bench._meta()
    _say(f"sqslab bench-speed: {meta['cpus']} CPUs, load average {meta['load']}; {args.pairs} pairs per "
         f"comparison; {len(names) - 1} speed-up(s)")

    _say("Warm-up: the course once, every speed-up on (and which exploration is the longest)...")
    parts = course_parts()
    warm = _sum([part("on") for part in parts])
    longest = max(warm.explorations, key=lambda k: warm.explorations[k]["cpu"])
    record = warm.explorations[longest]
    where = (f"{longest[0]}, exploration {longest[1] + 1} ({record['function'].rsplit('.', 1)[-1]}"
             + (f", {record['runs']} runs" if record.get("runs") else "") + ")")
    _say(f"  the course: {warm.wall:.1f} s wall, {warm.cpu:.1f} s CPU; the longest exploration: {where}, "
         f"{record['cpu']:.2f} s CPU")

    _say("The course (and its longest exploration), with and without each speed-up...")
    samples: list = []
    course = measure_pairs(names, args.pairs, parts, samples)
    results: dict[str, dict[str, Figure | None]] = {}
    for name in names:
        explored = Comparison([_exploration(s, longest) for s in course[name].with_],
                              [_exploration(s, longest) for s in course[name].without])
        results[name] = {"course": Figure.of(course[name]), "grading": None, "exploration": Figure.of(explored)}

    graded = [name for name in names if args.grading == "all" or name == ALL
              or (args.grading == "borderline" and borderline(results[name], args.threshold))]
    if args.grading != "none" and graded:
        _say(f"Grading a class, with and without: {', '.join(graded)}...")
        with tempfile.TemporaryDirectory(prefix="sqslab-bench-speed-") as tmp:
            klass = GradingClass(Path(tmp))
            _say(f"  the class: 1 learner x {len(klass.lessons)} lessons ({', '.join(klass.lessons)})")
            grading = measure_pairs(graded, args.pairs, [klass.grade], samples)
        for name in graded:
            results[name]["grading"] = Figure.of(grading[name])

    rows = table(results, args.threshold)
    preamble = (f"{meta['when']}, {meta['cpus']} CPUs, load average {meta['load']} at the start, Python "
                f"{meta['python']}, moto {meta['moto']}. Each figure: the share of a workload's time that "
                f"leaving the speed-up out adds back, `1 - with/without`, in CPU seconds of the whole process "
                f"tree; the median of {args.pairs} alternated pairs in one run, with their range; wall-clock "
                f"medians beside. Kept: a saving of at least {100 * args.threshold:.0f}% on some workload. "
                f"The longest exploration: {where}. Grading: 1 learner x every graded lesson, "
                f"`grade.py --force --sandbox none`. {time.perf_counter() - started:.0f} s in all.")
    write_outputs(rows, samples, args.out, preamble)
    print()
    print(preamble)
    print()
    print_table(rows)
    print(f"\nWritten: {args.out / 'speedups.md'}, speedups.csv ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
