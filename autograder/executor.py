"""nbgrader's Execute preprocessor, made to survive bad submissions and to trust nothing the learner owns.

On top of nbgrader's ``Execute`` (which it subclasses, so grades still flow through nbgrader's
own preprocessors and gradebook), :class:`SandboxedExecute`:

* runs every notebook **twice when it has to**: a **clean run** of the release's own cells with
  only the submission's solution cells put in (the graded cells always the release's, hidden
  tests included) decides the points; the **learner's full run** (every cell they submitted)
  gives the feedback, so a name they defined outside the answer cells is explained, not counted.
  When the submission's code cells are the clean notebook's (a learner who only wrote answers),
  one run serves both;
* runs each graded test through the kernel's audit hook (``kernel_boot.py``): the cell sent to
  the kernel is one line carrying the test encrypted under a per-kernel secret; the hook resets
  IPython's hooks and the bench, runs the test, checks the bench again, and reports on a channel
  only it can sign. A test passes when the hook saw it finish **and** no error went by on the
  kernel's output channel; ``clear_output`` and ``execute_result`` are ignored in graded cells, so
  nothing the kernel prints or clears can pass a test;
* gives each cell a timeout out of one **budget per run**; a cell that runs past it is
  interrupted and the notebook goes on; when a cell **kills the kernel** or **ignores the
  interrupt**, runs the notebook again from the start in a fresh kernel with that cell replaced by
  an error (at most ``max_attempts`` runs), so the graded cells that do not depend on it count;
* retries a kernel that will not start, and says so (``kernel_error``) rather than grading zero;
* caps the **output** a submission may print;
* collects what the hook flagged (frames, tracing, ``gc``, ``ctypes``, hooks reset, the bench
  written to) for the ``review`` and ``tampered`` statuses, and runs the bench's **canary** at the
  end; if the canary fails and no test explains it, the run is repeated with the canary after
  every test, and the tests that ran with the bench changed are given an error (nbgrader scores
  them 0).

What happened is collected in :data:`LAST_RUN` (the worker is single-threaded and reads it after
nbgrader's converter returns).

The module is long because it is one nbgrader preprocessor: :class:`SandboxedExecute` keeps the
state a notebook's runs share (the kernel's secret, the hook's records, the deadline, the trusted
cells) and nbgrader calls it as one class; the helpers that need none of it sit above it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, List, Unicode

from . import kernel_boot

PROBE_KEY = "sqslab_grader_probe"
INDEX_KEY = "sqslab_grader_index"
#: Grader-side names of things in the bench that change while tests run (not tampering).
MUTABLE_OK = ("failures",)
#: Bench packages the hook does not import at setup: the views and the tooling, which no test relies
#: on (``sqslab.views``, ``sqslab.tools``; a view a notebook imports later is snapshotted when the
#: grader first sees it).
SKIP_MODULES = ("views", "tools")
#: Modules whose functions and classes are snapshotted and restored before each test.
GUARD_PREFIXES = ("IPython", "ipykernel", "jupyter_client", "zmq", "traitlets", "comm")


@dataclass
class Incident:
    """Something that stopped a cell: a timeout, a dead kernel, a limit."""

    kind: str            # timeout | kernel_died | limit_exceeded
    cell: int            # index in the graded notebook
    detail: str
    grade_id: str | None = None
    run: str = "full"


@dataclass
class RunInfo:
    """One run of a notebook (clean, full, or both when they are the same)."""

    role: str = "full"
    attempts: int = 0
    incidents: list[Incident] = field(default_factory=list)
    canary_ok: bool | None = None
    canary_reason: str = ""
    voided: dict[str, str] = field(default_factory=dict)      # grade_id -> why
    not_run: dict[str, str] = field(default_factory=dict)     # grade_id -> why
    tests: dict[str, dict] = field(default_factory=dict)      # grade_id -> the hook's record
    errors_seen: dict[str, dict] = field(default_factory=dict)  # grade_id -> the error on the channel
    flags: list[dict] = field(default_factory=list)           # what the hook flagged in learner cells
    tampering: list[str] = field(default_factory=list)        # sentences: the bench seen changed
    reviews: list[str] = field(default_factory=list)          # sentences: reached into internals
    output_dropped: int = 0
    output_cell: int | None = None
    kernel_error: str | None = None
    kernel_log: str = ""
    elapsed: float = 0.0


@dataclass
class RunReport:
    """Everything the executor saw, for statuses and feedback."""

    clean: RunInfo | None = None
    full: RunInfo | None = None
    same: bool = False            # one run served as both
    elapsed: float = 0.0

    @property
    def runs(self) -> list[RunInfo]:
        """The runs made, clean first (one when a single run served as both)."""
        out = []
        for run in (self.clean, self.full):
            if run is not None and not any(run is r for r in out):
                out.append(run)
        return out


#: The report of the last notebook executed in this process.
LAST_RUN: RunReport | None = None


def _note(notes: list[str], text: str, key: str) -> None:
    """Add ``text`` unless a note about ``key`` is already there (at most 12)."""
    if len(notes) < 12 and not any(key in n for n in notes):
        notes.append(text)


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _is_test(cell) -> bool:
    meta = _nbgrader(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def _is_solution(cell) -> bool:
    return bool(_nbgrader(cell).get("solution")) and cell.get("cell_type") == "code"


def _has_error(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def ipython_text(source: str) -> str:
    """A cell's source as IPython compiles it (its default transforms: magics, prompts)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # a cell IPython cannot transform is compiled as it is, and fails there
        return source


