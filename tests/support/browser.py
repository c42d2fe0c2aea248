"""Debian's Chromium for the browser tests: where it is, how it starts here, and a loud skip without it."""

from __future__ import annotations

import os

import pytest

CHROMIUM = os.environ.get("SQSLAB_CHROMIUM", "/usr/bin/chromium")
#: Headless on a closed network, as root in a container: no sandbox (it needs user namespaces
#: Chromium refuses as root), no GPU, and nothing that calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]


def chromium_or_skip() -> None:
    """Skip loudly when Chromium or Playwright is missing; fail instead under CI=true."""
    problem = None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        problem = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (make setup installs it)"
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests cannot run: {problem} (CI=true: they are required)")
    pytest.skip(f"BROWSER TESTS SKIPPED: {problem}")
