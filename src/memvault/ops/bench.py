"""`memvault bench`: measured latencies of the memory store, with raw sqlite3 as the floor.

One run, on a seeded synthetic dataset in a temporary folder:

1. Build the listing dataset at schema version 1 (the legacy layout: JSON embeddings, the
   ten legacy indexes) and time the store's queries: entity listing, memory listing, FTS5
   search, the seed's LIKE-scan search and similar() over one user's vectors.
2. Apply migration 002 (the two missing indexes) and time again; then the rest (003 float32
   embeddings, 004 partial index) and time again. Before ÷ after is the migrations' effect.
3. create_many throughput (batches of rows with embeddings) against raw executemany of the
   same INSERT on an identical copy of the database.
4. similar() over `vectors` embeddings against the same SQL (fetch only) and against the
   fetch plus the same NumPy arithmetic.

Every memvault figure has a raw sqlite3 figure for the same SQL measured in the same run;
ratios are memvault ÷ raw. Nothing is asserted about speed here: this reports.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import Database, connect, driver
from memvault.migrations import Migrator, load_migrations
from memvault.ops.bench_tenants import TenantShape, run_tenant_bench
from memvault.ops.benchdata import (
    SEARCH_TERM_POSITIONS,
    BenchSize,
    SyntheticData,
    fill_listing_dataset,
    fts_words,
    vector_batches,
)
from memvault.ops.measure import Timing, ratio, time_interleaved
from memvault.store import MemoryStore, catalog
from memvault.store.runner import QueryRunner
from memvault.store.search_index import SearchIndex, match_expression

DEFAULT_SEED = 20251006
LISTING_LIMIT = 50
SEARCH_LIMIT = 20
SIMILAR_K = 10
VECTOR_USER = "bench-vectors"
PLAIN_USER = "bench-plain"
# The seed's searchMemories(): every match of a substring, newest change first.
SEED_LIKE_SCAN = (
    "SELECT * FROM memories WHERE user_id = ? AND (title LIKE ? OR content LIKE ?) "
    "ORDER BY updated_at DESC"
)
# The search as memvault ran it before migration 009 (the service's shared FTS5 tables).
SHARED_FTS_SEARCH = (
    "SELECT m.*, hits.score FROM (SELECT memories_fts.rowid AS id, "
    "-bm25(memories_fts, 3.0, 1.0, 2.0) AS score FROM memories_fts "
    "JOIN memories AS m ON m.id = memories_fts.rowid WHERE memories_fts MATCH :query "
    "AND m.user_id = :user_id AND m.is_archived = 0 ORDER BY score DESC LIMIT :limit) AS hits "
    "JOIN memories AS m ON m.id = hits.id ORDER BY hits.score DESC"
)
# (stage name, migrate up to this version first; None = every migration)
STAGES: tuple[tuple[str, int | None], ...] = (("before", 1), ("after_002", 2), ("after", None))

Call = Callable[[int], Any]  # one query, for the i-th input
Progress = Callable[[str], None]


@dataclass(frozen=True)
class QuerySpec:
    """One query timed at every stage: raw sqlite3 and (when it has one) the memvault call."""

    name: str
    sql: str
    raw: Call
    memvault: Call | None
    explain_params: Any
    heavy: bool = False  # hundreds of milliseconds a call: timed fewer times


def run_bench(
    size: BenchSize, *, seed: int = DEFAULT_SEED, progress: Progress | None = None
) -> dict[str, Any]:
    """Build the dataset in a temporary folder, measure, and return the report as a dict."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="memvault-bench-") as folder:
        report = _Bench(Path(folder), size, seed, progress or (lambda _m: None)).run()
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


@dataclass
class _Stage:
    """One copy of the database at one schema version: memvault's store and a raw connection."""

    name: str
    db: Database
    store: MemoryStore
    raw: driver.SQLiteConnection

    @classmethod
    def open(cls, name: str, path: Path) -> _Stage:
        db = connect(str(path))
        # No vector cache: similar() reads and decodes every embedding on each call, which
        # is the work migration 003 changes.
        return cls(name, db, MemoryStore(db, vector_cache_mb=0), _raw_connection(path))

    def close(self) -> None:
        self.raw.close()
        self.db.close()


