"""`db stats`: how big the database is, where the bytes are, and how migrations have gone.

Reading changes nothing. Recording a size sample (so growth can be shown over time) writes
one row into memvault's own table `memvault_size_samples`, never into user tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from memvault.db import Database, driver
from memvault.errors import DatabaseError
from memvault.migrations import Recorder
from memvault.ops.inventory import SchemaInventory, take_inventory
from memvault.ops.maintain import SpaceSnapshot, space_snapshot
from memvault.ops.measure import percentile
from memvault.timestamps import now_iso

SAMPLES_TABLE = "memvault_size_samples"
SAMPLES_DDL = f"""
CREATE TABLE IF NOT EXISTS {SAMPLES_TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    file_bytes INTEGER,
    wal_bytes INTEGER,
    page_size INTEGER NOT NULL,
    page_count INTEGER NOT NULL,
    freelist_count INTEGER NOT NULL,
    rows_json TEXT NOT NULL
)"""


@dataclass(frozen=True)
class ObjectStats:
    """One table or index: its rows (entries for an index) and the bytes its pages take."""

    name: str
    kind: str  # "table", "index", "fts5" (virtual), "shadow" (FTS5 storage), "memvault"
    table: str
    rows: int | None
    pages: int | None
    bytes: int | None


@dataclass(frozen=True)
class MigrationMetrics:
    """Figures from schema_migrations_history."""

    applies: int
    failures: int
    rollbacks: int
    rollback_failures: int
    adoptions: int
    repairs: int
    success_rate: float | None  # applies / (applies + failures)
    mean_apply_ms: float | None
    p95_apply_ms: float | None


@dataclass(frozen=True)
class SizeSample:
    """The database's size at one moment, as recorded by `db stats`."""

    at: str
    file_bytes: int | None
    wal_bytes: int | None
    page_size: int
    page_count: int
    freelist_count: int
    rows: dict[str, int]


@dataclass(frozen=True)
class DatabaseStats:
    """Everything `db stats` reports."""

    space: SpaceSnapshot
    journal_mode: str
    auto_vacuum: int
    dbstat_available: bool
    objects: list[ObjectStats]
    migrations: MigrationMetrics
    samples: list[SizeSample] = field(default_factory=list)
    api_costs: list[ApiCost] = field(default_factory=list)


@dataclass(frozen=True)
class ApiCost:
    """Recorded API usage of all users for one provider and model (api_usage_tracking)."""

    api_provider: str
    model: str
    requests: int
    tokens_used: int
    cost_usd: float


API_COSTS_SQL = (
    "SELECT api_provider, model, count(*), COALESCE(sum(tokens_used), 0), "
    "COALESCE(sum(cost_usd), 0.0) FROM api_usage_tracking "
    "GROUP BY api_provider, model ORDER BY api_provider, model"
)


def api_costs(db: Database) -> list[ApiCost]:
    """What the embedding and model calls recorded in api_usage_tracking cost, in total."""
    if not db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'api_usage_tracking'"):
        return []
    return [ApiCost(str(r[0]), str(r[1]), int(r[2]), int(r[3]), float(r[4]))
            for r in db.query(API_COSTS_SQL)]  # fmt: skip


def collect_stats(db: Database, *, use_dbstat: bool = True) -> DatabaseStats:
    """Measure the database without changing it. `use_dbstat=False` forces the fallback
    (row counts only) that also runs when SQLite was built without the dbstat table."""
    inventory = take_inventory(db)
    sizes = _dbstat_sizes(db) if use_dbstat else None
    return DatabaseStats(
        space=space_snapshot(db),
        journal_mode=str(db.scalar("PRAGMA journal_mode")),
        auto_vacuum=int(db.scalar("PRAGMA auto_vacuum")),
        dbstat_available=sizes is not None,
        objects=_object_stats(db, inventory, sizes),
        migrations=migration_metrics(db),
        samples=read_samples(db),
        api_costs=api_costs(db),
    )


def _dbstat_sizes(db: Database) -> dict[str, tuple[int, int, int]] | None:
    """name -> (pages, bytes, b-tree cells) from dbstat, or None when it is unavailable."""
    try:
        rows = db.query(
            "SELECT name, count(*), sum(pgsize), "
            "sum(CASE WHEN pagetype IN ('internal', 'leaf') THEN ncell ELSE 0 END) "
            "FROM dbstat GROUP BY name"
        )
    except driver.OperationalError:
        return None
    return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def _object_stats(
    db: Database,
    inventory: SchemaInventory,
    sizes: dict[str, tuple[int, int, int]] | None,
) -> list[ObjectStats]:
    kinds = {t: "table" for t in inventory.user_tables}
    kinds |= {t: "fts5" for t in inventory.fts5_tables}
    kinds |= {t: "shadow" for t in inventory.shadow_tables}
    kinds |= {t: "memvault" for t in inventory.memvault_tables}
    result: list[ObjectStats] = []
    for name, kind in sorted(kinds.items()):
        # An external-content FTS5 table counts its content table's rows: its own size
        # is in its shadow tables, listed separately.
        rows = None if kind == "fts5" else db.row_count(name)
        pages, size = (sizes[name][0], sizes[name][1]) if sizes and name in sizes else (None, None)
        if sizes is not None and kind != "fts5" and pages is None:
            pages, size = 0, 0  # WITHOUT ROWID or empty: no pages of its own
        result.append(ObjectStats(name, kind, name, rows, pages, size))
    for index_name, table in _indexes(db):
        entry = sizes.get(index_name) if sizes else None
        result.append(
            ObjectStats(
                index_name,
                "index",
                table,
                entry[2] if entry else None,
                entry[0] if entry else None,
                entry[1] if entry else None,
            )
        )
    return result


