"""Benchmark: class grading with ``autograder/grade.py`` against plain serial ``nbgrader autograde``.

Builds a class of ``--learners`` learners (default 30) for every graded lesson in ``solutions/``
(two thirds submit the reference solution, one third the untouched learner copy), grades it once
with the grader (``--force``, all cores) and once with nbgrader's own command line the way an
instructor would run it (``nbgrader generate_assignment`` once, then one ``nbgrader autograde
<assignment>`` per lesson, serial, default kernel, no sandbox), checks that grades.csv has every
row, and reports both wall-clock times and their ratio, measured in the same run.

**The clean run's cost.** A learner who only wrote answers needs one run (the clean run is the
learner's run); one who edited or added other cells needs two. The first ``--clean-cost-learners``
learners (default 6) are graded once more with ``grade.py --two-runs`` (clean and full run apart
for every notebook): the report gives the seconds of kernel time of each kind of run per notebook,
and that sub-class's wall time against the same learners in the main run.

Run: ``.venv/bin/python autograder/bench_grading.py [--learners 30] [--assignment NAME] [--keep DIR]``
(``make bench BENCH_ARGS=--grading`` calls it). Not part of the test suite: on 2 cores a full run
takes many minutes.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)


def solved_copy(release, source):
    """The learner's copy with the reference solution typed in (markers removed)."""
    solutions = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [line for line in cell.source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            solutions[meta["grade_id"]] = "\n".join(lines)
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in solutions:
            cell.source = solutions[gid]
    return nb


def build_class(course, dest: str, learners: int) -> list[str]:
    import nbformat

    names = [f"learner{i:02d}" for i in range(1, learners + 1)]
    for a in course.assignments:
        for nbinfo in a.notebooks:
            release = nbformat.read(os.path.join(course.release_dir, a.name, nbinfo.name + ".ipynb"), as_version=4)
            source = nbformat.read(os.path.join(course.source_dir, a.name, nbinfo.name + ".ipynb"), as_version=4)
            solved = solved_copy(release, source)
            for i, learner in enumerate(names):
                folder = os.path.join(dest, learner, a.name)
                os.makedirs(folder, exist_ok=True)
                nbformat.write(release if i % 3 == 2 else solved, os.path.join(folder, nbinfo.name + ".ipynb"))
    return names


def run_grader(subs: str, out: str, jobs: int, timeout: int, course, source: str, *extra: str) -> float:
    t = time.monotonic()
    cmd = [sys.executable, os.path.join(HERE, "grade.py"), "--submissions", subs, "--out", out, "--force",
           "--timeout", str(timeout), "--source", source, "--course-cache", os.path.dirname(course.root), *extra]
    for name in course.names():
        cmd += ["--assignment", name]
    subprocess.run(cmd + (["--jobs", str(jobs)] if jobs else []), check=True)
    return time.monotonic() - t


def run_seconds(out: str) -> dict[str, list[float]]:
    """Kernel seconds per run kind ("both", "clean", "full") and per job, from a class run's results."""
    kinds: dict[str, list[float]] = {"job": []}
    root = os.path.join(out, ".grader", "results")
    for dirpath, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(dirpath, name)) as f:
                res = json.load(f)
            kinds["job"].append(float(res.get("seconds") or 0))
            for nb in res.get("notebooks", []):
                for kind, sec in ((nb.get("run") or {}).get("seconds") or {}).items():
                    kinds.setdefault(kind, []).append(float(sec))
    return kinds


def _mean(xs: list[float]) -> float:
    return round(sum(xs) / len(xs), 2) if xs else 0.0


def run_nbgrader(course, subs: str, root: str, timeout: int) -> tuple[float, float]:
    """Plain nbgrader: returns (seconds for generate_assignment, seconds for autograde)."""
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "nbgrader_config.py"), "w") as f:
        f.write("c = get_config()\n"
                f"c.CourseDirectory.root = {root!r}\n"
                f"c.Execute.timeout = {timeout}\n")
    shutil.copytree(course.source_dir, os.path.join(root, "source"))
    shutil.copytree(subs, os.path.join(root, "submitted"))
    nbgrader = [os.path.join(bindir, "nbgrader")]
    t = time.monotonic()
    for a in course.names():
        subprocess.run(nbgrader + ["generate_assignment", a, "--force"], cwd=root, env=env, check=True,
                       capture_output=True)
    generate = time.monotonic() - t
    t = time.monotonic()
    for a in course.names():
        done = subprocess.run(nbgrader + ["autograde", a, "--force"], cwd=root, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"nbgrader autograde {a} exited {done.returncode} (some submissions failed)", file=sys.stderr)
    return generate, time.monotonic() - t


