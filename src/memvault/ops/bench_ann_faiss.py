"""faiss's IVF-flat and HNSW beside the NumPy IVF in `memvault bench ann`, when faiss is installed.

faiss is not a memvault dependency: `pip install faiss-cpu` to include it. Its IndexIVFFlat
is the same structure as ops/ivf.py in C++ (so it shows what the NumPy version's Python
overhead costs); IndexHNSWFlat is a graph index, the other common choice. Both run on one
thread, as memvault's exact search does with one BLAS thread, and index the unit vectors in
the matrix's own order, so a returned label is a row position.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

HNSW_LINKS = 32  # M: neighbours per node
HNSW_EF_SEARCH = (16, 32, 64, 128, 256)


@dataclass(frozen=True)
class FaissSearch:
    """One faiss index at one search setting: a callable from query to row positions."""

    index: str  # "faiss IVF-flat" or "faiss HNSW"
    param: str  # "nprobe" or "efSearch"
    value: int
    search: Callable[[np.ndarray], Sequence[int]]
    build_seconds: float
    overhead_bytes: int  # the serialized index beyond the float32 vectors


def load() -> Any | None:
    """The faiss module on one thread, or None when it is not installed."""
    try:
        faiss = importlib.import_module("faiss")
    except ImportError:
        return None
    faiss.omp_set_num_threads(1)
    return faiss


def searches(
    faiss: Any, matrix: np.ndarray, nlist: int, nprobes: Sequence[int], k: int, seed: int
) -> list[FaissSearch]:
    """Build both indexes over `matrix` and one search per setting."""
    unit = np.ascontiguousarray(matrix / np.linalg.norm(matrix, axis=1)[:, None], np.float32)
    out: list[FaissSearch] = []
    started = time.perf_counter()
    quantizer = faiss.IndexFlatIP(unit.shape[1])
    ivf = faiss.IndexIVFFlat(quantizer, unit.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = seed
    ivf.train(unit)
    ivf.add(unit)
    built, extra = time.perf_counter() - started, _overhead(faiss, ivf, unit)
    for nprobe in nprobes:
        search = _search(faiss.SearchParametersIVF(nprobe=nprobe), ivf, k)
        out.append(FaissSearch("faiss IVF-flat", "nprobe", nprobe, search, built, extra))
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(unit.shape[1], HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(unit)
    built, extra = time.perf_counter() - started, _overhead(faiss, hnsw, unit)
    for ef in HNSW_EF_SEARCH:
        search = _search(faiss.SearchParametersHNSW(efSearch=ef), hnsw, k)
        out.append(FaissSearch("faiss HNSW", "efSearch", ef, search, built, extra))
    return out


def _search(params: Any, index: Any, k: int) -> Callable[[np.ndarray], Sequence[int]]:
    def run(query: np.ndarray) -> Sequence[int]:
        q = (query / np.linalg.norm(query)).astype(np.float32)[None, :]
        _, labels = index.search(q, k, params=params)
        return [int(i) for i in labels[0] if i >= 0]

    return run


def _overhead(faiss: Any, index: Any, unit: np.ndarray) -> int:
    return int(faiss.serialize_index(index).nbytes - unit.nbytes)
