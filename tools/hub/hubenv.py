"""The hub's own environment: a virtualenv every learner's uid can read, and configurable-http-proxy.

A JupyterHub starts each learner's server, and their kernels, as that learner's own uid: the Python
they run must be readable by every uid. A checkout's ``.venv`` often is not (a clone in a private
home folder, an interpreter from pyenv under ``/root``), so the hub gets an environment of its own
under ``--prefix`` (default ``/opt/sqslab-hub``, as The Littlest JupyterHub keeps its user environment
under ``/opt/tljh``):

- ``venv/``: a virtualenv made with a Python 3.11 whose files every uid can read, with this course's
  pinned requirements, JupyterHub and the bench installed as a copy (not editable: the checkout may be
  private);
- ``node/``: configurable-http-proxy, the hub's proxy, from npm, at a 4.x version (5.x needs Node.js
  20; Debian bookworm ships 18).

Run again after the bench changed: it re-installs the bench only (seconds), or everything when
pyproject.toml changed. Needs root (it writes under /opt) and npm.

Usage::

    python tools/hub/hubenv.py [--prefix /opt/sqslab-hub]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PREFIX = Path("/opt/sqslab-hub")
#: The last 4.x: it runs on Node.js 10 and later, so on Debian bookworm's Node.js 18.
CHP_VERSION = "4.6.3"


class HubEnvError(RuntimeError):
    """The hub's environment cannot be made here; the message says why and what to do."""


def readable_by_all(path: Path) -> Path | None:
    """The first folder on the way to ``path`` (or ``path`` itself) that other uids cannot enter or read.

    Returns None when every uid can reach and read ``path``.
    """
    path = Path(os.path.realpath(path))
    for part in [*reversed(path.parents), path]:
        mode = part.stat().st_mode
        need = stat.S_IXOTH if part.is_dir() else stat.S_IROTH
        if part.is_dir() and part == path:
            need |= stat.S_IROTH
        if not mode & need:
            return part
    return None


def find_python() -> Path:
    """A Python 3.11 with a working ``venv`` whose installation every uid can read."""
    candidates = [os.environ.get("SQSLAB_HUB_PYTHON"), sys.executable, shutil.which("python3.11"),
                  "/usr/bin/python3.11", "/usr/local/bin/python3.11"]
    tried = []
    for candidate in filter(None, candidates):
        exe = Path(candidate)
        if not exe.exists():
            continue
        try:
            info = subprocess.run([str(exe), "-c", "import sys, ensurepip, venv; print(sys.base_prefix); "
                                   "print(sys.version_info[:2] == (3, 11))"],
                                  capture_output=True, text=True, timeout=60, check=True).stdout.split("\n")
        except (subprocess.SubprocessError, OSError):
            tried.append(f"{exe} (no venv module)")
            continue
        base, is_311 = Path(info[0]), info[1] == "True"
        real = Path(os.path.realpath(exe))
        blocked = readable_by_all(real) or readable_by_all(base / "lib" / "python3.11")
        if not is_311:
            tried.append(f"{exe} (not 3.11)")
        elif blocked:
            tried.append(f"{exe} ({blocked} is private)")
        else:
            return real
    raise HubEnvError("no Python 3.11 that every uid can read: tried " + "; ".join(tried or ["nothing"])
                      + ". On Debian: apt-get install python3.11 python3.11-venv (or set SQSLAB_HUB_PYTHON).")


def project_requirements(repo: Path = REPO) -> list[str]:
    """The course's own pinned requirements (pyproject.toml's ``dependencies``)."""
    import tomllib

    return tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]


