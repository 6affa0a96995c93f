"""`memvault bench`'s tenant section: many tenants of very different sizes in one file.

The shape of the issue's measurements: `tenants` users, one holding 50% of the memories,
one 1%, the rest sharing 49%; 24 words per memory from a 5,000-word Zipf vocabulary;
float32 embeddings of `dim` numbers. The file is bulk-built (executemany in big
transactions, the memories' B-tree indexes dropped first and made again after; the
full-text triggers stay, so the index is exactly what the store's writes make).

Then, per tenant size (the 50% tenant, the 1% tenant, small tenants in turn), p50/p95/p99
of: list, recency list (updated_at DESC), search for a rare, a mid and a common word,
similar() cached and uncached, hybrid; each beside raw sqlite3 on the same SQL (and the
seed's LIKE scan for search), timed in interleaved rounds of the same run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect, driver
from memvault.migrations import Migrator, load_migrations
from memvault.ops.benchdata import MS_PER_YEAR, YEAR_START, pseudo_words, zipf_weights
from memvault.ops.measure import ratio, time_interleaved
from memvault.store import MemoryStore, catalog
from memvault.store.search_index import match_expression

VOCABULARY = 5000
WORDS_PER_MEMORY = 24
LIMIT = 10  # search and similar: top 10, as in the table
PAGE = 50  # listing
BUILD_BATCH = 50_000
# Zipf ranks whose words hold ~94%, ~8% and ~0.13% of the memories (24 draws, s = 1).
WORD_RANKS = {"common": 0, "mid": 31, "rare": 2000}
SEED_LIKE_SEARCH = (
    "SELECT id, title, content FROM memories WHERE user_id = ? AND is_archived = 0 "
    "AND (title LIKE ? OR content LIKE ? OR tags LIKE ?) ORDER BY updated_at DESC LIMIT ?"
)
# The recency listing (issue 8 adds memories.list(order="updated") to the store; until it is
# there, the SQL is measured alone).
INSERT_SQL = (
    "INSERT INTO memories (user_id, title, content, memory_type, importance, tags, entity_ids, "
    "embedding, metadata, is_archived, created_at, updated_at) "
    "VALUES (?, ?, ?, 'MEMORY', 0.5, ?, '[]', ?, NULL, ?, ?, ?)"
)

Progress = Callable[[str], None]


LISTINGS = ("list", "recency list")  # timed list_repeat rounds


@dataclass(frozen=True)
class TenantShape:
    """How many memories over how many tenants, and how often each query is timed."""

    memories: int
    tenants: int
    dim: int
    repeat: int  # timed rounds for the small and 1% tenants
    big_repeat: int  # for the 50% tenant, whose calls can take a second
    list_repeat: int  # for the listings of every tenant (a page is under a millisecond)


@dataclass(frozen=True)
class Tenants:
    """Who holds what: the big (50%) tenant, the 1% tenant, and the small ones."""

    big: str
    one_percent: str
    small: list[str]

    def classes(self) -> dict[str, list[str]]:
        return {"50%": [self.big], "1%": [self.one_percent], "small": self.small[:20]}


def run_tenant_bench(
    folder: Path, shape: TenantShape, seed: int, progress: Progress
) -> dict[str, Any]:
    """Build the file in `folder`, time every query per tenant class, return the report."""
    path = folder / "tenants.db"
    started = time.perf_counter()
    tenants, words = build(path, shape, seed, progress)
    build_s = time.perf_counter() - started
    progress(f"tenants: built {shape.memories:,} memories in {build_s:.0f} s; timing")
    report = _Timer(path, shape, tenants, words, seed).run(progress)
    return {
        "memories": shape.memories,
        "tenants": shape.tenants,
        "dim": shape.dim,
        "words_per_memory": WORDS_PER_MEMORY,
        "vocabulary": VOCABULARY,
        "build_seconds": round(build_s, 1),
        "file_bytes": path.stat().st_size,
        "words": words,
        **report,
    }


# -- the file ------------------------------------------------------------------------------
def build(
    path: Path, shape: TenantShape, seed: int, progress: Progress
) -> tuple[Tenants, dict[str, dict[str, Any]]]:
    """The migrated schema, the users, then the memories in batches, indexes made last."""
    db = connect(str(path))
    try:
        Migrator(db, load_migrations(BUILTIN_MIGRATIONS), applied_by="memvault bench").up()
    finally:
        db.close()
    conn = driver.open_sqlite(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")  # a scratch file: durability is not measured
        conn.execute("PRAGMA cache_size = -262144")
        tenants = _add_users(conn, shape.tenants)
        indexes = _drop_memory_indexes(conn)
        rng = np.random.default_rng(seed)
        vocabulary = pseudo_words(np.random.default_rng(seed + 1), VOCABULARY)
        owners = _owners(rng, shape, tenants)
        for done in _insert_memories(conn, rng, vocabulary, owners, shape.dim):
            progress(f"tenants: {done:,}/{shape.memories:,} memories inserted")
        progress("tenants: making the memories' indexes and statistics")
        for sql in indexes:
            conn.execute(sql)
        conn.execute("ANALYZE")
        words = _word_report(conn, vocabulary, tenants)
    finally:
        conn.close()
    progress("tenants: indexing the queued memories for tenant-scoped search (migration 009)")
    with MemoryStore.open(path, migrate=False) as store, store.db.atomic():
        store.search_index.drain()  # the insert triggers queued every row
    return tenants, words


def _add_users(conn: driver.SQLiteConnection, count: int) -> Tenants:
    ids = [f"tenant-{i:04d}" for i in range(count)]
    now = "2025-01-01T00:00:00.000Z"
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO users (id, email, is_active, created_at, updated_at) VALUES (?, ?, 1, ?, ?)",
        [(uid, f"{uid}@bench.example", now, now) for uid in ids],
    )
    conn.execute("COMMIT")
    return Tenants(big=ids[0], one_percent=ids[1], small=ids[2:])


def _drop_memory_indexes(conn: driver.SQLiteConnection) -> list[str]:
    """Drop the memories table's B-tree indexes (made again after the load); their SQL."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'memories' "
        "AND sql IS NOT NULL"
    ).fetchall()
    for name, _sql in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _name, sql in rows]


