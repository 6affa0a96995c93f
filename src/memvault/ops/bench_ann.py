"""`memvault bench ann`: exact cosine top-10 against an IVF-flat index, on real text vectors.

The vectors are memvault's offline embeddings (wordllama, 256-d) of the standard library's
docstring and comment sentences (ops/textcorpus.py); a seeded shuffle holds some sentences
out as queries, so no query is one of the indexed vectors. Repeated vectors are kept once.
For each size (a share of the indexed set) the run builds an IVF-flat index (ops/ivf.py,
nlist = sqrt(n)) and times, query by query and interleaved:

- exact: memvault's own search (store.search.UnitVectors.top_k, the cached similar() path);
- floor: NumPy alone on the same matrix (one product, argpartition, sort of the 10);
- IVF at each nprobe.

All three read the one copy of the vectors the index holds (reordered list by list).

Recall@10 is judged against float64 exact cosine: a returned vector counts as a true
neighbour when its cosine is within float32 rounding of the 10th best (the ann-benchmarks
rule, with an epsilon of rounding size), so that with every list probed recall is exactly
1.0. The plain id overlap with memvault's exact top 10 is reported beside it.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memvault.embed.offline import MODEL, OfflineEmbedder
from memvault.ops import bench_ann_faiss
from memvault.ops.ivf import IvfFlat, default_nlist
from memvault.ops.measure import Timing, ratio
from memvault.ops.textcorpus import stdlib_sentences
from memvault.store.search import UnitVectors

K = 10
FLOAT32_UNIT = 2.0**-24


class CorpusTooSmall(ValueError):
    """Fewer distinct sentences than the queries plus the vectors searched need."""


@dataclass(frozen=True)
class Shape:
    """How much of the corpus a run indexes, how it queries, and which indexes it builds."""

    queries: int = 500
    vectors: int | None = None  # indexed vectors at the largest size; None: all the rest
    fractions: tuple[float, ...] = (1 / 16, 1 / 4, 1 / 2, 1.0)
    nprobes: tuple[int, ...] = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128)  # and nlist
    iterations: int = 20  # k-means Lloyd steps at most
    warmup: int = 10  # queries run untimed before each size
    seed: int = 11
    faiss: bool = True  # also faiss's IVF-flat and HNSW, when faiss is installed


@dataclass(frozen=True)
class Corpus:
    """Embedded sentences: the indexed matrix and the held-out queries."""

    matrix: np.ndarray  # float32 (n, dim)
    queries: np.ndarray  # float32 (q, dim)
    facts: dict[str, Any]


def tolerance(dim: int) -> float:
    """Twice the float32 rounding bound of a `dim`-term dot product of unit vectors."""
    return 2 * 2 * dim * FLOAT32_UNIT


def load_corpus(
    shape: Shape, progress: Callable[[str], None], texts: Sequence[str] | None = None
) -> Corpus:
    """Embed the stdlib's sentences (or `texts`) offline and split off the queries.

    Raises EmbeddingError (one line) when the offline embedder is not installed; it is
    tried on one sentence before the corpus is read. CorpusTooSmall when the queries
    would leave fewer than k + 1 vectors to search.
    """
    embedder = OfflineEmbedder()
    embedder.embed(["probe the offline embedder"], user_id="bench")
    started = time.perf_counter()
    sentences = list(stdlib_sentences() if texts is None else texts)
    read_s = time.perf_counter() - started
    progress(f"Embedding {len(sentences):,} sentences with {MODEL} ...")
    started = time.perf_counter()
    vectors = embedder.embed(sentences, user_id="bench")
    embed_s = time.perf_counter() - started
    _, first = np.unique(vectors, axis=0, return_index=True)
    distinct = vectors[np.sort(first)]
    order = np.random.default_rng(shape.seed).permutation(len(distinct))
    if len(distinct) < shape.queries + K + 1:
        raise CorpusTooSmall(
            f"{shape.queries} queries need at least {shape.queries + K + 1} distinct "
            f"sentences; the corpus has {len(distinct)}"
        )
    held, rest = order[: shape.queries], order[shape.queries :]
    rest = rest if shape.vectors is None else rest[: shape.vectors]
    facts = {
        "source": "Python standard library docstrings and comments (read with ast, not imported)",
        "model": MODEL,
        "sentences": len(sentences),
        "distinct_vectors": len(distinct),
        "indexed": len(rest),
        "queries": len(held),
        "dim": int(vectors.shape[1]),
        "read_seconds": round(read_s, 2),
        "embed_seconds": round(embed_s, 2),
    }
    return Corpus(np.ascontiguousarray(distinct[rest]), distinct[held], facts)


def numpy_floor(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Row positions of the k largest `matrix @ query`, best first: exact search's floor."""
    scores = matrix @ (query / np.linalg.norm(query)).astype(np.float32)
    top = np.argpartition(-scores, k - 1)[:k]
    best: np.ndarray = top[np.argsort(-scores[top], kind="stable")]
    return best


