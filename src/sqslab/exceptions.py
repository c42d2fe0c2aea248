"""The bench's errors and the crash it injects.

``LabError`` is the one base class for the bench's ordinary errors. ``Crash`` is not an error: it
is the injected death of a consumer process, so it derives from ``BaseException`` and an
``except Exception:`` in a learner's code cannot swallow it (the way ``KeyboardInterrupt`` and
``SystemExit`` work).
"""

from __future__ import annotations


class LabError(Exception):
    """Something about the lab itself is wrong (set-up, arguments, state), with a fix in the text."""


class EnvironmentProblem(LabError):
    """The Python environment cannot run the lab; the message says what to install or fix."""


class Crash(BaseException):
    """An injected process death at a named fault point.

    Parameters
    ----------
    point:
        The fault point's name, for example ``"before_delete"``.
    message:
        A sentence saying where the consumer died.
    """

    def __init__(self, point: str, message: str = ""):
        self.point = point
        super().__init__(message or f"injected crash at {point}")


class RunawayConsumer(BaseException):
    """A consumer step made far more AWS calls than one step needs (a loop that never returns).

    A BaseException, like :class:`Crash`, so ``except Exception`` cannot hide it.
    """
