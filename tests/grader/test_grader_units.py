"""The grader's parts, without a kernel: intake repairs, statuses, CSV, sandbox command, probes."""

from __future__ import annotations

import copy
import csv
import io
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
    # The learner's own cell that defines what the stub defines is their answer (the clean run takes
    # answers by grade_id): it gets the grade_id back; the stub is never put in.
    assert ids(nb).count("consumer") == 1
    assert "def consume" in builder.cell(nb, "consumer").source
    assert "NotImplementedError" not in builder.cell(nb, "consumer").source
    assert not any("NotImplementedError" in c.source and "consume" in c.source for c in nb.cells)


def test_a_solution_cell_that_is_really_missing_stays_missing(builder, course):
    nb = builder.notebook()
    nb.cells.remove(builder.cell(nb, "consumer"))
    notes = intake.repair(nb, info_of(course), builder.release)
    assert "consumer" not in ids(nb) and any("consumer was not found" in n.text for n in notes)


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


def _entry(review=(), **run):
    base = {"status": "ok", "reason": "", "notes": [], "ignored_files": [], "review": list(review), "cells": [
        {"grade_id": "a", "passed": True}, {"grade_id": "b", "passed": False}], "run": {
        "incidents": [], "canary_ok": True, "voided": {}, "output_dropped": 0, "tampering": [], "reviews": [],
        "flags": []}}
    base["run"].update(run)
    return base


def test_tampering_outranks_a_timeout():
    entry = _entry(canary_ok=False, canary_reason="faults off", voided={"b": "faults off"},
                   incidents=[{"kind": "timeout", "cell": 3, "detail": "ran past", "grade_id": None}])
    status, reason = results.notebook_status(entry)
    assert status == "tampered" and "faults off" in reason


def test_a_split_lesson_graded_plainly_counts_the_behaviours_of_all_its_notebooks():
    from types import SimpleNamespace

    first, second = _entry(), _entry()
    first["name"], second["name"] = "lesson", "lesson_b"
    row = results.summarize(SimpleNamespace(max_score=4.0), [first, second])
    assert row["status"] == "ok" and row["reason"] == "Graded: 2 of the 4 behaviours of its 2 notebooks passed.", row
    second["run"]["tampering"] = ["sqslab.scenario.check was replaced"]
    row = results.summarize(SimpleNamespace(max_score=4.0), [first, second])
    assert row["status"] == "tampered" and row["reason"].startswith("lesson_b.ipynb: "), row


def test_a_plain_run_is_ok_with_the_count_of_behaviours():
    assert results.notebook_status(_entry()) == ("ok", "Graded: 1 of 2 behaviours passed.")


def test_only_the_listed_statuses_exist():
    assert set(results.STATUSES) == {"ok", "missing", "invalid_notebook", "kernel_died", "timeout", "tampered",
                                     "limit_exceeded", "review", "error"}


def test_review_quotes_the_line_and_comes_just_before_ok():
    flag = {"what": "took a frame (sys._getframe)", "text": "f = sys._getframe()", "line": 3}
    status, reason = results.notebook_status(_entry(flags=[flag]))
    assert status == "review" and "`f = sys._getframe()`" in reason and "1 of 2 behaviours passed" in reason
    # Anything else an instructor must see outranks it; ok is the only status below it.
    timeout = [{"kind": "timeout", "cell": 3, "detail": "ran past its 60s limit", "grade_id": None}]
    assert results.notebook_status(_entry(flags=[flag], incidents=timeout))[0] == "timeout"
    assert results._PRIORITY[-2:] == ("review", "ok")
    static = {"cell": 2, "grade_id": "consumer", "line": 1, "text": "import gc", "what": "the garbage collector"}
    assert results.notebook_status(_entry(review=[static]))[0] == "review"


def test_a_kernel_that_never_started_is_an_error_never_a_silent_zero():
    status, reason = results.notebook_status(_entry(kernel_error="the grading kernel did not start after 3 tries"))
    assert status == "error" and "did not start" in reason


