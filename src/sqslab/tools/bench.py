"""How fast is the bench? ``python -m sqslab.tools.bench`` (what ``make bench`` runs).

One run measures, and compares within itself (A and B in alternating rounds, so a busy machine
slows both alike):

* **SQS calls per second** through the bench (a lab client: recording hooks, corrections of moto,
  speed-ups) against bare moto (a boto3 client straight under ``mock_aws``, in a process of its
  own where nothing of the bench is loaded), against the bench with its speed-ups off, and
  against the bench on moto's server mode (HTTP to a ``ThreadedMotoServer``); also a send into a
  queue already holding 1,000 messages (moto's cost grows with the queue);
* **one scenario run** (a naive consumer, three orders) and **one 60-run exploration** of it, with
  the speed-ups on and off; and the simulated time those runs covered against the real time
  they slept (none: the clock is simulated);
* **each lesson notebook** in ``solutions/`` (every ``NN_name/NN_name.ipynb``, so a new lesson is
  measured as soon as it lands) executed headless (nbclient, a fresh kernel each, twice: the
  faster counts), against the floor: a kernel that imports the bench (every ``sqslab`` module,
  boto3 and moto) and does nothing, and a kernel that imports the ``sqslab`` package only; lesson
  1 also with the speed-ups off; and the **whole course**, the notebooks one after another,
  against the floor times their number;
* from inside those kernels (:mod:`sqslab.tools.benchprobe`): the **longest exhaustive crash exploration
  of each lesson** (every ``explore``/``explore_...`` call the notebook makes, timed), and the
  **simulated time the whole course covers** against the **real time it slept**;
* how many **facts of docs/sqs-facts.md** the lab's endpoint honours (:mod:`sqslab.tools.facts`; the table is
  ``python -m sqslab.tools.fidelity``);
* the issue's **goals**, each met or missed: the course in at most 30 s and 2.5x the floor, every
  exploration in at most 2 s, bench calls at least as fast as bare moto, no real time slept.

With ``SQSLAB_ENDPOINT`` set, the lab parts run on that endpoint (``SQSLAB_ENDPOINT=moto-server
make bench`` measures the whole course on moto's server mode); on an endpoint outside this process,
where the clock is real, only the SQS calls are measured.

It prints a table and writes ``bench.md``, ``bench.csv`` and ``bench.png`` under ``out/bench/``.
Ratios come from CPU time (``time.process_time``), which another engineer's build on the same
cores disturbs far less than wall time; wall times are shown too. ``--grading`` also runs the
class-grading benchmark (``autograder/bench_grading.py``), which takes many minutes.

Usage::

    python -m sqslab.tools.bench [--quick] [--rounds N] [--no-notebooks] [--ablation] [--out DIR]
                           [--grading [--grading-args "--learners 10"]]

The module is long because it is one report: its sections (calls, scenarios, fidelity, notebooks,
explorations) are short functions sharing the alternating rounds, the worker processes and their
clean stop, and the table and plot writers.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[3]
#: The parts of a run, for ``--only``.
SECTIONS = ("calls", "scenarios", "fidelity", "notebooks")

#: A consumer step with a crash window between its effect and its delete (lesson 1's starting point).
NAIVE = "sqslab.selftest._naive"


@dataclass
class Row:
    """One line of the results table."""

    section: str
    measure: str
    value: float
    unit: str
    reference: str = ""
    reference_value: float | None = None
    ratio: float | None = None
    note: str = ""
    samples: dict = field(default_factory=dict)


def describe_error(error: BaseException) -> str:
    """``"Name: first line of the message"``, or the name alone when the message is empty."""
    first = next((line for line in str(error).splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {first[:100]}" if first else type(error).__name__


class Stopped(BaseException):
    """SIGINT or SIGTERM arrived, or the process that started the benchmark (make) went away.

    A BaseException, like KeyboardInterrupt: the benchmark's "a broken notebook is a row" must not
    swallow it and start the next kernel.
    """


#: The thread that watches for the end of the process that started the benchmark.
WATCHDOG = "bench-parent-watch"
#: The signal that asked the benchmark to stop, once one did.
_stopping: list[str] = []


def _stop(signum, frame) -> None:
    _stopping.append(signal.Signals(signum).name)
    raise Stopped(_stopping[0])


def _watch_parent() -> None:
    # `make bench` stopped with SIGTERM ends make, not this process: when our parent is gone (we are
    # re-parented), stop as if the signal had come here.
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.5)  # real time: a watchdog, not part of any measurement
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name=WATCHDOG, daemon=True).start()


def _descendants(pid: int | None = None) -> list[int]:
    """Every process started by this one (kernels, workers, a grading run), read from /proc."""
    pid = pid or os.getpid()
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _end_descendants() -> int:
    """Kill every process this one started and wait until they are gone; returns how many there were.

    A kernel, a worker or a grading run holds nothing a benchmark needs to keep: KILL, which no
    process can turn into a traceback on the terminal.
    """
    pids = _descendants()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)  # real time: the kernel reaping the killed processes
    for pid in pids:  # children of ours: collect them, so none is left a zombie
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return len(pids)


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def _signals_stay_ours():
    """Keep nbclient from taking SIGINT and SIGTERM while it runs a notebook.

    nbclient installs handlers of its own that shut the kernel down and let the run go on (the
    benchmark then started the next kernel), and on the way out resets both signals to their
    defaults, dropping the benchmark's handlers. Its asyncio loop is told it cannot take signals,
    which nbclient accepts (it does the same on a thread other than the main one).
    """
    import asyncio.unix_events as unix_events

    loop_class = unix_events._UnixSelectorEventLoop
    saved = loop_class.add_signal_handler, loop_class.remove_signal_handler

    def refuse(self, sig, *args):
        if sig in (signal.SIGINT, signal.SIGTERM):
            raise RuntimeError("the benchmark handles SIGINT and SIGTERM itself")
        return saved[0](self, sig, *args)

    def keep(self, sig):
        return False if sig in (signal.SIGINT, signal.SIGTERM) else saved[1](self, sig)

    loop_class.add_signal_handler, loop_class.remove_signal_handler = refuse, keep
    try:
        yield
    finally:
        loop_class.add_signal_handler, loop_class.remove_signal_handler = saved


def _say(text: str) -> None:
    print(text, flush=True)


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


# -- SQS calls: a worker process per side ----------------------------------------------------------
_WORKER = r'''
import json, os, sys, time
mode = sys.argv[1]
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_CONFIG_FILE",
             "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE"):
    os.environ.pop(name, None)
if mode == "server":
    os.environ["SQSLAB_ENDPOINT"] = "moto-server"
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION="us-east-1")
if mode == "bare":
    import boto3
    from botocore.config import Config
    from moto import mock_aws
    mock = mock_aws()
    mock.start()
    client = boto3.client("sqs", region_name="us-east-1",
                          config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    def queue(name):
        return client.create_queue(QueueName=name)["QueueUrl"]
    def set_speed(on):
        pass
else:
    import contextlib
    from sqslab.moto import speed
    from sqslab.lab import Lab
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the protocol; the endpoint notice is not
        lab = Lab().start()
    client = lab.client("sqs", actor="bench")
    def queue(name):
        return lab.queue(name).url
    def set_speed(on):
        speed.apply() if on else speed.remove()
small = queue("bench-small")
big = queue("bench-big")
for start in range(0, 1000, 10):  # batches: filling one by one would cost bare moto half a minute
    client.send_message_batch(QueueUrl=big, Entries=[
        {"Id": str(i), "MessageBody": json.dumps({"order_id": f"fill-{start + i}"})} for i in range(10)])

def round_trips(n):
    for i in range(n):
        client.send_message(QueueUrl=small, MessageBody=json.dumps({"order_id": f"o-{i}"}))
        for m in client.receive_message(QueueUrl=small, MaxNumberOfMessages=10).get("Messages", []):
            client.delete_message(QueueUrl=small, ReceiptHandle=m["ReceiptHandle"])
    return 3 * n

def big_sends(n):
    for i in range(n):
        client.send_message(QueueUrl=big, MessageBody=json.dumps({"order_id": f"more-{i}"}))
    return n

work = {"round_trips": round_trips, "big_sends": big_sends}
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    set_speed(cmd.get("speed", True))
    cpu, wall = time.process_time(), time.perf_counter()
    calls = work[cmd["work"]](cmd["n"])
    print(json.dumps({"calls": calls, "cpu": time.process_time() - cpu,
                      "wall": time.perf_counter() - wall}), flush=True)
'''


class _Worker:
    def __init__(self, mode: str):
        env = dict(os.environ)
        env.pop("SQSLAB_SPEED", None)
        if mode == "bare":
            env.pop("SQSLAB_ENDPOINT", None)
        self.proc = subprocess.Popen([sys.executable, "-c", _WORKER, mode], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
        ready = self.proc.stdout.readline()
        if not ready.startswith('{"ready"'):
            raise RuntimeError(f"bench worker {mode!r} did not start (said {ready.strip()[:120]!r})")

    def run(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def bench_calls(rounds: int, server: bool = True, size: float = 1.0) -> list[Row]:
    """SQS calls/s: bench vs bare moto vs bench without speed-ups (vs the bench on moto's server mode).

    ``size`` scales the calls per sample (``--quick`` takes a quarter: a smoke test, not a figure to quote).
    """
    _say("SQS calls: starting a bare-moto process and a bench process (each fills a queue of 1,000)"
         + (", and one on moto's server mode..." if server else "..."))
    workers = {"bare": _Worker("bare"), "bench": _Worker("bench")}
    if server:
        workers["server"] = _Worker("server")
    try:
        sides = {"bare": (workers["bare"], True), "bench": (workers["bench"], True),
                 "unsped": (workers["bench"], False)}
        if server:
            sides["server"] = (workers["server"], True)
        rows = []
        for work, n, label in (("round_trips", 40, "SQS calls/s (send, receive, delete; small queue)"),
                               ("big_sends", 10, "SQS calls/s (send into a queue of 1,000)")):
            n = max(2, round(n * size))
            for side, (worker, on) in sides.items():
                worker.run(work=work, n=max(2, n // 5), speed=on)  # warm up
            samples: dict[str, list] = {s: [] for s in sides}
            for _ in range(rounds):
                for side, (worker, on) in sides.items():
                    samples[side].append(worker.run(work=work, n=n, speed=on))
            per_call = {s: [r["cpu"] / r["calls"] for r in v] for s, v in samples.items()}
            wall = {s: [r["wall"] / r["calls"] for r in v] for s, v in samples.items()}
            ratio_bare = _median([b / a for a, b in zip(per_call["bench"], per_call["bare"])])
            ratio_unsped = _median([b / a for a, b in zip(per_call["bench"], per_call["unsped"])])
            rows.append(Row("SQS calls", label, 1 / _median(per_call["bench"]), "calls/s", "bare moto", 1 / _median(per_call["bare"]), ratio_bare,
                            f"wall: {1 / _median(wall['bench']):.0f} vs {1 / _median(wall['bare']):.0f} calls/s",
                            samples=per_call))
            rows.append(Row("SQS calls", label, 1 / _median(per_call["bench"]), "calls/s", "bench, speed-ups off", 1 / _median(per_call["unsped"]), ratio_unsped,
                            f"wall: {1 / _median(wall['unsped']):.0f} calls/s with speed-ups off"))
            if server:
                # Wall time: the server's work happens on its own thread, which process_time sees
                # too, but so does the HTTP round trip's waiting on the other side.
                ratio_server = _median([b / a for a, b in zip(wall["bench"], wall["server"])])
                rows.append(Row("SQS calls", label, 1 / _median(wall["bench"]), "calls/s",
                                "the bench on moto's server mode", 1 / _median(wall["server"]), ratio_server,
                                "wall time (HTTP to a ThreadedMotoServer in the worker's process)"))
        return rows
    finally:
        for worker in workers.values():
            worker.close()


# -- scenario runs and exploration, in this process ---------------------------------------------
def _interleave(fn: Callable[[], object], rounds: int, setup_on: Callable, setup_off: Callable) -> dict:
    out: dict[str, dict[str, list]] = {"on": {"cpu": [], "wall": []}, "off": {"cpu": [], "wall": []}}
    for i in range(rounds):
        order = ("on", "off") if i % 2 == 0 else ("off", "on")
        for side in order:
            (setup_on if side == "on" else setup_off)()
            cpu, wall = time.process_time(), time.perf_counter()
            fn()
            out[side]["cpu"].append(time.process_time() - cpu)
            out[side]["wall"].append(time.perf_counter() - wall)
    setup_on()
    return out


def bench_scenarios(rounds: int, explore_rounds: int) -> list[Row]:
    """One scenario run and one 60-run exploration, speed-ups on vs off; simulated vs real time."""
    from ..explore import explore
    from ..lab import Lab
    from ..moto import speed
    from ..scenario import run_scenario
    from ..selftest import _naive
    from ..sleeps import SleepMeter

    lab = Lab().start()
    rows = []
    try:
        def on():
            speed.apply()

        def off():
            speed.remove()

        for _ in range(3):
            run_scenario(_naive, lab=lab, expect="at_least_once")  # warm up
        _say("One scenario run (naive consumer, 3 orders), speed-ups on and off...")
        runs = _interleave(lambda: [run_scenario(_naive, lab=lab, expect="at_least_once") for _ in range(5)],
                           rounds, on, off)
        per_run = {s: [c / 5 for c in v["cpu"]] for s, v in runs.items()}
        rows.append(Row("scenario", "one scenario run (naive consumer, 3 orders)", 1000 * _median(per_run["on"]),
                        "ms", "speed-ups off", 1000 * _median(per_run["off"]),
                        _median([b / a for a, b in zip(per_run["on"], per_run["off"])]),
                        f"wall: {1000 * _median(runs['on']['wall']) / 5:.1f} vs "
                        f"{1000 * _median(runs['off']['wall']) / 5:.1f} ms", samples=per_run))

        _say("A 60-run exploration of the naive consumer (every fault point, then crashes on restart)...")
        verdicts = []

        def exploration():
            verdicts.append(explore(_naive, expect="at_least_once", max_runs=60, lab=lab))

        runs = _interleave(exploration, explore_rounds, on, off)
        assert all(v.ok and v.runs == 60 for v in verdicts), "the exploration did not make its 60 runs"
        rows.append(Row("exploration", "60-run exploration (naive consumer)", _median(runs["on"]["cpu"]), "s",
                        "speed-ups off", _median(runs["off"]["cpu"]),
                        _median([b / a for a, b in zip(runs["on"]["cpu"], runs["off"]["cpu"])]),
                        f"wall: {_median(runs['on']['wall']):.2f} vs {_median(runs['off']['wall']):.2f} s",
                        samples=runs))

        speed.apply()
        before = lab.clock.elapsed()
        # The benchmark's own watchdog (is make still there?) sleeps on a thread of its own: not the lab's.
        with SleepMeter(ignore=lambda kind, frame: threading.current_thread().name == WATCHDOG) as meter:
            wall = time.perf_counter()
            explore(_naive, expect="at_least_once", max_runs=60, lab=lab)
            wall = time.perf_counter() - wall
        covered = lab.clock.elapsed() - before
        rows.append(Row("time", "simulated time covered by one 60-run exploration", covered, "s",
                        "real time slept", meter.seconds, None,
                        f"{meter.calls} real sleeps or waits during the {wall:.1f} s it took"))

        _say("The lifecycle timeline of a busy run (30 orders, crashes and redeliveries), drawn as PNG...")
        from ..faults import Fault
        from ..views import timeline

        busy = run_scenario(_naive, messages=30, lab=lab, expect="at_least_once",
                            faults=[Fault("before_delete", m) for m in range(0, 30, 4)]).history
        timeline.to_png(busy)  # fonts and caches, once per process
        cpu = []
        for _ in range(max(3, rounds)):
            start = time.process_time()
            timeline.to_png(busy)
            cpu.append(time.process_time() - start)
        rows.append(Row("timeline", f"draw the timeline of a busy run ({len(busy)} events, 30 orders)",
                        _median(cpu), "s", note="CPU; the grader draws one per failing behaviour",
                        samples={"cpu": cpu}))
    finally:
        lab.close()
    return rows


def _endpoint_here() -> str | None:
    """None for the default (moto in this process); else which endpoint, and whether it is in this process."""
    from ..endpoint import from_environment

    endpoint = from_environment()
    if endpoint.in_process_mock:
        return None
    from ..lab import Lab

    with contextlib.redirect_stdout(io.StringIO()):
        with Lab() as lab:
            where = "in this process" if lab.in_process else "outside this process"
    return f"{endpoint.describe()} ({where})"


def bench_fidelity() -> list[Row]:
    """How many facts of docs/sqs-facts.md the lab's endpoint honours (``python -m sqslab.tools.fidelity`` for the table)."""
    from ..lab import Lab
    from .facts import run_facts

    _say("Fidelity: every fact of docs/sqs-facts.md checked on the lab's endpoint...")
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        with Lab() as lab:
            where = lab.endpoint.describe()
            results = run_facts(lab)
    honoured = sum(1 for _, seen in results if seen.honoured)
    missed = [fact.name for fact, seen in results if seen.honoured is False]
    return [Row("fidelity", f"facts of docs/sqs-facts.md honoured on {where}", honoured, "facts", "facts checked",
                len(results), None,
                (f"not honoured: {', '.join(missed)}; " if missed else "")
                + f"{time.perf_counter() - started:.1f} s; the table: python -m sqslab.tools.fidelity")]


def bench_ablation(rounds: int) -> list[Row]:
    """What each speed-up is worth: a scenario run with all of them against all but that one."""
    from ..lab import Lab
    from ..moto import speed
    from ..scenario import run_scenario
    from ..selftest import _naive

    lab = Lab().start()
    rows = []
    try:
        for _ in range(3):
            run_scenario(_naive, lab=lab, expect="at_least_once")
        names = [s.name for s in speed.SPEED_UPS]
        for name in names:
            _say(f"Ablation: {name}...")
            without = [n for n in names if n != name]

            def runs():
                for _ in range(3):
                    run_scenario(_naive, lab=lab, expect="at_least_once")

            out = _interleave(runs, rounds, lambda: (speed.remove(), speed.apply()),
                              lambda: (speed.remove(), speed.apply(without)))
            ratio = _median([b / a for a, b in zip(out["on"]["cpu"], out["off"]["cpu"])])
            rows.append(Row("ablation", f"{name}: scenario run, every speed-up", 1000 * _median(out["on"]["cpu"]) / 3,
                            "ms", "all but this one", 1000 * _median(out["off"]["cpu"]) / 3, ratio,
                            "skips " + next(s.skips for s in speed.SPEED_UPS if s.name == name)))
        speed.apply()
    finally:
        lab.close()
    return rows


# -- notebooks -------------------------------------------------------------------------------------
#: What the floor's kernel runs. "Imports the bench": the package, every module of it (the lessons
#: import them), and what the lab loads when it opens (boto3, moto); it starts no lab.
FLOOR_IMPORTS = "import sqslab"


def _floor_code() -> str:
    import pkgutil

    import sqslab

    modules = sorted(m.name for m in pkgutil.iter_modules(sqslab.__path__)
                     if m.name not in ("bench", "benchprobe", "fidelity_report"))
    return "\n".join([f"import {', '.join('sqslab.' + m for m in modules)}",
                      "import boto3, moto, moto.sqs.models, moto.sqs.responses"])


def _probe_line() -> str:
    # Loaded from its file, not as sqslab.tools.benchprobe: importing that would import sqslab first,
    # before the probe could see it, and would import it for notebooks that do not.
    path = str(Path(__file__).with_name("benchprobe.py"))
    return (f"import importlib.util as _u, sys as _s; _p = _u.spec_from_file_location('sqslab_benchprobe', {path!r}); "
            "_m = _u.module_from_spec(_p); _s.modules['sqslab_benchprobe'] = _m; _p.loader.exec_module(_m); "
            "_m.install(); del _u, _s, _p, _m")


@dataclass
class Execution:
    """One notebook executed headless: its wall time and what the probe saw inside the kernel."""

    seconds: float
    probe: dict | None
    cells: dict  # execution count -> (cell index, grade_id)
    cell_seconds: list = field(default_factory=list)  # (seconds, cell index, grade_id), each code cell

    def slowest(self) -> str:
        """``"never_loses_a_message_under_any_crash 0.97 s"``: the cell that took longest."""
        if not self.cell_seconds:
            return ""
        seconds, index, grade_id = max(self.cell_seconds)
        return f"{grade_id or f'cell {index}'} {seconds:.2f} s"


def _execute(path: Path | None, env: dict | None = None, code: str = FLOOR_IMPORTS) -> Execution:
    """Execute a notebook headless in a fresh kernel (the floor, running ``code``, when ``path`` is None)."""
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    timings: list = []

    class TimedClient(NotebookClient):
        # Timed from outside: inside the kernel the lab's clock has stopped time.
        async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
            started = time.perf_counter()
            try:
                return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
            finally:
                if cell.cell_type == "code":
                    timings.append((time.perf_counter() - started, cell_index,
                                    cell.metadata.get("nbgrader", {}).get("grade_id", "")))

    if path is None:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        cwd = REPO
    else:
        nb = nbformat.read(path, as_version=4)
        cwd = path.parent
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="sqslab-bench-") as tmp:
        probe = Path(tmp) / "probe.json"
        os.environ.update(env or {})
        os.environ["SQSLAB_BENCH_PROBE"] = str(probe)
        try:
            started = time.perf_counter()
            with _signals_stay_ours():
                TimedClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR",
                                             f"--IPKernelApp.exec_lines={json.dumps([_probe_line()])}"]).execute()
            seconds = time.perf_counter() - started
        finally:
            os.environ.clear()
            os.environ.update(saved)
        found = json.loads(probe.read_text()) if probe.exists() else None
    cells = {c.execution_count: (i, c.metadata.get("nbgrader", {}).get("grade_id", ""))
             for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count}
    return Execution(seconds, found, cells, timings)


