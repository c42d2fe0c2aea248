"""moto and botocore, corrected and sped up: the one door to their internals.

The bench runs on moto, an in-process mock of AWS. Where moto differs from SQS as AWS documents
it, :mod:`.fixes` corrects it; :mod:`.speed` makes the same SQS cost less per call. Both patch
moto's and botocore's classes, so they are right only for the versions they were written for:
:func:`install` checks the installed versions first and refuses, saying what to do, rather than
patch code it does not know. No module outside this folder reaches into moto's or botocore's
internals (``tests/moto/test_door.py`` reads the source to keep it so).

- :mod:`.backend`: what the patches share (the backend lock, the clock long polls wait on, the
  listeners that hear SQS act on its own);
- :mod:`.fixes`: one function per correction of moto's SQS;
- :mod:`.movetasks`: StartMessageMoveTask and its siblings, which moto lacks;
- :mod:`.state`: what the lab reads of moto's queues and tables;
- :mod:`.speed`: the same SQS with less work per call.
"""

from __future__ import annotations

from ..exceptions import EnvironmentProblem

#: The exact versions the corrections and speed-ups were written and tested against. Changing one
#: means re-running ``make test`` (the fidelity and speed suites compare behaviour fact by fact).
SUPPORTED = {"moto": "5.2.5", "botocore": "1.44.5"}
#: How pip names them, with the extras the course needs.
_PIP_NAMES = {"moto": "moto[sqs,dynamodb]"}


def installed_versions() -> dict[str, str | None]:
    """The installed version of each package in :data:`SUPPORTED` (None when it is missing)."""
    found: dict[str, str | None] = {}
    for name in SUPPORTED:
        try:
            module = __import__(name)
        except ImportError:
            found[name] = None
        else:
            found[name] = getattr(module, "__version__", None)
    return found


def check_versions() -> None:
    """Refuse to patch anything unless moto and botocore are the versions in :data:`SUPPORTED`.

    Raises
    ------
    EnvironmentProblem
        Naming what is installed, what is supported and the command that fixes it.
    """
    found = installed_versions()
    wrong = {name: version for name, version in found.items() if version != SUPPORTED[name]}
    if not wrong:
        return
    seen = ", ".join(f"{name} {version or 'not installed'}" for name, version in found.items())
    wanted = ", ".join(f"{name} {version}" for name, version in SUPPORTED.items())
    pins = " ".join(f"'{_PIP_NAMES.get(name, name)}=={SUPPORTED[name]}'" for name in wrong)
    raise EnvironmentProblem(
        f"The lab corrects moto's and botocore's internals and supports exactly {wanted}; this "
        f"environment has {seen}. Patching other versions could silently teach moto's quirks as SQS "
        f"behaviour, so the lab refuses to start. Fix: run `make setup` in the course folder (it "
        f"installs the pinned versions into .venv), or `pip install {pins}` in your own environment.")


def install() -> tuple[str, ...]:
    """Check the versions, then install every correction and speed-up (once per process).

    Returns
    -------
    tuple of str
        The names of the corrections and speed-ups in force.
    """
    check_versions()
    from . import fixes, speed

    return fixes.apply() + speed.apply()
