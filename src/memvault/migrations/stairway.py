"""The stairway test: every migration up, verify, down, compare, up again, on a scratch copy.

A down that forgets an index, a column or a trigger leaves the schema different from what
it was before the up; the stairway finds that difference and names the migration. It runs
on a temporary file (empty, or a read-only copy of a database) and never opens the user's
file for writing.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from memvault.db import Database, connect, driver
from memvault.errors import DatabaseError, MemvaultError, VerificationError
from memvault.migrations.executor import Migrator
from memvault.migrations.migration import Migration
from memvault.migrations.recorder import Recorder, is_engine_table

Phase = Literal["up", "verify", "down", "compare", "up again"]
Change = Literal["missing", "extra", "changed"]
StepListener = Callable[[Migration, str], None]
T = TypeVar("T")

_FTS5_SHADOWS = ("data", "idx", "docsize", "config", "content")


# -- the normalised schema ---------------------------------------------------------


@dataclass(frozen=True)
class TableShape:
    """What a table is made of, independent of formatting."""

    columns: tuple[tuple[str, str, int, str | None, int, int], ...]
    foreign_keys: tuple[tuple[str, str, str, str, str], ...]
    definition: str


@dataclass(frozen=True)
class Schema:
    """Tables, indexes, triggers and views of a database, normalised for comparison.

    memvault's own tables, SQLite's internal ones and FTS5 shadow tables are left out.
    """

    tables: dict[str, TableShape] = field(default_factory=dict)
    indexes: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # table, cols, sql
    triggers: dict[str, tuple[str, str]] = field(default_factory=dict)  # table, sql
    views: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SchemaDifference:
    """One way two schemas differ: `missing` was there before, `extra` is new."""

    kind: str
    name: str
    change: Change
    detail: str

    def describe(self) -> str:
        return f"{self.kind} {self.name}: {self.detail}"


def normalise_sql(sql: str) -> str:
    """SQL text with runs of whitespace collapsed and none around brackets and commas."""
    text = re.sub(r"\s+", " ", sql.strip().rstrip(";").strip())
    return re.sub(r"\s*([(),])\s*", r"\1", text)


def _table_definition(sql: str) -> str:
    """The part of a CREATE TABLE after the name (a rename quotes the name)."""
    text = normalise_sql(sql)
    head = re.match(r'CREATE TABLE\s+(?:"(?:[^"]|"")+"|\[[^\]]+\]|`[^`]+`|\S+?)\s*\(', text, re.I)
    return text[head.end() - 1 :] if head else text


def read_schema(db: Database) -> Schema:
    """The normalised schema of `db`."""
    rows = db.query(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    )
    fts = {
        str(r[1]) for r in rows if r[0] == "table" and re.search(r"USING\s+fts5", r[3] or "", re.I)
    }
    shadows = {f"{v}_{s}" for v in fts for s in _FTS5_SHADOWS}
    schema = Schema()
    for kind, name, table, sql in rows:
        name, table, sql = str(name), str(table), str(sql or "")
        if is_engine_table(table) or name in shadows:
            continue
        if kind == "table":
            schema.tables[name] = _table_shape(db, name, sql)
        elif kind == "index":
            schema.indexes[name] = (table, _index_columns(db, name), normalise_sql(sql))
        elif kind == "trigger":
            schema.triggers[name] = (table, normalise_sql(sql))
        elif kind == "view":
            schema.views[name] = normalise_sql(sql)
    return schema


def _table_shape(db: Database, name: str, sql: str) -> TableShape:
    columns = tuple(
        (str(r[0]), str(r[1]).upper(), int(r[2]), r[3], int(r[4]), int(r[5]))
        for r in db.query(
            'SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?)',
            (name,),
        )
    )
    keys = tuple(
        (str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]))
        for r in db.query(
            'SELECT "table", "from", coalesce("to", \'\'), on_update, on_delete '
            "FROM pragma_foreign_key_list(?) ORDER BY id, seq",
            (name,),
        )
    )
    return TableShape(columns, keys, _table_definition(sql))


def _index_columns(db: Database, index: str) -> str:
    parts = []
    for name, desc in db.query(
        "SELECT name, desc FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno", (index,)
    ):
        parts.append(("<expression>" if name is None else str(name)) + (" DESC" if desc else ""))
    return ", ".join(parts)


def compare_schemas(before: Schema, after: Schema) -> list[SchemaDifference]:
    """What `after` lacks, adds or changes compared with `before`."""
    diffs: list[SchemaDifference] = []
    diffs += _compare_named("table", before.tables, after.tables, _describe_table, _table_change)
    diffs += _compare_named(
        "index",
        before.indexes,
        after.indexes,
        lambda v: f"on {v[0]}({v[1]})",
        lambda a, b: f"was on {a[0]}({a[1]}), now on {b[0]}({b[1]})" if a != b else None,
    )
    diffs += _compare_named(
        "trigger",
        before.triggers,
        after.triggers,
        lambda v: f"on {v[0]}",
        lambda a, b: f"definition changed: was {a[1]!r}, now {b[1]!r}" if a != b else None,
    )
    diffs += _compare_named(
        "view",
        before.views,
        after.views,
        lambda v: "",
        lambda a, b: f"definition changed: was {a!r}, now {b!r}" if a != b else None,
    )
    return diffs


def _compare_named(
    kind: str,
    before: dict[str, T],
    after: dict[str, T],
    describe: Callable[[T], str],
    change: Callable[[T, T], str | None],
) -> list[SchemaDifference]:
    diffs = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            what = f"{describe(before[name])} was there before, and is missing".strip()
            diffs.append(SchemaDifference(kind, name, "missing", what))
        elif name not in before:
            what = f"{describe(after[name])} is left over (it was not there before)".strip()
            diffs.append(SchemaDifference(kind, name, "extra", what))
        else:
            detail = change(before[name], after[name])
            if detail is not None:
                diffs.append(SchemaDifference(kind, name, "changed", detail))
    return diffs


def _describe_table(shape: TableShape) -> str:
    return "(" + ", ".join(c[0] for c in shape.columns) + ")"


def _table_change(a: TableShape, b: TableShape) -> str | None:
    old = {c[0]: c for c in a.columns}
    new = {c[0]: c for c in b.columns}
    parts = []
    missing = [n for n in old if n not in new]
    extra = [n for n in new if n not in old]
    if missing:
        parts.append("missing column(s) " + ", ".join(f"{n} {old[n][1]}".strip() for n in missing))
    if extra:
        parts.append("extra column(s) " + ", ".join(f"{n} {new[n][1]}".strip() for n in extra))
    for name in (n for n in old if n in new and old[n] != new[n]):
        parts.append(f"column {name} was {_column_text(old[name])}, now {_column_text(new[name])}")
    if not parts and [c[0] for c in a.columns] != [c[0] for c in b.columns]:
        parts.append("column order changed")
    if a.foreign_keys != b.foreign_keys:
        parts.append(f"foreign keys were {list(a.foreign_keys)}, now {list(b.foreign_keys)}")
    if not parts and a.definition != b.definition:
        parts.append(f"definition changed: was {a.definition!r}, now {b.definition!r}")
    return "; ".join(parts) or None


def _column_text(column: tuple[str, str, int, str | None, int, int]) -> str:
    _name, type_, notnull, default, pk, _hidden = column
    text = type_ or "(no type)"
    if notnull:
        text += " NOT NULL"
    if default is not None:
        text += f" DEFAULT {default}"
    if pk:
        text += " PRIMARY KEY"
    return text


# -- the stairway ------------------------------------------------------------------


@dataclass
class StairwayStep:
    """How one migration fared: ok, or the phase that failed and why."""

    migration: Migration
    ok: bool = True
    phase: Phase | None = None
    problem: str | None = None
    differences: list[SchemaDifference] = field(default_factory=list)

    def describe(self) -> str:
        if self.ok:
            return f"{self.migration.label}: ok"
        return f"{self.migration.label} failed at {self.phase}: {self.problem}"


@dataclass
class StairwayReport:
    """The outcome: each tested migration, those skipped (already applied on the copy)
    and those not reached because an earlier one failed."""

    source: str
    steps: list[StairwayStep] = field(default_factory=list)
    already_applied: list[Migration] = field(default_factory=list)
    not_reached: list[Migration] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def failure(self) -> StairwayStep | None:
        return next((s for s in self.steps if not s.ok), None)


def run_stairway(
    migrations: Sequence[Migration],
    *,
    source: Path | None = None,
    applied_by: str = "memvault migrate test",
    on_step: StepListener | None = None,
) -> StairwayReport:
    """Walk every pending migration up, verify, down, compare, up again on a scratch file.

    `source` None starts from an empty database; otherwise the scratch file is a copy of
    `source` (read through a read-only connection) and the migrations it has applied are
    left alone. Stops at the first failing migration.
    """
    with tempfile.TemporaryDirectory(prefix="memvault-stairway-") as folder:
        scratch = Path(folder) / "scratch.db"
        if source is not None:
            copy_database(source, scratch)
        report = StairwayReport(
            source="an empty database" if source is None else f"a copy of {source}"
        )
        with connect(str(scratch)) as db:
            migrator = Migrator(db, migrations, applied_by=applied_by)
            migrator.adopt()
            applied = Recorder(db).applied_versions()
            pending = [m for m in migrations if m.version not in applied]
            report.already_applied = [m for m in migrations if m.version in applied]
            for index, migration in enumerate(pending):
                step = _climb(migrator, migration, on_step)
                report.steps.append(step)
                if not step.ok:
                    report.not_reached = pending[index + 1 :]
                    break
        return report


def _climb(migrator: Migrator, m: Migration, on_step: StepListener | None) -> StairwayStep:
    step = StairwayStep(m, phase="up")
    notify = on_step or (lambda migration, phase: None)
    db = migrator.db
    before = read_schema(db)
    try:
        notify(m, "up")
        migrator.up(m.version)
        after_up = read_schema(db)
        notify(m, "down")
        step.phase = "down"
        migrator.down(1)
        step.phase = "compare"
        step.differences = compare_schemas(before, read_schema(db))
        if step.differences:
            return _fail(step, "compare", "down did not restore the schema: " + _join(step))
        notify(m, "up again")
        step.phase = "up again"
        migrator.up(m.version)
        step.differences = compare_schemas(after_up, read_schema(db))
        if step.differences:
            return _fail(step, "up again", "the second up made a different schema: " + _join(step))
    except (MemvaultError, driver.Error) as exc:
        phase: Phase = step.phase or "up"
        if phase == "up" and isinstance(exc.__cause__, VerificationError):
            phase = "verify"
        return _fail(step, phase, str(exc))
    step.phase = None
    return step


def _fail(step: StairwayStep, phase: Phase, problem: str) -> StairwayStep:
    step.ok, step.phase, step.problem = False, phase, problem
    return step


def _join(step: StairwayStep) -> str:
    return "; ".join(d.describe() for d in step.differences)


def copy_database(source: Path, target: Path) -> None:
    """Copy a database file through a read-only connection (the source is not changed)."""
    if not source.exists():
        raise DatabaseError(f"database {source} does not exist")
    try:
        src = driver.open_sqlite(source.resolve().as_uri() + "?mode=ro", uri=True)
        dst = driver.open_sqlite(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    except driver.DatabaseError as exc:
        raise DatabaseError(f"{source}: cannot copy ({exc})") from exc
