"""Fixtures shared by the whole suite: a lab (mocked AWS + stopped clock) per test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/support as "support"


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