def _lesson_notebooks() -> list[Path]:
    """Every lesson notebook in ``solutions/``, in teaching order: ``<a>``, then ``<a>_b``, ... of a split lesson.

    A new lesson's folder, or a new notebook of a split one, is picked up as it lands.
    """
    found = [p for p in REPO.glob("solutions/*/*.ipynb")
             if p.stem == p.parent.name or p.stem.startswith(p.parent.name + "_")]
    return sorted(found, key=lambda p: (p.parent.name, p.stem != p.parent.name, p.stem))


def _fastest(runs: int, *args, **kwargs) -> Execution:
    # The least disturbed of a few executions: other work on the cores only ever adds time.
    return min((_execute(*args, **kwargs) for _ in range(max(1, runs))), key=lambda e: e.seconds)


def bench_notebooks(compare_all: bool, runs: int = 2) -> list[Row]:
    """Each solutions notebook headless against the floor; the whole course; each lesson's explorations.

    Every kernel is executed ``runs`` times and the fastest execution counts, the floor's too.
    """
    notebooks = _lesson_notebooks()
    rows = []
    _say("Notebooks: the floors (a kernel that imports only the sqslab package; one that imports the whole bench)...")
    bare_floor = _fastest(runs, None).seconds
    fastest_floor = _fastest(runs, None, code=_floor_code())
    floor = fastest_floor.seconds
    floor_cpu = (fastest_floor.probe or {}).get("cpu", float("nan"))
    rows.append(Row("notebooks", "floor: a kernel that imports the sqslab package only", bare_floor, "s"))
    rows.append(Row("notebooks", "floor: a kernel that imports the bench (every sqslab module, boto3, moto)",
                    floor, "s", note=f"the floor of the goals; kernel CPU {floor_cpu:.2f} s"))
    done: list[tuple[str, Execution]] = []
    for path in notebooks:
        name = path.stem
        compare = compare_all or name.startswith("01_")
        _say(f"Notebook {name}" + (" (speed-ups on, then off)..." if compare else "..."))
        try:
            on = _fastest(runs, path)
            off = _fastest(runs, path, {"SQSLAB_SPEED": "off"}) if compare else None
        except Exception as error:  # a broken notebook is a row, not the end of the benchmark
            rows.append(Row("notebooks", name, float("nan"), "s", note=f"failed: {describe_error(error)}"))
            continue
        done.append((name, on))
        cpu = (on.probe or {}).get("cpu")
        rows.append(Row("notebooks", f"{name} (headless)", on.seconds, "s", "floor", floor, None,
                        f"{on.seconds - floor:+.1f} s from the floor; slowest cell: {on.slowest()}"
                        + (f"; kernel CPU {cpu:.2f} s" if cpu is not None else "")))
        if off is not None:
            rows.append(Row("notebooks", f"{name} (headless)", on.seconds, "s", "speed-ups off", off.seconds,
                            off.seconds / on.seconds, "wall time, the fastest execution of each"))
    if done:
        total = sum(e.seconds for _, e in done)
        n = len(done)
        cpus = [(e.probe or {}).get("cpu") for _, e in done]
        cpu_note = ""
        if None not in cpus and floor_cpu == floor_cpu:
            cpu_note = f"; kernel CPU {sum(cpus):.1f} s, {sum(cpus) / (floor_cpu * n):.2f}x the floor's"
            rows.append(Row("course", f"whole course, kernel CPU time ({n} kernels)", sum(cpus), "s",
                            f"floor x {n}, kernel CPU", floor_cpu * n, None,
                            "CPU time hardly changes when other work shares the cores; wall time does"))
        rows.append(Row("course", f"whole course: {n} notebooks headless, one after another", total, "s",
                        f"floor x {n}", floor * n, None,
                        f"{total / (floor * n):.2f}x the floor ({total / (bare_floor * n):.2f}x the package-only floor)"
                        + cpu_note + ("" if n == len(notebooks) else f"; {len(notebooks) - n} failed, left out")))
        rows.append(Row("course", "load average during the notebooks (1 minute)", _load(), "",
                        note=f"{os.cpu_count()} CPUs: above that, other work was waiting for the cores too"))
        rows += _exploration_rows(done)
        rows += _course_time_rows(done)
    return rows


