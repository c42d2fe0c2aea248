"""One Jupyter kernel, driven the way nbclient (and so nbgrader) drives it: code in, error or not out.

:meth:`Kernel.run` sends one piece of code and waits for its reply, at most ``timeout`` seconds.
Past the limit the kernel is interrupted (as nbclient does on a cell timeout) and the outcome is
``timeout``; a kernel that dies while running (``os._exit``, a crash) gives ``died``. Either way the
caller restarts it: after an interrupt nobody knows what state the lab was left in.
"""

from __future__ import annotations

import os
import queue
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import KernelManager


@dataclass
class Outcome:
    """What one piece of code did: ``ok``, ``error``, ``timeout`` or ``died``."""

    status: str
    seconds: float
    ename: str = ""
    evalue: str = ""
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def summary(self, limit: int = 300) -> str:
        if self.status == "ok":
            return "ok"
        if self.status in ("timeout", "died"):
            return self.status
        text = f"{self.ename}: {self.evalue}".strip()
        return text if len(text) <= limit else text[:limit - 3] + "..."


#: Settings that would point the bench somewhere other than moto in this process (the suite's
#: conftest removes them too): a mutant must never call someone's AWS account.
_UNSAFE_ENV = ("SQSLAB_ENDPOINT", "SQSLAB_ALLOW_AWS", "SQSLAB_QUEUE_PREFIX", "SQSLAB_MAX_WAIT")


class Kernel:
    """A python3 kernel in ``cwd``; start, run code, restart, shut down."""

    def __init__(self, cwd: Path, *, kernel_name: str = "python3", startup_timeout: float = 120):
        self.cwd = Path(cwd)
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.km: KernelManager | None = None
        self.kc = None
        self.starts = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "Kernel":
        env = {k: v for k, v in os.environ.items() if k not in _UNSAFE_ENV}
        env.setdefault("MPLBACKEND", "agg")   # pictures are never graded; drawing them is wasted time
        env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        self.km = KernelManager(kernel_name=self.kernel_name)
        # The kernel's own chatter (warnings about its transport, a dying kernel's last words) would
        # scribble over the progress bars; what matters comes back through its messages.
        self.km.start_kernel(cwd=str(self.cwd), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             extra_arguments=["--HistoryManager.hist_file=:memory:"])
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=self.startup_timeout)
        self.starts += 1
        return self

    def shutdown(self) -> None:
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:
                pass
            self.kc = None
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:
                pass
            self.km = None

    def restart(self) -> None:
        self.shutdown()
        self.start()

    def alive(self) -> bool:
        return self.km is not None and self.km.is_alive()

    def __enter__(self) -> "Kernel":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # -- running ------------------------------------------------------------------------------
    def run(self, code: str, timeout: float) -> Outcome:
        """Run ``code`` (like a cell: IPython syntax allowed) and wait at most ``timeout`` s."""
        assert self.kc is not None, "start the kernel first"
        began = time.monotonic()
        deadline = began + max(timeout, 0.001)
        self._drain()
        msg_id = self.kc.execute(code, silent=False, store_history=False, allow_stdin=False,
                                 stop_on_error=False)
        idle = False
        while not idle:
            left = deadline - time.monotonic()
            if left <= 0:
                return self._interrupt(began)
            try:
                msg = self.kc.get_iopub_msg(timeout=min(left, 0.5))
            except queue.Empty:
                if not self.alive():
                    return Outcome("died", time.monotonic() - began)
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                idle = True
        while True:
            left = deadline - time.monotonic()
            try:
                reply = self.kc.get_shell_msg(timeout=max(left, 5.0))
            except queue.Empty:
                if not self.alive():
                    return Outcome("died", time.monotonic() - began)
                return self._interrupt(began)
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        content = reply["content"]
        seconds = time.monotonic() - began
        if content.get("status") == "ok":
            return Outcome("ok", seconds)
        return Outcome("error", seconds, content.get("ename", ""), content.get("evalue", ""),
                       _plain("\n".join(content.get("traceback", []))))

    def _interrupt(self, began: float) -> Outcome:
        try:
            self.km.interrupt_kernel()
        except Exception:
            pass
        return Outcome("timeout", time.monotonic() - began)

    def _drain(self) -> None:
        for get in (self.kc.get_iopub_msg, self.kc.get_shell_msg):
            while True:
                try:
                    get(timeout=0)
                except queue.Empty:
                    break


def _plain(text: str) -> str:
    """A traceback without its terminal colours."""
    import re
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
