"""Run a lesson's graded tests against each mutant of its solution cells, one kernel per notebook.

For each notebook of a lesson (a split lesson has several, and nbgrader grades each in a kernel of
its own, so a mutant of one notebook's solution is graded by that notebook's tests):

1. start a kernel in a scratch copy of the lesson's folder and run the notebook's **setup**: every
   statement of the ordinary cells that no mutant can change (see :mod:`mutants.lessons`);
2. run the **reference**: the solution cells as written, the statements that keep a solution
   function, every graded cell with its hidden tests. Each must pass, or the lesson's tests are
   broken and its mutants are not run;
3. for each mutant: forget the names the solution cells bind, run the solution cells (one of them
   mutated), the statements that depend on them and every graded cell. The mutant is **killed** if
   a graded cell raises; a mutant that runs past its time limit (interrupted, then the kernel is
   restarted and set up again) or kills the kernel is killed too.

Each graded cell that raised is recorded as a killer. With ``stop_early`` (the CI sample) the
first killer is enough.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .kernel import Kernel, Outcome
from .lessons import Lesson, Notebook
from .operators import Mutant

#: A mutant's time limit: this many times the reference's time, at least MIN_LIMIT, at most
#: MAX_LIMIT (the grader's own budget for a notebook, autograder/nbgrader_config.py).
LIMIT_FACTOR = 5.0
MIN_LIMIT = 30.0
MAX_LIMIT = 300.0
#: Setup statements get this long each (a demo cell may explore for a while).
SETUP_LIMIT = 600.0
#: A mutant's limit in the fast way (no reference time to scale): hangs are rare, and this is generous.
FAST_LIMIT = 120.0

KILLED = ("killed", "timeout", "died")


@dataclass
class Result:
    """What one mutant did against the graded cells."""

    mutant: Mutant
    status: str                                    # killed | survived | timeout | died | not_run
    killers: dict[str, str] = field(default_factory=dict)   # grade_id -> what it raised
    seconds: float = 0.0
    equivalent: str | None = None                  # the argument, when the mutant is listed as equivalent
    confirmed: str | None = None                   # a survivor graded again by confirm(): its status there

    @property
    def killed(self) -> bool:
        return self.status in KILLED

    @property
    def verdict(self) -> str:
        """killed / survived / equivalent (a listed mutant that survived)."""
        if self.killed:
            return "killed"
        if self.status == "survived" and self.equivalent is not None:
            return "equivalent"
        return self.status


@dataclass
class NotebookRun:
    """The reference's run and the setup's problems, for the report."""

    notebook: str
    setup_errors: list[str] = field(default_factory=list)
    reference: dict[str, Outcome] = field(default_factory=dict)
    reference_seconds: float = 0.0
    limit: float = 0.0
    leaked: str | None = None          # the reference failed after the mutants: state leaked between them
    reset_note: str | None = None      # the lean reset was not enough, so the whole setup ran between mutants
    reset_statements: int = 0
    seconds: dict[str, float] = field(default_factory=dict)   # phase -> wall seconds: start, setup, reference, ...

    def spent(self, phase: str, since: float) -> float:
        now = time.monotonic()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - since
        return now
    kernel_starts: int = 0

    @property
    def reference_failures(self) -> dict[str, str]:
        return {k: o.summary() for k, o in self.reference.items() if not o.ok}


@dataclass
class LessonRun:
    """Every result of one lesson, with its timing."""

    lesson: str
    results: list[Result] = field(default_factory=list)
    notebooks: list[NotebookRun] = field(default_factory=list)
    seconds: float = 0.0
    total: int = 0                     # mutants of the lesson (all, not only those run)

    @property
    def broken(self) -> dict[str, dict[str, str]]:
        """Notebooks whose reference solution fails its own graded cells."""
        return {n.notebook: n.reference_failures for n in self.notebooks if n.reference_failures}

    def count(self, verdict: str) -> int:
        return sum(1 for r in self.results if r.verdict == verdict)

    @property
    def survivors(self) -> list[Result]:
        return [r for r in self.results if r.verdict == "survived"]

    @property
    def kill_rate(self) -> float | None:
        live = sum(1 for r in self.results if r.verdict in ("killed", "survived"))
        return None if not live else self.count("killed") / live


def sample(mutants: list[Mutant], n: int, seed: str | int, *, exclude: Iterable[str] = ()) -> list[Mutant]:
    """``n`` mutants drawn at random with ``seed`` (the same every run), leaving out ``exclude``d ids.

    The draw is stratified by operator kind: domain and generic mutants in proportion to their
    numbers (at least one of each kind there is), so that every sample has some of the mistakes
    the course is about, whatever the seed. Returned in the mutants' own order.
    """
    skip = set(exclude)
    pool = [m for m in mutants if m.id not in skip]
    if len(pool) <= n:
        return pool
    rng = random.Random(f"{seed}:{pool[0].lesson}")
    strata = {kind: [m for m in pool if m.kind == kind] for kind in ("domain", "generic")}
    strata = {k: v for k, v in strata.items() if v}
    quota = {k: max(1, round(n * len(v) / len(pool))) for k, v in strata.items()}
    while sum(quota.values()) > n:
        quota[max(quota, key=lambda k: quota[k])] -= 1
    while sum(quota.values()) < n:
        quota[max(strata, key=lambda k: len(strata[k]) - quota[k])] += 1
    picked = set()
    for kind, members in strata.items():
        picked |= {id(m) for m in rng.sample(members, min(quota[kind], len(members)))}
    return [m for m in pool if id(m) in picked]


class LessonRunner:
    """Runs mutants of one lesson; see the module's docstring."""

    def __init__(self, lesson: Lesson, *, limit: float | None = None, stop_early: bool = False,
                 equivalents: dict[str, str] | None = None, on_result: Callable[[Result], None] | None = None,
                 on_phase: Callable[[str], None] | None = None, check_after: bool = True, fast: bool = False):
        self.lesson = lesson
        self.limit = limit
        self.fast = fast
        self.stop_early = stop_early or fast
        self.equivalents = equivalents or {}
        self.on_result = on_result or (lambda r: None)
        self.on_phase = on_phase or (lambda s: None)
        self.check_after = check_after

    def run(self, mutants: list[Mutant]) -> LessonRun:
        began = time.monotonic()
        out = LessonRun(self.lesson.name, total=len(mutants))
        with tempfile.TemporaryDirectory(prefix=f"mutants-{self.lesson.name}-") as tmp:
            work = Path(tmp) / self.lesson.name
            shutil.copytree(self.lesson.folder, work)
            for nb in self.lesson.notebooks:
                mine = [m for m in mutants if m.notebook == nb.name]
                if mine and not (self.fast and self._fast(nb, mine, work, out)):
                    self._notebook(nb, mine, work, out)
        out.seconds = time.monotonic() - began
        return out

    # -- one notebook -----------------------------------------------------------------------------
    def _notebook(self, nb: Notebook, mutants: list[Mutant], cwd: Path, out: LessonRun) -> None:
        record = NotebookRun(nb.name)
        out.notebooks.append(record)
        kernel = Kernel(cwd)
        reset = nb.reset
        try:
            t = self._start(kernel, nb, nb.setup, record)
            # Before each mutant the world is rebuilt by the lean reset (a killed mutant may leave a
            # queue full or a fault armed); the reference runs on a rebuilt world too, so that a
            # reset that is not enough shows up here, once, and the whole setup takes its place.
            self.on_phase(self._where(nb, "reference"))
            self._setup(kernel, reset, record)
            began = record.spent("reset", t)
            status, outcomes = self._run(kernel, nb, None, SETUP_LIMIT, stop_early=False)
            record.reference_seconds = time.monotonic() - began
            t = record.spent("reference", began)
            if status == "killed":
                failed = sorted(k for k, o in outcomes.items() if not o.ok)
                kernel.restart()
                self._setup(kernel, nb.setup, record)
                began = time.monotonic()
                status, outcomes = self._run(kernel, nb, None, SETUP_LIMIT, stop_early=False)
                record.reference_seconds = time.monotonic() - began
                if status == "survived":
                    record.reset_note = (f"the reference failed {failed} after the lean reset: the whole setup "
                                         "runs before each mutant")
                    reset = nb.setup
            record.reference = dict(outcomes)
            if status != "survived":
                for m in mutants:
                    out.results.append(Result(m, "not_run", equivalent=self.equivalents.get(m.id)))
                if status in ("timeout", "died"):
                    record.reference.setdefault("(reference)", Outcome(status, record.reference_seconds))
                return
            record.reset_statements = len(reset)
            record.limit = self.limit or min(MAX_LIMIT, max(MIN_LIMIT, LIMIT_FACTOR * record.reference_seconds))
            fresh = False
            self.on_phase(self._where(nb, "mutants"))
            for m in mutants:
                began = time.monotonic()
                if not fresh:
                    self._setup(kernel, reset, record)
                t = record.spent("reset", began)
                status, outcomes = self._run(kernel, nb, m, record.limit, stop_early=self.stop_early)
                record.spent("mutants", t)
                fresh = False
                killers = {k: o.summary() for k, o in outcomes.items() if not o.ok}
                result = Result(m, status, killers, time.monotonic() - began, self.equivalents.get(m.id))
                out.results.append(result)
                self.on_result(result)
                if status in ("timeout", "died"):
                    t = time.monotonic()
                    kernel.restart()
                    self._setup(kernel, nb.setup, record)
                    record.spent("restarts", t)
                    fresh = True
            if self.check_after:
                t = time.monotonic()
                if not fresh:
                    self._setup(kernel, reset, record)
                status, outcomes = self._run(kernel, nb, None, SETUP_LIMIT, stop_early=False)
                record.spent("check", t)
                if status != "survived":
                    failed = {k: o.summary() for k, o in outcomes.items() if not o.ok}
                    record.leaked = (f"after the mutants the reference fails {sorted(failed)}: "
                                     "a mutant left the kernel changed, so later kills may be false")
        finally:
            record.kernel_starts = kernel.starts
            kernel.shutdown()

    def _start(self, kernel: Kernel, nb: Notebook, setup: list, record: NotebookRun) -> float:
        """Start the notebook's kernel and run ``setup`` in it, timed on ``record``; returns when it ended."""
        self.on_phase(self._where(nb, "setup"))
        t = time.monotonic()
        kernel.start()
        t = record.spent("start", t)
        self._setup(kernel, setup, record)
        return record.spent("setup", t)

    def _fast(self, nb: Notebook, mutants: list[Mutant], cwd: Path, out: LessonRun) -> bool:
        """The CI sample's way: only the lean setup, each mutant until its first failing graded cell,
        then the reference through the cells that killed (it must pass them in the same world).

        Returns False, keeping no result, when the reference fails one of those cells: then the thorough
        way runs (the whole setup, the whole reference first), which also says why.
        """
        record = NotebookRun(nb.name)
        kernel = Kernel(cwd)
        results: list[Result] = []
        try:
            self._start(kernel, nb, nb.reset, record)
            record.reset_statements = len(nb.reset)
            record.limit = self.limit or FAST_LIMIT
            fresh = True
            self.on_phase(self._where(nb, "mutants"))
            for m in mutants:
                began = time.monotonic()
                if not fresh:
                    self._setup(kernel, nb.reset, record)
                t = record.spent("reset", began)
                status, outcomes = self._run(kernel, nb, m, record.limit, stop_early=True)
                record.spent("mutants", t)
                fresh = False
                killers = {k: o.summary() for k, o in outcomes.items() if not o.ok}
                results.append(Result(m, status, killers, time.monotonic() - began, self.equivalents.get(m.id)))
                if status in ("timeout", "died"):
                    t = time.monotonic()
                    kernel.restart()
                    self._setup(kernel, nb.reset, record)
                    record.spent("restarts", t)
                    fresh = True
            cells = {k for r in results if r.status == "killed" for k in r.killers}
            t = time.monotonic()
            if not fresh:
                self._setup(kernel, nb.reset, record)
            status, outcomes = self._run(kernel, nb, None, SETUP_LIMIT, stop_early=False, only=cells)
            record.spent("reference", t)
            record.reference = dict(outcomes)
            if status != "survived":
                return False
        finally:
            record.kernel_starts = kernel.starts
            kernel.shutdown()
        out.notebooks.append(record)
        for r in results:
            out.results.append(r)
            self.on_result(r)
        return True

    def _where(self, nb: Notebook, phase: str) -> str:
        return phase if len(self.lesson.notebooks) == 1 else f"{nb.name}: {phase}"

    def _setup(self, kernel: Kernel, units: list, record: NotebookRun) -> None:
        for unit in units:
            outcome = kernel.run(unit.source, SETUP_LIMIT)
            if not outcome.ok:
                first = unit.source.strip().splitlines()[0][:80]
                problem = f"cell {unit.cell} ({first}): {outcome.summary()}"
                if problem not in record.setup_errors:
                    record.setup_errors.append(problem)
                if outcome.status in ("timeout", "died"):
                    kernel.restart()

    def _run(self, kernel: Kernel, nb: Notebook, mutant: Mutant | None, limit: float, *,
             stop_early: bool, only: set[str] | None = None) -> tuple[str, dict[str, Outcome]]:
        """Run one mutant (None: the reference), through every graded cell or ``only`` those.

        Returns its status and each graded cell's outcome.
        """
        names = sorted(nb.solution_names)
        kernel.run(f"for _mutants_name in {names!r}:\n    globals().pop(_mutants_name, None)\n"
                   "globals().pop('_mutants_name', None)\n", 30)
        deadline = time.monotonic() + limit
        outcomes: dict[str, Outcome] = {}
        status = "survived"
        for unit in nb.per_mutant:
            if only is not None and unit.kind == "graded" and unit.grade_id not in only:
                continue
            code = unit.source
            if mutant is not None and unit.kind == "solution" and unit.grade_id == mutant.grade_id:
                code = mutant.source
            outcome = kernel.run(code, deadline - time.monotonic())
            if outcome.status in ("timeout", "died"):
                outcomes[unit.grade_id or f"cell {unit.cell}"] = outcome
                return outcome.status, outcomes
            if unit.kind == "graded":
                outcomes[unit.grade_id] = outcome
                if not outcome.ok:
                    status = "killed"
                    if stop_early:
                        break
        return status, outcomes


