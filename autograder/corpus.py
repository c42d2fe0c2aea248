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


#: Every case's name (= its learner id in the class run), in the order they are built.
CASE_NAMES = (
    "good", "blank", "wrong_consumer", "loop_top_level", "loop_in_function", "swallow_interrupt", "os_exit",
    "os_exit_in_function", "sys_exit", "raise_base_exception", "catch_crash", "patch_checker", "patch_clock",
    "replace_bench_names", "shadow_bench_file", "edited_test", "deleted_test", "stripped_metadata",
    "changed_grade_id", "changed_points", "renamed_notebook", "missing_notebook", "missing_assignment",
    "invalid_json", "empty_file", "output_flood", "background_thread", "read_solutions", "write_outside",
    "network", "fork_bomb", "memory_hog",
)


@dataclass
class Case:
    """One bad (or good) submission and what a fair grader says about it."""

    name: str
    what: str
    status: str
    score: float
    reason_has: tuple[str, ...] = ()
    files: dict[str, bytes | None] = field(default_factory=dict)


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
    add("patch_checker", "after the first test, replaces the bench's checker so nothing fails", "tampered", 1.0,
        extra("import sqslab.scenario as _s\nfrom sqslab.check import Verdict as _V\n"
              "_s.check = lambda history, **kw: _V(True, kw.get('expect', 'exactly_once'), 'fine')",
              after="handles_every_message", consumer=DELETE_FIRST), "changed the bench")
    add("patch_clock", "stops the bench's clock before any test", "tampered", 0.0,
        extra("import sqslab\nsqslab.Clock.advance = lambda self, seconds: None", after="setup",
              consumer=DELETE_FIRST), "changed the bench")
    add("replace_bench_names", "rebinds explore and run_scenario to fakes that always pass", "tampered", 0.0,
        extra(FAKE_VERDICT, consumer=DELETE_FIRST), "no longer refers")
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