def text_sha(source: str) -> str:
    """The hash the kernel's hook records for a cell's compiled text."""
    return hashlib.sha256(ipython_text(source).strip().encode("utf-8", "surrogatepass")).hexdigest()


def clean_notebook(release: NotebookNode, submission: NotebookNode) -> NotebookNode:
    """The release with the submission's solution cells (by grade_id) and its graded test cells.

    The graded cells come from ``submission`` as nbgrader's OverwriteCells left it (the course's
    source, hidden tests included); every other cell is the release's own.
    """
    solutions = {}
    tests = {}
    for cell in submission.cells:
        gid = _nbgrader(cell).get("grade_id")
        if not gid:
            continue
        if _is_solution(cell) and gid not in solutions:
            solutions[gid] = cell
        elif _is_test(cell) and gid not in tests:
            tests[gid] = cell
    clean = copy.deepcopy(release)
    for cell in clean.cells:
        gid = _nbgrader(cell).get("grade_id")
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
        if gid and _is_solution(cell) and gid in solutions:
            cell.source = _source(solutions[gid])
        elif gid and _is_test(cell) and gid in tests:
            cell.source = _source(tests[gid])
            cell.metadata["nbgrader"] = copy.deepcopy(dict(tests[gid].metadata["nbgrader"]))
    return clean


def names_used(sources) -> set[str]:
    """Global names the graded tests read (a test must read the bench's objects under them)."""
    import ast

    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(ipython_text(source))
        except (SyntaxError, ValueError):
            continue
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return names


def same_code(a: NotebookNode, b: NotebookNode) -> bool:
    """True when two notebooks run the same code cells in the same order."""
    def code(nb):
        return [_source(c) for c in nb.cells if c.get("cell_type") == "code" and _source(c).strip()]

    return code(a) == code(b)


