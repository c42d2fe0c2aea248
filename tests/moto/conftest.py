"""The corrections' and speed-ups' tests compare moto's answers exactly: short polls do not sample here.

Sampling (a short poll returns a seeded subset of the visible messages) is itself a correction, with
tests of its own in ``test_sampling.py``; every other test in this folder asks moto a question whose
answer must not depend on which servers a short poll happened to ask.
"""

from __future__ import annotations

import pytest

from sqslab.moto import backend


@pytest.fixture(autouse=True, scope="module")
def exact_short_polls(request):
    if request.module.__name__.endswith("test_sampling"):
        yield
        return
    saved = backend.SHORT_POLL_SAMPLING["on"]
    backend.SHORT_POLL_SAMPLING["on"] = False
    try:
        yield
    finally:
        backend.SHORT_POLL_SAMPLING["on"] = saved
