"""Search at scale: does a tenant pay for its own matching rows, or for everyone's?

Builds, in a temporary folder, one file of `memories` memories over `tenants` tenants (one
holds 50%, one 1%, the rest share 49%; 24 words a memory from a 5,000-word Zipf vocabulary)
at the schema before migration 009 (the service's shared FTS5 index), copies it and applies
009 (the tenant index) to the copy, and builds a third file holding only one small tenant's
rows, with the very same words. Then the same searches (a rare, a mid and a common word;
limit 10) are timed, interleaved, in every file:

- before: the pre-009 search SQL on the shared index (raw sqlite3; what memvault ran before);
- after: the catalog's `memories.search` on the tenant index, raw and through the store;
- alone: the store's search in the file holding only the small tenant's rows.

Each call is timed by the wall clock and by this thread's CPU time: on a shared machine the
wall-clock p95 also counts the moments other jobs held the CPU. Nothing is asserted: this
reports (`python -m memvault.ops.bench_search_scale [MEMORIES TENANTS] [--json]`).
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect, driver
from memvault.migrations import Migrator, load_migrations
from memvault.ops.bench import SHARED_FTS_SEARCH  # the pre-009 search, as `memvault bench` times it
from memvault.ops.measure import Timing, ratio
from memvault.store import MemoryStore, catalog
from memvault.store.search import fts_query
from memvault.store.search_index import match_expression

VOCABULARY = 5000
WORDS_PER_MEMORY = 24
LIMIT = 10
TENANT_INDEX_VERSION = 9  # migration 009 builds the tenant index
# Vocabulary ranks whose words fall in ~94%, ~8% and ~0.13% of memories (Zipf, s = 1); the
# rare word is, per tenant, the first from rank 2000 on that the tenant's rows hold at all.
TERM_RANKS = {"common": 0, "mid": 31, "rare": 2000}
NOW = "2025-10-06T12:00:00.000Z"


@dataclass(frozen=True)
class Shape:
    """How big a run is and how often each search is timed."""

    memories: int = 200_000
    tenants: int = 500
    repeat: int = 200
    warmup: int = 3
    seed: int = 11


def tenant_sizes(shape: Shape) -> list[int]:
    """Memories per tenant: 50%, 1%, and the rest shared evenly (largest first)."""
    big, one = shape.memories // 2, shape.memories // 100
    rest = shape.memories - big - one
    others = shape.tenants - 2
    return [big, one] + [rest // others + (1 if i < rest % others else 0) for i in range(others)]


def _vocabulary(rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(letters, int(rng.integers(4, 10)))))
    return sorted(words, key=lambda w: (len(w), w))


def _texts(rng: np.random.Generator, vocab: list[str], count: int) -> list[str]:
    weights = 1.0 / np.arange(1, VOCABULARY + 1)
    picks = rng.choice(VOCABULARY, size=(count, WORDS_PER_MEMORY), p=weights / weights.sum())
    return [" ".join(vocab[i] for i in row) for row in picks]


def _fill(path: Path, rows: Sequence[tuple[str, str]], users: Sequence[str]) -> None:
    """Users and memories into a file just before migration 009 (title 4 words, content 20)."""
    db = connect(str(path))
    try:
        migrations = load_migrations(BUILTIN_MIGRATIONS)
        before = max(m.version for m in migrations if m.version < TENANT_INDEX_VERSION)
        Migrator(db, migrations, applied_by="bench").up(before)
        with db.atomic():
            db.executemany(
                "INSERT INTO users (id, email, created_at, updated_at) VALUES (?, ?, ?, ?)",
                [(u, f"{u}@bench.example", NOW, NOW) for u in users],
            )
            db.executemany(
                "INSERT INTO memories (user_id, title, content, memory_type, tags, entity_ids, "
                "is_archived, created_at, updated_at) "
                "VALUES (?, ?, ?, 'semantic', ?, '[]', 0, ?, ?)",
                (
                    (u, " ".join(t.split()[:4]), " ".join(t.split()[4:]), json.dumps([]), NOW, NOW)
                    for u, t in rows
                ),
            )
    finally:
        db.close()


def _migrate(path: Path) -> float:
    """Apply every pending migration (009 builds the tenant index); the seconds it took."""
    db = connect(str(path))
    try:
        started = time.perf_counter()
        Migrator(db, load_migrations(BUILTIN_MIGRATIONS), applied_by="bench").up()
        return time.perf_counter() - started
    finally:
        db.close()


def _terms(vocab: list[str], texts: list[str]) -> dict[str, str]:
    """The common, mid and rare search words for a tenant holding `texts`."""
    held = {w for t in texts for w in t.split()}
    rare = next(w for w in vocab[TERM_RANKS["rare"] :] if w in held)
    return {"common": vocab[TERM_RANKS["common"]], "mid": vocab[TERM_RANKS["mid"]], "rare": rare}


def build(folder: Path, shape: Shape) -> dict[str, Any]:
    """The three files (before, after, alone) and who is who in them."""
    rng = np.random.default_rng(shape.seed)
    vocab = _vocabulary(rng)
    sizes = tenant_sizes(shape)
    users = [str(uuid.UUID(int=int(rng.integers(0, 2**62)) + i)) for i in range(len(sizes))]
    owners = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(owners)  # tenants' rows interleave, as they do in a shared file
    texts = _texts(rng, vocab, shape.memories)
    rows = [(users[o], t) for o, t in zip(owners.tolist(), texts, strict=True)]
    small = users[len(sizes) // 2]
    before, after, alone = folder / "before.db", folder / "after.db", folder / "alone.db"
    started = time.perf_counter()
    _fill(before, rows, users)
    fill_s = time.perf_counter() - started
    with driver.open_sqlite(before) as src, driver.open_sqlite(after) as dst:
        src.backup(dst)
    migrate_s = _migrate(after)
    _fill(alone, [r for r in rows if r[0] == small], [small])
    _migrate(alone)
    tenants = {"50%": users[0], "1%": users[1], "small": small}
    return {
        "paths": {"before": before, "after": after, "alone": alone},
        "tenants": tenants,
        "sizes": {"50%": sizes[0], "1%": sizes[1], "small": sizes[len(sizes) // 2]},
        "terms": {k: _terms(vocab, [t for u, t in rows if u == v]) for k, v in tenants.items()},
        "fill_seconds": round(fill_s, 1),
        "migration_009_seconds": round(migrate_s, 1),
    }


@dataclass
class _Files:
    """One connection to each file: raw sqlite3 on before/after, the store on after/alone."""

    before_raw: driver.SQLiteConnection
    after_raw: driver.SQLiteConnection
    after: MemoryStore
    alone: MemoryStore

    @classmethod
    def open(cls, paths: dict[str, Path]) -> _Files:
        return cls(
            driver.open_sqlite(paths["before"]),
            driver.open_sqlite(paths["after"]),
            MemoryStore.open(paths["after"], migrate=False),
            MemoryStore.open(paths["alone"], migrate=False),
        )

    def close(self) -> None:
        for closable in (self.before_raw, self.after_raw, self.after, self.alone):
            closable.close()


def _calls(files: _Files, tenant: str, term: str, alone: bool) -> dict[str, Callable[[], Any]]:
    """The same search, three or four ways."""
    key = files.after_raw.execute("SELECT tenant FROM search_tenants WHERE owner = ?", (tenant,))
    tenant_key = int(key.fetchone()[0])
    old = {"query": fts_query(term), "user_id": tenant, "limit": LIMIT}
    new = {"query": match_expression(tenant_key, term), "user_id": tenant, "limit": LIMIT}
    sql = catalog.sql("memories.search")
    calls = {
        "before_raw": lambda: files.before_raw.execute(SHARED_FTS_SEARCH, old).fetchall(),
        "after_raw": lambda: files.after_raw.execute(sql, new).fetchall(),
        "after_memvault": lambda: files.after.memories.search(tenant, term, limit=LIMIT),
    }
    if alone:
        calls["alone_memvault"] = lambda: files.alone.memories.search(tenant, term, limit=LIMIT)
    return calls


def measure(built: dict[str, Any], shape: Shape) -> list[dict[str, Any]]:
    """p50/p95 (ms) of every tenant x term x way, with the ratios the issue asks for."""
    files = _Files.open(built["paths"])
    try:
        return [
            _measure_one(built, shape, files, size_name, term_name)
            for size_name in built["tenants"]
            for term_name in built["terms"][size_name]
        ]
    finally:
        files.close()


def _time_wall_and_cpu(
    funcs: Sequence[Callable[[], Any]], *, repeat: int, warmup: int
) -> list[tuple[Timing, Timing]]:
    """Per function: wall-clock and this thread's CPU time per call, in interleaved rounds.

    The CPU time leaves out the moments the process was not running at all (other jobs on a
    shared machine), which is what inflates a wall-clock p95 there.
    """
    for _ in range(warmup):
        for func in funcs:
            func()
    wall: list[list[int]] = [[] for _ in funcs]
    cpu: list[list[int]] = [[] for _ in funcs]
    for _ in range(repeat):
        for i, func in enumerate(funcs):
            w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            func()
            cpu[i].append(time.thread_time_ns() - c0)
            wall[i].append(time.perf_counter_ns() - w0)
    return [(Timing.from_ns(w), Timing.from_ns(c)) for w, c in zip(wall, cpu, strict=True)]


def _measure_one(
    built: dict[str, Any], shape: Shape, files: _Files, size_name: str, term_name: str
) -> dict[str, Any]:
    tenant, term = built["tenants"][size_name], built["terms"][size_name][term_name]
    calls = _calls(files, tenant, term, alone=size_name == "small")
    hits = {k: len(c()) for k, c in calls.items()}
    # The 50% tenant's common word takes ~0.5 s a call: fewer rounds for it.
    repeat = shape.repeat if size_name != "50%" else max(10, shape.repeat // 10)
    timings = _time_wall_and_cpu(list(calls.values()), repeat=repeat, warmup=shape.warmup)
    figures = {k: w.as_dict() for k, (w, _c) in zip(calls, timings, strict=True)}
    cpu = {k: c.as_dict() for k, (_w, c) in zip(calls, timings, strict=True)}
    entry: dict[str, Any] = {
        "tenant": size_name,
        "tenant_memories": built["sizes"][size_name],
        "term": term_name,
        "word": term,
        "timed_calls": repeat,
        "hits": hits,
        "ms": {k: {"p50": v["p50_ms"], "p95": v["p95_ms"]} for k, v in figures.items()},
        "cpu_ms": {k: {"p50": v["p50_ms"], "p95": v["p95_ms"]} for k, v in cpu.items()},
        "before_over_after_p95": ratio(
            figures["before_raw"]["p95_ms"], figures["after_memvault"]["p95_ms"]
        ),
    }
    if "alone_memvault" in figures:
        entry["shared_over_alone_p95"] = ratio(
            figures["after_memvault"]["p95_ms"], figures["alone_memvault"]["p95_ms"]
        )
        entry["shared_over_alone_cpu_p95"] = ratio(
            cpu["after_memvault"]["p95_ms"], cpu["alone_memvault"]["p95_ms"]
        )
    return entry


def run(
    shape: Shape | None = None, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Build the files in a temporary folder, time the searches, return the figures."""
    shape = shape or Shape()
    say = progress or (lambda _m: None)
    with tempfile.TemporaryDirectory(prefix="memvault-search-scale-") as folder:
        say(f"building {shape.memories:,} memories over {shape.tenants} tenants (three files)")
        built = build(Path(folder), shape)
        say("timing searches")
        results = measure(built, shape)
    return {
        "shape": vars(shape),
        "terms": built["terms"],
        "fill_seconds": built["fill_seconds"],
        "migration_009_seconds": built["migration_009_seconds"],
        "results": results,
    }


