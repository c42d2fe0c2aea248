"""The corpus of bad submissions: each a kind of trouble a class really sends, and the fair outcome.

Submissions are made from the fixture assignment (``testdata/source/fx_consumer``): a consumer
exercise worth 3 points (``handles_every_message`` 1, ``survives_any_crash`` 2, with hidden tests)
and an independent ``order_total`` exercise worth 1 (``totals_orders``). A submission that breaks
one exercise keeps the other's point, which is how the tests see that untouched graded cells
still count.

``build(dest, course, out_dir)`` writes one learner folder per case under ``dest`` and returns
the cases, each with the status and score a fair grader gives it. The test suite grades all of
them in one class run (``tests/grader/test_grader_corpus.py``); ``python -m autograder.corpus DEST``
writes them for a look by hand.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field

import nbformat
from nbformat.v4 import new_code_cell

ASSIGNMENT = "fx_consumer"
FULL = 4.0

GOOD_CONSUMER = '''def consume(p):
    """One step: receive, handle each message, then delete it."""
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        p.handle(m["Body"])
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])'''

# Wrong in the way lesson 1 teaches: the delete comes first, so a crash before the work loses the
# message. It passes handles_every_message and fails survives_any_crash: 2 of 4 points.
DELETE_FIRST = '''def consume(p):
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
        p.handle(m["Body"])'''

GOOD_TOTAL = '''def order_total(items):
    return sum(i["price"] * i["qty"] for i in items)'''

FAKE_VERDICT = '''class _AlwaysOK:
    ok = True
    explanation = "all good"
def explore(*args, **kwargs):
    return _AlwaysOK()
def run_scenario(*args, **kwargs):
    class _Outcome:
        verdict = _AlwaysOK()
    return _Outcome()'''


# A consumer that cheats from inside: while a test runs, it swaps the bench's checker for one that
# passes everything (and puts the original back when it is called, so nothing is left to see).
SELF_RESTORING_PATCH = '''import sqslab.scenario as _scn
from sqslab.check import Verdict as _Verdict
def consume(p):
    original = _scn.check
    def lenient(history, **kw):
        _scn.check = original
        return _Verdict(True, kw.get("expect", "exactly_once"), "fine")
    %s
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
        p.handle(m["Body"])'''

# A hook that rewrites every assert of the cells that follow into `pass` (IPython's AST transformers).
AST_ASSERT_TO_PASS = '''import ast
class _NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.copy_location(ast.Pass(), node)
get_ipython().ast_transformers.append(_NoAsserts())'''

LEAK_VIA_FRAMES = '''import sys
def consume(p):
    f = sys._getframe()
    while f is not None:
        if "HIDDEN_FIXTURE_MARKER" in f.f_code.co_names:
            raise RuntimeError("LEAK " + " | ".join(c for c in f.f_code.co_consts if isinstance(c, str)))
        f = f.f_back
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        p.handle(m["Body"])
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])'''

GLOBAL_REBIND = '''def consume(p):
    global explore, run_scenario
    class _Fine:
        ok = True
        explanation = "fine"
        verdict = None
    _Fine.verdict = _Fine()
    explore = lambda *a, **k: _Fine()
    run_scenario = lambda *a, **k: _Fine()
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
        p.handle(m["Body"])'''

LEAK_VIA_HISTORY = '''import linecache
def consume(p):
    seen = [str(c) for c in In[-5:]] + ["".join(v[2]) for v in list(linecache.cache.values()) if len(v) > 2]
    raise RuntimeError("LEAK " + " || ".join(s for s in seen if "explore" in s))'''

HONEST_LOGGING = '''import logging, traceback
log = logging.getLogger("consumer")
def consume(p):
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        try:
            p.handle(m["Body"])
        except Exception:
            log.info("failed: %s", traceback.format_exc())
            print(traceback.format_exc().splitlines()[-1])
            continue
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])'''

#: Every case's name (= its learner id in the class run), in the order they are built.
CASE_NAMES = (
    "good", "blank", "wrong_consumer", "loop_top_level", "loop_in_function", "swallow_interrupt", "os_exit",
    "os_exit_in_function", "sys_exit", "raise_base_exception", "catch_crash", "patch_checker", "patch_clock",
    "replace_bench_names", "shadow_bench_file", "edited_test", "deleted_test", "stripped_metadata",
    "changed_grade_id", "changed_points", "renamed_notebook", "missing_notebook", "missing_assignment",
    "invalid_json", "empty_file", "output_flood", "background_thread", "read_solutions", "write_outside",
    "network", "fork_bomb", "memory_hog",
    # issue 14: the kernel decides the score
    "ast_transformer", "input_transformer", "pre_run_cell_number", "post_run_cell_clears_error",
    "custom_exc_swallows_failures", "showtraceback_silenced", "transformer_in_answer_cell", "hook_during_test",
    # checks run too rarely, under a known name
    "patch_then_restore", "forged_probe", "forged_audit_event", "hidden_test_id_copied_early",
    "patch_during_test", "namespace_patch_during_test", "global_rebind_during_test", "report_written_to",
    "audit_hook_spy", "read_kernel_memory", "child_reads_kernel_memory",
    # files and text from the submission
    "link_to_solutions", "link_to_classmate", "linked_assignment_folder", "huge_notebook", "html_in_error",
    "patched_timeline", "leak_hidden_via_frames", "leak_hidden_via_history",
    '=HYPERLINK("http:evil","10 of 10")', "@SUM(1+1)",
    # silent zeros
    "runaway_recursion",
    # reaching in (review)
    "frames_in_extra_cell", "obfuscated_getframe", "inspect_stack_in_answer", "gc_objects", "ctypes_poke",
    "trace_function", "time_machine", "honest_traceback_and_logging",
)


@dataclass(frozen=True)
class Link:
    """A symbolic link in a submission, to ``target`` (absolute, or relative to the link's folder)."""

    target: str


@dataclass
class Case:
    """One bad (or good) submission and what a fair grader says about it."""

    name: str
    what: str
    status: str
    score: float
    reason_has: tuple[str, ...] = ()
    files: dict[str, "bytes | Link | None"] = field(default_factory=dict)


class Builder:
    """Makes notebooks from the fixture's release copy."""

    def __init__(self, course):
        path = os.path.join(course.release_dir, ASSIGNMENT, ASSIGNMENT + ".ipynb")
        with open(path, encoding="utf-8") as f:
            self.release = nbformat.read(f, as_version=4)

    def notebook(self, consumer: str = GOOD_CONSUMER, total: str = GOOD_TOTAL) -> nbformat.NotebookNode:
        nb = copy.deepcopy(self.release)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid == "consumer":
                cell.source = consumer
            elif gid == "total":
                cell.source = total
        return nb

    @staticmethod
    def insert_after(nb, grade_id: str, source: str) -> nbformat.NotebookNode:
        """A learner's own cell right after the cell ``grade_id``."""
        for i, cell in enumerate(nb.cells):
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                nb.cells.insert(i + 1, new_code_cell(source))
                return nb
        raise KeyError(grade_id)

    @staticmethod
    def cell(nb, grade_id: str):
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                return cell
        raise KeyError(grade_id)

    @staticmethod
    def dump(nb) -> bytes:
        return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def cases(course, out_dir: str, solutions_dir: str) -> list[Case]:
    """Every case, with its files (paths relative to the learner's folder; None: a folder)."""
    b = Builder(course)
    nbpath = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"

    def one(nb) -> dict:
        return {nbpath: b.dump(nb)}

    def extra(source: str, after: str = "consumer", consumer: str = GOOD_CONSUMER) -> dict:
        return one(b.insert_after(b.notebook(consumer), after, source))

    out = []

    def add(name, what, status, score, files, *reason_has):
        out.append(Case(name, what, status, score, tuple(reason_has), files))

    add("good", "a correct solution", "ok", FULL, one(b.notebook()))
    add("blank", "the release copy, unanswered", "ok", 0.0, one(b.release))
    add("wrong_consumer", "deletes before the work: loses a message on a crash", "ok", 2.0,
        one(b.notebook(DELETE_FIRST)))
    add("loop_top_level", "an infinite loop at top level, in a cell of its own", "timeout", FULL,
        extra("while True:\n    pass"), "interrupted")
    add("loop_in_function", "the consumer never returns", "timeout", 1.0,
        one(b.notebook("def consume(p):\n    while True:\n        pass")), "handles_every_message")
    add("swallow_interrupt", "a loop that catches KeyboardInterrupt", "timeout", FULL,
        extra("import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n"
              "        pass"), "ignored the interrupt")
    add("os_exit", "os._exit at top level", "kernel_died", FULL, extra("import os\nos._exit(3)"), "exit code 3")
    add("os_exit_in_function", "the consumer calls os._exit", "kernel_died", 1.0,
        one(b.notebook("import os\ndef consume(p):\n    os._exit(0)")), "handles_every_message")
    add("sys_exit", "sys.exit at top level (IPython turns it into an error)", "ok", FULL,
        extra("import sys\nsys.exit(1)"))
    add("raise_base_exception", "raises BaseException at top level", "ok", FULL,
        extra("raise BaseException('not an Exception')"))
    add("catch_crash", "deletes first, then catches the bench's Crash to handle the message anyway", "ok", 2.0,
        one(b.notebook('''def consume(p):
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
        try:
            p.handle(m["Body"])
        except BaseException:
            p.handle(m["Body"])''')))
    # These three cheat from cells of their own: the clean run (the release's cells and the answer
    # cells only) never runs them, and the full run puts the bench back before every test, so each
    # gets what its delete-first consumer earns (2), flagged tampered.
    add("patch_checker", "after the first test, replaces the bench's checker so nothing fails", "tampered", 2.0,
        extra("import sqslab.scenario as _s\nfrom sqslab.check import Verdict as _V\n"
              "_s.check = lambda history, **kw: _V(True, kw.get('expect', 'exactly_once'), 'fine')",
              after="handles_every_message", consumer=DELETE_FIRST), "changed the bench", "sqslab.scenario.check")
    add("patch_clock", "stops the bench's clock before any test", "tampered", 2.0,
        extra("import sqslab\nsqslab.Clock.advance = lambda self, seconds: None", after="setup",
              consumer=DELETE_FIRST), "changed the bench", "Clock.advance")
    add("replace_bench_names", "rebinds explore and run_scenario to fakes that always pass", "tampered", 2.0,
        extra(FAKE_VERDICT, consumer=DELETE_FIRST), "the name explore")
    files = one(b.notebook(DELETE_FIRST))
    files[f"{ASSIGNMENT}/sqslab.py"] = (FAKE_VERDICT + "\ncanary = lambda: (True, 'fine')\n").encode()
    add("shadow_bench_file", "a sqslab.py beside the notebook, faking the bench", "tampered", 2.0, files, "sqslab.py")

    nb = b.notebook(DELETE_FIRST)
    b.cell(nb, "survives_any_crash").source = "verdict = None  # nothing to see here"
    add("edited_test", "a test cell edited to do nothing", "ok", 2.0, one(nb), "had been edited")
    nb = b.notebook(DELETE_FIRST)
    nb.cells.remove(b.cell(nb, "survives_any_crash"))
    add("deleted_test", "a test cell deleted", "ok", 2.0, one(nb), "had been deleted")
    nb = b.notebook()
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    add("stripped_metadata", "every cell's nbgrader metadata stripped (a copy into a new notebook)", "ok", FULL,
        one(nb), "lost its nbgrader metadata")
    nb = b.notebook(DELETE_FIRST)
    b.cell(nb, "survives_any_crash").metadata["nbgrader"]["grade_id"] = "easy_points"
    add("changed_grade_id", "a failing test's grade_id changed", "tampered", 2.0, one(nb), "grade_id")
    nb = b.notebook()
    b.cell(nb, "totals_orders").metadata["nbgrader"]["points"] = 100
    add("changed_points", "a test's points raised to 100", "tampered", FULL, one(nb), "points")
    add("renamed_notebook", "the notebook saved under another name", "ok", FULL,
        {f"{ASSIGNMENT}/{ASSIGNMENT} (1).ipynb": b.dump(b.notebook())}, "submitted as")
    add("missing_notebook", "the assignment folder holds no notebook", "missing", 0.0,
        {f"{ASSIGNMENT}/notes.txt": b"I will finish it tomorrow\n"}, "no notebook")
    add("missing_assignment", "no folder for the assignment at all", "missing", 0.0,
        {"README.txt": b"wrong folder\n"}, "Nothing was submitted")
    text = b.dump(b.notebook()).decode()
    add("invalid_json", "a notebook cut off half-way (invalid JSON)", "invalid_notebook", 0.0,
        {nbpath: text[: len(text) // 2].encode()}, "not valid JSON")
    add("empty_file", "a zero-byte notebook", "invalid_notebook", 0.0, {nbpath: b""}, "empty")
    add("output_flood", "prints 200,000 lines", "limit_exceeded", FULL,
        extra("for i in range(200_000):\n    print('line', i)"), "output")
    add("background_thread", "leaves a thread running forever", "ok", FULL,
        extra("import threading, time\n"
              "def _spin():\n    while True:\n        time.sleep(0.01)\n"
              "threading.Thread(target=_spin).start()"))
    gradebook = os.path.join(out_dir, "gradebook.db")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    add("read_solutions", "reads the course's solutions, hidden tests and gradebook", "ok", FULL,
        extra("import os\nfor path in [%r, %r, %r, %r, '../../../source']:\n"
              "    try:\n        print(path, 'LEAK', sorted(os.listdir(path))[:5] if os.path.isdir(path) else open(path, 'rb').read(200))\n"
              "    except OSError as e:\n        print(path, 'blocked', type(e).__name__)\n"
              "print('REPO', sorted(os.listdir(%r)))"
              % (solutions_dir, os.path.join(solutions_dir, ASSIGNMENT, ASSIGNMENT + ".ipynb"), gradebook,
                 os.path.join(repo, "solutions"), repo)))
    targets = [os.path.join(out_dir, "PWNED.txt"), gradebook, os.path.join(solutions_dir, "PWNED.txt"),
               "/PWNED.txt", os.path.expanduser("~/PWNED.txt")]
    add("write_outside", "writes into the gradebook, the solutions, the output and the home folder", "ok", FULL,
        extra("for path in %r:\n    try:\n        with open(path, 'a') as f:\n            f.write('pwned')\n"
              "        print(path, 'WROTE')\n    except OSError as e:\n        print(path, 'blocked', type(e).__name__)"
              % (targets,)))
    # Never a packet off the machine, sandbox or not: the off-box connect is tried only where the
    # kernel sees no interface but loopback, where it fails before anything is sent.
    add("network", "tries to reach the internet", "ok", FULL,
        extra("import socket\nnames = sorted(n for _, n in socket.if_nameindex())\nprint('interfaces', names)\n"
              "if names == ['lo']:\n    try:\n        socket.create_connection(('192.0.2.1', 9), timeout=2).close()\n"
              "        print('CONNECTED')\n    except OSError as e:\n        print('blocked', type(e).__name__, e.errno)\n"
              "else:\n    print('NOT ISOLATED: not trying')"))
    add("fork_bomb", "forks until it cannot", "limit_exceeded", FULL,
        extra("import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(600)\n        os._exit(0)"),
        "process limit")
    add("memory_hog", "allocates far more memory than allowed", "limit_exceeded", FULL,
        extra("hog = bytearray(64 * 2**30)"), "memory")
    out += attack_cases(b, one, extra, solutions_dir)
    return out


def attack_cases(b: Builder, one, extra, solutions_dir: str) -> list[Case]:
    """Issue 14's classes of tampering, each with a variant or two, and the fair outcome.

    Fair is the score the honest code earns without the trick: a cheat that only reaches in is
    ``review``; one that changes the bench or the grader's report is ``tampered``; a test that ran
    while the learner's code was changing the bench or the kernel is not counted. The consumer is
    the delete-first one (honestly worth 2 of 4) unless a case says otherwise.
    """
    out: list[Case] = []
    nbpath = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    docline = '    """One step: receive, handle each message, then delete it."""'

    def add(name, what, status, score, files, *reason_has):
        out.append(Case(name, what, status, score, tuple(reason_has), files))

    def wrong(source, after="consumer"):
        return extra(source, after=after, consumer=DELETE_FIRST)

    def good_with(lines):
        return one(b.notebook(GOOD_CONSUMER.replace(docline, lines)))

    def in_answer(source, consumer=DELETE_FIRST):
        # In the answer cell itself: the clean run runs it too, and one run serves both.
        return one(b.notebook(consumer + "\n" + source))

    # -- the kernel decides the score --------------------------------------------------------------
    add("ast_transformer", "an IPython AST transformer turns every assert into pass", "review", 2.0,
        wrong(AST_ASSERT_TO_PASS), "IPython")
    add("input_transformer", "an input transformer rewrites 'assert' to 'pass' in every cell", "review", 2.0,
        in_answer("get_ipython().input_transformers_post.append(\n"
              "    lambda lines: [l.replace('assert ', 'pass  # ') for l in lines])"), "IPython")
    add("pre_run_cell_number", "a pre_run_cell hook shows a number (nbgrader reads it as the cell's points)",
        "review", 2.0, in_answer("def _points(info):\n    get_ipython().displayhook(100)\n"
                             "get_ipython().events.register('pre_run_cell', _points)"), "IPython")
    add("post_run_cell_clears_error", "a post_run_cell hook clears the error and the output", "review", 2.0,
        in_answer("from IPython.display import clear_output\n"
              "def _clean(result):\n    result.error_in_exec = None\n    clear_output()\n"
              "get_ipython().events.register('post_run_cell', _clean)"), "IPython")
    add("custom_exc_swallows_failures", "a custom exception handler swallows AssertionError", "review", 2.0,
        in_answer("get_ipython().set_custom_exc((AssertionError,), "
              "lambda shell, etype, value, tb, tb_offset=None: None)"), "IPython")
    add("showtraceback_silenced", "IPython's traceback display replaced by a no-op", "review", 2.0,
        in_answer("ip = get_ipython()\nip._showtraceback = lambda *a, **k: None\n"
              "ip.showtraceback = lambda *a, **k: None"), "IPython")
    add("transformer_in_answer_cell", "the answer cell itself installs the assert-to-pass transformer (so the "
        "clean run runs it too)", "review", 2.0, one(b.notebook(DELETE_FIRST + "\n" + AST_ASSERT_TO_PASS)), "IPython")
    add("hook_during_test", "a correct consumer that registers a post_run_cell hook while the tests call it: "
        "those tests are not counted", "tampered", 1.0,
        good_with("    get_ipython().events.register('post_run_cell', print)"), "while tests ran")

    # -- checks run too rarely, under a known name --------------------------------------------------
    nb = b.notebook(DELETE_FIRST)
    b.insert_after(nb, "setup", "import sqslab.scenario as _s\nfrom sqslab.check import Verdict as _V\n"
                                "_saved = _s.check\n"
                                "_s.check = lambda history, **kw: _V(True, kw.get('expect', 'exactly_once'), 'fine')")
    nb.cells.append(new_code_cell("_s.check = _saved  # put it back before the canary runs"))
    add("patch_then_restore", "patches the checker before the tests and restores it in the last cell", "tampered", 2.0,
        one(nb), "sqslab.scenario.check")
    add("forged_probe", "defines the old grader probe's name with methods that report all is well", "review", 2.0,
        in_answer("class _Fake:\n    def mark(self): pass\n    def after(self, *a, **k): pass\n"
              "    def final(self): pass\n__sqslab_grader__ = _Fake()"), "grader")
    add("forged_audit_event", "calls the grader's audit event with a made-up secret", "tampered", 2.0,
        in_answer("import sys\nsys.audit('sqslab.grader', '0' * 32, 'test', 99, 'survives_any_crash', 'x', '', '0')"),
        "without its secret")
    nb = b.notebook(DELETE_FIRST)
    copy_cell = new_code_cell("pass  # graded early, before the consumer exists")
    copy_cell.metadata["nbgrader"] = dict(b.cell(nb, "survives_any_crash").metadata["nbgrader"])
    nb.cells.insert(1, copy_cell)
    add("hidden_test_id_copied_early", "a cell placed early carries the grade_id of the hidden test", "tampered", 2.0,
        one(nb), "grade_id of test survives_any_crash")
    add("patch_during_test", "while the tests call it, the consumer swaps the checker for a lenient one that "
        "puts the original back: those tests are not counted", "tampered", 1.0,
        one(b.notebook(SELF_RESTORING_PATCH % "_scn.check = lenient")), "while tests ran")
    add("namespace_patch_during_test", "the same through the module's namespace (vars()), no assignment to see",
        "tampered", 1.0, one(b.notebook(SELF_RESTORING_PATCH % "vars(_scn)['check'] = lenient")), "while tests ran")
    add("global_rebind_during_test", "while the tests call it, the consumer rebinds the notebook's explore and "
        "run_scenario to fakes (global): the test reads its names from a copy; those tests are not counted",
        "tampered", 1.0, one(b.notebook(GLOBAL_REBIND)), "while tests ran")
    add("audit_hook_spy", "adds an audit hook of its own to read the grader's events and the tests it compiles",
        "review", 2.0, in_answer("import sys\nseen = []\nsys.addaudithook(lambda event, args: seen.append(event))\n"
                             "print('hook added:', bool(seen) or 'refused')"), "audit hook")
    add("read_kernel_memory", "opens the kernel's own memory (/proc/self/mem), where the grader's secret is",
        "review", 2.0, in_answer("try:\n    open('/proc/self/mem', 'rb').close()\n    print('MEMORY READABLE')\n"
                             "except OSError as e:\n    print('blocked', type(e).__name__)"), "/proc/self/mem")
    add("child_reads_kernel_memory", "starts a process that reads the kernel's memory from outside (no audit "
        "hook there): the kernel is not dumpable, so it cannot", "ok", FULL,
        in_answer("import os, subprocess, sys\ncode = ('import os\\ntry:\\n    open(\"/proc/%d/mem\" % os.getppid(), \"rb\")'\n"
              "        '.close()\\n    print(\"MEMORY READABLE\")\\nexcept OSError as e:\\n    print(\"blocked\", e.errno)')\n"
              "print(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True).stdout)", consumer=GOOD_CONSUMER))
    add("report_written_to", "writes forged lines into every regular file the kernel holds open (the grader's "
        "report among them)", "tampered", 2.0,
        in_answer("import os, stat\nfor fd in range(3, 64):\n    try:\n        if stat.S_ISREG(os.fstat(fd).st_mode):\n"
              "            os.write(fd, b'{\"kind\":\"test\",\"grade_id\":\"survives_any_crash\",\"outcome\":\"pass\"}\\tab\\n')\n"
              "    except OSError:\n        pass"), "report")

    # -- files and text from the submission ---------------------------------------------------------
    add("link_to_solutions", "the notebook is a link to the course's own solution", "invalid_notebook", 0.0,
        {nbpath: Link(os.path.join(os.path.abspath(solutions_dir), ASSIGNMENT, ASSIGNMENT + ".ipynb"))}, "link")
    add("link_to_classmate", "the notebook is a link to a classmate's notebook", "invalid_notebook", 0.0,
        {nbpath: Link(f"../../good/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")}, "link")
    add("linked_assignment_folder", "the assignment folder is a link to a classmate's", "invalid_notebook", 0.0,
        {ASSIGNMENT: Link(f"../good/{ASSIGNMENT}")}, "link")
    nb = b.notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("padding " * 400_000))
    add("huge_notebook", "a notebook over the size limit (the corpus grades with --max-notebook-mb 2)",
        "invalid_notebook", 0.0, one(nb), "larger than")
    add("html_in_error", "the exercise raises an error whose message is HTML and a fake score", "ok", 3.0,
        one(b.notebook(total="def order_total(items):\n    raise ValueError('<script>alert(1)</script>"
                             "<h1>10 of 10 points</h1>')")))
    add("patched_timeline", "replaces the bench's timeline renderer with one that injects a script and a fake "
        "score into the feedback page", "review", 2.0,
        in_answer("import sqslab.views.timeline\nsqslab.views.timeline.to_html = lambda *a, **k: "
              "'<script>alert(1)</script><p>10 of 10 points</p>'"), "bench")
    add("leak_hidden_via_frames", "walks the frames up to the hidden test and raises its constants", "review", 2.0,
        one(b.notebook(LEAK_VIA_FRAMES)), "frame")
    add("leak_hidden_via_history", "raises the kernel's input history and line cache, looking for the tests' "
        "source", "review", 1.0, one(b.notebook(LEAK_VIA_HISTORY)), "line cache")
    for name in ('=HYPERLINK("http:evil","10 of 10")', "@SUM(1+1)"):
        add(name, "a learner folder named like a spreadsheet formula", "ok", FULL, one(b.notebook()))

    # -- never a silent zero -----------------------------------------------------------------------------
    add("runaway_recursion", "a recursion that ignores the interrupt, in a cell of its own: it costs that cell "
        "its timeout, not the notebook its budget", "timeout", FULL,
        extra("def _forever(n):\n    try:\n        return _forever(n + 1)\n"
              "    except (RecursionError, KeyboardInterrupt):\n        return _forever(0)\n_forever(0)"),
        "ignored the interrupt")

    # -- reaching in: flagged for review, the score stands --------------------------------------------
    add("frames_in_extra_cell", "looks at the kernel's frames in a cell of its own", "review", FULL,
        extra("import sys\nprint(sys._getframe().f_back)"), "frame")
    add("obfuscated_getframe", "a correct consumer that takes a frame through a name built at run time",
        "review", FULL, good_with('    import sys\n    getattr(sys, "_get" + "frame")(0)'), "frame")
    add("inspect_stack_in_answer", "a correct consumer that calls inspect.stack() (once: it is slow)", "review", FULL,
        good_with("    import inspect\n    if not getattr(consume, 'looked', False):\n"
                  "        consume.looked = True\n        inspect.stack(0)"), "frame")
    add("gc_objects", "lists every object of the kernel (gc.get_objects)", "review", FULL,
        in_answer("import gc\nprint(len(gc.get_objects()))", consumer=GOOD_CONSUMER), "gc.get_objects")
    add("ctypes_poke", "loads ctypes and reads the interpreter's memory", "review", FULL,
        in_answer("import ctypes\nprint(ctypes.c_int.from_address(id(1) + 8).value > 0)", consumer=GOOD_CONSUMER), "ctypes")
    add("trace_function", "installs a trace function (which could skip lines of a test)", "review", FULL,
        in_answer("import sys\nsys.settrace(lambda frame, event, arg: None)", consumer=GOOD_CONSUMER), "settrace")
    add("time_machine", "tries to import time_machine to move the clock", "review", FULL,
        in_answer("try:\n    import time_machine\nexcept ImportError:\n    pass", consumer=GOOD_CONSUMER), "time_machine")
    add("honest_traceback_and_logging", "a correct consumer that logs and formats the tracebacks of failed work "
        "(nothing flagged)", "ok", FULL, one(b.notebook(HONEST_LOGGING)))
    return out



def build(dest: str, course, out_dir: str, solutions_dir: str) -> list[Case]:
    """Write every case's learner folder under ``dest``; return the cases."""
    all_cases = cases(course, out_dir, solutions_dir)
    for case in all_cases:
        folder = os.path.join(dest, case.name)
        os.makedirs(folder, exist_ok=True)
        for rel, data in case.files.items():
            path = os.path.join(folder, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if isinstance(data, Link):
                if os.path.lexists(path):
                    os.unlink(path)
                os.symlink(data.target, path)
                continue
            with open(path, "wb") as f:
                f.write(data or b"")
    return all_cases


if __name__ == "__main__":
    import sys

    from autograder.course import build_course

    here = os.path.dirname(os.path.abspath(__file__))
    dest = sys.argv[1] if len(sys.argv) > 1 else "corpus-out"
    course = build_course(os.path.join(here, "testdata", "source"), os.path.join(dest, ".course"))
    for c in build(os.path.join(dest, "submissions"), course, os.path.join(dest, "out"),
                   os.path.join(here, "testdata", "source")):
        print(f"{c.name:<22} {c.status:<16} {c.score:g}  {c.what}")