def _exploration_rows(done: list[tuple[str, Execution]]) -> list[Row]:
    rows = []
    for name, run in done:
        found = (run.probe or {}).get("explorations")
        if found is None:
            rows.append(Row("exploration", f"{name}: longest exhaustive exploration", float("nan"), "s",
                            note="the probe wrote nothing (did the kernel exit normally?)"))
            continue
        if not found:
            rows.append(Row("exploration", f"{name}: longest exhaustive exploration", float("nan"), "s",
                            note="no exploration in this notebook"))
            continue
        longest = max(found, key=lambda e: e["wall"])
        index, grade_id = run.cells.get(longest["cell"], (None, ""))
        where = grade_id or (f"cell {index}" if index is not None else "a cell")
        runs = f", {longest['runs']} runs" if longest.get("runs") else ""
        rows.append(Row("exploration", f"{name}: longest exhaustive exploration ({where}{runs})",
                        longest["wall"], "s", "goal", 2.0, None,
                        f"{longest['function'].rsplit('.', 1)[-1]}; {len(found)} in the notebook, "
                        f"{sum(e['wall'] for e in found):.2f} s in all; CPU {longest['cpu']:.2f} s",
                        samples={"explorations": found}))
    return rows


def _course_time_rows(done: list[tuple[str, Execution]]) -> list[Row]:
    probes = [e.probe for _, e in done if e.probe is not None]
    if len(probes) < len(done):
        return [Row("time", "simulated SQS time covered by the whole course", float("nan"), "s",
                    note="some kernels' probes wrote nothing")]
    simulated = sum(p["simulated"] for p in probes)
    slept = sum(p["slept"] + p["waited"] for p in probes)
    calls = sum(p["sleeps"] + p["waits"] for p in probes)
    return [Row("time", "simulated SQS time covered by the whole course", simulated, "s",
                "real time slept", slept, None,
                f"{calls} real sleeps or waits by the notebooks, the bench or moto "
                f"({simulated / 3600:.1f} simulated hours)")]


