"""``python -m mutants``: mutate every lesson's solution cells and run its graded tests against each mutant.

Examples (from the repository's root, with ``tools/`` on ``PYTHONPATH``; ``make mutants`` does that)::

    python -m mutants                              # every mutant of every lesson; report in out/mutants/
    python -m mutants --lesson 04_visibility_heartbeat --jobs 1
    python -m mutants --list                       # the mutants, without running anything
    python -m mutants --sample 10 --seed ci --fast # what the suite's CI sample runs
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import report
from .equivalents import EQUIVALENTS, load_equivalents, toml_key
from .lessons import lesson_names, load_lesson
from .runner import MAX_LIMIT, LessonRun, LessonRunner, confirm, sample

REPO = Path(__file__).resolve().parents[2]


def _lessons(solutions: Path, wanted: list[str]) -> list[str]:
    names = lesson_names(solutions)
    if not wanted:
        return names
    out = []
    for w in wanted:
        hits = [n for n in names if n == w or n.startswith(w)]
        if len(hits) != 1:
            raise SystemExit(f"mutants: --lesson {w!r} matches {hits or 'no lesson'}; the lessons are {names}")
        out.append(hits[0])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mutants", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lesson", action="append", default=[], metavar="NAME",
                   help="only this lesson (a prefix such as 04 will do); repeatable")
    p.add_argument("--list", action="store_true", help="print the mutants (id, line, diff with -v) and stop")
    p.add_argument("-v", "--verbose", action="store_true", help="with --list: each mutant's diff")
    p.add_argument("--sample", type=int, default=0, metavar="N",
                   help="run N mutants per lesson drawn with --seed (not counting listed equivalents)")
    p.add_argument("--seed", default="ci", help="the sample's seed (default: ci, as the suite's sample)")
    p.add_argument("--jobs", type=int, default=1, help="lessons run at once, a kernel each (default 1)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds a mutant may run (default: 5x the reference, 30 to 300 s)")
    p.add_argument("--stop-early", action="store_true",
                   help="stop at a mutant's first failing graded cell (faster; killers not all recorded)")
    p.add_argument("--fast", action="store_true",
                   help="the CI sample's way: lean setup, stop early, the reference only through the cells that killed")
    p.add_argument("--confirm", action="store_true",
                   help="grade each survivor again the slow, faithful way (a fresh kernel, the whole notebook)")
    p.add_argument("--solutions", type=Path, default=REPO / "solutions")
    p.add_argument("--equivalents", type=Path, default=EQUIVALENTS)
    p.add_argument("--out", type=Path, default=REPO / "out" / "mutants")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (a log line per lesson instead)")
    args = p.parse_args(argv)

    equivalents = load_equivalents(args.equivalents)
    names = _lessons(args.solutions, args.lesson)
    lessons = {n: load_lesson(args.solutions / n) for n in names}
    chosen = {}
    for n, lesson in lessons.items():
        mutants = lesson.mutants()
        chosen[n] = (sample(mutants, args.sample, args.seed, exclude=equivalents) if args.sample else mutants,
                     len(mutants))

    if args.list:
        for n, (mutants, total) in chosen.items():
            print(f"== {n}: {len(mutants)} of {total} mutants")
            for m in mutants:
                mark = "  [equivalent]" if m.id in equivalents else ""
                print(f"{m.id}  (line {m.line}){mark}")
                if args.verbose:
                    print(m.diff())
                    print()
        return 0

    began = time.monotonic()
    bars = _Progress(chosen, enabled=not args.no_progress)

    def one(item) -> LessonRun:
        position, name = item
        mutants, total = chosen[name]
        runner = LessonRunner(lessons[name], limit=args.timeout, stop_early=args.stop_early, fast=args.fast,
                              equivalents=equivalents, on_result=lambda r: bars.result(name, r),
                              on_phase=lambda text: bars.phase(name, text))
        run = runner.run(mutants)
        run.total = total if not args.sample else len(mutants)
        if args.confirm:
            for r in run.survivors:
                bars.phase(name, f"confirming {r.mutant.grade_id}")
                r.confirmed = confirm(lessons[name], r.mutant, limit=args.timeout or MAX_LIMIT).status
        report.write_lesson(run, args.out)   # each lesson's file as soon as it is done: the full run is long
        bars.done(name, run)
        return run

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = list(pool.map(one, enumerate(names)))
    bars.close()
    seconds = time.monotonic() - began

    what = f"a sample of {args.sample} per lesson, seed {args.seed}" if args.sample else "every mutant"
    title = f"Mutation analysis ({what})"
    written = report.write(runs, args.out, title=title, seconds=seconds)
    print()
    print(report.table(runs))
    print(f"\nTotal time: {seconds:.0f} s ({seconds / 60:.1f} min)")
    status = 0
    for run in runs:
        for nb, failures in run.broken.items():
            print(f"\n{run.lesson}: the reference solution fails its own graded cells in {nb}: {failures}")
            status = 2
        for nb in run.notebooks:
            if nb.leaked:
                print(f"\n{run.lesson}: {nb.leaked}")
        if run.survivors:
            print(f"\n{run.lesson}: {len(run.survivors)} survivor(s) (diffs in {args.out / (run.lesson + '.md')}):")
            for r in run.survivors:
                print(f"  {r.mutant.grade_id:<22} {r.mutant.id}")
            print("  To list one as equivalent, add under [" + run.lesson + f"] in {args.equivalents.name}:")
            key = toml_key(run.survivors[0].mutant.id, run.lesson)
            print(f'    {key} = "why no test can tell it from the reference"')
        stale = [r for r in run.results if r.equivalent is not None and r.killed]
        for r in stale:
            print(f"\n{run.lesson}: {r.mutant.id} is listed as equivalent but was killed by {sorted(r.killers)}")
    print("\nWritten: " + ", ".join(str(w.relative_to(REPO)) if w.is_relative_to(REPO) else str(w) for w in written))
    return status


class _Progress:
    """A tqdm bar per lesson (or a line per lesson when bars are off or tqdm is missing)."""

    def __init__(self, chosen: dict, *, enabled: bool):
        self.lock = threading.Lock()
        self.bars = {}
        self.counts = {n: {"killed": 0, "survived": 0} for n in chosen}
        self.started: set[str] = set()
        try:
            from tqdm import tqdm
        except ImportError:
            enabled = False
        self.enabled = enabled
        if enabled:
            for i, (n, (mutants, _)) in enumerate(chosen.items()):
                self.bars[n] = tqdm(total=len(mutants), desc=n, position=i, unit="mutant", leave=True,
                                    dynamic_ncols=True, file=sys.stderr)

    def phase(self, name: str, text: str) -> None:
        if self.enabled:
            with self.lock:
                bar = self.bars[name]
                if name not in self.started:    # the rate counts from the lesson's start, not the program's
                    self.started.add(name)
                    bar.reset(total=bar.total)
                bar.set_postfix_str(text, refresh=True)

    def result(self, name: str, r) -> None:
        with self.lock:
            key = "killed" if r.killed else "survived" if r.verdict == "survived" else None
            if key:
                self.counts[name][key] += 1
            if self.enabled:
                c = self.counts[name]
                self.bars[name].set_postfix_str(f"killed {c['killed']}, survived {c['survived']}", refresh=False)
                self.bars[name].update(1)

    def done(self, name: str, run: LessonRun) -> None:
        if not self.enabled:
            with self.lock:
                print(f"{name}: {run.count('killed')} killed, {run.count('survived')} survived, "
                      f"{run.count('equivalent')} equivalent in {run.seconds:.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


if __name__ == "__main__":
    sys.exit(main())