def print_report(report: dict[str, Any]) -> None:
    shape = report["shape"]
    print(
        f"{shape['memories']:,} memories, {shape['tenants']} tenants, limit {LIMIT}, "
        f"{shape['repeat']} timed calls each; fill {report['fill_seconds']} s, "
        f"migration 009 {report['migration_009_seconds']} s; terms {report['terms']}"
    )
    for unit, label in (("ms", "wall-clock"), ("cpu_ms", "this thread's CPU time")):
        print(f"p50/p95 in ms, {label}")
        head = ("tenant", "rows", "term", "hits", "before raw", "after raw", "after memvault")
        print(" | ".join(head) + " | alone | before/after p95 | shared/alone p95")
        for r in report["results"]:
            print(_row(r, r[unit]))


def _row(r: dict[str, Any], ms: dict[str, dict[str, float]]) -> str:
    cells = [
        f"{ms[k]['p50']:.2f}/{ms[k]['p95']:.2f}" if k in ms else "—"
        for k in ("before_raw", "after_raw", "after_memvault", "alone_memvault")
    ]
    before = ratio(ms["before_raw"]["p95"], ms["after_memvault"]["p95"])
    alone = (
        ratio(ms["after_memvault"]["p95"], ms["alone_memvault"]["p95"])
        if "alone_memvault" in ms
        else None
    )
    return (
        f"{r['tenant']} | {r['tenant_memories']:,} | {r['term']} | "
        f"{r['hits']['after_memvault']} | "
        + " | ".join(cells)
        + f" | {before or 0:.1f}x | "
        + ("—" if alone is None else f"{alone:.2f}x")
    )
