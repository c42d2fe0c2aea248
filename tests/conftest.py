"""Fixtures shared by the whole suite: a lab (mocked AWS + stopped clock) per test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/support as "support"

# moto's server mode, for the endpoint and fact tests in any folder.
from support.motoserver import moto_server_elsewhere, threaded_moto_server  # noqa: E402, F401

# The suite runs on moto in this process whatever the shell says: an exported SQSLAB_ENDPOINT (real
# AWS, with consent) must never turn `make test` into calls on someone's account. The endpoint tests
# pass their endpoint to the lab explicitly.
for _name in ("SQSLAB_ENDPOINT", "SQSLAB_ALLOW_AWS", "SQSLAB_QUEUE_PREFIX", "SQSLAB_MAX_WAIT"):
    os.environ.pop(_name, None)


@pytest.fixture
def lab():
    """A started lab, closed after the test (no AWS, no network, simulated time)."""
    from sqslab import Lab

    with Lab() as running:
        yield running


@pytest.fixture
def clock(lab):
    """The lab's simulated clock."""
    return lab.clock


#: The slowest groups of tests, slowest first. pytest-xdist hands groups to workers in collection
#: order, so starting these first keeps both workers busy to the end instead of leaving one idle
#: while the other grades a corpus alone.
_SLOW_FIRST = ("tests/grader/test_grader_corpus.py", "tests/course/test_corpus.py", "tests/course/test_browser.py",
               "tests/grader/test_grader_lessons.py", "tests/mutants/test_sample.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        return next((i for i, prefix in enumerate(_SLOW_FIRST) if item.nodeid.startswith(prefix)),
                    len(_SLOW_FIRST))

    items.sort(key=rank)  # stable: the order within a file is kept