def _owners(rng: np.random.Generator, shape: TenantShape, tenants: Tenants) -> np.ndarray:
    """Tenant index (into [big, 1%, small...]) of every memory, shuffled: tenants interleave."""
    n = shape.memories
    big, one = n // 2, n // 100
    small = np.arange(n - big - one) % len(tenants.small) + 2
    owners = np.concatenate([np.zeros(big, np.int32), np.ones(one, np.int32), small])
    rng.shuffle(owners)
    return owners


def _insert_memories(
    conn: driver.SQLiteConnection,
    rng: np.random.Generator,
    vocabulary: list[str],
    owners: np.ndarray,
    dim: int,
) -> Iterator[int]:
    ids = ["tenant-0000", "tenant-0001", *(f"tenant-{i:04d}" for i in range(2, owners.max() + 1))]
    weights = zipf_weights(len(vocabulary))
    words = np.asarray(vocabulary, dtype=object)
    for start in range(0, len(owners), BUILD_BATCH):
        count = min(BUILD_BATCH, len(owners) - start)
        picks = words[rng.choice(len(vocabulary), size=(count, WORDS_PER_MEMORY), p=weights)]
        vectors = rng.standard_normal((count, dim), dtype=np.float32)
        offsets = np.sort(rng.integers(0, MS_PER_YEAR, size=(count, 2)), axis=1)
        stamps = np.datetime_as_string(YEAR_START + offsets.astype("timedelta64[ms]"), unit="ms")
        archived = rng.random(count) < 0.1
        rows = [
            (
                ids[owners[start + i]], " ".join(p[:4]), " ".join(p[4:]),
                f'["{p[0]}","{p[1]}"]', vectors[i].tobytes(), int(archived[i]),
                stamps[i, 0] + "Z", stamps[i, 1] + "Z",
            )
            for i, p in enumerate(picks.tolist())
        ]  # fmt: skip
        conn.execute("BEGIN")
        conn.executemany(INSERT_SQL, rows)
        conn.execute("COMMIT")
        yield start + count


