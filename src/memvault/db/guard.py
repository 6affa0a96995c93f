"""Ask SQLite what a statement does, through its authorizer, instead of reading the text.

The authorizer (`Connection.set_authorizer`) is called while SQLite compiles a statement,
for every action the statement compiles to, whatever its comments, case or spelling. A
`TransactionGuard` installed on a connection denies the actions that would end, nest or
escape the transaction memvault opened (BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT, RELEASE,
ATTACH, DETACH, and the PRAGMAs that change the connection or the file's format), so the
statement fails before it runs, and remembers what it denied so the error can say why.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

# PRAGMAs that, given a value, change the connection or the file outside the transaction
# (or are ignored inside it, silently doing something other than what was written).
SETTING_PRAGMAS = frozenset(
    {
        "auto_vacuum",
        "busy_timeout",
        "cache_spill",
        "cell_size_check",
        "foreign_keys",
        "ignore_check_constraints",
        "incremental_vacuum",
        "journal_mode",
        "journal_size_limit",
        "locking_mode",
        "mmap_size",
        "page_size",
        "query_only",
        "schema_version",
        "secure_delete",
        "synchronous",
        "temp_store",
        "trusted_schema",
        "wal_autocheckpoint",
        "wal_checkpoint",
        "writable_schema",
    }
)
# PRAGMAs refused even as a read: they act rather than report.
ACTING_PRAGMAS = frozenset({"wal_checkpoint", "incremental_vacuum", "optimize", "shrink_memory"})


@dataclass(frozen=True)
class Denial:
    """One action the guard refused: what SQLite said the statement does."""

    what: str
    hint: str = ""


def _describe(action: int, arg1: str | None, arg2: str | None) -> Denial | None:
    """The denial for one authorizer call, or None when the action is allowed."""
    if action == sqlite3.SQLITE_TRANSACTION:
        return Denial(f"{arg1} (a transaction statement)")
    if action == sqlite3.SQLITE_SAVEPOINT:
        return Denial(f"{arg1} savepoint {arg2}".replace("BEGIN savepoint", "SAVEPOINT"))
    if action == sqlite3.SQLITE_ATTACH:
        return Denial(f"ATTACH {arg1!r}")
    if action == sqlite3.SQLITE_DETACH:
        return Denial(f"DETACH {arg1}")
    if action == sqlite3.SQLITE_PRAGMA and arg1 is not None:
        name = arg1.lower()
        if name in ACTING_PRAGMAS or (name in SETTING_PRAGMAS and arg2 is not None):
            hint = ""
            if name == "foreign_keys":
                hint = (
                    " (to run with foreign keys off, put `foreign_keys = False` in the file, "
                    "or `-- foreign_keys: off` in a .sql file)"
                )
            shown = f"PRAGMA {name}" + (f" = {arg2}" if arg2 is not None else "")
            return Denial(shown, hint)
    return None


@dataclass
class TransactionGuard:
    """An authorizer that denies leaving the current transaction, and keeps what it denied."""

    denials: list[Denial] = field(default_factory=list)  # every denial, kept
    _pending: list[Denial] = field(default_factory=list)  # not yet turned into an error

    def __call__(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        _db: str | None,
        _trigger: str | None,
    ) -> int:
        denial = _describe(action, arg1, arg2)
        if denial is None:
            return sqlite3.SQLITE_OK
        self.denials.append(denial)
        self._pending.append(denial)
        return sqlite3.SQLITE_DENY

    def take(self) -> Denial | None:
        """The first denial not yet reported as an error (for the statement that just failed)."""
        first = self._pending[0] if self._pending else None
        self._pending.clear()
        return first

    @property
    def first(self) -> Denial | None:
        """The first denial while the guard was installed, reported or not."""
        return self.denials[0] if self.denials else None


class _Recorder:
    """An authorizer that records every action and denies them all: compile, never run."""

    def __init__(self) -> None:
        self.actions: list[tuple[int, str | None, str | None]] = []

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, _db: object, _t: object
    ) -> int:
        self.actions.append((action, arg1, arg2))
        return sqlite3.SQLITE_DENY


def is_empty_statement(sql: str) -> bool:
    """True when `sql` compiles to nothing at all (only comments, whitespace, semicolons).

    SQLite compiles it on a private in-memory connection whose authorizer denies
    everything, so nothing runs; a statement that does anything calls the authorizer at
    least once, or fails to compile (an unknown table here), and is not empty.
    """
    conn = sqlite3.connect(":memory:")
    recorder = _Recorder()
    conn.set_authorizer(recorder)
    try:
        conn.execute(sql)
    except (sqlite3.Error, sqlite3.Warning):
        return False
    finally:
        conn.close()
    return not recorder.actions
