"""sqslab.lessons.idempotency: lesson 2's claims table, its notes on the record, the crash matrix and the DLQ check."""

from __future__ import annotations

import json

import pytest

from sqslab import Fault, LabError, explore, order_messages, run_scenario
from sqslab.lessons.idempotency import (CLAIMS_TABLE, _plain, claims, claims_client, conflict_verdict, crash_matrix,
                                        idempotent_charge, lambda_batch, order_key, payload_fingerprint,
                                dead_letter_verdict, reset_claims_table)


def _claim(ddb, key, now, seconds=60):
    ddb.put_item(TableName=CLAIMS_TABLE,
                 Item={"id": {"S": key}, "status": {"S": "INPROGRESS"},
                       "in_progress_expiration": {"N": str(now + seconds)}},
                 ConditionExpression="attribute_not_exists(id)")


def _receive(p):
    return p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages", [])


def _delete(p, m):
    p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


def _claiming_consumer(p):
    """Claims each order (no expiry), charges, deletes: enough to exercise claims_client."""
    ddb = claims_client(p)
    for m in _receive(p):
        key = json.loads(m["Body"])["order_id"]
        try:
            _claim(ddb, key, p.clock.now())
        except ddb.exceptions.ConditionalCheckFailedException:
            continue
        p.db.apply_effect(key, "charge")
        p.db.commit()
        _delete(p, m)


def test_reset_creates_the_table_keyed_on_id_and_empties_it_later(lab):
    reset_claims_table(lab)
    ddb = lab.client("dynamodb", actor="test")
    schema = ddb.describe_table(TableName=CLAIMS_TABLE)["Table"]["KeySchema"]
    assert schema == [{"AttributeName": "id", "KeyType": "HASH"}]
    _claim(ddb, "order-1", lab.clock.now())
    assert [c["id"] for c in claims(lab)] == ["order-1"]
    reset_claims_table(lab)
    assert claims(lab) == []
    _claim(ddb, "order-1", lab.clock.now())  # accepted again: the old claim is gone


def test_claims_shows_expiries_on_the_history_clock(lab):
    reset_claims_table(lab)
    lab.clock.advance(10)
    _claim(lab.client("dynamodb", actor="test"), "order-9", lab.clock.now(), seconds=60)
    (record,) = claims(lab)
    assert record == {"id": "order-9", "status": "INPROGRESS", "in_progress_expiration": "t=70s"}


def test_every_run_starts_with_an_empty_claims_table(lab):
    first = run_scenario(_claiming_consumer, messages=2, lab=lab)
    second = run_scenario(_claiming_consumer, messages=2, lab=lab)
    assert first.verdict.ok, first.verdict.explanation
    assert second.verdict.ok, second.verdict.explanation  # order ids repeat; the claims do not


def test_claim_calls_are_noted_under_the_order_with_their_outcome(lab):
    outcome = run_scenario(_claiming_consumer, messages=1, lab=lab,
                           faults=[Fault("duplicate_delivery", message=0)])
    notes = [e for e in outcome.history.of_kind("note")
             if e.key == "order-1" and e.detail["text"].startswith("dynamodb ")]
    texts = [e.detail["text"] for e in notes]
    assert any("PutItem order-1" in t and t.endswith(": ok") for t in texts), texts
    assert any("ConditionalCheckFailedException" in t for t in texts), texts
    assert all(e.actor.startswith("consumer-") for e in notes)
    assert "in_progress_expiration: t=60s" in texts[0]


def test_a_crash_after_the_put_is_noted_as_applied(lab):
    outcome = run_scenario(_claiming_consumer, messages=1, lab=lab, expect="at_least_once",
                           faults=[Fault("after:PutItem", message=0)], max_steps=4)
    texts = [e.detail["text"] for e in outcome.history.of_kind("note") if e.key == "order-1"]
    assert texts[0].startswith("dynamodb PutItem order-1")
    assert "applied (then the process died)" in texts[0]
    # The claim never expires, so the order is stuck: the pitfall the lesson shows.
    assert not outcome.verdict.ok and outcome.effects.get("order-1", 0) == 0


def test_one_client_per_process_and_a_new_one_after_a_crash(lab):
    seen = []

    def consumer(p):
        seen.append((p.name, claims_client(p), claims_client(p)))
        _claiming_consumer(p)

    run_scenario(consumer, messages=1, lab=lab, faults=[Fault("before_effect", message=0)],
                 expect="at_least_once", max_steps=3)
    assert all(a is b for _, a, b in seen)
    by_process = {name: a for name, a, _ in seen}
    assert len(set(map(id, by_process.values()))) == len(by_process) >= 2


