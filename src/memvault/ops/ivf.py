"""An IVF-flat index in NumPy, for measuring what approximate vector search would buy.

Spherical k-means (fixed seed) cuts unit vectors into `nlist` lists around unit centroids;
the vectors are stored reordered, list after list. A query scores the centroids, probes the
`nprobe` best lists and ranks only their vectors by cosine (exactly, within those lists).
With `nprobe == nlist` every vector is ranked, so the answer is exact search's. This is the
structure faiss calls IndexIVFFlat; memvault does not search with it (its search is exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TRAIN_POINTS_PER_LIST = 256  # as faiss: k-means trains on at most 256 points per list


def default_nlist(count: int) -> int:
    """About sqrt(count) lists, at least one."""
    return max(1, round(math.sqrt(count)))


def assign(matrix: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The index of each row's most cosine-similar centroid (rows and centroids unit)."""
    labels = np.empty(len(matrix), dtype=np.int64)
    step = 8192  # bounds the (step, nlist) score block
    for start in range(0, len(matrix), step):
        block = matrix[start : start + step] @ centroids.T
        labels[start : start + step] = block.argmax(axis=1)
    return labels


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: np.ndarray = (matrix / np.where(norms > 0, norms, 1)).astype(np.float32)
    return unit


def spherical_kmeans(matrix: np.ndarray, nlist: int, *, iterations: int, seed: int) -> np.ndarray:
    """`nlist` unit centroids of unit `matrix` rows: seeded random start, then Lloyd steps
    on cosine; an emptied list is re-seeded with the row farthest from its centroid."""
    rng = np.random.default_rng(seed)
    centroids = matrix[rng.choice(len(matrix), nlist, replace=False)].copy()
    for _ in range(iterations):
        labels = assign(matrix, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, matrix)
        counts = np.bincount(labels, minlength=nlist)
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            fit = np.einsum("ij,ij->i", matrix, centroids[labels])
            sums[empty] = matrix[np.argsort(fit)[: empty.size]]
        new = _unit_rows(sums)
        if np.array_equal(new, centroids):
            break
        centroids = new
    return centroids


@dataclass(frozen=True)
class IvfFlat:
    """Unit centroids, and the vectors (with their ids) stored list after list."""

    centroids: np.ndarray  # float32 (nlist, dim), unit rows
    offsets: np.ndarray  # int64 (nlist + 1,): list i is rows offsets[i]:offsets[i + 1]
    matrix: np.ndarray  # float32 (n, dim), the vectors reordered by list
    ids: np.ndarray  # int64 (n,), the id of each reordered row
    inv_norms: np.ndarray  # float32 (n,), 1/|row| of each reordered row

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        matrix: np.ndarray,
        nlist: int,
        *,
        iterations: int = 20,
        seed: int = 0,
    ) -> IvfFlat:
        """Train centroids on up to 256 rows per list, then file every row in its list."""
        if not 1 <= nlist <= len(matrix):
            raise ValueError(f"nlist {nlist} must be between 1 and the {len(matrix)} vectors")
        if not np.all(np.any(matrix != 0, axis=1)):
            raise ValueError("a zero vector has no direction and cannot be indexed")
        unit = _unit_rows(matrix)
        rng = np.random.default_rng(seed)
        train_rows = min(len(unit), TRAIN_POINTS_PER_LIST * nlist)
        train = unit[np.sort(rng.choice(len(unit), train_rows, replace=False))]
        centroids = spherical_kmeans(train, nlist, iterations=iterations, seed=seed)
        labels = assign(unit, centroids)
        order = np.argsort(labels, kind="stable")
        offsets = np.zeros(nlist + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(np.bincount(labels, minlength=nlist))
        reordered = np.ascontiguousarray(matrix[order], dtype=np.float32)
        norms = np.linalg.norm(reordered, axis=1)
        return cls(centroids, offsets, reordered, ids[order], (1.0 / norms).astype(np.float32))

    @property
    def nlist(self) -> int:
        return len(self.centroids)

    @property
    def overhead_bytes(self) -> int:
        """What the index holds beyond the vectors and their ids: centroids and offsets."""
        return int(self.centroids.nbytes + self.offsets.nbytes)

    def search(self, query: np.ndarray, k: int, nprobe: int) -> list[tuple[int, float]]:
        """The k vectors of the `nprobe` lists nearest `query` that are most cosine-similar
        to it, as (id, similarity), best first; among equal scores the lower id first."""
        q_norm = float(np.linalg.norm(query))
        if k <= 0 or q_norm == 0.0:
            return []
        q = (query / q_norm).astype(np.float32)
        nprobe = min(nprobe, self.nlist)
        near = self.centroids @ q
        probed = np.argpartition(-near, nprobe - 1)[:nprobe] if nprobe < self.nlist else None
        lists = range(self.nlist) if probed is None else probed.tolist()
        spans = [(int(self.offsets[i]), int(self.offsets[i + 1])) for i in lists]
        scores = np.concatenate([(self.matrix[a:b] @ q) * self.inv_norms[a:b] for a, b in spans])
        ids = np.concatenate([self.ids[a:b] for a, b in spans])
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        chosen = sorted(((float(scores[i]), int(ids[i])) for i in top), key=lambda p: (-p[0], p[1]))
        return [(memory_id, score) for score, memory_id in chosen]
