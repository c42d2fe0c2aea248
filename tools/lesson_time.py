"""How long a notebook takes a learner: the course's one formula, applied to every notebook.

A learner's time in a notebook, in minutes::

    words / 150               reading the prose (technical prose: 150 words a minute)
    + 15 x exercise functions each public function a learner writes in a solution cell
    + 2 x concept questions   each graded question answered with a letter or a number
    + code lines / 10         reading and running the other code cells (6 s a line)

rounded up to the next 5 minutes. Running time is left out: every lab runs on a simulated clock and
a whole notebook runs in seconds (``make bench``). A notebook states its time in its first cell as
"**Time:** about N minutes", and N must be this formula's answer (``tests/course/test_lesson_shape.py``
checks it); no notebook may need more than 60 minutes, one sitting: a longer lesson is split into
``<a>.ipynb``, ``<a>_b.ipynb``, ... in its folder.

Usage::

    python tools/lesson_time.py [solutions]      # the table, notebook by notebook
"""

from __future__ import annotations

import ast
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: One sitting.
MAX_MINUTES = 60
STATED = re.compile(r"\*\*Time:\*\*\s*about\s+(\d+)\s+minutes")
WORD = re.compile(r"[A-Za-z0-9']+")


@dataclass
class Estimate:
    """What the formula counts in one notebook, and its answer."""

    notebook: str
    words: int
    functions: int
    questions: int
    code_lines: int
    stated: int | None

    @property
    def minutes(self) -> int:
        """The formula's answer, rounded up to the next 5 minutes."""
        raw = self.words / 150 + 15 * self.functions + 2 * self.questions + self.code_lines / 10
        return int(5 * math.ceil(raw / 5))


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _functions(code: str) -> int:
    code = "\n".join(line for line in code.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return 0
    return sum(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_")
               for node in tree.body)


def _visible(code: str) -> str:
    # A graded cell's hidden tests are not the learner's to read.
    return re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", code, flags=re.S)


def estimate(path: Path) -> Estimate:
    """Count what the formula needs in the notebook at ``path`` (a solutions/ notebook)."""
    nb = json.loads(path.read_text())
    words = functions = questions = lines = 0
    stated = None
    for cell in nb["cells"]:
        text, meta = _source(cell), _nbgrader(cell)
        if cell["cell_type"] == "markdown":
            words += len(WORD.findall(text))
            if stated is None and (m := STATED.search(text)):
                stated = int(m.group(1))
        elif cell["cell_type"] == "code":
            if meta.get("solution") and not meta.get("grade"):
                functions += _functions(text)
            elif meta.get("grade") and str(meta.get("grade_id", "")).startswith("concept_"):
                questions += 1
            else:
                lines += sum(1 for line in _visible(text).splitlines() if line.strip())
    return Estimate(path.stem, words, functions, questions, lines, stated)


def course(solutions: Path = REPO / "solutions") -> list[Estimate]:
    """The estimate of every notebook of every assignment, in teaching order."""
    return [estimate(p) for folder in sorted(solutions.iterdir()) if folder.is_dir()
            for p in sorted(folder.glob("*.ipynb"), key=lambda p: (p.stem != folder.name, p.stem))]


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(f"usage: python tools/lesson_time.py [SOLUTIONS]\n\n{__doc__.strip()}")
        return 0
    solutions = Path(argv[0]) if argv else REPO / "solutions"
    if not solutions.is_dir():
        print(f"lesson_time: {solutions} is not a folder of assignments (default: solutions/)", file=sys.stderr)
        return 2
    print(f"{'notebook':32} {'words':>6} {'functions':>9} {'questions':>9} {'code lines':>10} {'minutes':>7} {'stated':>6}")
    for e in course(solutions):
        flag = "" if e.stated == e.minutes and e.minutes <= MAX_MINUTES else "  <- check"
        print(f"{e.notebook:32} {e.words:6} {e.functions:9} {e.questions:9} {e.code_lines:10} {e.minutes:7} "
              f"{e.stated if e.stated is not None else '-':>6}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