def goal_rows(rows: list[Row], endpoint: str | None = None) -> list[Row]:
    """The issue's speed goals, each met or missed, from the rows measured.

    The goals are set for the default, moto in this process; on another ``endpoint`` each row says so.
    """
    def find(section, start):
        return [r for r in rows if r.section == section and r.measure.startswith(start)]

    out = []

    def goal(measure, value, unit, target, met, note=""):
        if endpoint is not None:
            note = (f"{note}; " if note else "") + f"on {endpoint}: the goals are set for moto in this process"
        out.append(Row("goals", measure, value, unit, "goal", target, None,
                       ("met" if met else "MISSED") + (f"; {note}" if note else "")))

    course = find("course", "whole course:")
    if course and course[0].value == course[0].value:
        c = course[0]
        load = find("course", "load average")
        busy = load and load[0].value > (os.cpu_count() or 1)
        goal("whole course headless (2 cores)", c.value, "s", 30.0, c.value <= 30.0,
             f"the machine was busy (load {load[0].value:.1f}): wall time inflated" if busy else "")
        ratio = c.value / c.reference_value
        goal("whole course against the floor (times the floor)", ratio, "x", 2.5, ratio <= 2.5)
    cpu = find("course", "whole course, kernel CPU")
    if cpu:
        ratio = cpu[0].value / cpu[0].reference_value
        goal("whole course against the floor, kernel CPU time (times the floor's)", ratio, "x", 2.5, ratio <= 2.5)
    explorations = [r for r in find("exploration", "") if r.value == r.value and r.reference == "goal"]
    if explorations:
        worst = max(explorations, key=lambda r: r.value)
        goal("longest exhaustive exploration of any lesson", worst.value, "s", 2.0, worst.value <= 2.0,
             worst.measure.split(":")[0])
    calls = [r for r in find("SQS calls", "SQS calls/s") if r.reference == "bare moto"]
    if calls:
        slowest = min(calls, key=lambda r: r.ratio)
        goal("bench SQS calls against bare moto (times as fast, the slower case)", slowest.ratio, "x", 1.0,
             slowest.ratio >= 1.0)
    slept = find("time", "simulated SQS time covered by the whole course")
    if slept and slept[0].reference_value is not None:
        goal("real time slept by the whole course", slept[0].reference_value, "s", 0.0,
             slept[0].reference_value < 0.001)
    return out


