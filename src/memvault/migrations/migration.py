"""The unit of change: a Migration, and the MigrationContext its code runs against."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from memvault.db import Database, Dialect, driver
from memvault.errors import MigrationError, StatementRefusedError

if TYPE_CHECKING:
    from memvault.migrations.rebuild import RebuildResult

Direction = Literal["up", "down"]
StatementListener = Callable[[str, Sequence[Any]], None]
MigrationFunc = Callable[["MigrationContext"], Any]


class MigrationContext:
    """What a migration's up, down and verify functions receive.

    Every statement runs inside the migration's single transaction; nothing here
    commits: the executor runs the migration under SQLite's authorizer (Database.guarded),
    which refuses any statement that would end, nest or escape that transaction, and each
    method here turns such a refusal into a MigrationError naming the file and statement.
    Statements are reported to the listener (dry-run prints them).
    """

    def __init__(
        self,
        db: Database,
        migration: Migration,
        listener: StatementListener | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.db = db
        self.migration = migration
        self._listener = listener
        self._progress = progress

    @property
    def dialect(self) -> Dialect:
        """The database's dialect (capability flags and SQL templates)."""
        return self.db.dialect

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> driver.Cursor:
        """Run one statement inside the migration's transaction and return the cursor."""
        if self._listener is not None:
            self._listener(sql, params if isinstance(params, Sequence) else [params])
        with self._refusals():
            return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> driver.Cursor:
        """Run one statement for many parameter rows (reported once)."""
        if self._listener is not None:
            self._listener(sql, ["<many rows>"])
        with self._refusals():
            return self.db.executemany(sql, rows)

    def executescript(self, script: str) -> None:
        """Run several statements, split where SQLite says each is complete (unlike
        sqlite3's executescript, this never commits first)."""
        from memvault.migrations.sqlfile import split_statements

        for statement in split_statements(script):
            self.execute(statement)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[driver.Row]:
        """Run a read-only query and return its rows (not reported as a change)."""
        with self._refusals():
            return self.db.query(sql, params)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of a query, or None."""
        with self._refusals():
            return self.db.scalar(sql, params)

    def table_exists(self, name: str) -> bool:
        return self.db.table_exists(name)

    def index_exists(self, name: str) -> bool:
        return self.db.index_exists(name)

    def trigger_exists(self, name: str) -> bool:
        return self.db.trigger_exists(name)

    def column_exists(self, table: str, column: str) -> bool:
        return self.db.column_exists(table, column)

    def columns(self, table: str) -> list[str]:
        return self.db.columns(table)

    def row_count(self, table: str) -> int:
        return self.db.row_count(table)

    @property
    def culprit(self) -> str:
        """The migration's file name, for errors about what it asked for."""
        return self.migration.filename

    def rebuild_table(
        self,
        table: str,
        create_sql: str,
        *,
        columns: Mapping[str, str] | None = None,
    ) -> RebuildResult:
        """Rebuild `table` as `create_sql` (SQLite's 12-step procedure), keeping its rows,
        rowids, AUTOINCREMENT counter, indexes, triggers, views and full-text index.

        `columns` maps a new column to an SQL expression over the old columns; other new
        columns are copied from the old column of the same name. See
        memvault.migrations.rebuild.rebuild_table.
        """
        from memvault.migrations.rebuild import rebuild_table  # only migrations that rebuild

        return rebuild_table(self, table, create_sql, columns=columns)

    def progress(self, done: int, total: int) -> None:
        """Report progress of a long data migration (shown as a progress bar)."""
        if self._progress is not None:
            self._progress(done, total)

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        """Turn the authorizer's refusal of a statement into a MigrationError naming the file."""
        try:
            yield
        except StatementRefusedError as exc:
            raise refused(self.migration, exc) from exc


def refused(migration: Migration, exc: StatementRefusedError) -> MigrationError:
    """The MigrationError for a statement the transaction guard refused."""
    return MigrationError(f"{migration.filename}: {exc}", migration.version)


@dataclass
class Migration:
    """One numbered migration file, loaded: its version, name, code and checksum."""

    version: int
    name: str
    path: Path
    checksum: str
    description: str
    up_func: MigrationFunc
    down_func: MigrationFunc
    verify_func: MigrationFunc | None = None
    kind: Literal["python", "sql"] = "python"
    statements: dict[str, list[str]] = field(default_factory=dict)
    # False: the executor turns foreign keys off around this migration's transaction
    # (table rebuilds), and checks them before committing.
    foreign_keys: bool = True
    # Earlier versions whose verify no longer holds once this one is applied (it drops or
    # changes what they created); `migrate verify` does not re-run theirs.
    supersedes: tuple[int, ...] = ()

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return f"{self.version:03d}_{self.name}"

    def run(self, direction: Direction, ctx: MigrationContext) -> None:
        (self.up_func if direction == "up" else self.down_func)(ctx)

    def check(self, ctx: MigrationContext) -> str | None:
        """Run verify: None when it passes, else a message saying what failed."""
        if self.verify_func is None:
            return None
        try:
            result = self.verify_func(ctx)
        except Exception as exc:  # verify fails by raising, too
            return f"verify raised {type(exc).__name__}: {exc}"
        if result is None or result is True:
            return None
        if result is False:
            return "verify returned False"
        if isinstance(result, str):
            return result or "verify returned an empty message"
        return f"verify returned {result!r} (expected True, None, False or a message)"
