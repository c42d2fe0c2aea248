"""The mutation engine: each operator makes what it says, inside the solution region only, with stable ids."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from mutants.operators import OPERATORS, mutate, solution_region  # noqa: E402
from mutants.runner import sample  # noqa: E402

CONSUMER = '''\
import json

def consume(sqs, queue_url, db, handle, clock, *, timeout=30):
    """Receive up to 10, charge each once, delete; a docstring is never mutated."""
    ### BEGIN SOLUTION
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    done = 0
    for message in response.get("Messages", []):
        try:
            with db:  # one transaction
                handle(message["Body"])
        except Exception:
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        done += 1
    return done
    ### END SOLUTION
'''

HEARTBEAT = '''\
def handle_one(sqs, queue_url, message, clock, work, *, timeout=30):
    ### BEGIN SOLUTION
    deadline = clock.now() + 3600

    def beat():
        left = deadline - clock.now()
        if left <= 0 or not message:
            timer.cancel()
            return
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                      VisibilityTimeout=min(timeout, left))

    timer = clock.every(timeout / 2, beat, name="heartbeat")
    try:
        work(message["Body"])
    finally:
        timer.cancel()
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return True
    ### END SOLUTION
'''

BATCH = '''\
def consume_batch(sqs, queue_url, db, clock):
    ### BEGIN SOLUTION
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for i, m in enumerate(messages):
        if i > 0 and messages[i]:
            db.apply_effect(m["MessageId"], "charge")
            db.commit()
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    sqs.send_message(QueueUrl=queue_url, MessageBody="x", MessageGroupId=str(1),
                     MessageDeduplicationId=str(messages[0]["MessageId"]))
    try:
        int("x")
    except (TypeError, ValueError):
        pass
    while True:
        break
    return max(len(messages), 0) ** 2
    ### END SOLUTION
'''


def changes(mutant) -> tuple[list[str], list[str]]:
    """(removed lines, added lines) of a mutant, stripped."""
    old, new = mutant.original.splitlines(), mutant.source.splitlines()
    import difflib
    removed, added = [], []
    for line in difflib.ndiff(old, new):
        if line.startswith("- "):
            removed.append(line[2:].strip())
        elif line.startswith("+ "):
            added.append(line[2:].strip())
    return removed, added


def by(mutants, operator):
    return [m for m in mutants if m.operator == operator]


def added(mutants, operator) -> list[str]:
    return ["\n".join(changes(m)[1]) for m in by(mutants, operator)]


@pytest.fixture(scope="module")
def consumer():
    return mutate(CONSUMER, lesson="99_toy", grade_id="consume")


@pytest.fixture(scope="module")
def heartbeat():
    return mutate(HEARTBEAT, lesson="99_toy", grade_id="handle_one")


@pytest.fixture(scope="module")
def batch():
    return mutate(BATCH, lesson="99_toy", grade_id="consume_batch")


# -- every mutant -------------------------------------------------------------------------------
@pytest.mark.parametrize("source", [CONSUMER, HEARTBEAT, BATCH], ids=["consumer", "heartbeat", "batch"])
def test_every_mutant_compiles_differs_and_stays_inside_the_solution_region(source):
    region = solution_region(source)
    original = ast.dump(ast.parse(source))
    mutants = mutate(source)
    assert mutants
    dumps = set()
    for m in mutants:
        tree = ast.parse(m.source)
        compile(tree, "<mutant>", "exec")
        dump = ast.dump(tree)
        assert dump != original, m.id
        assert dump not in dumps, f"two mutants make the same code: {m.id}"
        dumps.add(dump)
        old_lines, new_lines = source.splitlines(), m.source.splitlines()
        outside = [i for i in range(1, len(old_lines) + 1) if i not in region]
        head = [i for i in outside if i < min(region)]
        tail = [i for i in outside if i > max(region)]
        assert [old_lines[i - 1] for i in head] == new_lines[:len(head)], f"{m.id} changed the stub:\n{m.diff()}"
        assert [old_lines[i - 1] for i in tail] == new_lines[len(new_lines) - len(tail):], m.id


def test_docstrings_and_the_signature_are_never_mutated(consumer):
    for m in consumer:
        removed, _ = changes(m)
        assert not any("Receive up to 10" in line or line.startswith("def ") for line in removed), m.id


def test_every_operator_is_described_and_every_mutant_names_a_known_operator(consumer, heartbeat, batch):
    for m in [*consumer, *heartbeat, *batch]:
        assert m.operator in OPERATORS
    assert all(kind in ("generic", "domain") and text for kind, text in OPERATORS.values())


def test_the_examples_exercise_every_operator(consumer, heartbeat, batch):
    used = {m.operator for m in [*consumer, *heartbeat, *batch]}
    assert used == set(OPERATORS), f"no example makes {sorted(set(OPERATORS) - used)}"


# -- domain operators ---------------------------------------------------------------------------
def test_swap_effect_delete_moves_the_delete_above_the_effect(consumer):
    (m,) = by(consumer, "swap_effect_delete")
    lines = [line.strip() for line in m.source.splitlines()]
    delete = lines.index('sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])')
    assert lines[delete + 1] == "try:", m.diff()
    assert m.source.count("delete_message") == 1


def test_drop_delete_and_drop_commit_remove_the_call(consumer, batch):
    (m,) = by(consumer, "drop_delete")
    assert changes(m) == (['sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])'],
                          ["pass"])
    (c,) = by(batch, "drop_commit")
    assert changes(c) == (["db.commit()"], ["pass"])


def test_drop_visibility_change_removes_a_renewal(heartbeat):
    (m,) = by(heartbeat, "drop_visibility_change")
    assert changes(m)[1] == ["pass"] and "change_message_visibility" not in m.source


def test_drop_transaction_turns_with_db_into_if_true(consumer):
    (m,) = by(consumer, "drop_transaction")
    assert changes(m) == (["with db:  # one transaction"], ["if True:  # one transaction"])


def test_delete_in_finally_adds_a_finally_or_joins_the_existing_one(consumer, heartbeat):
    (m,) = by(consumer, "delete_in_finally")
    lines = m.source.splitlines()
    at = [line.strip() for line in lines].index("finally:")
    assert "delete_message" in lines[at + 1] and lines[at + 1].startswith(" " * 12), m.diff()
    (h,) = by(heartbeat, "delete_in_finally")
    body = [line.strip() for line in h.source.splitlines()]
    assert body[body.index("finally:") + 1: body.index("finally:") + 3] == [
        "timer.cancel()", 'sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])'], h.diff()


def test_stale_receipt_handle_uses_the_first_message_of_the_batch(consumer, batch):
    (m,) = by(consumer, "stale_receipt_handle")
    assert changes(m)[1] == ["sqs.delete_message(QueueUrl=queue_url, "
                             "ReceiptHandle=response.get('Messages', [])[0][\"ReceiptHandle\"])"]
    # through enumerate, in a comprehension
    (b,) = by(batch, "stale_receipt_handle")
    assert "messages[0][\"ReceiptHandle\"]" in changes(b)[1][0]


def test_batch_index_moves_an_index_by_one(batch):
    texts = added(batch, "batch_index")
    assert any("messages[i - 1]" in t for t in texts) and any("messages[i + 1]" in t for t in texts)
    assert any('"Id": str(i - 1)' in t for t in texts) and any('"Id": str(i + 1)' in t for t in texts)


def test_id_swap_exchanges_message_id_and_receipt_handle(consumer, batch):
    assert any("message['MessageId']" in t for t in added(consumer, "id_swap"))
    assert any("m['ReceiptHandle']" in t and "apply_effect" in t for t in added(batch, "id_swap"))


def test_dedup_ids_are_regenerated_or_reused(batch):
    assert any("MessageDeduplicationId=__import__('uuid').uuid4().hex" in t for t in added(batch, "regenerate_id"))
    reused = added(batch, "reuse_id")
    assert any("MessageGroupId='same-id'" in t for t in reused)
    assert any("MessageDeduplicationId='same-id'" in t for t in reused)


def test_reread_clock_only_where_time_has_passed(heartbeat):
    (m,) = by(heartbeat, "reread_clock")
    assert m.scope == "handle_one.beat"
    assert changes(m)[1] == ["left = (clock.now() + 3600) - clock.now()"]


def test_wall_clock_replaces_the_clock_given(heartbeat):
    texts = added(heartbeat, "wall_clock")
    assert "deadline = __import__('time').time() + 3600" in texts
    assert "left = deadline - __import__('time').time()" in texts


def test_drop_stop_and_stop_after_delete(heartbeat):
    assert len(by(heartbeat, "drop_stop")) == 2            # in the callback, and in finally
    (m,) = by(heartbeat, "stop_after_delete")
    lines = [line.strip() for line in m.source.splitlines()]
    fin = lines.index("finally:")
    assert lines[fin + 1] == "pass"
    delete = next(i for i, line in enumerate(lines) if line.startswith("sqs.delete_message"))
    assert lines[delete + 1] == "timer.cancel()", m.diff()


def test_catch_base_exception(consumer):
    (m,) = by(consumer, "catch_base_exception")
    assert changes(m) == (["except Exception:"], ["except BaseException:"])


def test_timeout_shift_moves_a_computed_duration_by_one_second(heartbeat):
    texts = added(heartbeat, "timeout_shift")
    assert any("clock.every(timeout / 2 + 1, beat" in t for t in texts)
    assert any("clock.every(timeout / 2 - 1, beat" in t for t in texts)
    assert any("VisibilityTimeout=min(timeout, left) + 1)" in t for t in texts)
    # a literal duration is the number operator's (30 -> 31), not shifted twice
    assert not any("+ 1 + 1" in t for t in texts)


# -- generic operators --------------------------------------------------------------------------
def test_numbers_move_by_one_both_ways(consumer):
    texts = added(consumer, "number")
    for expected in ("MaxNumberOfMessages=11", "MaxNumberOfMessages=9", "done = 1", "done = (-1)", "done += 2",
                     "done += 0"):
        assert any(expected in t for t in texts), expected


def test_compare_boolop_negate_and_bool_const(heartbeat, batch):
    assert any("if left < 0 or not message:" in t for t in added(heartbeat, "compare"))
    assert any("if left <= 0 and (not message):" in t or "if left <= 0 and not message:" in t
               for t in added(heartbeat, "boolop"))
    negated = added(heartbeat, "negate")
    assert any("if left <= 0 or message:" in t for t in negated)          # the `not` removed
    assert any(t.startswith("if not (left <= 0 or not message)") for t in negated)
    assert any("return False" in t for t in added(heartbeat, "bool_const"))


def test_arith_changes_operators_and_augmented_assignments(consumer, batch):
    texts = added(consumer, "arith")
    assert "done -= 1" in texts and "done = 1" in texts
    assert any("** 2" not in t and "* 2" in t for t in added(batch, "arith"))


def test_strings_are_changed_except_docstrings(consumer):
    texts = added(consumer, "string")
    assert any("'XXMessagesXX'" in t for t in texts)
    assert not any("XXReceive up" in t for t in texts)


def test_remove_statement_and_loop_control(consumer, batch):
    removed = [changes(m)[0] for m in by(consumer, "remove_statement")]
    assert ["continue"] in removed and ['handle(message["Body"])'] in removed
    assert added(consumer, "loop_control") == ["break"]
    assert added(batch, "loop_control") == ["continue"]


def test_return_none_kwargs_min_max_and_exception_types(consumer, heartbeat, batch):
    assert added(consumer, "return_none") == ["return None"]
    assert "timer = clock.every(timeout / 2, beat)" in added(heartbeat, "drop_kwarg")
    assert any("max(timeout, left)" in t for t in added(heartbeat, "min_max"))
    assert any("min(len(messages), 0)" in t for t in added(batch, "min_max"))
    dropped = added(batch, "drop_exception_type")
    assert "except ValueError:" in dropped and "except TypeError:" in dropped


def test_operator_precedence_is_kept_with_parentheses():
    mutants = mutate("def f(x, a, b):\n    return x and not (a or b)\n", region=None)
    negated = next(m for m in mutants if m.operator == "negate")
    assert "x and (a or b)" in negated.source


# -- ids ------------------------------------------------------------------------------------------
def test_ids_are_stable_when_unrelated_lines_change():
    before = {m.id for m in mutate(CONSUMER, lesson="99_toy", grade_id="consume")}
    edited = CONSUMER.replace("    done = 0\n", "    done = 0\n    log = [1, 'Body', True]  # unrelated\n")
    edited = edited.replace("import json\n", "import json\nimport os\n\n")
    after = {m.id for m in mutate(edited, lesson="99_toy", grade_id="consume")}
    assert before <= after, sorted(before - after)


def test_ids_number_identical_changes_in_a_scope():
    src = "def f(q, s):\n    s.delete_message(QueueUrl=q)\n    s.delete_message(QueueUrl=q)\n"
    ids = [m.id for m in mutate(src, lesson="x", grade_id="f", region=None) if m.operator == "drop_delete"]
    assert [i[-2:] for i in ids] == ["#1", "#2"]
    assert ids[0].startswith("x:f:f:drop_delete:")


def test_mutants_come_in_a_fixed_order():
    assert [m.id for m in mutate(BATCH)] == [m.id for m in mutate(BATCH)]
    lines = [m.line for m in mutate(BATCH)]
    assert lines == sorted(lines)


def test_a_cell_without_markers_is_mutated_whole():
    mutants = mutate("def f(x):\n    return x + 1\n", region="markers")
    assert {m.operator for m in mutants} >= {"arith", "number", "return_none"}


def test_sample_is_seeded_and_leaves_out_equivalents(consumer):
    first = sample(consumer, 5, "ci")
    assert [m.id for m in first] == [m.id for m in sample(consumer, 5, "ci")]
    assert [m.id for m in first] != [m.id for m in sample(consumer, 5, "other")]
    skip = {first[0].id}
    assert first[0].id not in {m.id for m in sample(consumer, 5, "ci", exclude=skip)}
    assert len(sample(consumer[:3], 5, "ci")) == 3


def test_sample_keeps_domain_and_generic_mutants_in_proportion(consumer, heartbeat, batch):
    pool = [*consumer, *heartbeat, *batch]
    picked = sample(pool, 10, "ci")
    domain = sum(1 for m in pool if m.kind == "domain") / len(pool)
    got = sum(1 for m in picked if m.kind == "domain")
    assert len(picked) == 10 and abs(got - 10 * domain) <= 1, (got, domain)


def test_a_dropped_keyword_at_the_end_of_a_line_leaves_no_blank_and_no_joined_lines():
    src = "def f(c):\n    c.put(A=1, B=2,\n          C=3)\n"
    texts = {m.change: m.source for m in mutate(src, region=None) if m.operator == "drop_kwarg"}
    assert texts["put(B=2) -> ()"] == "def f(c):\n    c.put(A=1,\n          C=3)\n"
    assert texts["put(C=3) -> ()"] == "def f(c):\n    c.put(A=1, B=2)\n"
