"""The grader's parts, without a kernel: intake repairs, statuses, CSV, sandbox command, probes."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import nbformat
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from autograder import corpus, intake, results, sandbox  # noqa: E402
from autograder.course import build_course, describe  # noqa: E402

FIXTURE = os.path.join(REPO, "autograder", "testdata", "source")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    # The corpus tests' build folder: one nbgrader build per session, whichever module comes first.
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    (base / "grader-corpus").mkdir(exist_ok=True)
    return build_course(FIXTURE, str(base / "grader-corpus" / "build"))


@pytest.fixture()
def builder(course):
    return corpus.Builder(course)


def info_of(course):
    return course.assignment(corpus.ASSIGNMENT).notebooks[0]


def ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


# -- course ---------------------------------------------------------------------------------------
def test_the_course_build_knows_points_and_descriptions_but_no_hidden_test(course):
    info = info_of(course)
    assert info.max_score == corpus.FULL
    tests = {c.grade_id: c for c in info.tests()}
    assert tests["survives_any_crash"].points == 2
    assert tests["survives_any_crash"].description == "A crash at any point loses no message."
    assert "HIDDEN" not in tests["survives_any_crash"].release_source


def test_an_assignment_without_graded_cells_is_not_graded(tmp_path):
    (tmp_path / "00_intro").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hello")])
    nbformat.write(nb, str(tmp_path / "00_intro" / "00_intro.ipynb"))
    from autograder.course import graded_assignments

    assert graded_assignments(str(tmp_path)) == []


def test_describe_takes_the_docstring_or_first_comment():
    assert describe('"""Survives a crash."""\nx = 1') == "Survives a crash."
    assert describe("# Totals an order\nassert 1") == "Totals an order"
    assert describe("assert 1") == ""


# -- intake -----------------------------------------------------------------------------------------
def test_an_empty_file_is_an_invalid_notebook(tmp_path):
    path = tmp_path / "a.ipynb"
    path.write_bytes(b"")
    nb, reason = intake.read_notebook(str(path))
    assert nb is None and "empty" in reason


def test_invalid_json_is_reported_with_its_position(tmp_path):
    path = tmp_path / "a.ipynb"
    path.write_text('{"cells": [')
    nb, reason = intake.read_notebook(str(path))
    assert nb is None and "not valid JSON" in reason and "line 1" in reason


def test_json_that_is_not_a_notebook_is_invalid(tmp_path):
    path = tmp_path / "a.ipynb"
    path.write_text('{"hello": 1}')
    nb, reason = intake.read_notebook(str(path))
    assert nb is None and "not a notebook" in reason


def test_a_renamed_notebook_is_found_by_its_grade_ids(tmp_path, builder, course):
    folder = tmp_path / corpus.ASSIGNMENT
    folder.mkdir()
    (folder / "scratch.ipynb").write_text(json.dumps(nbformat.v4.new_notebook()))
    (folder / "copy of mine.ipynb").write_bytes(builder.dump(builder.notebook()))
    path, others = intake.find_notebook(str(folder), corpus.ASSIGNMENT, {c.grade_id for c in info_of(course).cells})
    assert os.path.basename(path) == "copy of mine.ipynb" and others == ["scratch.ipynb"]


def test_a_deleted_test_cell_is_put_back_after_its_predecessor(builder, course):
    nb = builder.notebook()
    nb.cells.remove(builder.cell(nb, "survives_any_crash"))
    notes = intake.repair(nb, info_of(course), builder.release)
    order = ids(nb)
    assert order.index("survives_any_crash") == order.index("handles_every_message") + 1
    assert [n.text for n in notes] == ["test cell survives_any_crash had been deleted"]
    assert not any(n.tampering for n in notes)


def test_stripped_metadata_is_given_back_in_place(builder, course):
    nb = builder.notebook()
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    intake.repair(nb, info_of(course), builder.release)
    for gid in ("handles_every_message", "survives_any_crash", "totals_orders"):
        assert ids(nb).count(gid) == 1
    assert len(nb.cells) == len(builder.release.cells)


def test_changed_points_are_tampering(builder, course):
    nb = builder.notebook()
    builder.cell(nb, "totals_orders").metadata["nbgrader"]["points"] = 100
    notes = intake.repair(nb, info_of(course), builder.release)
    assert any(n.tampering and "points" in n.text for n in notes)


def test_a_changed_test_grade_id_is_dropped_and_the_original_restored(builder, course):
    nb = builder.notebook()
    builder.cell(nb, "survives_any_crash").metadata["nbgrader"]["grade_id"] = "easy"
    notes = intake.repair(nb, info_of(course), builder.release)
    assert "easy" not in ids(nb) and ids(nb).count("survives_any_crash") == 1
    assert any(n.tampering and "easy" in n.text for n in notes)


def test_a_missing_solution_cell_is_not_replaced_by_the_stub(builder, course):
    nb = builder.notebook()
    cell = builder.cell(nb, "consumer")
    cell.metadata.pop("nbgrader")
    intake.repair(nb, info_of(course), builder.release)
    assert "consumer" not in ids(nb)
    assert any("def consume" in c.source and "raise NotImplementedError" not in c.source for c in nb.cells)
    assert not any("NotImplementedError" in c.source and "consume" in c.source for c in nb.cells)


# -- results ---------------------------------------------------------------------------------------
def test_scores_print_without_trailing_zeros():
    assert [results.fmt(x) for x in (4, 2.5, 0, 1 / 3, -0.0)] == ["4", "2.5", "0", "0.33", "0"]


def test_csv_is_sorted_by_learner_then_assignment_with_fixed_columns():
    rows = [{"learner": "b", "assignment": "02", "score": 1, "max_score": 2, "status": "ok", "reason": "x."},
            {"learner": "a", "assignment": "02", "score": 0, "max_score": 2, "status": "missing", "reason": "y."},
            {"learner": "a", "assignment": "01", "score": 2, "max_score": 2, "status": "ok", "reason": "z\nz."}]
    text = results.csv_text(rows)
    assert text.splitlines() == ["learner,assignment,score,max_score,status,reason", "a,01,2,2,ok,z z.",
                                 "a,02,0,2,missing,y.", "b,02,1,2,ok,x."]
    assert results.csv_text(list(reversed(rows))) == text


def _entry(**run):
    base = {"status": "ok", "reason": "", "notes": [], "ignored_files": [], "cells": [
        {"grade_id": "a", "passed": True}, {"grade_id": "b", "passed": False}], "run": {
        "incidents": [], "canary_ok": True, "voided": {}, "output_dropped": 0}}
    base["run"].update(run)
    return base


def test_tampering_outranks_a_timeout():
    entry = _entry(canary_ok=False, canary_reason="faults off", voided={"b": "faults off"},
                   incidents=[{"kind": "timeout", "cell": 3, "detail": "ran past", "grade_id": None}])
    status, reason = results.notebook_status(entry)
    assert status == "tampered" and "faults off" in reason


def test_a_plain_run_is_ok_with_the_count_of_behaviours():
    assert results.notebook_status(_entry()) == ("ok", "Graded: 1 of 2 behaviours passed.")


def test_only_the_listed_statuses_exist():
    assert set(results.STATUSES) == {"ok", "missing", "invalid_notebook", "kernel_died", "timeout", "tampered",
                                     "limit_exceeded", "error"}


# -- sandbox ---------------------------------------------------------------------------------------
def _command(tmp_path, mode="bwrap-root"):
    run = tmp_path / "run"
    job = tmp_path / "job"
    for d in (run, job):
        d.mkdir()
        sandbox.mark(str(d))
    conn = run / "k.json"
    conn.write_text(json.dumps({"transport": "ipc", "ip": str(run / "k-ipc")}))
    return sandbox.build_command(str(conn), ["--debug"], mode=mode, uid=61001, cwd=str(job), limits=sandbox.Limits())


def test_the_sandbox_shows_the_python_install_but_not_the_course(tmp_path):
    cmd = _command(tmp_path)
    binds = {cmd[i + 1] for i, a in enumerate(cmd) if a in ("--bind", "--ro-bind")}
    assert REPO not in binds and os.path.join(REPO, "solutions") not in binds
    assert not any(b.startswith(os.path.join(REPO, "autograder")) or b.startswith(os.path.join(REPO, "solutions"))
                   for b in binds)
    assert os.path.realpath(sys.prefix) in binds or sys.prefix in binds
    writable = {cmd[i + 1] for i, a in enumerate(cmd) if a == "--bind"}
    assert writable == {str(tmp_path / "run"), str(tmp_path / "job")}


def test_the_sandbox_has_no_network_and_drops_to_the_workers_uid(tmp_path):
    cmd = _command(tmp_path)
    assert "--unshare-net" in cmd and "--unshare-pid" in cmd and "--clearenv" in cmd
    assert "--reuid=61001" in cmd and cmd[-3:] == ["-f", str(tmp_path / "run" / "k.json"), "--debug"] or \
        cmd[-1] == "--debug"
    assert "JPY_PARENT_PID" not in " ".join(cmd)


def test_the_launcher_refuses_a_tcp_kernel(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "k.json").write_text(json.dumps({"transport": "tcp", "ip": "127.0.0.1"}))
    with pytest.raises(SystemExit):
        sandbox.build_command(str(run / "k.json"), [], mode="bwrap-root", uid=61001, cwd=str(tmp_path),
                              limits=sandbox.Limits())


def test_the_launcher_refuses_folders_the_grader_did_not_mark(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "k.json").write_text("{}")
    env = dict(os.environ, SQSLAB_SANDBOX="bwrap-root")
    done = subprocess.run([sys.executable, sandbox.__file__, "-f", str(run / "k.json")], cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "not a grading runtime directory" in done.stderr


# -- executor --------------------------------------------------------------------------------------
def test_a_test_cell_that_never_ran_gets_an_error_so_nbgrader_gives_it_no_points(builder):
    from nbgrader.utils import determine_grade

    from autograder.executor import RunReport, SandboxedExecute

    nb = copy.deepcopy(builder.release)
    ex = SandboxedExecute()
    report = RunReport()
    ex._mark_not_run(nb, report)
    cell = builder.cell(nb, "totals_orders")
    assert determine_grade(cell)[0] == 0
    assert "totals_orders" in report.not_run


def test_probes_wrap_every_test_cell_and_come_out_again(builder):
    from autograder.executor import PROBE_KEY, RunReport, SandboxedExecute

    ex = SandboxedExecute()
    work = ex._instrument(builder.release, localize=False)
    roles = [c.metadata.get(PROBE_KEY, {}).get("role") for c in work.cells]
    assert roles[0] == "setup" and roles[-1] == "final"
    assert roles.count("mark") == roles.count("after") == 3
    clean = ex._strip_probes(work, RunReport())
    assert ids(clean) == ids(builder.release)


# -- the command line ------------------------------------------------------------------------------
def test_class_grading_needs_an_output_folder():
    done = subprocess.run([sys.executable, os.path.join(REPO, "autograder", "grade.py"), "--submissions", "x"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--out is required" in done.stderr


def test_feedback_titles_keep_the_courses_acronyms():
    from autograder.feedback import _title

    assert _title("dlq_alarm_goes_off_when_a_message_is_dead_lettered") == "DLQ alarm goes off when a message is dead lettered"
    assert _title("redrive_moves_the_dlq_back_to_its_source_queue") == "Redrive moves the DLQ back to its source queue"
    assert _title("fifo_retry_keeps_the_dedup_id") == "FIFO retry keeps the dedup ID"


def test_feedback_is_green_only_for_full_marks_and_links_only_to_failures():
    from types import SimpleNamespace

    from autograder.feedback import render

    cells = [{"grade_id": "passes", "passed": True, "score": 1, "points": 1},
             {"grade_id": "fails", "passed": False, "score": 0, "points": 2,
              "error": {"ename": "AssertionError", "evalue": "FAILED: ..."}}]
    entry = {"name": "nb", "score": 1, "max_score": 3, "status": "ok", "cells": cells}
    page = render("ada", SimpleNamespace(name="01_naive_consumer"), entry, {"status": "ok", "reason": "Graded."})
    assert 'class="status ok"' not in page and "grading status: ok" in page
    assert 'href="#fails"' in page and 'id="fails"' in page and 'href="#passes"' not in page
    entry = {**entry, "score": 3, "cells": cells[:1]}
    assert 'class="status ok"' in render("ada", SimpleNamespace(name="a"), entry, {"status": "ok", "reason": "Graded."})


def test_the_feedback_page_explains_every_status_the_grader_gives():
    from autograder.feedback import _STATUS_HELP

    assert set(_STATUS_HELP) == set(results.STATUSES)
