"""A user's memories: create (one or many), read, list, full-text, semantic and hybrid search.

Every call is scoped by the user id. Embeddings are written as float32 BLOBs; legacy JSON
text embeddings are read too. All of a user's embeddings share one dimension, checked on
write.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from memvault.db import driver
from memvault.errors import ValidationError
from memvault.store import embedding as embedding_codec
from memvault.store.columns import (
    Clock,
    decode_embedding,
    dump_json,
    dump_list,
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
    construct_record,
    field_values,
    fields_set,
    validate_fields,
    validate_patch,
)
from memvault.store.runner import QueryRunner, check_count
from memvault.store.search import (
    UnitVectors,
    VectorCache,
    as_query_vector,
    reciprocal_rank_fusion,
)
from memvault.store.search_index import SearchIndex, match_expression
from memvault.store.users import require_user
from memvault.store.vectors import CANDIDATE_CHUNK, candidate_matrix

HYBRID_CANDIDATES = 50
# order= of MemoryRepository.list -> its catalog query.
LIST_ORDERS = {
    "created": "memories.list",
    "updated": "memories.list_by_updated",
    "importance": "memories.list_by_importance",
}
DEFAULT_VECTOR_CACHE = 256 * 1024 * 1024


_BOOLS = {0: False, 1: True}
_MEMORY_TYPES = MemoryType._value2member_map_  # value -> member: a dict look-up a row
_MEMORY_FIELDS = fields_set(Memory)


def memory_from_row(row: driver.Row | tuple[Any, ...]) -> Memory:
    """A trusted memories row (MEMORY_COLUMNS, in order) as a record; broken legacy values
    are kept and noted. The listing's hot path: one unpack, the usual value of each column
    taken as it is (the embedding decoded only when used), the loaders only for the rest."""
    (id_, user_id, title, content, memory_type, importance, tags, entity_ids, embedding,
     metadata, is_archived, created_at, updated_at) = row[:13]  # fmt: skip
    problems: builtins.list[str] = []
    kind = _MEMORY_TYPES.get(memory_type)
    return construct_record(
        Memory,
        {
            "problems": problems,
            "id": id_,
            "user_id": user_id,
            "title": title,
            "content": content,
            "memory_type": kind
            if kind is not None
            else load_enum(memory_type, MemoryType, "memory_type", problems),
            "importance": importance
            if type(importance) is float and 0.0 <= importance <= 1.0
            else load_memory_importance(importance, problems),
            "tags": [] if tags == "[]" else load_list(tags, "tags", problems),
            "entity_ids": []
            if entity_ids == "[]"
            else load_list(entity_ids, "entity_ids", problems),
            "embedding": load_embedding(embedding, problems),  # decoded when first used
            "metadata": None if metadata is None else load_json(metadata, "metadata", problems),
            "is_archived": _BOOLS[is_archived] if is_archived in _BOOLS else load_bool(is_archived),
            "created_at": created_at,
            "updated_at": updated_at,
        },
        _MEMORY_FIELDS,
    )


def storable(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated memory fields as column values: JSON text, a float32 BLOB, 0/1."""
    values = dict(fields)
    for column in ("tags", "entity_ids"):  # validated lists of str / int
        if column in values:
            values[column] = dump_list(values[column])
    if "metadata" in values:
        values["metadata"] = dump_json(values["metadata"])
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
        self,
        run: QueryRunner,
        clock: Clock,
        vector_cache_bytes: int = DEFAULT_VECTOR_CACHE,
        index: SearchIndex | None = None,
    ) -> None:
        self._run = run
        self._clock = clock
        self._vectors = VectorCache(vector_cache_bytes)
        self._index = index or SearchIndex(run)

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
            self._index.drain()
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
            self._index.drain()
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
            self._index.drain()
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
            self._index.drain()
            return self.get(user_id, memory_id) if changed else None

    def delete(self, user_id: str, memory_id: int) -> bool:
        """Delete the user's memory; False (nothing deleted) when it is not theirs."""
        with self._run.atomic():
            deleted = self._run.execute("memories.delete", id=memory_id, user_id=user_id) > 0
            self._index.drain()
            return deleted

    # -- reading --------------------------------------------------------------------------
    def get(self, user_id: str, memory_id: int) -> Memory | None:
        """The user's memory with this id (archived or not), or None."""
        row = self._run.one("memories.get", id=memory_id, user_id=user_id)
        return None if row is None else memory_from_row(row)

    def list(
        self, user_id: str, limit: int = 50, offset: int = 0, order: str = "created"
    ) -> builtins.list[Memory]:
        """The user's memories that are not archived: newest first (order="created"), most
        recently updated first ("updated", reading both updated_at formats as instants), or
        most important first ("importance"; ties oldest first)."""
        query = LIST_ORDERS.get(order)
        if query is None:
            raise ValidationError(
                f"invalid memory listing order {order!r}: choose one of {', '.join(LIST_ORDERS)}"
            )
        rows = self._run.tuples(query, user_id=user_id, limit=limit, offset=offset)
        return [memory_from_row(row) for row in rows]

    def search(self, user_id: str, text: str, limit: int = 20) -> builtins.list[MemoryHit]:
        """Full-text search (title, content, tags) of the user's non-archived memories,
        best BM25 match first. Any text is safe: it is reduced to words matched literally."""
        if check_count("limit", limit) == 0:
            return []
        tenant = self._index.tenant(user_id)
        query = None if tenant is None else match_expression(tenant, text)
        if query is None:
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
        check_count("limit", limit)
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
        if self._vectors.max_bytes == 0:  # no cache (a libSQL server: see MemoryStore)
            return UnitVectors.build(*self._embeddings(user_id, dimension))
        row = self._run.one("store.change_version")
        version = None if row is None else tuple(row)
        key = (user_id, dimension)
        cached = self._vectors.get(key, version)
        if cached is not None:
            return cached
        vectors = UnitVectors.build(*self._embeddings(user_id, dimension))
        self._vectors.put(key, version, vectors)
        return vectors

    def _embeddings(self, user_id: str, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and a (n, dimension) float32 matrix of the user's candidate embeddings."""
        # Counted from the index on a local file; a server sends every row at once, so no
        # second round trip there: the matrix grows as the rows arrive.
        capacity = (
            0
            if self._run.remote
            else int(self._run.scalar("memories.similar_capacity", user_id=user_id) or 0)
        )
        with self._run.chunks(
            "memories.similar_candidates", CANDIDATE_CHUNK, user_id=user_id
        ) as chunks:
            return candidate_matrix(chunks, dimension, capacity)

    def _hits(
        self, user_id: str, ranked: builtins.list[tuple[int, float]]
    ) -> builtins.list[MemoryHit]:
        if not ranked:
            return []
        ids = json.dumps([memory_id for memory_id, _ in ranked])
        rows = self._run.tuples("memories.get_many", user_id=user_id, ids=ids)
        by_id = {row[0]: memory_from_row(row) for row in rows}
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