class _Bench:
    """The state of one run: the database, the store on it, and a raw connection beside."""

    def __init__(self, folder: Path, size: BenchSize, seed: int, progress: Progress) -> None:
        self.folder = folder
        self.path = folder / "bench.db"
        self.size = size
        self.seed = seed
        self.started = time.perf_counter()
        self.progress = progress
        self.data = SyntheticData(seed)
        self.terms = self.data.search_terms()
        self.db: Database = connect(str(self.path))
        self.migrator = Migrator(
            self.db, load_migrations(BUILTIN_MIGRATIONS), applied_by="memvault bench"
        )
        self.store = MemoryStore(self.db)
        self.user_ids: list[str] = []
        self.legacy_queries = self.data.vectors(4, size.legacy_dim)
        self.stages: list[_Stage] = []

    def say(self, message: str) -> None:
        self.progress(f"[{time.perf_counter() - self.started:6.1f} s] {message}")

    def run(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "size": self.size.name,
            "seed": self.seed,
            "environment": _environment(),
        }
        if self.size.legacy_stages:
            report |= self._legacy_stages()
        else:
            self.db.close()
        if self.size.tenants is not None:
            shape = TenantShape(*self.size.tenants)
            report["tenants"] = run_tenant_bench(self.folder, shape, self.seed, self.say)
        return report

    def _legacy_stages(self) -> dict[str, Any]:
        try:
            dataset = self._build()
            migrations = self._migrate_in_stages()
            queries = _with_ratios(self._time_queries())
            by_term = self._search_by_term()
            create_many = self._create_many()
            similar = self._similar_many()
        finally:
            for stage in self.stages:
                stage.close()
            self.db.close()
        return {
            "dataset": dataset,
            "migrations": migrations,
            "queries": queries,
            "search_fts_vs_like": {**_fts_vs_like(queries), "by_term": by_term},
            "similar": similar,
            "create_many": create_many,
        }

    # -- dataset --------------------------------------------------------------------------
    def _build(self) -> dict[str, Any]:
        s = self.size
        self.say(f"building {s.users} users x ({s.entities_per_user} entities, "
                 f"{s.memories_per_user} memories) at schema version 1")  # fmt: skip
        started = time.perf_counter()
        self.migrator.to(1)
        self.user_ids = fill_listing_dataset(self.db, self.data, s)
        return {
            "users": s.users,
            "entities_per_user": s.entities_per_user,
            "memories_per_user": s.memories_per_user,
            "legacy_embedding_dim": s.legacy_dim,
            "vectors": s.vectors,
            "vector_dim": s.dim,
            "create_many_batch": s.batch,
            "repeat": s.repeat,
            "heavy_repeat": s.heavy_repeat,
            "warmup": s.warmup,
            "search_terms": self.terms,
            "build_seconds": round(time.perf_counter() - started, 2),
            "file_bytes_at_v1": self.path.stat().st_size,
        }

    def _migrate_in_stages(self) -> list[dict[str, Any]]:
        """Keep a copy of the database at each stage's version, made the same way for every
        stage (SQLite's online backup), so the stages differ only in their schema."""
        applied: list[dict[str, Any]] = []
        for name, target in STAGES:
            if name != "before":
                self.say(f"migrating to {'the newest version' if target is None else target}")
                applied += [
                    {
                        "version": r.migration.version,
                        "name": r.migration.name,
                        "duration_ms": r.duration_ms,
                    }
                    for r in self.migrator.up(target)
                ]
            path = self.folder / f"{name}.db"
            _copy_database(self.db, path)
            self.stages.append(_Stage.open(name, path))
        return applied

    # -- listing and search, before and after the migrations -------------------------------
    def _time_queries(self) -> dict[str, dict[str, Any]]:
        self.say("timing queries at every stage (interleaved: before, after_002, after)")
        per_stage = [self._specs(stage) for stage in self.stages]
        results: dict[str, dict[str, Any]] = {}
        for specs in zip(*per_stage, strict=True):
            name = specs[0].name
            results[name] = {"sql": specs[0].sql, "stages": self._measure(specs)}
        return results

    def _specs(self, stage: _Stage) -> list[QuerySpec]:
        users, terms, raw, store = self.user_ids, self.terms, stage.raw, stage.store
        queries = self.legacy_queries

        def user(i: int) -> str:
            return users[i % len(users)]

        def term(i: int) -> str:  # each user with every term in turn
            return terms[(i // len(users)) % len(terms)]

        def vector(i: int) -> np.ndarray:
            chosen: np.ndarray = queries[i % len(queries)]
            return chosen

        sql_e, sql_m = catalog.sql("entities.list"), catalog.sql("memories.list")
        sql_s, search_params = _search_for(stage.raw)
        sql_v = catalog.sql("memories.similar_candidates")
        tenant_index = sql_s != SHARED_FTS_SEARCH
        page = {"limit": LISTING_LIMIT, "offset": 0}
        return [
            QuerySpec(
                "entities.list",
                sql_e,
                lambda i: raw.execute(sql_e, {"user_id": user(i), **page}).fetchall(),
                lambda i: store.entities.list(user(i), limit=LISTING_LIMIT),
                {"user_id": users[0], **page},
            ),
            QuerySpec(
                "memories.list",
                sql_m,
                lambda i: raw.execute(sql_m, {"user_id": user(i), **page}).fetchall(),
                lambda i: store.memories.list(user(i), limit=LISTING_LIMIT),
                {"user_id": users[0], **page},
            ),
            QuerySpec(
                "memories.search (FTS5)",
                sql_s,
                lambda i: raw.execute(sql_s, search_params(user(i), term(i))).fetchall(),
                (lambda i: store.memories.search(user(i), term(i), limit=SEARCH_LIMIT))
                if tenant_index
                else None,  # the store needs migration 009's tenant index
                search_params(users[0], terms[0]),
            ),
            QuerySpec(
                "memories.search (seed LIKE scan)",
                SEED_LIKE_SCAN,
                lambda i: raw.execute(SEED_LIKE_SCAN, _like_params(user(i), term(i))).fetchall(),
                None,
                _like_params(users[0], terms[0]),
            ),
            QuerySpec(
                f"memories.similar ({self.size.memories_per_user} vectors of one user, uncached)",
                sql_v,
                lambda i: raw.execute(sql_v, {"user_id": user(i)}).fetchall(),
                lambda i: store.memories.similar(user(i), vector(i), limit=SIMILAR_K),
                {"user_id": users[0]},
                heavy=True,
            ),
        ]

    def _measure(self, specs: tuple[QuerySpec, ...]) -> dict[str, dict[str, Any]]:
        """Time one query at every stage, raw and memvault, in interleaved rounds."""
        labels: list[tuple[str, str]] = []
        calls: list[Callable[[], Any]] = []
        for stage, spec in zip(self.stages, specs, strict=True):
            for variant, call in (("raw", spec.raw), ("memvault", spec.memvault)):
                if call is not None:
                    labels.append((stage.name, variant))
                    calls.append(_counting(call))
        repeat = self.size.heavy_repeat if specs[0].heavy else self.size.repeat
        timings = time_interleaved(calls, repeat=repeat, warmup=self.size.warmup)
        inputs = len(self.user_ids) * len(self.terms)
        out: dict[str, dict[str, Any]] = {}
        for stage, spec in zip(self.stages, specs, strict=True):
            rows = [len(spec.raw(i)) for i in range(inputs)]
            out[stage.name] = {
                "rows_mean": round(sum(rows) / len(rows), 1),
                "plan": _plan(stage.raw, spec.sql, spec.explain_params),
            }
        for (stage_name, variant), timing in zip(labels, timings, strict=True):
            out[stage_name][variant] = timing.as_dict()
        for entry in out.values():
            if "memvault" in entry:
                entry["memvault_over_raw"] = _ratios(entry["memvault"], entry["raw"])
        return out

    def _search_by_term(self) -> list[dict[str, Any]]:
        """FTS5 against the LIKE scan per search term, newest schema: FTS5 first finds a
        word's matches in every tenant's memories, then keeps the user's; LIKE reads only the
        user's rows. How many memories hold the word decides which is faster."""
        raw, users = self.stages[-1].raw, self.user_ids
        sql, search_params = _search_for(raw)
        out = []
        for position, term in zip(SEARCH_TERM_POSITIONS, self.terms, strict=True):

            def fts(i: int, term: str = term) -> Any:
                return raw.execute(sql, search_params(users[i % len(users)], term)).fetchall()

            def like(i: int, term: str = term) -> Any:
                params = _like_params(users[i % len(users)], term)
                return raw.execute(SEED_LIKE_SCAN, params).fetchall()

            fts_t, like_t = time_interleaved(
                [_counting(fts), _counting(like)],
                repeat=max(len(users), self.size.repeat // 2),
                warmup=1,
            )
            matches = (
                self.stages[0]
                .raw.execute(  # the shared index of the first stage
                    "SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?",
                    (fts_words(term),),
                )
                .fetchone()[0]
            )
            out.append(
                {
                    "term": term,
                    "vocabulary_position": position,
                    "memories_matching_all_users": int(matches),
                    "fts_raw": fts_t.as_dict(),
                    "like_raw": like_t.as_dict(),
                    "like_over_fts": _ratios(like_t.as_dict(), fts_t.as_dict()),
                }
            )
        return out

    # -- writing ----------------------------------------------------------------------------
    def _create_many(self) -> dict[str, Any]:
        self.say(
            f"create_many: {self.size.vectors:,} memories with {self.size.dim}-d embeddings and "
            "as many without, memvault and raw executemany in alternating batches"
        )
        for user in (VECTOR_USER, PLAIN_USER):
            self.store.users.create(f"{user}@bench.example", user_id=user)
        copy_path = self.folder / "raw-copy.db"
        _copy_database(self.db, copy_path)
        indexed_path = self.folder / "raw-indexed-copy.db"
        _copy_database(self.db, indexed_path)
        floor = _raw_connection(copy_path, autocommit=False)
        indexed = connect(str(indexed_path))
        try:
            with_vectors = self._alternate(floor, indexed, VECTOR_USER, embeddings=True)
            without = self._alternate(floor, indexed, PLAIN_USER, embeddings=False)
        finally:
            floor.close()
            indexed.close()
        return {**with_vectors, "without_embeddings": without}

    def _alternate(
        self, floor: driver.SQLiteConnection, indexed: Database, user: str, *, embeddings: bool
    ) -> dict[str, Any]:
        """create_many against raw executemany batch by batch, the order rotating: raw alone
        (its rows stay queued for the search index: 009's triggers only queue), and raw
        followed by the same indexing create_many does in its transaction (the search index's
        own drain, on another copy), so both do the same work."""
        insert = catalog.sql("memories.insert")
        index = SearchIndex(QueryRunner(indexed))
        samples: dict[str, list[int]] = {"memvault": [], "raw": [], "raw_indexed": []}
        for n, (vectors, rows) in enumerate(vector_batches(self.data, self.size)):
            items = [_as_fields(row, vector) for row, vector in zip(rows, vectors, strict=True)]
            params = [row | _owned(row, user) for row in rows]
            if not embeddings:
                items = [{k: v for k, v in i.items() if k != "embedding"} for i in items]
                params = [p | {"embedding": None} for p in params]

            def ours(items: list[dict[str, Any]] = items) -> None:
                self.store.memories.create_many(user, items)

            def theirs(params: list[dict[str, Any]] = params) -> None:
                floor.executemany(insert, params)
                floor.commit()

            def theirs_indexed(params: list[dict[str, Any]] = params) -> None:
                with indexed.atomic():
                    indexed.conn.executemany(insert, params)
                    index.drain()

            order = [("memvault", ours), ("raw", theirs), ("raw_indexed", theirs_indexed)]
            shift = n % len(order)
            for name, call in order[shift:] + order[:shift]:
                started = time.perf_counter_ns()
                call()
                samples[name].append(time.perf_counter_ns() - started)
        return _throughput(self.size, samples, embeddings)

    # -- similar() over many vectors ----------------------------------------------------------
    def _similar_many(self) -> dict[str, Any]:
        self.say(f"similar(): top {SIMILAR_K} of {self.size.vectors:,} vectors")
        queries = self.data.vectors(4, self.size.dim)
        raw = _raw_connection(self.path)  # the vectors were written to the main database
        try:
            return self._time_similar(raw, queries)
        finally:
            raw.close()

    def _time_similar(self, raw: driver.SQLiteConnection, queries: np.ndarray) -> dict[str, Any]:
        sql = catalog.sql("memories.similar_candidates")
        cached, dim = self.store, self.size.dim
        uncached = MemoryStore(self.db, vector_cache_mb=0)

        def fetch(_i: int) -> list[Any]:
            return raw.execute(sql, {"user_id": VECTOR_USER}).fetchall()

        def numpy_top(i: int) -> list[int]:
            return _numpy_top_k(fetch(i), queries[i % len(queries)], dim)

        def api(store: MemoryStore) -> Call:
            def call(i: int) -> list[Any]:
                vector = queries[i % len(queries)]
                return store.memories.similar(VECTOR_USER, vector, limit=SIMILAR_K)

            return call

        rows = fetch(0)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        unit = _unit_rows(np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4"), dim)

        def in_memory(i: int) -> list[int]:
            return _top_k_of(ids, unit @ _unit(queries[i % len(queries)]))

        same = all(
            [h.memory.id for h in api(store)(i)] == numpy_top(i) == in_memory(i)
            for store in (cached, uncached)
            for i in range(2)
        )
        # Two interleaved groups: the calls that read every row (hundreds of ms) a few times,
        # the in-memory ones (a few ms) often enough for their p95 to mean something.
        light_repeat = max(self.size.repeat * 5, self.size.heavy_repeat)
        heavy = time_interleaved(
            [_counting(f) for f in (api(uncached), fetch, numpy_top)],
            repeat=self.size.heavy_repeat,
            warmup=1,
        )
        light = time_interleaved(
            [_counting(f) for f in (api(cached), in_memory)], repeat=light_repeat, warmup=2
        )
        memvault, raw_sql, raw_numpy = (t.as_dict() for t in heavy)
        memvault_cached, floor = (t.as_dict() for t in light)
        return {
            "vectors": self.size.vectors,
            "dim": self.size.dim,
            "k": SIMILAR_K,
            "light_repeat": light_repeat,
            "sql": sql,
            "memvault": memvault,
            "memvault_cached": memvault_cached,
            "raw_sql": raw_sql,
            "raw_sql_plus_numpy": raw_numpy,
            "memvault_over_raw_sql": _ratios(memvault, raw_sql),
            "memvault_over_raw_sql_plus_numpy": _ratios(memvault, raw_numpy),
            "memvault_cached_over_raw_sql_plus_numpy": _ratios(memvault_cached, raw_numpy),
            "numpy_in_memory": floor,
            "memvault_cached_over_numpy_in_memory": _ratios(memvault_cached, floor),
            "same_top_k_as_raw": same,
            "note": "memvault: vector cache off, every call reads and decodes the embeddings "
            "like the raw variants (timed together, heavy_repeat rounds); memvault_cached: "
            "the store's default cache, warm (no write since the previous call), including "
            "reading the 10 hit rows; numpy_in_memory: unit vectors already in memory, one "
            "product and a partition (these two timed together, light_repeat rounds)",
        }


# -- helpers -----------------------------------------------------------------------------------
def _counting(call: Call) -> Callable[[], Any]:
    """A no-argument function calling `call` with 0, 1, 2, ...: each variant sees the same
    sequence of inputs."""
    counter = itertools.count()
    return lambda: call(next(counter))


def _copy_database(db: Database, path: Path) -> None:
    """A consistent copy of `db` at `path` (SQLite's online backup)."""
    target = driver.open_sqlite(path)
    try:
        db.sqlite_connection().backup(target)
    finally:
        target.close()


def _raw_connection(path: Path, *, autocommit: bool = True) -> driver.SQLiteConnection:
    """Plain sqlite3 with the settings that change the work SQLite does (foreign keys, WAL)."""
    conn = driver.open_sqlite(path, isolation_level=None if autocommit else "DEFERRED")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def _search_for(raw: driver.SQLiteConnection) -> tuple[str, Callable[[str, str], dict[str, Any]]]:
    """The search SQL at this schema version and a function making its parameters."""
    if raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_tenants'").fetchone() is None:
        return SHARED_FTS_SEARCH, lambda user_id, term: {
            "query": fts_words(term),
            "user_id": user_id,
            "limit": SEARCH_LIMIT,
        }
    keys = dict(raw.execute("SELECT owner, tenant FROM search_tenants").fetchall())

    def params(user_id: str, term: str) -> dict[str, Any]:
        query = match_expression(keys[user_id], term)
        return {"query": query, "user_id": user_id, "limit": SEARCH_LIMIT}

    return catalog.sql("memories.search"), params


def _like_params(user_id: str, term: str) -> tuple[str, str, str]:
    return (user_id, f"%{term}%", f"%{term}%")


def _plan(conn: driver.SQLiteConnection, sql: str, params: Any) -> list[str]:
    return [str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def _as_fields(row: dict[str, Any], vector: np.ndarray) -> dict[str, Any]:
    """A generated row as the fields a caller passes to create_many (the embedding as the
    NumPy array an embedding model returns)."""
    return {
        "title": row["title"],
        "content": row["content"],
        "memory_type": row["memory_type"],
        "importance": row["importance"],
        "tags": json.loads(row["tags"]),
        "embedding": vector,
        "is_archived": bool(row["is_archived"]),
    }


def _owned(row: dict[str, Any], user: str) -> dict[str, Any]:
    now = row["updated_at"]
    return {"user_id": user, "created_at": now, "updated_at": now}


def _unit(vector: np.ndarray) -> np.ndarray:
    unit: np.ndarray = (vector / np.linalg.norm(vector)).astype(np.float32)
    return unit


def _unit_rows(flat: np.ndarray, dim: int) -> np.ndarray:
    matrix = flat.reshape(-1, dim)
    unit: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return unit


def _top_k_of(ids: np.ndarray, scores: np.ndarray) -> list[int]:
    top = np.argpartition(-scores, SIMILAR_K - 1)[:SIMILAR_K]
    return [int(ids[i]) for i in sorted(top, key=lambda i: (-scores[i], ids[i]))]


def _numpy_top_k(rows: list[tuple[int, bytes]], query: np.ndarray, dim: int) -> list[int]:
    """The cosine top-k straight from fetched rows: the least work similar() can do."""
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
    scores = (matrix @ query) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    top = np.argpartition(-scores, SIMILAR_K - 1)[:SIMILAR_K]
    return [int(ids[i]) for i in sorted(top, key=lambda i: (-scores[i], ids[i]))]


def _ratios(numerator: dict[str, Any], denominator: dict[str, Any]) -> dict[str, float | None]:
    return {
        q: _rounded(ratio(numerator[f"{q}_ms"], denominator[f"{q}_ms"]))
        for q in ("p50", "p95", "p99")
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _with_ratios(queries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Add before ÷ after (and before ÷ after_002) per variant: above 1 means faster after."""
    for entry in queries.values():
        stages = entry["stages"]
        entry["before_over_after"] = {
            variant: _ratios(stages["before"][variant], stages["after"][variant])
            for variant in ("raw", "memvault")
            if variant in stages["before"]
        }
        entry["before_over_after_002"] = {
            variant: _ratios(stages["before"][variant], stages["after_002"][variant])
            for variant in ("raw", "memvault")
            if variant in stages["before"]
        }
    return queries


def _fts_vs_like(queries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The seed's LIKE scan against FTS5 search on the same data (newest schema)."""
    fts = queries["memories.search (FTS5)"]["stages"]["after"]
    like = queries["memories.search (seed LIKE scan)"]["stages"]["after"]
    return {
        "like_over_fts_raw": _ratios(like["raw"], fts["raw"]),
        "like_over_fts_memvault": _ratios(like["raw"], fts["memvault"]),
        "like_rows_mean": like["rows_mean"],
        "fts_rows_mean": fts["rows_mean"],
        "note": f"LIKE returns every substring match; FTS5 returns the best {SEARCH_LIMIT} "
        "whole-word matches, BM25-ranked",
    }


def _throughput(size: BenchSize, samples: dict[str, list[int]], embeddings: bool) -> dict[str, Any]:
    def side(ns: list[int]) -> dict[str, Any]:
        seconds = sum(ns) / 1e9
        return {
            "seconds": round(seconds, 3),
            "rows_per_s": round(size.vectors / seconds, 1),
            "batch": Timing.from_ns(ns).as_dict(),
        }

    sides = {name: side(ns) for name, ns in samples.items()}
    ours = sides["memvault"]["seconds"]
    return {
        "rows": size.vectors,
        "batch_size": size.batch,
        "dim": size.dim if embeddings else None,
        **sides,
        "memvault_over_raw": _rounded(ratio(ours, sides["raw"]["seconds"])),
        "memvault_over_raw_indexed": _rounded(ratio(ours, sides["raw_indexed"]["seconds"])),
        "note": "memvault validates each row and its embedding (given as a NumPy array), "
        "encodes it, and indexes the rows for search in the same transaction; raw runs "
        "executemany of the same INSERT with ready-made float32 BLOBs and leaves the rows "
        "queued for the search index; raw_indexed runs that executemany and then the search "
        "index's drain in one transaction (the same indexing work as create_many)",
    }


def _environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "sqlite": driver.SQLITE_VERSION,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def iter_rows(report: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(query, stage, variant, timing) for every timed query: the rows of a results table."""
    for name, entry in report["queries"].items():
        for stage, result in entry["stages"].items():
            for variant in ("raw", "memvault"):
                if variant in result:
                    yield name, stage, variant, result[variant]