class SandboxedExecute(Execute):
    """nbgrader's Execute with a clean run, the grader's hook, a budget, re-runs and output caps."""

    submission_timeout = Integer(300, help="Wall-clock seconds for one run of a notebook.").tag(config=True)
    cell_timeout = Integer(60, help="Wall-clock seconds for one cell.").tag(config=True)
    probe_timeout = Integer(120, help="Seconds for one of the grader's probes.").tag(config=True)
    max_attempts = Integer(3, help="Runs of the notebook when cells kill or hang the kernel.").tag(config=True)
    kernel_start_attempts = Integer(3, help="Tries to start a kernel before giving up.").tag(config=True)
    max_output_lines = Integer(20000, help="Lines of output a notebook may print.").tag(config=True)
    max_output_bytes = Integer(4_000_000, help="Bytes of output a notebook may print.").tag(config=True)
    canary = Unicode("sqslab:canary", help="module:function of the bench's canary").tag(config=True)
    bench = Unicode("sqslab", help="the bench's package (snapshotted, guarded, restored)").tag(config=True)
    runtime_root = Unicode("", help="Where each kernel gets a fresh runtime folder (connection file, "
                                    "ipc sockets, log, the hook's report); empty: a temporary folder.").tag(config=True)
    release_root = Unicode("", help="The course's release folder (<assignment>/<notebook>.ipynb): the "
                                    "clean run's notebook. Empty: no clean run.").tag(config=True)
    clean_run = Bool(True, help="Score from a clean run of the release with the submission's "
                                "solution cells.").tag(config=True)
    guard_prefixes = List(list(GUARD_PREFIXES), help="Modules snapshotted besides the bench.").tag(config=True)
    always_two_runs = Bool(False, help="Run the clean and the full run apart even when their code is the "
                                       "same (to measure what the clean run costs).").tag(config=True)
    clean_cache_dir = Unicode("", help="Where clean runs are kept by the hash of their notebook, so learners "
                                       "whose answer cells are the same share one (empty: no sharing).").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shutdown_kernel = "immediate"
        self._run_dirs: list[str] = []
        self._key = b""
        self._seq = 0
        self._records: list[dict] = []
        self._bad_records = 0
        self._release_sources: set[str] | None = None
        self._trusted: set[str] = set()
        self._test_names: set[str] = set()

    # -- kernels ---------------------------------------------------------------------------------
    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        from . import sandbox

        root = self.runtime_root or tempfile.gettempdir()
        # A new folder for every kernel: the sandbox's uid owns it while its kernel runs, so a
        # folder it ever owned must never be written by the grader again. The secret and the
        # hook's report live beside it, outside what the sandbox can see.
        run_dir = tempfile.mkdtemp(prefix="k", dir=root)
        sandbox.mark(run_dir)
        km.connection_file = os.path.join(run_dir, "k.json")
        self._run_dirs.append(run_dir)
        self._key = os.urandom(32)
        self._seq = 0
        fd = os.open(run_dir + ".key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self._key.hex())
        return km

    def _kernel_log(self) -> str:
        for run_dir in reversed(self._run_dirs):
            path = os.path.join(run_dir, "kernel.log")
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, errors="replace") as f:
                    return f.read()[-1500:]
        return ""

    def _read_records(self) -> None:
        """The hook's report of the current kernel, verified."""
        self._records, self._bad_records = [], 0
        if not self._run_dirs:
            return
        path = self._run_dirs[-1] + ".audit"
        try:
            with open(path, "rb") as f:
                raw = f.read(64 * 2**20)
        except OSError:
            return
        self._records, self._bad_records = kernel_boot.read_report(self._key, raw)

    def _drop_run_dirs(self) -> None:
        for run_dir in self._run_dirs:
            shutil.rmtree(run_dir, ignore_errors=True)
            for extra in (".key", ".audit"):
                try:
                    os.unlink(run_dir + extra)
                except OSError:
                    pass
        self._run_dirs = []

    # -- the notebook ------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        global LAST_RUN
        report = LAST_RUN = RunReport()
        started = time.monotonic()
        clean_nb = self._clean_source(nb, resources)
        if clean_nb is None:
            executed, info = self._run(nb, resources, "full")
            report.full = info
        elif same_code(clean_nb, nb) and not self.always_two_runs:
            executed, info = self._run(nb, resources, "both")
            report.clean = report.full = info
            report.same = True
        else:
            cached = self._cached_clean(clean_nb)
            if cached is not None:
                clean_exec, clean_info = cached
            else:
                clean_exec, clean_info = self._run(clean_nb, resources, "clean")
                self._keep_clean(clean_nb, clean_exec, clean_info)
            report.clean = clean_info
            executed, info = self._run(nb, resources, "full")
            report.full = info
            # Points come from the clean run: its graded cells' outputs replace the full run's.
            graded = {_nbgrader(c).get("grade_id"): c for c in clean_exec.cells if _is_test(c)}
            for cell in executed.cells:
                gid = _nbgrader(cell).get("grade_id")
                if _is_test(cell) and gid in graded:
                    cell.outputs = copy.deepcopy(graded[gid].outputs)
                    cell.execution_count = graded[gid].get("execution_count")
                elif _is_test(cell):
                    cell.outputs = [_error_output("NotRun", "not run: this test is not in the clean run")]
        report.elapsed = round(time.monotonic() - started, 3)
        nb.cells = executed.cells
        nb.metadata.update({k: v for k, v in executed.metadata.items() if k == "language_info"})
        return nb, resources

    # -- clean runs shared by identical answers ----------------------------------------------------
    def _clean_key(self, clean_nb) -> str | None:
        if not self.clean_cache_dir:
            return None
        cells = [[c.get("cell_type"), _source(c), _nbgrader(c)] for c in clean_nb.cells]
        text = json.dumps([cells, self.submission_timeout, self.cell_timeout, self.canary, self.bench],
                          sort_keys=True)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _cached_clean(self, clean_nb):
        """A clean run of the very same notebook made earlier in this grading (same answers, same course)."""
        key = self._clean_key(clean_nb)
        path = os.path.join(self.clean_cache_dir, key + ".json") if key else None
        if not path or not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            info = RunInfo(**{k: v for k, v in data["info"].items() if k != "incidents"})
            executed = copy.deepcopy(clean_nb)
            graded = data["graded"]
            for cell in executed.cells:
                gid = _nbgrader(cell).get("grade_id")
                if _is_test(cell) and gid in graded:
                    cell.outputs = [NotebookNode(o) for o in graded[gid]["outputs"]]
                    cell.execution_count = graded[gid]["execution_count"]
            info.elapsed = 0.0  # shared: nothing ran for this learner
            return executed, info
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _keep_clean(self, clean_nb, executed, info: RunInfo) -> None:
        key = self._clean_key(clean_nb)
        # Only a run that went as planned is shared: a timeout or a dead kernel is each learner's own.
        if not key or info.incidents or info.kernel_error or info.canary_ok is False:
            return
        import dataclasses

        graded = {_nbgrader(c).get("grade_id"): {"outputs": c.get("outputs", []), "execution_count":
                                                  c.get("execution_count")} for c in executed.cells if _is_test(c)}
        data = {"info": dataclasses.asdict(info), "graded": graded}
        os.makedirs(self.clean_cache_dir, exist_ok=True)
        path = os.path.join(self.clean_cache_dir, key + ".json")
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)

    def _clean_source(self, nb, resources):
        if not self.clean_run or not self.release_root:
            return None
        meta = (resources or {}).get("nbgrader", {})
        assignment, notebook = meta.get("assignment"), meta.get("notebook")
        if not assignment or not notebook:
            return None
        path = os.path.join(self.release_root, assignment, notebook + ".ipynb")
        if not os.path.isfile(path):
            return None
        import nbformat

        with open(path, encoding="utf-8") as f:
            release = nbformat.read(f, as_version=4)
        self._release_sources = {_source(c) for c in release.cells if c.get("cell_type") == "code"}
        return clean_notebook(release, nb)

    def _run(self, nb, resources, role: str):
        """Run one notebook (with re-runs); returns (the executed notebook, what happened)."""
        info = RunInfo(role=role)
        self._info = info
        started = time.monotonic()
        self._deadline = started + self.submission_timeout
        self._trusted = self._trusted_shas(nb, role)
        self._test_names = names_used(_source(c) for c in nb.cells if _is_test(c))
        plan = self._instrument(nb, localize=False)
        skip: dict[int, str] = {}
        work = None
        localized = False
        while True:
            info.attempts += 1
            work = copy.deepcopy(plan)
            outcome = self._attempt(work, resources, skip)
            if outcome is None:
                self._apply_records(work, info)
                if not localized and info.canary_ok is False and not info.voided \
                        and any(_is_test(c) for c in nb.cells) and time.monotonic() < self._deadline:
                    # Which graded cells ran with the bench still intact? Run again, asking after each.
                    localized = True
                    first_reason = info.canary_reason
                    plan = self._instrument(nb, localize=True)
                    info.incidents.clear()
                    info.output_dropped, info.output_cell = 0, None
                    retry = copy.deepcopy(plan)
                    info.attempts += 1
                    self._attempt(retry, resources, dict(skip))
                    work = retry
                    self._apply_records(work, info, localize=True)
                    if info.canary_ok is not False:
                        info.canary_ok, info.canary_reason = False, first_reason
                break
            kind, index, detail = outcome
            if index is None:
                info.kernel_error = detail
                break
            cell = work.cells[index]
            if (cell.metadata.get(PROBE_KEY) or {}).get("role") in ("setup", "final"):
                # The bench hung or killed the kernel during the grader's own probe.
                self._apply_records(work, info)
                info.canary_ok = False
                info.canary_reason = f"the bench did not answer the grader's self-check ({detail})"
                if info.canary_reason not in info.tampering:
                    info.tampering.append(info.canary_reason)
                break
            info.incidents.append(Incident(kind, self._original_index(work, index), detail,
                                           _nbgrader(cell).get("grade_id"), role))
            skip[index] = detail
            if info.attempts >= self.max_attempts or time.monotonic() >= self._deadline:
                self._apply_records(work, info)
                self._fill_unrun(work, index + 1, "not run: the grader gave up on this notebook "
                                                  f"after {info.attempts} runs ({detail})")
                break
        seen = set()
        info.incidents = [i for i in info.incidents
                          if (i.kind, i.cell, i.detail) not in seen and not seen.add((i.kind, i.cell, i.detail))]
        clean = self._strip_probes(work)
        self._mark_not_run(clean, info)
        info.elapsed = round(time.monotonic() - started, 3)
        return clean, info

    def _attempt(self, work, resources, skip):
        """Run ``work`` once; None when it ran to the end, else (kind, cell index, detail)."""
        last_error = None
        for start in range(max(1, self.kernel_start_attempts)):
            self._skip = skip
            self._current = None
            self._exit_code = None
            self._out_lines = 0
            self._out_bytes = 0
            self._seen_errors: dict[int, dict] = {}
            self._records, self._bad_records = [], 0
            try:
                super().preprocess(work, resources)
                return None
            except DeadKernelError:
                if self._current is None:
                    last_error = "the kernel died as it started"
                    self._info.kernel_log = self._kernel_log()
                    self._reset_work(work)
                    time.sleep(1 + start)
                    continue
                return self._classify_death(self._current)
            except CellTimeoutError:
                return ("timeout", self._current,
                        f"still running {self._timeout_for(work.cells[self._current]) if self._current is not None else ''}"
                        f"s after it started, and it ignored the interrupt")
            except (RuntimeError, TimeoutError, OSError) as exc:
                if self._current is None:
                    # The kernel did not start (or never answered): try again, then say so.
                    last_error = f"{type(exc).__name__}: {exc}"
                    self._info.kernel_log = self._kernel_log()
                    self._reset_work(work)
                    time.sleep(1 + start)
                    continue
                return ("kernel_died", self._current, str(exc))
            finally:
                self._read_records()
                self._drop_run_dirs()
                self.km = None
                self.kc = None
        return ("error", None, f"the grading kernel did not start after {self.kernel_start_attempts} "
                               f"tries ({last_error})")

    @staticmethod
    def _reset_work(work) -> None:
        for cell in work.cells:
            if cell.get("cell_type") == "code":
                cell.outputs, cell.execution_count = [], None

    def _classify_death(self, index):
        code = self._exit_code
        if code in (128 + 24, -24):
            return ("limit_exceeded", index, "the kernel used up its CPU-time limit and was stopped")
        if code in (128 + 9, -9):
            return ("kernel_died", index, "the kernel was killed (SIGKILL), most likely out of memory")
        if code is None:
            return ("kernel_died", index, "the kernel died")
        if code > 128:
            return ("kernel_died", index, f"the kernel died from signal {code - 128}")
        return ("kernel_died", index, f"the kernel exited (exit code {code})")

    # -- probes and graded cells -----------------------------------------------------------------
    def _probe(self, role: str, grade_id: str | None = None, **extra) -> NotebookNode:
        cell = new_code_cell("")
        cell.metadata[PROBE_KEY] = {"role": role, "grade_id": grade_id, **extra}
        return cell

    def _instrument(self, nb, *, localize: bool):
        work = copy.deepcopy(nb)
        cells = [self._probe("setup")]
        for index, cell in enumerate(nb.cells):
            cell = copy.deepcopy(cell)
            cell.metadata[INDEX_KEY] = index
            if _is_test(cell):
                cell.metadata[PROBE_KEY] = {"role": "test", "grade_id": _nbgrader(cell).get("grade_id"),
                                            "canary": localize, "source": _source(cell)}
            cells.append(cell)
        cells.append(self._probe("final"))
        work.cells = cells
        return work

    def _command(self, cmd: str, *args) -> str:
        self._seq += 1
        n = kernel_boot.nonce(self._key, cmd, self._seq, *args)
        rendered = ", ".join(json.dumps(a) for a in args)
        line = (f'__import__("sys").audit({json.dumps(kernel_boot.EVENT)}, "{n}", {json.dumps(cmd)}, '
                f'{self._seq}' + (f", {rendered}" if rendered else "") + ")")
        # Events the hook attributes to this line are the grader's, not the learner's.
        self._trusted.add(text_sha(line))
        return line

    def _probe_source(self, cell) -> str:
        probe = cell.metadata[PROBE_KEY]
        role = probe["role"]
        if role == "setup":
            spec = json.dumps({"bench": self.bench, "canary": self.canary, "guard": list(self.guard_prefixes),
                               "mutable_ok": list(MUTABLE_OK), "skip_modules": list(SKIP_MODULES),
                               "test_names": sorted(self._test_names), "trusted": sorted(self._trusted)},
                              sort_keys=True)
            return self._command("setup", spec)
        if role == "final":
            return self._command("final")
        gid = probe["grade_id"]
        salt = f"{self._seq + 1}:{gid}"
        cipher = kernel_boot.encrypt(self._key, salt, ipython_text(probe["source"]))
        return self._command("test", gid, salt, cipher, "1" if probe.get("canary") else "0")

    def _trusted_shas(self, nb, role: str) -> set[str]:
        """Hashes of the cells that are not the learner's in this run (flags there do not count)."""
        release = self._release_sources
        trusted = set()
        for cell in nb.cells:
            if cell.get("cell_type") != "code" or _is_solution(cell):
                continue
            if role in ("clean", "both") or release is None or _source(cell) in release:
                trusted.add(text_sha(_source(cell)))
        return trusted

    def _apply_records(self, work, info: RunInfo, localize: bool = False) -> None:
        """Turn the hook's report into each graded cell's verdict (the outputs nbgrader scores)."""
        records = self._records
        setup = next((r for r in records if r.get("kind") == "setup"), None)
        tests: dict[str, dict] = {}
        for r in records:
            if r.get("kind") == "test" and isinstance(r.get("grade_id"), str):
                tests[r["grade_id"]] = r
        final = next((r for r in records if r.get("kind") == "final"), None)
        info.tests = tests
        if self._bad_records:
            info.tampering.append(f"the notebook's code wrote {self._bad_records} line(s) into the grader's "
                                  "report that the grader did not sign")
        for r in records:
            if r.get("kind") == "rebound":
                for name in r.get("names") or []:
                    _note(info.tampering, f"the name {name}, which the tests use, was bound to something other "
                                          f"than the bench's {name} (put back for the tests)", f"the name {name},")
            if r.get("kind") == "forged":
                text = "the notebook's code called the grader's probe without its secret"
                if text not in info.tampering:
                    info.tampering.append(text)
        if setup is None or not setup.get("ok"):
            why = "; ".join((setup or {}).get("errors", [])[:2]) or "the grader's setup did not run"
            info.canary_ok, info.canary_reason = False, why
        flags = [r for r in records if r.get("kind") == "flag"]
        info.flags = [f for f in flags if not set(f.get("shas") or ["?"]) <= self._trusted]
        voided_from = None
        for index, cell in enumerate(work.cells):
            probe = cell.metadata.get(PROBE_KEY) or {}
            if probe.get("role") != "test":
                continue
            gid = probe.get("grade_id")
            seen_error = self._seen_errors.get(index)
            if seen_error:
                info.errors_seen[gid] = seen_error
            # The autograded notebook shows the test as the course wrote it, not the grader's line.
            cell.source = probe.get("source", cell.source)
            if any(o.get("ename") in ("GraderSkipped", "NotRun") for o in cell.get("outputs", [])
                   if o.get("output_type") == "error"):
                continue
            rec = tests.get(gid)
            outs = [o for o in cell.get("outputs", []) if o.get("output_type") != "execute_result"]
            if rec is None:
                if cell.get("execution_count") is None and not outs:
                    continue  # never sent: the notebook stopped before it
                outs = [o for o in outs if o.get("output_type") != "error"]
                outs.append(_error_output("NoResult", "the grader saw no result for this test: its check did "
                                                      "not run (something in the notebook stopped it)"))
                cell.outputs = outs
                continue
            for item in rec.get("restored") or []:
                _note(info.tampering, f"{item} was changed before test {gid} (put back for the test)", item)
            for name in rec.get("rebound") or []:
                _note(info.tampering, f"the name {name}, which the tests use, no longer referred to the bench's "
                                      f"{name} before test {gid} (put back for the test)", f"the name {name},")
            for item in rec.get("reset_hooks") or []:
                _note(info.reviews, f"IPython's {item} was changed (reset before test {gid})", f"IPython's {item} ")
            during = rec.get("changed_during") or []
            canary_bad = localize and rec.get("canary_ok") is False
            if during or canary_bad or voided_from is not None:
                why = (during[0] if during else rec.get("canary_reason") if canary_bad else voided_from)
                if voided_from is None and canary_bad:
                    voided_from = why
                info.voided[gid] = why
                if during:
                    _note(info.tampering, f"{during[0]} changed while test {gid} ran", during[0])
                outs = [o for o in outs if o.get("output_type") != "error"]
                outs.append(_error_output("BenchTampered", "not counted: the bench or the kernel was changed by "
                                                           f"the notebook's code while this test ran ({why})"))
            elif rec.get("outcome") == "pass" and not seen_error:
                outs = [o for o in outs if o.get("output_type") != "error"]
            else:
                if not any(o.get("output_type") == "error" for o in outs):
                    err = rec.get("error") or {"ename": "TestFailed", "evalue": "the test did not pass"}
                    outs.append(_error_output(err.get("ename") or "TestFailed", err.get("evalue", "")))
            cell.outputs = outs
        if final is not None:
            info.canary_ok = final.get("canary_ok") is True and info.canary_ok is not False
            if not info.canary_ok and not info.canary_reason:
                info.canary_reason = final.get("canary_reason") or "the canary did not answer"
            for item in final.get("changed") or []:
                _note(info.tampering, f"{item} was changed after the last test", item)
        elif info.canary_ok is None and any(r.get("kind") == "test" for r in records):
            info.canary_ok, info.canary_reason = None, ""
        if info.canary_ok is False and info.canary_reason and not any(
                info.canary_reason in t for t in info.tampering):
            info.tampering.append(info.canary_reason)

    def _strip_probes(self, work):
        clean = copy.deepcopy(work)
        kept = []
        for cell in clean.cells:
            probe = cell.metadata.pop(PROBE_KEY, None)
            if probe and probe.get("role") in ("setup", "final"):
                continue
            cell.metadata.pop(INDEX_KEY, None)
            kept.append(cell)
        clean.cells = kept
        return clean

    @staticmethod
    def _original_index(work, index) -> int:
        return work.cells[index].metadata.get(INDEX_KEY, index)

    def _fill_unrun(self, work, start: int, why: str) -> None:
        for cell in work.cells[start:]:
            probe = cell.metadata.get(PROBE_KEY) or {}
            if cell.get("cell_type") == "code" and probe.get("role") not in ("setup", "final") \
                    and not cell.get("outputs"):
                cell.outputs = [_error_output("NotRun", why)]

    def _mark_not_run(self, nb, info: RunInfo) -> None:
        for cell in nb.cells:
            if _is_test(cell):
                gid = _nbgrader(cell).get("grade_id")
                if cell.get("execution_count") is None and not _has_error(cell) and gid not in info.tests:
                    cell.outputs = list(cell.get("outputs", [])) + [
                        _error_output("NotRun", "not run: the notebook stopped before this test")]
                for out in cell.outputs:
                    if out.get("output_type") == "error" and out.get("ename") in ("NotRun", "GraderSkipped"):
                        info.not_run[gid] = out.get("evalue", "")

    # -- per cell --------------------------------------------------------------------------------
    def preprocess_cell(self, cell, resources, index):
        probe = cell.metadata.get(PROBE_KEY)
        self._check_assign_resources(resources)
        if index in self._skip:
            cell.outputs = [_error_output("GraderSkipped", f"not run again: in an earlier run this cell "
                                                           f"stopped the kernel ({self._skip[index]})")]
            return cell, self.resources
        if probe and probe.get("role") == "final" and self._nothing_passed():
            # Tampering cannot raise a score of zero: skip the canary's second of work.
            return cell, self.resources
        if (not probe or probe.get("role") == "test") and time.monotonic() >= self._deadline:
            if cell.get("cell_type") == "code":
                cell.outputs = [_error_output("NotRun", f"not run: the notebook used up its "
                                                        f"{self.submission_timeout}s time budget")]
                if not any(i.kind == "timeout" and i.detail.startswith("budget") for i in self._info.incidents):
                    self._info.incidents.append(Incident(
                        "timeout", cell.metadata.get(INDEX_KEY, index),
                        f"budget: the notebook used up its {self.submission_timeout}s time budget",
                        _nbgrader(cell).get("grade_id"), self._info.role))
            return cell, self.resources
        self._current = index
        original = cell.source
        if probe:
            cell.source = self._probe_source(cell)
        try:
            # The grader's own cells stay out of the kernel's input history.
            cell = self.execute_cell(cell, index, store_history=not probe)
        finally:
            if probe and probe.get("role") == "test":
                cell.source = original
        if cell.get("cell_type") == "code" and (not probe or probe.get("role") == "test"):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and out.get("ename") == "CellTimeoutError":
                    self._info.incidents.append(Incident(
                        "timeout", cell.metadata.get(INDEX_KEY, index),
                        f"ran past its {self._timeout_for(cell)}s limit and was interrupted",
                        _nbgrader(cell).get("grade_id"), self._info.role))
                    break
        return cell, self.resources

    def _nothing_passed(self) -> bool:
        tests = [c for c in self.nb.cells if (c.metadata.get(PROBE_KEY) or {}).get("role") == "test"]
        if not tests:
            return False
        self._read_current_records()
        passed = {r.get("grade_id") for r in self._records if r.get("kind") == "test" and r.get("outcome") == "pass"}
        return not passed

    def _read_current_records(self) -> None:
        if self._run_dirs:
            try:
                with open(self._run_dirs[-1] + ".audit", "rb") as f:
                    self._records, self._bad_records = kernel_boot.read_report(self._key, f.read(64 * 2**20))
            except OSError:
                pass

    def _timeout_for(self, cell) -> int:
        probe = cell.metadata.get(PROBE_KEY) if cell is not None else None
        if probe and probe.get("role") in ("setup", "final"):
            return self.probe_timeout
        remaining = int(self._deadline - time.monotonic()) + 1
        return max(1, min(self.cell_timeout, remaining))

    def _get_timeout(self, cell):
        return self._timeout_for(cell)

    async def _async_check_alive(self):
        if not await self._alive():
            self._exit_code = self._read_exit_code()
            raise DeadKernelError("Kernel died")

    async def _alive(self) -> bool:
        from jupyter_core.utils import ensure_async

        return bool(await ensure_async(self.kc.is_alive()))

    def _read_exit_code(self):
        try:
            process = self.km.provisioner.process
            return process.poll()
        except AttributeError:
            return None

    # -- what the grader sees on the kernel's output channel -----------------------------------
    def _graded(self, cell_index) -> bool:
        cell = self.nb.cells[cell_index] if cell_index < len(self.nb.cells) else None
        return cell is not None and (cell.metadata.get(PROBE_KEY) or {}).get("role") == "test"

    def clear_output(self, outs, msg, cell_index):
        # A graded cell's output is the grader's record: nothing the kernel sends can clear it.
        if self._graded(cell_index):
            return None
        return super().clear_output(outs, msg, cell_index)

    def output(self, outs, msg, display_id, cell_index):
        cell = self.nb.cells[cell_index] if cell_index < len(self.nb.cells) else None
        probe = (cell.metadata.get(PROBE_KEY) or {}) if cell is not None else {}
        msg_type = msg["msg_type"]
        graded = probe.get("role") == "test"
        if graded:
            if msg_type == "error":
                content = msg.get("content", {})
                self._seen_errors.setdefault(cell_index, {"ename": str(content.get("ename", ""))[:200],
                                                          "evalue": str(content.get("evalue", ""))[:6000]})
            elif msg_type == "execute_result":
                return None  # nbgrader would read a number here as partial credit
        if cell is not None and (not probe or graded) and msg_type in (
                "stream", "display_data", "execute_result", "update_display_data", "error"):
            content = msg.get("content", {})
            text = content.get("text", "") if msg_type == "stream" else json.dumps(content.get("data", content))
            self._out_lines += text.count("\n")
            self._out_bytes += len(text)
            if self._out_lines > self.max_output_lines or self._out_bytes > self.max_output_bytes:
                if msg_type == "error" and graded:
                    pass  # a graded cell's error is always kept
                else:
                    dropped = max(text.count("\n"), 1)
                    if self._info.output_cell is None:
                        self._info.output_cell = cell.metadata.get(INDEX_KEY, cell_index)
                        outs.append(NotebookNode(output_type="stream", name="stdout", text=(
                            f"\n[grader] output limit reached ({self.max_output_lines} lines / "
                            f"{self.max_output_bytes} bytes per notebook): the rest is not kept\n")))
                    self._info.output_dropped += dropped
                    return None
        if graded:
            # Straight into the cell: no output hook (a widget the kernel opened) may redirect it.
            from nbformat.v4 import output_from_msg

            try:
                out = output_from_msg(msg)
            except ValueError:
                return None
            outs.append(out)
            return out
        return super().output(outs, msg, display_id, cell_index)
