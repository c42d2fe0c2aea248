"""The notebooks are stored the way the course promises: clean, generated, gradable.

solutions/ is nbgrader's source and course/ is generated from it by ``make release``
(tools/release.py); both are committed without outputs so that diffs stay readable and a learner
never opens a notebook that already shows answers.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
COURSE = REPO / "course"
DEMOS = REPO / "demos"
#: The course's assignments, in teaching order; a folder outside this list is a typo or an unplanned lesson.
ASSIGNMENTS = (
    "00_getting_started",
    "01_naive_consumer",
    "02_idempotent_consumer",
    "03_fifo_dedup",
    "04_visibility_heartbeat",
    "05_dlq_redrive",
    "06_capstone",
)
#: grade_ids that say nothing about the behaviour a cell checks: nbgrader's generated
#: "cell-3f2a9c...", and numbered ones like "test1", "q_2", "exercise".
GENERIC_GRADE_ID = re.compile(
    r"^(?:cell-[0-9a-f]+"
    r"|(?:cell|test|tests|q|question|problem|exercise|ex|task|answer|grade|part|check|autograde)"
    r"[-_ ]?\d*[a-z]?)$",
    re.IGNORECASE,
)
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def _load_release():
    spec = importlib.util.spec_from_file_location("sqslab_release_tool", REPO / "tools" / "release.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


release_tool = _load_release()


def notebooks(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _ids(path: Path) -> str:
    return str(path.relative_to(REPO))


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def session_leftovers(nb: dict) -> list[str]:
    """Outputs and execution counts a Jupyter session left behind, one line per cell."""
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {index} has {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {index} has execution count {cell['execution_count']}")
    return found


def imports_sqslab(code: str) -> bool:
    """True if ``code`` (IPython syntax allowed) imports sqslab or one of its modules."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(code))
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "sqslab" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "sqslab":
            return True
    return False


def grade_cell_problems(nb: dict) -> list[str]:
    """One line per graded cell whose grade_id is generic or whose points are not positive."""
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        grade_id = str(meta.get("grade_id", ""))
        if not grade_id or GENERIC_GRADE_ID.match(grade_id):
            found.append(
                f"cell {index}: grade_id {grade_id!r} does not name the behaviour it checks"
                " (use e.g. survives_crash_before_delete)"
            )
        points = meta.get("points")
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
            found.append(f"cell {index} ({grade_id}): points must be a number > 0, not {points!r}")
    return found


def first_code_cell(nb: dict) -> str | None:
    return next((source(c) for c in nb.get("cells", []) if c.get("cell_type") == "code"), None)


def tree(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts
    }


# --- the repository's notebooks --------------------------------------------------------------


@pytest.mark.parametrize("path", notebooks(SOLUTIONS) + notebooks(COURSE) + notebooks(DEMOS), ids=_ids)
def test_notebook_is_stored_without_outputs_or_execution_counts(path):
    found = session_leftovers(read(path))
    assert not found, f"{path.relative_to(REPO)}: {'; '.join(found)}. Run `make strip` (solutions/, demos/) or `make release`."


def test_every_assignment_folder_holds_a_notebook_of_its_own_name():
    folders = sorted(p for p in SOLUTIONS.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    assert folders, "solutions/ has no assignment folder"
    for folder in folders:
        assert folder.name in ASSIGNMENTS, f"solutions/{folder.name}: not one of the course's assignments: {ASSIGNMENTS}"
        assert (folder / f"{folder.name}.ipynb").is_file(), f"solutions/{folder.name}/ lacks {folder.name}.ipynb"


def test_course_is_what_make_release_generates_from_solutions(tmp_path):
    release_tool.release(SOLUTIONS, tmp_path / "course")
    want, have = tree(tmp_path / "course"), tree(COURSE)
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    differ = sorted(name for name in set(want) & set(have) if want[name] != have[name])
    assert not (missing or extra or differ), (
        "course/ is stale: run `make release` and commit course/. "
        f"missing: {missing}; not generated by solutions/: {extra}; different: {differ}"
    )


@pytest.mark.parametrize("path", notebooks(COURSE), ids=_ids)
def test_course_notebook_contains_no_solution_or_hidden_test(path):
    text = "\n".join(source(c) for c in read(path).get("cells", []))
    leaked = [m for m in MARKERS if m in text]
    assert not leaked, f"{path.relative_to(REPO)} shows {leaked}: course/ must come from `make release`"


@pytest.mark.parametrize("path", notebooks(SOLUTIONS), ids=_ids)
def test_first_code_cell_of_a_lesson_imports_sqslab(path):
    code = first_code_cell(read(path))
    assert code is not None, f"{path.relative_to(REPO)} has no code cell"
    assert imports_sqslab(code), (
        f"{path.relative_to(REPO)}: the first code cell sets the lab up and must import sqslab; it is:\n{code}"
    )


@pytest.mark.parametrize("path", notebooks(SOLUTIONS), ids=_ids)
def test_graded_cells_have_a_descriptive_grade_id_and_positive_points(path):
    found = grade_cell_problems(read(path))
    assert not found, f"{path.relative_to(REPO)}: " + "; ".join(found)


# --- the checks above catch what they claim to --------------------------------------------


def test_session_leftovers_reports_outputs_and_execution_counts():
    nb = {"cells": [
        {"cell_type": "code", "execution_count": 3, "outputs": [{"output_type": "stream"}], "source": "1"},
        {"cell_type": "code", "execution_count": None, "outputs": [], "source": "2"},
    ]}
    assert session_leftovers(nb) == ["cell 0 has 1 output(s)", "cell 0 has execution count 3"]


@pytest.mark.parametrize("code", ["import sqslab", "from sqslab import lab", "%matplotlib inline\nimport sqslab.clock as c"])
def test_imports_sqslab_accepts_setup_cells(code):
    assert imports_sqslab(code)


@pytest.mark.parametrize("code", ["import os", "# import sqslab", "print('sqslab')", "import sqslabx"])
def test_imports_sqslab_rejects_cells_that_do_not_import_it(code):
    assert not imports_sqslab(code)


@pytest.mark.parametrize("grade_id", ["test1", "cell-8a5e1d2c3b4f6a7e", "Question_2", "exercise", "q3"])
def test_generic_grade_ids_are_reported(grade_id):
    nb = {"cells": [{"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": grade_id, "points": 1}}}]}
    assert grade_cell_problems(nb), grade_id


