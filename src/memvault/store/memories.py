"""A user's memories: create (one or many), read, list, full-text, semantic and hybrid search.

Every call is scoped by the user id. Embeddings are written as float32 BLOBs; legacy JSON
text embeddings are read too. All of a user's embeddings share one dimension, checked on
write.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from memvault.errors import ValidationError
from memvault.store import embedding as embedding_codec
from memvault.store.columns import (
    Clock,
    decode_embedding,
    dump_json,
    load_bool,
    load_embedding,
    load_enum,
    load_json,
    load_list,
    load_memory_importance,
    row_values,
)
from memvault.store.models import (
    Memory,
    MemoryFields,
    MemoryHit,
    MemoryType,
    field_values,
    validate_fields,
    validate_patch,
)
from memvault.store.runner import QueryRunner
from memvault.store.search import (
    UnitVectors,
    VectorCache,
    as_query_vector,
    fts_query,
    reciprocal_rank_fusion,
)
from memvault.store.users import require_user

HYBRID_CANDIDATES = 50
DEFAULT_VECTOR_CACHE = 256 * 1024 * 1024


def memory_from_row(row: sqlite3.Row) -> Memory:
    """A trusted memories row as a record; broken legacy values are kept and noted."""
    problems: builtins.list[str] = []
    return Memory.model_construct(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        content=row["content"],
        memory_type=load_enum(row["memory_type"], MemoryType, "memory_type", problems),
        importance=load_memory_importance(row["importance"], problems),
        tags=load_list(row["tags"], "tags", problems),
        entity_ids=load_list(row["entity_ids"], "entity_ids", problems),
        embedding=load_embedding(row["embedding"], problems),
        metadata=load_json(row["metadata"], "metadata", problems),
        is_archived=load_bool(row["is_archived"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        problems=problems,
    )


def storable(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated memory fields as column values: JSON text, a float32 BLOB, 0/1."""
    values = dict(fields)
    for column in ("tags", "entity_ids", "metadata"):
        if column in values:
            values[column] = dump_json(values[column])
    if "embedding" in values:
        values["embedding"] = embedding_codec.encode(values["embedding"])
    if "memory_type" in values:
        values["memory_type"] = str(values["memory_type"])
    if "is_archived" in values:
        values["is_archived"] = int(values["is_archived"])
    return values


