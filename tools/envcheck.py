"""Does this Python already have what pyproject.toml asks for?

``make setup`` asks this first and runs ``pip install -e .[test,hub]`` only when the answer is no, so that
touching pyproject.toml (or a venv built another way) does not reinstall a working environment while
other processes are using it. Checks every requirement of ``[project] dependencies`` and the ``test``
and ``hub`` extras, the requirements their extras pull in, and that ``sqslab`` is installed from this checkout.

Exit status 0 when satisfied, 1 when ``pip install`` is needed, and 2 when this Python's sqslab is
installed from *another checkout*: installing this one would silently switch everyone who uses that
environment over to this checkout's code, so ``make setup`` refuses (use a venv of your own, ``VENV=...``).
One line per problem unless ``--quiet``.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:  # a fresh venv has only pip, which carries its own copy
    from pip._vendor.packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent


def wanted(pyproject: Path = REPO / "pyproject.toml", extras: tuple[str, ...] = ("test", "hub")) -> list[str]:
    """The requirement strings of the project's dependencies plus the given optional extras."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    found = list(project.get("dependencies", []))
    for extra in extras:
        found += project.get("optional-dependencies", {}).get(extra, [])
    return found


def problems(requirements: list[str]) -> list[str]:
    """One line per requirement (or requirement of a requested extra) the environment misses."""
    found, seen = [], set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate():
            continue
        key = (req.name.lower(), str(req.specifier), tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            found.append(f"{req.name} is not installed (wanted {req})")
            continue
        if not req.specifier.contains(dist.version, prereleases=True):
            found.append(f"{req.name} {dist.version} is installed, wanted {req}")
        for extra in req.extras:
            for sub in dist.requires or []:
                sub_req = Requirement(sub)
                if sub_req.marker is not None and sub_req.marker.evaluate({"extra": extra}):
                    sub_req.marker = None
                    todo.append(sub_req)
    return found


def project_problems() -> list[str]:
    """Is sqslab installed, at pyproject's version, importable from this checkout's src/?"""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    try:
        version = metadata.version(project["name"])
    except metadata.PackageNotFoundError:
        return [f"{project['name']} is not installed (make setup installs it editable)"]
    found = []
    if version != project["version"]:
        found.append(f"{project['name']} {version} is installed, pyproject.toml says {project['version']}")
    import importlib.util

    spec = importlib.util.find_spec(project["name"])
    # submodule_search_locations also covers a package whose __init__.py is not written yet.
    places = [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
    if not any(place == REPO / "src" / project["name"] for place in places):
        found.append(f"{project['name']} is imported from {places or 'nowhere'}, not from {REPO / 'src'}")
    return found


def other_checkout() -> Path | None:
    """The src/ folder of another checkout that this Python's editable sqslab points at, if any."""
    try:
        dist = metadata.distribution("sqslab")
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or []:
        if file.name.startswith("__editable__") and file.name.endswith(".pth"):
            for line in Path(dist.locate_file(file)).read_text(encoding="utf-8").splitlines():
                place = Path(line.strip())
                if line.strip() and not line.startswith(("import ", "#")) and place.is_absolute():
                    if place.resolve() != (REPO / "src").resolve():
                        return place
    return None


def main(argv: list[str]) -> int:
    quiet = "--quiet" in argv
    elsewhere = other_checkout()
    if elsewhere is not None:
        print(f"envcheck: {sys.prefix} runs sqslab from {elsewhere}, another checkout; installing"
              f" {REPO} there would switch everyone using it over. Use your own venv (make setup"
              " VENV=...), or SETUP_FORCE=1 if you mean it.", file=sys.stderr)
        return 2
    found = problems(wanted()) + project_problems()
    if not quiet:
        for line in found:
            print(f"envcheck: {line}")
        if not found:
            print("envcheck: every requirement of pyproject.toml is installed")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