@pytest.mark.parametrize("points", [0, -1, None, True])
def test_graded_cell_without_positive_points_is_reported(points):
    nb = {"cells": [{"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": "no_effect_twice", "points": points}}}]}
    assert grade_cell_problems(nb)


def test_named_graded_cell_with_points_passes():
    nb = {"cells": [{"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": "survives_crash_before_delete", "points": 2}}}]}
    assert grade_cell_problems(nb) == []


# --- make release --------------------------------------------------------------------------


def _notebook(cells: list[dict], minor: int = 4) -> str:
    return json.dumps({
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}},
        "nbformat": 4,
        "nbformat_minor": minor,
    })


def _nbgrader(grade_id: str, **flags) -> dict:
    meta = {"grade": False, "solution": False, "locked": False, "task": False, "schema_version": 3, "grade_id": grade_id}
    meta.update(flags)
    return {"nbgrader": meta}


@pytest.fixture
def lesson_source(tmp_path):
    """A solutions/ folder with one exercise: a solution, a visible and a hidden test, stale outputs."""
    folder = tmp_path / "solutions" / "01_naive_consumer"
    folder.mkdir(parents=True)
    (folder / "data.csv").write_text("id,body\n1,hello\n")
    cells = [
        {"cell_type": "code", "execution_count": 7, "metadata": {"execution": {"iopub.status.busy": "2026-01-05"}},
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["ready\n"]}],
         "source": ["import sqslab\n", "print('ready')"]},
        {"cell_type": "code", "execution_count": 8, "metadata": _nbgrader("consume_step", solution=True), "outputs": [],
         "source": ["def consume_step():\n", "    ### BEGIN SOLUTION\n", "    return 'the answer'\n", "    ### END SOLUTION"]},
        {"cell_type": "code", "execution_count": 9, "metadata": _nbgrader("returns_the_answer", grade=True, locked=True, points=2),
         "outputs": [], "source": ["assert consume_step() == 'the answer'\n", "### BEGIN HIDDEN TESTS\n",
                                   "assert consume_step() != 'hidden'\n", "### END HIDDEN TESTS"]},
    ]
    (folder / "01_naive_consumer.ipynb").write_text(_notebook(cells))
    return tmp_path / "solutions"


def test_release_removes_solutions_hidden_tests_and_outputs(lesson_source, tmp_path):
    release_tool.release(lesson_source, tmp_path / "course")
    out = tmp_path / "course" / "01_naive_consumer"
    nb = read(out / "01_naive_consumer.ipynb")
    text = "\n".join(source(c) for c in nb["cells"])
    assert "the answer'\n" not in source(nb["cells"][1]) and "NotImplementedError" in source(nb["cells"][1])
    assert "assert consume_step() == 'the answer'" in text
    assert "hidden" not in text
    assert session_leftovers(nb) == []
    assert "widgets" not in nb["metadata"]
    assert all("execution" not in c["metadata"] for c in nb["cells"])
    assert (out / "data.csv").read_text() == "id,body\n1,hello\n"


def test_release_gives_identical_bytes_when_run_twice(lesson_source, tmp_path):
    first = release_tool.release(lesson_source, tmp_path / "course")
    snapshot = tree(tmp_path / "course")
    second = release_tool.release(lesson_source, tmp_path / "course")
    assert first and second == []
    assert tree(tmp_path / "course") == snapshot
    nb = read(tmp_path / "course" / "01_naive_consumer" / "01_naive_consumer.ipynb")
    assert len({c["id"] for c in nb["cells"]}) == 3


def test_release_removes_an_assignment_no_longer_in_solutions(lesson_source, tmp_path):
    course = tmp_path / "course"
    (course / "05_dlq_redrive").mkdir(parents=True)
    (course / "05_dlq_redrive" / "05_dlq_redrive.ipynb").write_text("{}")
    release_tool.release(lesson_source, course)
    assert sorted(p.name for p in course.iterdir()) == ["01_naive_consumer"]


def test_strip_clears_outputs_in_place_and_keeps_the_solution(lesson_source):
    path = lesson_source / "01_naive_consumer" / "01_naive_consumer.ipynb"
    assert release_tool.leftovers(path)
    release_tool.strip([lesson_source])
    nb = read(path)
    assert release_tool.leftovers(path) == [] and session_leftovers(nb) == []
    assert "return 'the answer'" in source(nb["cells"][1])
