"""Waiting for a real server the tests started (JupyterLab, `make lab`) to answer."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, what: str, seconds: float = 90) -> None:
    """Return once ``url`` answers 200; fail with the log's tail if ``proc`` exits or ``seconds`` pass.

    The caller stops ``proc`` (a fixture's ``finally``): a failure here leaves it running.
    """
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer within {seconds:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)  # real time: waiting for a real server to start
