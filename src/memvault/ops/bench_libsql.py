"""Round trips and latency on a libSQL server: memvault against the raw libsql client.

    python -m memvault.ops.bench_libsql http://127.0.0.1:PORT [--memories 200] [--calls 50]

On a remote database every statement is a network round trip, so the figures that matter
are requests per operation (they should not grow with the tenant's rows) and the time
memvault adds on top of the requests themselves. For each store call the benchmark
records the exact requests memvault sent (SQL text and parameters, as sent), then times
the raw `libsql` client sending the same requests on the same server, alternating the two
call by call; it reports p50 of each and their ratio. It also counts the requests of
every migration step on a fresh database. It needs an empty database (it creates the
schema and rows) and refuses any other.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import Database, connect
from memvault.db.libsql import LibSQLConnection, connect_raw
from memvault.errors import ConfigError
from memvault.migrations import Migrator, load_migrations
from memvault.migrations.executor import Event
from memvault.ops.measure import percentile
from memvault.store import MemoryStore


@dataclass(frozen=True)
class OpFigures:
    """One store call: requests it sends, and p50 of memvault vs the raw client."""

    op: str
    round_trips: int
    p50_memvault_ms: float
    p50_raw_ms: float

    @property
    def ratio(self) -> float:
        return self.p50_memvault_ms / self.p50_raw_ms if self.p50_raw_ms else float("nan")


@dataclass(frozen=True)
class StepFigures:
    """One migration step: the requests it sent (its statements, ledger, lock renewal)."""

    label: str
    round_trips: int


def migrate_counting(db: Database) -> list[StepFigures]:
    """Apply every built-in migration, counting each step's requests."""
    started: dict[str, int] = {}
    steps: list[StepFigures] = []

    def listen(event: Event) -> None:
        if event.migration is None:
            return
        if event.kind == "step_start":
            started[event.migration.label] = db.round_trips
        elif event.kind == "step_done":
            label = event.migration.label
            steps.append(StepFigures(label, db.round_trips - started[label]))

    migrator = Migrator(
        db, load_migrations(BUILTIN_MIGRATIONS), applied_by="bench", listener=listen
    )
    migrator.up()
    return steps


def _require_empty(db: Database) -> None:
    tables = db.scalar("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    if tables:
        raise ConfigError(
            f"{db.url.display} is not empty ({tables} schema objects): the benchmark creates "
            "its own schema and rows; point it at an empty database"
        )


def _seed(store: MemoryStore, memories: int) -> tuple[str, int]:
    user, _ = store.users.create("bench@example.com", name="Bench")
    ids = store.memories.create_many(
        user.id,
        [
            {
                "title": f"note {n}",
                "content": f"green tea note {n} about the morning routine",
                "memory_type": "technical",
                "embedding": [1.0, float(n % 7), float(n % 11)],
            }
            for n in range(memories)
        ],
    )
    return user.id, ids[len(ids) // 2]


def _operations(store: MemoryStore, user_id: str, memory_id: int) -> dict[str, Callable[[], Any]]:
    return {
        "users.get": lambda: store.users.get(user_id),
        "memories.get": lambda: store.memories.get(user_id, memory_id),
        "memories.list(50)": lambda: store.memories.list(user_id, limit=50),
        "memories.search": lambda: store.memories.search(user_id, "green tea", limit=10),
        "memories.similar": lambda: store.memories.similar(user_id, [1.0, 2.0, 3.0], limit=10),
        "memories.create": lambda: store.memories.create(
            user_id, title="t", content="c", memory_type="technical", embedding=[1.0, 0.0, 0.0]
        ),
    }


def measure_op(
    conn: LibSQLConnection, raw: Any, op: Callable[[], Any], calls: int
) -> tuple[int, float, float]:
    """(requests per call, p50 memvault ms, p50 raw ms), alternating memvault and raw."""
    op()  # warm: caches, the server's statement cache
    conn.sent = []
    op()
    sent, conn.sent = conn.sent, None  # what one call sends, replayed by the raw client
    mine: list[float] = []
    theirs: list[float] = []

    def replay() -> None:
        for text, values in sent:
            raw.execute(text, values).fetchall()

    for n in range(calls):  # alternate which goes first, so drift hits both alike
        for which in ("mine", "raw") if n % 2 == 0 else ("raw", "mine"):
            started = time.perf_counter_ns()
            op() if which == "mine" else replay()
            elapsed = (time.perf_counter_ns() - started) / 1e6
            (mine if which == "mine" else theirs).append(elapsed)
    trips = len(sent)
    return trips, percentile(mine, 50), percentile(theirs, 50)


def run(url: str, *, memories: int, calls: int) -> tuple[list[StepFigures], list[OpFigures]]:
    db = connect(url)
    try:
        _require_empty(db)
        steps = migrate_counting(db)
    finally:
        db.close()
    store = MemoryStore.open(url)
    raw = connect_raw(store.db.url.remote.endpoint, store.db.url.remote.auth_token)  # type: ignore[union-attr]
    try:
        conn = store.db.conn
        assert isinstance(conn, LibSQLConnection)
        user_id, memory_id = _seed(store, memories)
        figures = [
            OpFigures(name, *measure_op(conn, raw, op, calls))
            for name, op in _operations(store, user_id, memory_id).items()
        ]
        before = store.db.round_trips
        store.memories.create_many(
            user_id,
            [{"title": "b", "content": "c", "memory_type": "technical"} for _ in range(500)],
        )
        figures.append(OpFigures("memories.create_many(500)", store.db.round_trips - before, 0, 0))
    finally:
        raw.close()
        store.close()
    return steps, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="an empty libSQL database: http://127.0.0.1:PORT, libsql://…")
    parser.add_argument("--memories", type=int, default=200, help="rows of the tenant (200)")
    parser.add_argument("--calls", type=int, default=50, help="timed calls per operation (50)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        steps, ops = run(args.url, memories=args.memories, calls=args.calls)
    except ConfigError as exc:
        print(f"bench_libsql: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({
            "migration_steps": [asdict(s) for s in steps],
            "operations": [asdict(o) | {"ratio": round(o.ratio, 3)} for o in ops],
        }, indent=2))  # fmt: skip
        return 0
    print(f"{'migration step':40s} requests")
    for step in steps:
        print(f"{step.label:40s} {step.round_trips:8d}")
    head = f"{'store call':28s} {'requests':>8s} {'p50 memvault':>13s} {'p50 raw':>9s}"
    print(f"\n{head} {'ratio':>6s}")
    for op in ops:
        if op.p50_raw_ms:
            print(
                f"{op.op:28s} {op.round_trips:8d} {op.p50_memvault_ms:10.2f} ms "
                f"{op.p50_raw_ms:6.2f} ms {op.ratio:6.2f}"
            )
        else:
            print(f"{op.op:28s} {op.round_trips:8d}   (requests only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
