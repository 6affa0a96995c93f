"""Measure migrations 003 (float32 embeddings) and 004 (partial index) on a v1.3.5-shaped file.

    memvault bench migrations [--users 5] [--memories-per-user 1000]
        [--dim 1536] [--repeat 300] [--rounds 3] [--speed-only] [--workdir DIR]

Prints, all measured in this run:
- 003's speed: 003 as shipped against the plain json.loads conversion on identical copies
  of a clean v1.3.5-shaped file at version 2, alternated, best and median of --rounds,
  rows/s, ratios, peak RSS, and the phases of the IO (memvault.ops.bench_003);
- 003: file size after VACUUM before/after, duration of up and down, FTS shadow-table size
  and duration when every embedding is rewritten with the legacy (every-UPDATE) FTS trigger
  versus the narrowed one 003 installs;
- 004: EXPLAIN QUERY PLAN and median latency of the store's listing/search queries at version 3
  and at version 4 (two files, timed alternately), and their ratio.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect, driver
from memvault.migrations import Migrator, load_migrations
from memvault.migrations.migration import MigrationContext
from memvault.ops import bench_003 as speed_003
from memvault.ops.measure import time_interleaved
from memvault.testing import LegacyShape, build_legacy_database


def by_user(user_id: str) -> tuple[Any, ...]:
    """Parameters of a query scoped to one user."""
    return (user_id,)


QUERIES: dict[str, tuple[str, Callable[[str], tuple[Any, ...]]]] = {
    "memories.list (active, created_at DESC)": (
        "SELECT * FROM memories WHERE user_id = ? AND is_archived = 0 "
        "ORDER BY created_at DESC LIMIT 50 OFFSET 0",
        by_user,
    ),
    "memories by type (active, created_at DESC)": (
        "SELECT * FROM memories WHERE user_id = ? AND memory_type = 'technical' "
        "AND is_archived = 0 ORDER BY created_at DESC LIMIT 50",
        by_user,
    ),
    "memories by updated_at (active)": (
        "SELECT * FROM memories WHERE user_id = ? AND is_archived = 0 "
        "ORDER BY updated_at DESC LIMIT 50",
        by_user,
    ),
    "memories.similar_candidates": (
        "SELECT id, embedding FROM memories WHERE user_id = ? AND is_archived = 0 "
        "AND embedding IS NOT NULL",
        by_user,
    ),
    "memories.search (FTS, active)": (
        "SELECT m.*, -bm25(memories_fts, 3.0, 1.0, 2.0) AS score FROM memories_fts "
        "JOIN memories AS m ON m.id = memories_fts.rowid WHERE memories_fts MATCH 'coffee' "
        "AND m.user_id = ? AND m.is_archived = 0 ORDER BY bm25(memories_fts, 3.0, 1.0, 2.0) "
        "LIMIT 20",
        by_user,
    ),
    "entities.list (created_at DESC)": (
        "SELECT * FROM entities WHERE user_id = ? ORDER BY created_at DESC LIMIT 50 OFFSET 0",
        by_user,
    ),
}


def vacuumed_size(path: Path, workdir: Path) -> int:
    """Size of a VACUUM INTO copy: the file as small as SQLite can make it."""
    target = workdir / f"{path.stem}.vacuumed"
    target.unlink(missing_ok=True)
    conn = driver.open_sqlite(path)
    try:
        conn.execute("VACUUM INTO ?", (str(target),))
    finally:
        conn.close()
    size = target.stat().st_size
    target.unlink()
    return size


def fts_bytes(path: Path) -> int:
    conn = driver.open_sqlite(path)
    try:
        return int(
            conn.execute(
                "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'memories_fts%'"
            ).fetchone()[0]
        )
    finally:
        conn.close()


def migrate(path: Path, target: int) -> float:
    """Move `path` to version `target`; seconds taken by the steps."""
    db = connect(str(path))
    try:
        migrator = Migrator(db, load_migrations(BUILTIN_MIGRATIONS), applied_by="bench")
        started = time.perf_counter()
        migrator.to(target)
        return time.perf_counter() - started
    finally:
        db.close()


def convert_directly(path: Path, *, narrow_triggers: bool) -> float:
    """Run 003's up outside the executor, or only its conversion loop with the FTS trigger left
    as it was (every UPDATE reindexes the row): the cost 003 avoids by narrowing first.
    Committed, so the resulting size can be measured."""
    migration = next(m for m in load_migrations(BUILTIN_MIGRATIONS) if m.version == 3)
    module: dict[str, Any] = migration.up_func.__globals__
    db = connect(str(path))
    try:
        started = time.perf_counter()
        with db.atomic():
            ctx = MigrationContext(db, migration)
            if narrow_triggers:
                module["up"](ctx)
            else:
                ctx.execute(module["QUARANTINE_DDL"])
                module["_convert_texts"](ctx)
        return time.perf_counter() - started
    finally:
        db.close()


def interleaved_ms(
    conns: tuple[driver.SQLiteConnection, driver.SQLiteConnection],
    sql: str,
    params: Callable[[str], tuple[Any, ...]],
    users: list[str],
    repeat: int,
) -> tuple[float, float]:
    """Median milliseconds of one query on two files, timed in interleaved rounds (the
    shared ops.measure timer) so that load from other processes falls on both alike."""
    for conn in conns:
        for uid in users:  # warm the page cache
            conn.execute(sql, params(uid)).fetchall()

    def call(conn: driver.SQLiteConnection) -> Callable[[], Any]:
        turn = itertools.count()
        return lambda: conn.execute(sql, params(users[next(turn) % len(users)])).fetchall()

    first, second = time_interleaved([call(c) for c in conns], repeat=repeat, warmup=0)
    return first.p50_ms, second.p50_ms


def query_plan(conn: driver.SQLiteConnection, sql: str, params: tuple[Any, ...]) -> list[str]:
    return [str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def trigger_cost(path: Path) -> tuple[float, float]:
    """Seconds to UPDATE a column FTS does not index on every memory, with the legacy
    trigger and with 003's narrowed one (best of three each, alternating, rolled back)."""
    migration = next(m for m in load_migrations(BUILTIN_MIGRATIONS) if m.version == 3)
    narrowed = migration.up_func.__globals__["narrowed_trigger_sql"]
    conn = driver.open_sqlite(path, isolation_level=None)
    try:
        legacy = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'memories_fts_update'"
        ).fetchone()[0]
        best = {"legacy": float("inf"), "narrowed": float("inf")}
        for _ in range(3):
            for label, trigger in (
                ("legacy", legacy),
                ("narrowed", narrowed("memories_fts_update", legacy)),
            ):
                conn.execute("BEGIN")
                conn.execute("DROP TRIGGER memories_fts_update")
                conn.execute(trigger)
                started = time.perf_counter()
                conn.execute("UPDATE memories SET metadata = metadata")
                best[label] = min(best[label], time.perf_counter() - started)
                conn.execute("ROLLBACK")
        return best["legacy"], best["narrowed"]
    finally:
        conn.close()