def confirm(lesson: Lesson, mutant: Mutant, *, limit: float = MAX_LIMIT) -> Result:
    """Grade ``mutant`` the slow, faithful way: a fresh kernel runs its whole notebook, every cell in order.

    This is what nbgrader does with a submission (with the hidden tests in place), without the
    runner's shortcuts (setup once, statements skipped or re-run by data flow, the world rebuilt
    between mutants): a survivor confirmed here is a real survivor.
    """
    nb = next(n for n in lesson.notebooks if n.name == mutant.notebook)
    began = time.monotonic()
    killers: dict[str, str] = {}
    status = "survived"
    with tempfile.TemporaryDirectory(prefix=f"mutants-{lesson.name}-") as tmp:
        work = Path(tmp) / lesson.name
        shutil.copytree(lesson.folder, work)
        with Kernel(work) as kernel:
            for cell in nb.cells:
                code = mutant.source if cell.kind == "solution" and cell.grade_id == mutant.grade_id else cell.source
                outcome = kernel.run(code, max(1.0, limit - (time.monotonic() - began)))
                if outcome.status in ("timeout", "died"):
                    killers[cell.grade_id or f"cell {cell.cell}"] = outcome.summary()
                    status = outcome.status
                    break
                if cell.kind == "graded" and not outcome.ok:
                    killers[cell.grade_id] = outcome.summary()
                    status = "killed"
    return Result(mutant, status, killers, time.monotonic() - began)
