"""Grade a class (``make grade SUBMISSIONS=dir OUT=dir``) or self-check a learner's work (``make grade``).

Usage::

    .venv/bin/python autograder/grade.py --submissions DIR --out DIR [--jobs N] [--timeout S] [--force]
    .venv/bin/python autograder/grade.py --work work [--assignment 01_naive_consumer]

Class runs read ``DIR/<learner>/<assignment>/<notebook>.ipynb`` and write ``OUT/grades.csv``
(``learner,assignment,score,max_score,status,reason``), ``OUT/feedback/<learner>/<assignment>/
<notebook>.html``, the class's nbgrader gradebook ``OUT/gradebook.db`` and, for the instructor
only, the executed notebooks in ``OUT/autograded/``. Grading runs in one long-lived worker per
core (nbgrader imported once per worker, a private gradebook each, merged into the class
gradebook one result at a time by this process). A submission whose files, the course and the
grader are unchanged since the last run into the same OUT is not run again (``--force`` re-runs).

The self-check grades ``work/`` as one learner against the course as released (``course/``: the
tests a learner can see, no solutions, no hidden tests), prints a table, and exits 0 whenever
grading worked, whatever the score (``--strict``: 1 if anything is not fully passed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import queue
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from autograder import ensure_venv_on_path  # noqa: E402
from autograder import sandbox  # noqa: E402
from autograder.worker import fast_imports, submission_digest  # noqa: E402


def grader_version() -> str:
    """A hash of the grader's own code: results from another version are not reused."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(HERE)):
        if name.endswith(".py") and name != "bench_grading.py":
            with open(os.path.join(HERE, name), "rb") as f:
                h.update(name.encode() + hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:16]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="grade.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--submissions", metavar="DIR", help="class folder: DIR/<learner>/<assignment>/<notebook>.ipynb")
    mode.add_argument("--work", metavar="DIR", help="self-check: one learner's folder of assignments (work/)")
    p.add_argument("--out", metavar="DIR", help="where grades.csv, feedback/ and gradebook.db go "
                                                "(required with --submissions; default out/self-check with --work)")
    p.add_argument("--source", metavar="DIR", default=None,
                   help="the course's nbgrader source, hidden tests included; it may live outside the "
                        "repository (default: solutions/; the self-check: course/, the tests learners see)")
    p.add_argument("--assignment", action="append", metavar="NAME",
                   help="grade only this assignment (repeatable; default: every assignment with graded cells)")
    p.add_argument("--jobs", type=int, default=0, help="parallel workers (default: cores + 1, so a core never waits on a kernel starting)")
    p.add_argument("--timeout", type=int, default=300,
                   help="seconds for one run of a notebook, all its cells (default 300)")
    p.add_argument("--cell-timeout", type=int, default=60,
                   help="seconds for one cell (default 60): a runaway cell costs only itself")
    p.add_argument("--max-notebook-mb", type=float, default=20,
                   help="the largest notebook file read (default 20 MB); a larger one is invalid_notebook")
    p.add_argument("--force", action="store_true", help="re-run submissions that have not changed")
    p.add_argument("--course-cache", metavar="DIR", help="where course builds are kept (default: OUT/.grader); "
                                                         "a build is reused while solutions/ is unchanged")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                   help="auto: bubblewrap when it works, else unsandboxed with a warning; bwrap: required")
    p.add_argument("--canary", default="sqslab:canary", help="module:function the grader runs to check the bench")
    p.add_argument("--memory-mb", type=int, default=3072, help="address-space limit of a learner's kernel")
    p.add_argument("--max-processes", type=int, default=128, help="process/thread limit of a learner's kernel")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", action="store_true", help="print only warnings and the summary")
    p.add_argument("--two-runs", action="store_true",
                   help="run the clean and the learner's run apart even when their code is the same "
                        "(make bench uses it to measure what the clean run costs)")
    p.add_argument("--no-shared-clean-runs", action="store_true",
                   help="run every learner's clean run, even when another learner's answer cells are the same")
    p.add_argument("--strict", action="store_true",
                   help="self-check: exit 1 when any behaviour is not passed (default: exit 0 when grading worked)")
    args = p.parse_args(argv)
    if args.submissions and not args.out:
        p.error("--out is required with --submissions")
    if args.source is None:
        args.source = os.path.join(REPO, "course" if args.work else "solutions")
    args.cell_timeout = max(1, min(args.cell_timeout or args.timeout, args.timeout))
    return args