def recall(truth: np.ndarray, found: Sequence[int], k: int, tol: float) -> float:
    """Share of the k true neighbours found: a found row counts when its exact score
    `truth[row]` is within `tol` of the k-th best exact score."""
    kth = np.partition(truth, len(truth) - k)[len(truth) - k]
    return sum(1 for row in found if truth[row] >= kth - tol) / k


def run(
    shape: Shape, progress: Callable[[str], None], corpus: Corpus | None = None
) -> dict[str, Any]:
    """Embed (unless given `corpus`), then measure every size; the report as a dict."""
    started, load_before = time.perf_counter(), _load()
    corpus = load_corpus(shape, progress) if corpus is None else corpus
    sizes = sorted({max(K + 1, round(f * len(corpus.matrix))) for f in shape.fractions})
    results = []
    for n in sizes:
        progress(f"{n:,} vectors: building IVF-flat (nlist {default_nlist(n)}) and timing ...")
        results.append(measure_size(corpus.matrix[:n], corpus.queries, shape))
    return {
        "corpus": corpus.facts,
        "k": K,
        "tolerance": tolerance(corpus.matrix.shape[1]),
        "seed": shape.seed,
        "sizes": results,
        "crossover": crossover(results),
        "environment": {**_environment(), "load_before": load_before, "load_after": _load()},
        "seconds": round(time.perf_counter() - started, 1),
    }


def measure_size(matrix: np.ndarray, queries: np.ndarray, shape: Shape) -> dict[str, Any]:
    """Build the index over `matrix`, time every search over `queries`, judge recall."""
    n, dim = matrix.shape
    started = time.perf_counter()
    index = IvfFlat.build(
        np.arange(n, dtype=np.int64), matrix, default_nlist(n), iterations=shape.iterations,
        seed=shape.seed,
    )  # fmt: skip
    build_s = time.perf_counter() - started
    # Exact search reads the index's reordered copy: one copy of the vectors in memory, as
    # a store with an index would hold, so neither search is timed with a cold cache.
    exact = UnitVectors.build(index.ids, index.matrix)
    nprobes = sorted({min(p, index.nlist) for p in shape.nprobes} | {index.nlist})
    faiss = bench_ann_faiss.load() if shape.faiss else None
    others = (
        [] if faiss is None
        else bench_ann_faiss.searches(faiss, matrix, index.nlist, nprobes, K, shape.seed)
    )  # fmt: skip
    searches: list[Callable[[np.ndarray], Sequence[int]]] = [
        lambda q: [i for i, _ in exact.top_k(q, K)],
        lambda q: index.ids[numpy_floor(index.matrix, q, K)].tolist(),
        *[_ivf_search(index, p) for p in nprobes],
        *[o.search for o in others],
    ]
    for q in queries[: shape.warmup]:
        for search in searches:
            search(q)
    samples, found = _time_per_query(searches, queries)
    recalls = _recalls(matrix, queries, found, tolerance(dim))
    timings = [Timing.from_ns(ns) for ns in samples]
    rows = [
        _row(timings[i], recalls[i], found[i], found[0], timings[0], timings[1])
        for i in range(2, len(searches))
    ]
    ivf_rows, faiss_rows = rows[: len(nprobes)], rows[len(nprobes) :]
    for nprobe, row in zip(nprobes, ivf_rows, strict=True):
        row.update(nprobe=nprobe, vectors_scored_share=_scored_share(index, queries, nprobe))
    for other, row in zip(others, faiss_rows, strict=True):
        row.update(index=other.index, build_seconds=round(other.build_seconds, 3),
                   overhead_bytes=other.overhead_bytes, **{other.param: other.value})  # fmt: skip
    return {
        "vectors": n,
        "floats": n * dim,
        "nlist": index.nlist,
        "list_sizes": {
            "min": int(np.diff(index.offsets).min()),
            "max": int(np.diff(index.offsets).max()),
        },
        "build_seconds": round(build_s, 3),
        "vectors_bytes": int(matrix.nbytes),
        "index_overhead_bytes": index.overhead_bytes,
        "exact": _exact_row(timings[0], timings[1], recalls[0], found[0], found[1], n * dim),
        "ivf": ivf_rows,
        "faiss": faiss_rows if faiss is not None else None,
    }


def _row(
    timing: Timing, recalls: list[float], got: list[list[int]], exact_ids: list[list[int]],
    memvault: Timing, floor: Timing,
) -> dict[str, Any]:  # fmt: skip
    """One approximate search's recall, id overlap with exact, latency and speed-ups."""
    overlap = [len(set(g) & set(e)) / K for g, e in zip(got, exact_ids, strict=True)]
    return {
        "recall": _mean(recalls),
        "recall_id_overlap": _mean(overlap),
        "timing": timing.as_dict(),
        "speedup_over_memvault": _speedups(memvault, timing),
        "speedup_over_floor": _speedups(floor, timing),
    }