def rewrite_service_style(path: Path, seed: int = 3) -> None:
    """Embeddings as the TypeScript service stored OpenAI's: unit float32 vectors printed by
    JSON.stringify (~20 characters a value) instead of the builder's 6-decimal values."""
    rng = np.random.default_rng(seed)
    conn = driver.open_sqlite(path)
    try:
        rows = conn.execute(
            "SELECT id, embedding FROM memories WHERE embedding IS NOT NULL AND embedding <> '[]'"
        ).fetchall()
        for mid, text in rows:
            vec = rng.standard_normal(len(json.loads(text))).astype(np.float32)
            vec /= np.linalg.norm(vec)
            text = json.dumps(vec.astype(np.float64).tolist(), separators=(",", ":"))
            conn.execute("UPDATE memories SET embedding = ? WHERE id = ?", (text, mid))
        conn.commit()
    finally:
        conn.close()


def size_only(orig: Path, work: Path) -> None:
    service = work / "service-style.db"
    shutil.copy(orig, service)
    rewrite_service_style(service)
    before = vacuumed_size(service, work)
    up_s = migrate(service, 3)
    after = vacuumed_size(service, work)
    print(
        f"service-style values: file after VACUUM before {mb(before)}, after up {mb(after)}, "
        f"{before / after:.2f}x smaller; migrate up (to 3) {up_s:.2f} s"
    )


def mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def bench_003(orig: Path, work: Path) -> Path:
    print("== 003: embeddings as float32 BLOBs")
    before = vacuumed_size(orig, work)
    migrated, narrowed, wide = work / "migrated.db", work / "narrowed.db", work / "wide.db"
    for copy in (migrated, narrowed, wide):
        shutil.copy(orig, copy)
        migrate(copy, 2)
    fts_at_2 = fts_bytes(migrated)
    up_s = migrate(migrated, 3)
    after = vacuumed_size(migrated, work)
    print(
        f"file after VACUUM: before {mb(before)}, after up {mb(after)}, "
        f"{before / after:.2f}x smaller"
    )
    print(f"migrate up (003 step): {up_s:.2f} s; file before VACUUM {mb(migrated.stat().st_size)}")
    narrow_s = convert_directly(narrowed, narrow_triggers=True)
    wide_s = convert_directly(wide, narrow_triggers=False)
    print(
        f"rewrite of every embedding: FTS trigger narrowed {narrow_s:.2f} s, legacy trigger "
        f"{wide_s:.2f} s (legacy/narrowed {wide_s / narrow_s:.2f})"
    )
    print(
        f"FTS shadow tables: before {mb(fts_at_2)}; after, narrowed {mb(fts_bytes(narrowed))}, "
        f"legacy trigger {mb(fts_bytes(wide))}"
    )
    print(
        f"file before VACUUM: narrowed {mb(narrowed.stat().st_size)}, legacy trigger "
        f"{mb(wide.stat().st_size)}; after VACUUM: narrowed {mb(vacuumed_size(narrowed, work))}, "
        f"legacy trigger {mb(vacuumed_size(wide, work))}"
    )
    legacy_s, narrow_trigger_s = trigger_cost(wide)
    print(
        f"UPDATE of a non-indexed column on every memory: legacy trigger {legacy_s:.3f} s, "
        f"narrowed {narrow_trigger_s:.3f} s ({legacy_s / narrow_trigger_s:.1f}x)"
    )
    roundtrip = work / "roundtrip.db"
    shutil.copy(migrated, roundtrip)
    down_s = migrate(roundtrip, 2)
    print(
        f"migrate down (003 step): {down_s:.2f} s; file after VACUUM "
        f"{mb(vacuumed_size(roundtrip, work))}"
    )
    return migrated


def bench_004(path: Path, work: Path, users: list[str], repeat: int) -> None:
    print("\n== 004: partial index for the active-memory listing")
    v4 = work / "v4.db"
    shutil.copy(path, v4)
    migrate(v4, 4)
    conns = (driver.open_sqlite(path), driver.open_sqlite(v4))
    try:
        for label, (sql, params) in QUERIES.items():
            plans = [query_plan(conn, sql, params("u")) for conn in conns]
            ms_3, ms_4 = interleaved_ms(conns, sql, params, users, repeat)
            print(
                f"\n{label}\n  v3 plan: {' | '.join(plans[0])}\n  v4 plan: {' | '.join(plans[1])}"
            )
            print(f"  median latency: v3 {ms_3:.3f} ms, v4 {ms_4:.3f} ms, v3/v4 {ms_3 / ms_4:.2f}x")
    finally:
        for conn in conns:
            conn.close()


