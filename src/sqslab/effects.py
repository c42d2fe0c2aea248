"""The business effects, in a real SQLite database.

The exercises' side effects ("charge the card for this order") are rows in a real SQLite file,
written through a connection the bench hands out (:class:`EffectDB`). The bench owns the commit:
a crash can land after an effect's statements and before the commit (the transaction rolls back,
as it would when a process dies) or right after the commit. Counting rows per key says how many
times each effect really happened.

A learner's own tables (for example ``processed_events``) live in the same database, so an
effect and its "done" mark can share one transaction.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .exceptions import LabError

if TYPE_CHECKING:  # pragma: no cover
    from .faults import FaultPlan
    from .history import History

SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (
    id      INTEGER PRIMARY KEY,
    key     TEXT NOT NULL,
    effect  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '',
    at      REAL NOT NULL
);
"""


class EffectFailed(Exception):
    """The business handler failed (an injected transient error): nothing was done, try again."""


class EffectStore:
    """One SQLite database of business effects, shared by every consumer process of a run.

    Parameters
    ----------
    path:
        The database file. Each consumer process opens its own connection to it, as separate
        processes would.
    history, faults:
        Where effects are recorded and which faults may fire.
    locate:
        Maps a business key to ``(position, message_id)`` for fault matching.
    now:
        The simulated clock's reading, stored with each effect.
    """

    def __init__(self, path: str | Path, history: "History", faults: "FaultPlan",
                 locate: Callable[[str], tuple[int | None, str | None]], now: Callable[[], float],
                 on_visibility_expired: Callable[[str, str], None] | None = None):
        self.path = str(path)
        self.history = history
        self.faults = faults
        self.locate = locate
        self.now = now
        self.on_visibility_expired = on_visibility_expired
        # The bench's own count of what was committed through its connections: a consumer that
        # opens the file itself (its path is no secret) could delete rows, but not this.
        self._committed: Counter = Counter()
        con = sqlite3.connect(self.path)
        try:
            con.execute("PRAGMA synchronous=OFF")
            con.executescript(SCHEMA)
        finally:
            con.close()

    def connect(self, actor: str = "consumer") -> "EffectDB":
        """Open a new connection for ``actor`` (a new process gets a new connection)."""
        return EffectDB(self, actor)

    def counts(self) -> Counter:
        """Committed effects per key: the database's rows, or the bench's own record where it saw more.

        Rows deleted behind the bench's back (another connection to the file) do not hide an
        effect the bench saw committed; an effect committed where the bench could not see it
        (a raw ``COMMIT``) is refused by the connection's guard.
        """
        con = sqlite3.connect(self.path)
        try:
            table = Counter(dict(con.execute("SELECT key, COUNT(*) FROM effects GROUP BY key")))
        finally:
            con.close()
        for key, n in self._committed.items():
            if n > table[key]:
                table[key] = n
        return table

    def rows(self) -> list[tuple]:
        """Every committed effect as ``(key, effect, detail, at)``, in insertion order."""
        con = sqlite3.connect(self.path)
        try:
            return list(con.execute("SELECT key, effect, detail, at FROM effects ORDER BY id"))
        finally:
            con.close()