def _effect_then_mark(p):
    p.db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    for m in _receive(p):
        key = json.loads(m["Body"])["order_id"]
        if p.db.execute("SELECT 1 FROM processed WHERE key = ?", (key,)).fetchone() is None:
            p.db.apply_effect(key)
            p.db.commit()
            p.db.execute("INSERT INTO processed VALUES (?)", (key,))
            p.db.commit()
        _delete(p, m)


def _mark_then_effect(p):
    p.db.execute("CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY)")
    for m in _receive(p):
        key = json.loads(m["Body"])["order_id"]
        if p.db.execute("INSERT OR IGNORE INTO processed VALUES (?)", (key,)).rowcount:
            p.db.commit()
            p.db.apply_effect(key)
        p.db.commit()
        _delete(p, m)


def test_crash_matrix_tells_twice_from_lost(lab):
    matrix = crash_matrix({"effect, then mark": _effect_then_mark, "mark, then effect": _mark_then_effect},
                          points=["before_effect", "effect_committed"], lab=lab)
    assert matrix.cells == {
        ("before_effect", "effect, then mark"): "ok", ("before_effect", "mark, then effect"): "LOST",
        ("effect_committed", "effect, then mark"): "TWICE", ("effect_committed", "mark, then effect"): "ok",
    }
    lines = str(matrix).splitlines()
    assert lines[0].split() == ["crash", "point", "effect,", "then", "mark", "mark,", "then", "effect"]
    assert lines[2].split() == ["before_effect", "ok", "LOST"]


def test_crash_matrix_rejects_a_position_outside_the_messages(lab):
    with pytest.raises(LabError):
        crash_matrix({"x": _effect_then_mark}, messages=1, message=1, lab=lab)


_MIXED = [{"order_id": "order-1"}, "not json at all", {"amount": 3}, {"order_id": "order-4"}]


def _leave_keyless(p):
    for m in _receive(p):
        try:
            key = json.loads(m["Body"]).get("order_id")
        except ValueError:
            key = None
        if key:
            p.handle(m["Body"])
            _delete(p, m)


def _delete_keyless(p):
    for m in _receive(p):
        try:
            key = json.loads(m["Body"]).get("order_id")
        except ValueError:
            key = None
        if key:
            p.handle(m["Body"])
        _delete(p, m)


def test_dead_letter_verdict_accepts_keyless_messages_left_for_the_dlq(lab):
    outcome = run_scenario(_leave_keyless, messages=_MIXED, max_receive_count=2, lab=lab)
    verdict = dead_letter_verdict(outcome)
    assert verdict.ok, verdict.explanation
    assert "2 message(s)" in verdict.explanation


def test_dead_letter_verdict_explains_a_deleted_keyless_message(lab):
    outcome = run_scenario(_delete_keyless, messages=_MIXED, max_receive_count=2, lab=lab)
    assert outcome.verdict.ok  # the orders themselves are fine ...
    verdict = dead_letter_verdict(outcome)
    assert not verdict.ok       # ... but the keyless messages were thrown away
    assert "'not json at all'" in verdict.explanation and "deleted it" in verdict.explanation


def test_dead_letter_verdict_needs_a_keyless_message(lab):
    outcome = run_scenario(_leave_keyless, messages=1, lab=lab)
    with pytest.raises(LabError):
        dead_letter_verdict(outcome)


@pytest.mark.parametrize("value, plain", [({"S": "x"}, "x"), ({"N": "60"}, 60), ({"N": "1.5"}, 1.5),
                                          ({"BOOL": True}, True), ({"NULL": True}, None),
                                          ({"L": [{"S": "a"}]}, ["a"]), ({"M": {"k": {"N": "1"}}}, {"k": 1})])
def test_attribute_values_read_as_plain_python(value, plain):
    assert _plain(value) == plain


# -- lesson 2's answers given to later lessons, payload conflicts, Powertools on the bench ---------------


@pytest.mark.parametrize("body, key", [('{"order_id": "o-1", "amount": 1}', "o-1"), ('{"order_id": ""}', None),
                                       ("not json", None), ('["o-1"]', None), ('{"order_id": 7}', None), (None, None)])
def test_order_key_is_the_order_id_or_none_and_never_raises(body, key):
    assert order_key(body) == key