def test_a_bench_changed_and_put_back_is_tampered_with_the_scores_kept():
    status, reason = results.notebook_status(_entry(tampering=["sqslab.scenario.check was changed before test b"]))
    assert status == "tampered" and "sqslab.scenario.check" in reason and "1 of 2 behaviours passed" in reason


@pytest.mark.parametrize("name", ['=HYPERLINK("http:x","10")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_fields_a_spreadsheet_would_run_are_neutralised(name):
    row = {"learner": name, "assignment": "01", "score": 1, "max_score": 2, "status": "ok", "reason": name + "."}
    parsed = next(csv.DictReader(io.StringIO(results.csv_text([row]))))
    assert parsed["learner"] == ("'" + name).replace("\r", " ")
    assert not parsed["reason"].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert results.cell_text("plain") == "plain" and results.cell_text("3") == "3"


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

    from autograder.executor import RunInfo, SandboxedExecute

    nb = copy.deepcopy(builder.release)
    ex = SandboxedExecute()
    info = RunInfo()
    ex._mark_not_run(nb, info)
    cell = builder.cell(nb, "totals_orders")
    assert determine_grade(cell)[0] == 0
    assert "totals_orders" in info.not_run


def test_probes_wrap_the_notebook_and_every_test_is_sent_through_the_grader_and_comes_out_again(builder):
    from autograder.executor import PROBE_KEY, SandboxedExecute

    ex = SandboxedExecute()
    work = ex._instrument(builder.release, localize=False)
    roles = [c.metadata.get(PROBE_KEY, {}).get("role") for c in work.cells]
    assert roles[0] == "setup" and roles[-1] == "final"
    assert roles.count("test") == 3 and len(work.cells) == len(builder.release.cells) + 2
    clean = ex._strip_probes(work)
    assert ids(clean) == ids(builder.release)


def test_a_graded_cell_reaches_the_kernel_as_one_line_without_its_source(builder, course):
    from autograder import kernel_boot
    from autograder.executor import PROBE_KEY, SandboxedExecute

    ex = SandboxedExecute()
    ex._key = os.urandom(32)
    source_nb = nbformat.read(os.path.join(course.source_dir, corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".ipynb"),
                              as_version=4)
    hidden_test = builder.cell(source_nb, "survives_any_crash")
    cell = copy.deepcopy(hidden_test)
    cell.metadata[PROBE_KEY] = {"role": "test", "grade_id": "survives_any_crash", "source": hidden_test.source}
    line = ex._probe_source(cell)
    assert "\n" not in line and "explore" not in line and "hidden" not in line.lower()
    assert line.startswith('__import__("sys").audit("sqslab.grader"')
    # The hook decrypts it with the kernel's secret: the test's source, hidden tests included.
    args = json.loads("[" + line[line.index(".audit(") + len(".audit("):-1] + "]")
    _, nonce, cmd, seq, gid, salt, cipher, canary = args
    assert nonce == kernel_boot.nonce(ex._key, cmd, seq, gid, salt, cipher, canary)
    plain = bytes(a ^ b for a, b in zip(bytes.fromhex(cipher), kernel_boot._keystream(ex._key, salt, len(cipher) // 2)))
    assert "hidden-tests-must-stay-hidden" in plain.decode()


def test_the_hooks_report_is_accepted_only_with_the_kernels_secret():
    from autograder import kernel_boot

    key = os.urandom(32)
    body = b'{"kind":"test","grade_id":"a","outcome":"pass"}'
    import hmac

    good = body + b"\t" + hmac.digest(key, body, "sha256").hex().encode()
    forged = body.replace(b'"a"', b'"b"') + b"\t" + hmac.digest(key, body, "sha256").hex().encode()
    records, bad = kernel_boot.read_report(key, b"\n".join([good, forged, b"no tab at all", b""]))
    assert records == [{"kind": "test", "grade_id": "a", "outcome": "pass"}] and bad == 2
    assert kernel_boot.read_report(os.urandom(32), good) == ([], 1)


def test_the_clean_notebook_is_the_release_with_only_the_submissions_solution_cells(builder):
    from autograder.executor import clean_notebook, same_code

    sub = builder.insert_after(builder.notebook(corpus.DELETE_FIRST), "consumer", "explore = None  # mine")
    builder.cell(sub, "setup").source = "import sqslab  # edited"
    builder.cell(sub, "survives_any_crash").source = "assert True  # the course's hidden test, as OverwriteCells left it"
    clean = clean_notebook(builder.release, sub)
    assert ids(clean) == ids(builder.release) and len(clean.cells) == len(builder.release.cells)
    assert builder.cell(clean, "consumer").source == corpus.DELETE_FIRST
    assert builder.cell(clean, "setup").source == builder.cell(builder.release, "setup").source
    assert builder.cell(clean, "survives_any_crash").source.startswith("assert True")
    assert not any("explore = None" in c.source for c in clean.cells)
    assert not same_code(clean, sub) and same_code(clean, clean_notebook(builder.release, clean))


# -- the command line ------------------------------------------------------------------------------
def test_class_grading_needs_an_output_folder():
    done = subprocess.run([sys.executable, os.path.join(REPO, "autograder", "grade.py"), "--submissions", "x"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--out is required" in done.stderr


def test_feedback_titles_keep_the_courses_acronyms():
    from autograder.behaviours import title as _title

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


# -- untrusted files ---------------------------------------------------------------------------------
def _learner(tmp_path, name="ada"):
    folder = tmp_path / "subs" / name / corpus.ASSIGNMENT
    folder.mkdir(parents=True)
    return folder


def test_intake_refuses_a_notebook_that_is_a_link_whatever_it_points_to(tmp_path, builder, course):
    real = tmp_path / "elsewhere.ipynb"
    real.write_bytes(builder.dump(builder.notebook()))
    folder = _learner(tmp_path)
    (folder / f"{corpus.ASSIGNMENT}.ipynb").symlink_to(real)
    release = os.path.join(course.release_dir, corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".ipynb")
    taken = intake.intake(str(folder), info_of(course), release, root=str(folder.parent))
    assert taken.status == "invalid_notebook" and taken.notebook is None and "link" in taken.reason
    # Inside the learner's own folder too: a link is never read.
    inner = _learner(tmp_path, "bob")
    (inner / "mine.ipynb").write_bytes(builder.dump(builder.notebook()))
    (inner / f"{corpus.ASSIGNMENT}.ipynb").symlink_to(inner / "mine.ipynb")
    taken = intake.intake(str(inner), info_of(course), release, root=str(inner.parent))
    assert taken.status == "invalid_notebook"


def test_intake_refuses_a_linked_assignment_or_learner_folder(tmp_path, builder, course):
    good = _learner(tmp_path, "good")
    (good / f"{corpus.ASSIGNMENT}.ipynb").write_bytes(builder.dump(builder.notebook()))
    release = os.path.join(course.release_dir, corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".ipynb")
    (tmp_path / "subs" / "copycat").mkdir()
    (tmp_path / "subs" / "copycat" / corpus.ASSIGNMENT).symlink_to(good)
    taken = intake.intake(str(tmp_path / "subs" / "copycat" / corpus.ASSIGNMENT), info_of(course), release,
                          root=str(tmp_path / "subs" / "copycat"))
    assert taken.status == "invalid_notebook" and "link" in taken.reason
    (tmp_path / "subs" / "twin").symlink_to(tmp_path / "subs" / "good")
    taken = intake.intake(str(tmp_path / "subs" / "twin" / corpus.ASSIGNMENT), info_of(course), release,
                          root=str(tmp_path / "subs" / "twin"))
    assert taken.status == "invalid_notebook"


def test_intake_caps_a_notebooks_size(tmp_path, builder, course):
    folder = _learner(tmp_path)
    nb = builder.notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("x" * 200_000))
    (folder / f"{corpus.ASSIGNMENT}.ipynb").write_bytes(builder.dump(nb))
    release = os.path.join(course.release_dir, corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".ipynb")
    taken = intake.intake(str(folder), info_of(course), release, root=str(folder.parent), max_bytes=100_000)
    assert taken.status == "invalid_notebook" and "larger than" in taken.reason
    assert intake.intake(str(folder), info_of(course), release, root=str(folder.parent)).notebook is not None


def test_a_second_cell_with_a_tests_grade_id_is_tampering_and_the_courses_test_is_kept(builder, course):
    nb = builder.notebook()
    early = nbformat.v4.new_code_cell("pass")
    early.metadata["nbgrader"] = dict(builder.cell(nb, "survives_any_crash").metadata["nbgrader"])
    nb.cells.insert(0, early)
    notes = intake.repair(nb, info_of(course), builder.release)
    assert ids(nb).count("survives_any_crash") == 1
    kept = builder.cell(nb, "survives_any_crash")
    assert kept.source == builder.cell(builder.release, "survives_any_crash").source
    assert any(n.tampering and "survives_any_crash" in n.text for n in notes)


def test_a_solution_cell_marked_graded_earns_nothing_and_breaks_nothing(builder, course):
    nb = builder.notebook()
    meta = builder.cell(nb, "consumer").metadata["nbgrader"]
    meta.update({"grade": True, "points": 50})
    stray = nbformat.v4.new_code_cell("x = 1")
    stray.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "free_points", "points": 9,
                                  "locked": False, "schema_version": 3}
    nb.cells.append(stray)
    intake.repair(nb, info_of(course), builder.release)
    assert builder.cell(nb, "consumer").metadata["nbgrader"] == builder.cell(builder.release, "consumer").metadata["nbgrader"]
    assert "free_points" not in ids(nb)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert sum(c.metadata["nbgrader"]["points"] for c in graded) == corpus.FULL


# -- the static scan --------------------------------------------------------------------------------
@pytest.mark.parametrize("source, what", [
    ("import sys\nf = sys._getframe()", "frames"),
    ("get_ipython().ast_transformers.append(t)", "IPython"),
    ("import gc\ngc.get_objects()", "garbage collector"),
    ("vars(mod)['check'] = fake", "vars()"),
    ("getattr(sys, '_get' + 'frame')", "built at run time"),
    ("import sqslab.scenario as s\ns.check = fake", "writes to the bench"),
    ("from sqslab.faults import _POINTS", "private name"),
    ("__sqslab_grader__ = object()", "grader"),
    ("x = In[-1]", "history"),
])
def test_the_scan_names_what_a_line_reaches_for(source, what):
    from autograder.scan import scan

    found = scan(source)
    assert found and any(what in f.what for f in found), found
    assert found[0].text in source


def _right_answers():
    from support.nbgrading import SOLUTIONS, load_corpus, solution_cells, source_notebook

    out = []
    for folder in sorted(p for p in SOLUTIONS.iterdir() if p.is_dir()):
        if not (folder / f"{folder.name}.ipynb").exists():
            continue
        for gid, code in solution_cells(source_notebook(folder.name)).items():
            out.append(pytest.param(code, id=f"{folder.name}:reference:{gid}"))
        for case in load_corpus(folder.name) if (REPO_CORPUS / folder.name).is_dir() else []:
            if case.expect == "full":
                for gid, code in case.code.items():
                    out.append(pytest.param(code, id=f"{folder.name}:{case.name}:{gid}"))
    return out


REPO_CORPUS = __import__("pathlib").Path(REPO) / "tests" / "corpus"


@pytest.mark.parametrize("code", _right_answers())
def test_no_right_answer_of_the_course_is_flagged_by_the_scan(code):
    from autograder.scan import scan

    assert scan(code) == []


# -- names, uids ---------------------------------------------------------------------------------------
def test_every_graded_cell_of_the_course_has_a_behaviour_name():
    from autograder.behaviours import BEHAVIOURS

    from support.nbgrading import SOLUTIONS, graded_cells, source_notebook

    missing = [gid for folder in sorted(p for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").exists())
               for gid in graded_cells(source_notebook(folder.name)) if gid not in BEHAVIOURS]
    assert not missing, f"add a behaviour name to autograder/behaviours.py for {missing}"


def test_two_graders_never_share_a_sandbox_uid(tmp_path):
    uid_a, lock_a = sandbox.allocate_uid(str(tmp_path))
    uid_b, lock_b = sandbox.allocate_uid(str(tmp_path))
    code = ("import sys; sys.path.insert(0, %r)\nfrom autograder import sandbox\n"
            "print(sandbox.allocate_uid(%r)[0])" % (REPO, str(tmp_path)))
    other = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               timeout=60).stdout)
    assert len({uid_a, uid_b, other}) == 3
    lock_a.close()
    again, lock_c = sandbox.allocate_uid(str(tmp_path))
    assert uid_b != again and sandbox.UID_BASE < again <= sandbox.UID_BASE + sandbox.UID_RANGE
    lock_b.close()
    lock_c.close()


# -- the feedback page's words ------------------------------------------------------------------------
def test_the_benchs_explanation_is_split_into_expected_seen_injected_why():
    from autograder.feedback import parse_explanation

    text = ("Exploration run 20 (handler_error on message 1):\n"
            "FAILED: expected every message's effect at least once, none lost.\n"
            "Seen: order-1 was lost.\nAlso: order-2 was lost.\n"
            "Raised by your code (an uncaught error kills the process, so the bench restarts it): "
            "EffectFailed: payment (injected transient error) at line 4 of consume() (2 times); "
            "KeyError: 'x' at line 9 of consume() (1 time).\n"
            "Injected: consumer-1 hit 'handler_error' while handling message 1 (order-1).\n"
            "Why: Delete only after the work.\nWhat happened to order-1, in order:\n  t=0.000s producer send order-1\n")
    p = parse_explanation(text)
    assert p["note"].startswith("Exploration run 20") and p["expected"].startswith("every message")
    assert p["seen"] == ["order-1 was lost", "order-2 was lost"]
    # The bench's own injected error, let through, is not "raised by your code".
    assert p["unhandled"] == ["EffectFailed: payment (injected transient error) at line 4 of consume() (2 times)"]
    assert p["raised"] == ["KeyError: 'x' at line 9 of consume() (1 time)"]
    assert p["injected"].startswith("consumer-1 hit") and p["why"] == "Delete only after the work."
    assert p["story"] == ["t=0.000s producer send order-1"]
    # A learner's own error that only mentions the word (a dump of the bench's text) stays the learner's.
    own = text.replace("EffectFailed: payment (injected transient error)", "AssertionError: the injected crash")
    assert parse_explanation(own)["unhandled"] == []


def test_an_exercise_not_written_yet_is_one_line_not_an_explanation_per_test():
    from types import SimpleNamespace

    from autograder.feedback import render

    stub = {"ename": "AssertionError", "evalue": "FAILED: ...\nRaised by your code: NotImplementedError at line 3 "
                                                 "of consume() (56 times)."}
    cells = [{"grade_id": f"t{i}", "passed": False, "score": 0, "points": 1, "error": stub,
              "failure": {"explanation": stub["evalue"], "events": []}} for i in range(4)]
    entry = {"name": "nb", "score": 0, "max_score": 4, "status": "ok", "cells": cells, "stubs": ["consume"]}
    page = render("ada", SimpleNamespace(name="01_naive_consumer"), entry, {"status": "ok", "reason": "Graded."})
    assert page.count("Not written yet") == 1 and page.count("not written yet") == 4
    assert "What went wrong" not in page and "died" not in page


def test_the_feedback_page_escapes_the_submissions_text_and_hides_hidden_tests():
    from types import SimpleNamespace

    from autograder.feedback import render

    cells = [{"grade_id": "t", "passed": False, "score": 0, "points": 1,
              "error": {"ename": "ValueError", "evalue": "<script>alert(1)</script> SECRET-LITERAL"}}]
    entry = {"name": "nb", "score": 0, "max_score": 1, "status": "ok", "cells": cells,
             "secrets": ["SECRET-LITERAL"]}
    page = render("<b>ada</b>", SimpleNamespace(name="a"), entry, {"status": "ok", "reason": "<i>x</i>."})
    assert "<script>" not in page and "<b>ada</b>" not in page and "<i>x</i>" not in page
    assert "SECRET-LITERAL" not in page and "&lt;script&gt;" in page