def bench_003_speed(work: Path, users: int, per_user: int, dim: int, rounds: int) -> None:
    """003 against the json.loads floor, and memory at two sizes (see ops.bench_003)."""
    print(f"== 003 speed: {users} users x {per_user} memories, dim {dim}, {rounds} rounds")
    v2, small = work / "speed-v2.db", work / "speed-small-v2.db"
    for path, n_users in ((v2, users), (small, 1)):
        path.unlink(missing_ok=True)
        build_legacy_database(
            path,
            users=n_users,
            entities_per_user=5,
            memories_per_user=per_user,
            embedding_dim=dim,
            oddities=False,
            service_edits=False,
        )
        migrate(path, 2)
    result = speed_003.compare(v2, work, rounds)
    for name, v in result["variants"].items():
        phases = v.get("phases_ms_median")
        print(
            f"{name}: best {v['best_s']:.3f} s ({v['rows_per_s_best']:,} rows/s), median "
            f"{v['median_s']:.3f} s ({v['rows_per_s_median']:,} rows/s); peak RSS "
            f"{v['peak_rss_mib']} MiB (after imports {v['rss_before_mib']} MiB)"
            + (f"; phases ms (median) {phases}" if phases else "")
        )
    print(
        f"json.loads floor ÷ 003: best {result['floor_over_003']['best']}x, median "
        f"{result['floor_over_003']['median']}x; with 003's IO settings (the parser alone): "
        f"best {result['same_io_floor_over_003']['best']}x, "
        f"median {result['same_io_floor_over_003']['median']}x"
    )
    print(
        f"the runner's secure_delete FAST for 003: 003 with secure_delete kept ÷ 003 best "
        f"{result['kept_over_003']['best']}x, median {result['kept_over_003']['median']}x; "
        f"json.loads floor ÷ 003 with secure_delete kept: best "
        f"{result['floor_over_kept']['best']}x, median {result['floor_over_kept']['median']}x"
    )
    (heap_s, rss_s), (heap_f, rss_f) = (
        speed_003.memory_of("003", speed_003.fresh_copy(path, work / "heap.db"))
        for path in (small, v2)
    )
    print(
        f"003 memory, {per_user:,} rows vs {users * per_user:,} rows (untimed runs): Python heap "
        f"peak (tracemalloc) {mb(heap_s)} vs {mb(heap_f)}; peak RSS {rss_s / 1024:.1f} vs "
        f"{rss_f / 1024:.1f} MiB (SQLite's page cache grows with the file up to its 64 MiB)"
    )
    for label in ("anatomy ON", "anatomy FAST"):
        a = speed_003.run_child(label, speed_003.fresh_copy(v2, work / "run.db"))["phases"]
        wal = a.pop("wal_pages")
        print(
            f"{label.replace('anatomy', 'raw conversion, secure_delete')}: "
            + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in a.items())
            + f"; WAL {wal:,} pages"
        )
    print()


def main(argv: list[str] | None = None) -> None:
    """`memvault bench migrations [options]`: print the report."""
    parser = argparse.ArgumentParser(
        prog="memvault bench migrations", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--memories-per-user", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=1536)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each 003 speed variant")
    parser.add_argument("--speed-only", action="store_true", help="only 003's speed section")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="memvault-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bench_003_speed(work, args.users, args.memories_per_user, args.dim, args.rounds)
    if args.speed_only:
        print(f"files in {work}")
        return
    orig = work / "legacy.db"
    orig.unlink(missing_ok=True)
    started = time.perf_counter()
    build_legacy_database(
        orig,
        LegacyShape.V1_3_5,
        users=args.users,
        memories_per_user=args.memories_per_user,
        embedding_dim=args.dim,
    )
    print(
        f"legacy v1.3.5 file: {args.users} users x {args.memories_per_user} memories, "
        f"dim {args.dim}, {mb(orig.stat().st_size)} "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )
    migrated = bench_003(orig, work)
    size_only(orig, work)
    bench_004(migrated, work, [f"user-{i}" for i in range(args.users)], args.repeat)
    print(f"\nfiles in {work}")