def test_payload_fingerprint_ignores_field_order_and_whitespace_but_not_values():
    same = payload_fingerprint('{"order_id": "o-1", "amount": 10}')
    assert payload_fingerprint('{ "amount":10,"order_id":"o-1" }') == same
    assert payload_fingerprint('{"order_id": "o-1", "amount": 11}') != same


def _given_charge(p):
    for m in p.sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", []):
        try:
            outcome = idempotent_charge(p.db, m["Body"])
        except Exception:
            continue
        if outcome in ("charged", "duplicate"):
            p.sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])


def test_the_given_idempotent_charge_is_exactly_once_under_every_fault(lab):
    verdict = explore(_given_charge, messages=2, lab=lab, max_runs=40)
    assert verdict.ok, verdict.explanation


def test_the_given_charge_says_what_it_did(lab):
    db = lab.effects.connect("test")
    body = json.dumps({"order_id": "o-1", "amount": 10})
    assert idempotent_charge(db, body) == "charged"
    assert idempotent_charge(db, json.dumps({"amount": 10, "order_id": "o-1"})) == "duplicate"
    assert idempotent_charge(db, json.dumps({"order_id": "o-1", "amount": 99})) == "conflict"
    assert idempotent_charge(db, "no key here") == "no_key"
    assert lab.effects.counts()["o-1"] == 1


def test_conflict_verdict_passes_a_dlq_and_fails_a_delete(lab):
    changed = {"order_id": "order-1", "amount": 99}
    right = run_scenario(_given_charge, messages=[*order_messages(2), changed], max_receive_count=2, lab=lab)
    assert right.verdict.ok and conflict_verdict(right, [changed]).ok

    def deletes_duplicates_blindly(p):
        for m in _receive(p):
            try:
                if idempotent_charge(p.db, m["Body"]) == "no_key":
                    continue
            except Exception:
                continue
            _delete(p, m)

    wrong = run_scenario(deletes_duplicates_blindly, messages=[*order_messages(2), changed], max_receive_count=2, lab=lab)
    verdict = conflict_verdict(wrong, [changed])
    assert not verdict.ok and "deleted it" in verdict.explanation
    with pytest.raises(LabError):
        conflict_verdict(wrong, [{"order_id": "never-sent"}])


def _powertools(timeout):
    from aws_lambda_powertools.utilities.idempotency import (DynamoDBPersistenceLayer, IdempotencyConfig,
                                                            idempotent_function)

    def consumer(p):
        store = DynamoDBPersistenceLayer(table_name=CLAIMS_TABLE, boto3_client=claims_client(p))
        config = IdempotencyConfig(event_key_jmespath="order_id", payload_validation_jmespath="amount")

        @idempotent_function(data_keyword_argument="order", persistence_store=store, config=config)
        def charge(order):
            p.db.apply_effect(order["order_id"], "charge")
            p.db.commit()
            return {"charged": order["order_id"]}

        lambda_batch(p, lambda record: charge(order=json.loads(record.body)), config=config, timeout=timeout)
    return consumer


@pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time")
def test_powertools_without_an_in_progress_expiry_refuses_every_redelivery_after_a_crash(lab):
    outcome = run_scenario(_powertools(None), messages=1, faults=[Fault("before_effect", message=0)], max_steps=6,
                           lab=lab)
    assert not outcome.verdict.ok and not outcome.drained and outcome.effects.get("order-1", 0) == 0
    refused = [e for e in outcome.history.of_kind("note")
               if "PutItem" in e.detail["text"] and "ConditionalCheckFailedException" in e.detail["text"]]
    assert len(refused) >= 3, [e.detail["text"] for e in outcome.history.of_kind("note")]


def test_powertools_with_a_lambda_timeout_is_at_least_once_and_refuses_a_conflict(lab):
    outcome = run_scenario(_powertools(20), messages=1, faults=[Fault("before_effect", message=0)], lab=lab)
    assert outcome.verdict.ok, outcome.verdict.explanation
    doubled = run_scenario(_powertools(20), messages=1, faults=[Fault("effect_committed", message=0)], lab=lab,
                           expect="at_least_once")
    assert doubled.verdict.ok and doubled.effects["order-1"] == 2  # the gap between the stores, honestly
    changed = {"order_id": "order-1", "amount": 99}
    conflict = run_scenario(_powertools(20), messages=[*order_messages(1), changed], max_receive_count=2, lab=lab)
    assert conflict.verdict.ok and conflict_verdict(conflict, [changed]).ok