def _indexes(db: Database) -> list[tuple[str, str]]:
    """Every index with a b-tree of its own (automatic ones included), with its table."""
    rows = db.query(
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' ORDER BY tbl_name, name"
    )
    return [(r[0], r[1]) for r in rows]


def migration_metrics(db: Database) -> MigrationMetrics:
    """Success rate, mean and p95 apply duration, rollbacks and adoptions from the history."""
    history = Recorder(db).history()
    count = {a: sum(1 for h in history if h.action == a) for a in _ACTIONS}
    durations = [
        float(h.duration_ms) for h in history if h.action == "apply" and h.duration_ms is not None
    ]
    attempts = count["apply"] + count["fail"]
    return MigrationMetrics(
        applies=count["apply"],
        failures=count["fail"],
        rollbacks=count["rollback"],
        rollback_failures=count["rollback_fail"],
        adoptions=count["adopt"],
        repairs=count["repair"],
        success_rate=count["apply"] / attempts if attempts else None,
        mean_apply_ms=sum(durations) / len(durations) if durations else None,
        p95_apply_ms=percentile(durations, 95) if durations else None,
    )


_ACTIONS = ("apply", "fail", "rollback", "rollback_fail", "adopt", "repair")


def read_samples(db: Database) -> list[SizeSample]:
    """Every size sample recorded so far, oldest first (none when the table is missing)."""
    if not db.table_exists(SAMPLES_TABLE):
        return []
    rows = db.query(
        f"SELECT at, file_bytes, wal_bytes, page_size, page_count, freelist_count, rows_json "
        f"FROM {SAMPLES_TABLE} ORDER BY id"
    )
    return [
        SizeSample(
            at=r[0],
            file_bytes=r[1],
            wal_bytes=r[2],
            page_size=r[3],
            page_count=r[4],
            freelist_count=r[5],
            rows=_parse_rows(r[6]),
        )
        for r in rows
    ]


def _parse_rows(text: str) -> dict[str, int]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}


def record_sample(db: Database, stats: DatabaseStats) -> SizeSample:
    """Append this measurement to memvault_size_samples (created when missing)."""
    space = stats.space
    sample = SizeSample(
        at=now_iso(),
        file_bytes=space.file_bytes,
        wal_bytes=space.wal_bytes,
        page_size=space.page_size,
        page_count=space.page_count,
        freelist_count=space.freelist_count,
        rows={o.name: o.rows for o in stats.objects if o.kind == "table" and o.rows is not None},
    )
    try:
        with db.atomic():
            db.execute(SAMPLES_DDL)
            db.execute(
                f"INSERT INTO {SAMPLES_TABLE} (at, file_bytes, wal_bytes, page_size, page_count, "
                "freelist_count, rows_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    sample.at,
                    sample.file_bytes,
                    sample.wal_bytes,
                    sample.page_size,
                    sample.page_count,
                    sample.freelist_count,
                    json.dumps(sample.rows, sort_keys=True),
                ),
            )
    except driver.OperationalError as exc:
        raise DatabaseError(
            f"cannot record a size sample in {db.url.display} ({exc}); use --no-record to only read"
        ) from exc
    return sample


def measure(db: Database, *, record: bool = True, use_dbstat: bool = True) -> DatabaseStats:
    """Collect the statistics and, unless `record` is False, append a size sample."""
    stats = collect_stats(db, use_dbstat=use_dbstat)
    if not record:
        return stats
    sample = record_sample(db, stats)
    return replace(stats, samples=[*stats.samples, sample])


@dataclass(frozen=True)
class Growth:
    """Change between the first and the last size sample."""

    first: SizeSample
    last: SizeSample
    file_bytes_delta: int | None
    page_count_delta: int
    rows_delta: dict[str, int]


def growth(samples: list[SizeSample]) -> Growth | None:
    """First-to-last change, or None with fewer than two samples."""
    if len(samples) < 2:
        return None
    first, last = samples[0], samples[-1]
    file_delta = (
        None
        if first.file_bytes is None or last.file_bytes is None
        else last.file_bytes - first.file_bytes
    )
    tables = sorted(set(first.rows) | set(last.rows))
    return Growth(
        first,
        last,
        file_delta,
        last.page_count - first.page_count,
        {t: last.rows.get(t, 0) - first.rows.get(t, 0) for t in tables},
    )


def stats_as_dict(stats: DatabaseStats) -> dict[str, Any]:
    """A JSON-ready view of the statistics, growth included."""
    g = growth(stats.samples)
    return {
        "space": vars(stats.space),
        "journal_mode": stats.journal_mode,
        "auto_vacuum": stats.auto_vacuum,
        "dbstat_available": stats.dbstat_available,
        "objects": [vars(o) for o in stats.objects],
        "migrations": vars(stats.migrations),
        "samples": [vars(s) for s in stats.samples],
        "api_costs": [vars(c) for c in stats.api_costs],
        "growth": None
        if g is None
        else {
            "from": g.first.at,
            "to": g.last.at,
            "samples": len(stats.samples),
            "file_bytes_delta": g.file_bytes_delta,
            "page_count_delta": g.page_count_delta,
            "rows_delta": g.rows_delta,
        },
    }
