"""Measure what the schema review's index findings are worth, and the seed's claimed figures.

    memvault bench review [--users 5] [--entities-per-user 4000]
        [--memories-per-user 8000] [--repeat 50] [--json]

Prints, all measured in this run on v1.3.5-shaped files built by memvault.testing.legacy:

1. The seed's own claim ("getEntitiesByUserId (100 entities): 150ms -> 50ms;
   searchMemories (1000 memories): 200ms -> 70ms"), with the seed's query shapes and
   sizes: median latency at legacy version 1, after migration 002 (the seed's fix), and
   after every migration.
2. Every catalog SELECT that `schema review` flags on the v1.3.5 file (a full scan or a
   temporary B-tree), at a larger size: median latency at version 1 and after
   `migrate up`, their ratio, and both plans. Queries whose plan did not change are a
   control: their ratio shows the measurement noise.

Stages are timed in alternating rounds (v1, latest, v1, latest, ...) so that noise from
other processes falls on every stage alike.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import Database, connect, snapshot
from memvault.migrations import Migrator, load_migrations
from memvault.ops.measure import time_interleaved
from memvault.review import load_catalog, review
from memvault.testing import LegacyShape, build_legacy_database

# The seed's queries, as its text describes them (its operations.ts is not available).
SEED_QUERIES = {
    "getEntitiesByUserId (seed: 150 ms -> 50 ms)": (
        "SELECT * FROM entities WHERE user_id = ? ORDER BY created_at DESC",
        ("user-0",),
    ),
    "searchMemories (seed: 200 ms -> 70 ms)": (
        "SELECT * FROM memories WHERE user_id = ? AND (title LIKE ? OR content LIKE ?) "
        "ORDER BY updated_at DESC",
        ("user-0", "%coffee%", "%coffee%"),
    ),
}


def build(path: Path, users: int, entities: int, memories: int) -> Path:
    return build_legacy_database(
        path, LegacyShape.V1_3_5, users=users, entities_per_user=entities,
        memories_per_user=memories, embedding_dim=16, oddities=False,
    )  # fmt: skip


def add_activity(path: Path, users: int, per_user: int) -> None:
    """More interactions and API usage rows than the legacy builder writes (it writes three
    per user), so the date-range and usage queries have something to sort."""
    db = connect(str(path))
    try:
        with db.atomic():
            for u in range(users):
                uid = f"user-{u}"
                for i in range(per_user):
                    day = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}"
                    ts = f"{day}T{i % 24:02d}:00:00.000Z"
                    db.execute(
                        "INSERT INTO interactions (user_id, user_prompt, assistant_response, "
                        "created_at, updated_at) VALUES (?, 'q', 'a', ?, ?)",
                        (uid, ts, ts),
                    )
                    db.execute(
                        "INSERT INTO api_usage_tracking (id, user_id, api_provider, model, "
                        "tokens_used, cost_usd, operation_type, timestamp, date) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'chat', ?, ?)",
                        (f"{uid}-b{i}", uid, ("openai", "openrouter")[i % 2],
                         ("gpt-4o-mini", "gpt-4o", "claude")[i % 3], 10 * i, 0.001 * i,
                         1735689600 + i * 3600, day),
                    )  # fmt: skip
    finally:
        db.close()


def migrate(path: Path, target: int | None = None) -> None:
    db = connect(str(path))
    try:
        Migrator(db, load_migrations(BUILTIN_MIGRATIONS), applied_by="bench").up(target)
    finally:
        db.close()


def stages(path: Path, targets: Mapping[str, int | None]) -> dict[str, Path]:
    """Copies of `path`, each migrated up to its target (0: left as it is, None: all)."""
    copies = {}
    for label, target in targets.items():
        copy = path.with_name(f"{path.stem}-{label.replace(' ', '_')}.db")
        shutil.copyfile(path, copy)
        if target != 0:
            migrate(copy, target)
        copies[label] = copy
    return copies


def interleaved_ms(dbs: list[Database], sql: str, params: Any, repeat: int) -> list[float]:
    """Median latency (ms) of one query on each database, timed in interleaved rounds."""
    for db in dbs:
        db.query(sql, params)  # warm the page cache

    def call(db: Database) -> Any:
        return lambda: db.query(sql, params)

    timings = time_interleaved([call(db) for db in dbs], repeat=repeat, warmup=0)
    return [round(t.p50_ms, 4) for t in timings]


def plan(db: Database, sql: str, params: Any) -> str:
    return " | ".join(str(r[3]) for r in db.query(f"EXPLAIN QUERY PLAN {sql}", params))


def measure(
    files: Mapping[str, Path], queries: Mapping[str, tuple[str, Any]], repeat: int
) -> list[dict[str, Any]]:
    """Per query: median ms and plan at every stage."""
    dbs = {label: connect(str(path)) for label, path in files.items()}
    try:
        rows = []
        for name, (sql, params) in queries.items():
            medians = interleaved_ms(list(dbs.values()), sql, params, repeat)
            row: dict[str, Any] = {"query": name}
            for (label, db), ms in zip(dbs.items(), medians, strict=True):
                row[label] = {"ms": ms, "plan": plan(db, sql, params)}
            rows.append(row)
        return rows
    finally:
        for db in dbs.values():
            db.close()


def with_real_user(params: Mapping[str, Any] | tuple[Any, ...]) -> Any:
    """Catalog parameters with the user id swapped for one that has rows."""
    if isinstance(params, Mapping):
        return {k: ("user-0" if k == "user_id" else v) for k, v in params.items()}
    return params


def flagged_queries(path: Path) -> dict[str, tuple[str, Any]]:
    """The catalog SELECTs the review flags on this file, with parameters that hit rows."""
    db = snapshot(str(path))
    try:
        result = review(db, load_migrations(BUILTIN_MIGRATIONS))
    finally:
        db.close()
    catalog = load_catalog()
    return {
        q.name: (q.sql, with_real_user(catalog[q.name].params))
        for q in result.queries
        if (q.full_scan or q.temp_btree) and q.sql.lstrip().upper().startswith("SELECT")
    }


def seed_claims(workdir: Path, repeat: int) -> list[dict[str, Any]]:
    path = build(workdir / "seed-size.db", users=1, entities=100, memories=1000)
    files = stages(path, {"v1.3.5": 0, "after 002": 2, "after all": None})
    return measure(files, SEED_QUERIES, repeat)


def catalog_findings(
    workdir: Path, users: int, entities: int, memories: int, activity: int, repeat: int
) -> list[dict[str, Any]]:
    path = build(workdir / "large.db", users, entities, memories)
    add_activity(path, users, activity)
    rows = measure(stages(path, {"v1.3.5": 0, "latest": None}), flagged_queries(path), repeat)
    for row in rows:
        before, after = row["v1.3.5"]["ms"], row["latest"]["ms"]
        row["ratio"] = round(before / after, 2) if after else None
        row["plan_changed"] = row["v1.3.5"]["plan"] != row["latest"]["plan"]
    return rows


def print_report(seed: list[dict[str, Any]], large: list[dict[str, Any]], args: Any) -> None:
    print(
        f"Seed claims at the seed's sizes (1 user, 100 entities, 1000 memories); "
        f"median of {args.repeat} runs"
    )
    for row in seed:
        timed = ", ".join(
            f"{s} {row[s]['ms']:.3f} ms" for s in ("v1.3.5", "after 002", "after all")
        )
        print(f"  {row['query']}: {timed}")
        print(f"      plans: {row['v1.3.5']['plan']}  =>  {row['after all']['plan']}")
    print(
        f"\nCatalog queries flagged on v1.3.5 ({args.users} users, each with "
        f"{args.entities_per_user} entities, {args.memories_per_user} memories, "
        f"{args.activity_per_user} interactions and usage rows); median of {args.repeat} runs"
    )
    for row in large:
        control = "" if row["plan_changed"] else "  [plan unchanged: noise control]"
        print(
            f"  {row['query']}: v1.3.5 {row['v1.3.5']['ms']:.3f} ms -> latest "
            f"{row['latest']['ms']:.3f} ms (x{row['ratio']}){control}"
        )
        if row["plan_changed"]:
            print(f"      before: {row['v1.3.5']['plan']}\n      after:  {row['latest']['plan']}")


def main(argv: list[str] | None = None) -> None:
    """`memvault bench review [options]`: print the report."""
    parser = argparse.ArgumentParser(
        prog="memvault bench review", description="Measure the schema review's index findings."
    )
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--entities-per-user", type=int, default=4000)
    parser.add_argument("--memories-per-user", type=int, default=8000)
    parser.add_argument(
        "--activity-per-user",
        type=int,
        default=3000,
        help="interactions and API usage rows added per user",
    )
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        seed = seed_claims(workdir, args.repeat)
        large = catalog_findings(
            workdir,
            args.users,
            args.entities_per_user,
            args.memories_per_user,
            args.activity_per_user,
            args.repeat,
        )
    if args.json:
        print(json.dumps({"seed_claims": seed, "catalog": large, "args": vars(args)}, indent=2))
    else:
        print_report(seed, large, args)
