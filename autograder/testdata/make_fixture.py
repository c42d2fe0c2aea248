"""Write the fixture assignment ``source/fx_consumer/fx_consumer.ipynb`` (run after editing it).

A small nbgrader source notebook on the real bench: two independent exercises (a consumer and a
plain function) so a bad submission can break one and keep the other's points, visible and hidden
tests with grade_ids and points. The grader's tests grade copies of it; it is never released.
"""

import json
import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=0):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


CELLS = [
    new_markdown_cell("# Fixture: a consumer that loses nothing\n\nGrader test fixture.",
                      metadata=_meta("intro", locked=True)),
    new_code_cell("import sqslab\nfrom sqslab import explore, run_scenario", metadata=_meta("setup", locked=True)),
    new_code_cell('def consume(p):\n    """One step: receive, handle each message, then delete it."""\n'
                  "    ### BEGIN SOLUTION\n"
                  '    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", []):\n'
                  '        p.handle(m["Body"])\n'
                  '        p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])\n'
                  "    ### END SOLUTION",
                  metadata=_meta("consumer", solution=True)),
    new_code_cell('"""Every message is handled and the queue ends empty when nothing fails."""\n'
                  'verdict = run_scenario(consume, messages=3, expect="at_least_once").verdict\n'
                  "assert verdict.ok, verdict.explanation",
                  metadata=_meta("handles_every_message", grade=True, locked=True, points=1)),
    new_code_cell('"""A crash at any point loses no message."""\n'
                  'verdict = explore(consume, messages=2, expect="at_least_once", points=["before_delete"], double=False)\n'
                  "assert verdict.ok, verdict.explanation\n"
                  "### BEGIN HIDDEN TESTS\n"
                  "HIDDEN_FIXTURE_MARKER = 'hidden-tests-must-stay-hidden'\n"
                  'verdict = explore(consume, messages=2, expect="at_least_once", max_runs=12)\n'
                  "assert verdict.ok, verdict.explanation\n"
                  "### END HIDDEN TESTS",
                  metadata=_meta("survives_any_crash", grade=True, locked=True, points=2)),
    new_markdown_cell("## A plain function, graded on its own", metadata=_meta("intro_total", locked=True)),
    new_code_cell('def order_total(items):\n    """The sum of price times quantity."""\n'
                  "    ### BEGIN SOLUTION\n"
                  '    return sum(i["price"] * i["qty"] for i in items)\n'
                  "    ### END SOLUTION",
                  metadata=_meta("total", solution=True)),
    new_code_cell('"""Totals an order."""\n'
                  'assert order_total([{"price": 2, "qty": 3}, {"price": 1, "qty": 1}]) == 7, '
                  '"order_total should add price times quantity over the items"',
                  metadata=_meta("totals_orders", grade=True, locked=True, points=1)),
]


def main():
    nb = new_notebook(cells=CELLS, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"fx-{i:02d}"
    nbformat.validate(nb)
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "source", "fx_consumer", "fx_consumer.ipynb")
    with open(path, "w") as f:
        f.write(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(path)


if __name__ == "__main__":
    main()