class EffectDB:
    """A SQLite connection whose commit the bench owns.

    Use it like ``sqlite3.Connection``: ``execute``, ``commit``, ``rollback``, ``with db:``.
    :meth:`apply_effect` performs a business effect inside the current transaction.
    """

    def __init__(self, store: EffectStore, actor: str):
        self._store = store
        self.actor = actor
        # timeout=0: a second simulated process that meets a held write lock fails at once
        # instead of waiting five real seconds for a process that runs on the same thread.
        # check_same_thread=False: the bench's processes take turns, never run at once, but
        # Jupyter may deliver two clicks of the demo widget on two different threads.
        self._con = sqlite3.connect(store.path, timeout=0, check_same_thread=False)
        # The effects table is the bench's record of what happened: only apply_effect writes it.
        # SQLite asks this for every statement (and every trigger a statement fires), however
        # the SQL is spelled: a quoted name, a schema prefix, a script, a trigger.
        self._bench_writes = False
        self._con.set_authorizer(self._authorize)
        self._con.execute("PRAGMA synchronous=OFF")  # process death, not power loss, is modelled
        self._pending: list[tuple[str, str, str]] = []
        self._closed = False

    # -- the business effect ---------------------------------------------------------------------
    def apply_effect(self, key: str, effect: str = "charge", detail: str = "") -> None:
        """Perform the business effect for ``key`` inside the current (uncommitted) transaction."""
        if self._closed:
            raise LabError("This database connection is closed (its process crashed or stopped).")
        if not isinstance(key, str) or not key:
            raise LabError(f"An effect needs a non-empty string key, got {key!r}.")
        target = self._target(key)
        faults = self._store.faults
        faults.hit("before_effect", self.actor, [target])
        if faults.hit("handler_error", self.actor, [target]):
            raise EffectFailed(f"{effect} for {key} failed (injected transient error); nothing was done")
        if faults.hit("visibility_expires", self.actor, [target]) and self._store.on_visibility_expired:
            self._store.on_visibility_expired(key, self.actor)
        self._bench_writes = True
        try:
            self._con.execute(
                "INSERT INTO effects (key, effect, detail, at) VALUES (?, ?, ?, ?)",
                (key, effect, detail, self._store.now()),
            )
        finally:
            self._bench_writes = False
        self._pending.append((key, effect, detail))
        faults.hit("effect_uncommitted", self.actor, [target])

    def _target(self, key: str) -> tuple[int | None, str | None, str | None]:
        position, message_id = self._store.locate(key)
        return position, key, message_id

    # -- transactions the bench can fault --------------------------------------------------------
    def commit(self) -> None:
        """Commit; effects in the transaction are recorded, then ``effect_committed`` may fire."""
        if self._closed:
            raise LabError("This database connection is closed (its process crashed or stopped).")
        self._store.faults.check_alive(self.actor, "commit")
        self._bench_writes = True
        try:
            self._con.commit()
        finally:
            self._bench_writes = False
        committed, self._pending = self._pending, []
        for key, effect, detail in committed:
            self._store._committed[key] += 1
            position, message_id = self._store.locate(key)
            self._store.history.append(self.actor, "effect", message_id, key, effect=effect, detail=detail)
        for key, _, _ in committed:
            self._store.faults.hit("effect_committed", self.actor, [self._target(key)])

    def rollback(self) -> None:
        """Roll back; pending effects are thrown away (and recorded as such)."""
        if self._closed:
            return
        self._con.rollback()
        self._discard_pending()

    def _discard_pending(self) -> None:
        if self._pending:
            keys = [k for k, _, _ in self._pending]
            self._store.history.append(self.actor, "rollback", None, keys[0] if len(keys) == 1 else None,
                                      effects=keys)
        self._pending = []

    def crash(self) -> None:
        """Process death: close without committing, so an open transaction rolls back."""
        if self._closed:
            return
        try:
            self._con.rollback()
        finally:
            self._discard_pending()
            self._con.close()
            self._closed = True

    def close(self) -> None:
        """Close like ``sqlite3.Connection.close``: uncommitted work is lost."""
        self.crash()

    @property
    def closed(self) -> bool:
        """True once the connection was closed."""
        return self._closed

    def __enter__(self) -> "EffectDB":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        # Like sqlite3: commit on success, roll back on an exception. A Crash (process death)
        # must not commit either: the process is gone.
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
        return False

    # -- everything else is plain sqlite3 --------------------------------------------------------
    def execute(self, sql: str, parameters: Any = ()) -> "Cursor":
        """Run one SQL statement (see ``sqlite3.Connection.execute``)."""
        self._check_sql(sql)
        return Cursor(self._con.execute(sql, parameters))

    def executemany(self, sql: str, seq: Any) -> "Cursor":
        """Run one SQL statement for each parameter set."""
        self._check_sql(sql)
        return Cursor(self._con.executemany(sql, seq))

    def executescript(self, script: str) -> "Cursor":
        """Run a script; note sqlite3 commits any open transaction first."""
        self._check_sql(script)
        return Cursor(self._con.executescript(script))

    def _check_sql(self, sql: str) -> None:
        if self._closed:
            raise LabError("This database connection is closed (its process crashed or stopped).")
        self._store.faults.check_alive(self.actor, "database call")
        lowered = " ".join(sql.lower().split())
        # Effects are counted from this table: writing it by hand would fake the count.
        if any(w in lowered for w in ("into effects", "update effects", "from effects", "table effects")) \
                and not lowered.lstrip().startswith("select"):
            raise LabError("The effects table is the bench's record of what really happened: "
                           "use db.apply_effect(...) instead of writing it by hand.")

    @property
    def in_transaction(self) -> bool:
        """True while a transaction is open."""
        return self._con.in_transaction

    def _authorize(self, action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
        """SQLite's authorizer: no statement but the bench's own insert may change the effects table."""
        if self._bench_writes:
            return sqlite3.SQLITE_OK
        effects = "effects"
        if action in _TABLE_WRITES and (arg1 or "").lower() == effects:
            return sqlite3.SQLITE_DENY
        if action in _TABLE_SCHEMA and (arg2 or "").lower() == effects:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_ATTACH or (action == sqlite3.SQLITE_PRAGMA
                                                and (arg1 or "").lower() == "writable_schema"):
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_TRANSACTION and (arg1 or "").upper() in ("COMMIT", "END"):
            return sqlite3.SQLITE_DENY  # commit through db.commit() (or `with db:`): the bench records it
        return sqlite3.SQLITE_OK

    def cursor(self) -> "Cursor":
        """A cursor on this connection (see ``sqlite3.Connection.cursor``)."""
        return Cursor(self._con.cursor(), self)

    def __getattr__(self, name: str) -> Any:
        if name in _NOT_FORWARDED:
            raise LabError(f"db.{name} is not available to a consumer: the bench owns this database's "
                           "record of effects.")
        return getattr(self._con, name)


class Cursor:
    """A sqlite3 cursor without its ``connection`` (the raw connection could take the guard off)."""

    __slots__ = ("_cursor", "_db")

    def __init__(self, cursor: sqlite3.Cursor, db: "EffectDB | None" = None):
        self._cursor = cursor
        self._db = db

    def execute(self, sql: str, parameters: Any = ()) -> "Cursor":
        """Run one statement on this cursor, through the connection's checks."""
        if self._db is None:
            raise LabError("Run statements with db.execute(...).")
        self._db._check_sql(sql)
        self._cursor.execute(sql, parameters)
        return self

    @property
    def connection(self) -> Any:
        raise LabError("A consumer's cursor does not hand out its raw connection: use db.")

    def __iter__(self) -> Any:
        return iter(self._cursor)

    def __getattr__(self, name: str) -> Any:
        if name in ("executemany", "executescript"):
            raise LabError(f"Run statements with db.{name}(...).")
        return getattr(self._cursor, name)


# What the effects table's guard denies (see EffectDB._authorize), and the connection's methods that
# would take the guard off or replace the whole database.
_TABLE_WRITES = frozenset({sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE,
                           sqlite3.SQLITE_DROP_TABLE})
_TABLE_SCHEMA = frozenset({sqlite3.SQLITE_ALTER_TABLE, sqlite3.SQLITE_CREATE_TRIGGER,
                           sqlite3.SQLITE_CREATE_TEMP_TRIGGER})
_NOT_FORWARDED = frozenset({"set_authorizer", "set_progress_handler", "set_trace_callback",
                            "enable_load_extension", "load_extension", "deserialize", "backup", "blobopen",
                            "setlimit"})
