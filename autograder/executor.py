"""nbgrader's Execute preprocessor, made to survive bad submissions and to watch the bench.

On top of nbgrader's ``Execute`` (which it subclasses, so grades still flow through nbgrader's
own preprocessors and gradebook), :class:`SandboxedExecute`:

* gives each cell a timeout out of one **budget per submission**; a cell that runs past it is
  interrupted and the notebook goes on;
* when a cell **kills the kernel** (``os._exit``, a CPU limit) or **ignores the interrupt**, runs
  the notebook again from the start in a fresh kernel with that cell replaced by an error (at most
  ``max_attempts`` runs), so the graded cells that do not depend on it still count;
* caps the **output** a submission may print (the rest is dropped, not stored);
* runs **probes**, cells of the grader's own that are removed again afterwards: one before any
  learner code (it keeps a reference to the bench's canary), one around each graded cell (it
  keeps the failing scenario's history, for the feedback's timeline) and one at the end that runs
  the **canary**. If the canary fails, the notebook is run again with the canary after every
  graded cell, and the graded cells that ran with the bench already changed are given an error
  (so nbgrader scores them 0); the others keep their points;
* gives every graded cell it did not run an error output, because nbgrader's
  ``determine_grade`` awards full points to a test cell with no error.

What happened is collected in :data:`LAST_RUN` (the worker is single-threaded and reads it after
nbgrader's converter returns).
"""

from __future__ import annotations

import copy
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
from traitlets import Integer, Unicode

PROBE_MIME = "application/vnd.sqslab.grader+json"
PROBE_KEY = "sqslab_grader_probe"

# The first probe: imports the bench before any learner code and keeps its canary and its list of
# failed verdicts, so a learner who later replaces ``sqslab.canary`` does not replace the grader's.
_SETUP = r'''
def __sqslab_grader_setup(target):
    import importlib, sys
    from IPython import get_ipython
    from IPython.display import display
    mod_name, _, func_name = target.partition(":")
    state = {"canary": None, "failures": None, "seen": 0, "error": None, "module": None, "names": {}}
    try:
        mod = importlib.import_module(mod_name)
        state["module"] = mod
        state["canary"] = getattr(mod, func_name, None)
        check = sys.modules.get(mod_name + ".check")
        state["failures"] = getattr(check, "failures", None)
        state["timeline"] = importlib.import_module(mod_name + ".views.timeline")
        # The bench's public objects as shipped: a test calling ``explore`` must call this one.
        state["names"] = {n: getattr(mod, n) for n in getattr(mod, "__all__", ()) if hasattr(mod, n)}
    except BaseException as exc:
        state["error"] = f"{type(exc).__name__}: {exc}"

    def integrity():
        # Cheap identity checks, after every graded cell: the bench module and the names the
        # tests use must still be the bench's own objects.
        mod = state["module"]
        if mod is None:
            return None
        if sys.modules.get(mod_name) is not mod:
            return f"the module {mod_name} was replaced in sys.modules"
        ns = get_ipython().user_ns
        if mod_name in ns and ns[mod_name] is not mod:
            return f"the name {mod_name} no longer refers to the bench"
        for name, obj in state["names"].items():
            if getattr(mod, name, None) is not obj:
                return f"{mod_name}.{name} was replaced"
            if name in ns and ns[name] is not obj:
                return f"the name {name} no longer refers to the bench's {name}"
        return None

    def mark():
        fl = state["failures"]
        state["seen"] = len(fl) if fl is not None else 0

    def after(grade_id, failed, with_canary=False):
        out = {"probe": "after", "grade_id": grade_id}
        problem = integrity()
        if problem:
            out.update({"canary_ok": False, "canary_reason": problem})
        fl = state["failures"]
        try:
            if failed and fl is not None and len(fl) > state["seen"]:
                verdict = fl[-1]
                out["explanation"] = str(getattr(verdict, "explanation", ""))[:4000]
                history = getattr(verdict, "history", None)
                if history is not None and state.get("timeline") is not None:
                    out["timeline_html"] = state["timeline"].to_html(history, title=f"{grade_id}: the failing run")
        except BaseException as exc:
            out["timeline_error"] = f"{type(exc).__name__}: {exc}"
        if with_canary and not problem:
            out.update(canary())
        display({"%(mime)s": out}, raw=True)

    def canary():
        if state["error"] is not None:
            return {"canary_ok": False, "canary_reason": "the bench could not be imported: " + state["error"]}
        if state["canary"] is None:
            return {"canary_ok": False, "canary_reason": "the bench has no canary() to check it with"}
        problem = integrity()
        if problem:
            return {"canary_ok": False, "canary_reason": problem}
        try:
            ok, reason = state["canary"]()
            return {"canary_ok": ok is True, "canary_reason": str(reason)[:500]}
        except BaseException as exc:
            return {"canary_ok": False, "canary_reason": f"the canary raised {type(exc).__name__}: {exc}"[:500]}

    def final():
        out = {"probe": "final"}
        out.update(canary())
        display({"%(mime)s": out}, raw=True)

    return type("Probe", (), {"mark": staticmethod(mark), "after": staticmethod(after),
                              "final": staticmethod(final)})
__sqslab_grader__ = __sqslab_grader_setup(%(target)r)
del __sqslab_grader_setup
'''


