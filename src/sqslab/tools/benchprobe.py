"""What ``make bench`` learns from inside a notebook's kernel: explorations, simulated time, real sleeps.

The benchmark executes each notebook in a fresh kernel and times it from outside. Three of its
figures can only be seen from inside the kernel, so the benchmark starts every kernel (the floor's
too, so that both pay the same) with this probe installed:

* **every exhaustive exploration** the notebook runs: each call of a function named ``explore`` or
  ``explore_...`` in any ``sqslab`` module (``sqslab.explore``, ``sqslab.lessons.fifo.explore_in_order``,
  ``sqslab.lessons.producer.explore_producer``, and whatever a new lesson's module adds under that name),
  with its wall and CPU time, its number of runs and the notebook cell (execution count) that ran
  it. Nested calls count once, in the outermost;
* the **simulated time** covered: for every :class:`sqslab.clock.Clock`, the furthest it was moved;
* the **real time slept**: every ``time.sleep`` and ``threading.Condition.wait`` (which
  ``Event.wait`` and moto's long poll use) made by the notebook's code, the bench or moto, timed;
  the kernel's own machinery (ipykernel, zmq, tornado, IPython, asyncio) is left out, since it waits
  between cells whatever the notebook does, and so is the HTTP server of moto's server mode.

Installed by ``python -m sqslab.tools.bench`` through ``--IPKernelApp.exec_lines``, loaded from its file
(not as ``sqslab.tools.benchprobe``, which would import the package first), when ``SQSLAB_BENCH_PROBE``
names a file; at the kernel's exit the probe writes its findings there as JSON. It wraps ``sqslab``
modules as they are imported (it imports none itself), so a notebook imports what it imported
before, when it did. Nothing here runs outside the benchmark.
"""

from __future__ import annotations

import atexit
import functools
import importlib.abc
import importlib.machinery
import itertools
import json
import os
import sys
import threading
import time

#: Where the kernel's own waiting comes from: not the notebook's doing.
#: moto's server mode adds the HTTP server's (a thread per request, started and waited for).
_KERNEL_MACHINERY = ("ipykernel", "zmq", "tornado", "IPython", "asyncio", "jupyter_client", "traitlets",
                     "comm", "concurrent", "selectors", "queue", "debugpy", "ipywidgets",
                     "socketserver", "werkzeug")

_findings: dict = {"explorations": [], "clocks": {}, "slept": 0.0, "sleeps": 0, "waited": 0.0, "waits": 0}
_depth = threading.local()
_installed = False
_meter = None  # the SleepMeter (sqslab/sleeps.py) counting real waits, once installed
_clock_ids = itertools.count(1)
#: original exploration function -> its timed wrapper (to rebind names imported before the probe).
_wrapped: dict = {}


def _cell() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - the probe only runs in kernels
        return None
    shell = get_ipython()
    count = getattr(shell, "execution_count", None) if shell is not None else None
    # IPython counts the running cell as done already: the cell's own number is one less.
    return count - 1 if isinstance(count, int) else None


def _timed_exploration(fn, module: str):
    @functools.wraps(fn)
    def explore(*args, **kwargs):
        if getattr(_depth, "n", 0):
            return fn(*args, **kwargs)
        _depth.n = 1
        cpu, wall = time.process_time(), time.perf_counter()
        verdict = None
        try:
            verdict = fn(*args, **kwargs)
            return verdict
        finally:
            _depth.n = 0
            _findings["explorations"].append({
                "function": f"{module}.{fn.__name__}", "cell": _cell(),
                "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                "runs": getattr(verdict, "runs", None), "ok": getattr(verdict, "ok", None)})

    explore._sqslab_probe = True  # type: ignore[attr-defined]
    return explore


def _wrap_module(module) -> None:
    name = module.__name__
    for attribute, value in list(vars(module).items()):
        if not callable(value) or getattr(value, "_sqslab_probe", False):
            continue
        if (attribute == "explore" or attribute.startswith("explore_")) and \
                getattr(value, "__module__", None) == name:
            _wrapped[value] = _timed_exploration(value, name)
            setattr(module, attribute, _wrapped[value])
    clock = vars(module).get("Clock")
    if name == "sqslab.clock" and isinstance(clock, type):
        _wrap_clock(clock)


def _wrap_clock(cls) -> None:
    advance_to = cls.advance_to

    @functools.wraps(advance_to)
    def advanced_to(self, when):
        try:
            return advance_to(self, when)
        finally:
            if self.running:
                key = vars(self).setdefault("_sqslab_probe_id", str(next(_clock_ids)))
                _findings["clocks"][key] = max(_findings["clocks"].get(key, 0.0), self.elapsed())

    cls.advance_to = advanced_to


class _Loader(importlib.abc.Loader):
    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        _wrap_module(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Hands out sqslab's modules with a loader that wraps their explorations once executed."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "sqslab" and not fullname.startswith("sqslab."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None and not isinstance(spec.loader, _Loader):
            spec.loader = _Loader(spec.loader)
        return spec


def _ours(frame) -> bool:
    """True when the wait was asked for by the notebook, the bench or moto (not the kernel)."""
    while frame is not None and frame.f_code.co_filename.endswith("threading.py"):
        frame = frame.f_back
    if frame is None:
        return False
    module = frame.f_globals.get("__name__", "") or ""
    return module.split(".")[0] not in _KERNEL_MACHINERY


def _sleep_meter():
    # sqslab/sleeps.py from its file: importing it as sqslab.sleeps would import the package first.
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sleeps.py")
    spec = importlib.util.spec_from_file_location("_sqslab_probe_sleeps", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SleepMeter(ignore=lambda kind, frame: not _ours(frame))


def findings() -> dict:
    """What the probe saw so far (explorations, simulated seconds per clock, real time slept).

    ``cpu`` is the kernel's CPU time so far, start-up included: unlike wall time, another
    program busy on the same cores hardly changes it.
    """
    waiting = {}
    if _meter is not None:
        waiting = {"slept": _meter.slept, "sleeps": _meter.sleeps, "waited": _meter.waited, "waits": _meter.waits}
    return {**_findings, **waiting, "simulated": sum(_findings["clocks"].values()), "cpu": time.process_time()}


def _write(path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(findings(), f)


def install(path: str | None = None) -> None:
    """Start probing this process; write the findings to ``path`` (default ``$SQSLAB_BENCH_PROBE``) at exit."""
    global _installed
    path = path or os.environ.get("SQSLAB_BENCH_PROBE")
    if _installed or not path:
        return
    _installed = True
    loaded = [m for n, m in list(sys.modules.items())
              if (n == "sqslab" or n.startswith("sqslab.")) and m is not None and n != __name__]
    for module in loaded:
        _wrap_module(module)
    for module in loaded:  # names bound before the probe came, like sqslab.explore in the package
        for attribute, value in list(vars(module).items()):
            try:
                wrapper = _wrapped.get(value)
            except TypeError:  # unhashable
                continue
            if wrapper is not None:
                setattr(module, attribute, wrapper)
    sys.meta_path.insert(0, _Finder())
    global _meter
    _meter = _sleep_meter().start()
    atexit.register(_write, path)
