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

# The corpus is graded once per session; keep its tests on one xdist worker where --dist loadgroup is on.
pytestmark = pytest.mark.xdist_group("grader_corpus")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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
    if _LOG:
        with open(_LOG, "a") as f:
            f.write(json.dumps([os.getpid(), "loaded", None, " ".join(sys.argv)[:200]]) + "\\n")
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


def learner_id(csv_name: str) -> str:
    """The folder name behind a learner field of grades.csv (a formula-like name is shown as text)."""
    if csv_name.startswith("'") and csv_name[1:2] in ("=", "+", "-", "@"):
        return csv_name[1:]
    return csv_name


def read_rows(out: str) -> dict[str, dict]:
    with open(os.path.join(out, "grades.csv"), newline="") as f:
        return {learner_id(row["learner"]): row for row in csv.DictReader(f)}


def shared_dir(tmp_path_factory, name: str):
    """A folder every pytest-xdist worker of this session sees (the workers' temp roots' parent)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    path = base / name
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def corpus_run(tmp_path_factory):
    # One class run per test session, even when pytest-xdist spreads these tests over workers:
    # the first worker grades under a lock, the others wait and read its results.
    import fcntl

    # Without the sandbox the corpus must not run at all: its cases write outside their folder.
    sandbox_or_skip()
    root = shared_dir(tmp_path_factory, "grader-corpus")
    source = str(root / "solutions")
    out = str(root / "out")
    build = str(root / "build")
    done_path = root / "done.json"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isdir(source):
            shutil.copytree(FIXTURE, source)
        course = build_course(source, build)
        cases = corpus.cases(course, out, source)
        if not done_path.exists():
            corpus.build(str(root / "submissions"), course, out, source)
            audit_dir = root / "audit"
            audit_dir.mkdir(exist_ok=True)
            (audit_dir / "sitecustomize.py").write_text(AUDIT_SITECUSTOMIZE)
            env = dict(os.environ, PYTHONPATH=str(audit_dir), SQSLAB_SOCKET_AUDIT=str(root / "sockets.jsonl"))
            done = run_grader(str(root / "submissions"), out, "--source", source, "--course-cache", build,
                              "--timeout", "60", "--cell-timeout", "8", "--jobs", "3", "--max-notebook-mb", "2",
                              env=env)
            done_path.write_text(json.dumps({"stderr": done.stderr}))
        stderr = json.loads(done_path.read_text())["stderr"]
    return {"root": str(root), "out": out, "source": source, "build": build, "cases": {c.name: c for c in cases},
            "rows": read_rows(out), "stderr": stderr, "audit": str(root / "sockets.jsonl")}


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
    assert len([n for n in corpus.CASE_NAMES if n not in ("good", "blank", "wrong_consumer")]) >= 60


def test_the_class_run_has_one_row_per_learner_sorted(corpus_run):
    with open(os.path.join(corpus_run["out"], "grades.csv"), newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["learner", "assignment", "score", "max_score", "status", "reason"]
    learners = [learner_id(r[0]) for r in rows[1:]]
    assert learners == sorted(corpus.CASE_NAMES)


def test_grades_csv_shows_a_formula_like_learner_name_as_text(corpus_run):
    with open(os.path.join(corpus_run["out"], "grades.csv"), newline="") as f:
        fields = [field for row in csv.reader(f) for field in row]
    formulas = [f for f in fields if f.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert formulas == [], f"a spreadsheet would run {formulas}"
    assert "'=HYPERLINK(\"http:evil\",\"10 of 10\")" in fields and "'@SUM(1+1)" in fields


def _page(corpus_run, name):
    with open(os.path.join(corpus_run["out"], "feedback", name, corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".html"),
              encoding="utf-8") as f:
        return f.read()


def _printed(corpus_run, name, *, graded=False) -> str:
    import nbformat

    path = os.path.join(corpus_run["out"], "autograded", name, corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".ipynb")
    nb = nbformat.read(path, as_version=4)
    return "".join(str(o.get("text", "")) + str(o.get("evalue", "")) for c in nb.cells if c.cell_type == "code"
                   and bool(c.metadata.get("nbgrader", {}).get("grade")) == graded for o in c.get("outputs", []))


def test_a_clean_run_decides_the_points_and_runs_only_when_the_code_differs(corpus_run):
    def runs(name):
        with open(os.path.join(corpus_run["out"], ".grader", "results", name, corpus.ASSIGNMENT + ".json")) as f:
            return json.load(f)["notebooks"][0]["run"]["runs"]

    assert runs("good") == ["both"] and runs("wrong_consumer") == ["both"]  # answers only: one run serves both
    assert runs("patch_checker") == ["clean", "full"] and runs("ast_transformer") == ["clean", "full"]
    # The full run of patch_checker passed with the checker patched; the grade is the clean run's.
    assert corpus_run["rows"]["patch_checker"]["score"] == corpus_run["rows"]["wrong_consumer"]["score"]


def test_no_feedback_page_carries_the_submissions_html_or_a_forged_score(corpus_run):
    for name in corpus.CASE_NAMES:
        html = _page(corpus_run, name)
        assert "<script" not in html.lower() and "<h1>10 of 10" not in html, name
    html = _page(corpus_run, "html_in_error")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, where the learner can read it
    patched = _page(corpus_run, "patched_timeline")
    # The timeline is drawn by the grader from the run's events, not by the notebook's to_html.
    assert "<p>10 of 10 points</p>" not in patched and 'class="sqslab-timeline"' in patched


def test_hidden_tests_stay_hidden_whatever_the_kernel_raised(corpus_run):
    # The attacks did run (the instructor's copy shows what they raised)...
    assert "LEAK" in _printed(corpus_run, "leak_hidden_via_frames", graded=True)
    assert "LEAK" in _printed(corpus_run, "leak_hidden_via_history", graded=True)
    # ...the history and the line cache never held the hidden test (the grader sends it encrypted)...
    assert HIDDEN_MARKER not in _printed(corpus_run, "leak_hidden_via_history", graded=True)
    # ...and what the frames gave away is not on the learner's page.
    for name in ("leak_hidden_via_frames", "leak_hidden_via_history"):
        html = _page(corpus_run, name)
        assert HIDDEN_MARKER not in html and "LEAK" in html


def test_the_kernel_cannot_read_its_own_memory_nor_can_a_process_it_starts(corpus_run):
    assert "blocked PermissionError" in _printed(corpus_run, "read_kernel_memory")
    assert "blocked 13" in _printed(corpus_run, "child_reads_kernel_memory")  # EACCES: not dumpable
    assert "refused" in _printed(corpus_run, "audit_hook_spy")
    assert "MEMORY READABLE" not in _printed(corpus_run, "read_kernel_memory") + \
        _printed(corpus_run, "child_reads_kernel_memory")


@pytest.mark.parametrize("name", [c for c in corpus.CASE_NAMES if c in (
    "ast_transformer", "frames_in_extra_cell", "obfuscated_getframe", "gc_objects", "time_machine",
    "inspect_stack_in_answer")])
def test_a_review_quotes_the_line_that_reached_in(corpus_run, name):
    reason = corpus_run["rows"][name]["reason"]
    assert corpus_run["rows"][name]["status"] == "review" and "`" in reason and "flagged for a look" in reason
    assert "Flagged for your instructor" in _page(corpus_run, name)


@pytest.mark.parametrize("name", corpus.CASE_NAMES)
def test_every_learner_gets_a_feedback_page_without_hidden_tests(corpus_run, name):
    html = _page(corpus_run, name)
    assert corpus_run["rows"][name]["status"] in html
    for secret in (HIDDEN_MARKER, "BEGIN HIDDEN TESTS", "Traceback", "max_runs=12"):
        assert secret not in html, f"{name}: feedback shows {secret!r}"


def test_feedback_explains_a_failure_with_the_benchs_words_and_its_timeline(corpus_run):
    page = os.path.join(corpus_run["out"], "feedback", "wrong_consumer", corpus.ASSIGNMENT, corpus.ASSIGNMENT + ".html")
    html = open(page, encoding="utf-8").read()
    assert "Survives any crash" in html and "failed" in html
    assert "lost" in html  # the checker's explanation of the lost message
    assert 'class="sqslab-timeline"' in html and "data:image/png;base64," in html


def test_a_small_class_graded_alone_twice_matches_the_bad_class_byte_for_byte_and_then_reuses_results(
        corpus_run, tmp_path):
    # Every other learner's grade is unchanged by the bad ones: graded alone, the ordinary learners
    # get the rows they got beside the corpus. Graded twice (--force), the CSV is the same bytes;
    # a third run without --force runs nothing and writes the same CSV again.
    names = ("good", "wrong_consumer", "blank", "missing_assignment")
    subs = tmp_path / "subs"
    for name in names:
        shutil.copytree(os.path.join(corpus_run["root"], "submissions", name), subs / name)
    out = str(tmp_path / "out")
    args = ("--source", corpus_run["source"], "--course-cache", corpus_run["build"], "--timeout", "60",
            "--cell-timeout", "8")
    run_grader(str(subs), out, *args, "--force")
    alone = read_rows(out)
    for name in names:
        assert alone[name] == corpus_run["rows"][name]
    first = open(os.path.join(out, "grades.csv"), "rb").read()
    run_grader(str(subs), out, *args, "--force")
    assert open(os.path.join(out, "grades.csv"), "rb").read() == first
    third = run_grader(str(subs), out, *args)
    assert "grading 0 submission(s)" in third.stderr and "4 unchanged" in third.stderr
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
    # The repository is there only for the bench's source and the virtualenv, read-only.
    repo_listing = [line for line in printed.splitlines() if line.startswith("REPO ")]
    assert repo_listing and "solutions" not in repo_listing[0] and "autograder" not in repo_listing[0]


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
    assert "interfaces ['lo']" in printed
    assert "blocked OSError 101" in printed and "CONNECTED" not in printed  # ENETUNREACH: no route at all


def test_a_graded_run_opens_no_socket_off_loopback(corpus_run):
    events = []
    if os.path.exists(corpus_run["audit"]):
        with open(corpus_run["audit"]) as f:
            events = [json.loads(line) for line in f]
    import socket

    # The hook was active in the grader (the workers are forked from it and keep it)...
    assert any(e[1] == "loaded" and "grade.py" in e[3] for e in events)
    off = [e for e in events if e[2] in (int(socket.AF_INET), int(socket.AF_INET6))
           and not any(host in e[3] for host in ("127.", "'::1'", "localhost"))]
    assert off == [], f"sockets off loopback: {off[:5]}"


def test_the_socket_audit_would_see_a_tcp_connection(tmp_path):
    # ...and it does record a socket when one is used, so an empty record above means something.
    (tmp_path / "sitecustomize.py").write_text(AUDIT_SITECUSTOMIZE)
    log = tmp_path / "log.jsonl"
    code = ("import socket\ns = socket.socket()\ntry:\n    s.connect(('127.0.0.1', 9))\nexcept OSError:\n    pass")
    subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(tmp_path),
                                                          SQSLAB_SOCKET_AUDIT=str(log)), check=True, timeout=60)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e[1] == "socket.connect" and "127.0.0.1" in e[3] for e in events)


def test_a_kernel_that_will_not_start_is_an_error_with_its_reason_never_a_silent_zero(corpus_run, tmp_path):
    # An address-space limit too small for Python: the kernel dies as it starts, every time.
    subs = tmp_path / "subs"
    shutil.copytree(os.path.join(corpus_run["root"], "submissions", "good"), subs / "good")
    out = str(tmp_path / "out")
    run_grader(str(subs), out, "--source", corpus_run["source"], "--course-cache", corpus_run["build"],
               "--memory-mb", "24", "--timeout", "60")
    row = read_rows(out)["good"]
    assert row["status"] == "error" and float(row["score"]) == 0
    assert "did not start" in row["reason"] and "3 tries" in row["reason"]


def test_the_grader_says_loudly_when_it_runs_unsandboxed(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    out = str(tmp_path / "out")
    done = run_grader(str(subs), out, "--source", FIXTURE, "--sandbox", "none")
    assert "GRADING WITHOUT A SANDBOX" in done.stderr


def test_plain_nbgrader_autograde_uses_the_same_sandbox_and_canary_through_the_config_file(corpus_run, tmp_path):
    # The nbgrader wiring: nbgrader's own command line, configured by autograder/nbgrader_config.py,
    # grades with SandboxedExecute and the sandboxed kernel, so a patched bench loses its points there too.
    sandbox_or_skip()
    from nbgrader.api import Gradebook

    for name in ("good", "patch_checker"):
        shutil.copytree(os.path.join(corpus_run["root"], "submissions", name), tmp_path / "submitted" / name)
    (tmp_path / "nbgrader_config.py").write_text(
        f"load_subconfig({os.path.join(REPO, 'autograder', 'nbgrader_config.py')!r})\n")
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, SQSLAB_SOURCE=corpus_run["source"], PATH=bindir + os.pathsep + os.environ["PATH"])
    for command in (["generate_assignment", corpus.ASSIGNMENT, "--force"], ["autograde", corpus.ASSIGNMENT, "--force"]):
        done = subprocess.run([os.path.join(bindir, "nbgrader"), *command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", "sqs-reliability-course") as gb:
        scores = {s.student.id: s.score for s in gb.find_assignment(corpus.ASSIGNMENT).submissions}
    assert scores == {"good": corpus.FULL, "patch_checker": float(corpus_run["rows"]["patch_checker"]["score"])}
    assert scores["patch_checker"] < corpus.FULL
