"""Measure the memory store at scale: bulk insert throughput, listing, search and similarity.

    python scripts/store_bench.py                      # 100,000 memories, 384-d embeddings
    python scripts/store_bench.py --memories 20000 --dim 64 --json

One user gets --memories memories (with embeddings; 10% archived), a second user a tenth as
many, so every query also has another tenant's rows to ignore. Baselines are measured in the
same run: row-by-row create() against create_many, and the seed service's `LIKE '%word%'`
scan against the FTS5 search. Figures are medians and 95th percentiles over --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from memvault import MemoryStore, connect
from memvault.ops.measure import percentile

# The seed service searched with a LIKE scan; kept here only as the baseline to beat.
SEED_LIKE_SEARCH = (
    "SELECT id, title, content FROM memories WHERE user_id = ? AND is_archived = 0 "
    "AND (title LIKE ? OR content LIKE ? OR tags LIKE ?) ORDER BY updated_at DESC LIMIT ?"
)


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    """Pronounceable made-up words, so word frequencies are under our control."""
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "an", "el", "or"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def make_items(
    rng: random.Random, words: list[str], weights: list[float], count: int, dim: int, start: int
) -> list[dict[str, Any]]:
    """`count` memories: Zipf-distributed words, random unit-ish embeddings, 10% archived."""
    vectors = np.random.default_rng(start).normal(size=(count, dim)).astype(np.float32)
    items = []
    for i in range(count):
        text = rng.choices(words, weights, k=30)
        items.append(
            {
                "title": " ".join(text[:4]),
                "content": " ".join(text[4:]),
                "memory_type": "LEARNED",
                "importance": (start + i) % 11 / 10,
                "tags": text[:2],
                "embedding": vectors[i].tolist(),
                "is_archived": (start + i) % 10 == 0,
            }
        )
    return items


def timed(func: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Median and 95th percentile of `repeat` calls, in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(percentile(samples, 50), 3),
        "p95_ms": round(percentile(samples, 95), 3),
    }


def bulk_load(
    store: MemoryStore,
    user_id: str,
    total: int,
    args: argparse.Namespace,
    rng: random.Random,
    words: list[str],
    weights: list[float],
) -> tuple[float, float]:
    """Insert `total` memories with create_many in batches; (wall, CPU) seconds inside it."""
    wall = cpu = 0.0
    for start in range(0, total, args.batch):
        items = make_items(rng, words, weights, min(args.batch, total - start), args.dim, start)
        started, started_cpu = time.perf_counter(), time.process_time()
        store.memories.create_many(user_id, items)
        wall += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        print(f"  loaded {start + len(items):,}/{total:,}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return wall, cpu


def run(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    rng = random.Random(42)
    words = vocabulary(rng)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]  # Zipf: few common, many rare
    results: dict[str, Any] = {
        "memories": args.memories,
        "dim": args.dim,
        "batch": args.batch,
        "vector_cache_mb": args.vector_cache_mb,
    }
    with MemoryStore.open(path, vector_cache_mb=args.vector_cache_mb) as store:
        main_user = store.users.create("bench@example.com")[0].id
        other_user = store.users.create("other@example.com")[0].id
        single_user = store.users.create("single@example.com")[0].id

        # Baseline: one create() per row (its own transaction).
        singles = make_items(rng, words, weights, args.single, args.dim, 10**9)
        started, started_cpu = time.perf_counter(), time.process_time()
        for item in singles:
            store.memories.create(single_user, **item)
        single_wall = time.perf_counter() - started
        single_cpu = time.process_time() - started_cpu

        wall, cpu = bulk_load(store, main_user, args.memories, args, rng, words, weights)
        bulk_load(store, other_user, args.memories // 10, args, rng, words, weights)
        results["insert"] = {
            "create_many_rows_per_s": round(args.memories / wall),
            "create_many_rows_per_cpu_s": round(args.memories / cpu),
            "create_many_total_s": round(wall, 2),
            "create_rows_per_s": round(args.single / single_wall),
            "create_rows_per_cpu_s": round(args.single / single_cpu),
            "ratio": round(single_wall / args.single * args.memories / wall, 1),
        }
        store.db.execute("ANALYZE")

        # Zipf ranks: words[0] is in ~98% of memories (a stop word), words[30] in ~10%,
        # words[2500] in a few hundred.
        common, medium, rare = words[0], words[30], words[len(words) // 2]
        results["list"] = {
            "first_page_50": timed(lambda: store.memories.list(main_user, 50), args.repeat),
            "page_at_offset_5000": timed(
                lambda: store.memories.list(main_user, 50, 5000), args.repeat
            ),
        }
        search: dict[str, Any] = {}
        for label, text in (
            ("common_word", common),
            ("medium_word", medium),
            ("rare_word", rare),
            ("two_words", f"{medium} {words[3]}"),
        ):
            hits = len(store.memories.search(main_user, text, 20))
            search[label] = {
                "query": text,
                "hits": hits,
                **timed(lambda t=text: store.memories.search(main_user, t, 20), args.repeat),
            }
        like_db = connect(str(path))
        try:
            for label, text in (
                ("common_word", common),
                ("medium_word", medium),
                ("rare_word", rare),
            ):
                pattern = f"%{text}%"
                search[f"seed_like_{label}"] = timed(
                    lambda p=pattern: like_db.query(SEED_LIKE_SEARCH, (main_user, p, p, p, 20)),
                    args.repeat,
                )
        finally:
            like_db.close()
        for label in ("common_word", "medium_word", "rare_word"):
            search[f"like_over_fts_{label}"] = round(
                search[f"seed_like_{label}"]["median_ms"] / search[label]["median_ms"], 2
            )
        results["search"] = search
        query = np.random.default_rng(7).normal(size=args.dim).astype(np.float32)
        uncached = MemoryStore(store.db, vector_cache_mb=0)
        store.memories.similar(main_user, query, 10)  # fill the cache before timing it
        results["similar"] = {
            "top_10_uncached": timed(
                lambda: uncached.memories.similar(main_user, query, 10), args.vector_repeat
            ),
            "top_10_cached": timed(
                lambda: store.memories.similar(main_user, query, 10), args.repeat
            ),
            "hybrid_top_10_cached": timed(
                lambda: store.memories.hybrid(main_user, medium, query, 10), args.repeat
            ),
        }
        results["database_mb"] = round(path.stat().st_size / 1e6, 1)
    return results


def print_report(r: dict[str, Any]) -> None:
    ins = r["insert"]
    print(
        f"memvault store benchmark: {r['memories']:,} memories for one user "
        f"(+{r['memories'] // 10:,} for another), {r['dim']}-d embeddings, "
        f"database {r['database_mb']} MB"
    )
    print(
        f"insert   create_many: {ins['create_many_rows_per_s']:,} rows/s wall, "
        f"{ins['create_many_rows_per_cpu_s']:,} rows/CPU-s "
        f"({ins['create_many_total_s']} s, batches of {r['batch']:,})"
    )
    print(
        f"insert   create() one by one: {ins['create_rows_per_s']:,} rows/s wall, "
        f"{ins['create_rows_per_cpu_s']:,} rows/CPU-s; create_many is {ins['ratio']}x faster"
    )
    for name, fig in r["list"].items():
        print(f"list     {name:<22} median {fig['median_ms']:>8} ms   p95 {fig['p95_ms']:>8} ms")
    for name, fig in r["search"].items():
        if isinstance(fig, dict):
            extra = f"   ({fig['hits']} hits for {fig['query']!r})" if "hits" in fig else ""
            print(
                f"search   {name:<22} median {fig['median_ms']:>8} ms   "
                f"p95 {fig['p95_ms']:>8} ms{extra}"
            )
        else:
            print(f"search   {name:<28} {fig}  (LIKE time / FTS time; >1: FTS is faster)")
    for name, fig in r["similar"].items():
        print(f"vector   {name:<22} median {fig['median_ms']:>8} ms   p95 {fig['p95_ms']:>8} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=1000, help="rows for the create() baseline")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--vector-repeat", type=int, default=10)
    parser.add_argument(
        "--vector-cache-mb",
        type=int,
        default=256,
        help="similar()'s cache bound; a user's vectors take memories x dim x 4 bytes",
    )
    parser.add_argument("--db", type=Path, help="database file (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.db or Path(folder) / "bench.db"
        if path.exists():
            parser.error(f"--db {path} already exists; give a new file")
        results = run(args, path)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_report(results)


if __name__ == "__main__":
    main()