def _word_report(
    conn: driver.SQLiteConnection, vocabulary: list[str], tenants: Tenants
) -> dict[str, dict[str, Any]]:
    """The rare, mid and common words and how many memories hold each (all tenants)."""
    total = conn.execute("SELECT count(*) FROM memories").fetchone()[0]
    out = {}
    for label, rank in WORD_RANKS.items():
        word = vocabulary[rank]
        hits = conn.execute(  # words are single-space separated in title and content
            "SELECT count(*) FROM memories WHERE (' ' || title || ' ' || content || ' ') "
            "LIKE '% ' || ? || ' %'",
            (word,),
        ).fetchone()[0]
        out[label] = {"word": word, "rank": rank + 1, "memories": hits, "share": hits / total}
    return out


# -- the timings ---------------------------------------------------------------------------
class _Timer:
    """The store (cached and uncached) and a raw connection on the built file."""

    def __init__(
        self,
        path: Path,
        shape: TenantShape,
        tenants: Tenants,
        words: dict[str, dict[str, Any]],
        seed: int,
    ) -> None:
        self.shape = shape
        self.tenants = tenants
        self.words = {label: w["word"] for label, w in words.items()}
        self.store = MemoryStore.open(str(path))
        self.uncached = MemoryStore(connect(str(path)), vector_cache_mb=0)
        self.raw = driver.open_sqlite(path, isolation_level=None)
        self.queries = np.random.default_rng(seed + 2).standard_normal((4, shape.dim), "f4")

    def run(self, progress: Progress) -> dict[str, Any]:
        try:
            return {
                "classes": {
                    label: self._class(label, users, progress)
                    for label, users in self.tenants.classes().items()
                },
            }
        finally:
            self.raw.close()
            self.uncached.close()
            self.store.close()

    def _class(self, label: str, users: list[str], progress: Progress) -> dict[str, Any]:
        repeat = self.shape.big_repeat if label == "50%" else self.shape.repeat
        rows = self.raw.execute(
            "SELECT count(*) FROM memories WHERE user_id = ?", (users[0],)
        ).fetchone()[0]
        out: dict[str, Any] = {"tenants_timed": len(users), "memories_of_first": rows}
        for name, variants in self._operations(users).items():
            progress(f"tenants: {label} tenant: {name}")
            labels = list(variants)
            rounds = self.shape.list_repeat if name in LISTINGS else repeat
            timings = time_interleaved(
                [_counting(variants[v]) for v in labels], repeat=rounds, warmup=1
            )
            result: dict[str, Any] = {v: t.as_dict() for v, t in zip(labels, timings, strict=True)}
            if "memvault" in result:
                for other in labels[1:]:
                    result[f"memvault_over_{other}"] = _ratios(result["memvault"], result[other])
            out[name] = result
        return out

    def _operations(self, users: list[str]) -> dict[str, dict[str, Callable[[int], Any]]]:
        store, uncached, raw, queries = self.store, self.uncached, self.raw, self.queries

        def user(i: int) -> str:
            return users[i % len(users)]

        def vector(i: int) -> np.ndarray:
            chosen: np.ndarray = queries[i % len(queries)]
            return chosen

        page = {"limit": PAGE, "offset": 0}
        list_sql = catalog.sql("memories.list")
        ops: dict[str, dict[str, Callable[[int], Any]]] = {
            "list": {
                "memvault": lambda i: store.memories.list(user(i), limit=PAGE),
                "raw": lambda i: raw.execute(list_sql, {"user_id": user(i), **page}).fetchall(),
            },
            "recency list": _recency(store, raw, user),
        }
        for label, word in self.words.items():
            ops[f"search {label} word"] = _search_variants(store, raw, user, word)
        candidates = catalog.sql("memories.similar_candidates")
        hit_rows = catalog.sql("memories.get_many")

        def fetch_numpy(i: int) -> list[Any]:
            """The same work similar() returns: the candidates' top 10 by cosine, then those
            10 rows (the store's own SQL both times), as tuples."""
            rows = raw.execute(candidates, {"user_id": user(i)}).fetchall()
            top = _numpy_top_k(rows, vector(i), self.shape.dim)
            wanted = {"user_id": user(i), "ids": json.dumps(top)}
            return raw.execute(hit_rows, wanted).fetchall()

        ops["similar (vector cache warm)"] = {
            "memvault": lambda i: store.memories.similar(user(i), vector(i), limit=LIMIT),
            "raw_fetch_numpy": fetch_numpy,
        }
        ops["similar (no vector cache)"] = {
            "memvault": lambda i: uncached.memories.similar(user(i), vector(i), limit=LIMIT),
            "raw_fetch_numpy": fetch_numpy,
        }
        common = self.words["mid"]
        ops["hybrid"] = {
            "memvault": lambda i: store.memories.hybrid(user(i), common, vector(i), limit=LIMIT),
        }
        return ops


