"""A user's vectors as a whole: the candidate matrix of similar(), which model made them,
back-fill pages, and counts.

The memories repository validates one memory at a time; this one serves the embedding
back-fill (`memvault memory embed`), which writes only the embedding column, page by
page, with its progress recorded in the same transaction so a killed run resumes.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memvault.store import embedding as embedding_codec
from memvault.store.columns import Clock, decode_embedding
from memvault.store.runner import QueryRunner
from memvault.store.users import require_user

# Candidate rows fetched at a time: their BLOBs are freed before the next chunk, so the heap
# reuses the same memory instead of faulting in a second copy of every vector (bench: 10,000 x
# 1536-d read in ~80 ms instead of ~120 ms with fetchall and one join).
CANDIDATE_CHUNK = 64


def candidate_matrix(
    chunks: Iterable[Sequence[tuple[Any, Any]]], dimension: int, capacity: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ids and an (n, dimension) float32 matrix of (id, stored embedding) rows, copied chunk
    by chunk into one array sized for `capacity` rows (grown if more arrive). Embeddings of
    another size or unreadable are skipped; legacy JSON text is decoded."""
    size = dimension * embedding_codec.DTYPE.itemsize
    ids = np.empty(capacity, np.int64)
    matrix = np.empty((capacity, dimension), embedding_codec.DTYPE)
    n = 0
    for rows in chunks:
        id_column, blobs = zip(*rows, strict=True)
        # Column-wise in C (zip, map, set): no Python bytecode per row on the usual path.
        if set(map(type, blobs)) == {bytes} and set(map(len, blobs)) == {size}:
            chunk_ids: Sequence[int] = id_column
            vectors = np.frombuffer(b"".join(blobs), embedding_codec.DTYPE).reshape(-1, dimension)
        else:
            chunk_ids, vectors = _readable(rows, dimension)
        end = n + len(chunk_ids)
        if end > len(ids):  # rows written since the capacity was counted
            ids, matrix = _grown(ids, matrix, max(end, 2 * len(ids)))
        ids[n:end] = chunk_ids
        matrix[n:end] = vectors
        n = end
    if n < len(ids) // 2:  # many memories without a vector: do not keep the unused rows
        return ids[:n].copy(), matrix[:n].copy()
    return ids[:n], matrix[:n]


def _readable(rows: Sequence[tuple[Any, Any]], dimension: int) -> tuple[list[int], np.ndarray]:
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    for memory_id, raw in rows:
        vector = decode_embedding(raw)
        if vector is not None and vector.size == dimension:
            ids.append(memory_id)
            vectors.append(vector)
    if not vectors:
        return ids, np.zeros((0, dimension), embedding_codec.DTYPE)
    return ids, np.stack(vectors)


def _grown(ids: np.ndarray, matrix: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    more_ids = np.empty(rows, np.int64)
    more = np.empty((rows, matrix.shape[1]), matrix.dtype)
    more_ids[: len(ids)] = ids
    more[: len(matrix)] = matrix
    return more_ids, more


@dataclass(frozen=True)
class VectorModel:
    """The provider, model and dimension of every vector a user holds.

    `reembed_after_id` is set while `memory embed --all` re-embeds the user's memories with
    this model: memories with a larger id still hold the previous model's vectors.
    """

    provider: str
    model: str
    dimension: int
    reembed_after_id: int | None = None


@dataclass(frozen=True)
class PendingMemory:
    """A memory's text, as the back-fill embeds it."""

    id: int
    title: str
    content: str


@dataclass(frozen=True)
class MemoryCounts:
    """A user's memories (archived too): per type, and how many have a vector."""

    by_type: dict[str, int]
    embedded: int
    entities: int

    @property
    def total(self) -> int:
        return sum(self.by_type.values())


class VectorRepository:
    """Read and record the model of a user's vectors; page through and fill them."""

    def __init__(self, run: QueryRunner, clock: Clock) -> None:
        self._run = run
        self._clock = clock

    def model(self, user_id: str) -> VectorModel | None:
        """The model that made the user's vectors, or None when none is recorded."""
        row = self._run.one("embedding_models.get", user_id=user_id)
        if row is None:
            return None
        return VectorModel(row["provider"], row["model"], row["dimension"], row["reembed_after_id"])

    def set_model(self, user_id: str, model: VectorModel) -> None:
        """Record the model of the user's vectors; NotFoundError if no such user."""
        with self._run.atomic():
            require_user(self._run, user_id)
            self._run.execute(
                "embedding_models.put",
                user_id=user_id,
                provider=model.provider,
                model=model.model,
                dimension=model.dimension,
                reembed_after_id=model.reembed_after_id,
                updated_at=self._clock.now(),
            )

    def pending(
        self, user_id: str, after: int, limit: int, *, missing: bool
    ) -> builtins.list[PendingMemory]:
        """Up to `limit` of the user's memories with an id above `after`, in id order;
        only those without a vector when `missing`."""
        rows = self._run.rows(
            "memories.embedding_page",
            user_id=user_id,
            after=after,
            missing=int(missing),
            limit=limit,
        )
        return [PendingMemory(r["id"], r["title"], r["content"]) for r in rows]

    def write(
        self,
        user_id: str,
        vectors: Mapping[int, Sequence[float] | np.ndarray],
        model: VectorModel,
    ) -> int:
        """Write vectors made by `model` and record `model` (with its progress) in one
        transaction; the number of memories written."""
        written = 0
        with self._run.atomic():
            for memory_id, vector in vectors.items():
                blob = embedding_codec.encode(vector)
                written += self._run.execute(
                    "memories.set_embedding", embedding=blob, id=memory_id, user_id=user_id
                )
            self.set_model(user_id, model)
        return written

    def counts(self, user_id: str) -> MemoryCounts:
        """The user's memory counts per type, vectors and entities."""
        rows = self._run.rows("memories.stats", user_id=user_id)
        entities = int(self._run.scalar("entities.count", user_id=user_id) or 0)
        return MemoryCounts(
            by_type={str(r["memory_type"]): int(r["total"]) for r in rows},
            embedded=sum(int(r["embedded"]) for r in rows),
            entities=entities,
        )
