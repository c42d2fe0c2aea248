"""The project's own source: modules of one job, short enough to read, or saying why not.

A module above about 600 lines is usually two jobs; one that is longer on purpose (a catalogue of
checks, a sandbox that must be one file to be loaded into a kernel) says so in its docstring, in a
sentence with "long because", so the next maintainer knows the length was a choice.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The Python the project ships or runs: the bench, the grader, the tools.
SOURCES = ("src/sqslab", "autograder", "tools")
LIMIT = 600


def _modules() -> list[Path]:
    return sorted(p for folder in SOURCES for p in (ROOT / folder).rglob("*.py") if ".venv" not in p.parts)


def test_there_are_modules_to_check():
    assert len(_modules()) > 40


def test_no_module_is_longer_than_600_lines_without_saying_why():
    unexplained = []
    for path in _modules():
        lines = path.read_text().count("\n")
        if lines <= LIMIT:
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text(), str(path))) or ""
        if "long because" not in " ".join(docstring.split()):
            unexplained.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert not unexplained, ("split these modules, or say in the docstring why each is one module "
                             f"(a sentence with 'long because'): {unexplained}")
