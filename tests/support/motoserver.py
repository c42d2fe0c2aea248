"""moto's server mode for the suite: in the test process (shares its moto) or in a process of its own."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest


@pytest.fixture(scope="session")
def threaded_moto_server():
    """A ``ThreadedMotoServer`` in this process, on 127.0.0.1 and a free port: its URL.

    The same server ``SQSLAB_ENDPOINT=moto-server`` starts (:func:`sqslab.endpoint.moto_server_url`):
    it serves this process's moto, so a lab pointed at it keeps the simulated clock and the bench's
    corrections.
    """
    from sqslab.endpoint import moto_server_url

    return moto_server_url()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server_elsewhere():
    """A moto server in a process of its own (an SQS outside the test process): its URL.

    Nothing of the bench is loaded there, so it behaves as plain moto, on real time.
    """
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the moto server process did not start")
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