def _exact_row(
    memvault: Timing, floor: Timing, recalls: list[float], exact_ids: list[list[int]],
    floor_ids: list[list[int]], floats: int,
) -> dict[str, Any]:  # fmt: skip
    same = [float(e == f) for e, f in zip(exact_ids, floor_ids, strict=True)]
    return {
        "memvault": memvault.as_dict(),
        "numpy_floor": floor.as_dict(),
        "memvault_over_floor": _round(ratio(memvault.p50_ms, floor.p50_ms)),
        "ms_per_million_floats": round(memvault.p50_ms / (floats / 1e6), 4),
        "recall": _mean(recalls),
        "same_top10_as_floor": _mean(same),
    }


def crossover(
    sizes: list[dict[str, Any]], targets: Sequence[float] = (0.9, 0.95, 0.99)
) -> list[dict[str, Any]]:
    """Per size, index and recall target: the cheapest setting reaching it, its speed-up."""
    rows = []
    for size in sizes:
        faiss = size["faiss"] or []
        indexes = {
            "NumPy IVF-flat": size["ivf"],
            **{name: [r for r in faiss if r["index"] == name] for name in _names(faiss)},
        }
        for name, settings in indexes.items():
            for target in targets:
                rows.append(_cheapest(size, name, settings, target))
    return rows


def _names(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["index"] for r in rows))


def _cheapest(
    size: dict[str, Any], name: str, settings: list[dict[str, Any]], target: float
) -> dict[str, Any]:
    param = "nprobe" if "nprobe" in settings[0] else "efSearch"
    enough = [r for r in settings if r["recall"] >= target]
    best = min(enough, key=lambda r: r[param]) if enough else None
    return {
        "vectors": size["vectors"],
        "floats": size["floats"],
        "index": name,
        "target_recall": target,
        "setting": None if best is None else f"{param} {best[param]}",
        "recall": None if best is None else best["recall"],
        "exact_p50_ms": size["exact"]["memvault"]["p50_ms"],
        "index_p50_ms": None if best is None else best["timing"]["p50_ms"],
        "speedup_p50": None if best is None else best["speedup_over_memvault"]["p50"],
    }


def _ivf_search(index: IvfFlat, nprobe: int) -> Callable[[np.ndarray], Sequence[int]]:
    return lambda q: [i for i, _ in index.search(q, K, nprobe)]


def _time_per_query(
    searches: Sequence[Callable[[np.ndarray], Sequence[int]]], queries: np.ndarray
) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Each search once per query, in turn, so a slow spell falls on all alike."""
    samples: list[list[int]] = [[] for _ in searches]
    found: list[list[list[int]]] = [[] for _ in searches]
    for q in queries:
        for search, ns, got in zip(searches, samples, found, strict=True):
            t0 = time.perf_counter_ns()
            result = search(q)
            ns.append(time.perf_counter_ns() - t0)
            got.append(list(result))
    return samples, found


def _scored_share(index: IvfFlat, queries: np.ndarray, nprobe: int) -> float:
    """Mean share of the vectors a query at `nprobe` scores (lists are uneven)."""
    sizes = np.diff(index.offsets)
    near = queries @ index.centroids.T
    probed = np.argsort(-near, axis=1)[:, :nprobe]
    return round(float(sizes[probed].sum(axis=1).mean() / index.offsets[-1]), 4)


def _speedups(exact: Timing, ivf: Timing) -> dict[str, float | None]:
    return {
        "p50": _round(ratio(exact.p50_ms, ivf.p50_ms)),
        "p95": _round(ratio(exact.p95_ms, ivf.p95_ms)),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _mean(values: Sequence[float]) -> float:
    """The mean, unrounded: a recall of 0.99996 must not print as 1.0 in the JSON."""
    return float(np.mean(values))


def _recalls(
    matrix: np.ndarray, queries: np.ndarray, found: list[list[list[int]]], tol: float
) -> list[list[float]]:
    """Per search, per query: recall against float64 exact cosine (one query at a time)."""
    rows = matrix.astype(np.float64)
    unit = queries.astype(np.float64) / np.linalg.norm(queries, axis=1)[:, None]
    out: list[list[float]] = [[] for _ in found]
    for j, q in enumerate(unit):
        truth = rows @ q
        for per_search, got in zip(out, found, strict=True):
            per_search.append(recall(truth, got[j], K, tol))
    return out


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # NumPy's BLAS threads by default on one core each; these variables limit them.
        "blas_threads_env": {
            name: os.environ.get(name) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
        },
    }