class MemoryRepository:
    """Everything about one user's memories."""

    def __init__(
        self, run: QueryRunner, clock: Clock, vector_cache_bytes: int = DEFAULT_VECTOR_CACHE
    ) -> None:
        self._run = run
        self._clock = clock
        self._vectors = VectorCache(vector_cache_bytes)

    # -- writing --------------------------------------------------------------------------
    def create(self, user_id: str, **fields: Any) -> Memory:
        """Add a memory (title, content, memory_type required); NotFoundError if no such user,
        ValidationError for bad fields, foreign entity ids or a mismatched embedding size."""
        data = validate_fields(MemoryFields, "memory", fields)
        now = self._clock.now()
        with self._run.atomic():
            require_user(self._run, user_id)
            self._check_entities(user_id, data.entity_ids)
            if data.embedding is not None:
                self._check_dimension(user_id, len(data.embedding), None)
            values = storable(field_values(data))
            memory_id = self._run.insert(
                "memories.insert", **values, user_id=user_id, created_at=now, updated_at=now
            )
            memory = self.get(user_id, memory_id)
        assert memory is not None
        return memory

    def create_many(
        self, user_id: str, items: Iterable[Mapping[str, Any] | MemoryFields]
    ) -> builtins.list[int]:
        """Add many memories in one transaction (executemany); their ids, in input order.

        All are validated first: one bad item (named by its position) adds none.
        """
        drafts = [_draft(item, n) for n, item in enumerate(items)]
        if not drafts:
            return []
        self._check_batch_dimensions(drafts)
        now = self._clock.now()
        rows = [
            storable(field_values(d)) | {"user_id": user_id, "created_at": now, "updated_at": now}
            for d in drafts
        ]
        with self._run.atomic():
            require_user(self._run, user_id)
            self._check_entities(user_id, sorted({i for d in drafts for i in d.entity_ids}))
            dims = {len(d.embedding) for d in drafts if d.embedding is not None}
            if dims:
                self._check_dimension(user_id, dims.pop(), None)
            self._run.executemany("memories.insert", rows)
            # One writer holds the lock, so the new AUTOINCREMENT ids are consecutive.
            last = int(self._run.scalar("store.last_insert_id"))
        return list(range(last - len(rows) + 1, last + 1))

    def update(self, user_id: str, memory_id: int, **changes: Any) -> Memory | None:
        """Change fields of the user's memory; None (nothing changed) when it is not theirs."""
        patch = validate_patch(MemoryFields, "memory", changes)
        with self._run.atomic():
            row = self._run.one("memories.get", id=memory_id, user_id=user_id)
            if row is None:
                return None
            if "entity_ids" in patch:
                self._check_entities(user_id, patch["entity_ids"])
            if patch.get("embedding") is not None:
                self._check_dimension(user_id, len(patch["embedding"]), memory_id)
            values = row_values(row) | storable(patch)
            values["updated_at"] = self._clock.now()
            for column in ("id", "user_id", "created_at"):
                values.pop(column)
            self._run.execute("memories.update", **values, id=memory_id, user_id=user_id)
            return self.get(user_id, memory_id)

    def archive(self, user_id: str, memory_id: int, archived: bool = True) -> Memory | None:
        """Archive (or, with archived=False, restore) the user's memory; None if not theirs."""
        with self._run.atomic():
            changed = self._run.execute(
                "memories.set_archived",
                is_archived=int(archived),
                updated_at=self._clock.now(),
                id=memory_id,
                user_id=user_id,
            )
            return self.get(user_id, memory_id) if changed else None

    def delete(self, user_id: str, memory_id: int) -> bool:
        """Delete the user's memory; False (nothing deleted) when it is not theirs."""
        with self._run.atomic():
            return self._run.execute("memories.delete", id=memory_id, user_id=user_id) > 0

    # -- reading --------------------------------------------------------------------------
    def get(self, user_id: str, memory_id: int) -> Memory | None:
        """The user's memory with this id (archived or not), or None."""
        row = self._run.one("memories.get", id=memory_id, user_id=user_id)
        return None if row is None else memory_from_row(row)

    def list(self, user_id: str, limit: int = 50, offset: int = 0) -> builtins.list[Memory]:
        """The user's memories that are not archived, newest first."""
        rows = self._run.rows("memories.list", user_id=user_id, limit=limit, offset=offset)
        return [memory_from_row(row) for row in rows]

    def search(self, user_id: str, text: str, limit: int = 20) -> builtins.list[MemoryHit]:
        """Full-text search (title, content, tags) of the user's non-archived memories,
        best BM25 match first. Any text is safe: it is reduced to words matched literally."""
        query = fts_query(text)
        if query is None or limit <= 0:
            return []
        rows = self._run.rows("memories.search", query=query, user_id=user_id, limit=limit)
        return [MemoryHit(memory=memory_from_row(r), score=float(r["score"])) for r in rows]

    def similar(
        self, user_id: str, vector: Sequence[float] | np.ndarray, limit: int = 10
    ) -> builtins.list[MemoryHit]:
        """The user's non-archived memories whose embeddings are nearest by cosine, best
        first (exact: every vector is compared). Memories without an embedding, or with
        one of another size, are skipped."""
        try:
            query = as_query_vector(vector)
        except ValueError as exc:
            raise ValidationError(f"invalid query vector: {exc}") from None
        return self._hits(user_id, self._unit_vectors(user_id, query.size).top_k(query, limit))

    def hybrid(
        self,
        user_id: str,
        text: str,
        vector: Sequence[float] | np.ndarray,
        limit: int = 10,
        candidates: int = HYBRID_CANDIDATES,
    ) -> builtins.list[MemoryHit]:
        """Text and vector search fused by reciprocal rank: a memory ranked well by either
        comes first, one ranked well by both before it. Score is the fused RRF score."""
        by_text = self.search(user_id, text, candidates)
        by_vector = self.similar(user_id, vector, candidates)
        memories = {h.memory.id: h.memory for h in [*by_text, *by_vector]}
        fused = reciprocal_rank_fusion(
            [[h.memory.id for h in by_text], [h.memory.id for h in by_vector]]
        )
        return [MemoryHit(memory=memories[i], score=s) for i, s in fused[:limit]]

    # -- helpers --------------------------------------------------------------------------
    def _unit_vectors(self, user_id: str, dimension: int) -> UnitVectors:
        """The user's candidate vectors, from the cache while nothing has been written."""
        row = self._run.one("store.change_version")
        version = None if row is None else tuple(row)
        key = (user_id, dimension)
        cached = self._vectors.get(key, version)
        if cached is not None:
            return cached
        vectors = UnitVectors.build(*self._embeddings(user_id, dimension))
        self._vectors.put(key, version, vectors)
        return vectors

    def _embeddings(self, user_id: str, dimension: int) -> tuple[builtins.list[int], np.ndarray]:
        """Ids and a (n, dimension) float32 matrix of the user's candidate embeddings."""
        blob_ids: builtins.list[int] = []
        blobs: builtins.list[bytes] = []
        other_ids: builtins.list[int] = []
        others: builtins.list[np.ndarray] = []
        size = dimension * embedding_codec.DTYPE.itemsize
        with self._run.iterate("memories.similar_candidates", user_id=user_id) as rows:
            for memory_id, raw in rows:
                if isinstance(raw, bytes) and len(raw) == size:
                    blob_ids.append(memory_id)
                    blobs.append(raw)
                elif not isinstance(raw, bytes):  # legacy JSON text
                    vector = decode_embedding(raw)
                    if vector is not None and vector.size == dimension:
                        other_ids.append(memory_id)
                        others.append(vector)
        matrix = np.frombuffer(b"".join(blobs), dtype=embedding_codec.DTYPE)
        matrix = matrix.reshape(len(blobs), dimension)
        if others:
            matrix = np.vstack([matrix, np.stack(others)])
        return blob_ids + other_ids, matrix

    def _hits(
        self, user_id: str, ranked: builtins.list[tuple[int, float]]
    ) -> builtins.list[MemoryHit]:
        if not ranked:
            return []
        ids = json.dumps([memory_id for memory_id, _ in ranked])
        rows = self._run.rows("memories.get_many", user_id=user_id, ids=ids)
        by_id = {row["id"]: memory_from_row(row) for row in rows}
        return [MemoryHit(memory=by_id[i], score=s) for i, s in ranked if i in by_id]

    def _check_dimension(self, user_id: str, dimension: int, exclude_id: int | None) -> None:
        existing = self._existing_dimension(user_id, exclude_id)
        if existing is not None and existing != dimension:
            raise ValidationError(
                f"invalid memory: embedding has {dimension} dimensions but the user's other "
                f"embeddings have {existing}"
            )

    def _existing_dimension(self, user_id: str, exclude_id: int | None) -> int | None:
        exclude = -1 if exclude_id is None else exclude_id
        with self._run.iterate(
            "memories.embedding_sample", user_id=user_id, exclude_id=exclude
        ) as rows:
            for (raw,) in rows:
                vector = decode_embedding(raw)
                if vector is not None:
                    return int(vector.size)
        return None

    def _check_batch_dimensions(self, drafts: builtins.list[MemoryFields]) -> None:
        sizes = {len(d.embedding) for d in drafts if d.embedding is not None}
        if len(sizes) > 1:
            raise ValidationError(
                f"invalid memories: embeddings of different sizes in one batch: "
                f"{', '.join(str(s) for s in sorted(sizes))}"
            )

    def _check_entities(self, user_id: str, entity_ids: builtins.list[int]) -> None:
        if not entity_ids:
            return
        wanted: set[int] = set(entity_ids)
        rows = self._run.rows("entities.owned_ids", user_id=user_id, ids=json.dumps(sorted(wanted)))
        missing = sorted(wanted - {row["id"] for row in rows})
        if missing:
            raise ValidationError(
                f"invalid memory: entity_ids {missing} are not entities of user {user_id!r}"
            )


def _draft(item: Mapping[str, Any] | MemoryFields, position: int) -> MemoryFields:
    if isinstance(item, MemoryFields):
        return validate_fields(MemoryFields, f"memory #{position}", item.model_dump())
    return validate_fields(MemoryFields, f"memory #{position}", item)