def _search_variants(
    store: MemoryStore, raw: driver.SQLiteConnection, user: Callable[[int], str], word: str
) -> dict[str, Callable[[int], Any]]:
    """memvault's search, the same SQL raw, and the seed's LIKE scan, for one word."""
    sql, like = catalog.sql("memories.search"), f"%{word}%"
    keys = dict(raw.execute("SELECT owner, tenant FROM search_tenants").fetchall())

    def ours(i: int) -> Any:
        return store.memories.search(user(i), word, limit=LIMIT)

    def same_sql(i: int) -> Any:  # the store's search SQL alone, its tenant key known
        query = match_expression(keys[user(i)], word)
        return raw.execute(sql, {"query": query, "user_id": user(i), "limit": LIMIT}).fetchall()

    def seed_like(i: int) -> Any:
        return raw.execute(SEED_LIKE_SEARCH, (user(i), like, like, like, LIMIT)).fetchall()

    return {"memvault": ours, "raw": same_sql, "seed_like": seed_like}


def _recency(
    store: MemoryStore, raw: driver.SQLiteConnection, user: Callable[[int], str]
) -> dict[str, Callable[[int], Any]]:
    """The recency listing: the store's call when it has one, and the SQL."""
    page = {"limit": PAGE, "offset": 0}
    variants: dict[str, Callable[[int], Any]] = {}
    recency_sql = catalog.sql("memories.list_by_updated")  # the store's own SQL, raw
    variants["memvault"] = lambda i: store.memories.list(user(i), limit=PAGE, order="updated")
    variants["raw"] = lambda i: raw.execute(recency_sql, {"user_id": user(i), **page}).fetchall()
    return variants


def _numpy_top_k(rows: list[tuple[int, bytes]], query: np.ndarray, dim: int) -> list[int]:
    """Cosine top-k straight from fetched rows: the least work similar() can do uncached."""
    if not rows:
        return []
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
    scores = (matrix @ query) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    k = min(LIMIT, len(rows))
    top = np.argpartition(-scores, k - 1)[:k]
    return [int(ids[i]) for i in sorted(top, key=lambda i: (-scores[i], ids[i]))]


def _counting(call: Callable[[int], Any]) -> Callable[[], Any]:
    counter = iter(range(1 << 62))
    return lambda: call(next(counter))


def _ratios(numerator: dict[str, Any], denominator: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for q in ("p50", "p95", "p99"):
        value = ratio(numerator[f"{q}_ms"], denominator[f"{q}_ms"])
        out[q] = None if value is None else round(value, 3)
    return out
