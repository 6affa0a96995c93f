"""Foreign keys around migrations: switch them off outside the transaction, check before commit.

SQLite ignores `PRAGMA foreign_keys` inside a transaction, so a migration that must run
with foreign keys off (a table rebuild: dropping a parent table with them on would
cascade-delete its children) has them switched off before BEGIN and restored after
COMMIT or ROLLBACK. Before committing, `PRAGMA foreign_key_check` must find no violation
that was not already there: legacy databases hold orphans that memvault keeps, so only
new violations fail the migration.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from memvault.db import Database
from memvault.errors import MigrationError

# (child table, rowid, parent table); rowid is None for WITHOUT ROWID tables.
Violation = tuple[str, int | None, str]

_SHOWN = 5


@contextmanager
def foreign_keys_for(
    db: Database, needs_them: bool, culprit: str, version: int | None = None
) -> Iterator[None]:
    """Run the block with foreign keys on (`needs_them`) or off, as a migration declares.

    For a migration declaring `foreign_keys = False` the pragma is switched off here,
    outside any transaction (inside one SQLite silently ignores it), and restored to its
    previous value afterwards, whether the block commits or rolls back.
    """
    if needs_them:
        yield
        return
    if not db.capabilities.pragmas:
        raise MigrationError(
            f"{culprit} needs foreign keys off, which {db.url.display} cannot give: "
            f"a {db.dialect.name} server keeps them on for every statement (PRAGMA "
            "foreign_keys = OFF does not last); run it on a local copy, or rewrite it so "
            "that it keeps every reference valid",
            version,
        )
    if db.in_transaction:
        raise MigrationError(
            f"{culprit}: cannot switch foreign keys off inside an open "
            "transaction (SQLite would silently ignore it)",
            version,
        )
    previous = bool(db.scalar("PRAGMA foreign_keys"))
    db.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        db.execute(f"PRAGMA foreign_keys = {'ON' if previous else 'OFF'}")


def foreign_keys_enabled(db: Database) -> bool:
    """Whether the connection enforces foreign keys right now."""
    return bool(db.scalar("PRAGMA foreign_keys"))


def foreign_key_violations(db: Database, tables: Iterable[str] | None = None) -> Counter[Violation]:
    """Every row breaking a foreign key (of `tables`, or of the whole database)."""
    found: Counter[Violation] = Counter()
    if tables is None:
        statements = ["PRAGMA foreign_key_check"]
    else:
        statements = [f"PRAGMA foreign_key_check({db.dialect.quote(t)})" for t in tables]
    for sql in statements:
        for row in db.query(sql):
            found[(str(row[0]), row[1], str(row[2]))] += 1
    return found


def check_no_new_violations(
    db: Database,
    before: Counter[Violation],
    culprit: str,
    *,
    tables: Iterable[str] | None = None,
) -> None:
    """Raise MigrationError when the database breaks a foreign key it did not break before.

    `before` is foreign_key_violations() of the same `tables` taken earlier in the
    transaction; rows that already broke a key then (legacy orphans) are kept and do not
    count.
    """
    after = foreign_key_violations(db, tables)
    new = after - before
    if not new:
        return
    shown = ", ".join(
        f"{table} rowid {rowid} -> {parent}"
        for table, rowid, parent in sorted(new, key=str)[:_SHOWN]
    )
    more = f" and {sum(new.values()) - _SHOWN} more" if sum(new.values()) > _SHOWN else ""
    hint = (
        " (rows that already broke a key before the migration are kept, not counted)"
        if before
        else ""
    )
    raise MigrationError(
        f"{culprit}: foreign key check failed, {sum(new.values())} row(s) would break a "
        f"foreign key: {shown}{more}{hint}"
    )


def referencing_tables(db: Database, table: str) -> list[str]:
    """Tables with a foreign key pointing at `table` (other than `table` itself)."""
    names = [
        str(r[0])
        for r in db.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    found = []
    for name in names:
        if name.lower() == table.lower():
            continue
        parents = db.query(
            'SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)',
            (name,),
        )
        if any(str(p[0]).lower() == table.lower() for p in parents):
            found.append(name)
    return found


def referenced_tables(db: Database, table: str) -> list[str]:
    """Tables that `table`'s foreign keys point at (other than `table` itself)."""
    rows = db.query('SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)', (table,))
    return [str(r[0]) for r in rows if str(r[0]).lower() != table.lower()]