def _job_seconds(out: str, learner: str) -> list[float]:
    folder = os.path.join(out, ".grader", "results", learner)
    found = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, name)) as f:
            found.append(float(json.load(f).get("seconds") or 0))
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--learners", type=int, default=30)
    p.add_argument("--assignment", action="append", help="only this lesson (repeatable; default: every graded one)")
    p.add_argument("--jobs", type=int, default=0, help="grader workers (default: one per core)")
    p.add_argument("--timeout", type=int, default=600)
    p.add_argument("--source", default=os.path.join(REPO, "solutions"))
    p.add_argument("--keep", help="keep the class, outputs and timings in this folder")
    p.add_argument("--skip-nbgrader", action="store_true", help="time the grader only")
    p.add_argument("--clean-cost-learners", type=int, default=6,
                   help="learners graded again with two runs per notebook, to measure the clean run (0: skip)")
    args = p.parse_args(argv)

    from autograder.course import build_course
    from autograder.worker import fast_imports

    fast_imports()
    # Absolute: nbgrader's converters work from their course folder, and a relative --keep would be lost.
    work = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="bench-grading-")
    os.makedirs(work, exist_ok=True)
    course = build_course(os.path.abspath(args.source), os.path.join(work, "build"), args.assignment)
    subs = os.path.join(work, "submissions")
    shutil.rmtree(subs, ignore_errors=True)
    learners = build_class(course, subs, args.learners)
    notebooks = len(learners) * len(course.assignments)
    print(f"class: {len(learners)} learners x {len(course.assignments)} lessons ({', '.join(course.names())}) "
          f"= {notebooks} notebooks; {os.cpu_count()} cores", flush=True)

    out = os.path.join(work, "out")
    shutil.rmtree(out, ignore_errors=True)
    ours = run_grader(subs, out, args.jobs, args.timeout, course, os.path.abspath(args.source))
    with open(os.path.join(out, "grades.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    expected = {(learner, a) for learner in learners for a in course.names()}
    got = {(r["learner"], r["assignment"]) for r in rows}
    assert got == expected and len(rows) == len(expected), f"grades.csv is missing rows: {sorted(expected - got)[:5]}"
    statuses = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    print(f"grade.py: {ours:.1f}s for {notebooks} notebooks ({ours / notebooks:.2f}s each); "
          f"grades.csv has all {len(rows)} rows; statuses {statuses}", flush=True)
    report = {"learners": len(learners), "lessons": course.names(), "notebooks": notebooks,
              "cores": os.cpu_count(), "grade_py_seconds": round(ours, 1), "statuses": statuses}
    main_runs = run_seconds(out)
    report["main_run_seconds_per_notebook"] = {k: _mean(v) for k, v in main_runs.items()}
    if args.clean_cost_learners:
        few = learners[:args.clean_cost_learners]
        subs_few = os.path.join(work, "submissions-two-runs")
        shutil.rmtree(subs_few, ignore_errors=True)
        for learner in few:
            shutil.copytree(os.path.join(subs, learner), os.path.join(subs_few, learner))
        out_few = os.path.join(work, "out-two-runs")
        shutil.rmtree(out_few, ignore_errors=True)
        both = run_grader(subs_few, out_few, args.jobs, args.timeout, course, os.path.abspath(args.source),
                          "--two-runs", "--no-shared-clean-runs")
        runs = run_seconds(out_few)
        one = [s for learner in few for s in _job_seconds(out, learner)]
        cost = {"learners": len(few), "notebooks": len(few) * len(course.assignments),
                "wall_seconds_two_runs": round(both, 1),
                "kernel_seconds_per_notebook": {k: _mean(v) for k, v in runs.items() if k != "job"},
                "job_seconds_per_notebook_two_runs": _mean(runs["job"]),
                "job_seconds_per_notebook_one_run": _mean(one)}
        if cost["job_seconds_per_notebook_one_run"]:
            cost["extra_per_notebook_needing_it"] = round(
                cost["job_seconds_per_notebook_two_runs"] / cost["job_seconds_per_notebook_one_run"] - 1, 3)
        report["clean_run_cost"] = cost
        print(f"clean run: {cost['kernel_seconds_per_notebook'].get('clean', 0):.2f}s of kernel time per notebook "
              f"(the learner's run: {cost['kernel_seconds_per_notebook'].get('full', 0):.2f}s); a notebook that "
              f"needs both takes {cost['job_seconds_per_notebook_two_runs']:.2f}s to grade instead of "
              f"{cost['job_seconds_per_notebook_one_run']:.2f}s; in this class "
              f"{sum(1 for k, v in main_runs.items() if k == 'clean' for _ in v)} of {notebooks} notebooks needed it",
              flush=True)
    if not args.skip_nbgrader:
        nbroot = os.path.join(work, "nbgrader")
        shutil.rmtree(nbroot, ignore_errors=True)
        generate, theirs = run_nbgrader(course, subs, nbroot, args.timeout)
        report.update({"nbgrader_generate_seconds": round(generate, 1), "nbgrader_autograde_seconds": round(theirs, 1),
                       "speedup": round(theirs / ours, 2)})
        print(f"nbgrader autograde (serial, one command per lesson): {theirs:.1f}s "
              f"(+{generate:.1f}s generate_assignment)", flush=True)
        print(f"speed-up: {theirs / ours:.2f}x (goal: >= 1.8x on 2 cores)", flush=True)
    with open(os.path.join(work, "bench_grading.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