# -- output --------------------------------------------------------------------------------------------
def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if value != value:  # nan
        return "n/a"
    if unit == "calls/s":
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.1f}"
    if unit == "x":
        return f"x{value:.2f}"
    if unit == "facts":
        return f"{value:.0f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _table(rows: list[Row]) -> list[list[str]]:
    header = ["section", "measure", "bench", "unit", "compared with", "value", "ratio", "note"]
    body = [[r.section, r.measure, _fmt(r.value, r.unit), r.unit, r.reference, _fmt(r.reference_value, r.unit),
             f"x{r.ratio:.2f}" if r.ratio is not None else "", r.note] for r in rows]
    return [header] + body


def write_outputs(rows: list[Row], out: Path, meta: dict) -> None:
    """``bench.md``, ``bench.csv`` and ``bench.png`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    table = _table(rows)
    with open(out / "bench.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["section", "measure", "value", "unit", "reference", "reference_value", "ratio", "note"])
        for r in rows:
            writer.writerow([r.section, r.measure, f"{r.value:.6g}", r.unit, r.reference,
                             "" if r.reference_value is None else f"{r.reference_value:.6g}",
                             "" if r.ratio is None else f"{r.ratio:.4g}", r.note])
    lines = ["# Bench benchmark", "",
             f"{meta['when']}, {meta['cpus']} CPUs, load average {meta['load']}, Python {meta['python']}, "
             f"moto {meta['moto']}, boto3 {meta['boto3']}. Ratios: medians of per-round ratios of CPU time, "
             "A and B measured in alternating rounds of one run ('x2.00' = the bench takes half the time).", "",
             "| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in table[1:]]
    lines += ["", "![bench](bench.png)", ""]
    (out / "bench.md").write_text("\n".join(lines))
    _plot(rows, out / "bench.png")


def _plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    compared = [r for r in rows if r.ratio is not None and r.reference_value is not None]
    notebooks = [r for r in rows if r.section == "notebooks" and r.reference == "floor" and r.value == r.value]
    explorations = [r for r in rows if r.section == "exploration" and r.reference == "goal"]
    panels = [n for n in (len(compared), len(notebooks), len(explorations)) if n]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, sum(0.5 * n + 1.3 for n in panels)),
                             gridspec_kw={"height_ratios": [0.5 * n + 1.3 for n in panels]}, squeeze=False)
    axes = list(axes[:, 0])
    if compared:
        ax = axes.pop(0)
        labels = [textwrap.fill(f"{r.measure} vs {r.reference}", 60) for r in compared]
        ratios = [r.ratio for r in compared]
        y = range(len(compared))
        bars = ax.barh(list(y), ratios, color=["#2b7bba" if x >= 1 else "#d95f02" for x in ratios])
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlim(min(0.5, min(ratios) * 0.8), max(2.5, max(ratios) * 1.6))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"x{v:g}"))
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("times faster than the reference (CPU time; x1 = as fast; log scale)")
        ax.set_title("sqslab bench against bare moto and against itself without speed-ups", fontsize=10)
        for bar, ratio in zip(bars, ratios):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" x{ratio:.2f}", va="center", fontsize=8)
    if notebooks:
        ax = axes.pop(0)
        floor = notebooks[0].reference_value
        y = list(range(len(notebooks)))
        names = [r.measure.replace(" (headless)", "") for r in notebooks]
        ax.barh(y, [min(r.value, floor) for r in notebooks], color="#bbbbbb", label="floor (kernel + the bench's imports)")
        ax.barh(y, [max(r.value - floor, 0) for r in notebooks], left=[min(r.value, floor) for r in notebooks],
                color="#2b7bba", label="the notebook's own work")
        for i, r in enumerate(notebooks):
            ax.text(r.value, i, f" {r.value:.2f} s", va="center", fontsize=8)
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
        total = sum(r.value for r in notebooks)
        ax.set_xlabel("wall time, seconds", labelpad=1)
        ax.set_title(f"each notebook headless: {total:.1f} s in all, {total / (floor * len(notebooks)):.2f}x "
                     f"the floor\n(goals: at most 30 s, at most 2.5x the floor)", fontsize=10)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
        ax.set_xlim(0, max(r.value for r in notebooks) * 1.2)
    if explorations:
        ax = axes.pop(0)
        y = list(range(len(explorations)))
        values = [r.value if r.value == r.value else 0.0 for r in explorations]
        ax.barh(y, values, color=["#2b7bba" if v <= 2.0 else "#d95f02" for v in values])
        ax.axvline(2.0, color="black", linewidth=1, linestyle="--")
        ax.text(2.0, len(explorations) - 0.5, " goal: 2 s", fontsize=8, va="bottom")
        for i, (r, v) in enumerate(zip(explorations, values)):
            ax.text(v, i, f" {v:.2f} s" if r.value == r.value else " none", va="center", fontsize=8)
        ax.set_yticks(y, [textwrap.fill(r.measure.replace(": longest exhaustive exploration", ":"), 60)
                          for r in explorations], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, max(2.6, max(values) * 1.3))
        ax.set_xlabel("wall time of the notebook's longest exhaustive exploration, seconds")
        ax.set_title("one exhaustive crash exploration per lesson", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(rows: list[Row]) -> None:
    table = _table(rows)
    widths = [min(max(len(row[i]) for row in table), 60) for i in range(len(table[0]))]
    for n, row in enumerate(table):
        print("  ".join(cell[:widths[i]].ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _meta() -> dict:
    import platform

    import boto3
    import moto

    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return {"when": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "load": load,
            "python": platform.python_version(), "moto": moto.__version__, "boto3": boto3.__version__}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the process exit status (130 when stopped by a signal).

    SIGINT (Ctrl-C) and SIGTERM stop it at once, and so does the end of the process that started
    it (``make bench`` stopped with SIGTERM): every kernel and worker it started is shut down, it says
    what it had done, and it leaves nothing running.
    """
    started = time.perf_counter()
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    _watch_parent()
    try:
        return _main(argv, started)
    except BaseException as stop:
        # Raised inside nbclient's event loop, the stop can come out as asyncio's CancelledError.
        if not (_stopping or isinstance(stop, (Stopped, KeyboardInterrupt))):
            raise
        why = _stopping[0] if _stopping else "SIGINT"
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ended = _end_descendants()
        print(f"\nbench: stopped by {why} after {time.perf_counter() - started:.0f} s; "
              f"{ended} process(es) it had started were ended, nothing is left running; no results written.",
              file=sys.stderr, flush=True)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main(argv: list[str] | None, started: float) -> int:
    parser = argparse.ArgumentParser(prog="python -m sqslab.tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="under a minute: fewer rounds, no notebooks, no moto server mode (a smoke test)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds per comparison (default 7)")
    parser.add_argument("--no-notebooks", action="store_true", help="skip executing the notebooks")
    parser.add_argument("--notebook-runs", type=int, default=2,
                        help="executions of each kernel, the fastest counting (default 2)")
    parser.add_argument("--all-notebooks-off", action="store_true",
                        help="execute every notebook also with the speed-ups off (slower)")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench", help="where to write the results")
    parser.add_argument("--ablation", action="store_true",
                        help="also measure each speed-up alone: a scenario run with all of them but that one")
    parser.add_argument("--grading", action="store_true",
                        help="also run the class-grading benchmark (autograder/bench_grading.py; many minutes)")
    parser.add_argument("--grading-args", default="", help="extra arguments for autograder/bench_grading.py")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION",
                        help=f"measure only these parts (repeatable): {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    only = set(args.only or SECTIONS)
    rounds = args.rounds or (2 if args.quick else 7)
    meta = _meta()
    _say(f"sqslab bench: {meta['cpus']} CPUs, load average {meta['load']}; {rounds} alternating rounds per comparison")
    endpoint = _endpoint_here()
    if endpoint is not None:
        _say(f"SQSLAB_ENDPOINT: {endpoint}")
    rows = (bench_calls(rounds, server=endpoint is None and not args.quick, size=0.25 if args.quick else 1.0)
            if "calls" in only else [])
    if endpoint is not None and "outside this process" in endpoint:
        _say("That endpoint is outside this process, where the clock is real: a crash exploration would wait "
             "out real visibility timeouts, so only the SQS calls are measured.")
        args.no_notebooks = True
    else:
        if "scenarios" in only:
            rows += bench_scenarios(rounds, 1 if args.quick else 3)
        if "fidelity" in only:
            rows += bench_fidelity()
    if args.ablation:
        rows += bench_ablation(max(rounds, 9))
    if "notebooks" in only and not (args.quick or args.no_notebooks):
        rows += bench_notebooks(args.all_notebooks_off, args.notebook_runs)
    rows += goal_rows(rows, endpoint)
    write_outputs(rows, args.out, meta)
    print()
    print_table(rows)
    print(f"\nWritten: {args.out / 'bench.md'}, bench.csv, bench.png ({time.perf_counter() - started:.0f} s)")
    status = 0
    if args.grading:
        script = REPO / "autograder" / "bench_grading.py"
        if not script.exists():
            print("--grading: autograder/bench_grading.py does not exist yet.", file=sys.stderr)
            return 1
        _say(f"\nClass grading benchmark: {script.relative_to(REPO)} {args.grading_args}")
        status = subprocess.call([sys.executable, str(script), *shlex.split(args.grading_args)], cwd=REPO)
    print(f"bench: done in {time.perf_counter() - started:.0f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
