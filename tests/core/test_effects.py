"""The effect store: a real SQLite database whose commit the bench owns."""

import sqlite3

import pytest

from sqslab import Crash, EffectFailed, Fault, LabError


def test_an_effect_counts_only_once_committed(lab):
    db = lab.effects.connect("c1")
    db.apply_effect("order-1", "charge")
    assert lab.effects.counts() == {}
    db.commit()
    assert lab.effects.counts() == {"order-1": 1}
    assert [e.kind for e in lab.history if e.key == "order-1"] == ["effect"]


def test_a_crash_before_commit_rolls_the_transaction_back(lab):
    lab.faults.arm(Fault("effect_uncommitted"))
    db = lab.effects.connect("c1")
    db.execute("CREATE TABLE processed (key TEXT PRIMARY KEY)")
    db.commit()
    with pytest.raises(Crash):
        db.execute("INSERT INTO processed VALUES ('order-1')")
        db.apply_effect("order-1")
    db.crash()
    assert lab.effects.counts() == {}
    check = sqlite3.connect(lab.effects.path)
    assert check.execute("SELECT COUNT(*) FROM processed").fetchone() == (0,)
    assert lab.history.of_kind("rollback")[0].detail["effects"] == ["order-1"]


def test_effect_and_mark_in_one_transaction_survive_a_crash_after_commit(lab):
    lab.faults.arm(Fault("effect_committed"))
    db = lab.effects.connect("c1")
    db.execute("CREATE TABLE processed (key TEXT PRIMARY KEY)")
    with pytest.raises(Crash):
        with db:
            db.execute("INSERT INTO processed VALUES ('order-1')")
            db.apply_effect("order-1")
    assert lab.effects.counts() == {"order-1": 1}


def test_with_block_rolls_back_on_error(lab):
    db = lab.effects.connect("c1")
    with pytest.raises(ValueError):
        with db:
            db.apply_effect("order-9")
            raise ValueError
    assert lab.effects.counts() == {}


def test_handler_error_does_nothing_and_raises_an_ordinary_exception(lab):
    lab.faults.arm(Fault("handler_error"))
    db = lab.effects.connect("c1")
    with pytest.raises(EffectFailed):
        db.apply_effect("order-1")
    db.commit()
    assert lab.effects.counts() == {}
    assert issubclass(EffectFailed, Exception)


def test_the_effects_table_cannot_be_written_by_hand(lab):
    db = lab.effects.connect("c1")
    with pytest.raises(LabError, match="apply_effect"):
        db.execute("INSERT INTO effects (key, effect, at) VALUES ('x', 'charge', 0)")
    db.execute("SELECT COUNT(*) FROM effects")


@pytest.mark.parametrize("sql", [
    'DELETE FROM "effects"',                                   # a quoted name
    "DELETE FROM main.effects",                                # a schema prefix
    "UPDATE/**/effects SET key = 'y'",                         # a comment where a space was
    'CREATE TRIGGER _once AFTER INSERT ON "effects" BEGIN DELETE FROM "effects" WHERE rowid = NEW.rowid; END',
    'ALTER TABLE "effects" RENAME TO old_effects',
    'DROP TABLE "effects"',
])
def test_the_effects_table_cannot_be_written_however_the_sql_is_spelled(lab, sql):
    db = lab.effects.connect("c1")
    with db:
        db.apply_effect("order-1")
    with pytest.raises((sqlite3.DatabaseError, LabError)):
        db.execute(sql)
    with pytest.raises((sqlite3.DatabaseError, LabError)):
        db.executescript("SELECT 1; " + sql)  # a script that starts with a SELECT
    with db:
        db.apply_effect("order-1")  # the bench's own insert still works, and no trigger undid it
    assert lab.effects.counts()["order-1"] == 2


def test_a_trigger_on_the_consumers_own_table_cannot_write_the_effects_table(lab):
    db = lab.effects.connect("c1")
    db.execute("CREATE TABLE processed (key TEXT PRIMARY KEY)")
    db.execute('CREATE TRIGGER _undo AFTER INSERT ON processed BEGIN DELETE FROM "effects"; END')
    with db:
        db.apply_effect("order-1")
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("INSERT INTO processed VALUES ('order-1')")
    assert lab.effects.counts()["order-1"] == 1


def test_rows_deleted_through_another_connection_do_not_hide_a_committed_effect(lab):
    db = lab.effects.connect("c1")
    for _ in range(2):
        with db:
            db.apply_effect("order-1")
    (path,) = [row[2] for row in db.execute("PRAGMA database_list")]
    own = sqlite3.connect(path)  # the file's path is no secret
    own.execute("DELETE FROM effects WHERE id > (SELECT MIN(id) FROM effects)")
    own.commit()
    assert lab.effects.counts()["order-1"] == 2


def test_a_raw_commit_is_refused_and_a_cursor_hands_out_no_raw_connection(lab):
    db = lab.effects.connect("c1")
    db.apply_effect("order-1")
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("COMMIT")
    with pytest.raises(LabError):
        db.execute("SELECT 1").connection
    db.commit()
    assert lab.effects.counts()["order-1"] == 1 and db.execute("SELECT COUNT(*) FROM effects").fetchone() == (1,)


def test_a_consumer_gets_no_handle_to_the_store_its_faults_or_the_guard(lab):
    db = lab.effects.connect("c1")
    for name in ("store", "set_authorizer", "deserialize"):
        with pytest.raises((AttributeError, LabError)):
            getattr(db, name)


def test_two_connections_are_two_processes(lab):
    a, b = lab.effects.connect("c1"), lab.effects.connect("c2")
    a.apply_effect("order-1")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        b.apply_effect("order-2")  # timeout=0: no real waiting on a lock held by another process
    a.commit()
    b.rollback()
    b.apply_effect("order-2")
    b.commit()
    assert lab.effects.counts() == {"order-1": 1, "order-2": 1}


def test_a_connection_can_be_used_from_another_thread_as_jupyter_widget_callbacks_do(lab):
    import threading

    db = lab.effects.connect("consumer-1")
    errors = []

    def charge():
        try:
            db.apply_effect("order-1")
            db.commit()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    worker = threading.Thread(target=charge)
    worker.start()
    worker.join()
    assert not errors and lab.effects.counts() == {"order-1": 1}
