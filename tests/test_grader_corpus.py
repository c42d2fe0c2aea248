"""The grader on the bad-submission corpus: one class run, graded like `make grade` does it.

Every kind of trouble in ``autograder/corpus.py`` is one learner of one class, graded in a single
run of ``autograder/grade.py`` (a session fixture, so the run is paid once); the tests below
assert on its grades.csv, feedback, gradebook and on the host afterwards. A second, small class
(three ordinary learners) is graded twice with ``--force`` for byte-identical output, and a third
time without it to see that unchanged submissions are not run again.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from autograder import corpus, sandbox  # noqa: E402
from autograder.course import build_course  # noqa: E402

GRADE = os.path.join(REPO, "autograder", "grade.py")
FIXTURE = os.path.join(REPO, "autograder", "testdata", "source")
HIDDEN_MARKER = "hidden-tests-must-stay-hidden"

# Records every socket the grader's own Python processes open or use (workers are forked from
# the orchestrator, so they inherit the hook; learner kernels run in the sandbox's empty network).
AUDIT_SITECUSTOMIZE = textwrap.dedent('''
    import json, os, socket, sys
    _LOG = os.environ.get("SQSLAB_SOCKET_AUDIT")
    def _audit(event, args):
        if _LOG and event in ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"):
            try:
                sock = args[0]
                family = getattr(sock, "family", None)
                with open(_LOG, "a") as f:
                    f.write(json.dumps([os.getpid(), event, int(family) if family is not None else None,
                                        repr(args[1])]) + "\\n")
            except Exception:
                pass
    sys.addaudithook(_audit)
''')


def sandbox_or_skip() -> sandbox.SandboxInfo:
    """The sandbox this machine gives; skip loudly without one, fail instead under CI=true."""
    info = sandbox.detect("auto")
    if not info.sandboxed:
        message = f"the grading sandbox is unavailable here ({info.detail}); install bubblewrap"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the sandbox is required)")
        warnings.warn(message)
        pytest.skip("SANDBOX TESTS SKIPPED: " + message)
    return info


def run_grader(submissions: str, out: str, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, GRADE, "--submissions", submissions, "--out", out, "--no-progress", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    assert done.returncode == 0, f"grade.py failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}"
    return done


def read_rows(out: str) -> dict[str, dict]:
    with open(os.path.join(out, "grades.csv"), newline="") as f:
        return {row["learner"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="session")
def corpus_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    source = str(root / "solutions")
    shutil.copytree(FIXTURE, source)
    out = str(root / "out")
    course = build_course(source, str(root / "build"))
    cases = corpus.build(str(root / "submissions"), course, out, source)
    audit_dir = root / "audit"
    audit_dir.mkdir()
    (audit_dir / "sitecustomize.py").write_text(AUDIT_SITECUSTOMIZE)
    audit_log = str(root / "sockets.jsonl")
    env = dict(os.environ, PYTHONPATH=str(audit_dir), SQSLAB_SOCKET_AUDIT=audit_log)
    done = run_grader(str(root / "submissions"), out, "--source", source, "--timeout", "60",
                      "--cell-timeout", "10", "--jobs", "2", env=env)
    return {"root": str(root), "out": out, "source": source, "cases": {c.name: c for c in cases},
            "rows": read_rows(out), "stderr": done.stderr, "audit": audit_log}


@pytest.mark.parametrize("name", corpus.CASE_NAMES)
def test_each_bad_submission_gets_its_fair_status(corpus_run, name):
    case, row = corpus_run["cases"][name], corpus_run["rows"][name]
    assert row["status"] == case.status, f"{name}: {case.what}: got {row['status']} ({row['reason']})"


@pytest.mark.parametrize("name", corpus.CASE_NAMES)
def test_each_bad_submission_gets_its_fair_score(corpus_run, name):
    case, row = corpus_run["cases"][name], corpus_run["rows"][name]
    assert float(row["score"]) == case.score, f"{name}: {case.what}: got {row['score']} ({row['reason']})"
    assert float(row["max_score"]) == corpus.FULL


@pytest.mark.parametrize("name", corpus.CASE_NAMES)
def test_each_reason_is_one_sentence_that_names_the_trouble(corpus_run, name):
    case, reason = corpus_run["cases"][name], corpus_run["rows"][name]["reason"]
    assert reason.endswith(".") and "\n" not in reason and len(reason) < 400
    for needle in case.reason_has:
        assert needle in reason, f"{name}: {needle!r} not in {reason!r}"


def test_the_corpus_lists_every_case_it_builds(corpus_run):
    assert sorted(corpus_run["cases"]) == sorted(corpus.CASE_NAMES)
    assert len([n for n in corpus.CASE_NAMES if n not in ("good", "blank", "wrong_consumer")]) >= 20


def test_the_class_run_has_one_row_per_learner_sorted(corpus_run):
    with open(os.path.join(corpus_run["out"], "grades.csv"), newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["learner", "assignment", "score", "max_score", "status", "reason"]
    learners = [r[0] for r in rows[1:]]
    assert learners == sorted(corpus.CASE_NAMES)


@pytest.mark.parametrize("name", corpus.CASE_NAMES)
def test_every_learner_gets_a_feedback_page_without_hidden_tests(corpus_run, name):
    page = os.path.join(corpus_run["out"], "feedback", name, corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".html")
    with open(page, encoding="utf-8") as f:
        html = f.read()
    assert corpus_run["rows"][name]["status"] in html
    for secret in (HIDDEN_MARKER, "BEGIN HIDDEN TESTS", "Traceback", "max_runs=12"):
        assert secret not in html, f"{name}: feedback shows {secret!r}"


def test_feedback_explains_a_failure_with_the_benchs_words_and_its_timeline(corpus_run):
    page = os.path.join(corpus_run["out"], "feedback", "wrong_consumer", corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".html")
    html = open(page, encoding="utf-8").read()
    assert "Survives any crash" in html and "failed" in html
    assert "lost" in html  # the checker's explanation of the lost message
    assert 'class="sqslab-timeline"' in html and "data:image/png;base64," in html


def test_an_untouched_learner_is_graded_the_same_alone_as_in_the_bad_class(corpus_run, tmp_path):
    subs = tmp_path / "subs"
    for name in ("good", "wrong_consumer", "blank"):
        shutil.copytree(os.path.join(corpus_run["root"], "submissions", name), subs / name)
    out = str(tmp_path / "out")
    run_grader(str(subs), out, "--source", corpus_run["source"], "--timeout", "60", "--cell-timeout", "10")
    alone = read_rows(out)
    for name in ("good", "wrong_consumer", "blank"):
        assert alone[name] == corpus_run["rows"][name]


def test_a_class_graded_twice_gives_byte_identical_csv_and_the_third_run_reuses_results(corpus_run, tmp_path):
    subs = tmp_path / "subs"
    for name in ("good", "wrong_consumer", "missing_assignment"):
        shutil.copytree(os.path.join(corpus_run["root"], "submissions", name), subs / name)
    out = str(tmp_path / "out")
    args = ("--source", corpus_run["source"], "--timeout", "60", "--cell-timeout", "10")
    run_grader(str(subs), out, *args, "--force")
    first = open(os.path.join(out, "grades.csv"), "rb").read()
    run_grader(str(subs), out, *args, "--force")
    second = open(os.path.join(out, "grades.csv"), "rb").read()
    assert first == second
    third = run_grader(str(subs), out, *args)
    assert "grading 0 submission(s)" in third.stderr and "3 unchanged" in third.stderr
    assert open(os.path.join(out, "grades.csv"), "rb").read() == first


def test_the_gradebook_has_each_submission_once_with_nbgraders_scores(corpus_run):
    from nbgrader.api import Gradebook

    rows = corpus_run["rows"]
    with Gradebook(f"sqlite:///{os.path.join(corpus_run['out'], 'gradebook.db')}") as gb:
        assignment = gb.find_assignment(corpus.ASSIGNMENT)
        subs = {s.student.id: s for s in assignment.submissions}
        assert sorted(subs) == sorted(n for n in rows if rows[n]["status"] != "missing")
        for name, sub in subs.items():
            assert float(sub.score) == float(rows[name]["score"])


def test_learner_code_cannot_read_the_solutions_or_the_gradebook(corpus_run):
    sandbox_or_skip()
    import nbformat

    path = os.path.join(corpus_run["out"], "autograded", "read_solutions", corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".ipynb")
    nb = nbformat.read(path, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" and not c.metadata.get("nbgrader")
                      for o in c.outputs)
    assert "blocked" in printed and "LEAK" not in printed
    assert HIDDEN_MARKER not in printed


def test_learner_code_cannot_write_outside_its_folder(corpus_run):
    sandbox_or_skip()
    assert not os.path.exists(os.path.join(corpus_run["out"], "PWNED.txt"))
    assert not os.path.exists(os.path.join(corpus_run["source"], "PWNED.txt"))
    assert not os.path.exists("/PWNED.txt")
    with open(os.path.join(corpus_run["out"], "gradebook.db"), "rb") as f:
        assert b"pwned" not in f.read()


def test_learner_code_cannot_reach_the_network(corpus_run):
    sandbox_or_skip()
    import nbformat

    path = os.path.join(corpus_run["out"], "autograded", "network", corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".ipynb")
    nb = nbformat.read(path, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "blocked" in printed and "CONNECTED" not in printed


def test_a_graded_run_opens_no_socket_off_loopback(corpus_run):
    events = []
    if os.path.exists(corpus_run["audit"]):
        with open(corpus_run["audit"]) as f:
            events = [json.loads(line) for line in f]
    import socket

    off = [e for e in events if e[2] in (int(socket.AF_INET), int(socket.AF_INET6))
           and not any(host in e[3] for host in ("127.", "'::1'", "localhost"))]
    assert off == [], f"sockets off loopback: {off[:5]}"
    # The kernels were reached over unix sockets, not TCP: the worker set the ipc transport.
    assert "transport" not in corpus_run["stderr"].lower() or "ipc" in corpus_run["stderr"].lower()


def test_the_grader_says_loudly_when_it_runs_unsandboxed(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    out = str(tmp_path / "out")
    done = run_grader(str(subs), out, "--source", FIXTURE, "--sandbox", "none")
    assert "GRADING WITHOUT A SANDBOX" in done.stderr