def _say(args, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


def _warn_unsandboxed(info) -> None:
    bar = "!" * 78
    print(f"{bar}\n!! GRADING WITHOUT A SANDBOX: {info.detail}\n"
          "!! Learner code runs with the grader's rights: it can read solutions/ (hidden tests), write the\n"
          "!! gradebook and reach the network. Install bubblewrap (apt-get install bubblewrap) to fix this.\n"
          f"{bar}", file=sys.stderr, flush=True)


def _learners(args) -> dict[str, str]:
    if args.work:
        if not os.path.isdir(args.work):
            raise SystemExit(f"no such folder: {args.work} (run `make lab` first to create your work/ copy)")
        return {"self": os.path.abspath(args.work)}
    root = os.path.abspath(args.submissions)
    if not os.path.isdir(root):
        raise SystemExit(f"no such folder: {args.submissions}")
    return {name: os.path.join(root, name) for name in sorted(os.listdir(root))
            if os.path.isdir(os.path.join(root, name)) and not name.startswith(".")}


class Pool:
    """Long-lived worker processes, one job at a time each, restarted if one dies."""

    def __init__(self, n: int, course, settings: dict):
        self.ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        self.course, self.settings = course, settings
        self.results = self.ctx.Queue()
        self.workers: dict[int, dict] = {}
        self.failed_starts = 0
        for i in range(n):
            self._start(i)

    def _start(self, i: int) -> None:
        from autograder import worker

        tasks = self.ctx.Queue()
        proc = self.ctx.Process(target=worker.serve, args=(i, {"root": self.course.root}, self.settings,
                                                           tasks, self.results), daemon=True)
        proc.start()
        self.workers[i] = {"proc": proc, "tasks": tasks, "job": None, "since": None, "ready": False}

    def idle(self) -> list[int]:
        return [i for i, w in self.workers.items() if w["ready"] and w["job"] is None]

    def submit(self, i: int, job: dict) -> None:
        w = self.workers[i]
        w["job"], w["since"] = job, time.monotonic()
        w["tasks"].put(job)

    def busy(self) -> bool:
        return any(w["job"] is not None for w in self.workers.values())

    def poll(self, watchdog: float) -> list[dict]:
        """Results that arrived (waiting up to a second), plus error results for dead workers."""
        out = []
        try:
            msg = self.results.get(timeout=1.0)
            while True:
                out.append(msg)
                msg = self.results.get_nowait()
        except queue.Empty:
            pass
        done = []
        for msg in out:
            if "ready" in msg:
                self.workers[msg["ready"]]["ready"] = True
                continue
            w = self.workers[msg["worker"]]
            w["job"] = None
            done.append(msg)
        for i, w in list(self.workers.items()):
            stuck = w["job"] is not None and time.monotonic() - w["since"] > watchdog
            if (not w["proc"].is_alive() or stuck) and w["job"] is not None:
                job = w["job"]
                if w["proc"].is_alive():
                    w["proc"].kill()
                w["proc"].join(5)
                done.append({"learner": job["learner"], "assignment": job["assignment"], "digest": job["digest"],
                             "status": "error", "score": 0.0, "notebooks": [],
                             "max_score": self.course.assignment(job["assignment"]).max_score,
                             "reason": ("The grader's worker stopped responding on this submission and was restarted."
                                        if stuck else "The grader's worker died on this submission and was restarted.")})
                self._start(i)
            elif not w["proc"].is_alive() and w["job"] is None:
                if not w["ready"]:
                    self.failed_starts += 1
                    if self.failed_starts > 2 * len(self.workers):
                        raise SystemExit("grading workers die as they start (exit code "
                                         f"{w['proc'].exitcode}); see the messages above")
                self._start(i)
        return done

    def close(self) -> None:
        for w in self.workers.values():
            try:
                w["tasks"].put(None)
            except (OSError, ValueError):
                pass
        for w in self.workers.values():
            w["proc"].join(10)
            if w["proc"].is_alive():
                w["proc"].kill()


def _missing_result(job: dict, course) -> dict:
    assignment = course.assignment(job["assignment"])
    reason = "Nothing was submitted for this assignment."
    return {"learner": job["learner"], "assignment": job["assignment"], "digest": job["digest"],
            "status": "missing", "reason": reason, "score": 0.0, "max_score": assignment.max_score,
            "notebooks": [{"name": nb.name, "status": "missing", "reason": reason, "notes": [], "cells": [],
                           "ignored_files": [], "max_score": nb.max_score, "score": 0.0, "run": None}
                          for nb in assignment.notebooks]}


def run(args) -> int:
    fast_imports()
    ensure_venv_on_path()
    from autograder import course as course_mod
    from autograder import feedback, results

    t0 = time.monotonic()
    import fcntl

    if not os.path.isdir(args.source):
        raise SystemExit(f"no course source at {args.source}: class grading needs the course's source with "
                         "its hidden tests (solutions/, or a private copy: --source DIR / make grade SOURCE=DIR)")
    out = os.path.abspath(args.out or os.path.join(REPO, "out", "self-check"))
    state_dir = os.path.join(out, ".grader")
    os.makedirs(state_dir, exist_ok=True)
    # One grader per OUT at a time: the class gradebook and the result cache have one writer.
    lock = open(os.path.join(state_dir, "lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise SystemExit(f"another grade.py is already writing {out}; wait for it to finish")
    info = sandbox.detect(args.sandbox)
    if not info.sandboxed:
        _warn_unsandboxed(info)
    else:
        _say(args, f"sandbox: {info.mode} ({info.detail})")
    course = course_mod.build_course(os.path.abspath(args.source), os.path.abspath(args.course_cache or state_dir),
                                     args.assignment)
    if not course.assignments:
        raise SystemExit(f"no assignment with graded cells in {args.source}")
    learners = _learners(args)
    settings = {"sandbox_mode": info.mode, "timeout": args.timeout, "cell_timeout": args.cell_timeout,
                "canary": args.canary, "clean_run": True, "self_check": bool(args.work), "two_runs": args.two_runs,
                "max_notebook_bytes": int(args.max_notebook_mb * 2**20),
                "limits": {"memory_bytes": args.memory_mb * 2**20,
                                                  "processes": args.max_processes,
                                                  "cpu_seconds": max(60, 3 * args.timeout)},
                # Scratch on tmpfs when there is one: the workers' private gradebooks and notebooks
                # are thrown away, so their fsyncs need not reach a disk.
                # The bench's switches the kernels inherit (a re-run with them changed grades again).
                "bench_switches": {k: os.environ[k] for k in sandbox.BENCH_SWITCHES if k in os.environ},
                "tmp_root": "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None}
    settings_key = hashlib.sha256(json.dumps(
        [grader_version(), course.source_key, {k: v for k, v in settings.items() if k != "tmp_root"}],
        sort_keys=True).encode()).hexdigest()[:16]
    if not args.no_shared_clean_runs:
        # Learners whose answer cells are the same (and the course, the grader and its settings) share
        # one clean run: it is the same code on the same deterministic bench.
        settings["clean_cache_dir"] = os.path.join(state_dir, "clean-runs", settings_key)
        if args.force:
            shutil.rmtree(os.path.join(state_dir, "clean-runs"), ignore_errors=True)

    gradebook = results.ClassGradebook(os.path.join(out, "gradebook.db"), course)
    cache_dir = os.path.join(state_dir, "results")
    jobs, rows, reused = [], {}, 0
    for learner, folder in learners.items():
        for a in course.assignments:
            sub = os.path.join(folder, a.name)
            digest = settings_key + ":" + submission_digest(sub)
            job = {"learner": learner, "assignment": a.name, "folder": sub, "digest": digest, "out": out}
            cached = os.path.join(cache_dir, learner, a.name + ".json")
            if not args.force and os.path.exists(cached):
                with open(cached) as f:
                    prev = json.load(f)
                if prev.get("digest") == digest:
                    rows[(learner, a.name)] = prev
                    reused += 1
                    if gradebook.fresh:
                        gradebook.merge(prev)
                    continue
            if not os.path.isdir(sub):
                res = _missing_result(job, course)
                _finish(res, course, gradebook, cache_dir, out, feedback)
                rows[(learner, a.name)] = res
                continue
            jobs.append(job)

    n_workers = max(1, min(args.jobs or (os.cpu_count() or 1) + 1, len(jobs))) if jobs else 0
    _say(args, f"grading {len(jobs)} submission(s) of {len(learners)} learner(s) x {len(course.assignments)} "
               f"assignment(s) with {n_workers} worker(s); {reused} unchanged, not re-run")
    if jobs:
        from tqdm import tqdm

        # No monitor thread in this process: a worker that has to be restarted is forked from it.
        tqdm.monitor_interval = 0
        pool = Pool(n_workers, course, settings)
        bar = tqdm(total=len(jobs), unit="nb", disable=args.no_progress or args.quiet, file=sys.stderr,
                   mininterval=0.5, dynamic_ncols=True)
        pending = list(jobs)
        watchdog = args.timeout * 4 + 120
        try:
            while pending or pool.busy():
                for i in pool.idle():
                    if pending:
                        pool.submit(i, pending.pop(0))
                for res in pool.poll(watchdog):
                    _finish(res, course, gradebook, cache_dir, out, feedback)
                    rows[(res["learner"], res["assignment"])] = res
                    bar.set_postfix_str(f"{res['learner']}/{res['assignment']}: {res['status']}", refresh=False)
                    bar.update(1)
        finally:
            bar.close()
            pool.close()

    scores = gradebook.scores()
    table = []
    for (learner, assignment), res in sorted(rows.items()):
        score = scores.get((learner, assignment), 0.0) if res["status"] != "missing" else 0.0
        table.append({"learner": learner, "assignment": assignment, "score": score,
                      "max_score": res["max_score"], "status": res["status"], "reason": res["reason"]})
    text = results.csv_text(table)
    csv_path = os.path.join(out, "grades.csv")
    tmp = csv_path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, csv_path)
    counts: dict[str, int] = {}
    for row in table:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    _say(args, f"wrote {csv_path} ({len(table)} rows: "
               + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + f") in {time.monotonic() - t0:.1f}s")
    if not args.work:
        from autograder.report import write_report
        _say(args, f"wrote {write_report(out)} (the class report)")
    if not info.sandboxed:
        _warn_unsandboxed(info)
    if args.work:
        return _self_check_report(table, rows, out, args, course)
    return 0


def _finish(res: dict, course, gradebook, cache_dir: str, out: str, feedback) -> None:
    """Merge one result into the class gradebook (one at a time: only this process writes it)."""
    gradebook.merge(res)
    path = os.path.join(cache_dir, res["learner"], res["assignment"] + ".json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(res, f, sort_keys=True)
    os.replace(path + ".tmp", path)
    if res["status"] == "missing" or (res["status"] == "error" and not res.get("notebooks")):
        assignment = course.assignment(res["assignment"])
        for nb in res.get("notebooks") or [{"name": n.name, "status": res["status"], "reason": res["reason"],
                                            "notes": [], "cells": [], "ignored_files": [],
                                            "max_score": n.max_score, "score": 0.0, "run": None}
                                           for n in assignment.notebooks]:
            fb = os.path.join(out, "feedback", res["learner"], res["assignment"], nb["name"] + ".html")
            os.makedirs(os.path.dirname(fb), exist_ok=True)
            with open(fb, "w", encoding="utf-8") as f:
                f.write(feedback.render(res["learner"], assignment, nb, res))


def _self_check_report(table: list[dict], results: dict, out: str, args, course) -> int:
    """The self-check's table: lesson, score, what failed, where the feedback is. Returns the exit code."""
    from autograder.behaviours import name as behaviour
    from autograder.course import graded_assignments
    from autograder.feedback import not_written
    from autograder.results import fmt

    graded = set(course.names())
    ungraded = []
    if os.path.isdir(args.source):
        for name in sorted(os.listdir(args.source)):
            folder = os.path.join(args.source, name)
            if os.path.isdir(folder) and name not in graded and not name.startswith(".") and any(
                    n.endswith(".ipynb") for n in os.listdir(folder)) and name not in graded_assignments(args.source):
                ungraded.append(name)
    lines, failed, broken = [], 0, 0
    for r in table:
        res = results.get((r["learner"], r["assignment"]), {})
        cells = [c for nb in res.get("notebooks", []) for c in nb.get("cells", [])]
        later = [c for c in cells if c.get("all_hidden")]
        seen = [c for c in cells if not c.get("all_hidden")]
        score = sum(c.get("score", 0) for c in seen) if cells else r["score"]
        max_score = sum(c.get("points", 0) for c in seen) if cells else r["max_score"]
        todo = not_written(cells)
        misses = [c for c in seen if not c.get("passed") and c not in todo]
        if r["status"] == "missing":
            what = "not started: no notebook in work/ (make lab copies it)"
        elif r["status"] in ("invalid_notebook", "error"):
            what = r["reason"]
            broken += r["status"] == "error"
        else:
            parts = []
            if todo:
                stubs = sorted({s for nb in res.get("notebooks", []) for s in nb.get("stubs", [])})
                parts.append("not written yet" + (f": {', '.join(stubs)}" if stubs else
                                                  f" ({len(todo)} behaviours wait for it)"))
            if misses:
                names = [behaviour(c["grade_id"]) for c in misses]
                parts.append("failed: " + "; ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else ""))
            if not parts:
                parts.append("everything you can check passed")
            if later:
                parts.append(f"{fmt(sum(c.get('points', 0) for c in later))} more points checked when graded")
            if r["status"] not in ("ok",):
                parts.append(f"grading status {r['status']}: {r['reason']}")
            what = "; ".join(parts)
        if todo or misses or r["status"] != "ok":
            failed += 1
        lines.append((r["assignment"], f"{fmt(score)} / {fmt(max_score)}", what))
    for name in ungraded:
        lines.append((name, "-", "not graded (nothing to check in this lesson)"))
    lines.sort(key=lambda x: x[0])
    width = max([len("lesson")] + [len(a) for a, _, _ in lines])
    swidth = max([len("score")] + [len(s) for _, s, _ in lines])
    print("Self-check of your work/ with the tests you can see (the grader also runs hidden tests).\n")
    print(f"  {'lesson':<{width}}  {'score':>{swidth}}  what to do next")
    for assignment, score, what in lines:
        print(f"  {assignment:<{width}}  {score:>{swidth}}  {what}")
    print(f"\nFeedback, one page per lesson: {os.path.join(out, 'feedback', 'self')}/<lesson>/<lesson>.html")
    if broken:
        print(f"{broken} lesson(s) could not be graded: see the reason above.")
        return 1
    if failed and args.strict:
        print(f"{failed} of {len(table)} lesson(s) not fully passed (--strict).")
        return 1
    print("Everything you can check passed." if not failed else
          f"{failed} of {len(table)} lesson(s) have something left to do.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