def hub_requirements(repo: Path = REPO) -> list[str]:
    """The pinned JupyterHub of pyproject.toml's ``hub`` extra (its repo2docker is for the Binder test)."""
    import tomllib

    extra = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["optional-dependencies"]["hub"]
    return [r for r in extra if r.startswith("jupyterhub")]


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        for f in sorted(p for p in ([path] if path.is_file() else path.rglob("*"))
                        if p.is_file() and "__pycache__" not in p.parts):
            h.update(str(f.relative_to(REPO)).encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def _run(command: list[str], **kw) -> None:
    print("hubenv:", " ".join(command), flush=True)
    subprocess.run(command, check=True, **kw)


def ensure(prefix: Path = DEFAULT_PREFIX, repo: Path = REPO) -> dict[str, Path]:
    """Make (or bring up to date) the hub's environment under ``prefix``; return its paths.

    Parameters
    ----------
    prefix : Path
        Where the environment lives; every uid must be able to read it.
    repo : Path
        The checkout whose pyproject.toml and bench are installed.

    Returns
    -------
    dict
        ``python``, ``venv``, ``singleuser`` (jupyterhub-singleuser) and ``proxy``
        (configurable-http-proxy).
    """
    prefix = Path(prefix)
    os.umask(0o022)  # whatever root's umask, every file here is for every uid to read
    try:
        prefix.mkdir(parents=True, exist_ok=True)
        prefix.chmod(0o755)
    except PermissionError:
        raise HubEnvError(f"cannot write {prefix}: run as root (a hub with local users needs it anyway), "
                          "or choose a HUB_PREFIX you own") from None
    blocked = readable_by_all(prefix)
    if blocked:
        raise HubEnvError(f"{blocked} is private, so the learners' uids cannot use {prefix}: choose another "
                          "HUB_PREFIX (default /opt/sqslab-hub)")
    venv, node = prefix / "venv", prefix / "node"
    python = venv / "bin" / "python"
    # What is installed, not the rest of pyproject.toml (pytest's settings change nothing here).
    deps_key = hashlib.sha256(json.dumps([project_requirements(repo), hub_requirements(repo)]).encode()).hexdigest()[:16]
    bench_key = deps_key + _digest([repo / "src"])
    deps_stamp, bench_stamp = venv / ".sqslab-deps", venv / ".sqslab-bench"
    if not python.exists() or not deps_stamp.exists() or deps_stamp.read_text() != deps_key:
        shutil.rmtree(venv, ignore_errors=True)
        _run([str(find_python()), "-m", "venv", str(venv)])
        _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip"])
        bench_stamp.unlink(missing_ok=True)
    fresh = not bench_stamp.exists()
    if fresh or bench_stamp.read_text() != bench_key:
        # A copy of the project, built outside the checkout: the build writes egg-info next to its sources.
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("pyproject.toml", "README.md", "LICENSE"):
                shutil.copy(repo / name, Path(tmp) / name)
            shutil.copytree(repo / "src", Path(tmp) / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            if fresh:
                # The course's pins and the hub's own (JupyterHub brings jupyterhub-singleuser).
                _run(pip + [tmp, *hub_requirements(repo)])
            else:
                _run(pip + ["--force-reinstall", "--no-deps", tmp])
        deps_stamp.write_text(deps_key)
        bench_stamp.write_text(bench_key)
        # `make grade VENV=<this venv>` counts its setup as done (the Makefile's stamp, newer than pyproject.toml).
        (venv / ".stamp-sqslab-setup").touch()
    proxy = node / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists() or f'"version": "{CHP_VERSION}"' not in (
            node / "node_modules" / "configurable-http-proxy" / "package.json").read_text():
        npm = shutil.which("npm")
        if not npm:
            raise HubEnvError("npm is missing (Debian: apt-get install nodejs npm): the hub's proxy, "
                              "configurable-http-proxy, is a Node.js program")
        node.mkdir(exist_ok=True)
        _run([npm, "install", "--prefix", str(node), "--no-fund", "--no-audit", "--loglevel=error",
              f"configurable-http-proxy@{CHP_VERSION}"])
    for path in (python, proxy):
        blocked = readable_by_all(path)
        if blocked:
            raise HubEnvError(f"{blocked} is private: the learners' uids cannot run {path}")
    return {"python": python, "venv": venv, "singleuser": venv / "bin" / "jupyterhub-singleuser", "proxy": proxy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", type=Path, default=DEFAULT_PREFIX)
    args = parser.parse_args(argv)
    try:
        paths = ensure(args.prefix)
    except (HubEnvError, subprocess.CalledProcessError) as exc:
        print(f"hubenv: {exc}", file=sys.stderr)
        return 1
    print(f"hubenv: ready: {paths['venv']} (the learners' Python), {paths['proxy']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
