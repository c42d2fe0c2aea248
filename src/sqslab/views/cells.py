"""Knowing when a notebook cell is running, so a live view redraws once per cell, not once per call."""

from __future__ import annotations

import sys
from typing import Any, Callable

__all__ = ["cell_running", "after_cell"]

_cell: dict[str, Any] = {"running": False, "after": [], "hooked": False}


def cell_running() -> bool:
    """True while IPython runs a cell (so the view can wait for its end to redraw)."""
    _hook_ipython()
    return _cell["running"]


def after_cell(callback: Callable[[], None]) -> None:
    """Call ``callback()`` once the running cell has finished."""
    _cell["after"].append(callback)


def _hook_ipython() -> None:
    if _cell["hooked"]:
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipywidgets needs IPython
        return
    shell = get_ipython()
    if shell is None:
        return
    _cell["hooked"] = True

    def pre_run_cell(*_: Any) -> None:
        _cell["running"] = True

    def post_run_cell(*_: Any) -> None:
        _cell["running"] = False
        callbacks, _cell["after"] = _cell["after"], []
        for callback in callbacks:
            callback()

    shell.events.register("pre_run_cell", pre_run_cell)
    shell.events.register("post_run_cell", post_run_cell)
    # The cell that creates the first view is already running when the hooks go in.
    _cell["running"] = getattr(shell, "execution_count", None) is not None and _in_a_cell()


def _in_a_cell() -> bool:
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name in ("run_cell", "run_cell_async", "run_code"):
            return True
        frame = frame.f_back
    return False