@dataclass
class Incident:
    """Something that stopped a cell: a timeout, a dead kernel, a limit."""

    kind: str            # timeout | kernel_died | limit_exceeded
    cell: int            # index in the graded notebook
    detail: str
    grade_id: str | None = None


@dataclass
class RunReport:
    """Everything the executor saw, for statuses and feedback."""

    attempts: int = 0
    incidents: list[Incident] = field(default_factory=list)
    canary_ok: bool | None = None
    canary_reason: str = ""
    voided: dict[str, str] = field(default_factory=dict)      # grade_id -> why
    not_run: dict[str, str] = field(default_factory=dict)     # grade_id -> why
    probes: dict[str, dict] = field(default_factory=dict)     # grade_id -> the after-probe's data
    output_dropped: int = 0                                   # lines not stored
    output_cell: int | None = None
    kernel_error: str | None = None
    kernel_log: str = ""
    elapsed: float = 0.0


#: The report of the last notebook executed in this process.
LAST_RUN: RunReport | None = None


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test(cell) -> bool:
    meta = _nbgrader(cell)
    return bool(meta.get("grade")) and cell.get("cell_type") == "code"


def _has_error(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


class SandboxedExecute(Execute):
    """nbgrader's Execute with a budget, re-runs, output caps and the bench's canary."""

    submission_timeout = Integer(300, help="Wall-clock seconds for the whole notebook.").tag(config=True)
    cell_timeout = Integer(120, help="Wall-clock seconds for one cell.").tag(config=True)
    probe_timeout = Integer(120, help="Seconds for one of the grader's probes.").tag(config=True)
    max_attempts = Integer(3, help="Runs of the notebook when cells kill or hang the kernel.").tag(config=True)
    max_output_lines = Integer(20000, help="Lines of output a notebook may print.").tag(config=True)
    max_output_bytes = Integer(4_000_000, help="Bytes of output a notebook may print.").tag(config=True)
    canary = Unicode("sqslab:canary", help="module:function of the bench's canary").tag(config=True)
    runtime_root = Unicode("", help="Where each kernel gets a fresh runtime folder (connection file, "
                                    "ipc sockets, log); empty: Jupyter's default.").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shutdown_kernel = "immediate"
        self._run_dirs: list[str] = []

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if self.runtime_root:
            # A new root-owned folder for every kernel: the sandbox's uid owns it while its kernel
            # runs, so a folder it ever owned must never be written by the grader again.
            from . import sandbox

            run_dir = tempfile.mkdtemp(prefix="k", dir=self.runtime_root)
            sandbox.mark(run_dir)
            km.connection_file = os.path.join(run_dir, "k.json")
            self._run_dirs.append(run_dir)
        return km

    def _kernel_log(self) -> str:
        for run_dir in reversed(self._run_dirs):
            path = os.path.join(run_dir, "kernel.log")
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, errors="replace") as f:
                    return f.read()[-1500:]
        return ""

    def _drop_run_dirs(self) -> None:
        for run_dir in self._run_dirs:
            shutil.rmtree(run_dir, ignore_errors=True)
        self._run_dirs = []

    # -- the notebook ------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        global LAST_RUN
        report = LAST_RUN = RunReport()
        started = time.monotonic()
        self._deadline = started + self.submission_timeout
        self._report = report
        plan = self._instrument(nb, localize=False)
        skip: dict[int, str] = {}
        work = None
        localized = False
        while True:
            report.attempts += 1
            work = copy.deepcopy(plan)
            outcome = self._attempt(work, resources, skip)
            if outcome is None:
                final = self._final_probe(work)
                if self._void_after_tampering(work):
                    break
                report.canary_ok = final.get("canary_ok") is True
                report.canary_reason = final.get("canary_reason", "the canary did not answer")
                if not report.canary_ok and not localized and any(_is_test(c) for c in nb.cells) \
                        and time.monotonic() < self._deadline:
                    # Which graded cells ran with the bench still intact? Run again, asking after each.
                    localized = True
                    first_reason = report.canary_reason
                    plan = self._instrument(nb, localize=True)
                    report.incidents.clear()
                    report.output_dropped, report.output_cell = 0, None
                    retry = copy.deepcopy(plan)
                    report.attempts += 1
                    # The same cells as before are skipped (the plans differ only in their probes).
                    self._attempt(retry, resources, dict(skip))
                    work = retry
                    if not self._void_after_tampering(work):
                        report.canary_ok, report.canary_reason = False, first_reason
                break
            kind, index, detail = outcome
            if index is None:
                report.kernel_error = detail
                break
            cell = work.cells[index]
            if cell.metadata.get(PROBE_KEY):
                # The bench hung or killed the kernel during the grader's own probe.
                report.canary_ok = False
                report.canary_reason = f"the bench did not answer the grader's self-check ({detail})"
                break
            report.incidents.append(Incident(kind, self._original_index(work, index), detail,
                                             _nbgrader(cell).get("grade_id")))
            skip[index] = detail
            if report.attempts >= self.max_attempts or time.monotonic() >= self._deadline:
                self._fill_unrun(work, index + 1, "not run: the grader gave up on this notebook "
                                                  f"after {report.attempts} runs ({detail})")
                break
        seen = set()
        report.incidents = [i for i in report.incidents
                            if (i.kind, i.cell, i.detail) not in seen and not seen.add((i.kind, i.cell, i.detail))]
        clean = self._strip_probes(work, report)
        self._mark_not_run(clean, report)
        report.elapsed = round(time.monotonic() - started, 3)
        nb.cells = clean.cells
        nb.metadata.update({k: v for k, v in clean.metadata.items() if k == "language_info"})
        return nb, resources

    def _attempt(self, work, resources, skip):
        """Run ``work`` once; None when it ran to the end, else (kind, cell index, detail)."""
        self._skip = skip
        self._current = None
        self._exit_code = None
        self._out_lines = 0
        self._out_bytes = 0
        try:
            super().preprocess(work, resources)
            return None
        except DeadKernelError:
            return self._classify_death(self._current)
        except CellTimeoutError:
            return ("timeout", self._current,
                    f"still running {self._timeout_for(work.cells[self._current]) if self._current is not None else ''}"
                    f"s after it started, and it ignored the interrupt")
        except RuntimeError as exc:
            if self._current is None:
                self._report.kernel_log = self._kernel_log()
                return ("error", None, f"the grading kernel did not start: {exc}")
            return ("kernel_died", self._current, str(exc))
        finally:
            self._drop_run_dirs()

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

    # -- probes --------------------------------------------------------------------------------
    def _probe(self, source: str, role: str, grade_id: str | None = None) -> NotebookNode:
        cell = new_code_cell(source)
        cell.metadata[PROBE_KEY] = {"role": role, "grade_id": grade_id}
        return cell

    def _instrument(self, nb, *, localize: bool):
        work = copy.deepcopy(nb)
        cells = [self._probe(_SETUP % {"mime": PROBE_MIME, "target": self.canary}, "setup")]
        for index, cell in enumerate(nb.cells):
            cell = copy.deepcopy(cell)
            cell.metadata["sqslab_grader_index"] = index
            if _is_test(cell):
                gid = _nbgrader(cell).get("grade_id")
                cells.append(self._probe("__sqslab_grader__.mark()", "mark", gid))
                cells.append(cell)
                probe = self._probe(f"__sqslab_grader__.after({gid!r}, {{failed}}, with_canary={localize})",
                                    "after", gid)
                cells.append(probe)
            else:
                cells.append(cell)
        cells.append(self._probe("__sqslab_grader__.final()", "final"))
        work.cells = cells
        return work

    @staticmethod
    def _probe_data(cell) -> dict:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PROBE_MIME in data:
                value = data[PROBE_MIME]
                return json.loads(value) if isinstance(value, str) else dict(value)
        return {}

    def _final_probe(self, work) -> dict:
        for cell in work.cells:
            if cell.metadata.get(PROBE_KEY, {}).get("role") == "final":
                return self._probe_data(cell)
        return {}

    def _void_after_tampering(self, work) -> bool:
        """Give graded cells that ran after the bench was changed an error (nbgrader scores 0).

        Returns True when an after-probe saw the change (the report then says so).
        """
        tampered = False
        reason = ""
        voided: dict[str, str] = {}
        for cell in work.cells:
            probe = cell.metadata.get(PROBE_KEY)
            if probe and probe.get("role") == "after":
                data = self._probe_data(cell)
                if not tampered and data.get("canary_ok") is False:
                    tampered = True
                    reason = data.get("canary_reason") or "the canary did not answer"
                if tampered and probe.get("grade_id"):
                    voided[probe["grade_id"]] = reason
        if not tampered:
            return False
        self._report.voided = voided
        self._report.canary_ok = False
        self._report.canary_reason = reason
        for cell in work.cells:
            gid = _nbgrader(cell).get("grade_id")
            if _is_test(cell) and gid in voided:
                cell.outputs = list(cell.get("outputs", [])) + [_error_output(
                    "BenchTampered", "not counted: the bench had been changed by the notebook's code "
                                     f"before this test ended ({voided[gid]})")]
        return True

    def _strip_probes(self, work, report: RunReport):
        clean = copy.deepcopy(work)
        kept = []
        for cell in clean.cells:
            probe = cell.metadata.get(PROBE_KEY)
            if probe:
                if probe.get("role") == "after" and probe.get("grade_id"):
                    data = self._probe_data(cell)
                    if data:
                        report.probes[probe["grade_id"]] = data
                continue
            cell.metadata.pop("sqslab_grader_index", None)
            kept.append(cell)
        clean.cells = kept
        return clean

    @staticmethod
    def _original_index(work, index) -> int:
        return work.cells[index].metadata.get("sqslab_grader_index", index)

    def _fill_unrun(self, work, start: int, why: str) -> None:
        for cell in work.cells[start:]:
            if cell.get("cell_type") == "code" and not cell.metadata.get(PROBE_KEY) and not cell.get("outputs"):
                cell.outputs = [_error_output("NotRun", why)]

    def _mark_not_run(self, nb, report: RunReport) -> None:
        for cell in nb.cells:
            if _is_test(cell):
                gid = _nbgrader(cell).get("grade_id")
                if cell.get("execution_count") is None and not _has_error(cell):
                    cell.outputs = list(cell.get("outputs", [])) + [
                        _error_output("NotRun", "not run: the notebook stopped before this test")]
                for out in cell.outputs:
                    if out.get("output_type") == "error" and out.get("ename") in ("NotRun", "GraderSkipped"):
                        report.not_run[gid] = out.get("evalue", "")

    # -- per cell --------------------------------------------------------------------------------
    def preprocess_cell(self, cell, resources, index):
        probe = cell.metadata.get(PROBE_KEY)
        if index in self._skip:
            cell.outputs = [_error_output("GraderSkipped", f"not run again: in an earlier run this cell "
                                                           f"stopped the kernel ({self._skip[index]})")]
            return cell, self.resources
        if probe and probe.get("role") == "after":
            cell.source = cell.source.replace("{failed}", str(self._previous_failed(index)))
        if probe and probe.get("role") == "final" and self._nothing_passed():
            # Tampering cannot raise a score of zero: skip the canary's second of work.
            cell.outputs = [NotebookNode(output_type="display_data", metadata={}, data={
                PROBE_MIME: {"probe": "final", "canary_ok": True, "canary_reason": "not run: no test passed"}})]
            return cell, self.resources
        if not probe and time.monotonic() >= self._deadline:
            if cell.get("cell_type") == "code":
                cell.outputs = [_error_output("NotRun", f"not run: the notebook used up its "
                                                        f"{self.submission_timeout}s time budget")]
                if not any(i.kind == "timeout" and i.detail.startswith("budget") for i in self._report.incidents):
                    self._report.incidents.append(Incident(
                        "timeout", cell.metadata.get("sqslab_grader_index", index),
                        f"budget: the notebook used up its {self.submission_timeout}s time budget",
                        _nbgrader(cell).get("grade_id")))
            return cell, self.resources
        self._current = index
        cell, resources = super().preprocess_cell(cell, resources, index)
        if not probe and cell.get("cell_type") == "code":
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and out.get("ename") == "CellTimeoutError":
                    self._report.incidents.append(Incident(
                        "timeout", cell.metadata.get("sqslab_grader_index", index),
                        f"ran past its {self._timeout_for(cell)}s limit and was interrupted",
                        _nbgrader(cell).get("grade_id")))
                    break
        return cell, resources

    def _nothing_passed(self) -> bool:
        tests = [c for c in self.nb.cells if _is_test(c)]
        return bool(tests) and all(_has_error(c) for c in tests)

    def _previous_failed(self, index) -> bool:
        cells = self.nb.cells
        for j in range(index - 1, -1, -1):
            if not cells[j].metadata.get(PROBE_KEY):
                return _has_error(cells[j])
        return False

    def _timeout_for(self, cell) -> int:
        if cell is not None and cell.metadata.get(PROBE_KEY):
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

    # -- output cap ----------------------------------------------------------------------------
    def output(self, outs, msg, display_id, cell_index):
        cell = self.nb.cells[cell_index] if cell_index < len(self.nb.cells) else None
        if cell is not None and not cell.metadata.get(PROBE_KEY) and msg["msg_type"] in (
                "stream", "display_data", "execute_result", "update_display_data"):
            content = msg.get("content", {})
            text = content.get("text", "") if msg["msg_type"] == "stream" else json.dumps(content.get("data", {}))
            self._out_lines += text.count("\n")
            self._out_bytes += len(text)
            if self._out_lines > self.max_output_lines or self._out_bytes > self.max_output_bytes:
                dropped = max(text.count("\n"), 1)
                if self._report.output_cell is None:
                    self._report.output_cell = cell.metadata.get("sqslab_grader_index", cell_index)
                    outs.append(NotebookNode(output_type="stream", name="stdout", text=(
                        f"\n[grader] output limit reached ({self.max_output_lines} lines / "
                        f"{self.max_output_bytes} bytes per notebook): the rest is not kept\n")))
                self._report.output_dropped += dropped
                return None
        return super().output(outs, msg, display_id, cell_index)
